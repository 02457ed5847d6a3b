/* Paced multicast joins and leaves: see lib/ibb-join.h. */
#include <config.h>

#include "ibb-join.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* uthash must not exit the process on allocation failure: each add
 * checks 'oom'. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(OBJ) (oom = true)
#include <uthash.h>
#include <utlist.h>

/* Which list of the table an entry is in. */
enum join_where {
    WHERE_NONE,                 /* Joined, or nothing to do. */
    WHERE_QUEUE,                /* Waiting for its request to be sent. */
    WHERE_INFLIGHT,             /* Its request awaits the answer. */
    WHERE_FAILED,               /* Failed, waiting for its retry. */
};

/* The shortest wait between two sends while the bucket is empty: sends
 * go in batches rather than one per millisecond. */
#define JOIN_BATCH_MS 10

/* Failed joins wait in one list per retry wait (1, 2, 4, 8, 16 and 30 s):
 * all of a list wait as long, so each list is in deadline order, and the
 * due retries are taken from the heads without a scan. */
#define JOIN_RETRY_LEVELS 6

struct join_entry {
    UT_hash_handle hh;          /* In 'by_mgid'. */
    UT_hash_handle hh_xid;      /* In 'by_xid' while in flight. */
    struct join_entry *prev;    /* In the list of 'where'. */
    struct join_entry *next;
    struct join_entry *c_prev;  /* In 'changed' if 'is_changed'. */
    struct join_entry *c_next;
    uint8_t mgid[16];           /* The key. */
    uint32_t qkey;              /* Q_Key of the join. */
    uint16_t pkey;              /* P_Key of the join. */
    uint16_t mlid;              /* MLID once joined. */
    uint32_t xid;               /* Of the request in flight. */
    int error;                  /* When FAILED: the SA's answer. */
    char *why;                  /* When FAILED by ibb_join_fail(): the
                                 * caller's reason (malloc()ed), else
                                 * NULL. */
    long long deadline;         /* In flight: its timeout; FAILED: the
                                 * retry. */
    int backoff_ms;             /* Wait before the retry after next. */
    uint8_t join;               /* enum ibb_mcast_join. */
    uint8_t state;              /* enum ibb_mcast_state. */
    uint8_t where;              /* enum join_where. */
    uint8_t op_sent;            /* In flight: enum ibb_join_op. */
    uint8_t level;              /* When FAILED: its list in 'failed'. */
    bool is_changed;            /* In 'changed'. */
    bool leave;                 /* Leave wanted. */
    bool rejoin;                /* Join again once the answer is in. */
    bool member;                /* The SA may hold a membership. */
    bool timed_out;             /* When FAILED: no answer. */
};

struct ibb_join_table {
    struct join_entry *by_mgid; /* Every entry. */
    struct join_entry *by_xid;  /* Entries in flight. */
    struct join_entry *queue;   /* To send, oldest first. */
    struct join_entry *inflight; /* Sent, oldest first. */
    struct join_entry *failed[JOIN_RETRY_LEVELS]; /* Waiting for a retry,
                                                   * by wait. */
    struct join_entry *changed; /* Status changed, not yet taken. */
    struct join_entry *next;    /* What ibb_join_next() gave. */
    size_t n_inflight;          /* Entries in 'inflight'. */
    unsigned int rate;          /* Requests per second. */
    unsigned int max_inflight;  /* Most unanswered requests. */
    long long tokens;           /* Token bucket, 1000 per request. */
    long long max_tokens;       /* Its depth. */
    long long last_refill;      /* When 'tokens' was last filled. */
    bool started;               /* 'last_refill' is set. */
    struct ibb_join_counters c; /* Counters. */
};

struct ibb_join_table *
ibb_join_table_create(const struct ibb_join_params *params)
{
    struct ibb_join_table *t = calloc(1, sizeof *t);
    unsigned int burst;

    if (!t) {
        return NULL;
    }
    t->rate = params && params->rate ? params->rate : IBB_JOIN_DEFAULT_RATE;
    if (t->rate > IBB_JOIN_MAX_RATE) {
        t->rate = IBB_JOIN_MAX_RATE;
    }
    t->max_inflight = (params && params->max_inflight
                       ? params->max_inflight : IBB_JOIN_DEFAULT_INFLIGHT);
    /* Deep enough for a batch of JOIN_BATCH_MS at full rate. */
    burst = t->rate / (1000 / (2 * JOIN_BATCH_MS));
    if (burst < t->max_inflight) {
        burst = t->max_inflight;
    }
    t->max_tokens = burst * 1000LL;
    t->tokens = t->max_tokens;
    return t;
}

