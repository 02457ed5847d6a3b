/*
 * Several bridge nodes (ibbridge-cluster.h): this node's row in table Node,
 * the other nodes' liveness from their heartbeats, and the shares
 * (lib/ibb-shares.h) the live set gives.
 *
 * A node is live while its heartbeat column keeps changing: a node whose
 * heartbeat stays the same for 'cluster-dead-interval', as seen on this
 * node's clock, is dead, and its shares move.  This node counts itself
 * live while it holds its lock.  While the connection is down nothing is
 * judged (the last view stays, and so does forwarding); after it comes
 * back, every node gets a full interval again.
 *
 * A key that moves to this node is taken only once every live node
 * publishes the same view ("members"); keys are given up at once.  So two
 * nodes never forward one key, as long as each sees the others' rows.
 */
#include <config.h>
#include "ibbridge-cluster.h"

#include <stdlib.h>
#include <string.h>

#include "netdev-ibbridge-private.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "ovsdb-session.h"
#include "packets.h"
#include "timeval.h"
#include "unixctl.h"
#include "svec.h"
#include "util.h"
#include "uuid.h"

#include "ib-gid.h"
#include "ibb-shares.h"
#include "ibbridge-idl.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_cluster);

/* What this node knows of another node's heartbeat. */
struct peer {
    int64_t heartbeat;          /* Last value seen. */
    long long int changed;      /* When it last changed (this clock). */
    long long int deadline;     /* Live until then, unless it beats. */
};

/* After this node's connection comes back, how long the nodes it took as
 * live get to beat again: they may be reconnecting too, and after a
 * leader change the IDL's backoff between tries reaches 8 s.  A node that
 * died meanwhile is found only after this. */
#define RECONNECT_GRACE_MS 12000

/* While this node is not on the leader with its lock, it makes the IDL
 * try the members again this often (its own backoff reaches 8 s), so that
 * it is back well within the others' RECONNECT_GRACE_MS. */
#define RETRY_MS 1000

/* For this long after it lost the leader; then (the cluster is down, or
 * this node cut off) the IDL's own backoff, which logs less. */
#define RETRY_WINDOW_MS 30000

/* Guards what the ports' threads read: 'view', 'agreed', 'view_agreed'
 * and 'others'.  Taken last (after a port's mutex), held briefly. */
static struct ovs_mutex cluster_mutex = OVS_MUTEX_INITIALIZER;

static bool expected;           /* A port has options:cluster: until this
                                 * node has a view, it owns nothing. */
static struct ovsdb_idl *idl;   /* NULL: no cluster. */
static char *remote;
static char *self;
static char *lock_name;
static unsigned int dead_ms = 1500;
static unsigned int probe_ms;
static struct shash peers = SHASH_INITIALIZER(&peers); /* Of struct peer. */
static bool was_connected;              /* On the leader, with the lock. */
static bool beat_committed;             /* A heartbeat of this session
                                         * committed: it is the leader's
                                         * lock (a follower grants locks
                                         * too, for a moment). */
static bool ports_up;                   /* A port of ours can forward. */
static long long int next_retry;        /* When to try the members again. */
static long long int lost_since;        /* Off the leader since then. */
static long long int contended_since;   /* Another process has our lock. */
static size_t rotation;                 /* Of the remotes, retry_members(). */
static struct ibb_shares *view;         /* The live nodes. */
static struct ibb_shares *agreed;       /* The last view all published. */
static bool view_agreed;
static bool view_published;             /* Our row has 'view'. */
static long long int next_beat;
static uint64_t seqno = 1;              /* Changes with ownership. */
static struct ibbridge_peer *others;    /* The other nodes' addresses. */
static size_t n_others;
static bool lock_warned;

static void follow_settings(void);

static long long int
beat_interval(void)
{
    return dead_ms / 4;
}


/* ------------------------------------------------------------------ */
/* Configuration, from the ports. */

