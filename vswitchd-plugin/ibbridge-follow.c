/*
 * Membership that follows a side (options:mcast-follow), within
 * mcast-follow-groups; the port joins on IB, as a full member:
 *
 * - "ethernet": the groups RoCE hosts report with IGMP/MLD, each left when
 *   its last listener is gone.  The listener's protocol and timers are in
 *   lib/ibb-mcast-listen.c; the send path hands it reports and queries.
 * - "ib": the groups IB hosts create or join, from the SA (lib/ibport.h
 *   ibb_port_mcg_*()): the created/deleted notices (traps 66, 67) join and
 *   leave at once, and a list of the SA's groups every
 *   IBBRIDGE_FOLLOW_LIST_MS (and after a reconnect) keeps the groups that
 *   have members besides the port and leaves the others (the SA deletes
 *   no group the port is a member of, so its notice alone cannot say that
 *   IB hosts left).
 *
 * Joins and leaves go through ibbridge-mcast.c like those of
 * mcast-groups; the main loop applies each side's changes in one pass.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "netdev-ibbridge-private.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "seq.h"
#include "timeval.h"
#include "util.h"

#include "hash.h"
#include "ib-gid.h"
#include "ibb-igmp.h"
#include "ibb-mcast-listen.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_follow);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* How often the SA's groups are listed under mcast-follow=ib. */
#define IBBRIDGE_FOLLOW_LIST_MS 10000

/* An MGID, in a set. */
struct mgid_node {
    struct hmap_node node;
    uint8_t mgid[16];
};

struct ibbridge_follow {
    struct ibb_listen *listen;          /* Ethernet side, NULL if not
                                         * followed. */
    struct ibb_gid_prefix *ranges;      /* mcast-follow-groups as the */
    size_t n_ranges;                    /* listener has them. */
    uint64_t open_seq;                  /* dev->open_seq when the groups
                                         * were last joined. */
    uint64_t wake_seq;                  /* dev->neigh_seq when run()
                                         * last looked. */
    struct ibb_listen_counters seen;    /* The listener's, as counted. */

    /* mcast-follow=ib. */
    bool ib;                            /* Subscribed, listing. */
    uint64_t ib_open_seq;               /* dev->open_seq then. */
    long long int next_list;            /* When to list the SA's groups. */
    bool listing;                       /* A list is under way, */
    long long int list_deadline;        /* given up on at this time. */
    struct hmap listed;                 /* MGIDs of struct mgid_node that
                                         * the list has with others. */
};

static void
listen_config(const struct ibbridge_config *cfg, struct ibb_listen_config *lc)
{
    memset(lc, 0, sizeof *lc);
    lc->ranges = cfg->follow_ranges;
    lc->n_ranges = cfg->n_follow_ranges;
}

static bool
ranges_differ(const struct ibbridge_follow *fl,
              const struct ibbridge_config *cfg)
{
    return (fl->n_ranges != cfg->n_follow_ranges
            || (fl->n_ranges && memcmp(fl->ranges, cfg->follow_ranges,
                                       fl->n_ranges * sizeof *fl->ranges)));
}

static void
take_ranges(struct ibbridge_follow *fl, const struct ibbridge_config *cfg)
{
    free(fl->ranges);
    fl->ranges = (cfg->n_follow_ranges
                  ? xmemdup(cfg->follow_ranges,
                            cfg->n_follow_ranges * sizeof *fl->ranges)
                  : NULL);
    fl->n_ranges = cfg->n_follow_ranges;
}

static void
stop_listening(struct netdev_ibbridge *dev, struct ibbridge_follow *fl)
    OVS_REQUIRES(dev->mutex)
{
    if (fl->listen) {
        ibb_listen_destroy(fl->listen);
        fl->listen = NULL;
        memset(&fl->seen, 0, sizeof fl->seen);
        ibbridge_mcast_unfollow(dev, IBBRIDGE_GROUP_ETHERNET);
    }
}

static void
clear_listed(struct hmap *listed)
{
    struct mgid_node *m;

    HMAP_FOR_EACH_POP (m, node, listed) {
        free(m);
    }
}

/* Stops following IB hosts' groups and leaves those it joined. */
static void
stop_ib(struct netdev_ibbridge *dev, struct ibbridge_follow *fl)
    OVS_REQUIRES(dev->mutex)
{
    if (fl->ib) {
        if (dev->port && fl->ib_open_seq == dev->open_seq) {
            ibb_port_mcg_subscribe(dev->port, false);
        }
        fl->ib = false;
        fl->listing = false;
        clear_listed(&fl->listed);
        ibbridge_mcast_unfollow(dev, IBBRIDGE_GROUP_IB);
    }
}

