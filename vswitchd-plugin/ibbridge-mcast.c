/*
 * Multicast groups at scale: the port's "mcast-groups" indexed by MGID,
 * membership changes taken from the port in O(changes), the status
 * summary, and ovs-appctl ibbridge/mcast/show [PORT] [GROUP]: each group's
 * state, source and per-group counters (kept in the address map's group
 * entries, which the converters find anyway: lib/addr-map.h).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "ibbridge-cluster.h"
#include "smap.h"
#include "netdev-ibbridge-private.h"
#include "openvswitch/vlog.h"
#include "unixctl.h"
#include "util.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ib-mcast.h"
#include "ibb-join.h"
#include "ibb-options.h"
#include "ibport.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_mcast);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

static uint32_t
mgid_hash(const uint8_t mgid[16])
{
    return hash_bytes(mgid, 16, 0);
}

void
ibbridge_mcast_index(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    hmap_clear(&dev->group_index);
    hmap_reserve(&dev->group_index, dev->n_groups);
    for (size_t i = 0; i < dev->n_groups; i++) {
        struct ibbridge_group *g = &dev->groups[i];

        hmap_insert(&dev->group_index, &g->node, mgid_hash(g->mgid));
    }
}

struct ibbridge_group *
ibbridge_mcast_find(const struct netdev_ibbridge *dev, const uint8_t mgid[16])
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_group *g;

    HMAP_FOR_EACH_WITH_HASH (g, node, mgid_hash(mgid), &dev->group_index) {
        if (!memcmp(g->mgid, mgid, 16)) {
            return g;
        }
    }
    return NULL;
}

/* Options a change of which does not reopen the port: the groups, and
 * the cluster client's (ibbridge-cluster.c reads them on its own). */
static bool
applies_in_place(const char *key)
{
    return (!strcmp(key, "mcast-groups") || !strcmp(key, "cluster")
            || !strcmp(key, "cluster-probe")
            || !strcmp(key, "cluster-dead-interval"));
}

bool
ibbridge_mcast_only_groups_differ(const struct smap *a, const struct smap *b)
{
    const struct smap_node *node;

    SMAP_FOR_EACH (node, a) {
        const char *other = smap_get(b, node->key);

        if (!applies_in_place(node->key)
            && (!other || strcmp(node->value, other))) {
            return false;
        }
    }
    SMAP_FOR_EACH (node, b) {
        if (!applies_in_place(node->key) && !smap_get_node(a, node->key)) {
            return false;
        }
    }
    return true;
}

/* The MGID of 'spec' on 'dev''s port: the map's, if it has the group and
 * did not get it from the port itself, else derived. */
static void
spec_mgid(const struct netdev_ibbridge *dev, const struct ibbridge_config *cfg,
          const struct ibb_mcast_group_spec *spec, uint8_t mgid[16],
          bool *from_map)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_group *known = ibb_addr_map_find_group_ip(dev->map,
                                                               spec->ip);
    const struct ibbridge_group *mine = NULL;

    for (size_t i = 0; known && i < dev->n_groups && !mine; i++) {
        if (!memcmp(dev->groups[i].spec.ip, spec->ip, 16)
            && dev->groups[i].added_to_map) {
            mine = &dev->groups[i];
        }
    }
    *from_map = known && !mine;
    if (*from_map) {
        memcpy(mgid, known->mgid, 16);
    } else {
        ibb_mcast_ip_to_mgid(spec->format, spec->ip, cfg->pkey,
                             IBB_MCAST_SCOPE_LINK, mgid);
    }
}

/* 'source' no longer wants 'g'; returns true if no source does.  The
 * group is shown under a source that still wants it. */
static bool
group_unwant(struct ibbridge_group *g, enum ibbridge_group_source source)
{
    g->wanted_by &= ~IBBRIDGE_WANTED_BY(source);
    for (int src = IBBRIDGE_GROUP_CONFIG; src <= IBBRIDGE_GROUP_IB; src++) {
        if (g->wanted_by & IBBRIDGE_WANTED_BY(src)) {
            g->source = src;
            break;
        }
    }
    return !g->wanted_by;
}

