/*
 * The address map of an ibbridge port and the address resolution it does
 * on the Ethernet side: loading the map file and reloading it when it
 * changes, learning RoCE hosts' MACs from their traffic and ageing them
 * out, and answering ARP and ND for IB hosts.  The protocol and table work
 * is in lib/ (addr-map, ibb-neigh); this file wires it to the netdev.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "netdev-ibbridge-private.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-file-stamp.h"
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
    char err[256];
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
        ibb_addr_map_copy_learned(map, dev->map);
    }
    for (size_t i = 0; !error && i < dev->n_groups; i++) {
        const struct ibbridge_group *g = &dev->groups[i];

        if (ibb_addr_map_find_group_ip(map, g->spec.ip)) {
            ibb_addr_map_set_group_mlid(map, g->mgid, g->mlid);
        } else {
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
        ibb_addr_map_destroy(dev->map);
        dev->map = map;
        free(dev->map_error);
        dev->map_error = NULL;
        VLOG_INFO("%s: reloaded map %s (%zu hosts, %zu groups)",
                  netdev_get_name(&dev->up), dev->cfg.map_file,
                  file_hosts, file_groups);
    }
    netdev_change_seq_changed(&dev->up);
}

/* Learns that the RoCE host with IP 'ip' has MAC 'mac', from a frame the
 * converter accepted (so its source passed the trust rules). */
void
ibbridge_map_learn(struct netdev_ibbridge *dev, const uint8_t ip[16],
                      const uint8_t mac[6])
    OVS_REQUIRES(dev->mutex)
{
    static struct vlog_rate_limit learn_rl = VLOG_RATE_LIMIT_INIT(1, 10);
    size_t before = ibb_addr_map_n_learned(dev->map);
    int error;

    error = ibb_addr_map_learn_mac(dev->map, ip, mac, time_msec(),
                                   IBBRIDGE_MAX_LEARNED);
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
                     "map file has it %s: not learned",
                     netdev_get_name(&dev->up), ibb_ip_format(ip, s, sizeof s),
                     ETH_ADDR_BYTES_ARGS(mac),
                     error == EPERM ? "for an IB host" : "with another MAC");
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

    switch (ibb_neigh_answer(dev->map, dev->cfg.mac.ea, dp_packet_data(pkt),
                             dp_packet_size(pkt), answer, &len)) {
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
    return true;
}