void
ibbridge_follow_destroy(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_follow *fl = dev->follow;

    if (fl) {
        clear_listed(&fl->listed);
        hmap_destroy(&fl->listed);
        ibb_listen_destroy(fl->listen);
        free(fl->ranges);
        free(fl);
        dev->follow = NULL;
    }
}

/* Follows the options: creates, reconfigures or drops what follows.
 * Returns dev->follow. */
static struct ibbridge_follow *
follow_update(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibbridge_config *cfg = &dev->cfg;
    struct ibbridge_follow *fl = dev->follow;
    struct ibb_listen_config lc;

    if (!dev->configured || (!cfg->follow_ethernet && !cfg->follow_ib)) {
        if (fl) {
            stop_listening(dev, fl);
            stop_ib(dev, fl);
            ibbridge_follow_destroy(dev);
        }
        return NULL;
    }
    if (!fl) {
        fl = dev->follow = xzalloc(sizeof *fl);
        fl->open_seq = dev->open_seq;
        hmap_init(&fl->listed);
    }
    if (!cfg->follow_ib) {
        stop_ib(dev, fl);
    }
    listen_config(cfg, &lc);
    if (!cfg->follow_ethernet) {
        stop_listening(dev, fl);
    } else if (!fl->listen) {
        fl->listen = ibb_listen_create(&lc);
        if (!fl->listen) {
            VLOG_WARN("%s: out of memory for mcast-follow",
                      netdev_get_name(&dev->up));
            return fl;
        }
        take_ranges(fl, cfg);
    } else if (ranges_differ(fl, cfg)) {
        ibb_listen_configure(fl->listen, &lc);
        take_ranges(fl, cfg);
    }
    return fl;
}

/* The IP group of IB group 'mgid', if the port may follow it. */
static bool
ib_group_wanted(struct netdev_ibbridge *dev, const uint8_t mgid[16],
                uint8_t ip[16])
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_listen_config lc;

    listen_config(&dev->cfg, &lc);
    if (!ibbridge_mcast_mgid_ip(dev, mgid, ip)
        || !ibb_listen_in_range(&lc, ip)) {
        dev->cstats.follow_filtered++;
        return false;
    }
    return true;
}

/* Adds what the listener's counters gained to the port's. */
static void
count_listener(struct netdev_ibbridge *dev, struct ibbridge_follow *fl)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_listen_counters *c = ibb_listen_counters(fl->listen);

    dev->cstats.follow_filtered += c->filtered - fl->seen.filtered;
    dev->cstats.follow_refused += c->full - fl->seen.full;
    fl->seen = *c;
}

/* What a run gathers: changes to apply in one pass. */
struct gather {
    struct ibbridge_follow_change *changes;
    size_t n, allocated;
};

static void
gather_change(struct gather *g, const uint8_t ip[16], bool want)
{
    struct ibbridge_follow_change *c;

    if (g->n >= g->allocated) {
        g->changes = x2nrealloc(g->changes, &g->allocated,
                                sizeof *g->changes);
    }
    c = &g->changes[g->n++];
    memset(c, 0, sizeof *c);
    memcpy(c->ip, ip, 16);
    c->want = want;
}

static void
gather_ib(struct gather *g, const uint8_t ip[16], const uint8_t mgid[16],
          bool want)
{
    gather_change(g, ip, want);
    memcpy(g->changes[g->n - 1].mgid, mgid, 16);
}

static bool
listed_has(const struct hmap *listed, const uint8_t mgid[16])
{
    const struct mgid_node *m;

    HMAP_FOR_EACH_WITH_HASH (m, node, hash_bytes(mgid, 16, 0), listed) {
        if (!memcmp(m->mgid, mgid, 16)) {
            return true;
        }
    }
    return false;
}

static void
listed_add(struct hmap *listed, const uint8_t mgid[16])
{
    if (!listed_has(listed, mgid)) {
        struct mgid_node *m = xmalloc(sizeof *m);

        memcpy(m->mgid, mgid, 16);
        hmap_insert(listed, &m->node, hash_bytes(m->mgid, 16, 0));
    }
}

/* A list of the SA's groups ended: the groups it has with members besides
 * the port are wanted, the port's other IB-followed groups are not. */