/* Leaves 'old', which the caller drops from dev->groups: it shows as
 * leaving until the SA answered. */
static void
group_leave(struct netdev_ibbridge *dev, const struct ibbridge_group *old)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_mcast_status st;

    if (!old->standby) {        /* (Else never joined here.) */
        ibb_port_mcast_leave(dev->port, old->mgid);
        if (!ibb_port_mcast_status(dev->port, old->mgid, &st)
            && st.state == IBB_MCAST_LEAVING) {
            dev->leaving = xrealloc(dev->leaving, (dev->n_leaving + 1)
                                    * sizeof *dev->leaving);
            dev->leaving[dev->n_leaving++] = *old;
        }
    }
    if (old->added_to_map) {
        ibb_addr_map_del_group(dev->map, old->mgid);
    }
}

/* Joins 'g' (new, or whose mode changed) with the port's Q_Key and P_Key
 * of 'cfg', and records it in the map unless 'in_map' (the map has it, or
 * 'g' was joined before). */
/* Joins 'g' on the port, as a full or send-only member as configured,
 * storing the MLID in '*mlid' if the join completed at once. */
static void
port_join(struct netdev_ibbridge *dev, const struct ibbridge_config *cfg,
          const struct ibbridge_group *g, uint16_t *mlid)
    OVS_REQUIRES(dev->mutex)
{
    if (ibb_port_mcast_join(dev->port, g->mgid,
                            (g->spec.send_only ? IBB_MCAST_SEND_ONLY
                                               : IBB_MCAST_FULL),
                            cfg->qkey, cfg->pkey, mlid)) {
        char *spec = ibb_mcast_group_spec_to_string(&g->spec);

        VLOG_WARN("%s: cannot join multicast group %s: %s",
                  netdev_get_name(&dev->up), spec,
                  ibb_port_error(dev->port));
        free(spec);
    }
}

static void
group_join(struct netdev_ibbridge *dev, const struct ibbridge_config *cfg,
           struct ibbridge_group *g, bool in_map)
    OVS_REQUIRES(dev->mutex)
{
    uint16_t mlid = 0;

    g->standby = !ibbridge_cluster_owns(g->spec.ip);
    if (!g->standby) {          /* (Else another bridge node forwards it.) */
        port_join(dev, cfg, g, &mlid);
    }
    if (!in_map) {
        g->mlid = mlid;
        g->added_to_map = true;
        ibbridge_map_add_joined_group(dev->map, g, cfg->pkey);
    }
    ibb_addr_map_set_group_standby(dev->map, g->mgid, g->standby);
}

/* Joins 'g' (this node owns it now) or leaves it (another one does). */
static void
group_set_standby(struct netdev_ibbridge *dev, struct ibbridge_group *g,
                  bool standby)
    OVS_REQUIRES(dev->mutex)
{
    char s[IBB_GID_STRLEN];
    uint16_t mlid = 0;

    g->standby = standby;
    /* First, so that nothing crosses while the membership changes. */
    ibb_addr_map_set_group_standby(dev->map, g->mgid, true);
    if (standby) {
        ibb_port_mcast_leave(dev->port, g->mgid);
        g->mlid = 0;
        ibb_addr_map_set_group_mlid(dev->map, g->mgid, 0);
        dev->cstats.cluster_handovers++;
    } else {
        port_join(dev, &dev->cfg, g, &mlid);
        if (mlid) {
            g->mlid = mlid;
            ibb_addr_map_set_group_mlid(dev->map, g->mgid, mlid);
        }
        ibb_addr_map_set_group_standby(dev->map, g->mgid, false);
        dev->cstats.cluster_takeovers++;
    }
    VLOG_INFO("%s: multicast group %s: %s", netdev_get_name(&dev->up),
              ibb_gid_format(g->spec.ip, s, sizeof s),
              standby ? "another bridge node forwards it now, left"
                      : "this bridge node forwards it now, joining");
}

static void
mark_map_group(const struct ibb_group *g,
               const struct ibb_group_stats *stats OVS_UNUSED, void *map)
{
    ibb_addr_map_set_group_standby(map, g->mgid,
                                   !ibbridge_cluster_owns(g->ip));
}

