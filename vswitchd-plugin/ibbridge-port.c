/*
 * The IB port behind an ibbridge netdev: opening it with its map, groups
 * and routes (and closing it), the converter settings that follow from
 * it, and its life after that: a port lost and attached again, the events
 * an HCA reports, proxy QPs opened again or closed when idle.  The netdev
 * class (netdev-ibbridge.c) calls these from set_config(), run() and its
 * receive and send paths.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netdev-ibbridge-private.h"
#include "ibbridge-cluster.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ib-mcast.h"
#include "ibb-conv.h"
#include "ibb-proxy.h"
#include "ibport.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_port);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* How often idle learned proxy QPs are looked for. */
#define IBBRIDGE_PROXY_SWEEP_MS 1000

/* How often a port whose fabric went away tries to attach again. */
#define IBBRIDGE_RECONNECT_MS 1000

/* Frees what the port holds: the IB port, the map and the groups (leaving
 * them on the fabric).  Counters stay. */
void
ibbridge_port_close(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->port) {
        for (size_t i = 0; i < dev->n_groups; i++) {
            ibb_port_mcast_leave(dev->port, dev->groups[i].mgid);
        }
        ibb_port_close(dev->port);
        dev->port = NULL;
    }
    hmap_clear(&dev->group_index);
    free(dev->leaving);
    dev->leaving = NULL;
    dev->n_leaving = 0;
    free(dev->groups);
    dev->groups = NULL;
    dev->n_groups = 0;
    ibb_addr_map_destroy(dev->map);
    dev->map = NULL;
    dev->cluster_map = NULL;    /* A new map may get the same address. */
    ibb_proxy_table_destroy(dev->proxies);
    dev->proxies = NULL;
    dev->conv.proxies = NULL;
    memset(&dev->router, 0, sizeof dev->router);
    dev->carrier = false;
}

/* Joins every group in 'cfg' on 'port' and records it in 'map' (keeping a
 * group the map already has) and in '*groupsp'. */
static int
join_groups(struct ibb_port *port, const struct ibbridge_config *cfg,
            struct ibb_addr_map *map, struct ibbridge_group **groupsp,
            size_t *n_groupsp, char **errp)
{
    struct ibbridge_group *groups = xcalloc(cfg->n_groups + 1,
                                            sizeof *groups);
    size_t n = 0;
    int error = 0;

    for (size_t i = 0; i < cfg->n_groups; i++) {
        struct ibbridge_group *g = &groups[n];
        const struct ibb_group *known;
        char *s;

        g->spec = cfg->groups[i];
        g->wanted_by = IBBRIDGE_WANTED_BY(IBBRIDGE_GROUP_CONFIG);
        known = ibb_addr_map_find_group_ip(map, g->spec.ip);
        if (known) {
            memcpy(g->mgid, known->mgid, 16);
        } else {
            ibb_mcast_ip_to_mgid(g->spec.format, g->spec.ip, cfg->pkey,
                                 IBB_MCAST_SCOPE_LINK, g->mgid);
        }
        if (!ibb_gid_is_multicast(g->mgid)) {
            /* An IPv4 group in RoCE format is ::ffff:a.b.c.d, which no
             * subnet administrator takes as an MGID. */
            char mgid[IBB_GID_STRLEN];

            s = ibb_mcast_group_spec_to_string(&g->spec);
            *errp = xasprintf("mcast-groups %s: MGID %s is not an IB "
                              "multicast GID (use ipoib or rdma_cm)", s,
                              ibb_gid_format(g->mgid, mgid, sizeof mgid));
            free(s);
            error = EINVAL;
            break;
        }
        /* Another bridge node's group (or none's yet) waits on standby:
         * ibbridge_mcast_follow_cluster() joins it when it is ours. */
        g->standby = !ibbridge_cluster_owns(g->spec.ip);
        error = (g->standby ? 0
                 : ibb_port_mcast_join(port, g->mgid,
                                       (g->spec.send_only
                                        ? IBB_MCAST_SEND_ONLY
                                        : IBB_MCAST_FULL),
                                       cfg->qkey, cfg->pkey, &g->mlid));
        if (error) {
            s = ibb_mcast_group_spec_to_string(&g->spec);
            *errp = xasprintf("cannot join multicast group %s: %s", s,
                              ibb_port_error(port));
            free(s);
            break;
        }
        n++;
        if (!known) {
            g->added_to_map = true;
            error = ibbridge_map_add_joined_group(map, g, cfg->pkey);
            if (error) {
                s = ibb_mcast_group_spec_to_string(&g->spec);
                *errp = xasprintf("cannot add multicast group %s to the "
                                  "address map (%s)", s,
                                  ovs_strerror(error));
                free(s);
                break;
            }
        }
    }
    if (error) {
        for (size_t i = 0; i < n; i++) {
            ibb_port_mcast_leave(port, groups[i].mgid);
        }
        free(groups);
        return error;
    }
    *groupsp = groups;
    *n_groupsp = n;
    return 0;
}

