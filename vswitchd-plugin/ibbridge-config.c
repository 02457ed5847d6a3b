/*
 * The options of an ibbridge port (options:... of its Interface), parsed
 * and checked into a struct ibbridge_config before any of them is
 * applied, so that a rejected configuration leaves the port as it was.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "netdev-ibbridge-private.h"
#include "openvswitch/dynamic-string.h"
#include "ovsdb-session.h"
#include "smap.h"
#include "stream.h"
#include "svec.h"
#include "util.h"
#include "uuid.h"

#include "ib-gid.h"
#include "ib-mcast.h"
#include "ibb-join.h"
#include "ibb-igmp.h"
#include "ibb-options.h"
#include "ibb-proxy.h"

/* Default idle time after which a learned proxy QP is closed. */
#define IBBRIDGE_PROXY_IDLE_S 300

/* Several bridge nodes: the cluster connection's inactivity probe (OVS's
 * default for a TCP remote), and how long a node's heartbeat may stay
 * unchanged before the others take its shares (it beats three times as
 * often). */
#define IBBRIDGE_CLUSTER_PROBE_MS 5000
#define IBBRIDGE_CLUSTER_DEAD_MS 1500

/* A locally administered MAC derived from the port name, so that it stays
 * the same across restarts until "mac" is set. */
struct eth_addr
ibbridge_default_mac(const char *name)
{
    uint32_t h = hash_string(name, 0x1bb1);
    struct eth_addr mac = ETH_ADDR_C(02, 1b, 00, 00, 00, 00);

    mac.ea[2] = h >> 24;
    mac.ea[3] = h >> 16;
    mac.ea[4] = h >> 8;
    mac.ea[5] = h;
    return mac;
}

void
ibbridge_config_destroy(struct ibbridge_config *cfg)
{
    ibb_device_spec_destroy(&cfg->device);
    free(cfg->device_str);
    free(cfg->groups);
    free(cfg->map_file);
    free(cfg->neigh_interfaces);
    free(cfg->roce_prefixes);
    free(cfg->follow_ranges);
    free(cfg->cluster);
    memset(cfg, 0, sizeof *cfg);
}

/* The options set_config() knows; anything else is a typo worth reporting
 * rather than ignoring. */
static const char *const netdev_ibbridge_options[] = {
    "device", "pkey", "qkey", "mac", "gid-index", "mcast-groups",
    "mgid-format", "sl-map", "dscp-map", "map", "icrc-check", "port-mode",
    "max-proxies", "proxy-idle-timeout", "mac-aging-time", "announce",
    "neigh-interfaces", "roce-prefixes", "ipoib-arp", "mcast-join-rate",
    "igmp", "igmp-version", "mld-version", "igmp-source", "mld-source",
    "mcast-follow", "mcast-follow-groups", "udp-csum", "udp-csum-check",
    "n_rxq", "cluster", "cluster-probe", "cluster-dead-interval",
};

static bool
is_known_option(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(netdev_ibbridge_options); i++) {
        if (!strcmp(key, netdev_ibbridge_options[i])) {
            return true;
        }
    }
    return false;
}

/* Returns the message for unknown option 'key', listing the known ones. */
static char *
unknown_option_error(const char *key)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "unknown option \"%s\" (known: ", key);
    for (size_t i = 0; i < ARRAY_SIZE(netdev_ibbridge_options); i++) {
        ds_put_format(&s, "%s%s", i ? ", " : "", netdev_ibbridge_options[i]);
    }
    ds_put_char(&s, ')');
    return ds_steal_cstr(&s);
}

/* Parses every option in 'args' into 'cfg'.  On error returns a positive
 * errno and stores the message, without the port name, in '*errp'. */
/* Parses option 'key' of 'args', a number of seconds from 0 (which means
 * 'zero_means') to a day, into '*out', or 'dflt' if it is not set. */
static int
parse_seconds(const struct smap *args, const char *key, unsigned int dflt,
              const char *zero_means, unsigned int *out, char **errp)
{
    const char *value = smap_get(args, key);
    unsigned long long n = dflt;

    if (value && !ibb_parse_uint(value, 86400, &n)) {
        *errp = xasprintf("%s \"%s\": expected seconds from 0 (%s) to "
                          "86400", key, value, zero_means);
        return EINVAL;
    }
    *out = n;
    return 0;
}

/* Parses option 'key' of 'args', milliseconds from 'min' to 'max' or 0 if
 * 'zero_ok', into '*out', or 'dflt' if it is not set. */