void
ibbridge_mcast_follow_cluster(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    bool changed = false;

    for (size_t i = 0; i < dev->n_groups; i++) {
        struct ibbridge_group *g = &dev->groups[i];
        bool standby = !ibbridge_cluster_owns(g->spec.ip);

        if (standby != g->standby) {
            group_set_standby(dev, g, standby);
            changed = true;
        }
    }
    /* Then every group of the map gets its mark: the port's, as they are
     * now (a reloaded map has them afresh), and the map's own (with a
     * static MLID, not joined by the port), the owner's to forward too. */
    ibb_addr_map_foreach_group(dev->map, mark_map_group, dev->map);
    if (changed) {
        /* The IGMP/MLD host reports what this node forwards now. */
        netdev_change_seq_changed(&dev->up);
    }
}

int
ibbridge_mcast_update(struct netdev_ibbridge *dev,
                      const struct ibbridge_config *cfg, char **errp)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_group *groups = xcalloc(cfg->n_groups + dev->n_groups
                                            + 1, sizeof *groups);
    struct hmap index = HMAP_INITIALIZER(&index);
    bool *from_map = xcalloc(cfg->n_groups + 1, sizeof *from_map);
    size_t n_joined = 0, n_left = 0, n = cfg->n_groups;

    /* Check everything first: a refused change changes nothing. */
    for (size_t i = 0; i < cfg->n_groups; i++) {
        struct ibbridge_group *g = &groups[i];
        char mgid[IBB_GID_STRLEN];
        char *spec;

        g->spec = cfg->groups[i];
        g->source = IBBRIDGE_GROUP_CONFIG;
        g->wanted_by = IBBRIDGE_WANTED_BY(IBBRIDGE_GROUP_CONFIG);
        spec_mgid(dev, cfg, &g->spec, g->mgid, &from_map[i]);
        if (!ibb_gid_is_multicast(g->mgid)) {
            spec = ibb_mcast_group_spec_to_string(&g->spec);
            *errp = xasprintf("mcast-groups %s: MGID %s is not an IB "
                              "multicast GID (use ipoib or rdma_cm)", spec,
                              ibb_gid_format(g->mgid, mgid, sizeof mgid));
            free(spec);
            goto error;
        }
        if (!from_map[i] && !ibbridge_mcast_find(dev, g->mgid)
            && ibb_addr_map_find_group_mgid(dev->map, g->mgid)) {
            spec = ibb_mcast_group_spec_to_string(&g->spec);
            *errp = xasprintf("mcast-groups %s: MGID %s belongs to another "
                              "group of the map", spec,
                              ibb_gid_format(g->mgid, mgid, sizeof mgid));
            free(spec);
            goto error;
        }
        hmap_insert(&index, &g->node, hash_bytes(g->mgid, 16, 0));
    }

    /* Leave the groups that are gone; followed ones stay. */
    for (size_t i = 0; i < dev->n_groups; i++) {
        struct ibbridge_group *old = &dev->groups[i];
        struct ibbridge_group *g;
        bool kept = false;

        HMAP_FOR_EACH_WITH_HASH (g, node, hash_bytes(old->mgid, 16, 0),
                                 &index) {
            kept |= !memcmp(g->mgid, old->mgid, 16);
        }
        if (kept) {
            continue;
        } else if (old->wanted_by
                   & ~IBBRIDGE_WANTED_BY(IBBRIDGE_GROUP_CONFIG)) {
            /* A followed side still wants it. */
            groups[n] = *old;
            group_unwant(&groups[n++], IBBRIDGE_GROUP_CONFIG);
        } else {
            group_leave(dev, old);
            n_left++;
        }
    }

    /* Join the new ones; the others stay as they are. */
    for (size_t i = 0; i < cfg->n_groups; i++) {
        struct ibbridge_group *g = &groups[i];
        const struct ibbridge_group *old = ibbridge_mcast_find(dev, g->mgid);

        if (old) {
            g->mlid = old->mlid;
            g->added_to_map = old->added_to_map;
            g->wanted_by |= old->wanted_by;
            g->standby = old->standby;
            if (old->spec.send_only == g->spec.send_only || old->standby) {
                continue;
            }
        }
        group_join(dev, cfg, g, old || from_map[i]);
        n_joined++;
    }
    hmap_destroy(&index);
    free(from_map);
    free(dev->groups);
    dev->groups = groups;
    dev->n_groups = n;
    ibbridge_mcast_index(dev);
    ibbridge_mcast_prune_leaving(dev);
    VLOG_INFO("%s: mcast-groups: %zu joined or changed, %zu left, %zu kept",
              netdev_get_name(&dev->up), n_joined, n_left,
              cfg->n_groups - n_joined);
    return 0;

