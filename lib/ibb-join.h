/*
 * Paced multicast joins and leaves toward a subnet administrator: the
 * state machine of a port's memberships, without any I/O (lib/ibport-sim.c
 * drives it over the fabric socket, lib/ibport-verbs.c through rdma_cm).
 *
 * Each membership is found by its MGID in O(1).  A join is queued, then
 * sent when the pacing allows (at most 'rate' requests per second, a
 * token bucket, and at most 'max_inflight' awaiting their answer), and
 * completes when its answer arrives (matched by xid).  A refused or
 * unanswered join fails, and is tried again after 1 s, then twice as long
 * each time up to 30 s; its reason stays visible meanwhile.  A leave is
 * paced like a join; the membership shows as leaving until the SA
 * answered.  Functions take "now" (milliseconds, any monotonic clock) and
 * ibb_join_next_deadline() says when the table next has timed work.
 */
#ifndef IBB_JOIN_H
#define IBB_JOIN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibport.h"

/* Defaults and bounds of struct ibb_join_params. */
#define IBB_JOIN_DEFAULT_RATE 1000      /* Requests per second. */
#define IBB_JOIN_MAX_RATE 100000
#define IBB_JOIN_DEFAULT_INFLIGHT 64    /* Requests awaiting an answer. */
#define IBB_JOIN_TIMEOUT_MS 5000        /* Unanswered request fails. */
#define IBB_JOIN_RETRY_MIN_MS 1000      /* First retry of a failed join. */
#define IBB_JOIN_RETRY_MAX_MS 30000     /* Longest wait between retries. */

struct ibb_join_params {
    unsigned int rate;          /* Requests per second, 0 = default. */
    unsigned int max_inflight;  /* Unanswered requests, 0 = default. */
};

enum ibb_join_op {
    IBB_JOIN_OP_JOIN,
    IBB_JOIN_OP_LEAVE,
};

/* A request to send, from ibb_join_next(). */
struct ibb_join_request {
    enum ibb_join_op op;
    uint8_t mgid[16];
    enum ibb_mcast_join join;   /* Join: IBB_MCAST_*. */
    uint32_t qkey;              /* Join: group Q_Key. */
    uint16_t pkey;              /* Join: group P_Key. */
};

/* What the table did, for a backend's counters. */
struct ibb_join_counters {
    uint64_t joins_sent;        /* JOIN requests sent. */
    uint64_t leaves_sent;       /* LEAVE requests sent. */
    uint64_t join_failures;     /* Joins refused or unanswered. */
    uint64_t join_retries;      /* Failed joins tried again. */
    uint64_t join_timeouts;     /* Requests without an answer. */
};

struct ibb_join_table;

struct ibb_join_table *ibb_join_table_create(const struct ibb_join_params *);
void ibb_join_table_destroy(struct ibb_join_table *);

/* Memberships in the table (leaving ones included). */
size_t ibb_join_count(const struct ibb_join_table *);

/* Bytes the table holds per membership, for the benchmark. */
size_t ibb_join_entry_size(void);

/* Asks for membership 'mgid'.  An existing one with the same 'join',
 * 'qkey' and 'pkey' that has not failed stays as it is; otherwise the
 * join is queued.  Returns 0 or ENOMEM. */
int ibb_join_add(struct ibb_join_table *, const uint8_t mgid[16],
                 enum ibb_mcast_join join, uint32_t qkey, uint16_t pkey);

/* Gives up membership 'mgid': one never sent or failed goes at once, one
 * joined (or whose join is under way) is left.  Returns 0 or ENOENT. */
int ibb_join_remove(struct ibb_join_table *, const uint8_t mgid[16]);

/* Stores in '*req' the next request to send, if there is one and the
 * pacing allows it now, and returns true.  The caller sends it and then
 * calls ibb_join_sent() with its xid; if it could not be sent (the socket
 * is full), it calls nothing and asks again later. */
bool ibb_join_next(struct ibb_join_table *, long long now,
                   struct ibb_join_request *req);
void ibb_join_sent(struct ibb_join_table *, long long now, uint32_t xid);

/* Takes the answer to request 'xid': 'status' 0 or a positive errno,
 * 'mlid' the group's MLID.  Returns false if no request of the table has
 * that xid (a request forgotten by ibb_join_reset(), or timed out). */
bool ibb_join_reply(struct ibb_join_table *, long long now, uint32_t xid,
                    int status, uint16_t mlid);

/* Like ibb_join_reply() with 'error' as the status, for a request that
 * failed on the caller's side (the SA's answer could not be used, say):
 * the membership shows 'why' as its reason until it is answered again,
 * and is retried as a refused one is. */
bool ibb_join_fail(struct ibb_join_table *, long long now, uint32_t xid,
                   int error, const char *why);

/* Joined membership 'mgid' ended without being left (an error event
 * after the join): it fails with 'why' as its reason and is retried.
 * Returns false if it is not joined (or has a request in flight). */
bool ibb_join_lost(struct ibb_join_table *, long long now,
                   const uint8_t mgid[16], int error, const char *why);

/* Fails requests unanswered for IBB_JOIN_TIMEOUT_MS and queues the failed
 * joins whose retry is due. */
void ibb_join_run(struct ibb_join_table *, long long now);

/* When ibb_join_run() or ibb_join_next() next has work, or LLONG_MAX. */
long long ibb_join_next_deadline(const struct ibb_join_table *,
                                 long long now);

/* True if requests await their answer. */
bool ibb_join_busy(const struct ibb_join_table *);

/* The connection to the SA was lost, and every membership with it: the
 * table forgets what is in flight, drops the leaving memberships and
 * queues a join for every other one. */
void ibb_join_reset(struct ibb_join_table *);

/* Status of membership 'mgid': 0, or ENOENT if there is none. */
int ibb_join_status(const struct ibb_join_table *, const uint8_t mgid[16],
                    struct ibb_mcast_status *);

/* Takes one membership whose status changed since it was last taken,
 * into 'mgid' and '*st'.  Returns false when there is none.  (A
 * membership that is gone, left, is not reported.) */
bool ibb_join_take_changed(struct ibb_join_table *, uint8_t mgid[16],
                           struct ibb_mcast_status *st);
bool ibb_join_has_changed(const struct ibb_join_table *);

const struct ibb_join_counters *ibb_join_counters(
    const struct ibb_join_table *);

#endif /* ibb-join.h */
