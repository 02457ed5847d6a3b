/*
 * The address map of an ibbridge port and the address resolution it does
 * on the Ethernet side: loading the map file and reloading it when it
 * changes, learning RoCE hosts' MACs from their traffic and ageing them
 * out, and answering ARP and ND for IB hosts.  The protocol and table work
 * is in lib/ (addr-map, ibb-neigh); this file wires it to the netdev.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "ibbridge-cluster.h"
#include "netdev-ibbridge-private.h"
#include "openvswitch/vlog.h"
#include "seq.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"
#include "openvswitch/dynamic-string.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ibb-file-stamp.h"
#include "ibb-ipoib-arp.h"
#include "ibb-kneigh.h"
#include "ibb-neigh.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_addr);

/* How often learned MACs are aged. */
#define IBBRIDGE_LEARN_SWEEP_MS 1000

/* The most MACs a port learns. */
#define IBBRIDGE_MAX_LEARNED 65536

/* Loads the address map named in 'cfg' (an empty map if none), and the
 * file's stamp as it was before reading it into '*stamp' (a change while
 * it is read shows at the next check). */
int
ibbridge_map_load(const struct ibbridge_config *cfg, struct ibb_addr_map **mapp,
         struct ibb_file_stamp *stamp, char **errp)
{
    struct ibb_addr_map *map = ibb_addr_map_create();
    char err[PATH_MAX + 256];   /* Names the map file. */
    int error;

    *mapp = NULL;
    memset(stamp, 0, sizeof *stamp);
    if (cfg->map_file) {
        ibb_file_stamp_get(cfg->map_file, stamp);
        error = ibb_addr_map_load_json_file(map, cfg->map_file, err,
                                            sizeof err);
        if (error) {
            /* The loader's message names the file. */
            *errp = xasprintf("map: %s", err);
            ibb_addr_map_destroy(map);
            return error;
        }
    }
    *mapp = map;
    return 0;
}

/* Records joined group 'g' in 'map', which does not have its IP. */
int
ibbridge_map_add_joined_group(struct ibb_addr_map *map, const struct ibbridge_group *g,
                     uint16_t pkey)
{
    struct ibb_group entry = {
        .mlid = g->mlid,
        .format = g->spec.format,
        .pkey = pkey,
        .scope = IBB_MCAST_SCOPE_LINK,
        .explicit_mgid = true,
    };

    memcpy(entry.ip, g->spec.ip, 16);
    memcpy(entry.mgid, g->mgid, 16);
    return ibb_addr_map_add_group(map, &entry);
}

/* Forgets learned MACs not seen for mac-aging-time, once a second. */
void
ibbridge_map_expire_learned(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    long long int now = time_msec();

    if (!dev->map || !dev->cfg.mac_aging_s || now < dev->next_learn_sweep) {
        return;
    }
    dev->next_learn_sweep = now + IBBRIDGE_LEARN_SWEEP_MS;
    dev->cstats.macs_expired
        += ibb_addr_map_expire_learned(dev->map, now,
                                       dev->cfg.mac_aging_s * 1000LL);
}

/* Reloads the map file if it changed since it was read.  A file that no
 * longer loads leaves the map as it was, with the error in status:map_error
 * and the log; the groups the port joined stay in the new map. */