error:
    hmap_destroy(&index);
    free(from_map);
    free(groups);
    return EINVAL;
}

const char *
ibbridge_group_source_name(enum ibbridge_group_source source)
{
    switch (source) {
    case IBBRIDGE_GROUP_ETHERNET:
        return "ethernet";
    case IBBRIDGE_GROUP_IB:
        return "ib";
    case IBBRIDGE_GROUP_CONFIG:
    default:
        return "mcast-groups";
    }
}

bool
ibbridge_mcast_mgid_ip(const struct netdev_ibbridge *dev,
                       const uint8_t mgid[16], uint8_t ip[16])
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_group *known = ibb_addr_map_find_group_mgid(dev->map,
                                                                 mgid);
    uint16_t pkey;

    if (known) {
        memcpy(ip, known->ip, 16);
        return true;
    }
    /* The group of an MGID of another partition is not the port's. */
    return (!ibb_mcast_mgid_to_ipv4(mgid, ip, &pkey)
            && (pkey | 0x8000) == (dev->cfg.pkey | 0x8000));
}

/* Takes change 'c' of a group of 'source' into 'g' (spec and MGID) and
 * says whether the map has the group already.  Returns false, counted, if
 * the group cannot be joined: no IB multicast MGID, or (to join) the MGID
 * or IP of another group of the map. */
static bool
follow_spec(struct netdev_ibbridge *dev, enum ibbridge_group_source source,
            const struct ibbridge_follow_change *c, struct ibbridge_group *g,
            bool *in_map)
    OVS_REQUIRES(dev->mutex)
{
    memset(g, 0, sizeof *g);
    g->source = source;
    memcpy(g->spec.ip, c->ip, 16);
    g->spec.format = dev->cfg.mgid_format;
    if (source == IBBRIDGE_GROUP_IB) {
        const struct ibb_group *known = ibb_addr_map_find_group_mgid(
            dev->map, c->mgid);

        memcpy(g->mgid, c->mgid, 16);
        *in_map = known != NULL;
        if (!known) {
            /* An IPv4 group's IPoIB or rdma_cm MGID. */
            g->spec.format = (c->mgid[2] == 0x40 && c->mgid[3] == 0x01
                              ? IBB_MGID_RDMA_CM : IBB_MGID_IPOIB);
        }
    } else {
        spec_mgid(dev, &dev->cfg, &g->spec, g->mgid, in_map);
    }
    if (!ibb_gid_is_multicast(g->mgid)
        || (c->want && !*in_map
            && (ibb_addr_map_find_group_mgid(dev->map, g->mgid)
                || ibb_addr_map_find_group_ip(dev->map, g->spec.ip)))) {
        dev->cstats.follow_refused++;
        return false;
    }
    return true;
}