static void
ib_list_done(struct netdev_ibbridge *dev, struct ibbridge_follow *fl,
             struct gather *g)
    OVS_REQUIRES(dev->mutex)
{
    struct mgid_node *m;
    uint8_t ip[16];

    HMAP_FOR_EACH (m, node, &fl->listed) {
        if (ib_group_wanted(dev, m->mgid, ip)) {
            gather_ib(g, ip, m->mgid, true);
        }
    }
    for (size_t i = 0; i < dev->n_groups; i++) {
        const struct ibbridge_group *grp = &dev->groups[i];

        if (grp->source == IBBRIDGE_GROUP_IB
            && !listed_has(&fl->listed, grp->mgid)) {
            gather_ib(g, grp->spec.ip, grp->mgid, false);
        }
    }
    clear_listed(&fl->listed);
}

/* Follows IB hosts' groups: subscribes and lists on a port opened anew,
 * lists again when due, and takes the SA's events into 'g'. */
static void
ib_run(struct netdev_ibbridge *dev, struct ibbridge_follow *fl,
       struct gather *g)
    OVS_REQUIRES(dev->mutex)
{
    long long int now = time_msec();
    struct ibb_mcg_event ev;
    uint8_t ip[16];

    if (!fl->ib || fl->ib_open_seq != dev->open_seq) {
        fl->ib = true;
        fl->ib_open_seq = dev->open_seq;
        fl->listing = false;
        clear_listed(&fl->listed);
        if (ibb_port_mcg_subscribe(dev->port, true)) {
            VLOG_WARN_RL(&rl, "%s: mcast-follow=ib: %s",
                         netdev_get_name(&dev->up),
                         ibb_port_error(dev->port));
        }
        fl->next_list = now;
    }
    if (fl->listing && now >= fl->list_deadline) {
        /* Its end was lost (the port's event queue overflowed): the list
         * says nothing reliable. */
        VLOG_WARN_RL(&rl, "%s: mcast-follow=ib: no end to the list of the "
                     "SA's groups; listing again", netdev_get_name(&dev->up));
        fl->listing = false;
        clear_listed(&fl->listed);
    }
    if (!fl->listing && now >= fl->next_list) {
        if (!ibb_port_mcg_list(dev->port)) {
            fl->listing = true;
            fl->list_deadline = now + IBBRIDGE_FOLLOW_LIST_MS * 3;
        }
        fl->next_list = now + IBBRIDGE_FOLLOW_LIST_MS;
    }
    while (ibb_port_mcg_take_event(dev->port, &ev)) {
        switch (ev.type) {
        case IBB_MCG_CREATED:
            if (ib_group_wanted(dev, ev.rec.mgid, ip)) {
                gather_ib(g, ip, ev.rec.mgid, true);
                if (fl->listing) {
                    /* The list under way may predate it. */
                    listed_add(&fl->listed, ev.rec.mgid);
                }
            }
            break;
        case IBB_MCG_DELETED:
            if (ibbridge_mcast_mgid_ip(dev, ev.rec.mgid, ip)) {
                gather_ib(g, ip, ev.rec.mgid, false);
            }
            break;
        case IBB_MCG_LISTED:
            if (fl->listing && (ev.rec.n_full_others
                                || ev.rec.n_send_only_others)) {
                listed_add(&fl->listed, ev.rec.mgid);
            }
            break;
        case IBB_MCG_LIST_DONE:
            if (fl->listing && !ev.error) {
                ib_list_done(dev, fl, g);
            } else if (ev.error) {
                VLOG_WARN_RL(&rl, "%s: mcast-follow=ib: listing the SA's "
                             "groups failed (%s)", netdev_get_name(&dev->up),
                             ovs_strerror(ev.error));
                clear_listed(&fl->listed);
            }
            fl->listing = false;
            break;
        case IBB_MCG_RESUBSCRIBED:
            /* Notices were missed meanwhile. */
            fl->next_list = now;
            break;
        case IBB_MCG_SUBSCRIBE_FAILED:
        default:
            VLOG_WARN_RL(&rl, "%s: mcast-follow=ib: the SA refused the "
                         "subscription to its group notices (%s); listing "
                         "every %d s only", netdev_get_name(&dev->up),
                         ovs_strerror(ev.error),
                         IBBRIDGE_FOLLOW_LIST_MS / 1000);
            break;
        }
    }
}

static void
gather_wanted(const uint8_t group[16], size_t n_members OVS_UNUSED,
              long long int expires OVS_UNUSED, void *g)
{
    gather_change(g, group, true);
}