void
ibbridge_map_check(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    long long int now = time_msec();
    size_t file_hosts = 0, file_groups = 0;
    struct ibb_file_stamp stamp;
    struct ibb_addr_map *map;
    char *err = NULL;
    int error = 0;

    if (!dev->map || !dev->cfg.map_file || now < dev->next_map_check) {
        return;
    }
    dev->next_map_check = now + IBBRIDGE_MAP_CHECK_MS;
    ibb_file_stamp_get(dev->cfg.map_file, &stamp);
    if (ibb_file_stamp_equal(&stamp, &dev->map_stamp)) {
        return;
    }

    error = ibbridge_map_load(&dev->cfg, &map, &stamp, &err);
    dev->map_stamp = stamp;
    if (!error) {
        file_hosts = ibb_addr_map_n_hosts(map);
        file_groups = ibb_addr_map_n_groups(map);
        ibb_addr_map_copy_runtime(map, dev->map);
    }
    for (size_t i = 0; !error && i < dev->n_groups; i++) {
        struct ibbridge_group *g = &dev->groups[i];

        const struct ibb_group *known
            = ibb_addr_map_find_group_ip(map, g->spec.ip);

        if (known && memcmp(known->mgid, g->mgid, 16)) {
            char *spec = ibb_mcast_group_spec_to_string(&g->spec);

            err = xasprintf("map: multicast group %s of mcast-groups was "
                            "joined with another MGID than the map gives "
                            "it now (change the options to join it again)",
                            spec);
            free(spec);
            ibb_addr_map_destroy(map);
            error = EEXIST;
        } else if (known) {
            ibb_addr_map_set_group_mlid(map, g->mgid, g->mlid);
            g->added_to_map = false;
        } else {
            g->added_to_map = true;
            error = ibbridge_map_add_joined_group(map, g, dev->cfg.pkey);
            if (error) {
                char *spec = ibb_mcast_group_spec_to_string(&g->spec);

                err = xasprintf("map: multicast group %s of mcast-groups "
                                "conflicts with the map (%s)", spec,
                                ovs_strerror(error));
                free(spec);
                ibb_addr_map_destroy(map);
            }
        }
    }
    if (error) {
        if (!dev->map_error || strcmp(err, dev->map_error)) {
            VLOG_WARN("%s: %s; keeping the map loaded before",
                      netdev_get_name(&dev->up), err);
        }
        free(dev->map_error);
        dev->map_error = err;
    } else {
        dev->map_file_hosts = file_hosts;
        dev->map_file_groups = file_groups;
        ibb_addr_map_copy_group_stats(map, dev->map);
        ibb_addr_map_destroy(dev->map);
        dev->map = map;
        free(dev->map_error);
        dev->map_error = NULL;
        ibbridge_map_announce(dev);
        VLOG_INFO("%s: reloaded map %s (%zu hosts, %zu groups)",
                  netdev_get_name(&dev->up), dev->cfg.map_file,
                  file_hosts, file_groups);
    }
    netdev_change_seq_changed(&dev->up);
}

/* Learns that the RoCE host with IP 'ip' has MAC 'mac', from a frame the
 * converter accepted (so its source passed the trust rules). */
/* Learns RoCE host 'ip' -> 'mac', from its ARP or ND ('arp') or from
 * its traffic. */
static void
learn_roce(struct netdev_ibbridge *dev, const uint8_t ip[16],
           const uint8_t mac[6], bool arp)
    OVS_REQUIRES(dev->mutex)
{
    static struct vlog_rate_limit learn_rl = VLOG_RATE_LIMIT_INIT(1, 10);
    size_t before = ibb_addr_map_n_learned(dev->map);
    int error;

    error = (arp ? ibb_addr_map_learn_arp : ibb_addr_map_learn_mac)(
        dev->map, ip, mac, time_msec(), IBBRIDGE_MAX_LEARNED);
    if (!error) {
        if (ibb_addr_map_n_learned(dev->map) > before) {
            dev->cstats.macs_learned++;
        }
    } else if (error == ENOSPC) {
        dev->cstats.learn_full++;
    } else {
        char s[IBB_GID_STRLEN];

        dev->cstats.learn_conflicts++;
        VLOG_WARN_RL(&learn_rl, "%s: %s seen from "ETH_ADDR_FMT", but the "
                     "map has it %s: not learned",
                     netdev_get_name(&dev->up), ibb_ip_format(ip, s, sizeof s),
                     ETH_ADDR_BYTES_ARGS(mac),
                     error == EPERM ? "for an IB host"
                     : "with another MAC (from the file, by hand or from "
                       "the kernel)");
    }
}