static void
entry_unlist(struct ibb_join_table *t, struct join_entry *e)
{
    switch (e->where) {
    case WHERE_QUEUE:
        if (t->next == e) {
            t->next = NULL;
        }
        DL_DELETE(t->queue, e);
        break;
    case WHERE_INFLIGHT:
        DL_DELETE(t->inflight, e);
        HASH_DELETE(hh_xid, t->by_xid, e);
        t->n_inflight--;
        break;
    case WHERE_FAILED:
        DL_DELETE(t->failed[e->level], e);
        break;
    default:
        break;
    }
    e->where = WHERE_NONE;
}

static void
entry_enqueue(struct ibb_join_table *t, struct join_entry *e)
{
    entry_unlist(t, e);
    DL_APPEND(t->queue, e);
    e->where = WHERE_QUEUE;
}

static void
entry_changed(struct ibb_join_table *t, struct join_entry *e)
{
    if (!e->is_changed) {
        DL_APPEND2(t->changed, e, c_prev, c_next);
        e->is_changed = true;
    }
}

static void
entry_free(struct ibb_join_table *t, struct join_entry *e)
{
    entry_unlist(t, e);
    if (e->is_changed) {
        DL_DELETE2(t->changed, e, c_prev, c_next);
    }
    HASH_DELETE(hh, t->by_mgid, e);
    free(e->why);
    free(e);
}

void
ibb_join_table_destroy(struct ibb_join_table *t)
{
    struct join_entry *e, *next;

    if (!t) {
        return;
    }
    HASH_ITER(hh, t->by_mgid, e, next) {
        entry_free(t, e);
    }
    free(t);
}

size_t
ibb_join_count(const struct ibb_join_table *t)
{
    return HASH_COUNT(t->by_mgid);
}

size_t
ibb_join_entry_size(void)
{
    return sizeof(struct join_entry);
}

static struct join_entry *
find_entry(const struct ibb_join_table *t, const uint8_t mgid[16])
{
    struct join_entry *e;

    HASH_FIND(hh, t->by_mgid, mgid, 16, e);
    return e;
}

int
ibb_join_add(struct ibb_join_table *t, const uint8_t mgid[16],
             enum ibb_mcast_join join, uint32_t qkey, uint16_t pkey)
{
    struct join_entry *e = find_entry(t, mgid);
    bool oom = false;

    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            return ENOMEM;
        }
        memcpy(e->mgid, mgid, 16);
        HASH_ADD(hh, t->by_mgid, mgid, 16, e);
        if (oom) {
            free(e);
            return ENOMEM;
        }
        e->join = join;
        e->qkey = qkey;
        e->pkey = pkey;
        e->state = IBB_MCAST_JOINING;
        e->backoff_ms = IBB_JOIN_RETRY_MIN_MS;
        entry_enqueue(t, e);
        entry_changed(t, e);
        return 0;
    }

    if (!e->leave && e->join == join && e->qkey == qkey && e->pkey == pkey
        && e->state != IBB_MCAST_FAILED) {
        return 0;
    }
    e->join = join;
    e->qkey = qkey;
    e->pkey = pkey;
    e->leave = false;
    if (e->state != IBB_MCAST_JOINED) {
        e->state = IBB_MCAST_JOINING;
        e->mlid = 0;
    }
    e->backoff_ms = IBB_JOIN_RETRY_MIN_MS;
    if (e->where == WHERE_INFLIGHT) {
        e->rejoin = true;
    } else if (e->where != WHERE_QUEUE) {
        entry_enqueue(t, e);
    }
    entry_changed(t, e);
    return 0;
}

int
ibb_join_remove(struct ibb_join_table *t, const uint8_t mgid[16])
{
    struct join_entry *e = find_entry(t, mgid);

    if (!e) {
        return ENOENT;
    }
    if (!e->member && e->where != WHERE_INFLIGHT) {
        entry_free(t, e);
        return 0;
    }
    e->leave = true;
    e->rejoin = false;
    e->state = IBB_MCAST_LEAVING;
    e->mlid = 0;
    if (e->where != WHERE_INFLIGHT && e->where != WHERE_QUEUE) {
        entry_enqueue(t, e);
    }
    entry_changed(t, e);
    return 0;
}

static void
refill(struct ibb_join_table *t, long long now)
{
    if (!t->started) {
        t->started = true;
        t->last_refill = now;
    } else if (now > t->last_refill) {
        t->tokens += (now - t->last_refill) * t->rate;
        if (t->tokens > t->max_tokens) {
            t->tokens = t->max_tokens;
        }
        t->last_refill = now;
    }
}

bool
ibb_join_next(struct ibb_join_table *t, long long now,
              struct ibb_join_request *req)
{
    struct join_entry *e = t->queue;