/* Opens the IB port of 'cfg', loads its map and joins its groups, and on
 * success replaces what 'dev' had. */
int
ibbridge_port_open(struct netdev_ibbridge *dev,
                          const struct ibbridge_config *cfg, char **errp)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_port_options opts = {
        .mode = cfg->port_mode,
        .pkey = cfg->pkey,
        .name = netdev_get_name(&dev->up),
        .qkey = cfg->qkey,
        .gid_index = cfg->gid_index,
        /* Joins never wait: ibbridge_mcast_take_changes() and
         * ibbridge_port_events() take their results. */
        .async_joins = true,
        .join_rate = cfg->join_rate,
        .n_rxq = cfg->n_rxq,
        /* PMD threads poll without waiting on the queues' fds. */
        .busy_poll = netdev_get_class(&dev->up)->is_pmd,
    };
    struct ibb_proxy_table *proxies = NULL;
    struct ibbridge_group *groups = NULL;
    struct ibbridge_router router;
    size_t map_file_hosts, map_file_groups;
    struct ibb_file_stamp map_stamp;
    struct ibb_addr_map *map;
    struct ibb_port_attr attr;
    struct ibb_port *port;
    size_t n_groups = 0;
    char *err = NULL;
    int error;

    error = ibbridge_map_load(cfg, &map, &map_stamp, errp);
    if (error) {
        return error;
    }
    map_file_hosts = ibb_addr_map_n_hosts(map);
    map_file_groups = ibb_addr_map_n_groups(map);
    if (dev->map) {
        /* Added and kernel hosts stay; learned ones unless learning is
         * off now. */
        ibb_addr_map_copy_runtime(map, dev->map);
        if (!cfg->mac_aging_s) {
            ibb_addr_map_flush(map, true);
        }
    }

    /* The old port goes first, so that a new one on the same fabric can
     * take over its LID and groups. */
    ibbridge_port_close(dev);

    error = ibb_port_open(cfg->device_str, &opts, &port, &err);
    if (error) {
        /* The backend's message names the device already. */
        *errp = err ? err : xasprintf("cannot open %s (%s)", cfg->device_str,
                                      ovs_strerror(error));
        ibb_addr_map_destroy(map);
        return error;
    }
    error = ibb_port_query(port, &attr);
    if (error) {
        *errp = xasprintf("cannot query %s: %s", cfg->device_str,
                          ibb_port_error(port));
        goto error;
    }
    if (cfg->port_mode == IBB_PORT_STRICT) {
        proxies = ibb_proxy_table_create(cfg->max_proxies);
        if (!proxies) {
            *errp = xstrdup("out of memory");
            error = ENOMEM;
            goto error;
        }
    }
    error = join_groups(port, cfg, map, &groups, &n_groups, errp);
    if (!error) {
        error = ibbridge_router_open(dev, port, cfg, &attr, &router, errp);
    }
    if (error) {
        free(groups);
        goto error;
    }

    dev->port = port;
    dev->proxies = proxies;
    dev->attr = attr;
    dev->map = map;
    dev->map_stamp = map_stamp;
    dev->map_file_hosts = map_file_hosts;
    dev->map_file_groups = map_file_groups;
    free(dev->map_error);
    dev->map_error = NULL;
    dev->next_map_check = time_msec() + IBBRIDGE_MAP_CHECK_MS;
    dev->groups = groups;
    dev->n_groups = n_groups;
    ibbridge_mcast_index(dev);
    dev->open_seq++;
    dev->router = router;
    dev->carrier = attr.state == IBB_PORT_ACTIVE;
    return 0;

