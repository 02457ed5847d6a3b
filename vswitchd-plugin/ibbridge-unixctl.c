/*
 * ovs-appctl commands of the ibbridge ports: ibbridge/show and show-json
 * (state, groups, proxies and counters) and ibbridge/proxy/add and del.
 * Each locks the port list, then the port, like the netdev class does.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netdev-ibbridge-private.h"
#include "openvswitch/json.h"
#include "unixctl.h"
#include "util.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-flow-cache.h"
#include "ibb-proxy.h"

/* Appends the proxy QPs, one line each: "QPN -> IP qpn N". */
static void
ibbridge_show_proxies(struct netdev_ibbridge *dev, struct ds *s)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_proxy *p = NULL;
    char ip[IBB_GID_STRLEN];

    if (!dev->proxies) {
        ds_put_cstr(s, "  proxy QPs: none (raw port)\n");
        return;
    }
    ds_put_format(s, "  proxy QPs: %zu of %zu\n",
                  ibb_proxy_table_count(dev->proxies),
                  ibb_proxy_table_max(dev->proxies));
    while ((p = ibb_proxy_next(dev->proxies, p)) != NULL) {
        ds_put_format(s, "    qpn 0x%06"PRIx32" -> %s qpn 0x%06"PRIx32
                      " qkey 0x%08"PRIx32" %s to_ib %"PRIu64" to_roce %"
                      PRIu64"\n", p->proxy_qpn,
                      ibb_ip_format(p->ep.ip, ip, sizeof ip), p->ep.qpn,
                      p->qkey, p->configured ? "configured" : "learned",
                      p->to_ib, p->to_roce);
    }
}

/* ibbridge/show [PORT]: state, groups and the counters that are not zero,
 * for one port or all. */