void
ibbridge_map_learn(struct netdev_ibbridge *dev, const uint8_t ip[16],
                   const uint8_t mac[6])
    OVS_REQUIRES(dev->mutex)
{
    learn_roce(dev, ip, mac, false);
}

int
ibbridge_map_learn_ib(struct netdev_ibbridge *dev, const uint8_t ip[16],
                      const uint8_t gid[16], uint16_t lid, uint32_t qpn,
                      enum ibb_host_source source)
    OVS_REQUIRES(dev->mutex)
{
    static struct vlog_rate_limit learn_rl = VLOG_RATE_LIMIT_INIT(1, 10);
    const struct ibb_host *old = ibb_addr_map_find_ip(dev->map, ip);
    bool known = old && old->has_gid && !memcmp(old->gid, gid, 16);
    char s[IBB_GID_STRLEN], g[IBB_GID_STRLEN];
    int error;

    error = ibb_addr_map_learn_ib(dev->map, ip, gid, lid, qpn, source,
                                  time_msec(), IBBRIDGE_MAX_LEARNED);
    if (!error) {
        dev->cstats.ib_hosts_learned += !known;
    } else if (error == ENOSPC) {
        dev->cstats.learn_full++;
    } else {
        if (source == IBB_HOST_KERNEL) {
            dev->cstats.kernel_conflicts++;
        } else {
            dev->cstats.learn_conflicts++;
        }
        VLOG_WARN_RL(&learn_rl, "%s: IB host %s says it has %s, but the map "
                     "has it %s: not learned", netdev_get_name(&dev->up),
                     ibb_gid_format(gid, g, sizeof g),
                     ibb_ip_format(ip, s, sizeof s),
                     error == EPERM ? "for a RoCE host"
                     : error == EINVAL ? "no valid GID"
                     : "otherwise (another GID, or the GID with other "
                       "addresses) from a better source");
    }
    return error;
}

void
ibbridge_ib_source_get(const struct netdev_ibbridge *dev, const uint8_t *pkt,
                       size_t len, struct ibbridge_ib_source *src)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;
    const struct ibb_grh *grh = (const struct ibb_grh *) (lrh + 1);

    /* Only IB hosts learned from IPoIB ARP or the kernel need it. */
    src->valid = ((ibb_addr_map_n_learned(dev->map) || dev->kneigh)
                  && len >= IBB_LRH_LEN + IBB_GRH_LEN
                  && ibb_lrh_lnh(lrh) == IBB_LNH_GLOBAL);
    if (src->valid) {
        memcpy(src->sgid, grh->sgid, 16);
        src->slid = ibb_lrh_slid(lrh);
    }
}

void
ibbridge_ib_source_seen(struct netdev_ibbridge *dev,
                        const struct ibbridge_ib_source *src)
    OVS_REQUIRES(dev->mutex)
{
    if (src->valid) {
        ibb_addr_map_touch_ib(dev->map, src->sgid, src->slid, time_msec());
    }
}

/* Answers 'pkt' if it is an ARP request or IPv6 neighbour solicitation for
 * an IB host (lib/ibb-neigh.h), queueing the answer for the port to
 * receive.  Returns false if 'pkt' is neither ARP nor ND, for the
 * converter; true if it was answered or counted. */