void
ibbridge_mcast_follow(struct netdev_ibbridge *dev,
                      enum ibbridge_group_source source,
                      const struct ibbridge_follow_change *changes, size_t n)
    OVS_REQUIRES(dev->mutex)
{
    struct ibbridge_group *groups = xmalloc((dev->n_groups + n + 1)
                                            * sizeof *groups);
    struct ibbridge_group *specs = xmalloc((n + 1) * sizeof *specs);
    struct hmap last = HMAP_INITIALIZER(&last);
    bool *in_map = xcalloc(n + 1, sizeof *in_map);
    bool *ok = xcalloc(n + 1, sizeof *ok);
    bool *gone = xcalloc(dev->n_groups + 1, sizeof *gone);
    uint8_t bit = IBBRIDGE_WANTED_BY(source);
    size_t n_new = 0, n_kept = 0;

    if (!dev->port || !dev->map) {
        goto out;
    }
    /* The last change of a group wins (a join and a leave of one group in
     * one batch leave it as the leave says). */
    for (size_t i = 0; i < n; i++) {
        struct ibbridge_group *prev;

        ok[i] = follow_spec(dev, source, &changes[i], &specs[i], &in_map[i]);
        if (!ok[i]) {
            continue;
        }
        HMAP_FOR_EACH_WITH_HASH (prev, node, mgid_hash(specs[i].mgid),
                                 &last) {
            if (!memcmp(prev->mgid, specs[i].mgid, 16)) {
                ok[prev - specs] = false;
                hmap_remove(&last, &prev->node);
                break;
            }
        }
        hmap_insert(&last, &specs[i].node, mgid_hash(specs[i].mgid));
    }
    hmap_destroy(&last);

    for (size_t i = 0; i < n; i++) {
        struct ibbridge_group *old;

        if (!ok[i]) {
            continue;
        }
        old = ibbridge_mcast_find(dev, specs[i].mgid);
        if (!changes[i].want) {
            if (old && !gone[old - dev->groups]
                && (old->wanted_by & bit) && group_unwant(old, source)) {
                group_leave(dev, old);
                gone[old - dev->groups] = true;
                dev->cstats.follow_leaves++;
            }
        } else if (old) {
            /* Joined already, configured or followed: wanted by one more
             * source. */
            old->wanted_by |= bit;
        } else {
            struct ibbridge_group *g = &groups[dev->n_groups + n_new++];

            *g = specs[i];
            g->wanted_by = bit;
            group_join(dev, &dev->cfg, g, in_map[i]);
            dev->cstats.follow_joins++;
        }
    }

    /* Survivors first, then the new ones. */
    for (size_t i = 0; i < dev->n_groups; i++) {
        if (!gone[i]) {
            groups[n_kept++] = dev->groups[i];
        }
    }
    memmove(&groups[n_kept], &groups[dev->n_groups],
            n_new * sizeof *groups);
    free(dev->groups);
    dev->groups = groups;
    groups = NULL;
    dev->n_groups = n_kept + n_new;
    ibbridge_mcast_index(dev);
    ibbridge_mcast_prune_leaving(dev);
    netdev_change_seq_changed(&dev->up);

out:
    free(groups);
    free(specs);
    free(in_map);
    free(ok);
    free(gone);
}

void
ibbridge_mcast_unfollow(struct netdev_ibbridge *dev,
                        enum ibbridge_group_source source)
    OVS_REQUIRES(dev->mutex)
{
    size_t n = 0;

    for (size_t i = 0; i < dev->n_groups; i++) {
        struct ibbridge_group *g = &dev->groups[i];

        if (!(g->wanted_by & IBBRIDGE_WANTED_BY(source))
            || !group_unwant(g, source)) {
            dev->groups[n++] = *g;
        } else if (dev->port) {
            group_leave(dev, g);
            dev->cstats.follow_leaves++;
        }
    }
    if (n != dev->n_groups) {
        dev->n_groups = n;
        ibbridge_mcast_index(dev);
        ibbridge_mcast_prune_leaving(dev);
        netdev_change_seq_changed(&dev->up);
    }
}

void
ibbridge_mcast_prune_leaving(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    size_t n = 0;

    for (size_t i = 0; i < dev->n_leaving; i++) {
        const struct ibbridge_group *g = &dev->leaving[i];
        struct ibb_mcast_status st;

        if (dev->port && !ibb_port_mcast_status(dev->port, g->mgid, &st)
            && st.state == IBB_MCAST_LEAVING
            && !ibbridge_mcast_find(dev, g->mgid)) {
            dev->leaving[n++] = *g;
        }
    }
    dev->n_leaving = n;
}

