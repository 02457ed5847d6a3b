/* Unit tests for lib/ibb-mcg.c (the SA group table client) on its own:
 * paging, request state, the event bound, a lost connection; and through
 * a sim port (lib/ibport-sim.c) facing a fake fabric, a forked child that
 * sends malformed answers and notices: the port counts them and goes on. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fabric-proto.h"
#include "ibb-mcg.h"
#include "ibport.h"
#include "test-pkt.h"

/* Builds an MCG_LIST answer message body in 'buf' with records 'first' ..
 * 'first + n - 1'; returns its length. */
static size_t
list_body(uint8_t *buf, uint32_t segment, bool more, int first, int n)
{
    struct ibb_fmsg_mcg_list lh = {
        .flags = more ? IBB_FMCG_MORE : 0,
        .n_records = n,
        .segment = segment,
    };

    memcpy(buf, &lh, sizeof lh);
    for (int i = 0; i < n; i++) {
        struct ibb_fmsg_mcg_record r;

        memset(&r, 0, sizeof r);
        tp_mgid_n(first + i, r.mgid);
        r.mlid = 0xc000 + first + i;
        r.pkey = 0xffff;
        r.qkey = 0x11;
        r.n_full_others = i;
        r.n_send_only_others = 1;
        memcpy(buf + sizeof lh + i * sizeof r, &r, sizeof r);
    }
    return sizeof lh + n * sizeof(struct ibb_fmsg_mcg_record);
}

static struct ibb_fmsg_hdr
hdr_of(uint16_t type, uint16_t status, uint32_t xid)
{
    struct ibb_fmsg_hdr h = { .type = type, .status = status, .xid = xid };

    return h;
}

static void
test_list_pages(void **state)
{
    struct ibb_mcg *mcg = ibb_mcg_create(0);
    uint8_t buf[IBB_FMCG_MAX_BODY];
    struct ibb_fmsg_hdr h = hdr_of(IBB_FMSG_MCG_LIST, 0, 7);
    struct ibb_mcg_event ev;
    size_t len;

    (void) state;
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_NONE);
    ibb_mcg_want_list(mcg);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_LIST);
    ibb_mcg_sent(mcg, IBB_MCG_REQ_LIST, 7);
    assert_true(ibb_mcg_busy(mcg));
    /* Asked again while one is out: it follows, not alongside. */
    ibb_mcg_want_list(mcg);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_NONE);

    len = list_body(buf, 1, true, 0, IBB_FMCG_RECORDS_PER_MSG);
    assert_true(len <= IBB_FMCG_MAX_BODY);
    assert_true(ibb_mcg_take_msg(mcg, &h, buf, len));
    len = list_body(buf, 2, false, IBB_FMCG_RECORDS_PER_MSG, 2);
    assert_true(ibb_mcg_take_msg(mcg, &h, buf, len));
    assert_false(ibb_mcg_busy(mcg));

    for (int i = 0; i < IBB_FMCG_RECORDS_PER_MSG + 2; i++) {
        uint8_t mgid[16];

        assert_true(ibb_mcg_take_event(mcg, &ev));
        assert_int_equal(ev.type, IBB_MCG_LISTED);
        tp_mgid_n(i, mgid);
        assert_memory_equal(ev.rec.mgid, mgid, 16);
        assert_int_equal(ev.rec.mlid, 0xc000 + i);
    }
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, 0);
    assert_false(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 0);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_LIST);

    /* Other message types are not the client's. */
    h = hdr_of(IBB_FMSG_MCAST_JOIN, 0, 7);
    assert_false(ibb_mcg_take_msg(mcg, &h, buf, 0));
    ibb_mcg_destroy(mcg);
}

/* Each malformed message counts once; one that belongs to the list in
 * progress ends it with EBADMSG. */
