/*
 * The "ibbridge" netdev class: wraps an InfiniBand port (a simulated fabric
 * or an HCA through rdma-core) as an Open vSwitch port of the userspace
 * datapath.  Modelled on lib/netdev-dummy.c: this file is glue between
 * OVS's netdev provider interface and lib/, which holds everything that
 * knows about IB.
 *
 * Receive: IB packets from the port become RoCEv2 frames (lib/ud-to-roce.h)
 * for the datapath.  Send: RoCEv2 frames from the datapath become IB
 * packets (lib/roce-to-ud.h) for the port.  Both convert in place, in the
 * dp_packet's own buffer.  Every packet refused on the way is counted under
 * its reason (custom stats "rx_<reason>" and "tx_<reason>").  The IB port
 * itself (opening, loss, reattaching, events) is ibbridge-port.c's job, the
 * ibbridge/ ovs-appctl commands ibbridge-unixctl.c's.
 */
#include <config.h>
#include "netdev-ibbridge.h"
#include "ibbridge-cluster.h"
#include "netdev-ibbridge-private.h"
#include "ibbridge-db.h"

#include <errno.h>
#include <limits.h>

#include "dp-packet.h"
#include "netdev-provider.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "seq.h"
#include "smap.h"
#include "timeval.h"
#include "util.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-conv.h"
#include "ibb-drop.h"
#include "ibb-options.h"
#include "ibb-file-stamp.h"
#include "ibb-flow-cache.h"
#include "ibb-kneigh.h"
#include "ibb-neigh.h"
#include "ibb-proxy.h"
#include "ibb-version.h"
#include "ibport.h"
#include "roce-to-ud.h"
#include "ud-to-roce.h"

VLOG_DEFINE_THIS_MODULE(netdev_ibbridge);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Largest native IB packet: LRH, GRH, BTH, DETH, ImmDt, a 4096-byte
 * payload, ICRC and VCRC. */
#define IBBRIDGE_MAX_IB_PKT (8 + 40 + 12 + 8 + 4 + 4096 + 4 + 2)

/* What a RoCEv2 frame adds to an IB payload on the IP side (IPv6 header,
 * UDP, BTH, DETH, ImmDt, ICRC): the MTU the Ethernet side needs. */
#define IBBRIDGE_IP_OVERHEAD (40 + 8 + 12 + 8 + 4 + 4)

/* The mtu_request values taken: IPv6's minimum to a 9216-byte jumbo. */
#define IBBRIDGE_MIN_ETH_MTU 1280
#define IBBRIDGE_MAX_ETH_MTU 9216

struct netdev_rxq_ibbridge {
    struct netdev_rxq up;

    /* Empty packets for the next receive, kept from one call to the next:
     * a slot is refilled only once its packet went into a batch or was
     * dropped, so that a poll that finds little or nothing allocates and
     * frees nothing.  Only the thread that polls the queue touches it. */
    struct dp_packet *spare[NETDEV_MAX_BURST];
};

/* Every ibbridge netdev, for ibbridge/show and for reconnecting. */
struct ovs_mutex ibbridge_list_mutex = OVS_MUTEX_INITIALIZER;
struct ovs_list ibbridge_list OVS_GUARDED_BY(ibbridge_list_mutex)
    = OVS_LIST_INITIALIZER(&ibbridge_list);

static int netdev_ibbridge_construct(struct netdev *);

static bool
is_netdev_ibbridge_class(const struct netdev_class *class)
{
    return class->construct == netdev_ibbridge_construct;
}

static struct netdev_ibbridge *
netdev_ibbridge_cast(const struct netdev *netdev)
{
    ovs_assert(is_netdev_ibbridge_class(netdev_get_class(netdev)));
    return CONTAINER_OF(netdev, struct netdev_ibbridge, up);
}

static struct netdev_rxq_ibbridge *
netdev_rxq_ibbridge_cast(const struct netdev_rxq *rx)
{
    ovs_assert(is_netdev_ibbridge_class(netdev_get_class(rx->netdev)));
    return CONTAINER_OF(rx, struct netdev_rxq_ibbridge, up);
}

static struct netdev *
netdev_ibbridge_alloc(void)
{
    struct netdev_ibbridge *dev = xzalloc(sizeof *dev);
    return &dev->up;
}

static int
netdev_ibbridge_construct(struct netdev *netdev_)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ovs_mutex_init_adaptive(&dev->mutex);
    atomic_count_init(&dev->lock_waiters, 0);
    ibbridge_lock(dev);
    smap_init(&dev->options);
    hmap_init(&dev->group_index);
    dev->flags = NETDEV_UP;
    ibb_conv_config_init(&dev->conv);
    dev->flows = ibb_flow_cache_create();
    dev->conv.flows = dev->flows;
    dp_packet_batch_init(&dev->neigh_answers);
    dev->neigh_seq = seq_create();
    ovs_mutex_unlock(&dev->mutex);

    ovs_mutex_lock(&ibbridge_list_mutex);
    ovs_list_push_back(&ibbridge_list, &dev->list_node);
    ovs_mutex_unlock(&ibbridge_list_mutex);
    return 0;
}

