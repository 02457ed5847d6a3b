/* A port's view of the SA's multicast group table.  See lib/ibb-mcg.h. */
#include <config.h>

#include "ibb-mcg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fabric-proto.h"

struct ibb_mcg {
    /* Event queue: a ring of 'allocated' slots, growing up to 'max'. */
    struct ibb_mcg_event *events;
    size_t head, n, allocated, max;

    /* List. */
    bool list_wanted;           /* Send an MCG_LIST when none is out. */
    bool list_busy;             /* One is out: 'list_xid'. */
    uint32_t list_xid;
    uint32_t next_segment;      /* Segment expected next, from 1. */

    /* Subscription. */
    bool sub_wanted;            /* What the caller asked for. */
    bool sub_active;            /* What the SA last confirmed. */
    bool sub_busy;              /* A request is out: 'sub_xid'. */
    uint32_t sub_xid;
    bool sub_sent_on;           /* What that request asked. */
    bool sub_lost;              /* Lost with the connection: say so
                                 * when confirmed again. */

    struct ibb_mcg_counters c;
};

struct ibb_mcg *
ibb_mcg_create(size_t max_events)
{
    struct ibb_mcg *mcg = calloc(1, sizeof *mcg);

    if (mcg) {
        mcg->max = max_events ? max_events : IBB_MCG_DEFAULT_MAX_EVENTS;
    }
    return mcg;
}

void
ibb_mcg_destroy(struct ibb_mcg *mcg)
{
    if (mcg) {
        free(mcg->events);
        free(mcg);
    }
}

/* Queues 'ev', or counts it dropped when the queue is full. */
static void
push(struct ibb_mcg *mcg, const struct ibb_mcg_event *ev)
{
    if (mcg->n == mcg->allocated) {
        size_t new = mcg->allocated ? 2 * mcg->allocated : 64;
        struct ibb_mcg_event *e;

        if (new > mcg->max) {
            new = mcg->max;
        }
        e = new > mcg->allocated ? malloc(new * sizeof *e) : NULL;
        if (!e) {
            mcg->c.events_dropped++;
            return;
        }
        /* Unwrap the ring into the new array. */
        for (size_t i = 0; i < mcg->n; i++) {
            e[i] = mcg->events[(mcg->head + i) % mcg->allocated];
        }
        free(mcg->events);
        mcg->events = e;
        mcg->allocated = new;
        mcg->head = 0;
    }
    mcg->events[(mcg->head + mcg->n++) % mcg->allocated] = *ev;
}

static void
push_simple(struct ibb_mcg *mcg, enum ibb_mcg_event_type type, int error)
{
    struct ibb_mcg_event ev;

    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.error = error;
    push(mcg, &ev);
}

bool
ibb_mcg_has_events(const struct ibb_mcg *mcg)
{
    return mcg->n > 0;
}

bool
ibb_mcg_take_event(struct ibb_mcg *mcg, struct ibb_mcg_event *ev)
{
    if (!mcg->n) {
        return false;
    }
    *ev = mcg->events[mcg->head];
    mcg->head = (mcg->head + 1) % mcg->allocated;
    mcg->n--;
    return true;
}

void
ibb_mcg_want_list(struct ibb_mcg *mcg)
{
    mcg->list_wanted = true;
}

void
ibb_mcg_want_subscribed(struct ibb_mcg *mcg, bool on)
{
    mcg->sub_wanted = on;
    if (!on) {
        mcg->sub_lost = false;
    }
}

bool
ibb_mcg_is_subscribed(const struct ibb_mcg *mcg)
{
    return mcg->sub_wanted;
}

enum ibb_mcg_request
ibb_mcg_next(const struct ibb_mcg *mcg)
{
    if (!mcg->sub_busy && mcg->sub_wanted != mcg->sub_active) {
        return (mcg->sub_wanted ? IBB_MCG_REQ_SUBSCRIBE
                                : IBB_MCG_REQ_UNSUBSCRIBE);
    }
    if (mcg->list_wanted && !mcg->list_busy) {
        return IBB_MCG_REQ_LIST;
    }
    return IBB_MCG_REQ_NONE;
}

void
ibb_mcg_sent(struct ibb_mcg *mcg, enum ibb_mcg_request req, uint32_t xid)
{
    switch (req) {
    case IBB_MCG_REQ_LIST:
        mcg->list_wanted = false;
        mcg->list_busy = true;
        mcg->list_xid = xid;
        mcg->next_segment = 1;
        break;
    case IBB_MCG_REQ_SUBSCRIBE:
    case IBB_MCG_REQ_UNSUBSCRIBE:
        mcg->sub_busy = true;
        mcg->sub_xid = xid;
        mcg->sub_sent_on = req == IBB_MCG_REQ_SUBSCRIBE;
        break;
    case IBB_MCG_REQ_NONE:
        break;
    }
}

bool
ibb_mcg_busy(const struct ibb_mcg *mcg)
{
    return mcg->list_busy || mcg->sub_busy;
}

static void
list_end(struct ibb_mcg *mcg, int error)
{
    mcg->list_busy = false;
    push_simple(mcg, IBB_MCG_LIST_DONE, error);
}

