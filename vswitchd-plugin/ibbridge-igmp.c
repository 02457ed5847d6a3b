/*
 * IGMP and MLD on the Ethernet side of an ibbridge port: the port is a
 * member host of every group it bridges from IB (the full-member groups
 * of "mcast-groups" once joined, and the map's groups), so that snooping
 * switches, and OVS's own mcast_snooping, forward those groups' RoCE
 * traffic to it.  Reports and leaves leave through the port like the
 * frames it receives from IB (OpenFlow decides where they go); queries
 * arrive on its send path, where OpenFlow put them.  The protocol and its
 * timers are in lib/ (ibb-igmp, ibb-igmp-host); this file wires them to
 * the netdev.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "netdev-ibbridge-private.h"
#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "seq.h"
#include "timeval.h"
#include "util.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-igmp.h"
#include "ibb-igmp-host.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_igmp);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The most reports waiting for the port's receive path (IGMPv2 and MLDv1
 * send one per group). */
#define IBBRIDGE_IGMP_QUEUE_MAX 16384

struct ibbridge_igmp {
    struct ibb_igmp_host *host;         /* Groups and timers. */
    uint64_t change_seq;                /* The netdev's, when the groups
                                         * were last taken. */
    uint64_t wake_seq;                  /* dev->neigh_seq, when run() last
                                         * looked: a query changes it. */
    struct dp_packet **queue;           /* Frames for the port to receive: */
    size_t head, n, allocated;          /* queue[head] to queue[n - 1]. */
    int levels[2];                      /* IGMP and MLD versions in force
                                         * that the status shows. */
};

/* A group of "mcast-groups" that is not reported although the map has
 * it: a send-only one, or one not joined yet. */
struct skip_group {
    struct hmap_node node;              /* In a set, by hash of 'ip'. */
    uint8_t ip[16];                     /* The group. */
};

static void
host_config(const struct netdev_ibbridge *dev,
            struct ibb_igmp_host_config *hc)
    OVS_REQUIRES(dev->mutex)
{
    memset(hc, 0, sizeof *hc);
    hc->igmp_level = dev->cfg.igmp_version;
    hc->mld_level = dev->cfg.mld_version + 1;
    memcpy(hc->src.mac, dev->cfg.mac.ea, 6);
    memcpy(hc->src.ipv4, dev->cfg.igmp_source, 4);
    memcpy(hc->src.ipv6, dev->cfg.mld_source, 16);
}

/* What want_map_group() needs. */
struct want_ctx {
    struct netdev_ibbridge *dev;        /* The port. */
    const struct hmap *skip;            /* Of struct skip_group. */
    long long int now;                  /* The time of the update. */
};

static bool
skipped(const struct hmap *skip, const uint8_t ip[16])
{
    const struct skip_group *s;

    HMAP_FOR_EACH_WITH_HASH (s, node, hash_bytes(ip, 16, 0), skip) {
        if (!memcmp(s->ip, ip, 16)) {
            return true;
        }
    }
    return false;
}

static void
want_map_group(const struct ibb_group *g,
               const struct ibb_group_stats *stats OVS_UNUSED, void *ctx_)
{
    struct want_ctx *ctx = ctx_;

    /* A standby group is another bridge node's to report. */
    if (!g->standby && !skipped(ctx->skip, g->ip)) {
        ibb_igmp_host_want(ctx->dev->igmp->host, g->ip, ctx->now);
    }
}

/* Takes the groups the port bridges from IB now: the joined full-member
 * groups of "mcast-groups" and the map's (which has those too). */
static void
sync_groups(struct netdev_ibbridge *dev, long long int now)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_igmp_host *host = dev->igmp->host;
    struct want_ctx ctx = { dev, NULL, now };
    struct skip_group *s;
    struct hmap skip;

    hmap_init(&skip);
    ibb_igmp_host_begin_update(host);
    if (dev->cfg.igmp) {
        for (size_t i = 0; i < dev->n_groups; i++) {
            const struct ibbridge_group *g = &dev->groups[i];

            /* Groups RoCE hosts asked for are theirs to report. */
            if (g->spec.send_only || !g->mlid
                || g->source == IBBRIDGE_GROUP_ETHERNET) {
                s = xmalloc(sizeof *s);
                memcpy(s->ip, g->spec.ip, 16);
                hmap_insert(&skip, &s->node, hash_bytes(s->ip, 16, 0));
            } else {
                ibb_igmp_host_want(host, g->spec.ip, now);
            }
        }
        ctx.skip = &skip;
        ibb_addr_map_foreach_group(dev->map, want_map_group, &ctx);
    }
    ibb_igmp_host_end_update(host, now);
    HMAP_FOR_EACH_POP (s, node, &skip) {
        free(s);
    }
    hmap_destroy(&skip);
}