static int
parse_ms(const struct smap *args, const char *key, unsigned int dflt,
         unsigned int min, unsigned int max, bool zero_ok,
         unsigned int *out, char **errp)
{
    const char *value = smap_get(args, key);
    unsigned long long n = dflt;

    if (value && (!ibb_parse_uint(value, max, &n)
                  || (n < min && !(zero_ok && !n)))) {
        *errp = xasprintf("%s \"%s\": expected milliseconds from %u to "
                          "%u%s", key, value, min, max,
                          zero_ok ? " (or 0: none)" : "");
        return EINVAL;
    }
    *out = n;
    return 0;
}

/* Parses the options of several bridge nodes (ibbridge-cluster.c). */
static int
parse_cluster_options(const struct smap *args, struct ibbridge_config *cfg,
                      char **errp)
{
    const char *value = smap_get(args, "cluster");
    int error;

    if (value && value[0]) {
        struct svec remotes = SVEC_EMPTY_INITIALIZER;
        const char *remote;
        struct uuid cid;
        size_t i;

        ovsdb_session_parse_remote(value, &remotes, &cid);
        SVEC_FOR_EACH (i, remote, &remotes) {
            if (stream_verify_name(remote)) {
                *errp = xasprintf("cluster \"%s\": \"%s\" is not an OVSDB "
                                  "remote (tcp:IP:PORT, ssl:IP:PORT or "
                                  "unix:FILE)", value, remote);
                svec_destroy(&remotes);
                return EINVAL;
            }
        }
        if (!remotes.n) {
            *errp = xasprintf("cluster \"%s\": no remote", value);
            svec_destroy(&remotes);
            return EINVAL;
        }
        svec_destroy(&remotes);
        cfg->cluster = xstrdup(value);
    }
    error = parse_ms(args, "cluster-probe", IBBRIDGE_CLUSTER_PROBE_MS, 1000,
                     3600 * 1000, true, &cfg->cluster_probe_ms, errp);
    if (!error) {
        error = parse_ms(args, "cluster-dead-interval",
                         IBBRIDGE_CLUSTER_DEAD_MS, 300, 600 * 1000, false,
                         &cfg->cluster_dead_ms, errp);
    }
    return error;
}

/* Parses the Ethernet-side IGMP/MLD options (vswitchd-plugin/
 * ibbridge-igmp.c) into 'cfg', whose MAC is set. */
static int
parse_igmp_options(const struct smap *args, struct ibbridge_config *cfg,
                   char **errp)
{
    const char *value;
    uint8_t ip[16];
    int error;

    cfg->igmp = true;
    value = smap_get(args, "igmp");
    if (value && (error = ibb_parse_bool("igmp", value, &cfg->igmp,
                                         errp))) {
        return error;
    }
    cfg->igmp_version = 3;
    value = smap_get(args, "igmp-version");
    if (value) {
        if (strcmp(value, "1") && strcmp(value, "2") && strcmp(value, "3")) {
            *errp = xasprintf("igmp-version \"%s\": expected 1, 2 or 3",
                              value);
            return EINVAL;
        }
        cfg->igmp_version = atoi(value);
    }
    cfg->mld_version = 2;
    value = smap_get(args, "mld-version");
    if (value) {
        if (strcmp(value, "1") && strcmp(value, "2")) {
            *errp = xasprintf("mld-version \"%s\": expected 1 or 2", value);
            return EINVAL;
        }
        cfg->mld_version = atoi(value);
    }
    value = smap_get(args, "igmp-source");
    if (value) {
        if (ibb_gid_parse(value, ip) || !ibb_gid_is_v4mapped(ip)
            || (!ibb_ip_is_unspecified(ip) && ibb_ip_is_bad_source(ip))) {
            *errp = xasprintf("igmp-source \"%s\": expected an IPv4 "
                              "unicast address or 0.0.0.0", value);
            return EINVAL;
        }
        memcpy(cfg->igmp_source, ip + 12, 4);
    }
    value = smap_get(args, "mld-source");
    if (value) {
        if (ibb_gid_parse(value, ip) || ip[0] != 0xfe
            || (ip[1] & 0xc0) != 0x80) {
            *errp = xasprintf("mld-source \"%s\": expected an IPv6 "
                              "link-local address (fe80::/10)", value);
            return EINVAL;
        }
        memcpy(cfg->mld_source, ip, 16);
    } else {
        ibb_igmp_link_local(cfg->mac.ea, cfg->mld_source);
    }
    return 0;
}

/* Parses "mcast-follow" (which sides' membership the port follows) and
 * "mcast-follow-groups" (the groups it may follow) into 'cfg'. */