static void
netdev_ibbridge_destruct(struct netdev *netdev_)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ovs_mutex_lock(&ibbridge_list_mutex);
    ovs_list_remove(&dev->list_node);
    ovs_mutex_unlock(&ibbridge_list_mutex);

    ibbridge_lock(dev);
    ibbridge_port_close(dev);
    dp_packet_delete_batch(&dev->neigh_answers, true);
    seq_destroy(dev->neigh_seq);
    ibbridge_map_announce_cancel(dev);
    ibbridge_igmp_destroy(dev);
    ibbridge_follow_destroy(dev);
    ibb_kneigh_close(dev->kneigh);
    free(dev->peers);
    ibbridge_cluster_owners_free(dev->owners);
    free(dev->map_error);
    ibb_flow_cache_destroy(dev->flows);
    ibbridge_config_destroy(&dev->cfg);
    smap_destroy(&dev->options);
    hmap_destroy(&dev->group_index);
    ovs_mutex_unlock(&dev->mutex);
    ovs_mutex_destroy(&dev->mutex);
}

static void
netdev_ibbridge_dealloc(struct netdev *netdev_)
{
    free(netdev_ibbridge_cast(netdev_));
}


static int
netdev_ibbridge_set_config(struct netdev *netdev_, const struct smap *args,
                           char **errp)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);
    const char *name = netdev_get_name(netdev_);
    struct ibb_kneigh *kneigh = NULL;
    struct ibbridge_config cfg;
    char *err = NULL;
    int error;

    ibbridge_lock(dev);
    if (dev->configured && smap_equal(args, &dev->options)) {
        ovs_mutex_unlock(&dev->mutex);
        return 0;
    }

    error = ibbridge_config_parse(name, args, &cfg, &err);
    if (!error && cfg.cluster) {
        /* Until it has a view of the cluster, the port owns nothing: its
         * groups start on standby. */
        ibbridge_cluster_expect(true);
    }
    if (!error && dev->configured && dev->port && dev->map
        && ibbridge_mcast_only_groups_differ(args, &dev->options)) {
        /* Only the groups changed: no need to reopen the port. */
        error = ibbridge_mcast_update(dev, &cfg, &err);
        if (!error) {
            size_t n = cfg.n_groups;

            ibbridge_config_destroy(&dev->cfg);
            dev->cfg = cfg;
            smap_destroy(&dev->options);
            smap_clone(&dev->options, args);
            netdev_change_seq_changed(netdev_);
            VLOG_INFO("%s: mcast-groups changed: %zu groups", name, n);
            ovs_mutex_unlock(&dev->mutex);
            return 0;
        }
        ibbridge_config_destroy(&cfg);
        *errp = xasprintf("%s: %s", name, err ? err : ovs_strerror(error));
        free(err);
        ovs_mutex_unlock(&dev->mutex);
        VLOG_WARN("%s", *errp);
        return error;
    }
    if (!error && cfg.neigh_interfaces) {
        error = ibb_kneigh_open(cfg.neigh_interfaces, &kneigh, &err);
        if (error && err) {
            char *msg = xasprintf("neigh-interfaces \"%s\": %s",
                                  cfg.neigh_interfaces, err);
            free(err);
            err = msg;
        }
    }
    if (!error) {
        error = ibbridge_port_open(dev, &cfg, &err);
    }
    if (error) {
        ibb_kneigh_close(kneigh);
        ibbridge_config_destroy(&cfg);
        *errp = xasprintf("%s: %s", name, err ? err : ovs_strerror(error));
        free(err);
        ovs_mutex_unlock(&dev->mutex);
        VLOG_WARN("%s", *errp);
        return error;
    }

    ibbridge_config_destroy(&dev->cfg);
    dev->cfg = cfg;
    dev->configured = true;
    if (netdev_n_rxq(netdev_) != ibb_port_n_rxq(dev->port)) {
        /* The datapath makes its rx queues again in reconfigure(). */
        netdev_request_reconfigure(netdev_);
    }
    ibb_kneigh_close(dev->kneigh);
    dev->kneigh = kneigh;
    /* The new watcher (if any) reports what the kernel has now. */
    ibb_addr_map_flush_source(dev->map, IBB_HOST_KERNEL);
    smap_destroy(&dev->options);
    smap_clone(&dev->options, args);
    ibbridge_port_update_conv(dev);
    ibbridge_map_announce(dev);
    netdev_change_seq_changed(netdev_);
    VLOG_INFO("%s: attached to %s as LID %"PRIu16" (%zu hosts, %zu groups "
              "in the address map)", name, dev->cfg.device_str,
              dev->attr.lid, dev->map_file_hosts, dev->map_file_groups);
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_get_config(const struct netdev *netdev_, struct smap *args)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ibbridge_lock(dev);
    smap_clone(args, &dev->options);
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_get_status(const struct netdev *netdev_, struct smap *smap)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);
    char gid[IBB_GID_STRLEN];
    struct ds groups = DS_EMPTY_INITIALIZER;

    ibbridge_lock(dev);
    if (dev->configured) {
        smap_add(smap, "device", dev->cfg.device_str);
        smap_add(smap, "backend", (dev->cfg.device.kind == IBB_DEVICE_SIM
                                   ? "sim" : "verbs"));
        smap_add(smap, "state", dev->carrier ? "active" : "down");
        smap_add_format(smap, "lid", "%"PRIu16, dev->attr.lid);
        smap_add(smap, "gid", ibb_gid_format(dev->attr.gid, gid,
                                             sizeof gid));
        smap_add_format(smap, "ib_mtu", "%"PRIu16, dev->attr.mtu);
        smap_add_format(smap, "pkey", "0x%04"PRIx16, dev->cfg.pkey);
        smap_add_format(smap, "qkey", "0x%08"PRIx32, dev->cfg.qkey);
        smap_add_format(smap, "mac", ETH_ADDR_FMT,
                        ETH_ADDR_ARGS(dev->cfg.mac));
        ibbridge_mcast_format_status(dev, &groups);
        smap_add(smap, "mcast_groups", ds_cstr(&groups));
        smap_add_format(smap, "map_hosts", "%zu", dev->map_file_hosts);
        smap_add_format(smap, "map_groups", "%zu", dev->map_file_groups);
        smap_add_format(smap, "map_learned", "%zu",
                        ibb_addr_map_n_learned(dev->map));
        if (dev->map_error) {
            smap_add(smap, "map_error", dev->map_error);
        }
        smap_add(smap, "icrc_check", dev->cfg.icrc_check ? "true" : "false");
        smap_add(smap, "udp_csum", ibb_udp_csum_name(dev->cfg.udp_csum));
        smap_add(smap, "udp_csum_check",
                 dev->cfg.udp_csum_check ? "true" : "false");
        smap_add(smap, "port_mode", (dev->cfg.port_mode == IBB_PORT_RAW
                                     ? "raw" : "strict"));
        smap_add_format(smap, "n_rxq", "%u",
                        dev->port ? ibb_port_n_rxq(dev->port) : 0);
        if (dev->router.ipoib) {
            smap_add_format(smap, "ipoib_qpn", "0x%06"PRIx32,
                            dev->router.ipoib_qpn);
        }
        if (dev->proxies) {
            smap_add_format(smap, "proxies", "%zu",
                            ibb_proxy_table_count(dev->proxies));
        }
        ibbridge_igmp_status(dev, smap);
        ibbridge_follow_status(dev, smap);
    }
    smap_add(smap, "ibbridge_version", IBB_VERSION);
    ovs_mutex_unlock(&dev->mutex);
    ds_destroy(&groups);
    return 0;
}

