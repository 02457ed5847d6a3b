/*
 * The groups RoCE hosts want, from their IGMP/MLD reports.  See
 * ibb-mcast-listen.h.
 */
#include <config.h>

#include "ibb-mcast-listen.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#include "ib-gid.h"

/* Defaults of RFC 3376 8 and RFC 3810 9. */
#define DEFAULT_RV 2
#define DEFAULT_QI_MS 125000
#define DEFAULT_QRI_MS 10000

struct member {
    uint8_t mac[6];             /* The host, by its Ethernet source. */
    long long int expires;      /* When its membership ends. */
};

struct lgroup {
    UT_hash_handle hh;          /* In l->groups, by 'ip'. */
    uint8_t ip[16];
    struct member *members;
    size_t n_members, allocated;
    long long int gone_at;      /* Without members: when it goes. */
    bool wanted;                /* As last reported by a change. */
    bool changed;               /* In the list of changes. */
    struct lgroup *next_changed;
};

struct ibb_listen {
    struct ibb_listen_config cfg;       /* 'ranges' is a copy. */
    struct lgroup *groups;              /* Wanted or with a change. */
    size_t n_wanted;
    size_t n_members;                   /* In all groups. */
    struct lgroup *changes, **changes_tail;
    long long int next;                 /* Earliest deadline, or earlier. */
    unsigned int rv;                    /* Robustness Variable. */
    unsigned int qi_ms, qri_ms;         /* Query (Response) Interval. */
    struct ibb_listen_counters c;
};

static void
copy_config(struct ibb_listen *l, const struct ibb_listen_config *cfg)
{
    struct ibb_gid_prefix *ranges = NULL;

    if (cfg->n_ranges) {
        ranges = malloc(cfg->n_ranges * sizeof *ranges);
        if (ranges) {
            memcpy(ranges, cfg->ranges, cfg->n_ranges * sizeof *ranges);
        }
    }
    free((void *) l->cfg.ranges);
    l->cfg = *cfg;
    l->cfg.ranges = ranges;
    l->cfg.n_ranges = ranges ? cfg->n_ranges : 0;
    if (!l->cfg.max_groups) {
        l->cfg.max_groups = IBB_LISTEN_DEFAULT_MAX_GROUPS;
    }
}

struct ibb_listen *
ibb_listen_create(const struct ibb_listen_config *cfg)
{
    struct ibb_listen *l = calloc(1, sizeof *l);

    if (l) {
        copy_config(l, cfg);
        l->changes_tail = &l->changes;
        l->next = LLONG_MAX;
        l->rv = DEFAULT_RV;
        l->qi_ms = DEFAULT_QI_MS;
        l->qri_ms = DEFAULT_QRI_MS;
    }
    return l;
}

static void
group_free(struct lgroup *g)
{
    free(g->members);
    free(g);
}

void
ibb_listen_destroy(struct ibb_listen *l)
{
    struct lgroup *g, *tmp;

    if (!l) {
        return;
    }
    HASH_ITER(hh, l->groups, g, tmp) {
        HASH_DEL(l->groups, g);
        group_free(g);
    }
    free((void *) l->cfg.ranges);
    free(l);
}

static bool
prefix_match(const struct ibb_gid_prefix *p, const uint8_t ip[16])
{
    unsigned int full = p->plen / 8, rest = p->plen % 8;

    return (!memcmp(p->prefix, ip, full)
            && (!rest || !((p->prefix[full] ^ ip[full])
                           & (0xff00 >> rest))));
}

bool
ibb_listen_in_range(const struct ibb_listen_config *cfg,
                    const uint8_t group[16])
{
    if (!ibb_ip_is_multicast(group)) {
        return false;
    }
    if (!cfg->n_ranges) {
        if (ibb_gid_is_v4mapped(group)) {
            /* 224.0.0.0/24: routing protocols, never forwarded. */
            return !(group[12] == 224 && !group[13] && !group[14]);
        }
        return (group[1] & 0x0f) > 2;   /* Wider than link-local scope. */
    }
    for (size_t i = 0; i < cfg->n_ranges; i++) {
        if (prefix_match(&cfg->ranges[i], group)) {
            return true;
        }
    }
    return false;
}

/* Puts 'g' in the list of changes, once. */
static void
note_change(struct ibb_listen *l, struct lgroup *g)
{
    if (!g->changed) {
        g->changed = true;
        g->next_changed = NULL;
        *l->changes_tail = g;
        l->changes_tail = &g->next_changed;
    }
}