static void
test_malformed(void **state)
{
    struct ibb_mcg *mcg = ibb_mcg_create(0);
    uint8_t buf[IBB_FMCG_MAX_BODY + 64];
    struct ibb_fmsg_mcg_notice n;
    struct ibb_fmsg_hdr h;
    struct ibb_mcg_event ev;
    size_t len;

    (void) state;
    ibb_mcg_want_subscribed(mcg, true);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 1);
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, 0, 2);       /* Wrong xid. */
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, 0, 1);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    assert_false(ibb_mcg_busy(mcg));

    memset(&n, 0, sizeof n);
    n.trap = IBB_FMCG_TRAP_CREATED;
    tp_mgid_n(1, n.mgid);
    h = hdr_of(IBB_FMSG_MCG_NOTICE, 0, 0);
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n - 1);   /* Short. */
    h.xid = 5;                                                  /* xid. */
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    h.xid = 0;
    n.trap = 65;                                                /* Trap. */
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    n.trap = IBB_FMCG_TRAP_DELETED;
    n.mgid[0] = 0xfe;                                           /* Unicast. */
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 5);
    assert_false(ibb_mcg_has_events(mcg));

    /* List answers: unasked, then wrong segment, count beyond the
     * bound, length disagreeing with the count, unknown flags. */
    h = hdr_of(IBB_FMSG_MCG_LIST, 0, 9);
    len = list_body(buf, 1, false, 0, 1);
    ibb_mcg_take_msg(mcg, &h, buf, len);
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 6);
    assert_false(ibb_mcg_has_events(mcg));

    for (int k = 0; k < 5; k++) {
        struct ibb_fmsg_mcg_list lh;

        ibb_mcg_want_list(mcg);
        ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 10 + k);
        h = hdr_of(IBB_FMSG_MCG_LIST, 0, 10 + k);
        len = list_body(buf, 1, true, 0, 2);
        memcpy(&lh, buf, sizeof lh);
        switch (k) {
        case 0:
            lh.segment = 2;
            break;
        case 1:
            lh.n_records = IBB_FMCG_RECORDS_PER_MSG + 1;
            len = sizeof lh + lh.n_records
                  * sizeof(struct ibb_fmsg_mcg_record);
            break;
        case 2:
            len -= 1;
            break;
        case 3:
            lh.flags |= 0x80;
            break;
        case 4:
            len = sizeof lh - 1;
            break;
        }
        memcpy(buf, &lh, sizeof lh);
        ibb_mcg_take_msg(mcg, &h, buf, len);
        assert_true(ibb_mcg_take_event(mcg, &ev));
        assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
        assert_int_equal(ev.error, EBADMSG);
        assert_false(ibb_mcg_busy(mcg));
        assert_false(ibb_mcg_has_events(mcg));
    }
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 11);

    /* An SA error status ends the list with it, and is no bad message. */
    ibb_mcg_want_list(mcg);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 20);
    h = hdr_of(IBB_FMSG_MCG_LIST, ENOENT, 20);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.error, ENOENT);
    assert_int_equal(ibb_mcg_counters(mcg)->bad_msgs, 11);
    ibb_mcg_destroy(mcg);
}

static void
test_bound_and_unsubscribe(void **state)
{
    struct ibb_mcg *mcg = ibb_mcg_create(2);
    struct ibb_fmsg_hdr h = hdr_of(IBB_FMSG_MCG_NOTICE, 0, 0);
    struct ibb_fmsg_mcg_notice n;
    struct ibb_mcg_event ev;

    (void) state;
    ibb_mcg_want_subscribed(mcg, true);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 1);
    h.type = IBB_FMSG_MCG_SUBSCRIBE;
    h.xid = 1;
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    h = hdr_of(IBB_FMSG_MCG_NOTICE, 0, 0);
    memset(&n, 0, sizeof n);
    n.trap = IBB_FMCG_TRAP_CREATED;
    for (int i = 0; i < 3; i++) {
        tp_mgid_n(i, n.mgid);
        ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    }
    assert_int_equal(ibb_mcg_counters(mcg)->events_dropped, 1);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_CREATED);
    assert_int_equal(ev.rec.mgid[15], 0);
    /* Room again: the ring wraps. */
    tp_mgid_n(3, n.mgid);
    n.trap = IBB_FMCG_TRAP_DELETED;
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.rec.mgid[15], 1);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_DELETED);
    assert_int_equal(ev.rec.mgid[15], 3);
    assert_false(ibb_mcg_take_event(mcg, &ev));

    /* A notice sent before the SA saw our unsubscribe makes no event. */
    ibb_mcg_want_subscribed(mcg, false);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_UNSUBSCRIBE);
    ibb_mcg_sent(mcg, IBB_MCG_REQ_UNSUBSCRIBE, 2);
    ibb_mcg_take_msg(mcg, &h, (uint8_t *) &n, sizeof n);
    assert_false(ibb_mcg_has_events(mcg));
    assert_int_equal(ibb_mcg_counters(mcg)->notices, 5);
    ibb_mcg_destroy(mcg);
}