static int
netdev_ibbridge_get_etheraddr(const struct netdev *netdev_,
                              struct eth_addr *mac)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ibbridge_lock(dev);
    *mac = dev->configured ? dev->cfg.mac
           : ibbridge_default_mac(netdev_get_name(netdev_));
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

/* The MTU of the Ethernet side: the Interface's mtu_request if set, else
 * the fabric's IB MTU plus the headers a RoCEv2 packet carries above IP
 * (what the largest IB datagram needs). */
static int
netdev_ibbridge_get_mtu(const struct netdev *netdev_, int *mtup)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ibbridge_lock(dev);
    *mtup = (dev->eth_mtu ? dev->eth_mtu
             : (dev->attr.mtu ? dev->attr.mtu : 4096) + IBBRIDGE_IP_OVERHEAD);
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

/* mtu_request: the largest IP packet the Ethernet side takes.  An IB
 * datagram that would become a larger one is dropped as eth_mtu, counted,
 * rather than left to vanish at OVS's egress. */
static int
netdev_ibbridge_set_mtu(struct netdev *netdev_, int mtu)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    if (mtu < IBBRIDGE_MIN_ETH_MTU || mtu > IBBRIDGE_MAX_ETH_MTU) {
        VLOG_WARN("%s: mtu_request %d: expected %d to %d",
                  netdev_get_name(netdev_), mtu, IBBRIDGE_MIN_ETH_MTU,
                  IBBRIDGE_MAX_ETH_MTU);
        return EINVAL;
    }
    ibbridge_lock(dev);
    if (dev->eth_mtu != mtu) {
        dev->eth_mtu = mtu;
        ibbridge_port_update_conv(dev);
        ibbridge_router_mtu_changed(dev);
        netdev_change_seq_changed(netdev_);
    }
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_get_carrier(const struct netdev *netdev_, bool *carrier)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ibbridge_lock(dev);
    *carrier = dev->carrier;
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_update_flags(struct netdev *netdev_, enum netdev_flags off,
                             enum netdev_flags on,
                             enum netdev_flags *old_flagsp)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    if ((off | on) & ~(NETDEV_UP | NETDEV_PROMISC)) {
        return EINVAL;
    }
    ibbridge_lock(dev);
    *old_flagsp = dev->flags;
    dev->flags = (dev->flags | on) & ~off;
    if (*old_flagsp != dev->flags) {
        netdev_change_seq_changed(netdev_);
    }
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_get_stats(const struct netdev *netdev_,
                          struct netdev_stats *stats)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ibbridge_lock(dev);
    *stats = dev->stats;
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ibbridge_get_custom_stats(const struct netdev *netdev_,
                                 struct netdev_custom_stats *custom)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);
    enum { N_CSTATS = 0
#define IBBRIDGE_CSTAT(NAME) + 1
        IBBRIDGE_CSTATS
#undef IBBRIDGE_CSTAT
    };
    struct ibb_port_counter pc[IBBRIDGE_MAX_PORT_COUNTERS];
    size_t n_pc = 0;
    size_t n = 0;

    ibbridge_lock(dev);
    if (dev->port) {
        n_pc = MIN(ibb_port_counters(dev->port, pc, ARRAY_SIZE(pc)),
                   ARRAY_SIZE(pc));
    }
    custom->counters = xcalloc(2 * IBB_DROP_N_REASONS + N_CSTATS + n_pc,
                               sizeof *custom->counters);
    for (int r = IBB_DROP_NONE + 1; r < IBB_DROP_N_REASONS; r++) {
        snprintf(custom->counters[n].name, NETDEV_CUSTOM_STATS_NAME_SIZE,
                 "rx_%s", ibb_drop_name(r));
        custom->counters[n++].value = dev->rx_drops[r];
        snprintf(custom->counters[n].name, NETDEV_CUSTOM_STATS_NAME_SIZE,
                 "tx_%s", ibb_drop_name(r));
        custom->counters[n++].value = dev->tx_drops[r];
    }