bool
ibbridge_mcast_take_changes(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_mcast_status st;
    uint8_t mgid[16];

    if (!ibb_port_mcast_tracks_changes(dev->port)) {
        return false;
    }
    while (ibb_port_mcast_take_changed(dev->port, mgid, &st)) {
        struct ibbridge_group *g = ibbridge_mcast_find(dev, mgid);
        uint16_t mlid = st.state == IBB_MCAST_JOINED ? st.mlid : 0;

        if (!g) {
            continue;           /* Not of mcast-groups (IPoIB's). */
        }
        if (mlid != g->mlid) {
            /* Until it is joined (again), datagrams to the group are
             * counted as group_joining, not sent to a stale MLID. */
            g->mlid = mlid;
            ibb_addr_map_set_group_mlid(dev->map, g->mgid, mlid);
        }
        if (st.state == IBB_MCAST_FAILED) {
            char s[IBB_GID_STRLEN];

            VLOG_WARN_RL(&rl, "%s: multicast group %s: join failed: %s",
                         netdev_get_name(&dev->up),
                         ibb_gid_format(g->mgid, s, sizeof s), st.why);
        }
    }
    return true;
}

/* Appends the state of 'mgid' on the port: "joined", "joining",
 * "failed (REASON)", "leaving" or "not joined". */
static enum ibb_mcast_state
format_state(const struct netdev_ibbridge *dev, const uint8_t mgid[16],
             struct ds *s)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_mcast_status st;

    if (!dev->port || ibb_port_mcast_status(dev->port, mgid, &st)) {
        ds_put_cstr(s, "not joined");
        return IBB_MCAST_FAILED;
    } else if (st.state == IBB_MCAST_FAILED) {
        ds_put_format(s, "failed (%s)", st.why);
    } else {
        ds_put_cstr(s, ibb_mcast_state_name(st.state));
    }
    return st.state;
}

void
netdev_ibbridge_format_group_state(const struct netdev_ibbridge *dev,
                                   const struct ibbridge_group *g,
                                   struct ds *s)
    OVS_REQUIRES(dev->mutex)
{
    format_state(dev, g->mgid, s);
}

void
ibbridge_mcast_format_status(const struct netdev_ibbridge *dev, struct ds *s)
    OVS_REQUIRES(dev->mutex)
{
    size_t n[IBB_MCAST_LEAVING + 1] = { 0 };
    struct ds scratch = DS_EMPTY_INITIALIZER;

    if (dev->n_groups <= IBBRIDGE_STATUS_MAX_GROUPS) {
        /* "GROUP/FORMAT/JOIN mgid=MGID mlid=0xNNNN STATE", comma
         * separated. */
        for (size_t i = 0; i < dev->n_groups; i++) {
            const struct ibbridge_group *g = &dev->groups[i];
            char *spec = ibb_mcast_group_spec_to_string(&g->spec);
            char mgid[IBB_GID_STRLEN];

            ds_put_format(s, "%s%s mgid=%s mlid=0x%04"PRIx16" ",
                          i ? ", " : "", spec,
                          ibb_gid_format(g->mgid, mgid, sizeof mgid),
                          g->mlid);
            if (g->standby) {
                ds_put_cstr(s, "standby");
            } else {
                format_state(dev, g->mgid, s);
            }
            free(spec);
        }
        return;
    }
    for (size_t i = 0; i < dev->n_groups; i++) {
        ds_clear(&scratch);
        n[format_state(dev, dev->groups[i].mgid, &scratch)]++;
    }
    ds_destroy(&scratch);
    ds_put_format(s, "%zu groups: %zu joined, %zu joining, %zu failed "
                  "(ovs-appctl ibbridge/mcast/show lists them)",
                  dev->n_groups, n[IBB_MCAST_JOINED], n[IBB_MCAST_JOINING],
                  n[IBB_MCAST_FAILED]);
}

/* ibbridge/mcast/show [PORT] [GROUP]. */

struct mcast_show {
    struct ds *s;                       /* Output. */
    const struct netdev_ibbridge *dev;  /* Port shown. */
    const uint8_t *only;                /* MGID of the one group, or NULL. */
    size_t n_map_only;                  /* Groups only in the map. */
};