struct wanted {
    char *port;                 /* Name of the port it came from. */
    char *remote;
    unsigned int probe_ms;
    unsigned int dead_ms;
    bool up;                    /* A port of the cluster can forward. */
};

static void
find_wanted(struct netdev_ibbridge *dev, void *w_)
    OVS_REQUIRES(dev->mutex)
{
    struct wanted *w = w_;
    const char *name = netdev_get_name(&dev->up);

    if (dev->configured && dev->cfg.cluster && dev->port && dev->carrier) {
        w->up = true;
    }
    if (dev->configured && dev->cfg.cluster
        && (!w->port || strcmp(name, w->port) < 0)) {
        free(w->port);
        free(w->remote);
        w->port = xstrdup(name);
        w->remote = xstrdup(dev->cfg.cluster);
        w->probe_ms = dev->cfg.cluster_probe_ms;
        w->dead_ms = dev->cfg.cluster_dead_ms;
    }
}

static struct wanted
get_wanted(void)
{
    struct wanted w = { .port = NULL };

    ibbridge_for_each_port(NULL, find_wanted, &w);
    return w;
}

char *
ibbridge_cluster_wanted_remote(void)
{
    struct wanted w = get_wanted();

    ibbridge_cluster_expect(w.remote != NULL);
    free(w.port);
    return w.remote;
}

void
ibbridge_cluster_expect(bool on)
{
    ovs_mutex_lock(&cluster_mutex);
    if (expected != on) {
        expected = on;
        seqno++;
    }
    ovs_mutex_unlock(&cluster_mutex);
}

void
ibbridge_cluster_attach(struct ovsdb_idl *idl_, const char *remote_,
                        const char *node)
{
    struct wanted w = get_wanted();

    ibbridge_cluster_detach();
    if (w.remote && !strcmp(w.remote, remote_)) {
        idl = idl_;
        remote = xstrdup(remote_);
        self = xstrdup(node);
        lock_name = xasprintf("ibbridge_node_%s", node);
        dead_ms = w.dead_ms;
        probe_ms = w.probe_ms;
        ovsdb_idl_set_lock(idl, lock_name);
        ovsdb_idl_set_probe_interval(idl, probe_ms);
        ovs_mutex_lock(&cluster_mutex);
        view = ibb_shares_create();
        agreed = ibb_shares_create();
        ibb_shares_set_nodes(view, NULL, 0, self);
        ibb_shares_set_nodes(agreed, NULL, 0, self);
        seqno++;
        ovs_mutex_unlock(&cluster_mutex);
        VLOG_INFO("%s: node \"%s\" of a bridge cluster (heartbeat every "
                  "%lld ms, dead after %u ms)", remote, self,
                  beat_interval(), dead_ms);
    }
    free(w.port);
    free(w.remote);
}

void
ibbridge_cluster_detach(void)
{
    if (idl) {
        seqno++;
    }
    idl = NULL;
    free(remote);
    free(self);
    free(lock_name);
    remote = self = lock_name = NULL;
    shash_clear_free_data(&peers);
    ovs_mutex_lock(&cluster_mutex);
    ibb_shares_destroy(view);
    ibb_shares_destroy(agreed);
    view = agreed = NULL;
    view_agreed = false;
    free(others);
    others = NULL;
    n_others = 0;
    ovs_mutex_unlock(&cluster_mutex);
    was_connected = view_published = lock_warned = beat_committed = false;
    next_retry = contended_since = 0;
}


/* ------------------------------------------------------------------ */
/* Liveness and the view. */

static bool
self_live(void)
{
    return (ovsdb_idl_is_connected(idl) && ovsdb_idl_has_lock(idl)
            && ports_up);
}

static const struct ibbrec_node *
find_row(const char *name)
{
    const struct ibbrec_node *row;

    IBBREC_NODE_FOR_EACH (row, idl) {
        if (!strcmp(row->name, name)) {
            return row;
        }
    }
    return NULL;
}

static bool
peer_live(const char *name, long long int now)
{
    const struct peer *p = shash_find_data(&peers, name);

    return p && now < p->deadline;
}

