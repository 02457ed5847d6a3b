/*
 * The host side of IGMP and MLD: group state and the timers of RFC 3376
 * and RFC 3810.  See ibb-igmp-host.h.
 */
#include <config.h>

#include "ibb-igmp-host.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* uthash must not exit the process on allocation failure. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(OBJ) (oom = true)
#include <uthash.h>

#include "ib-gid.h"

/* One group. */
struct igmp_group {
    uint8_t ip[16];             /* The group, lib/ib-gid.h form. */
    bool member;                /* Wanted; false: being left. */
    bool seen;                  /* Wanted in the update under way. */
    unsigned int retrans;       /* State-change reports still to send. */
    long long int next_change;  /* When the next one goes. */
    long long int next_response; /* Pending answer to a query. */
    uint8_t (*srcs)[16];        /* The pending answer's source list (RFC
                                 * 3376 5.2): empty for a group answer, */
    size_t n_srcs, max_srcs;    /* with its size and room. */
    UT_hash_handle hh;          /* In host->groups, by 'ip'. */
};

/* What the host knows of one family's queriers. */
struct igmp_family {
    long long int v1_until;     /* IGMPv1 querier present until. */
    long long int v2_until;     /* IGMPv2/MLDv1 querier present until. */
    long long int general_at;   /* Pending v3 general answer. */
    unsigned int qrv;           /* Last v3 query's QRV, 0 if none. */
    unsigned int qqi_s;         /* Last v3 query's QQI, 0 if none. */
};

struct ibb_igmp_host {
    struct ibb_igmp_host_config cfg; /* Versions and addresses. */
    struct igmp_group *groups;  /* Hash by IP. */
    struct igmp_family fam[2];  /* IPv4, IPv6. */
    size_t n_members;           /* Groups with 'member'. */
    long long int next;         /* Earliest deadline, maybe early. */
    uint32_t rng;               /* xorshift32 state, never 0. */
};

static uint32_t
rand_u32(struct ibb_igmp_host *h)
{
    uint32_t x = h->rng;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    h->rng = x;
    return x;
}

/* A random delay from 0 to 'max' ms. */
static long long int
rand_delay(struct ibb_igmp_host *h, unsigned int max)
{
    return max ? rand_u32(h) % (max + 1ULL) : 0;
}

static void
schedule(struct ibb_igmp_host *h, long long int t)
{
    if (t < h->next) {
        h->next = t;
    }
}

static int
family_of(const uint8_t ip[16])
{
    return ibb_gid_is_v4mapped(ip) ? 0 : 1;
}

/* Frees 'g' (already out of the hash). */
static void
free_group(struct igmp_group *g)
{
    free(g->srcs);
    free(g);
}

/* No pending answer for 'g', or a group answer: the source list goes. */
static void
clear_sources(struct igmp_group *g)
{
    free(g->srcs);
    g->srcs = NULL;
    g->n_srcs = g->max_srcs = 0;
}

/* Adds query 'q''s sources to 'g''s pending list, once each.  Past
 * IBB_IGMP_MAX_PENDING_SOURCES, or out of memory, the list goes and the
 * answer becomes a group answer: IS_EX({}), which covers every source. */
static void
add_sources(struct igmp_group *g, const struct ibb_igmp_query *q)
{
    for (size_t i = 0; i < q->n_sources; i++) {
        uint8_t ip[16];
        size_t j;

        ibb_igmp_query_source(q, i, ip);
        for (j = 0; j < g->n_srcs; j++) {
            if (!memcmp(g->srcs[j], ip, 16)) {
                break;
            }
        }
        if (j < g->n_srcs) {
            continue;
        }
        if (g->n_srcs >= IBB_IGMP_MAX_PENDING_SOURCES) {
            clear_sources(g);
            return;
        }
        if (g->n_srcs == g->max_srcs) {
            size_t max = g->max_srcs ? 2 * g->max_srcs : 8;
            void *p = realloc(g->srcs, max * sizeof *g->srcs);

            if (!p) {
                clear_sources(g);
                return;
            }
            g->srcs = p;
            g->max_srcs = max;
        }
        memcpy(g->srcs[g->n_srcs++], ip, 16);
    }
}