static void
ibbridge_show_port(struct netdev_ibbridge *dev, struct ds *s)
    OVS_REQUIRES(dev->mutex)
{
    char gid[IBB_GID_STRLEN];

    ds_put_format(s, "%s:\n", netdev_get_name(&dev->up));
    if (!dev->configured) {
        ds_put_cstr(s, "  not configured\n");
        return;
    }
    ds_put_format(s, "  device: %s (%s)\n", dev->cfg.device_str,
                  dev->carrier ? "active" : "down");
    ds_put_format(s, "  lid: %"PRIu16"  gid: %s  mtu: %"PRIu16"\n",
                  dev->attr.lid,
                  ibb_gid_format(dev->attr.gid, gid, sizeof gid),
                  dev->attr.mtu);
    ds_put_format(s, "  pkey: 0x%04"PRIx16"  qkey: 0x%08"PRIx32
                  "  mac: "ETH_ADDR_FMT"  icrc-check: %s\n",
                  dev->cfg.pkey, dev->cfg.qkey, ETH_ADDR_ARGS(dev->cfg.mac),
                  dev->cfg.icrc_check ? "true" : "false");
    ds_put_format(s, "  udp-csum: %s  udp-csum-check: %s\n",
                  ibb_udp_csum_name(dev->cfg.udp_csum),
                  dev->cfg.udp_csum_check ? "true" : "false");
    ds_put_format(s, "  address map: %zu hosts, %zu groups%s%s; "
                  "%zu MACs learned\n",
                  dev->map_file_hosts, dev->map_file_groups,
                  dev->cfg.map_file ? " from " : "",
                  dev->cfg.map_file ? dev->cfg.map_file : "",
                  ibb_addr_map_n_learned(dev->map));
    if (dev->map_error) {
        ds_put_format(s, "  address map not reloaded: %s\n", dev->map_error);
    }
    ds_put_cstr(s, "  multicast groups:");
    for (size_t i = 0; i < dev->n_groups; i++) {
        char *spec = ibb_mcast_group_spec_to_string(&dev->groups[i].spec);

        ds_put_format(s, "\n    %s mgid %s mlid 0x%04"PRIx16" ", spec,
                      ibb_gid_format(dev->groups[i].mgid, gid, sizeof gid),
                      dev->groups[i].mlid);
        netdev_ibbridge_format_group_state(dev, &dev->groups[i], s);
        free(spec);
    }
    ds_put_cstr(s, dev->n_groups ? "\n" : " none\n");
    ibbridge_show_proxies(dev, s);
    ds_put_format(s, "  rx: %"PRIu64" packets, %"PRIu64" bytes, %"PRIu64
                  " dropped\n", dev->stats.rx_packets, dev->stats.rx_bytes,
                  dev->stats.rx_dropped);
    ds_put_format(s, "  tx: %"PRIu64" packets, %"PRIu64" bytes, %"PRIu64
                  " dropped\n", dev->stats.tx_packets, dev->stats.tx_bytes,
                  dev->stats.tx_dropped);
    if (dev->flows) {
        ds_put_format(s, "  flow cache: %"PRIu64" hits, %"PRIu64" misses\n",
                      dev->flows->hits, dev->flows->misses);
    }
    for (int r = IBB_DROP_NONE + 1; r < IBB_DROP_N_REASONS; r++) {
        if (dev->rx_drops[r]) {
            ds_put_format(s, "  rx dropped, %s: %"PRIu64"\n",
                          ibb_drop_desc(r), dev->rx_drops[r]);
        }
        if (dev->tx_drops[r]) {
            ds_put_format(s, "  tx dropped, %s: %"PRIu64"\n",
                          ibb_drop_desc(r), dev->tx_drops[r]);
        }
    }
#define IBBRIDGE_CSTAT(NAME)                                            \
    if (dev->cstats.NAME) {                                             \
        ds_put_format(s, "  %s: %"PRIu64"\n", #NAME, dev->cstats.NAME); \
    }
    IBBRIDGE_CSTATS
#undef IBBRIDGE_CSTAT
    if (dev->port) {
        struct ibb_port_counter pc[IBBRIDGE_MAX_PORT_COUNTERS];
        size_t n_pc = MIN(ibb_port_counters(dev->port, pc, ARRAY_SIZE(pc)),
                          ARRAY_SIZE(pc));

        for (size_t i = 0; i < n_pc; i++) {
            if (pc[i].value) {
                ds_put_format(s, "  port_%s: %"PRIu64"\n", pc[i].name,
                              pc[i].value);
            }
        }
    }
}

/* The same as ibbridge_show_port(), as a JSON object, with every counter
 * (zero or not) for programs to read. */
static struct json *
ibbridge_port_to_json(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct json *port = json_object_create();
    struct json *groups, *counters;
    char gid[IBB_GID_STRLEN];

    json_object_put(port, "configured", json_boolean_create(dev->configured));
    if (!dev->configured) {
        return port;
    }
    json_object_put_string(port, "device", dev->cfg.device_str);
    json_object_put_string(port, "state", dev->carrier ? "active" : "down");
    json_object_put(port, "lid", json_integer_create(dev->attr.lid));
    json_object_put_string(port, "gid", ibb_gid_format(dev->attr.gid, gid,
                                                      sizeof gid));
    json_object_put(port, "ib_mtu", json_integer_create(dev->attr.mtu));
    json_object_put(port, "pkey", json_integer_create(dev->cfg.pkey));
    json_object_put(port, "qkey", json_integer_create(dev->cfg.qkey));
    json_object_put_format(port, "mac", ETH_ADDR_FMT,
                           ETH_ADDR_ARGS(dev->cfg.mac));
    json_object_put(port, "icrc_check",
                    json_boolean_create(dev->cfg.icrc_check));
    json_object_put_string(port, "udp_csum",
                           ibb_udp_csum_name(dev->cfg.udp_csum));
    json_object_put(port, "udp_csum_check",
                    json_boolean_create(dev->cfg.udp_csum_check));
    json_object_put(port, "map_hosts",
                    json_integer_create(dev->map_file_hosts));
    json_object_put(port, "map_groups",
                    json_integer_create(dev->map_file_groups));
    json_object_put(port, "map_learned",
                    json_integer_create(ibb_addr_map_n_learned(dev->map)));
    if (dev->map_error) {
        json_object_put_string(port, "map_error", dev->map_error);
    }

    groups = json_array_create_empty();
    for (size_t i = 0; i < dev->n_groups; i++) {
        const struct ibbridge_group *g = &dev->groups[i];
        struct json *group = json_object_create();
        char *spec = ibb_mcast_group_spec_to_string(&g->spec);

        json_object_put_string(group, "group", spec);
        json_object_put_string(group, "mgid",
                               ibb_gid_format(g->mgid, gid, sizeof gid));
        json_object_put(group, "mlid", json_integer_create(g->mlid));
        json_array_add(groups, group);
        free(spec);
    }
    json_object_put(port, "mcast_groups", groups);

    counters = json_object_create();
#define PUT_STAT(NAME)                                                  \
    json_object_put(counters, #NAME, json_integer_create(dev->stats.NAME))
    PUT_STAT(rx_packets);
    PUT_STAT(rx_bytes);
    PUT_STAT(rx_dropped);
    PUT_STAT(tx_packets);
    PUT_STAT(tx_bytes);
    PUT_STAT(tx_dropped);
#undef PUT_STAT
    for (int r = IBB_DROP_NONE + 1; r < IBB_DROP_N_REASONS; r++) {
        char *rx = xasprintf("rx_%s", ibb_drop_name(r));
        char *tx = xasprintf("tx_%s", ibb_drop_name(r));

        json_object_put(counters, rx, json_integer_create(dev->rx_drops[r]));
        json_object_put(counters, tx, json_integer_create(dev->tx_drops[r]));
        free(rx);
        free(tx);
    }
#define IBBRIDGE_CSTAT(NAME)                                            \
    json_object_put(counters, #NAME, json_integer_create(dev->cstats.NAME));
    IBBRIDGE_CSTATS
#undef IBBRIDGE_CSTAT
    json_object_put(port, "counters", counters);
    if (dev->flows) {
        struct json *flows = json_object_create();

        json_object_put(flows, "hits", json_integer_create(dev->flows->hits));
        json_object_put(flows, "misses",
                        json_integer_create(dev->flows->misses));
        json_object_put(port, "flow_cache", flows);
    }
    return port;
}

bool
ibbridge_for_each_port(const char *name,
                       void (*cb)(struct netdev_ibbridge *, void *aux),
                       void *aux)
{
    struct netdev_ibbridge *dev;
    bool found = false;

    ovs_mutex_lock(&ibbridge_list_mutex);
    LIST_FOR_EACH (dev, list_node, &ibbridge_list) {
        if (name && strcmp(name, netdev_get_name(&dev->up))) {
            continue;
        }
        found = true;
        ibbridge_lock(dev);
        cb(dev, aux);
        ovs_mutex_unlock(&dev->mutex);
    }
    ovs_mutex_unlock(&ibbridge_list_mutex);
    return found || !name;
}

static void
show_port_json(struct netdev_ibbridge *dev, void *ports)
    OVS_REQUIRES(dev->mutex)
{
    json_object_put(ports, netdev_get_name(&dev->up),
                    ibbridge_port_to_json(dev));
}

static void
show_port_text(struct netdev_ibbridge *dev, void *s)
    OVS_REQUIRES(dev->mutex)
{
    ibbridge_show_port(dev, s);
}

/* ibbridge/show and ibbridge/show-json: one port ('argv[1]') or all. */
static void
ibbridge_unixctl_show(struct unixctl_conn *conn, int argc,
                      const char *argv[], void *as_json)
{
    struct json *ports = json_object_create();
    struct ds s = DS_EMPTY_INITIALIZER;
    bool found;

    found = (as_json
             ? ibbridge_for_each_port(argc > 1 ? argv[1] : NULL,
                                      show_port_json, ports)
             : ibbridge_for_each_port(argc > 1 ? argv[1] : NULL,
                                      show_port_text, &s));
    if (!found) {
        unixctl_command_reply_error(conn, "no such ibbridge port");
    } else if (as_json) {
        char *text = json_to_string(ports, JSSF_SORT);

        unixctl_command_reply(conn, text);
        free(text);
    } else {
        unixctl_command_reply(conn, ds_cstr(&s));
    }
    json_destroy(ports);
    ds_destroy(&s);
}

/* Finds ibbridge port 'name'; on success returns it with its mutex held. */
struct netdev_ibbridge *
ibbridge_lock_port(const char *name)
{
    struct netdev_ibbridge *dev, *found = NULL;

    ovs_mutex_lock(&ibbridge_list_mutex);
    LIST_FOR_EACH (dev, list_node, &ibbridge_list) {
        if (!strcmp(name, netdev_get_name(&dev->up))) {
            found = dev;
            ibbridge_lock(dev);
            break;
        }
    }
    ovs_mutex_unlock(&ibbridge_list_mutex);
    return found;
}

/* ibbridge/proxy/add PORT IP QPN [QKEY]: opens (or finds) the proxy QP of
 * a RoCE endpoint, so that IB hosts can send to it first, and prints its
 * QPN. */
static void
ibbridge_unixctl_proxy_add(struct unixctl_conn *conn, int argc,
                           const char *argv[], void *aux OVS_UNUSED)
{
    struct netdev_ibbridge *dev = ibbridge_lock_port(argv[1]);
    struct ibb_proxy_endpoint ep;
    struct ibb_proxy *proxy;
    unsigned long long qpn;
    char *err = NULL;
    char *end;
    uint32_t qkey;
    int error;

    if (!dev) {
        unixctl_command_reply_error(conn, "no such ibbridge port");
        return;
    }
    memset(&ep, 0, sizeof ep);
    qkey = dev->cfg.qkey;
    errno = 0;
    qpn = strtoull(argv[3], &end, 0);
    if (!dev->proxies) {
        unixctl_command_reply_error(conn, "port has no proxy QPs (raw mode "
                                    "or not configured)");
    } else if (ibb_gid_parse(argv[2], ep.ip) || ibb_ip_is_multicast(ep.ip)
               || ibb_ip_is_unspecified(ep.ip)) {
        unixctl_command_reply_error(conn, "IP: expected a unicast IPv4 or "
                                    "IPv6 address");
    } else if (errno || *end || end == argv[3] || argv[3][0] == '-'
               || qpn < 2 || qpn >= 0xffffff) {
        unixctl_command_reply_error(conn, "QPN: expected 2 to 0xfffffe");
    } else if (argc > 4 && ibb_parse_qkey(argv[4], &qkey, &err)) {
        unixctl_command_reply_error(conn, err);
    } else {
        size_t n_before = ibb_proxy_table_count(dev->proxies);

        ep.qpn = qpn;
        error = ibb_proxy_open(dev->proxies, dev->port, &ep, qkey, true,
                               &proxy);
        if (error == ENOSPC && ibb_proxy_table_count(dev->proxies)
                               >= ibb_proxy_table_max(dev->proxies)) {
            unixctl_command_reply_error(conn, "max-proxies reached");
        } else if (error) {
            char *msg = xasprintf("cannot open a proxy QP (%s): %s",
                                  ovs_strerror(error),
                                  ibb_port_error(dev->port));
            unixctl_command_reply_error(conn, msg);
            free(msg);
        } else {
            char *reply = xasprintf("0x%06"PRIx32, proxy->proxy_qpn);

            if (ibb_proxy_table_count(dev->proxies) > n_before) {
                dev->cstats.proxies_created++;
                netdev_change_seq_changed(&dev->up);
            }
            unixctl_command_reply(conn, reply);
            free(reply);
        }
    }
    free(err);
    ovs_mutex_unlock(&dev->mutex);
}

/* ibbridge/proxy/del PORT QPN: closes a proxy QP. */
static void
ibbridge_unixctl_proxy_del(struct unixctl_conn *conn, int argc OVS_UNUSED,
                           const char *argv[], void *aux OVS_UNUSED)
{
    struct netdev_ibbridge *dev = ibbridge_lock_port(argv[1]);
    unsigned long long qpn;
    char *end;
    int error;

    if (!dev) {
        unixctl_command_reply_error(conn, "no such ibbridge port");
        return;
    }
    errno = 0;
    qpn = strtoull(argv[2], &end, 0);
    if (errno || *end || end == argv[2] || argv[2][0] == '-'
        || qpn > 0xffffff) {
        unixctl_command_reply_error(conn, "QPN: expected a 24-bit number");
    } else if (!dev->proxies || !dev->port) {
        unixctl_command_reply_error(conn, "port has no proxy QPs (raw mode "
                                    "or not configured)");
    } else if ((error = ibb_proxy_close(dev->proxies, dev->port, qpn))) {
        char *msg = (error == ENOENT
                     ? xasprintf("no proxy QP 0x%06llx", qpn)
                     : xasprintf("cannot close proxy QP 0x%06llx (%s): %s",
                                 qpn, ovs_strerror(error),
                                 ibb_port_error(dev->port)));

        unixctl_command_reply_error(conn, msg);
        free(msg);
    } else {
        netdev_change_seq_changed(&dev->up);
        unixctl_command_reply(conn, NULL);
    }
    ovs_mutex_unlock(&dev->mutex);
}

void
ibbridge_unixctl_register(void)
{
    unixctl_command_register("ibbridge/show", "[PORT]", 0, 1,
                             ibbridge_unixctl_show, NULL);
    unixctl_command_register("ibbridge/show-json", "[PORT]", 0, 1,
                             ibbridge_unixctl_show, (void *) 1);
    unixctl_command_register("ibbridge/proxy/add", "PORT IP QPN [QKEY]",
                             3, 4, ibbridge_unixctl_proxy_add, NULL);
    unixctl_command_register("ibbridge/proxy/del", "PORT QPN", 2, 2,
                             ibbridge_unixctl_proxy_del, NULL);
    ibbridge_map_unixctl_register();
}