bool
ibbridge_answer_neigh(struct netdev_ibbridge *dev,
                             const struct dp_packet *pkt)
    OVS_REQUIRES(dev->mutex)
{
    uint8_t answer[IBB_NEIGH_REPLY_MAX];
    struct dp_packet *reply;
    size_t len;

    enum ibb_neigh_result result;
    uint8_t ip[16], mac[6];

    result = ibb_neigh_answer_for(dev->map, dev->cfg.mac.ea,
                                  ibbridge_cluster_owns, dp_packet_data(pkt),
                                  dp_packet_size(pkt), answer, &len);
    if (result != IBB_NEIGH_NOT_NEIGH && result != IBB_NEIGH_MALFORMED
        && dev->cfg.mac_aging_s
        && ibb_neigh_sender(dp_packet_data(pkt), dp_packet_size(pkt), ip,
                            mac)) {
        learn_roce(dev, ip, mac, true);
    }
    switch (result) {
    case IBB_NEIGH_NOT_NEIGH:
        return false;
    case IBB_NEIGH_ANSWERED_ARP:
        dev->cstats.arp_answered++;
        break;
    case IBB_NEIGH_ANSWERED_ND:
        dev->cstats.nd_answered++;
        break;
    case IBB_NEIGH_NOT_IB_HOST:
        dev->cstats.tx_neigh_not_ib++;
        dev->stats.tx_dropped++;
        return true;
    case IBB_NEIGH_NOT_OWNER:
        /* Another bridge node answers for this IB host. */
        dev->cstats.tx_neigh_not_owner++;
        dev->stats.tx_dropped++;
        return true;
    case IBB_NEIGH_IGNORED:
        dev->cstats.tx_neigh_ignored++;
        dev->stats.tx_dropped++;
        return true;
    case IBB_NEIGH_MALFORMED:
    default:
        dev->cstats.tx_neigh_malformed++;
        dev->stats.tx_dropped++;
        return true;
    }
    if (dp_packet_batch_is_full(&dev->neigh_answers)) {
        dev->cstats.neigh_overflow++;
        return true;
    }
    reply = dp_packet_clone_data(answer, len);
    dp_packet_batch_add(&dev->neigh_answers, reply);
    seq_change(dev->neigh_seq);
    return true;
}


/* ------------------------------------------------------------------ */
/* Kernel neighbours (neigh-interfaces). */

/* An IPoIB neighbour: flags and QPN, then the GID.  The LID comes from
 * a path query where the port can ask (a simulated one), else from the
 * host's first datagram (ibbridge_ib_source_seen()); until then the map
 * has no LID for it and datagrams toward it are dropped as no_dst. */
static void
kernel_ipoib_neighbour(struct netdev_ibbridge *dev, const uint8_t ip[16],
                       const uint8_t *lladdr)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_host *old;
    struct ibb_ipoib_hwaddr hw;
    uint16_t lid = 0;

    ibb_ipoib_hwaddr_parse(lladdr, &hw);
    if (!ibb_gid_same_prefix(hw.gid, dev->attr.gid)) {
        /* Not a GID of the IB subnet: not an IB host. */
        dev->cstats.kernel_conflicts++;
        return;
    }
    old = ibb_addr_map_find_ip(dev->map, ip);
    if (old && old->has_gid && !memcmp(old->gid, hw.gid, 16)
        && old->qpn == hw.qpn) {
        /* Only the entry's state changed (reachable, stale...). */
        return;
    }
    /* A simulated port asks its SA at once; an HCA port cannot. */
    if (dev->port && ibb_port_path_query(dev->port, hw.gid, &lid)) {
        lid = 0;
    }
    if (!ibbridge_map_learn_ib(dev, ip, hw.gid, lid, hw.qpn,
                               IBB_HOST_KERNEL)) {
        dev->cstats.kernel_updates++;
    }
}

static void
kernel_neighbour(const uint8_t ip[16], const uint8_t *lladdr,
                 size_t lladdr_len, bool present, void *dev_)
{
    static struct vlog_rate_limit knl_rl = VLOG_RATE_LIMIT_INIT(1, 10);
    struct netdev_ibbridge *dev = dev_;
    char s[IBB_GID_STRLEN];
    int error;

    if (!dev->map) {
        return;
    }
    if (!present) {
        if (!ibb_addr_map_del_ip_from(dev->map, ip, IBB_HOST_KERNEL)) {
            dev->cstats.kernel_updates++;
        }
        return;
    }
    if (lladdr_len == IBB_IPOIB_HWADDR_LEN) {
        kernel_ipoib_neighbour(dev, ip, lladdr);
        return;
    } else if (lladdr_len != ETH_ADDR_LEN) {
        return;
    }
    error = ibb_addr_map_set_kernel_mac(dev->map, ip, lladdr, time_msec());
    if (!error) {
        dev->cstats.kernel_updates++;
    } else {
        dev->cstats.kernel_conflicts++;
        VLOG_WARN_RL(&knl_rl, "%s: kernel neighbour %s "ETH_ADDR_FMT" not "
                     "taken: the map has it %s", netdev_get_name(&dev->up),
                     ibb_ip_format(ip, s, sizeof s),
                     ETH_ADDR_BYTES_ARGS(lladdr),
                     error == EPERM ? "for an IB host" : "with another MAC");
    }
}