    refill(t, now);
    if (!e || t->n_inflight >= t->max_inflight || t->tokens < 1000) {
        return false;
    }
    memset(req, 0, sizeof *req);
    req->op = e->leave ? IBB_JOIN_OP_LEAVE : IBB_JOIN_OP_JOIN;
    memcpy(req->mgid, e->mgid, 16);
    req->join = e->join;
    req->qkey = e->qkey;
    req->pkey = e->pkey;
    t->next = e;
    return true;
}

void
ibb_join_sent(struct ibb_join_table *t, long long now, uint32_t xid)
{
    struct join_entry *e = t->next;
    bool oom = false;

    if (!e) {
        return;
    }
    t->next = NULL;
    entry_unlist(t, e);
    e->op_sent = e->leave ? IBB_JOIN_OP_LEAVE : IBB_JOIN_OP_JOIN;
    if (e->op_sent == IBB_JOIN_OP_JOIN) {
        e->member = true;
        t->c.joins_sent++;
    } else {
        t->c.leaves_sent++;
    }
    e->xid = xid;
    e->deadline = now + IBB_JOIN_TIMEOUT_MS;
    t->tokens -= 1000;
    HASH_ADD(hh_xid, t->by_xid, xid, sizeof e->xid, e);
    if (oom) {
        /* Not findable by xid: its answer will not be taken, and it
         * times out. */
        oom = false;
    }
    DL_APPEND(t->inflight, e);
    e->where = WHERE_INFLIGHT;
    t->n_inflight++;
}

/* The list in 'failed' of a retry after 'wait_ms'. */
static int
retry_level(int wait_ms)
{
    int level = 0;

    for (int w = IBB_JOIN_RETRY_MIN_MS; w < wait_ms
         && level < JOIN_RETRY_LEVELS - 1; w *= 2) {
        level++;
    }
    return level;
}

/* Join 'e' failed with 'error' (an SA's answer, or ETIMEDOUT). */
static void
entry_fail(struct ibb_join_table *t, struct join_entry *e, long long now,
           int error, bool timed_out)
{
    entry_unlist(t, e);
    e->state = IBB_MCAST_FAILED;
    e->mlid = 0;
    e->error = error;
    e->timed_out = timed_out;
    e->deadline = now + e->backoff_ms;
    e->level = retry_level(e->backoff_ms);
    e->backoff_ms = (e->backoff_ms > IBB_JOIN_RETRY_MAX_MS / 2
                     ? IBB_JOIN_RETRY_MAX_MS : e->backoff_ms * 2);
    DL_APPEND(t->failed[e->level], e);
    e->where = WHERE_FAILED;
    t->c.join_failures++;
    entry_changed(t, e);
}

/* The request in flight of 'e' was answered with 'status' (or not at all:
 * 'timed_out').  'e' is out of the in-flight list. */
static void
entry_answered(struct ibb_join_table *t, struct join_entry *e, long long now,
               int status, uint16_t mlid, bool timed_out)
{
    if (e->op_sent == IBB_JOIN_OP_LEAVE) {
        e->member = false;
        if (e->rejoin) {
            e->rejoin = false;
            e->state = IBB_MCAST_JOINING;
            entry_enqueue(t, e);
            entry_changed(t, e);
        } else {
            entry_free(t, e);
        }
        return;
    }
    if (status && !timed_out) {
        /* Refused: the SA holds no membership. */
        e->member = false;
    }
    if (e->leave) {
        if (e->member) {
            entry_enqueue(t, e);
        } else {
            entry_free(t, e);
        }
    } else if (e->rejoin) {
        e->rejoin = false;
        entry_enqueue(t, e);
    } else if (!status) {
        e->state = IBB_MCAST_JOINED;
        e->mlid = mlid;
        e->error = 0;
        free(e->why);
        e->why = NULL;
        e->timed_out = false;
        e->backoff_ms = IBB_JOIN_RETRY_MIN_MS;
        entry_changed(t, e);
    } else {
        entry_fail(t, e, now, status, timed_out);
    }
}

/* The entry whose request 'xid' is answered, taken off its list with its
 * old reason gone, or NULL. */
static struct join_entry *
take_answered(struct ibb_join_table *t, uint32_t xid)
{
    struct join_entry *e;

    HASH_FIND(hh_xid, t->by_xid, &xid, sizeof xid, e);
    if (e) {
        entry_unlist(t, e);
        free(e->why);
        e->why = NULL;
    }
    return e;
}

bool
ibb_join_reply(struct ibb_join_table *t, long long now, uint32_t xid,
               int status, uint16_t mlid)
{
    struct join_entry *e = take_answered(t, xid);

    if (!e) {
        return false;
    }
    entry_answered(t, e, now, status, mlid, false);
    return true;
}

