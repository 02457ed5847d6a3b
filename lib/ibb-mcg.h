/*
 * A port's view of the SA's multicast group table: the state of its
 * MCG_LIST and MCG_SUBSCRIBE requests (lib/fabric-proto.h), the parsing of
 * their answers and of MCG_NOTICE messages, and a bounded queue of the
 * events they make (struct ibb_mcg_event, lib/ibport.h).  No I/O:
 * lib/ibport-sim.c sends what ibb_mcg_next() asks for and hands every
 * message from the fabric that is not a packet to ibb_mcg_take_msg().
 *
 * Bad input never crashes and is never silently ignored: a malformed
 * message is counted in 'bad_msgs' (a list answer that goes wrong ends
 * the list with IBB_MCG_LIST_DONE and EBADMSG), and events beyond the
 * queue's bound are counted in 'events_dropped'.
 */
#ifndef IBB_MCG_H
#define IBB_MCG_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibport.h"

struct ibb_fmsg_hdr;

/* Default bound of the event queue. */
#define IBB_MCG_DEFAULT_MAX_EVENTS 65536

struct ibb_mcg_counters {
    uint64_t notices;           /* MCG_NOTICE messages taken. */
    uint64_t listed;            /* Records taken from list answers. */
    uint64_t bad_msgs;          /* Malformed or unexpected messages. */
    uint64_t events_dropped;    /* Events lost to a full queue. */
};

/* A request to send, from ibb_mcg_next(). */
enum ibb_mcg_request {
    IBB_MCG_REQ_NONE,
    IBB_MCG_REQ_LIST,           /* MCG_LIST. */
    IBB_MCG_REQ_SUBSCRIBE,      /* MCG_SUBSCRIBE, on = 1. */
    IBB_MCG_REQ_UNSUBSCRIBE,    /* MCG_SUBSCRIBE, on = 0. */
};

/* 'max_events' 0 = IBB_MCG_DEFAULT_MAX_EVENTS.  NULL if out of memory. */
struct ibb_mcg *ibb_mcg_create(size_t max_events);
void ibb_mcg_destroy(struct ibb_mcg *);

/* What the caller wants: a list (one more is made after one in progress,
 * if asked for meanwhile), notices on or off. */
void ibb_mcg_want_list(struct ibb_mcg *);
void ibb_mcg_want_subscribed(struct ibb_mcg *, bool on);
bool ibb_mcg_is_subscribed(const struct ibb_mcg *); /* Wanted. */

/* The next request to send now, or IBB_MCG_REQ_NONE (one request of each
 * kind at a time).  After sending it with xid 'xid', call
 * ibb_mcg_sent(). */
enum ibb_mcg_request ibb_mcg_next(const struct ibb_mcg *);
void ibb_mcg_sent(struct ibb_mcg *, enum ibb_mcg_request, uint32_t xid);

/* True while an answer is awaited: the port must read the socket. */
bool ibb_mcg_busy(const struct ibb_mcg *);

/* Takes a message of type MCG_LIST, MCG_SUBSCRIBE or MCG_NOTICE from the
 * fabric ('hdr' and 'len' bytes of body at 'body').  Returns false, and
 * does nothing, for any other type. */
bool ibb_mcg_take_msg(struct ibb_mcg *, const struct ibb_fmsg_hdr *hdr,
                      const uint8_t *body, size_t len);

/* The connection went away: a list in progress ends (IBB_MCG_LIST_DONE,
 * ECONNRESET), and a wanted subscription is made again once the port is
 * back (ibb_mcg_next()), which then queues IBB_MCG_RESUBSCRIBED. */
void ibb_mcg_reset(struct ibb_mcg *);

bool ibb_mcg_has_events(const struct ibb_mcg *);
bool ibb_mcg_take_event(struct ibb_mcg *, struct ibb_mcg_event *);

const struct ibb_mcg_counters *ibb_mcg_counters(const struct ibb_mcg *);

#endif /* ibb-mcg.h */