void
ibbridge_map_follow_kernel(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->kneigh && dev->map) {
        ibb_kneigh_run(dev->kneigh, kernel_neighbour, dev);
    }
}

/* ------------------------------------------------------------------ */
/* Announcements. */

void
ibbridge_map_announce_cancel(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    for (size_t i = 0; i < dev->n_announce; i++) {
        dp_packet_delete(dev->announce[i]);
    }
    free(dev->announce);
    dev->announce = NULL;
    dev->n_announce = 0;
}

struct announce_ctx {
    struct netdev_ibbridge *dev;
    size_t allocated;
    bool gained_only;           /* Only what this node did not own... */
    const struct ibbridge_cluster_owners *before;   /* ...under these. */
};

/* Is 'ip', an IB host's, this node's to announce? */
static bool
announce_ip(const struct announce_ctx *ctx, const uint8_t ip[16])
{
    return (ctx->gained_only ? ibbridge_cluster_gained(ctx->before, ip)
                             : ibbridge_cluster_owns(ip));
}

static void
announce_add(struct announce_ctx *ctx, const uint8_t ip[16])
{
    struct netdev_ibbridge *dev = ctx->dev;
    uint8_t frame[IBB_NEIGH_REPLY_MAX];
    size_t len = ibb_neigh_announce(dev->cfg.mac.ea, ip, frame);

    if (dev->n_announce >= ctx->allocated) {
        dev->announce = x2nrealloc(dev->announce, &ctx->allocated,
                                   sizeof *dev->announce);
    }
    dev->announce[dev->n_announce++] = dp_packet_clone_data(frame, len);
}

/* Announces IB host 'h''s addresses that this bridge node answers for
 * (all, unless several nodes share the hosts). */
static void
announce_host(const struct ibb_host *h, enum ibb_host_source source
              OVS_UNUSED, long long int last_seen OVS_UNUSED, void *ctx)
{
    if (h->has_gid) {
        if (h->has_ipv4 && announce_ip(ctx, h->ipv4)) {
            announce_add(ctx, h->ipv4);
        }
        if (h->has_ipv6 && announce_ip(ctx, h->ipv6)) {
            announce_add(ctx, h->ipv6);
        }
    }
}

void
ibbridge_map_announce(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct announce_ctx ctx = { .dev = dev };

    ibbridge_map_announce_cancel(dev);
    if (dev->cfg.announce && dev->map) {
        ibb_addr_map_foreach_host(dev->map, announce_host, &ctx);
    }
}

void
ibbridge_map_announce_owned(struct netdev_ibbridge *dev,
                            const struct ibbridge_cluster_owners *before)
    OVS_REQUIRES(dev->mutex)
{
    /* Adds to what may still wait from an earlier change (the array has
     * room for at least that many). */
    struct announce_ctx ctx = { .dev = dev, .allocated = dev->n_announce,
                                .gained_only = true, .before = before };

    if (dev->map) {
        ibb_addr_map_foreach_host(dev->map, announce_host, &ctx);
    }
}

/* ------------------------------------------------------------------ */
/* ovs-appctl ibbridge/map/... */

struct map_show_ctx {
    struct ds *s;
    long long int now;
};