static void
test_reset(void **state)
{
    struct ibb_mcg *mcg = ibb_mcg_create(0);
    struct ibb_fmsg_hdr h;
    struct ibb_mcg_event ev;

    (void) state;
    ibb_mcg_want_subscribed(mcg, true);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 1);
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, 0, 1);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    ibb_mcg_want_list(mcg);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 2);
    assert_false(ibb_mcg_has_events(mcg));

    ibb_mcg_reset(mcg);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, ECONNRESET);
    assert_false(ibb_mcg_busy(mcg));
    /* Back: subscribe again first, and say so once the SA agreed. */
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_SUBSCRIBE);
    ibb_mcg_sent(mcg, IBB_MCG_REQ_SUBSCRIBE, 3);
    assert_false(ibb_mcg_has_events(mcg));
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, 0, 3);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_RESUBSCRIBED);
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_NONE);

    /* A refused subscription is reported and not retried. */
    ibb_mcg_reset(mcg);
    ibb_mcg_sent(mcg, ibb_mcg_next(mcg), 4);
    h = hdr_of(IBB_FMSG_MCG_SUBSCRIBE, EPERM, 4);
    ibb_mcg_take_msg(mcg, &h, NULL, 0);
    assert_true(ibb_mcg_take_event(mcg, &ev));
    assert_int_equal(ev.type, IBB_MCG_SUBSCRIBE_FAILED);
    assert_int_equal(ev.error, EPERM);
    assert_false(ibb_mcg_is_subscribed(mcg));
    assert_int_equal(ibb_mcg_next(mcg), IBB_MCG_REQ_NONE);
    ibb_mcg_destroy(mcg);
}

/* ------------------------------------------------------------------ */
/* A sim port against a fake fabric. */

static void
fab_send(int fd, uint16_t type, uint16_t status, uint32_t xid,
         const void *body, size_t len)
{
    uint8_t msg[IBB_FABRIC_MAX_MSG];
    struct ibb_fmsg_hdr h = hdr_of(type, status, xid);

    memcpy(msg, &h, sizeof h);
    if (len) {
        memcpy(msg + sizeof h, body, len);
    }
    if (send(fd, msg, sizeof h + len, MSG_NOSIGNAL) < 0) {
        _exit(3);
    }
}

/* Reads the next request; exits if it is not of 'type'. */
static uint32_t
fab_expect(int fd, uint16_t type)
{
    uint8_t msg[IBB_FABRIC_MAX_MSG];
    struct ibb_fmsg_hdr h;
    ssize_t n = recv(fd, msg, sizeof msg, 0);

    if (n < (ssize_t) sizeof h) {
        _exit(4);
    }
    memcpy(&h, msg, sizeof h);
    if (h.type != type) {
        fprintf(stderr, "fake fabric: got message %u, expected %u\n",
                h.type, type);
        _exit(5);
    }
    return h.xid;
}

static void
fab_notice(int fd, uint16_t trap, int group, uint32_t xid, size_t len)
{
    struct ibb_fmsg_mcg_notice n;

    memset(&n, 0, sizeof n);
    n.trap = trap;
    tp_mgid_n(group, n.mgid);
    fab_send(fd, IBB_FMSG_MCG_NOTICE, 0, xid, &n, len);
}

/* The fake fabric's script, step by step with the port's (see
 * test_port_counts_bad_msgs()). */
static void
fake_fabric(int lfd)
{
    struct ibb_fmsg_attach_reply ar;
    uint8_t buf[IBB_FMCG_MAX_BODY];
    int fd = accept(lfd, NULL, NULL);
    uint32_t xid;
    size_t len;

    if (fd < 0) {
        _exit(2);
    }
    xid = fab_expect(fd, IBB_FMSG_ATTACH);
    memset(&ar, 0, sizeof ar);
    ar.lid = 5;
    ar.mtu = 4096;
    fab_send(fd, IBB_FMSG_ATTACH, 0, xid, &ar, sizeof ar);

    /* 1. Subscribe: bad notices and a stale answer (4 bad), then a good
     * notice, with a packet-sized junk message of unknown type between. */
    xid = fab_expect(fd, IBB_FMSG_MCG_SUBSCRIBE);
    fab_send(fd, IBB_FMSG_MCG_SUBSCRIBE, 0, xid, NULL, 0);
    fab_notice(fd, IBB_FMCG_TRAP_CREATED, 1, 0, 3);
    fab_notice(fd, 99, 1, 0, sizeof(struct ibb_fmsg_mcg_notice));
    fab_notice(fd, IBB_FMCG_TRAP_CREATED, 1, 77,
               sizeof(struct ibb_fmsg_mcg_notice));
    fab_send(fd, IBB_FMSG_MCG_SUBSCRIBE, 0, 999, NULL, 0);
    memset(buf, 0xab, sizeof buf);
    fab_send(fd, 0x7777, 0, 1, buf, sizeof buf);
    fab_notice(fd, IBB_FMCG_TRAP_CREATED, 1, 0,
               sizeof(struct ibb_fmsg_mcg_notice));

    /* 2. List: a good segment, a skipped one (ends the list), a late one
     * (2 bad), then a notice to mark the end. */
    xid = fab_expect(fd, IBB_FMSG_MCG_LIST);
    len = list_body(buf, 1, true, 0, 1);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len);
    len = list_body(buf, 3, true, 1, 1);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len);
    len = list_body(buf, 4, false, 2, 1);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len);
    fab_notice(fd, IBB_FMCG_TRAP_DELETED, 1, 0,
               sizeof(struct ibb_fmsg_mcg_notice));

    /* 3. List: a count that disagrees with the length (1 bad). */
    xid = fab_expect(fd, IBB_FMSG_MCG_LIST);
    len = list_body(buf, 1, false, 0, 2);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len - 5);

    /* 4. A good, empty list. */
    xid = fab_expect(fd, IBB_FMSG_MCG_LIST);
    len = list_body(buf, 1, false, 0, 0);
    fab_send(fd, IBB_FMSG_MCG_LIST, 0, xid, buf, len);

    /* Wait for the port to close. */
    while (recv(fd, buf, sizeof buf, 0) > 0) {
        continue;
    }
    _exit(0);
}