static bool
in_view(const char *name)
{
    for (size_t i = 0; i < ibb_shares_n_nodes(view); i++) {
        if (!strcmp(ibb_shares_node(view, i), name)) {
            return true;
        }
    }
    return false;
}

/* Notes heartbeats that changed.  After a reconnection, the nodes of the
 * view get RECONNECT_GRACE_MS; those already dead stay dead. */
static void
follow_heartbeats(long long int now, bool reconnected)
{
    const struct ibbrec_node *row;

    IBBREC_NODE_FOR_EACH (row, idl) {
        struct peer *p = shash_find_data(&peers, row->name);

        if (!p) {
            /* A row seen for the first time gets one interval, as if it
             * had just beaten: a node that was dead before drops out. */
            p = xzalloc(sizeof *p);
            p->heartbeat = row->heartbeat;
            p->changed = now;
            p->deadline = now + dead_ms;
            shash_add(&peers, row->name, p);
        } else if (p->heartbeat != row->heartbeat) {
            p->heartbeat = row->heartbeat;
            p->changed = now;
            p->deadline = MAX(p->deadline, now + dead_ms);
        } else if (reconnected && in_view(row->name)) {
            p->deadline = MAX(p->deadline, now + RECONNECT_GRACE_MS);
        }
    }
}

/* Recomputes the view; returns true if it changed. */
static bool
update_view(long long int now)
{
    const struct ibbrec_node *row;
    const char **names = xmalloc((shash_count(&peers) + 1) * sizeof *names);
    size_t n = 0;
    bool changed;

    IBBREC_NODE_FOR_EACH (row, idl) {
        if (strcmp(row->name, self) && peer_live(row->name, now)) {
            names[n++] = row->name;
        }
    }
    if (self_live()) {
        names[n++] = self;
    }
    changed = ibb_shares_set_nodes(view, names, n, self);
    free(names);
    return changed;
}

/* Does every live node, this one included, publish the view? */
static bool
all_agree(void)
{
    for (size_t i = 0; i < ibb_shares_n_nodes(view); i++) {
        const struct ibbrec_node *row = find_row(ibb_shares_node(view, i));

        if (!row || !ibb_shares_same_view(view, (const char *const *)
                                          row->members, row->n_members)) {
            return false;
        }
    }
    return true;
}

static void
copy_view(struct ibb_shares *to, const struct ibb_shares *from)
{
    size_t n = ibb_shares_n_nodes(from);
    const char **names = xmalloc((n + 1) * sizeof *names);

    for (size_t i = 0; i < n; i++) {
        names[i] = ibb_shares_node(from, i);
    }
    ibb_shares_set_nodes(to, names, n, self);
    free(names);
}

/* The other nodes' MACs and GIDs, from their rows. */
static void
update_peers(void)
    OVS_REQUIRES(cluster_mutex)
{
    const struct ibbrec_node *row;
    struct ibbridge_peer *v;
    size_t n = 0;

    IBBREC_NODE_FOR_EACH (row, idl) {
        n++;
    }
    v = xcalloc(n + 1, sizeof *v);
    n = 0;
    IBBREC_NODE_FOR_EACH (row, idl) {
        struct ibbridge_peer *p = &v[n];

        if (!strcmp(row->name, self)) {
            continue;
        }
        if (!eth_addr_from_string(row->mac, &p->mac)) {
            p->mac = eth_addr_zero;
        }
        if (ibb_gid_parse(row->gid, p->gid)) {
            memset(p->gid, 0, 16);
        }
        n++;
    }
    if (n != n_others || (n && memcmp(v, others, n * sizeof *v))) {
        seqno++;            /* The ports take the new list. */
    }
    free(others);
    others = v;
    n_others = n;
}

/* Makes the IDL open a new session to the members, at once: it does so
 * when its remote changes, so the list is given rotated by one (the same
 * members; a single member's list cannot change, and keeps the backoff). */