error:
    ibb_proxy_table_destroy(proxies);
    ibb_port_close(port);
    ibb_addr_map_destroy(map);
    return error;
}

/* Fills the converter settings from the options and the port. */
void
ibbridge_port_update_conv(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_conv_config *conv = &dev->conv;

    ibb_conv_config_init(conv);
    memcpy(conv->bridge_mac, dev->cfg.mac.ea, ETH_ADDR_LEN);
    conv->bridge_lid = dev->attr.lid;
    memcpy(conv->bridge_gid, dev->attr.gid, 16);
    memcpy(conv->sl_map, dev->cfg.sl_map, sizeof conv->sl_map);
    memcpy(conv->dscp_map, dev->cfg.dscp_map, sizeof conv->dscp_map);
    conv->check_ib_icrc = dev->cfg.icrc_check;
    conv->check_roce_icrc = dev->cfg.icrc_check;
    conv->udp_csum = dev->cfg.udp_csum;
    conv->check_udp_csum = dev->cfg.udp_csum_check;
    conv->pkey = dev->cfg.pkey;
    conv->proxies = dev->proxies;
    conv->flows = dev->flows;
    conv->eth_mtu = dev->eth_mtu;
    conv->ib_mtu = dev->attr.mtu;
    if (dev->port && ibb_port_hw_crcs(dev->port)) {
        /* The HCA checked the ICRC and VCRC of what it delivers and makes
         * them for what it sends. */
        conv->check_ib_icrc = false;
        conv->check_vcrc = false;
        conv->gen_ib_crcs = false;
    }
}

/* Marks the port down after 'error' from the backend, so that run() tries
 * to attach again. */
void
ibbridge_port_lost(struct netdev_ibbridge *dev, int error)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->carrier) {
        VLOG_WARN("%s: lost %s (%s): %s; will reattach",
                  netdev_get_name(&dev->up), dev->cfg.device_str,
                  ovs_strerror(error), ibb_port_error(dev->port));
        dev->carrier = false;
        dev->next_reconnect = time_msec();
        netdev_change_seq_changed(&dev->up);
    }
}

/* After the port was opened anew its QPs are gone: operator-added proxies
 * get new QPs (and QPNs), learned ones are learned again from traffic. */
static void
reopen_proxies(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_proxy_table *old = dev->proxies;
    const struct ibb_proxy *p = NULL;
    size_t n_old, n_new = 0;

    if (!old) {
        return;
    }
    n_old = ibb_proxy_table_count(old);
    dev->proxies = ibb_proxy_table_create(dev->cfg.max_proxies);
    while (dev->proxies && (p = ibb_proxy_next(old, p)) != NULL) {
        struct ibb_proxy *proxy;

        if (p->configured
            && !ibb_proxy_open(dev->proxies, dev->port, &p->ep, p->qkey,
                               true, &proxy)) {
            n_new++;
        }
    }
    ibb_proxy_table_destroy(old);
    VLOG_WARN("%s: the port was opened anew: %zu proxy QPs lost, %zu "
              "operator-added ones opened again with new QPNs",
              netdev_get_name(&dev->up), n_old, n_new);
}

/* Tries to re-attach a port that went down, at most once a second.  The
 * backend restores the port's LID and multicast memberships. */