static void
put_counters(struct ds *s, const struct ibb_group_stats *st)
{
    ds_put_format(s, " rx_packets=%"PRIu64" rx_bytes=%"PRIu64
                  " tx_packets=%"PRIu64" tx_bytes=%"PRIu64"\n",
                  st ? st->rx_packets : 0, st ? st->rx_bytes : 0,
                  st ? st->tx_packets : 0, st ? st->tx_bytes : 0);
}

/* A group of mcast-groups: joined by the port. */
static void
show_joined(struct mcast_show *ms, const struct ibbridge_group *g)
    OVS_REQUIRES(ms->dev->mutex)
{
    const struct netdev_ibbridge *dev = ms->dev;
    const struct ibb_group *mg = ibb_addr_map_find_group_mgid(dev->map,
                                                              g->mgid);
    char *spec = ibb_mcast_group_spec_to_string(&g->spec);
    struct ibb_mcast_status st;
    char mgid[IBB_GID_STRLEN];

    ds_put_format(ms->s, "  %s mgid=%s ", spec,
                  ibb_gid_format(g->mgid, mgid, sizeof mgid));
    if (g->standby) {
        ds_put_cstr(ms->s, "standby (another bridge node forwards it)");
    } else if (format_state(dev, g->mgid, ms->s) == IBB_MCAST_JOINED
        && !ibb_port_mcast_status(dev->port, g->mgid, &st)) {
        ds_put_format(ms->s, " mlid=0x%04"PRIx16, st.mlid);
    }
    ds_put_format(ms->s, " source=%s", ibbridge_group_source_name(g->source));
    put_counters(ms->s, mg ? ibb_addr_map_group_stats(
                                 CONST_CAST(struct ibb_addr_map *, dev->map),
                                 mg) : NULL);
    free(spec);
}

/* A group removed from mcast-groups that the port is leaving. */
static void
show_leaving(struct mcast_show *ms, const struct ibbridge_group *g)
    OVS_REQUIRES(ms->dev->mutex)
{
    char *spec = ibb_mcast_group_spec_to_string(&g->spec);
    char mgid[IBB_GID_STRLEN];

    ds_put_format(ms->s, "  %s mgid=%s leaving source=%s (removed)\n", spec,
                  ibb_gid_format(g->mgid, mgid, sizeof mgid),
                  ibbridge_group_source_name(g->source));
    free(spec);
}

/* A group the map lists that the port does not join: the map gives its
 * MGID and MLID. */
static void
show_map_group(const struct ibb_group *g, const struct ibb_group_stats *st,
               void *ms_)
{
    struct mcast_show *ms = ms_;
    char ip[IBB_GID_STRLEN], mgid[IBB_GID_STRLEN];

    if (ibbridge_mcast_find(ms->dev, g->mgid)
        || (ms->only && memcmp(ms->only, g->mgid, 16))) {
        return;
    }
    ms->n_map_only++;
    ds_put_format(ms->s, "  %s mgid=%s not joined mlid=0x%04"PRIx16
                  " source=map", ibb_ip_format(g->ip, ip, sizeof ip),
                  ibb_gid_format(g->mgid, mgid, sizeof mgid), g->mlid);
    put_counters(ms->s, st);
}