#define IBBRIDGE_CSTAT(NAME)                                            \
    ovs_strlcpy(custom->counters[n].name, #NAME,                        \
                NETDEV_CUSTOM_STATS_NAME_SIZE);                         \
    custom->counters[n++].value = dev->cstats.NAME;
    IBBRIDGE_CSTATS
#undef IBBRIDGE_CSTAT
    /* The backend's own: HCA events, drops inside the verbs backend. */
    for (size_t i = 0; i < n_pc; i++) {
        snprintf(custom->counters[n].name, NETDEV_CUSTOM_STATS_NAME_SIZE,
                 "port_%s", pc[i].name);
        custom->counters[n++].value = pc[i].value;
    }
    ovs_mutex_unlock(&dev->mutex);
    custom->size = n;
    return 0;
}

static void
netdev_ibbridge_run(const struct netdev_class *class OVS_UNUSED)
{
    struct netdev_ibbridge *dev;

    ovs_mutex_lock(&ibbridge_list_mutex);
    LIST_FOR_EACH (dev, list_node, &ibbridge_list) {
        ibbridge_lock(dev);
        ibbridge_port_events(dev);
        ibbridge_port_reconnect(dev);
        ibbridge_port_expire_proxies(dev);
        ibbridge_map_check(dev);
        ibbridge_map_expire_learned(dev);
        ibbridge_map_follow_kernel(dev);
        ibbridge_follow_run(dev);
        ibbridge_cluster_port_run(dev);
        ibbridge_router_run(dev);
        ibbridge_igmp_run(dev);
        ovs_mutex_unlock(&dev->mutex);
    }
    ovs_mutex_unlock(&ibbridge_list_mutex);
    ibbridge_db_run();
}

static void
netdev_ibbridge_wait(const struct netdev_class *class OVS_UNUSED)
{
    struct netdev_ibbridge *dev;

    ovs_mutex_lock(&ibbridge_list_mutex);
    LIST_FOR_EACH (dev, list_node, &ibbridge_list) {
        ibbridge_lock(dev);
        if (dev->port) {
            long long int next = ibb_port_next_wakeup(dev->port);

            if (ibb_port_ctl_fd(dev->port) >= 0) {
                poll_fd_wait(ibb_port_ctl_fd(dev->port), POLLIN);
            }
            if (next != LLONG_MAX) {
                poll_timer_wait_until(next);
            }
        }
        if (dev->port && !dev->carrier) {
            poll_timer_wait_until(dev->next_reconnect);
        }
        if (dev->proxies && dev->cfg.proxy_idle_s
            && ibb_proxy_table_count(dev->proxies)) {
            poll_timer_wait_until(dev->next_proxy_sweep);
        }
        if (dev->map && dev->cfg.map_file) {
            poll_timer_wait_until(dev->next_map_check);
        }
        if (dev->kneigh) {
            poll_fd_wait(ibb_kneigh_fd(dev->kneigh), POLLIN);
        }
        if (dev->map && dev->cfg.mac_aging_s
            && ibb_addr_map_n_learned(dev->map)) {
            poll_timer_wait_until(dev->next_learn_sweep);
        }
        ibbridge_igmp_wait(dev);
        ibbridge_follow_wait(dev);
        ibbridge_router_wait(dev);
        ovs_mutex_unlock(&dev->mutex);
    }
    ovs_mutex_unlock(&ibbridge_list_mutex);
    ibbridge_db_wait();
}