static unsigned int
robustness(const struct igmp_family *f)
{
    return f->qrv ? f->qrv : IBB_IGMP_ROBUSTNESS;
}

static int
level_of(const struct ibb_igmp_host *h, int fam, long long int now)
{
    const struct igmp_family *f = &h->fam[fam];
    int level = fam ? h->cfg.mld_level : h->cfg.igmp_level;

    if (f->v1_until > now && level > IBB_IGMP_V1) {
        level = IBB_IGMP_V1;
    } else if (f->v2_until > now && level > IBB_IGMP_V2) {
        level = IBB_IGMP_V2;
    }
    return level;
}

int
ibb_igmp_host_level(const struct ibb_igmp_host *h, bool ipv6,
                    long long int now)
{
    return level_of(h, ipv6, now);
}

struct ibb_igmp_host *
ibb_igmp_host_create(const struct ibb_igmp_host_config *cfg, uint32_t seed)
{
    struct ibb_igmp_host *h = calloc(1, sizeof *h);

    if (!h) {
        return NULL;
    }
    h->cfg = *cfg;
    h->rng = seed ? seed : 0x9e3779b9;
    h->next = LLONG_MAX;
    for (int i = 0; i < 2; i++) {
        h->fam[i].v1_until = LLONG_MIN;
        h->fam[i].v2_until = LLONG_MIN;
        h->fam[i].general_at = LLONG_MAX;
    }
    return h;
}

void
ibb_igmp_host_destroy(struct ibb_igmp_host *h)
{
    struct igmp_group *g, *tmp;

    if (!h) {
        return;
    }
    HASH_ITER(hh, h->groups, g, tmp) {
        HASH_DEL(h->groups, g);
        free_group(g);
    }
    free(h);
}

void
ibb_igmp_host_configure(struct ibb_igmp_host *h,
                        const struct ibb_igmp_host_config *cfg)
{
    h->cfg = *cfg;
}

void
ibb_igmp_host_begin_update(struct ibb_igmp_host *h)
{
    struct igmp_group *g, *tmp;

    HASH_ITER(hh, h->groups, g, tmp) {
        g->seen = false;
    }
}

/* Starts the state-change reports of 'g' (a join or a leave). */
static void
start_change(struct ibb_igmp_host *h, struct igmp_group *g,
             long long int now)
{
    g->retrans = robustness(&h->fam[family_of(g->ip)]);
    g->next_change = now;
    schedule(h, now);
}

int
ibb_igmp_host_want(struct ibb_igmp_host *h, const uint8_t group[16],
                   long long int now)
{
    struct igmp_group *g;
    bool oom = false;

    if (!ibb_ip_is_multicast(group)) {
        return EINVAL;
    }
    HASH_FIND(hh, h->groups, group, 16, g);
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g) {
            return ENOMEM;
        }
        memcpy(g->ip, group, 16);
        g->next_response = LLONG_MAX;
        HASH_ADD(hh, h->groups, ip, 16, g);
        if (oom) {
            free(g);
            return ENOMEM;
        }
    }
    g->seen = true;
    if (!g->member) {
        g->member = true;
        h->n_members++;
        start_change(h, g, now);
    }
    return 0;
}

void
ibb_igmp_host_end_update(struct ibb_igmp_host *h, long long int now)
{
    struct igmp_group *g, *tmp;

    HASH_ITER(hh, h->groups, g, tmp) {
        if (!g->seen && g->member) {
            g->member = false;
            h->n_members--;
            g->next_response = LLONG_MAX;
            clear_sources(g);
            start_change(h, g, now);
        }
    }
}

size_t
ibb_igmp_host_n_groups(const struct ibb_igmp_host *h)
{
    return h->n_members;
}

/* The version of family 'fam' went down: pending answers and
 * retransmissions are cancelled (RFC 3376 7.2.1, RFC 3810 8.2.1). */