bool
ibb_join_fail(struct ibb_join_table *t, long long now, uint32_t xid,
              int error, const char *why)
{
    struct join_entry *e = take_answered(t, xid);

    if (!e) {
        return false;
    }
    /* Without memory the SA's generic reason shows instead. */
    e->why = strdup(why);
    entry_answered(t, e, now, error ? error : EIO, 0, false);
    return true;
}

bool
ibb_join_lost(struct ibb_join_table *t, long long now,
              const uint8_t mgid[16], int error, const char *why)
{
    struct join_entry *e = find_entry(t, mgid);

    if (!e || e->state != IBB_MCAST_JOINED || e->where != WHERE_NONE) {
        return false;
    }
    free(e->why);
    e->why = strdup(why);
    e->member = false;
    entry_fail(t, e, now, error ? error : EIO, false);
    return true;
}

void
ibb_join_run(struct ibb_join_table *t, long long now)
{
    while (t->inflight && t->inflight->deadline <= now) {
        struct join_entry *e = t->inflight;

        t->c.join_timeouts++;
        entry_unlist(t, e);
        free(e->why);
        e->why = NULL;
        entry_answered(t, e, now, ETIMEDOUT, 0, true);
    }
    for (int i = 0; i < JOIN_RETRY_LEVELS; i++) {
        while (t->failed[i] && t->failed[i]->deadline <= now) {
            /* It stays FAILED, with its reason, until answered. */
            t->c.join_retries++;
            entry_enqueue(t, t->failed[i]);
        }
    }
}

long long
ibb_join_next_deadline(const struct ibb_join_table *t, long long now)
{
    long long when = LLONG_MAX;

    for (int i = 0; i < JOIN_RETRY_LEVELS; i++) {
        if (t->failed[i] && t->failed[i]->deadline < when) {
            when = t->failed[i]->deadline;
        }
    }
    if (t->inflight && t->inflight->deadline < when) {
        when = t->inflight->deadline;
    }
    if (t->queue && t->n_inflight < t->max_inflight) {
        long long tokens = t->tokens;

        if (t->started && now > t->last_refill) {
            tokens += (now - t->last_refill) * t->rate;
        }
        if (tokens >= 1000) {
            return now;
        } else {
            long long wait = (1000 - tokens + t->rate - 1) / t->rate;

            if (wait < JOIN_BATCH_MS) {
                wait = JOIN_BATCH_MS;
            }
            if (now + wait < when) {
                when = now + wait;
            }
        }
    }
    return when;
}

bool
ibb_join_busy(const struct ibb_join_table *t)
{
    return t->n_inflight > 0;
}

void
ibb_join_reset(struct ibb_join_table *t)
{
    struct join_entry *e, *next;

    t->next = NULL;
    HASH_ITER(hh, t->by_mgid, e, next) {
        if (e->leave) {
            entry_free(t, e);
            continue;
        }
        e->rejoin = false;
        e->member = false;
        e->mlid = 0;
        if (e->state != IBB_MCAST_JOINING) {
            e->state = IBB_MCAST_JOINING;
            entry_changed(t, e);
        }
        e->backoff_ms = IBB_JOIN_RETRY_MIN_MS;
        entry_enqueue(t, e);
    }
}

static void
entry_status(const struct join_entry *e, struct ibb_mcast_status *st)
{
    memset(st, 0, sizeof *st);
    st->state = e->state;
    st->mlid = e->state == IBB_MCAST_JOINED ? e->mlid : 0;
    if (e->state == IBB_MCAST_FAILED) {
        if (e->why) {
            snprintf(st->why, sizeof st->why, "%s", e->why);
        } else if (e->timed_out) {
            snprintf(st->why, sizeof st->why, "no answer from the SA in "
                     "%d s", IBB_JOIN_TIMEOUT_MS / 1000);
        } else {
            snprintf(st->why, sizeof st->why, "the SA refused the join (%s)",
                     strerror(e->error));
        }
    }
}

int
ibb_join_status(const struct ibb_join_table *t, const uint8_t mgid[16],
                struct ibb_mcast_status *st)
{
    const struct join_entry *e = find_entry(t, mgid);

    if (!e) {
        return ENOENT;
    }
    entry_status(e, st);
    return 0;
}

bool
ibb_join_take_changed(struct ibb_join_table *t, uint8_t mgid[16],
                      struct ibb_mcast_status *st)
{
    struct join_entry *e = t->changed;

    if (!e) {
        return false;
    }
    DL_DELETE2(t->changed, e, c_prev, c_next);
    e->is_changed = false;
    memcpy(mgid, e->mgid, 16);
    entry_status(e, st);
    return true;
}

bool
ibb_join_has_changed(const struct ibb_join_table *t)
{
    return t->changed != NULL;
}

const struct ibb_join_counters *
ibb_join_counters(const struct ibb_join_table *t)
{
    return &t->c;
}