void
ibbridge_follow_run(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_follow *fl = follow_update(dev);
    struct gather g = { NULL, 0, 0 };
    uint8_t group[16];
    bool want;

    if (!fl) {
        return;
    }
    fl->wake_seq = seq_read(dev->neigh_seq);
    if (!dev->port) {
        return;
    }
    if (dev->cfg.follow_ib) {
        ib_run(dev, fl, &g);
        if (g.n) {
            ibbridge_mcast_follow(dev, IBBRIDGE_GROUP_IB, g.changes, g.n);
            g.n = 0;
        }
    }
    if (!fl->listen) {
        free(g.changes);
        return;
    }
    if (fl->open_seq != dev->open_seq) {
        /* The port was opened anew with the groups of mcast-groups only:
         * join the followed ones again. */
        fl->open_seq = dev->open_seq;
        ibb_listen_foreach(fl->listen, gather_wanted, &g);
    }
    ibb_listen_run(fl->listen, time_msec());
    while (ibb_listen_take_change(fl->listen, group, &want)) {
        gather_change(&g, group, want);
    }
    count_listener(dev, fl);
    if (g.n) {
        ibbridge_mcast_follow(dev, IBBRIDGE_GROUP_ETHERNET, g.changes, g.n);
    }
    free(g.changes);
}

void
ibbridge_follow_wait(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_follow *fl = dev->follow;

    if (!fl) {
        if (dev->configured
            && (dev->cfg.follow_ethernet || dev->cfg.follow_ib)) {
            poll_immediate_wake();      /* To create it. */
        }
        return;
    }
    if (!dev->cfg.follow_ethernet && fl->listen) {
        poll_immediate_wake();          /* To stop listening. */
        return;
    }
    /* The rest needs a port; without one, run() waits for it. */
    if (dev->port
        && (dev->cfg.follow_ib != fl->ib
            || (fl->listen && fl->open_seq != dev->open_seq)
            || (fl->ib && fl->ib_open_seq != dev->open_seq)
            || (fl->listen && ibb_listen_has_changes(fl->listen)))) {
        poll_immediate_wake();
        return;
    }
    if (fl->ib && dev->port) {
        poll_timer_wait_until(fl->listing ? fl->list_deadline
                                          : fl->next_list);
    }
    /* SA events wake the loop through ibb_port_next_wakeup(). */
    if (fl->listen && ibb_listen_next(fl->listen) != LLONG_MAX) {
        poll_timer_wait_until(ibb_listen_next(fl->listen));
    }
    /* Reports taken by another thread's send(). */
    seq_wait(dev->neigh_seq, fl->wake_seq);
}

bool
ibbridge_follow_report(struct netdev_ibbridge *dev,
                       const struct dp_packet *pkt)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_follow *fl = dev->follow;
    struct ibb_igmp_report r;
    long long int next;

    if (!fl || !fl->listen
        || ibb_igmp_parse_report(dp_packet_data(pkt), dp_packet_size(pkt),
                                 &r) != IBB_IGMP_MEMBERSHIP
        || !memcmp(r.mac, dev->cfg.mac.ea, ETH_ADDR_LEN)) {
        return false;
    }
    dev->cstats.igmp_reports_heard++;
    next = ibb_listen_next(fl->listen);
    ibb_listen_report(fl->listen, &r, time_msec());
    count_listener(dev, fl);
    if (ibb_listen_has_changes(fl->listen)
        || ibb_listen_next(fl->listen) < next) {
        /* A change, or an earlier deadline (a leave): wake run(). */
        seq_change(dev->neigh_seq);
    }
    return true;
}

void
ibbridge_follow_query(struct netdev_ibbridge *dev,
                      const struct ibb_igmp_query *q)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_follow *fl = dev->follow;

    if (fl && fl->listen) {
        long long int next = ibb_listen_next(fl->listen);

        ibb_listen_query(fl->listen, q, time_msec());
        if (ibb_listen_next(fl->listen) < next) {
            seq_change(dev->neigh_seq);     /* An earlier deadline. */
        }
    }
}

void
ibbridge_follow_status(const struct netdev_ibbridge *dev, struct smap *smap)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibbridge_follow *fl = dev->follow;

    if (fl && fl->listen) {
        smap_add_format(smap, "mcast_follow_ethernet", "%zu groups",
                        ibb_listen_n_groups(fl->listen));
    }
    if (fl && fl->ib) {
        size_t n = 0;

        for (size_t i = 0; i < dev->n_groups; i++) {
            n += dev->groups[i].source == IBBRIDGE_GROUP_IB;
        }
        smap_add_format(smap, "mcast_follow_ib", "%zu groups", n);
    }
}