/* A bad message that belongs to the list in progress ends it. */
static void
list_bad(struct ibb_mcg *mcg)
{
    mcg->c.bad_msgs++;
    list_end(mcg, EBADMSG);
}

static void
take_list(struct ibb_mcg *mcg, const struct ibb_fmsg_hdr *hdr,
          const uint8_t *body, size_t len)
{
    const size_t rec_len = sizeof(struct ibb_fmsg_mcg_record);
    struct ibb_fmsg_mcg_list lh;

    if (!mcg->list_busy || hdr->xid != mcg->list_xid) {
        /* Not the answer to our list (a stale one): nothing to end. */
        mcg->c.bad_msgs++;
        return;
    }
    if (hdr->status) {
        list_end(mcg, hdr->status);
        return;
    }
    if (len < sizeof lh) {
        list_bad(mcg);
        return;
    }
    memcpy(&lh, body, sizeof lh);
    if (lh.segment != mcg->next_segment
        || lh.n_records > IBB_FMCG_RECORDS_PER_MSG
        || len != sizeof lh + lh.n_records * rec_len
        || (lh.flags & ~IBB_FMCG_MORE)) {
        list_bad(mcg);
        return;
    }
    mcg->next_segment++;
    for (size_t i = 0; i < lh.n_records; i++) {
        struct ibb_fmsg_mcg_record r;
        struct ibb_mcg_event ev;

        memcpy(&r, body + sizeof lh + i * rec_len, rec_len);
        memset(&ev, 0, sizeof ev);
        ev.type = IBB_MCG_LISTED;
        memcpy(ev.rec.mgid, r.mgid, 16);
        ev.rec.mlid = r.mlid;
        ev.rec.pkey = r.pkey;
        ev.rec.qkey = r.qkey;
        ev.rec.n_full_others = r.n_full_others;
        ev.rec.n_send_only_others = r.n_send_only_others;
        push(mcg, &ev);
        mcg->c.listed++;
    }
    if (!(lh.flags & IBB_FMCG_MORE)) {
        list_end(mcg, 0);
    }
}

static void
take_subscribe(struct ibb_mcg *mcg, const struct ibb_fmsg_hdr *hdr)
{
    if (!mcg->sub_busy || hdr->xid != mcg->sub_xid) {
        mcg->c.bad_msgs++;
        return;
    }
    mcg->sub_busy = false;
    if (hdr->status) {
        /* Not retried: the caller hears of it and decides. */
        if (mcg->sub_sent_on) {
            mcg->sub_wanted = false;
            mcg->sub_lost = false;
            push_simple(mcg, IBB_MCG_SUBSCRIBE_FAILED, hdr->status);
        }
        return;
    }
    mcg->sub_active = mcg->sub_sent_on;
    if (mcg->sub_active && mcg->sub_lost) {
        mcg->sub_lost = false;
        push_simple(mcg, IBB_MCG_RESUBSCRIBED, 0);
    }
}

static void
take_notice(struct ibb_mcg *mcg, const struct ibb_fmsg_hdr *hdr,
            const uint8_t *body, size_t len)
{
    struct ibb_fmsg_mcg_notice n;
    struct ibb_mcg_event ev;

    if (hdr->xid || hdr->status || len != sizeof n) {
        mcg->c.bad_msgs++;
        return;
    }
    memcpy(&n, body, sizeof n);
    if ((n.trap != IBB_FMCG_TRAP_CREATED && n.trap != IBB_FMCG_TRAP_DELETED)
        || n.mgid[0] != 0xff) {
        mcg->c.bad_msgs++;
        return;
    }
    mcg->c.notices++;
    if (!mcg->sub_wanted) {
        /* Sent before our unsubscribe reached the SA. */
        return;
    }
    memset(&ev, 0, sizeof ev);
    ev.type = (n.trap == IBB_FMCG_TRAP_CREATED ? IBB_MCG_CREATED
                                                : IBB_MCG_DELETED);
    memcpy(ev.rec.mgid, n.mgid, 16);
    push(mcg, &ev);
}

bool
ibb_mcg_take_msg(struct ibb_mcg *mcg, const struct ibb_fmsg_hdr *hdr,
                 const uint8_t *body, size_t len)
{
    switch (hdr->type) {
    case IBB_FMSG_MCG_LIST:
        take_list(mcg, hdr, body, len);
        return true;
    case IBB_FMSG_MCG_SUBSCRIBE:
        take_subscribe(mcg, hdr);
        return true;
    case IBB_FMSG_MCG_NOTICE:
        take_notice(mcg, hdr, body, len);
        return true;
    default:
        return false;
    }
}

void
ibb_mcg_reset(struct ibb_mcg *mcg)
{
    if (mcg->list_busy) {
        list_end(mcg, ECONNRESET);
    }
    if (mcg->sub_wanted && (mcg->sub_active || mcg->sub_busy)) {
        mcg->sub_lost = true;
    }
    mcg->sub_busy = false;
    mcg->sub_active = false;
}

const struct ibb_mcg_counters *
ibb_mcg_counters(const struct ibb_mcg *mcg)
{
    return &mcg->c;
}