static void
retry_members(void)
{
    struct svec remotes = SVEC_EMPTY_INITIALIZER;
    struct uuid cid;
    struct ds s = DS_EMPTY_INITIALIZER;

    ovsdb_session_parse_remote(remote, &remotes, &cid);
    rotation = (rotation + 1) % MAX(remotes.n, 1);
    for (size_t i = 0; i < remotes.n; i++) {
        ds_put_format(&s, "%s%s", i ? "," : "",
                      remotes.names[(i + rotation) % remotes.n]);
    }
    if (!uuid_is_zero(&cid)) {
        ds_put_format(&s, ",cid:"UUID_FMT, UUID_ARGS(&cid));
    }
    ovsdb_idl_set_remote(idl, ds_cstr(&s), true);
    /* A new session starts with the default probe. */
    ovsdb_idl_set_probe_interval(idl, probe_ms);
    ds_destroy(&s);
    svec_destroy(&remotes);
}

void
ibbridge_cluster_run(void)
{
    long long int now = time_msec();
    bool contended, agree;

    if (!idl) {
        return;
    }
    follow_settings();
    contended = (ovsdb_idl_is_connected(idl)
                 && ovsdb_idl_is_lock_contended(idl));
    if (!contended) {
        contended_since = 0;
    } else if (!contended_since) {
        contended_since = now;
    } else if (!lock_warned && now - contended_since > 2 * dead_ms) {
        VLOG_WARN("%s: another node holds lock \"%s\": is node name \"%s\" "
                  "used twice?  This node forwards nothing meanwhile.",
                  remote, lock_name, self);
        lock_warned = true;
    }
    if (!ovsdb_idl_is_connected(idl) || !ovsdb_idl_has_lock(idl)) {
        /* Not on the leader with the lock (yet): nothing can be judged
         * or written from here, so the last view stays.  Try the members
         * again every RETRY_MS rather than after the IDL's backoff. */
        if (was_connected || !next_retry) {
            lost_since = now;
            next_retry = now + RETRY_MS;
        } else if (now >= next_retry && !contended
                   && now - lost_since < RETRY_WINDOW_MS) {
            retry_members();
            next_retry = now + RETRY_MS;
        }
        was_connected = beat_committed = false;
        return;
    }
    next_retry = 0;
    if (!beat_committed) {
        /* On a member with the lock: judge once a heartbeat commits. */
        return;
    }
    follow_heartbeats(now, !was_connected);
    was_connected = true;

    ovs_mutex_lock(&cluster_mutex);
    if (update_view(now)) {
        /* Published once the ports gave up what they no longer own. */
        view_published = false;
        seqno++;
        poll_immediate_wake();
        VLOG_INFO("cluster view: %zu live nodes", ibb_shares_n_nodes(view));
    }
    agree = view_published && all_agree();
    if (agree) {
        copy_view(agreed, view);
    }
    if (agree != view_agreed) {
        view_agreed = agree;
        seqno++;
        poll_immediate_wake();
    }
    update_peers();
    ovs_mutex_unlock(&cluster_mutex);
}

bool
ibbridge_cluster_may_write(void)
{
    return !idl || ovsdb_idl_has_lock(idl);
}

static void
port_applied(struct netdev_ibbridge *dev, void *all_)
    OVS_REQUIRES(dev->mutex)
{
    bool *all = all_;

    if (dev->port && dev->map && dev->cluster_seqno != seqno) {
        *all = false;
    }
}

/* Have the ports applied the current view (left what they no longer
 * own)? */
static bool
ports_applied(void)
{
    bool all = true;

    ibbridge_for_each_port(NULL, port_applied, &all);
    return all;
}

bool
ibbridge_cluster_write_due(void)
{
    if (!idl || !ovsdb_idl_is_connected(idl) || !ovsdb_idl_has_lock(idl)
        || !ports_up) {
        /* (Without a port that can forward, this node stops beating, and
         * the others take its share.) */
        return false;
    } else if (!beat_committed) {
        return true;            /* The first beat of this session. */
    } else if (!view_published) {
        return ports_applied();
    }
    return time_msec() >= next_beat;
}