static void
cancel_pending(struct ibb_igmp_host *h, int fam)
{
    struct igmp_group *g, *tmp;

    h->fam[fam].general_at = LLONG_MAX;
    HASH_ITER(hh, h->groups, g, tmp) {
        if (family_of(g->ip) != fam) {
            continue;
        }
        g->next_response = LLONG_MAX;
        clear_sources(g);
        if (!g->member) {
            HASH_DEL(h->groups, g);
            free_group(g);
        } else if (g->next_change != LLONG_MAX
                   && g->retrans < robustness(&h->fam[fam])) {
            /* Retransmissions of a report already sent. */
            g->retrans = 0;
            g->next_change = LLONG_MAX;
        }
    }
}

/* Answers, at 'level' (1 or 2), a general query for every member group of
 * 'fam' with its own delay, or shortens the timers already running. */
static bool
schedule_each(struct ibb_igmp_host *h, int fam, unsigned int max_ms,
              long long int now)
{
    struct igmp_group *g, *tmp;
    bool any = false;

    HASH_ITER(hh, h->groups, g, tmp) {
        if (g->member && family_of(g->ip) == fam) {
            long long int t = now + rand_delay(h, max_ms);

            if (t < g->next_response) {
                g->next_response = t;
                schedule(h, t);
            }
            any = true;
        }
    }
    return any;
}

bool
ibb_igmp_host_query(struct ibb_igmp_host *h, const struct ibb_igmp_query *q,
                    long long int now)
{
    int fam = q->ipv6 ? 1 : 0;
    struct igmp_family *f = &h->fam[fam];
    int before = level_of(h, fam, now);
    struct igmp_group *g = NULL;
    long long int t;
    int level;

    if (q->level == IBB_IGMP_V3) {
        f->qrv = q->qrv;
        f->qqi_s = q->qqi_s;
    } else {
        /* RFC 3376 8.12: Older Version Querier Present Timeout. */
        long long int timeout
            = (long long int) robustness(f) * 1000
              * (f->qqi_s ? f->qqi_s : IBB_IGMP_QUERY_INTERVAL_S)
              + q->max_resp_ms;

        if (q->level == IBB_IGMP_V1 && !fam) {
            f->v1_until = now + timeout;
        } else {
            f->v2_until = now + timeout;
        }
    }
    level = level_of(h, fam, now);
    if (level < before) {
        cancel_pending(h, fam);
    }
    if (f->v1_until > now || f->v2_until > now) {
        schedule(h, f->v1_until > now ? f->v1_until : f->v2_until);
    }

    if (!ibb_ip_is_unspecified(q->group)) {
        HASH_FIND(hh, h->groups, q->group, 16, g);
        if (!g || !g->member) {
            return false;
        }
    }
    if (level < IBB_IGMP_V3) {
        if (!g) {
            return schedule_each(h, fam, q->max_resp_ms, now);
        }
        t = now + rand_delay(h, q->max_resp_ms);
        if (t < g->next_response) {
            g->next_response = t;
            schedule(h, t);
        }
        return true;
    }

    /* RFC 3376 5.2, RFC 3810 6.2: rule 1, a pending general answer due
     * sooner covers any query. */
    t = now + rand_delay(h, q->max_resp_ms);
    if (f->general_at <= t) {
        return true;
    }
    if (!g) {
        /* Rule 2: a general query. */
        struct igmp_group *x, *tmp;
        bool any = false;

        HASH_ITER(hh, h->groups, x, tmp) {
            any |= x->member && family_of(x->ip) == fam;
        }
        if (!any) {
            return false;
        }
        f->general_at = t;
    } else if (g->next_response == LLONG_MAX) {
        /* Rule 3: no answer pending for the group; a group-and-source
         * query's sources are recorded. */
        g->next_response = t;
        add_sources(g, q);
    } else {
        /* Rule 4: a group query, or a group answer already pending, makes
         * a group answer; rule 5: else the sources add up.  Either way at
         * the earlier of the two times. */
        if (!q->n_sources || !g->n_srcs) {
            clear_sources(g);
        } else {
            add_sources(g, q);
        }
        if (t < g->next_response) {
            g->next_response = t;
        }
    }
    schedule(h, t);
    return true;
}