static int
parse_follow_options(const struct smap *args, struct ibbridge_config *cfg,
                     char **errp)
{
    const char *value = smap_get(args, "mcast-follow");

    if (value && strcmp(value, "none") && value[0]) {
        char *copy = xstrdup(value), *save = NULL;

        for (char *tok = strtok_r(copy, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (!strcmp(tok, "ethernet")) {
                cfg->follow_ethernet = true;
            } else if (!strcmp(tok, "ib")) {
                cfg->follow_ib = true;
            } else {
                *errp = xasprintf("mcast-follow \"%s\": expected none, "
                                  "ethernet, ib or ethernet,ib", value);
                free(copy);
                return EINVAL;
            }
        }
        free(copy);
    }
    if (cfg->follow_ib && cfg->device.kind == IBB_DEVICE_VERBS) {
        /* The SA's group notices need libibumad (lib/ibport-verbs.c). */
        *errp = xstrdup("mcast-follow=ib: not yet on verbs ports (only on "
                        "simulated ones)");
        return EINVAL;
    }
    value = smap_get(args, "mcast-follow-groups");
    if (value) {
        if (!cfg->follow_ethernet && !cfg->follow_ib) {
            *errp = xstrdup("mcast-follow-groups: without mcast-follow "
                            "there is nothing to follow");
            return EINVAL;
        }
        return ibb_parse_mcast_ranges(value, &cfg->follow_ranges,
                                      &cfg->n_follow_ranges, errp);
    }
    return 0;
}

int
ibbridge_config_parse(const char *name, const struct smap *args,
              struct ibbridge_config *cfg, char **errp)
{
    struct smap_node *node;
    const char *value;
    int error;

    memset(cfg, 0, sizeof *cfg);
    SMAP_FOR_EACH (node, args) {
        if (!is_known_option(node->key)) {
            *errp = unknown_option_error(node->key);
            return EINVAL;
        }
    }

    error = ibb_parse_device(smap_get(args, "device"), &cfg->device, errp);
    if (error) {
        return error;
    }
    cfg->device_str = ibb_device_spec_to_string(&cfg->device);

    cfg->pkey = IBB_DEFAULT_PKEY;
    value = smap_get(args, "pkey");
    if (value && (error = ibb_parse_pkey(value, &cfg->pkey, errp))) {
        return error;
    }
    cfg->qkey = IBB_DEFAULT_QKEY;
    value = smap_get(args, "qkey");
    if (value && (error = ibb_parse_qkey(value, &cfg->qkey, errp))) {
        return error;
    }
    if (cfg->device.kind == IBB_DEVICE_VERBS && cfg->qkey != IBB_DEFAULT_QKEY) {
        /* rdma_cm joins in the UDP port space with this Q_Key only. */
        *errp = xasprintf("qkey 0x%08"PRIx32": on an HCA the multicast "
                          "Q_Key is rdma_cm's 0x%08x", cfg->qkey,
                          IBB_DEFAULT_QKEY);
        return EINVAL;
    }
    value = smap_get(args, "mac");
    if (value) {
        error = ibb_parse_mac(value, cfg->mac.ea, errp);
        if (error) {
            return error;
        }
        cfg->mac_configured = true;
    } else {
        cfg->mac = ibbridge_default_mac(name);
    }
    error = parse_igmp_options(args, cfg, errp);
    if (!error) {
        error = parse_follow_options(args, cfg, errp);
    }
    if (error) {
        return error;
    }
    value = smap_get(args, "gid-index");
    if (value && (error = ibb_parse_gid_index(value, &cfg->gid_index,
                                              errp))) {
        return error;
    }
    if (cfg->gid_index && cfg->device.kind == IBB_DEVICE_SIM) {
        *errp = xasprintf("gid-index %u: a simulated port has only GID "
                          "index 0", cfg->gid_index);
        return EINVAL;
    }
    cfg->mgid_format = IBB_MGID_IPOIB;
    value = smap_get(args, "mgid-format");
    if (value && (error = ibb_parse_mgid_format(value, &cfg->mgid_format,
                                                errp))) {
        return error;
    }
    error = ibb_parse_mcast_groups(smap_get(args, "mcast-groups"),
                                   cfg->mgid_format, &cfg->groups,
                                   &cfg->n_groups, errp);
    if (error) {
        return error;
    }
    for (int dscp = 0; dscp < 64; dscp++) {
        cfg->sl_map[dscp] = dscp >> 3;
    }
    value = smap_get(args, "sl-map");
    if (value && (error = ibb_parse_sl_map(value, cfg->sl_map, errp))) {
        return error;
    }
    memset(cfg->dscp_map, IBB_DSCP_KEEP, sizeof cfg->dscp_map);
    value = smap_get(args, "dscp-map");
    if (value && (error = ibb_parse_dscp_map(value, cfg->dscp_map, errp))) {
        return error;
    }
    value = smap_get(args, "map");
    if (value) {
        if (!value[0]) {
            *errp = xstrdup("map \"\": expected the path of a JSON address "
                            "map file");
            return EINVAL;
        }
        cfg->map_file = xstrdup(value);
    }
    value = smap_get(args, "neigh-interfaces");
    if (value && *value) {
        cfg->neigh_interfaces = xstrdup(value);
    }
    value = smap_get(args, "roce-prefixes");
    cfg->roce_prefixes_set = value != NULL;
    error = ibb_parse_roce_prefixes(value ? value
                                    : IBB_DEFAULT_ROCE_PREFIXES,
                                    &cfg->roce_prefixes,
                                    &cfg->n_roce_prefixes, errp);
    if (error) {
        return error;
    }
    value = smap_get(args, "ipoib-arp");
    if (value && (error = ibb_parse_bool("ipoib-arp", value,
                                         &cfg->ipoib_arp, errp))) {
        return error;
    }
    if (cfg->ipoib_arp && cfg->device.kind == IBB_DEVICE_VERBS) {
        /* It needs a join in rdma_cm's IPoIB port space (the group's
         * Q_Key) attached to a QP of that Q_Key: see README.rst. */
        *errp = xstrdup("ipoib-arp: not yet on verbs ports (only on "
                        "simulated ones)");
        return EINVAL;
    }
    cfg->icrc_check = true;
    value = smap_get(args, "icrc-check");
    if (value && (error = ibb_parse_bool("icrc-check", value,
                                         &cfg->icrc_check, errp))) {
        return error;
    }
    cfg->udp_csum = IBB_UDP_CSUM_ALL;
    value = smap_get(args, "udp-csum");
    if (value && (error = ibb_parse_udp_csum(value, &cfg->udp_csum, errp))) {
        return error;
    }
    value = smap_get(args, "udp-csum-check");
    if (value && (error = ibb_parse_bool("udp-csum-check", value,
                                         &cfg->udp_csum_check, errp))) {
        return error;
    }
    value = smap_get(args, "announce");
    if (value && (error = ibb_parse_bool("announce", value, &cfg->announce,
                                         errp))) {
        return error;
    }
    cfg->port_mode = IBB_PORT_STRICT;
    value = smap_get(args, "port-mode");
    if (value && !strcmp(value, "raw")) {
        if (cfg->device.kind != IBB_DEVICE_SIM) {
            *errp = xstrdup("port-mode raw: only a simulated port has a raw "
                            "mode (an HCA delivers by QPN and Q_Key)");
            return EINVAL;
        }
        cfg->port_mode = IBB_PORT_RAW;
    } else if (value && strcmp(value, "strict")) {
        *errp = xasprintf("port-mode \"%s\": expected strict or raw", value);
        return EINVAL;
    }
    value = smap_get(args, "mcast-join-rate");
    if (value) {
        unsigned long long n;

        if (!ibb_parse_uint(value, IBB_JOIN_MAX_RATE, &n) || !n) {
            *errp = xasprintf("mcast-join-rate \"%s\": expected joins per "
                              "second, 1 to %d", value, IBB_JOIN_MAX_RATE);
            return EINVAL;
        }
        cfg->join_rate = n;
    }
    cfg->n_rxq = 1;
    value = smap_get(args, "n_rxq");
    if (value) {
        unsigned long long n;

        if (!ibb_parse_uint(value, IBBRIDGE_MAX_RXQ, &n) || !n) {
            *errp = xasprintf("n_rxq \"%s\": expected a number of receive "
                              "queues, 1 to %d", value, IBBRIDGE_MAX_RXQ);
            return EINVAL;
        }
        if (n > 1 && cfg->device.kind != IBB_DEVICE_VERBS) {
            *errp = xasprintf("n_rxq %llu: a simulated port has one receive "
                              "queue (several need a verbs device)", n);
            return EINVAL;
        }
        cfg->n_rxq = n;
    }
    cfg->max_proxies = IBB_PROXY_DEFAULT_MAX;
    value = smap_get(args, "max-proxies");
    if (value) {
        unsigned long long n;

        if (!ibb_parse_uint(value, 1 << 20, &n) || !n) {
            *errp = xasprintf("max-proxies \"%s\": expected a number from "
                              "1 to %d", value, 1 << 20);
            return EINVAL;
        }
        cfg->max_proxies = n;
    }
    error = parse_cluster_options(args, cfg, errp);
    if (error) {
        return error;
    }
    error = parse_seconds(args, "proxy-idle-timeout", IBBRIDGE_PROXY_IDLE_S,
                          "never", &cfg->proxy_idle_s, errp);
    if (!error) {
        error = parse_seconds(args, "mac-aging-time", IBBRIDGE_MAC_AGING_S,
                              "no learning", &cfg->mac_aging_s, errp);
    }
    return error;
}