static void
show_port(struct netdev_ibbridge *dev, void *aux)
    OVS_REQUIRES(dev->mutex)
{
    struct mcast_show *ms = aux;
    size_t n[IBB_MCAST_LEAVING + 1] = { 0 };
    size_t n_source[IBBRIDGE_GROUP_IB + 1] = { 0 };
    struct ds scratch = DS_EMPTY_INITIALIZER;

    ms->dev = dev;
    if (!dev->configured || !dev->port || !dev->map) {
        ds_put_format(ms->s, "%s: not configured\n",
                      netdev_get_name(&dev->up));
        return;
    }
    for (size_t i = 0; i < dev->n_groups; i++) {
        ds_clear(&scratch);
        n[format_state(dev, dev->groups[i].mgid, &scratch)]++;
        n_source[dev->groups[i].source]++;
    }
    ds_destroy(&scratch);
    ibbridge_mcast_prune_leaving(dev);
    n[IBB_MCAST_LEAVING] += dev->n_leaving;
    ds_put_format(ms->s, "%s: %zu groups from mcast-groups",
                  netdev_get_name(&dev->up), n_source[IBBRIDGE_GROUP_CONFIG]);
    for (int src = IBBRIDGE_GROUP_ETHERNET; src <= IBBRIDGE_GROUP_IB; src++) {
        if (n_source[src]) {
            ds_put_format(ms->s, ", %zu followed from %s", n_source[src],
                          ibbridge_group_source_name(src));
        }
    }
    ds_put_format(ms->s, ": %zu joined, %zu joining, %zu failed, "
                  "%zu leaving; ",
                  n[IBB_MCAST_JOINED], n[IBB_MCAST_JOINING],
                  n[IBB_MCAST_FAILED], n[IBB_MCAST_LEAVING]);
    ds_put_format(ms->s, "join rate %u/s\n",
                  dev->cfg.join_rate ? dev->cfg.join_rate
                                     : IBB_JOIN_DEFAULT_RATE);
    for (size_t i = 0; i < dev->n_groups; i++) {
        show_joined(ms, &dev->groups[i]);
    }
    for (size_t i = 0; i < dev->n_leaving; i++) {
        show_leaving(ms, &dev->leaving[i]);
    }
    ibb_addr_map_foreach_group(dev->map, show_map_group, ms);
}

/* Finds group 'arg' (an IP multicast group, or an MGID) of 'dev' into
 * 'mgid'.  Returns false if the port has no such group. */
static bool
find_group_arg(const struct netdev_ibbridge *dev, const uint8_t addr[16],
               uint8_t mgid[16])
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_group *mg;

    for (size_t i = 0; i < dev->n_groups; i++) {
        if (!memcmp(dev->groups[i].spec.ip, addr, 16)) {
            memcpy(mgid, dev->groups[i].mgid, 16);
            return true;
        }
    }
    if (ibbridge_mcast_find(dev, addr)) {
        memcpy(mgid, addr, 16);
        return true;
    }
    mg = dev->map ? ibb_addr_map_find_group_ip(dev->map, addr) : NULL;
    if (!mg && dev->map) {
        mg = ibb_addr_map_find_group_mgid(dev->map, addr);
    }
    if (mg) {
        memcpy(mgid, mg->mgid, 16);
        return true;
    }
    return false;
}

static void
ibbridge_mcast_show(struct unixctl_conn *conn, int argc, const char *argv[],
                    void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    struct mcast_show ms = { .s = &s };
    uint8_t addr[16], mgid[16];

    if (argc > 2) {
        struct netdev_ibbridge *dev;
        const struct ibbridge_group *g;

        if (ibb_gid_parse(argv[2], addr) || !ibb_ip_is_multicast(addr)) {
            unixctl_command_reply_error(conn, "GROUP: expected an IPv4 or "
                                        "IPv6 multicast group or an MGID");
            ds_destroy(&s);
            return;
        }
        dev = ibbridge_lock_port(argv[1]);
        if (!dev) {
            unixctl_command_reply_error(conn, "no such ibbridge port");
            ds_destroy(&s);
            return;
        }
        if (!dev->configured || !find_group_arg(dev, addr, mgid)) {
            char *msg = xasprintf("%s has no multicast group %s",
                                  argv[1], argv[2]);

            ovs_mutex_unlock(&dev->mutex);
            unixctl_command_reply_error(conn, msg);
            free(msg);
            ds_destroy(&s);
            return;
        }
        ms.dev = dev;
        ms.only = mgid;
        g = ibbridge_mcast_find(dev, mgid);
        if (g) {
            show_joined(&ms, g);
        } else {
            ibb_addr_map_foreach_group(dev->map, show_map_group, &ms);
        }
        ovs_mutex_unlock(&dev->mutex);
    } else if (!ibbridge_for_each_port(argc > 1 ? argv[1] : NULL, show_port,
                                       &ms)) {
        unixctl_command_reply_error(conn, "no such ibbridge port");
        ds_destroy(&s);
        return;
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

void
ibbridge_mcast_unixctl_register(void)
{
    unixctl_command_register("ibbridge/mcast/show", "[PORT] [GROUP]", 0, 2,
                             ibbridge_mcast_show, NULL);
}