static struct netdev_rxq *
netdev_ibbridge_rxq_alloc(void)
{
    struct netdev_rxq_ibbridge *rx = xzalloc(sizeof *rx);
    return &rx->up;
}

static int
netdev_ibbridge_rxq_construct(struct netdev_rxq *rxq_ OVS_UNUSED)
{
    return 0;
}

static void
netdev_ibbridge_rxq_destruct(struct netdev_rxq *rxq_)
{
    struct netdev_rxq_ibbridge *rx = netdev_rxq_ibbridge_cast(rxq_);

    for (size_t i = 0; i < NETDEV_MAX_BURST; i++) {
        dp_packet_delete(rx->spare[i]);
        rx->spare[i] = NULL;
    }
}

static void
netdev_ibbridge_rxq_dealloc(struct netdev_rxq *rxq_)
{
    free(netdev_rxq_ibbridge_cast(rxq_));
}

/* Adds to 'batch' the packets the bridge itself sends "from IB": ARP and
 * ND answers, announcements, IGMP/MLD.  Queue 0 takes them. */
static void
netdev_ibbridge_take_answers(struct netdev_ibbridge *dev,
                             struct dp_packet_batch *batch)
    OVS_REQUIRES(dev->mutex)
{
    struct dp_packet *packet;

    /* ARP and ND answers first: they come from the port, as from IB. */
    DP_PACKET_BATCH_FOR_EACH (i, packet, &dev->neigh_answers) {
        dev->stats.rx_packets++;
        dev->stats.rx_bytes += dp_packet_size(packet);
        dp_packet_batch_add(batch, packet);
    }
    dp_packet_batch_init(&dev->neigh_answers);
    while (dev->n_announce && !dp_packet_batch_is_full(batch)) {
        packet = dev->announce[--dev->n_announce];
        dev->stats.rx_packets++;
        dev->stats.rx_bytes += dp_packet_size(packet);
        dev->cstats.announcements++;
        dp_packet_batch_add(batch, packet);
    }
    ibbridge_igmp_drain(dev, batch);
}

/* Takes dev->mutex for a PMD thread receiving from one of the port's
 * queues.  The thread spins rather than sleeps: with two queues busy on
 * two PMD threads the mutex changes hands every burst, and a futex sleep
 * and wake-up each time cost more than the burst (bench-rxq on the HCA
 * model, packets taken in with 2 queues / 1 queue: 0.74-0.85 sleeping,
 * 1.13-1.56 spinning).  It lets threads waiting in ibbridge_lock() go
 * first. */
static void
ibbridge_lock_rx_pmd(struct netdev_ibbridge *dev)
    OVS_ACQUIRES(dev->mutex)
{
    while (atomic_count_get(&dev->lock_waiters)
           || ovs_mutex_trylock(&dev->mutex)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield" ::: "memory");
#endif
    }
}

/* Receives up to NETDEV_MAX_BURST IB packets from the port's receive queue
 * of the same number, each straight into a dp_packet with room for the
 * longer RoCEv2 headers, and converts them there.  With several queues,
 * queue 0 also takes what the bridge sends itself. */
static int
netdev_ibbridge_rxq_recv(struct netdev_rxq *rxq_,
                         struct dp_packet_batch *batch, int *qfill)
{
    struct netdev_rxq_ibbridge *rx = netdev_rxq_ibbridge_cast(rxq_);
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(rxq_->netdev);
    unsigned int qid = rxq_->queue_id;
    struct ibb_port_buf bufs[NETDEV_MAX_BURST];
    struct dp_packet **pkts = rx->spare;
    struct ibbridge_ib_source src;
    size_t n_recv = 0;
    size_t max;
    int error;

    /* The spare packets are this queue's own: refilled outside the
     * device's mutex, which the other queues' threads wait for. */
    for (size_t i = 0; i < NETDEV_MAX_BURST; i++) {
        if (!pkts[i]) {
            pkts[i] = dp_packet_new_with_headroom(IBBRIDGE_MAX_IB_PKT,
                                                  IBB_CONV_HEADROOM);
        }
    }

    if (netdev_get_class(&dev->up)->is_pmd) {
        ibbridge_lock_rx_pmd(dev);
    } else {
        ibbridge_lock(dev);
    }
    dp_packet_batch_init(batch);
    if (!qid) {
        netdev_ibbridge_take_answers(dev, batch);
    }
    if (!dev->port || !dev->carrier || qid >= ibb_port_n_rxq(dev->port)) {
        /* (A queue past the port's is polled only until reconfigure()
         * told the datapath that there are fewer now.) */
        ovs_mutex_unlock(&dev->mutex);
        return dp_packet_batch_is_empty(batch) ? EAGAIN : 0;
    }
    max = NETDEV_MAX_BURST - dp_packet_batch_size(batch);
    for (size_t i = 0; i < max; i++) {
        bufs[i].data = dp_packet_data(pkts[i]);
        bufs[i].size = IBBRIDGE_MAX_IB_PKT;
        bufs[i].len = 0;
    }