void
ibbridge_port_reconnect(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_port_attr attr;

    if (!dev->port || dev->carrier || time_msec() < dev->next_reconnect) {
        return;
    }
    dev->next_reconnect = time_msec() + IBBRIDGE_RECONNECT_MS;
    if (ibb_port_reconnect(dev->port)
        || ibb_port_query(dev->port, &attr)) {
        VLOG_DBG_RL(&rl, "%s: cannot reattach to %s yet: %s",
                    netdev_get_name(&dev->up), dev->cfg.device_str,
                    ibb_port_error(dev->port));
        return;
    }
    dev->attr = attr;
    dev->carrier = attr.state == IBB_PORT_ACTIVE;
    dev->cstats.reconnects++;
    if (ibb_port_take_qps_lost(dev->port)) {
        reopen_proxies(dev);
    }
    ibbridge_port_update_conv(dev);
    netdev_change_seq_changed(&dev->up);
    VLOG_INFO("%s: reattached to %s as LID %"PRIu16", %zu groups rejoined",
              netdev_get_name(&dev->up), dev->cfg.device_str, attr.lid,
              dev->n_groups);
}

/* Takes in what an event-driven port (an HCA) reports: port up or down,
 * a new LID, joins that completed or failed. */
void
ibbridge_port_events(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_port_attr attr;
    bool up;

    if (!dev->port || !ibb_port_run(dev->port)) {
        return;
    }
    up = ibb_port_is_up(dev->port);
    if (up != dev->carrier) {
        VLOG_INFO("%s: port %s", netdev_get_name(&dev->up),
                  up ? "up" : "down");
        if (up) {
            dev->cstats.reconnects++;
        }
    }
    dev->carrier = up;
    if (up && !ibb_port_query(dev->port, &attr)) {
        dev->attr = attr;
    }
    ibbridge_mcast_prune_leaving(dev);
    /* A port that tracks what changed says so; else look at every group. */
    if (!ibbridge_mcast_take_changes(dev)) {
        for (size_t i = 0; i < dev->n_groups; i++) {
            struct ibbridge_group *g = &dev->groups[i];
            struct ibb_mcast_status st;

            if (ibb_port_mcast_status(dev->port, g->mgid, &st)) {
                continue;
            }
            if (st.state != IBB_MCAST_JOINED) {
                /* Until it is joined (again), datagrams to the group are
                 * counted as group_joining, not sent to a stale MLID. */
                st.mlid = 0;
            }
            if (st.mlid != g->mlid) {
                g->mlid = st.mlid;
                ibb_addr_map_set_group_mlid(dev->map, g->mgid, st.mlid);
            }
            if (st.state == IBB_MCAST_FAILED) {
                char mgid[IBB_GID_STRLEN];

                VLOG_WARN_RL(&rl, "%s: multicast group %s: join failed: %s",
                             netdev_get_name(&dev->up),
                             ibb_gid_format(g->mgid, mgid, sizeof mgid),
                             st.why);
            }
        }
    }
    ibbridge_port_update_conv(dev);
    netdev_change_seq_changed(&dev->up);
}

/* Closes learned proxy QPs that stayed idle for proxy-idle-timeout, once
 * a second, so that restarted RoCE applications (new QPNs) do not use up
 * the HCA's QPs. */
void
ibbridge_port_expire_proxies(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    long long int now = time_msec();
    size_t n;

    if (!dev->proxies || !dev->port || !dev->cfg.proxy_idle_s
        || now < dev->next_proxy_sweep) {
        return;
    }
    dev->next_proxy_sweep = now + IBBRIDGE_PROXY_SWEEP_MS;
    n = ibb_proxy_expire(dev->proxies, dev->port, now,
                         dev->cfg.proxy_idle_s * 1000LL);
    if (n) {
        dev->cstats.proxies_expired += n;
        netdev_change_seq_changed(&dev->up);
        VLOG_DBG("%s: closed %zu idle proxy QPs", netdev_get_name(&dev->up),
                 n);
    }
}