void
ibbridge_cluster_beat_done(bool committed)
{
    if (idl && committed) {
        beat_committed = true;
    }
}

/* Follows changes of cluster-probe and cluster-dead-interval, and whether
 * a port of the cluster can forward. */
static void
follow_settings(void)
{
    struct wanted w = get_wanted();

    if (w.remote) {
        if (w.probe_ms != probe_ms) {
            probe_ms = w.probe_ms;
            ovsdb_idl_set_probe_interval(idl, probe_ms);
        }
        dead_ms = w.dead_ms;
    }
    ports_up = w.up;
    free(w.port);
    free(w.remote);
}


/* ------------------------------------------------------------------ */
/* This node's row. */

struct port_info {
    struct ds port;
    char fabric[IBB_GID_STRLEN + 4];
    char gid[IBB_GID_STRLEN];
    char mac[ETH_ADDR_STRLEN + 1];
};

static void
get_port_info(struct netdev_ibbridge *dev, void *info_)
    OVS_REQUIRES(dev->mutex)
{
    struct port_info *info = info_;
    char gid[IBB_GID_STRLEN];
    uint8_t prefix[16] = { 0 };

    if (info->port.length || !dev->port) {
        return;
    }
    memcpy(prefix, dev->attr.gid, 8);
    ibb_gid_format(prefix, info->fabric, IBB_GID_STRLEN);
    strcat(info->fabric, "/64");
    ds_put_format(&info->port, "%s LID %u GID %s", netdev_get_name(&dev->up),
                  dev->attr.lid,
                  ibb_gid_format(dev->attr.gid, gid, sizeof gid));
    ovs_strlcpy(info->gid, gid, sizeof info->gid);
    snprintf(info->mac, sizeof info->mac, ETH_ADDR_FMT,
             ETH_ADDR_ARGS(dev->cfg.mac));
}

/* Counts the ports' groups that each live node owns, in 'counts' (one per
 * node of the view). */
struct group_count {
    size_t *counts;
    int n;                      /* Nodes in the view, when counting. */
};

static void
count_groups(struct netdev_ibbridge *dev, void *gc_)
    OVS_REQUIRES(dev->mutex)
{
    struct group_count *gc = gc_;

    for (size_t i = 0; i < dev->n_groups; i++) {
        uint8_t ip[16];

        if (ibbridge_mcast_mgid_ip(dev, dev->groups[i].mgid, ip)) {
            int owner;

            ovs_mutex_lock(&cluster_mutex);
            owner = view ? ibb_shares_owner(view, ip, 16) : -1;
            ovs_mutex_unlock(&cluster_mutex);
            if (owner >= 0 && owner < gc->n) {
                gc->counts[owner]++;
            }
        }
    }
}

static size_t *
group_counts(void)
{
    struct group_count gc;

    gc.n = ibb_shares_n_nodes(view);
    gc.counts = xcalloc(gc.n + 1, sizeof *gc.counts);
    ibbridge_for_each_port(NULL, count_groups, &gc);
    return gc.counts;
}

void
ibbridge_cluster_write(struct ovsdb_idl_txn *txn)
{
    const struct ibbrec_node *row = find_row(self);
    size_t n = ibb_shares_n_nodes(view);
    const char **members = xmalloc((n + 1) * sizeof *members);
    struct port_info info = { .port = DS_EMPTY_INITIALIZER };
    size_t *counts = group_counts();
    const char *share_keys[] = { "groups" };
    int64_t share_values[1] = { 0 };

    if (!row) {
        row = ibbrec_node_insert(txn);
        ibbrec_node_set_name(row, self);
    }
    for (size_t i = 0; i < n; i++) {
        members[i] = ibb_shares_node(view, i);
        if (!strcmp(members[i], self)) {
            share_values[0] = counts[i];
        }
    }
    ibbridge_for_each_port(NULL, get_port_info, &info);
    ibbrec_node_set_fabric(row, info.fabric);
    ibbrec_node_set_port(row, ds_cstr(&info.port));
    ibbrec_node_set_mac(row, info.mac);
    ibbrec_node_set_gid(row, info.gid);
    ibbrec_node_set_members(row, members, n);
    ibbrec_node_set_shares(row, share_keys, share_values, 1);
    ibbrec_node_set_heartbeat(row, row->heartbeat + 1);
    ovsdb_idl_txn_add_comment(txn, "ibbridge: node %s heartbeat", self);
    view_published = true;
    next_beat = time_msec() + beat_interval();
    ds_destroy(&info.port);
    free(counts);
    free(members);
}