    error = (max ? ibb_port_recv_queue(dev->port, qid, bufs, max, &n_recv)
             : EAGAIN);
    if (error && error != EAGAIN) {
        dev->cstats.rx_port_errors++;
        if (!ibb_port_is_up(dev->port)) {
            ibbridge_port_lost(dev, error);
        } else {
            VLOG_WARN_RL(&rl, "%s: receive failed (%s): %s",
                         netdev_get_name(rxq_->netdev), ovs_strerror(error),
                         ibb_port_error(dev->port));
        }
    }

    /* Packets past 'n_recv' stay spare for the next call. */
    for (size_t i = 0; i < n_recv; i++) {
        struct dp_packet *pkt = pkts[i];
        struct ibb_buf buf;
        enum ibb_drop reason;

        pkts[i] = NULL;
        buf.base = dp_packet_base(pkt);
        buf.size = dp_packet_get_allocated(pkt);
        buf.ofs = (uint8_t *) dp_packet_data(pkt) - buf.base;
        buf.len = bufs[i].len;
        if (ibbridge_router_rx(dev, bufs[i].data, bufs[i].len)) {
            dp_packet_delete(pkt);
            continue;
        }
        ibbridge_ib_source_get(dev, bufs[i].data, bufs[i].len, &src);
        reason = ibb_ud_to_roce(&dev->conv, dev->map, &buf);
        if (reason != IBB_DROP_NONE) {
            dev->rx_drops[reason]++;
            dev->stats.rx_dropped++;
            dp_packet_delete(pkt);
            continue;
        }
        ibbridge_ib_source_seen(dev, &src);
        ibbridge_mcast_count(dev, buf.group, true, buf.len);
        dp_packet_set_data(pkt, buf.base + buf.ofs);
        dp_packet_set_size(pkt, buf.len);
        dev->stats.rx_packets++;
        dev->stats.rx_bytes += buf.len;
        dp_packet_batch_add(batch, pkt);
    }
    ovs_mutex_unlock(&dev->mutex);

    if (qfill) {
        *qfill = -ENOTSUP;
    }
    return dp_packet_batch_is_empty(batch) ? EAGAIN : 0;
}

static void
netdev_ibbridge_rxq_wait(struct netdev_rxq *rxq_)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(rxq_->netdev);
    unsigned int qid = rxq_->queue_id;

    ibbridge_lock(dev);
    if (!qid) {
        /* Answers may be queued by another thread's send(): wake up for
         * them.  Queue 0 takes them. */
        seq_wait(dev->neigh_seq, seq_read(dev->neigh_seq));
        if (!dp_packet_batch_is_empty(&dev->neigh_answers)
            || dev->n_announce || ibbridge_igmp_pending(dev)) {
            poll_immediate_wake();
            ovs_mutex_unlock(&dev->mutex);
            return;
        }
    }
    if (dev->port && dev->carrier) {
        if (ibb_port_queue_has_pending(dev->port, qid)) {
            poll_immediate_wake();
        } else if (ibb_port_queue_fd(dev->port, qid) >= 0) {
            poll_fd_wait(ibb_port_queue_fd(dev->port, qid), POLLIN);
        }
    }
    ovs_mutex_unlock(&dev->mutex);
}

/* Converts 'pkt' to an IB packet in its own buffer and points 'buf' at it.
 * Returns IBB_DROP_NONE or why it cannot be bridged. */
static enum ibb_drop
netdev_ibbridge_prepare_tx(struct netdev_ibbridge *dev,
                           struct dp_packet *pkt, struct ibb_port_buf *out,
                           const struct ibb_group **groupp)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_buf buf;
    enum ibb_drop reason;

    /* Packets from OVS's own ports have headroom to spare; only others are
     * moved, once. */
    dp_packet_prealloc_headroom(pkt, IBB_CONV_HEADROOM);
    dp_packet_prealloc_tailroom(pkt, IBB_CONV_TAILROOM);

    buf.base = dp_packet_base(pkt);
    buf.size = dp_packet_get_allocated(pkt);
    buf.ofs = (uint8_t *) dp_packet_data(pkt) - buf.base;
    buf.len = dp_packet_size(pkt);
    reason = ibb_roce_to_ud(&dev->conv, dev->map, &buf);
    if (reason == IBB_DROP_NONE) {
        out->data = buf.base + buf.ofs;
        out->len = buf.len;
        out->size = buf.len;
        *groupp = buf.group;
    }
    return reason;
}

/* Opens a proxy QP for the RoCE endpoint the converter found none for.
 * Returns true if there is one now. */