/* Records of one kind waiting to go as an IGMPv3/MLDv2 report. */
struct record_batch {
    enum ibb_igmp_sent what;    /* Joins, answers or leaves. */
    bool ipv6;                  /* MLDv2, not IGMPv3. */
    size_t n;                   /* Records held, */
    size_t len;                 /* the bytes they take in the report, */
    size_t n_srcs;              /* and the sources they hold, in 'srcs'. */
    struct ibb_igmp_record recs[IBB_IGMP_V3_MAX_RECORDS4];
    uint8_t srcs[IBB_IGMP_V3_MAX_SOURCES4][16];
};

/* One run's output. */
struct run_ctx {
    struct ibb_igmp_host *h;    /* The host. */
    ibb_igmp_emit_cb *emit;     /* Where frames go, */
    void *aux;                  /* with this. */
    uint8_t frame[IBB_IGMP_FRAME_MAX]; /* The frame being built. */
};

static void
flush_batch(struct run_ctx *ctx, struct record_batch *b)
{
    if (b->n) {
        size_t len = ibb_igmp_build(&ctx->h->cfg.src, IBB_IGMP_V3,
                                    IBB_IGMP_V3_REPORT, b->recs, b->n,
                                    ctx->frame);

        if (len) {
            ctx->emit(ctx->frame, len, b->what, ctx->aux);
        }
        b->n = b->len = b->n_srcs = 0;
    }
}

/* Adds a record of 'type' for 'group' with the 'n_srcs' sources 'srcs',
 * in as many records as it takes: a record with more sources than a
 * report holds is split, each part in a report of its own (RFC 3376
 * 4.2.16, RFC 3810 5.2.15; only IS_IN records have sources here). */
static void
batch_add(struct run_ctx *ctx, struct record_batch *b,
          enum ibb_igmp_record_type type, const uint8_t group[16],
          const uint8_t (*srcs)[16], size_t n_srcs)
{
    size_t room = b->ipv6 ? IBB_IGMP_V3_ROOM6 : IBB_IGMP_V3_ROOM4;
    size_t most = (b->ipv6 ? IBB_IGMP_V3_MAX_SOURCES6
                   : IBB_IGMP_V3_MAX_SOURCES4);

    do {
        size_t k = n_srcs < most ? n_srcs : most;
        size_t len = ibb_igmp_v3_record_len(b->ipv6, k);
        struct ibb_igmp_record *rec;

        if (b->len + len > room) {
            flush_batch(ctx, b);
        }
        rec = &b->recs[b->n++];
        rec->type = type;
        memcpy(rec->group, group, 16);
        rec->sources = &b->srcs[b->n_srcs];
        rec->n_sources = k;
        if (k) {
            memcpy(b->srcs[b->n_srcs], srcs, k * sizeof *srcs);
            b->n_srcs += k;
            srcs += k;
            n_srcs -= k;
        }
        b->len += len;
    } while (n_srcs);
}

/* Sends a v1/v2 report or leave for 'group'. */
static void
send_one(struct run_ctx *ctx, int level, enum ibb_igmp_msg_kind kind,
         const uint8_t group[16], enum ibb_igmp_sent what)
{
    struct ibb_igmp_record rec = { .type = IBB_IGMP_IS_EX };
    size_t len;

    memcpy(rec.group, group, 16);
    len = ibb_igmp_build(&ctx->h->cfg.src, level, kind, &rec, 1,
                         ctx->frame);
    if (len) {
        ctx->emit(ctx->frame, len, what, ctx->aux);
    }
}

/* Messages due within this many ms of a run go in that run: with
 * thousands of groups under IGMPv2 each answer has its own random delay,
 * and a run per millisecond would walk the groups thousands of times. */
#define IGMP_RUN_SLACK_MS 10