void
ibbridge_cluster_wait(void)
{
    long long int now = time_msec();
    struct shash_node *node;

    if (!idl) {
        return;
    }
    if (!was_connected) {
        if (next_retry && now - lost_since < RETRY_WINDOW_MS) {
            poll_timer_wait_until(next_retry);
        }
        return;
    }
    poll_timer_wait_until(next_beat);
    /* Wake when a live peer would turn dead. */
    SHASH_FOR_EACH (node, &peers) {
        const struct peer *p = node->data;

        if (now < p->deadline) {
            poll_timer_wait_until(p->deadline);
        }
    }
}


/* ------------------------------------------------------------------ */
/* Ownership. */

struct ibbridge_cluster_owners {
    struct ibb_shares *view;
    struct ibb_shares *agreed;
    bool view_agreed;
};

/* A key newly ours waits for every live node to agree on the view. */
static bool
owns_in(const struct ibb_shares *v, const struct ibb_shares *a,
        bool all_agreed, const uint8_t ip[16])
{
    return (ibb_shares_is_mine(v, ip, 16)
            && (all_agreed || ibb_shares_is_mine(a, ip, 16)));
}

bool
ibbridge_cluster_owns(const uint8_t ip[16])
{
    bool owns = true;

    ovs_mutex_lock(&cluster_mutex);
    if (view) {
        owns = owns_in(view, agreed, view_agreed, ip);
    } else if (expected) {
        owns = false;           /* No view yet (or any more). */
    }
    ovs_mutex_unlock(&cluster_mutex);
    return owns;
}

struct ibbridge_cluster_owners *
ibbridge_cluster_owners_get(void)
{
    struct ibbridge_cluster_owners *o = NULL;

    ovs_mutex_lock(&cluster_mutex);
    if (view) {
        o = xzalloc(sizeof *o);
        o->view = ibb_shares_create();
        o->agreed = ibb_shares_create();
        copy_view(o->view, view);
        copy_view(o->agreed, agreed);
        o->view_agreed = view_agreed;
    }
    ovs_mutex_unlock(&cluster_mutex);
    return o;
}

bool
ibbridge_cluster_owners_has(const struct ibbridge_cluster_owners *o,
                            const uint8_t ip[16])
{
    return !o || owns_in(o->view, o->agreed, o->view_agreed, ip);
}

void
ibbridge_cluster_owners_free(struct ibbridge_cluster_owners *o)
{
    if (o) {
        ibb_shares_destroy(o->view);
        ibb_shares_destroy(o->agreed);
        free(o);
    }
}

bool
ibbridge_cluster_gained(const struct ibbridge_cluster_owners *before,
                        const uint8_t ip[16])
{
    return (ibbridge_cluster_owns(ip)
            && (!before || !ibbridge_cluster_owners_has(before, ip)));
}

