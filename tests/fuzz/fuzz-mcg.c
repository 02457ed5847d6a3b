/*
 * libFuzzer target: the SA group table client (lib/ibb-mcg.h) fed the
 * messages a fabric could send it.  The input is a sequence of messages,
 * each a 2-byte little-endian length and that many bytes (struct
 * ibb_fmsg_hdr, then the body); length 0xffff stands for a lost
 * connection.  The client always wants a list and notices, and is given
 * xids 1, 2, 3, ... for its requests, so inputs can answer them.
 * Properties: no crash or leak; every record taken from an answer became
 * an event or was counted dropped; a list ends only once per request.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fabric-proto.h"
#include "ibb-mcg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(COND) do { if (!(COND)) { abort(); } } while (0)

/* Sends (pretends to) what the client asks for. */
static void
pump(struct ibb_mcg *mcg, uint32_t *xid, unsigned long long *lists)
{
    enum ibb_mcg_request req;

    while ((req = ibb_mcg_next(mcg)) != IBB_MCG_REQ_NONE) {
        *lists += req == IBB_MCG_REQ_LIST;
        ibb_mcg_sent(mcg, req, (*xid)++);
        ibb_mcg_want_list(mcg);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A small bound, so that inputs reach it. */
    struct ibb_mcg *mcg = ibb_mcg_create(16);
    unsigned long long lists = 0, done = 0, listed = 0;
    struct ibb_mcg_event ev;
    uint32_t xid = 1;

    CHECK(mcg);
    ibb_mcg_want_subscribed(mcg, true);
    ibb_mcg_want_list(mcg);
    pump(mcg, &xid, &lists);
    while (size >= 2) {
        size_t len = data[0] | (data[1] << 8);
        struct ibb_fmsg_hdr hdr;

        data += 2;
        size -= 2;
        if (len == 0xffff) {
            ibb_mcg_reset(mcg);
        } else {
            len = len < size ? len : size;
            if (len >= sizeof hdr) {
                memcpy(&hdr, data, sizeof hdr);
                ibb_mcg_take_msg(mcg, &hdr, data + sizeof hdr,
                                 len - sizeof hdr);
            }
            data += len;
            size -= len;
        }
        pump(mcg, &xid, &lists);
        /* Take events only now and then, so that the queue fills. */
        while ((xid & 1) && ibb_mcg_take_event(mcg, &ev)) {
            listed += ev.type == IBB_MCG_LISTED;
            done += ev.type == IBB_MCG_LIST_DONE;
        }
    }
    while (ibb_mcg_take_event(mcg, &ev)) {
        listed += ev.type == IBB_MCG_LISTED;
        done += ev.type == IBB_MCG_LIST_DONE;
    }
    CHECK(listed <= ibb_mcg_counters(mcg)->listed);
    CHECK(listed + ibb_mcg_counters(mcg)->events_dropped
          >= ibb_mcg_counters(mcg)->listed);
    CHECK(done <= lists);
    ibb_mcg_destroy(mcg);
    return 0;
}