/* Sends what is due for family 'fam'; returns its next deadline. */
static long long int
run_family(struct run_ctx *ctx, int fam, long long int now)
{
    struct ibb_igmp_host *h = ctx->h;
    struct igmp_family *f = &h->fam[fam];
    int level = level_of(h, fam, now);
    unsigned int uri = (level == IBB_IGMP_V3 ? IBB_IGMP_V3_UNSOLICITED_MS
                        : IBB_IGMP_V2_UNSOLICITED_MS);
    long long int due = now + IGMP_RUN_SLACK_MS;
    bool general = f->general_at <= due;
    struct record_batch *joins, *answers, *leaves;
    long long int next = LLONG_MAX;
    struct igmp_group *g, *tmp;

    joins = malloc(3 * sizeof *joins);
    if (!joins) {
        return now + 1000;      /* Try again later. */
    }
    answers = joins + 1;
    leaves = joins + 2;
    joins->what = IBB_IGMP_SENT_REPORT;
    answers->what = IBB_IGMP_SENT_ANSWER;
    leaves->what = IBB_IGMP_SENT_LEAVE;
    for (int i = 0; i < 3; i++) {
        joins[i].ipv6 = fam;
        joins[i].n = joins[i].len = joins[i].n_srcs = 0;
    }
    if (general) {
        f->general_at = LLONG_MAX;
    }

    HASH_ITER(hh, h->groups, g, tmp) {
        if (family_of(g->ip) != fam) {
            continue;
        }
        if (g->next_change <= due) {
            if (g->retrans) {
                g->retrans--;
            }
            if (g->member) {
                if (level == IBB_IGMP_V3) {
                    batch_add(ctx, joins, IBB_IGMP_TO_EX, g->ip, NULL, 0);
                } else {
                    send_one(ctx, level, IBB_IGMP_REPORT, g->ip,
                             IBB_IGMP_SENT_REPORT);
                }
            } else if (level == IBB_IGMP_V3) {
                batch_add(ctx, leaves, IBB_IGMP_TO_IN, g->ip, NULL, 0);
            } else {
                if (level == IBB_IGMP_V2) {
                    send_one(ctx, level, IBB_IGMP_LEAVE, g->ip,
                             IBB_IGMP_SENT_LEAVE);
                }
                g->retrans = 0;
            }
            g->next_change = (g->retrans
                              ? now + 1 + rand_delay(h, uri - 1)
                              : LLONG_MAX);
            if (!g->member && !g->retrans) {
                HASH_DEL(h->groups, g);
                free_group(g);
                continue;
            }
        }
        if (g->member && (general || g->next_response <= due)) {
            /* The state is EXCLUDE({}): a group-and-source answer is
             * IS_IN(the sources asked about) (RFC 3376 5.2's table,
             * RFC 3810 6.3), anything else IS_EX({}), which a general
             * answer going now also gives for a pending one. */
            if (level < IBB_IGMP_V3) {
                send_one(ctx, level, IBB_IGMP_REPORT, g->ip,
                         IBB_IGMP_SENT_ANSWER);
            } else if (g->n_srcs && !general) {
                batch_add(ctx, answers, IBB_IGMP_IS_IN, g->ip,
                          (const uint8_t (*)[16]) g->srcs, g->n_srcs);
            } else {
                batch_add(ctx, answers, IBB_IGMP_IS_EX, g->ip, NULL, 0);
            }
            g->next_response = LLONG_MAX;
            clear_sources(g);
        }
        if (g->next_change < next) {
            next = g->next_change;
        }
        if (g->next_response < next) {
            next = g->next_response;
        }
    }
    flush_batch(ctx, joins);
    flush_batch(ctx, answers);
    flush_batch(ctx, leaves);
    free(joins);

    if (f->general_at < next) {
        next = f->general_at;
    }
    /* Wake up when an older querier's timer runs out. */
    if (f->v1_until > now && f->v1_until < next) {
        next = f->v1_until;
    }
    if (f->v2_until > now && f->v2_until < next) {
        next = f->v2_until;
    }
    return next;
}

long long int
ibb_igmp_host_run(struct ibb_igmp_host *h, long long int now,
                  ibb_igmp_emit_cb *emit, void *aux)
{
    struct run_ctx *ctx = malloc(sizeof *ctx);
    long long int n4, n6;

    if (!ctx) {
        return now + 1000;
    }
    ctx->h = h;
    ctx->emit = emit;
    ctx->aux = aux;
    n4 = run_family(ctx, 0, now);
    n6 = run_family(ctx, 1, now);
    free(ctx);
    h->next = n4 < n6 ? n4 : n6;
    return h->next;
}

long long int
ibb_igmp_host_next(const struct ibb_igmp_host *h)
{
    return h->next;
}