static void
set_wanted(struct ibb_listen *l, struct lgroup *g, bool wanted)
{
    if (g->wanted != wanted) {
        g->wanted = wanted;
        if (wanted) {
            l->n_wanted++;
            l->c.groups_added++;
        } else {
            l->n_wanted--;
            l->c.groups_removed++;
        }
        note_change(l, g);
    }
}

/* Lets 'g' go if it has no members and no change to report. */
static void
maybe_free(struct ibb_listen *l, struct lgroup *g)
{
    if (!g->wanted && !g->changed && !g->n_members) {
        HASH_DEL(l->groups, g);
        group_free(g);
    }
}

static void
set_deadline(struct ibb_listen *l, long long int when)
{
    if (when < l->next) {
        l->next = when;
    }
}

static long long int
gmi(const struct ibb_listen *l)
{
    return (long long int) l->rv * l->qi_ms + l->qri_ms;
}

static struct lgroup *
find_group(const struct ibb_listen *l, const uint8_t ip[16])
{
    struct lgroup *g;

    HASH_FIND(hh, l->groups, ip, 16, g);
    return g;
}

static void
member_report(struct ibb_listen *l, const uint8_t ip[16],
              const uint8_t mac[6], long long int now)
{
    struct lgroup *g;
    size_t i;

    if (!ibb_listen_in_range(&l->cfg, ip)) {
        l->c.filtered++;
        return;
    }
    g = find_group(l, ip);
    if (!g) {
        if (l->n_wanted >= l->cfg.max_groups) {
            l->c.full++;
            return;
        }
        g = calloc(1, sizeof *g);
        if (!g) {
            l->c.full++;
            return;
        }
        memcpy(g->ip, ip, 16);
        HASH_ADD(hh, l->groups, ip, 16, g);
        if (!find_group(l, ip)) {
            free(g);            /* uthash could not add it. */
            l->c.full++;
            return;
        }
    }
    for (i = 0; i < g->n_members; i++) {
        if (!memcmp(g->members[i].mac, mac, 6)) {
            break;
        }
    }
    if (i == g->n_members) {
        if (g->n_members >= IBB_LISTEN_MAX_MEMBERS
            || l->n_members >= IBB_LISTEN_MAX_ALL_MEMBERS) {
            l->c.full++;
            return;
        }
        if (g->n_members == g->allocated) {
            size_t n = g->allocated ? 2 * g->allocated : 2;
            struct member *m = realloc(g->members, n * sizeof *m);

            if (!m) {
                l->c.full++;
                maybe_free(l, g);
                return;
            }
            g->members = m;
            g->allocated = n;
        }
        memcpy(g->members[g->n_members++].mac, mac, 6);
        l->n_members++;
    }
    g->members[i].expires = now + gmi(l);
    g->gone_at = LLONG_MAX;
    set_deadline(l, g->members[i].expires);
    set_wanted(l, g, true);
}

/* The time the last member has to answer a group-specific query: RV
 * times the Last Member Query Interval. */
static long long int
lmqt(const struct ibb_listen *l)
{
    return (long long int) l->rv * IBB_LISTEN_LMQI_MS;
}

static void
member_leave(struct ibb_listen *l, const uint8_t ip[16],
             const uint8_t mac[6], long long int now)
{
    struct lgroup *g;

    HASH_FIND(hh, l->groups, ip, 16, g);
    if (!g) {
        return;
    }
    for (size_t i = 0; i < g->n_members; i++) {
        if (!memcmp(g->members[i].mac, mac, 6)) {
            g->members[i] = g->members[--g->n_members];
            l->n_members--;
            break;
        }
    }
    if (!g->n_members && g->wanted && g->gone_at == LLONG_MAX) {
        g->gone_at = now + lmqt(l);
        set_deadline(l, g->gone_at);
    }
}

void
ibb_listen_report(struct ibb_listen *l, struct ibb_igmp_report *r,
                  long long int now)
{
    struct ibb_igmp_record rec;
    unsigned int n_sources;

    l->c.reports++;
    while (ibb_igmp_report_next(r, &rec, &n_sources)) {
        switch (rec.type) {
        case IBB_IGMP_IS_EX:
        case IBB_IGMP_TO_EX:
            member_report(l, rec.group, r->mac, now);
            break;
        case IBB_IGMP_IS_IN:
        case IBB_IGMP_TO_IN:
            if (n_sources) {
                member_report(l, rec.group, r->mac, now);
            } else {
                member_leave(l, rec.group, r->mac, now);
            }
            break;
        case IBB_IGMP_ALLOW:
            if (n_sources) {
                member_report(l, rec.group, r->mac, now);
            }
            break;
        case IBB_IGMP_BLOCK:
        default:
            break;
        }
    }
}