/* Creates the host if IGMP is on, and follows the options and groups when
 * the port changed.  Returns the host, or NULL. */
static struct ibbridge_igmp *
igmp_update(struct netdev_ibbridge *dev, long long int now)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_igmp *ig = dev->igmp;
    uint64_t seq = netdev_get_change_seq(&dev->up);
    struct ibb_igmp_host_config hc;

    if (!dev->configured) {
        return NULL;
    }
    if (!ig) {
        if (!dev->cfg.igmp) {
            return NULL;
        }
        host_config(dev, &hc);
        ig = xzalloc(sizeof *ig);
        ig->host = ibb_igmp_host_create(&hc, random_uint32());
        if (!ig->host) {
            free(ig);
            return NULL;
        }
        ig->change_seq = seq - 1;
        dev->igmp = ig;
    }
    if (seq != ig->change_seq) {
        ig->change_seq = seq;
        host_config(dev, &hc);
        ibb_igmp_host_configure(ig->host, &hc);
        sync_groups(dev, now);
        for (int i = 0; i < 2; i++) {
            ig->levels[i] = ibb_igmp_host_level(ig->host, i, now);
        }
    }
    return ig;
}

/* Notes the versions in force; when one changed (a query from an older
 * querier, or its timeout), the status is refreshed. */
static void
check_levels(struct netdev_ibbridge *dev, long long int now)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_igmp *ig = dev->igmp;
    bool changed = false;

    for (int i = 0; i < 2; i++) {
        int level = ibb_igmp_host_level(ig->host, i, now);

        if (level != ig->levels[i]) {
            ig->levels[i] = level;
            changed = true;
        }
    }
    if (changed) {
        netdev_change_seq_changed(&dev->up);
        ig->change_seq = netdev_get_change_seq(&dev->up);
    }
}

static void
queue_frame(const uint8_t *frame, size_t len, enum ibb_igmp_sent what,
            void *dev_)
{
    struct netdev_ibbridge *dev = dev_;
    struct ibbridge_igmp *ig = dev->igmp;

    if (ig->n - ig->head >= IBBRIDGE_IGMP_QUEUE_MAX) {
        dev->cstats.igmp_overflow++;
        VLOG_WARN_RL(&rl, "%s: %d IGMP/MLD reports waiting for the "
                     "datapath: dropped one", netdev_get_name(&dev->up),
                     IBBRIDGE_IGMP_QUEUE_MAX);
        return;
    }
    if (ig->n >= ig->allocated) {
        if (ig->head) {
            memmove(ig->queue, ig->queue + ig->head,
                    (ig->n - ig->head) * sizeof *ig->queue);
            ig->n -= ig->head;
            ig->head = 0;
        }
        if (ig->n >= ig->allocated) {
            ig->queue = x2nrealloc(ig->queue, &ig->allocated,
                                   sizeof *ig->queue);
        }
    }
    ig->queue[ig->n++] = dp_packet_clone_data(frame, len);
    switch (what) {
    case IBB_IGMP_SENT_REPORT:
        dev->cstats.igmp_reports++;
        break;
    case IBB_IGMP_SENT_ANSWER:
        dev->cstats.igmp_answers++;
        break;
    case IBB_IGMP_SENT_LEAVE:
    default:
        dev->cstats.igmp_leaves++;
        break;
    }
}

void
ibbridge_igmp_run(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    long long int now = time_msec();
    struct ibbridge_igmp *ig = igmp_update(dev, now);
    size_t queued;

    if (!ig) {
        return;
    }
    ig->wake_seq = seq_read(dev->neigh_seq);
    if (now < ibb_igmp_host_next(ig->host)) {
        return;
    }
    queued = ig->n;
    ibb_igmp_host_run(ig->host, now, queue_frame, dev);
    check_levels(dev, now);
    if (ig->n != queued) {
        seq_change(dev->neigh_seq);
        ig->wake_seq = seq_read(dev->neigh_seq);
    }
}