void
ibbridge_cluster_port_run(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    bool new_map = dev->cluster_map != dev->map;
    bool new_owners = dev->cluster_seqno != seqno;

    if (!dev->port || !dev->map || (!new_map && !new_owners)) {
        return;
    }
    ibbridge_mcast_follow_cluster(dev);
    if (new_owners) {
        ovs_mutex_lock(&cluster_mutex);
        free(dev->peers);
        dev->peers = n_others ? xmemdup(others, n_others * sizeof *others)
                              : NULL;
        dev->n_peers = n_others;
        ovs_mutex_unlock(&cluster_mutex);
        if (idl) {
            struct ibbridge_cluster_owners *before = dev->owners;

            /* RoCE hosts move to this node at once for the IB hosts it
             * took over, and IB hosts for the RoCE hosts. */
            dev->owners = ibbridge_cluster_owners_get();
            ibbridge_map_announce_owned(dev, before);
            ibbridge_router_announce(dev, before);
            ibbridge_cluster_owners_free(before);
        }
    }
    dev->cluster_seqno = seqno;
    dev->cluster_map = dev->map;
}


/* ------------------------------------------------------------------ */
/* ovs-appctl ibbridge/cluster/show, ibbridge/cluster/owner */

static void
cluster_show(struct unixctl_conn *conn, int argc OVS_UNUSED,
             const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    long long int now = time_msec();
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct ibbrec_node *row;
    size_t *counts;

    if (!idl) {
        unixctl_command_reply(conn, "cluster: none (a single node forwards "
                              "everything)\n");
        return;
    }
    ds_put_format(&s, "cluster: %s\n", remote);
    ds_put_format(&s, "connection: %s\n", ovsdb_idl_is_connected(idl)
                  ? "connected"
                  : "down (forwarding on the last view)");
    ds_put_format(&s, "node: %s (%s)\n", self,
                  ovsdb_idl_has_lock(idl) ? "lock held"
                  : ovsdb_idl_is_lock_contended(idl)
                  ? "lock held by another process: forwarding nothing"
                  : "lock not yet held");
    ds_put_format(&s, "view: %zu live, %s\n", ibb_shares_n_nodes(view),
                  view_agreed ? "agreed by all"
                  : "waiting for all live nodes to agree");
    counts = group_counts();
    IBBREC_NODE_FOR_EACH (row, idl) {
        const struct peer *p = shash_find_data(&peers, row->name);
        bool is_self = !strcmp(row->name, self);
        bool live = is_self ? self_live() : peer_live(row->name, now);
        int idx = -1;

        for (size_t i = 0; i < ibb_shares_n_nodes(view); i++) {
            if (!strcmp(ibb_shares_node(view, i), row->name)) {
                idx = i;
            }
        }
        ds_put_format(&s, "  %s%s: %s, heartbeat %"PRId64, row->name,
                      is_self ? " (this node)" : "",
                      live ? "live" : "dead", row->heartbeat);
        if (p && !is_self) {
            ds_put_format(&s, " (%lld ms ago)", now - p->changed);
        }
        ds_put_format(&s, ", groups %zu, port %s, mac %s\n",
                      idx >= 0 ? counts[idx] : 0, row->port, row->mac);
    }
    free(counts);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
cluster_owner(struct unixctl_conn *conn, int argc OVS_UNUSED,
              const char *argv[], void *aux OVS_UNUSED)
{
    uint8_t ip[16];
    int owner;

    if (ibb_gid_parse(argv[1], ip)) {
        unixctl_command_reply_error(conn, "expected an IPv4 or IPv6 "
                                    "address");
        return;
    }
    if (!idl) {
        unixctl_command_reply(conn, "this node (no cluster)\n");
        return;
    }
    owner = ibb_shares_owner(view, ip, 16);
    if (owner < 0) {
        unixctl_command_reply(conn, "none (no live node)\n");
    } else {
        char *reply = xasprintf("%s%s\n", ibb_shares_node(view, owner),
                                ibbridge_cluster_owns(ip) ? " (forwarding)"
                                : "");

        unixctl_command_reply(conn, reply);
        free(reply);
    }
}

void
ibbridge_cluster_unixctl_register(void)
{
    unixctl_command_register("ibbridge/cluster/show", "", 0, 0,
                             cluster_show, NULL);
    unixctl_command_register("ibbridge/cluster/owner", "IP", 1, 1,
                             cluster_owner, NULL);
}