void
ibb_listen_query(struct ibb_listen *l, const struct ibb_igmp_query *q,
                 long long int now)
{
    struct lgroup *g;

    if (q->level == IBB_IGMP_V3) {
        /* RFC 3376 4.1.6, 4.1.7: non-queriers adopt the querier's. */
        if (q->qrv) {
            l->rv = q->qrv;
        }
        if (q->qqi_s) {
            l->qi_ms = q->qqi_s * 1000;
        }
    }
    if (ibb_ip_is_unspecified(q->group)) {
        if (q->max_resp_ms) {
            l->qri_ms = q->max_resp_ms;
        }
        return;
    }
    if (q->n_sources || q->suppress) {
        /* Source timers are not kept; S: a member answered already, the
         * querier's own timers are to be left alone (RFC 3376 6.6.1). */
        return;
    }
    HASH_FIND(hh, l->groups, q->group, 16, g);
    if (g) {
        /* RFC 3376 6.6.1: the group's timer to the Last Member Query
         * Time, the query's own. */
        long long int until = now + (long long int) (q->qrv ? q->qrv
                                                            : l->rv)
                                    * q->max_resp_ms;

        for (size_t i = 0; i < g->n_members; i++) {
            if (g->members[i].expires > until) {
                g->members[i].expires = until;
            }
        }
        set_deadline(l, until);
    }
}

long long int
ibb_listen_run(struct ibb_listen *l, long long int now)
{
    struct lgroup *g, *tmp;
    long long int next = LLONG_MAX;

    if (now < l->next) {
        return l->next;
    }
    HASH_ITER(hh, l->groups, g, tmp) {
        for (size_t i = 0; i < g->n_members; ) {
            if (g->members[i].expires <= now) {
                g->members[i] = g->members[--g->n_members];
                l->n_members--;
                l->c.expired++;
            } else {
                if (g->members[i].expires < next) {
                    next = g->members[i].expires;
                }
                i++;
            }
        }
        if (g->n_members) {
            continue;
        }
        if (g->gone_at == LLONG_MAX) {
            g->gone_at = now;   /* The last membership timed out. */
        }
        if (g->gone_at <= now) {
            set_wanted(l, g, false);
            maybe_free(l, g);
        } else if (g->gone_at < next) {
            next = g->gone_at;
        }
    }
    l->next = next;
    return next;
}

long long int
ibb_listen_next(const struct ibb_listen *l)
{
    return l->next;
}

void
ibb_listen_configure(struct ibb_listen *l,
                     const struct ibb_listen_config *cfg)
{
    struct lgroup *g, *tmp;

    copy_config(l, cfg);
    HASH_ITER(hh, l->groups, g, tmp) {
        if (!ibb_listen_in_range(&l->cfg, g->ip)) {
            l->n_members -= g->n_members;
            g->n_members = 0;
            set_wanted(l, g, false);
            maybe_free(l, g);
        }
    }
}

bool
ibb_listen_take_change(struct ibb_listen *l, uint8_t group[16],
                       bool *wanted)
{
    struct lgroup *g = l->changes;

    if (!g) {
        return false;
    }
    l->changes = g->next_changed;
    if (!l->changes) {
        l->changes_tail = &l->changes;
    }
    g->changed = false;
    memcpy(group, g->ip, 16);
    *wanted = g->wanted;
    maybe_free(l, g);
    return true;
}

bool
ibb_listen_has_changes(const struct ibb_listen *l)
{
    return l->changes != NULL;
}

bool
ibb_listen_wants(const struct ibb_listen *l, const uint8_t group[16])
{
    struct lgroup *g;

    HASH_FIND(hh, l->groups, group, 16, g);
    return g && g->wanted;
}

size_t
ibb_listen_n_groups(const struct ibb_listen *l)
{
    return l->n_wanted;
}

void
ibb_listen_foreach(const struct ibb_listen *l, ibb_listen_visit_cb *cb,
                   void *aux)
{
    const struct lgroup *g, *tmp;

    HASH_ITER(hh, l->groups, g, tmp) {
        if (g->wanted) {
            long long int expires = g->n_members ? 0 : g->gone_at;

            for (size_t i = 0; i < g->n_members; i++) {
                if (g->members[i].expires > expires) {
                    expires = g->members[i].expires;
                }
            }
            cb(g->ip, g->n_members, expires, aux);
        }
    }
}

const struct ibb_listen_counters *
ibb_listen_counters(const struct ibb_listen *l)
{
    return &l->c;
}