void
ibbridge_igmp_wait(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_igmp *ig = dev->igmp;

    if (!ig) {
        if (dev->configured && dev->cfg.igmp) {
            poll_immediate_wake();      /* To create it. */
        }
        return;
    }
    if (netdev_get_change_seq(&dev->up) != ig->change_seq) {
        poll_immediate_wake();
    } else if (ibb_igmp_host_next(ig->host) != LLONG_MAX) {
        poll_timer_wait_until(ibb_igmp_host_next(ig->host));
    }
    /* A query taken by another thread's send() may need an earlier
     * answer. */
    seq_wait(dev->neigh_seq, ig->wake_seq);
}

bool
ibbridge_igmp_input(struct netdev_ibbridge *dev, const struct dp_packet *pkt)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_igmp_query q;
    struct ibbridge_igmp *ig;
    long long int now;

    if (!dev->cfg.igmp && !dev->cfg.follow_ethernet) {
        return false;
    }
    switch (ibb_igmp_parse(dp_packet_data(pkt), dp_packet_size(pkt), &q)) {
    case IBB_IGMP_NOT_IGMP:
        return false;
    case IBB_IGMP_MALFORMED:
        dev->cstats.tx_igmp_malformed++;
        dev->stats.tx_dropped++;
        return true;
    case IBB_IGMP_OTHER:
    case IBB_IGMP_MEMBERSHIP:
        /* Another host's report or leave: followed, or not ours. */
        if (!ibbridge_follow_report(dev, pkt)) {
            dev->cstats.tx_igmp_not_ours++;
            dev->stats.tx_dropped++;
        }
        return true;
    case IBB_IGMP_QUERY:
    default:
        break;
    }
    ibbridge_follow_query(dev, &q);
    if (!dev->cfg.igmp) {
        dev->cstats.tx_igmp_not_ours++;
        dev->stats.tx_dropped++;
        return true;
    }
    now = time_msec();
    ig = igmp_update(dev, now);
    if (ig && ibb_igmp_host_query(ig->host, &q, now)) {
        dev->cstats.igmp_queries_answered++;
        seq_change(dev->neigh_seq);
    } else {
        dev->cstats.tx_igmp_not_ours++;
        dev->stats.tx_dropped++;
    }
    if (ig) {
        check_levels(dev, now);     /* An older querier. */
    }
    return true;
}

bool
ibbridge_igmp_drain(struct netdev_ibbridge *dev,
                    struct dp_packet_batch *batch)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_igmp *ig = dev->igmp;

    if (!ig) {
        return false;
    }
    while (ig->head < ig->n && !dp_packet_batch_is_full(batch)) {
        struct dp_packet *packet = ig->queue[ig->head++];

        dev->stats.rx_packets++;
        dev->stats.rx_bytes += dp_packet_size(packet);
        dp_packet_batch_add(batch, packet);
    }
    if (ig->head == ig->n) {
        ig->head = ig->n = 0;
    }
    return ig->n != 0;
}

bool
ibbridge_igmp_pending(const struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    return dev->igmp && dev->igmp->head < dev->igmp->n;
}

void
ibbridge_igmp_status(struct netdev_ibbridge *dev, struct smap *smap)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_igmp *ig = igmp_update(dev, time_msec());

    if (!dev->cfg.igmp || !ig) {
        return;
    }
    smap_add_format(smap, "igmp_groups", "%zu",
                    ibb_igmp_host_n_groups(ig->host));
    smap_add_format(smap, "igmp_version", "%d", ig->levels[0]);
    smap_add_format(smap, "mld_version", "%d", ig->levels[1] - 1);
}

void
ibbridge_igmp_destroy(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_igmp *ig = dev->igmp;

    if (ig) {
        for (size_t i = ig->head; i < ig->n; i++) {
            dp_packet_delete(ig->queue[i]);
        }
        free(ig->queue);
        ibb_igmp_host_destroy(ig->host);
        free(ig);
        dev->igmp = NULL;
    }
}