static void
map_show_host(const struct ibb_host *h, enum ibb_host_source source,
              long long int last_seen, void *ctx_)
{
    struct map_show_ctx *ctx = ctx_;
    char buf[IBB_GID_STRLEN];

    ds_put_cstr(ctx->s, " ");
    if (h->has_gid) {
        ds_put_format(ctx->s, " gid %s", ibb_gid_format(h->gid, buf,
                                                         sizeof buf));
    }
    if (h->lid) {
        ds_put_format(ctx->s, " lid %"PRIu16, h->lid);
    }
    if (h->qpn) {
        ds_put_format(ctx->s, " qpn 0x%06"PRIx32, h->qpn);
    }
    if (h->has_ipv4) {
        ds_put_format(ctx->s, " ipv4 %s", ibb_ip_format(h->ipv4, buf,
                                                         sizeof buf));
    }
    if (h->has_ipv6) {
        ds_put_format(ctx->s, " ipv6 %s", ibb_ip_format(h->ipv6, buf,
                                                         sizeof buf));
    }
    if (h->has_mac) {
        ds_put_format(ctx->s, " mac "ETH_ADDR_FMT,
                      ETH_ADDR_BYTES_ARGS(h->mac));
    }
    ds_put_format(ctx->s, " (%s", ibb_host_source_name(source));
    if (source == IBB_HOST_LEARNED || source == IBB_HOST_ARP) {
        ds_put_format(ctx->s, ", seen %lld s ago",
                      (ctx->now - last_seen) / 1000);
    } else if (source == IBB_HOST_ADDED) {
        ds_put_format(ctx->s, ", %lld s ago", (ctx->now - last_seen) / 1000);
    }
    ds_put_cstr(ctx->s, ")\n");
}

static void
map_show_port(struct netdev_ibbridge *dev, void *s_)
    OVS_REQUIRES(dev->mutex)
{
    struct map_show_ctx ctx = { s_, time_msec() };

    ds_put_format(ctx.s, "%s:", netdev_get_name(&dev->up));
    if (dev->map) {
        ds_put_format(ctx.s, " %zu hosts (%zu learned)\n",
                      ibb_addr_map_n_hosts(dev->map),
                      ibb_addr_map_n_learned(dev->map));
        ibb_addr_map_foreach_host(dev->map, map_show_host, &ctx);
    } else {
        ds_put_cstr(ctx.s, " not configured\n");
    }
}

/* ibbridge/map/show [PORT]: every host of the map of one port or all,
 * with where it came from and, if learned, when it was last seen. */
static void
map_unixctl_show(struct unixctl_conn *conn, int argc, const char *argv[],
                 void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!ibbridge_for_each_port(argc > 1 ? argv[1] : NULL, map_show_port,
                                &s)) {
        unixctl_command_reply_error(conn, "no such ibbridge port");
    } else {
        unixctl_command_reply(conn, ds_cstr(&s));
    }
    ds_destroy(&s);
}

/* Parses unicast host address 'arg' into 'ip'; returns an error message
 * or NULL. */
static const char *
map_parse_ip(const char *arg, uint8_t ip[16])
{
    return (ibb_gid_parse(arg, ip) || ibb_ip_is_bad_source(ip)
            ? "IP: expected a host's unicast IPv4 or IPv6 address" : NULL);
}

/* ibbridge/map/add PORT IP MAC: adds a RoCE host by hand, kept until it is
 * deleted or flushed: across map reloads, and across a restart through
 * the ibbridge database (ibbridge-db.h). */
