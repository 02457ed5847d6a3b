/*
 * Membership that follows a side (options:mcast-follow): the port joins
 * on IB, as a full member, the groups RoCE hosts report with IGMP/MLD
 * ("ethernet"), and leaves each when its last listener is gone, within
 * mcast-follow-groups.  The listener's protocol and timers are in
 * lib/ibb-mcast-listen.c; joins and leaves go through ibbridge-mcast.c
 * like those of mcast-groups.  This file wires them to the netdev: the
 * send path hands it reports and queries, the main loop applies the
 * changes.
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

#include "ib-gid.h"
#include "ibb-igmp.h"
#include "ibb-mcast-listen.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_follow);

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

void
ibbridge_follow_destroy(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_follow *fl = dev->follow;

    if (fl) {
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

    if (!dev->configured || !cfg->follow_ethernet) {
        if (fl) {
            stop_listening(dev, fl);
            ibbridge_follow_destroy(dev);
        }
        return NULL;
    }
    if (!fl) {
        fl = dev->follow = xzalloc(sizeof *fl);
        fl->open_seq = dev->open_seq;
    }
    listen_config(cfg, &lc);
    if (!fl->listen) {
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

/* What rejoin_wanted() gathers. */
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
    if (!fl->listen || !dev->port) {
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
        if (dev->configured && dev->cfg.follow_ethernet) {
            poll_immediate_wake();      /* To create it. */
        }
        return;
    }
    if (!dev->cfg.follow_ethernet || fl->open_seq != dev->open_seq
        || (fl->listen && ibb_listen_has_changes(fl->listen))) {
        poll_immediate_wake();
        return;
    }
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

    if (!fl || !fl->listen
        || ibb_igmp_parse_report(dp_packet_data(pkt), dp_packet_size(pkt),
                                 &r) != IBB_IGMP_MEMBERSHIP
        || !memcmp(r.mac, dev->cfg.mac.ea, ETH_ADDR_LEN)) {
        return false;
    }
    dev->cstats.igmp_reports_heard++;
    ibb_listen_report(fl->listen, &r, time_msec());
    count_listener(dev, fl);
    if (ibb_listen_has_changes(fl->listen)) {
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
}