/* Reads and runs the port until an SA group event comes, for up to 10 s
 * (a guard against a hang, not a timing check). */
static bool
port_next_event(struct ibb_port *port, struct ibb_mcg_event *ev)
{
    for (int i = 0; i < 1000; i++) {
        static uint8_t pkt[4200];
        struct ibb_port_buf buf = { .data = pkt, .size = sizeof pkt };
        struct pollfd pfd = { .fd = ibb_port_fd(port), .events = POLLIN };
        size_t n;

        ibb_port_run(port);
        ibb_port_recv(port, &buf, 1, &n);
        if (ibb_port_mcg_take_event(port, ev)) {
            return true;
        }
        poll(&pfd, 1, 10);
    }
    return false;
}

static uint64_t
port_counter(struct ibb_port *port, const char *name)
{
    struct ibb_port_counter c[16];
    size_t n = ibb_port_counters(port, c, 16);

    for (size_t i = 0; i < n && i < 16; i++) {
        if (!strcmp(c[i].name, name)) {
            return c[i].value;
        }
    }
    fail_msg("no counter %s", name);
    return 0;
}

static void
test_port_counts_bad_msgs(void **state)
{
    char dir[] = "/tmp/test-mcg-XXXXXX";
    struct ibb_port_options opts;
    struct sockaddr_un sun;
    struct ibb_mcg_event ev;
    struct ibb_port *port;
    char device[200];
    char *error = NULL;
    int lfd, status;
    pid_t pid;

    (void) state;
    assert_non_null(mkdtemp(dir));
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/fabric.sock", dir);
    lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *) &sun, sizeof sun), 0);
    assert_int_equal(listen(lfd, 1), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        fake_fabric(lfd);
    }
    close(lfd);

    memset(&opts, 0, sizeof opts);
    snprintf(device, sizeof device, "sim:%s", sun.sun_path);
    assert_int_equal(ibb_port_open(device, &opts, &port, &error), 0);

    assert_int_equal(ibb_port_mcg_subscribe(port, true), 0);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_CREATED);
    assert_int_equal(ev.rec.mgid[15], 1);
    assert_int_equal(port_counter(port, "mcg_bad_msgs"), 4);

    assert_int_equal(ibb_port_mcg_list(port), 0);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_LISTED);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, EBADMSG);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_DELETED);
    assert_int_equal(port_counter(port, "mcg_bad_msgs"), 6);

    assert_int_equal(ibb_port_mcg_list(port), 0);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, EBADMSG);
    assert_int_equal(port_counter(port, "mcg_bad_msgs"), 7);

    assert_int_equal(ibb_port_mcg_list(port), 0);
    assert_true(port_next_event(port, &ev));
    assert_int_equal(ev.type, IBB_MCG_LIST_DONE);
    assert_int_equal(ev.error, 0);
    assert_int_equal(port_counter(port, "mcg_bad_msgs"), 7);
    assert_int_equal(port_counter(port, "mcg_events_dropped"), 0);
    assert_true(ibb_port_is_up(port));

    ibb_port_close(port);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    unlink(sun.sun_path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bound_and_unsubscribe),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_port_counts_bad_msgs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