static bool
netdev_ibbridge_open_missing_proxy(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_proxy_endpoint ep;
    struct ibb_proxy *proxy;
    uint32_t qkey;
    int error;

    if (!dev->proxies || !dev->port
        || !ibb_proxy_take_missing(dev->proxies, &ep, &qkey)) {
        return false;
    }
    error = ibb_proxy_open(dev->proxies, dev->port, &ep, qkey, false,
                           &proxy);
    if (error == ENOSPC && ibb_proxy_table_count(dev->proxies)
                           >= ibb_proxy_table_max(dev->proxies)) {
        dev->cstats.tx_proxy_limit++;
        VLOG_WARN_RL(&rl, "%s: no proxy QP for a new RoCE endpoint: "
                     "max-proxies (%zu) reached", netdev_get_name(&dev->up),
                     ibb_proxy_table_max(dev->proxies));
        return false;
    } else if (error) {
        dev->cstats.tx_proxy_errors++;
        VLOG_WARN_RL(&rl, "%s: cannot open a proxy QP (%s): %s",
                     netdev_get_name(&dev->up), ovs_strerror(error),
                     ibb_port_error(dev->port));
        return false;
    }
    dev->cstats.proxies_created++;
    netdev_change_seq_changed(&dev->up);
    return true;
}

/* Sends 'n' packets and returns how many were sent.  A full send queue (an
 * HCA's, or a back-pressuring fabric's) drops the rest of the batch, counted
 * as tx_backpressure, as a NIC with a full TX ring does: waiting would
 * stall the datapath thread and every other port it polls. */
static size_t
netdev_ibbridge_send_bufs(struct netdev_ibbridge *dev,
                          const struct ibb_port_buf *bufs, size_t n)
    OVS_REQUIRES(dev->mutex)
{
    size_t done = 0;

    while (done < n) {
        size_t sent = 0;
        int error = ibb_port_send(dev->port, bufs + done, n - done, &sent);

        done += sent;
        if (!error) {
            continue;
        } else if (error == EAGAIN) {
            dev->cstats.tx_backpressure += n - done;
            VLOG_DBG_RL(&rl, "%s: %s full, dropped %zu packets",
                        netdev_get_name(&dev->up),
                        ibb_port_hw_crcs(dev->port) ? "send queue" : "fabric",
                        n - done);
            break;
        } else {
            dev->cstats.tx_port_down += n - done;
            if (!ibb_port_is_up(dev->port)) {
                ibbridge_port_lost(dev, error);
            } else {
                VLOG_WARN_RL(&rl, "%s: send failed (%s): %s",
                             netdev_get_name(&dev->up), ovs_strerror(error),
                             ibb_port_error(dev->port));
            }
            break;
        }
    }
    return done;
}

static bool
from_peer_bridge(const struct netdev_ibbridge *dev,
                 const struct dp_packet *packet)
    OVS_REQUIRES(dev->mutex)
{
    const struct eth_header *eth = dp_packet_data(packet);

    if (dp_packet_size(packet) < ETH_HEADER_LEN) {
        return false;           /* The converter counts it. */
    }
    for (size_t i = 0; i < dev->n_peers; i++) {
        /* From another node, or to it (a unicast frame the segment
         * floods reaches every node). */
        if (eth_addr_equals(eth->eth_src, dev->peers[i].mac)
            || eth_addr_equals(eth->eth_dst, dev->peers[i].mac)) {
            return true;
        }
    }
    return false;
}

static int
netdev_ibbridge_send(struct netdev *netdev_, int qid OVS_UNUSED,
                     struct dp_packet_batch *batch,
                     bool concurrent_txq OVS_UNUSED)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);
    struct ibb_port_buf bufs[NETDEV_MAX_BURST];
    const struct ibb_group *groups[NETDEV_MAX_BURST];
    struct dp_packet *packet;
    size_t n = 0;
    size_t sent;
    uint64_t bytes = 0;

    ibbridge_lock(dev);
    if (!dev->port || !dev->map || !dev->carrier) {
        /* No port (a reconfiguration failed) or it is down: nothing to
         * convert for, and no proxy QP to open. */
        dev->cstats.tx_port_down += dp_packet_batch_size(batch);
        dev->stats.tx_dropped += dp_packet_batch_size(batch);
        ovs_mutex_unlock(&dev->mutex);
        dp_packet_delete_batch(batch, true);
        return 0;
    }
    DP_PACKET_BATCH_FOR_EACH (i, packet, batch) {
        uint8_t sip[16], smac[6];
        enum ibb_drop reason;
        bool learn;

        if (!dp_packet_is_eth(packet)) {
            dev->cstats.tx_not_eth++;
            dev->stats.tx_dropped++;
            continue;
        }
        if (dev->n_peers && from_peer_bridge(dev, packet)) {
            /* Another bridge node's frame (converted from IB, or its own
             * announcement), or one for it to convert.  Never back to IB
             * here. */
            dev->cstats.tx_from_bridge++;
            dev->stats.tx_dropped++;
            continue;
        }
        if (ibbridge_answer_neigh(dev, packet)
            || ibbridge_igmp_input(dev, packet)) {
            continue;
        }
        /* The source, for learning, before the frame is converted. */
        learn = (dev->cfg.mac_aging_s
                 && ibb_roce_source(dp_packet_data(packet),
                                    dp_packet_size(packet), sip, smac));
        reason = netdev_ibbridge_prepare_tx(dev, packet, &bufs[n],
                                            &groups[n]);
        if (reason == IBB_DROP_NO_PROXY
            && netdev_ibbridge_open_missing_proxy(dev)) {
            /* The frame is as it was: convert it again. */
            reason = netdev_ibbridge_prepare_tx(dev, packet, &bufs[n],
                                            &groups[n]);
        }
        if (reason != IBB_DROP_NONE) {
            dev->tx_drops[reason]++;
            dev->stats.tx_dropped++;
            continue;
        }
        if (learn) {
            ibbridge_map_learn(dev, sip, smac);
        }
        n++;
    }

    sent = netdev_ibbridge_send_bufs(dev, bufs, n);
    for (size_t i = 0; i < sent; i++) {
        bytes += bufs[i].len;
        ibbridge_mcast_count(dev, groups[i], false, bufs[i].len);
    }
    dev->stats.tx_packets += sent;
    dev->stats.tx_bytes += bytes;
    dev->stats.tx_dropped += n - sent;
    ovs_mutex_unlock(&dev->mutex);

    dp_packet_delete_batch(batch, true);
    return 0;
}