static void
map_unixctl_add(struct unixctl_conn *conn, int argc OVS_UNUSED,
                const char *argv[], void *aux OVS_UNUSED)
{
    struct netdev_ibbridge *dev = ibbridge_lock_port(argv[1]);
    const struct ibb_host *old;
    struct ibb_host host;
    struct eth_addr mac;
    const char *err;
    uint8_t ip[16];

    if (!dev) {
        unixctl_command_reply_error(conn, "no such ibbridge port");
        return;
    }
    if ((err = map_parse_ip(argv[2], ip))) {
        unixctl_command_reply_error(conn, err);
    } else if (!eth_addr_from_string(argv[3], &mac)
               || eth_addr_is_multicast(mac) || eth_addr_is_zero(mac)) {
        unixctl_command_reply_error(conn, "MAC: expected a unicast MAC "
                                    "(xx:xx:xx:xx:xx:xx)");
    } else if (!dev->map) {
        unixctl_command_reply_error(conn, "port not configured");
    } else if (!ibb_gid_is_v4mapped(ip)
               && ibb_gid_same_prefix(ip, dev->attr.gid)) {
        unixctl_command_reply_error(conn, "IP: an address with the IB "
                                    "subnet prefix is an IB host's");
    } else if ((old = ibb_addr_map_find_ip(dev->map, ip))
               && (old->has_gid || ibb_addr_map_del_ip(dev->map, ip))) {
        unixctl_command_reply_error(conn, old->has_gid
                                    ? "IP: the map gives it to an IB host"
                                    : "IP: the map file has it already");
    } else {
        int error;

        ibb_host_init_ip_mac(&host, ip, mac.ea);
        error = ibb_addr_map_add_host_from(dev->map, &host, IBB_HOST_ADDED,
                                           time_msec());
        if (error) {
            unixctl_command_reply_error(conn, ovs_strerror(error));
        } else {
            netdev_change_seq_changed(&dev->up);
            unixctl_command_reply(conn, NULL);
        }
    }
    ovs_mutex_unlock(&dev->mutex);
}

/* ibbridge/map/del PORT IP: deletes a learned or added host. */
static void
map_unixctl_del(struct unixctl_conn *conn, int argc OVS_UNUSED,
                const char *argv[], void *aux OVS_UNUSED)
{
    struct netdev_ibbridge *dev = ibbridge_lock_port(argv[1]);
    const char *err;
    uint8_t ip[16];
    int error;

    if (!dev) {
        unixctl_command_reply_error(conn, "no such ibbridge port");
        return;
    }
    if ((err = map_parse_ip(argv[2], ip))) {
        unixctl_command_reply_error(conn, err);
    } else if (!dev->map) {
        unixctl_command_reply_error(conn, "port not configured");
    } else if ((error = ibb_addr_map_del_ip(dev->map, ip))) {
        unixctl_command_reply_error(conn, error == ENOENT
                                    ? "no host has that IP"
                                    : "the map file has that IP: edit the "
                                      "file");
    } else {
        netdev_change_seq_changed(&dev->up);
        unixctl_command_reply(conn, NULL);
    }
    ovs_mutex_unlock(&dev->mutex);
}

/* ibbridge/map/flush PORT [learned]: deletes learned and added hosts, or
 * only learned ones. */
static void
map_unixctl_flush(struct unixctl_conn *conn, int argc, const char *argv[],
                  void *aux OVS_UNUSED)
{
    struct netdev_ibbridge *dev;
    char *reply;
    size_t n;

    if (argc > 2 && strcmp(argv[2], "learned")) {
        unixctl_command_reply_error(conn, "expected \"learned\" or nothing "
                                    "after PORT");
        return;
    }
    dev = ibbridge_lock_port(argv[1]);
    if (!dev) {
        unixctl_command_reply_error(conn, "no such ibbridge port");
        return;
    }
    if (!dev->map) {
        unixctl_command_reply_error(conn, "port not configured");
    } else {
        n = ibb_addr_map_flush(dev->map, argc > 2);
        netdev_change_seq_changed(&dev->up);
        reply = xasprintf("flushed %zu hosts", n);
        unixctl_command_reply(conn, reply);
        free(reply);
    }
    ovs_mutex_unlock(&dev->mutex);
}

void
ibbridge_map_unixctl_register(void)
{
    unixctl_command_register("ibbridge/map/show", "[PORT]", 0, 1,
                             map_unixctl_show, NULL);
    unixctl_command_register("ibbridge/map/add", "PORT IP MAC", 3, 3,
                             map_unixctl_add, NULL);
    unixctl_command_register("ibbridge/map/del", "PORT IP", 2, 2,
                             map_unixctl_del, NULL);
    unixctl_command_register("ibbridge/map/flush", "PORT [learned]", 1, 2,
                             map_unixctl_flush, NULL);
}