static void
netdev_ibbridge_send_wait(struct netdev *netdev_, int qid OVS_UNUSED)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ibbridge_lock(dev);
    if (dev->port && dev->carrier && ibb_port_fd(dev->port) >= 0) {
        poll_fd_wait(ibb_port_fd(dev->port), POLLOUT);
    }
    ovs_mutex_unlock(&dev->mutex);
}

/* Applies a new number of receive queues (set_config() opened the port
 * with it), while the datapath's threads are away from the rx queues. */
static int
netdev_ibbridge_reconfigure(struct netdev *netdev_)
{
    struct netdev_ibbridge *dev = netdev_ibbridge_cast(netdev_);

    ibbridge_lock(dev);
    netdev_->n_rxq = dev->port ? ibb_port_n_rxq(dev->port) : 1;
    netdev_change_seq_changed(netdev_);
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

/* The class's functions, for both types below. */
#define NETDEV_IBBRIDGE_FUNCTIONS                           \
    .run = netdev_ibbridge_run,                             \
    .wait = netdev_ibbridge_wait,                           \
    .alloc = netdev_ibbridge_alloc,                         \
    .construct = netdev_ibbridge_construct,                 \
    .destruct = netdev_ibbridge_destruct,                   \
    .dealloc = netdev_ibbridge_dealloc,                     \
    .get_config = netdev_ibbridge_get_config,               \
    .set_config = netdev_ibbridge_set_config,               \
    .reconfigure = netdev_ibbridge_reconfigure,             \
    .send = netdev_ibbridge_send,                           \
    .send_wait = netdev_ibbridge_send_wait,                 \
    .get_etheraddr = netdev_ibbridge_get_etheraddr,         \
    .get_mtu = netdev_ibbridge_get_mtu,                     \
    .set_mtu = netdev_ibbridge_set_mtu,                     \
    .get_carrier = netdev_ibbridge_get_carrier,             \
    .get_stats = netdev_ibbridge_get_stats,                 \
    .get_custom_stats = netdev_ibbridge_get_custom_stats,   \
    .get_status = netdev_ibbridge_get_status,               \
    .update_flags = netdev_ibbridge_update_flags,           \
    .rxq_alloc = netdev_ibbridge_rxq_alloc,                 \
    .rxq_construct = netdev_ibbridge_rxq_construct,         \
    .rxq_destruct = netdev_ibbridge_rxq_destruct,           \
    .rxq_dealloc = netdev_ibbridge_rxq_dealloc,             \
    .rxq_recv = netdev_ibbridge_rxq_recv,                   \
    .rxq_wait = netdev_ibbridge_rxq_wait

/* "ibbridge": the datapath's main thread polls the port, waking on its
 * fds. */
static const struct netdev_class netdev_ibbridge_class = {
    .type = "ibbridge",
    .is_pmd = false,
    NETDEV_IBBRIDGE_FUNCTIONS,
};

/* "ibbridge-pmd": PMD threads (other_config:pmd-cpu-mask) busy-poll the
 * port's receive queues (options:n_rxq, verbs devices), one thread a
 * queue, as for DPDK ports; "afxdp" and "afxdp-nonpmd" split the same
 * way. */
static const struct netdev_class netdev_ibbridge_pmd_class = {
    .type = "ibbridge-pmd",
    .is_pmd = true,
    NETDEV_IBBRIDGE_FUNCTIONS,
};

void
netdev_ibbridge_register(void)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;

    if (ovsthread_once_start(&once)) {
        const struct netdev_class *classes[] = {
            &netdev_ibbridge_class, &netdev_ibbridge_pmd_class,
        };

        for (size_t i = 0; i < ARRAY_SIZE(classes); i++) {
            int error = netdev_register_provider(classes[i]);

            if (error) {
                VLOG_ERR("failed to register the %s netdev class (%s)",
                         classes[i]->type, ovs_strerror(error));
            }
        }
        ibbridge_unixctl_register();
        ibbridge_mcast_unixctl_register();
        ibbridge_db_unixctl_register();
        ovsthread_once_done(&once);
    }
}
