/*
 * Keeps the run-time entries of the ports' address maps, the hosts learned
 * from traffic and those added with ibbridge/map/add, in the "ibbridge"
 * database (ibbridge.ovsschema, table Host) on the ovsdb-server that
 * ovs-vswitchd uses, and loads them back into a port's map when the port
 * comes up again after a restart.
 *
 * The database is a copy that follows the maps, never the other way round
 * (except for the load): once a second, or as soon as a port's map changed
 * by hand, one transaction brings each port's rows in line with its map.
 * A learned host is written when it is learned; when it is seen again only
 * its last_seen moves, and that is written at most every quarter of
 * mac-aging-time, so traffic does not turn into database writes.  Rows of a
 * port that leaves ovs-vswitchd go with it; an exit or a crash keeps them.
 *
 * Only the main thread (the netdev class's run and wait) comes here.
 */
#include <config.h>
#include "ibbridge-db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dirs.h"
#include "hash.h"
#include "jsonrpc.h"
#include "netdev-ibbridge-private.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "ovsdb-session.h"
#include "packets.h"
#include "svec.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"
#include "uuid.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ibbridge-idl.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_db);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The database's name in ovsdb-server, as in ibbridge.ovsschema. */
#define IBBRIDGE_DB_NAME "ibbridge"

/* How often the maps are compared with the database at most (sooner after
 * a change by hand). */
#define IBBRIDGE_DB_SYNC_MS 1000

/* The longest a learned host's last_seen may lag in the database: on a
 * restart a host is taken as last seen at most this much (or a quarter of
 * mac-aging-time, if less) before it really was. */
#define IBBRIDGE_DB_MAX_REFRESH_MS (60 * 1000)

enum db_state {
    DB_IDLE,                    /* No ibbridge port yet: not connected. */
    DB_PROBING,                 /* Asking the server for its databases. */
    DB_ACTIVE,                  /* The IDL keeps the maps' rows. */
    DB_OFF,                     /* No database: no persistence. */
};

/* What this file knows of a port. */
struct db_port {
    struct hmap_node node;      /* In 'ports', by name. */
    char *name;                 /* The netdev's name. */
    const struct netdev_ibbridge *dev; /* The netdev, only compared. */
    bool loaded;                /* Its rows went into its map. */
    bool seen;                  /* Found in the current pass. */
    uint64_t change_seq;        /* netdev_get_change_seq() last synced. */
};

static enum db_state state = DB_IDLE;
static char *remote;                    /* The server's remote. */
static char *node;                      /* This system's "node" value. */
static struct jsonrpc_session *probe;   /* DB_PROBING: asks "list_dbs". */
static unsigned int probe_seqno;        /* Connection the question went on. */
static struct ovsdb_idl *idl;           /* DB_ACTIVE. */
static struct ovsdb_idl_txn *txn;       /* In flight, or NULL. */
static long long int next_sync;         /* When to compare again. */
static struct hmap ports = HMAP_INITIALIZER(&ports);


/* ------------------------------------------------------------------ */
/* Where the database is. */

/* ovs-vswitchd's options that take their argument as the next word, for
 * finding its database remote, the one other word (see
 * vswitchd/ovs-vswitchd.c's parse_options()). */
static bool
option_takes_next_word(const char *arg)
{
    static const char *const long_opts[] = {
        "--unixctl", "--user", "--syslog-method", "--syslog-target",
        "--private-key", "--certificate", "--ca-cert", "--ssl-protocols",
        "--ssl-ciphers", "--peer-ca-cert", "--bootstrap-ca-cert",
        "--dummy-numa", "--pipe-handle",
    };

    if (arg[0] == '-' && arg[1] != '-') {
        /* -p, -c and -C (SSL files) take one, unless attached. */
        return strchr("pcC", arg[1]) && arg[1] && !arg[2];
    }
    for (size_t i = 0; i < ARRAY_SIZE(long_opts); i++) {
        if (!strcmp(arg, long_opts[i])) {
            return true;
        }
    }
    return false;
}

/* Returns the database remote ovs-vswitchd was started with, from its
 * command line: its last word that is not an option or an option's
 * argument, or NULL if it has none (then it used the default). */
static char *
remote_from_cmdline(void)
{
    FILE *stream = fopen("/proc/self/cmdline", "r");
    struct ds buf = DS_EMPTY_INITIALIZER;
    char *found = NULL;
    bool options = true;
    int c;

    if (!stream) {
        return NULL;
    }
    while ((c = getc(stream)) != EOF) {
        ds_put_char(&buf, c);
    }
    fclose(stream);

    /* Words are NUL-terminated; the first is the program. */
    const char *end = buf.string + buf.length;
    const char *arg = buf.string ? buf.string + strlen(buf.string) + 1 : end;
    while (arg < end) {
        const char *next = arg + strlen(arg) + 1;

        if (options && !strcmp(arg, "--")) {
            options = false;
        } else if (options && arg[0] == '-' && arg[1]) {
            if (option_takes_next_word(arg) && next < end) {
                next += strlen(next) + 1;
            }
        } else {
            free(found);
            found = xstrdup(arg);
        }
        arg = next;
    }
    ds_destroy(&buf);
    return found;
}

/* The remote: $IBBRIDGE_DB_REMOTE if set ("none" turns persistence off),
 * else ovs-vswitchd's own, else its default. */
static char *
find_remote(void)
{
    const char *env = getenv("IBBRIDGE_DB_REMOTE");
    char *r;

    if (env && env[0]) {
        return xstrdup(env);
    }
    r = remote_from_cmdline();
    return r ? r : xasprintf("unix:%s/db.sock", ovs_rundir());
}

/* The value of the rows' "node" column, which tells apart the systems that
 * share one database: $IBBRIDGE_NODE if set, else the host name. */
static char *
find_node(void)
{
    const char *env = getenv("IBBRIDGE_NODE");
    char name[256];

    if (env && env[0]) {
        return xstrdup(env);
    }
    if (gethostname(name, sizeof name - 1)) {
        return xstrdup("localhost");
    }
    name[sizeof name - 1] = '\0';
    return xstrdup(name);
}


/* ------------------------------------------------------------------ */
/* Connecting: first "list_dbs", so that a server without the database is
 * told once and left alone (an IDL would retry it forever). */

static void
count_port(struct netdev_ibbridge *dev OVS_UNUSED, void *n)
    OVS_REQUIRES(dev->mutex)
{
    ++*(size_t *) n;
}

static void
db_start(void)
{
    struct svec remotes = SVEC_EMPTY_INITIALIZER;
    struct uuid cid;
    size_t n = 0;

    ibbridge_for_each_port(NULL, count_port, &n);
    if (!n) {
        return;
    }
    remote = find_remote();
    node = find_node();
    if (!strcmp(remote, "none")) {
        VLOG_INFO("IBBRIDGE_DB_REMOTE=none: run-time map entries are not "
                  "kept across restarts");
        state = DB_OFF;
        return;
    }
    ovsdb_session_parse_remote(remote, &remotes, &cid);
    probe = jsonrpc_session_open_multiple(&remotes, true);
    svec_destroy(&remotes);
    probe_seqno = 0;
    state = DB_PROBING;
}

static void
db_open_idl(void)
{
    struct ovsdb_idl_condition cond = OVSDB_IDL_CONDITION_INIT(&cond);

    idl = ovsdb_idl_create(remote, &ibbrec_idl_class, true, true);
    ibbrec_host_add_clause_node(&cond, OVSDB_F_EQ, node);
    ibbrec_host_set_condition(idl, &cond);
    ovsdb_idl_condition_destroy(&cond);
    state = DB_ACTIVE;
    VLOG_INFO("%s: keeping run-time map entries in the %s database (node "
              "\"%s\")", remote, IBBRIDGE_DB_NAME, node);
}

/* Does 'reply' (to "list_dbs") list the database? */
static bool
reply_has_db(const struct jsonrpc_msg *reply)
{
    if (reply->result && reply->result->type == JSON_ARRAY) {
        const struct json_array *dbs = json_array(reply->result);

        for (size_t i = 0; i < dbs->n; i++) {
            if (dbs->elems[i]->type == JSON_STRING
                && !strcmp(json_string(dbs->elems[i]), IBBRIDGE_DB_NAME)) {
                return true;
            }
        }
    }
    return false;
}

static void
db_probe_run(void)
{
    struct jsonrpc_msg *msg;

    jsonrpc_session_run(probe);
    if (!jsonrpc_session_is_connected(probe)) {
        return;
    }
    if (probe_seqno != jsonrpc_session_get_seqno(probe)) {
        probe_seqno = jsonrpc_session_get_seqno(probe);
        jsonrpc_session_send(probe, jsonrpc_create_request(
                                 "list_dbs", json_array_create_empty(),
                                 NULL));
    }
    while ((msg = jsonrpc_session_recv(probe))) {
        if (msg->type == JSONRPC_REPLY || msg->type == JSONRPC_ERROR) {
            bool found = reply_has_db(msg);

            jsonrpc_msg_destroy(msg);
            jsonrpc_session_close(probe);
            probe = NULL;
            if (found) {
                db_open_idl();
            } else {
                VLOG_INFO("%s: no %s database: run-time map entries are "
                          "not kept across restarts (README.rst, \"Where "
                          "run-time map entries are kept\")", remote,
                          IBBRIDGE_DB_NAME);
                state = DB_OFF;
            }
            return;
        }
        jsonrpc_msg_destroy(msg);
    }
}


/* ------------------------------------------------------------------ */
/* Rows and ports. */

/* A row of this node, found by interface and IP for one pass. */
struct db_row {
    struct hmap_node node;      /* In 'sync_ctx->rows'. */
    const struct ibbrec_host *rec;
    uint8_t ip[16];             /* Parsed 'rec->ip'. */
    bool keep;                  /* Its port's map has it. */
};

struct sync_ctx {
    struct hmap rows;           /* Of db_row. */
    long long int now;          /* time_msec(). */
    long long int wall;         /* time_wall_msec() at the same time. */
};

static uint32_t
row_hash(const char *interface, const uint8_t ip[16])
{
    return hash_bytes(ip, 16, hash_string(interface, 0));
}

static struct db_row *
find_row(const struct sync_ctx *ctx, const char *interface,
         const uint8_t ip[16])
{
    struct db_row *row;

    HMAP_FOR_EACH_WITH_HASH (row, node, row_hash(interface, ip),
                             &ctx->rows) {
        if (!strcmp(row->rec->interface, interface)
            && !memcmp(row->ip, ip, 16)) {
            return row;
        }
    }
    return NULL;
}

/* Indexes this node's rows; deletes those that make no sense (an IP that
 * does not parse, or a second row for the same address). */
static void
index_rows(struct sync_ctx *ctx)
{
    const struct ibbrec_host *rec;

    IBBREC_HOST_FOR_EACH (rec, idl) {
        struct db_row *row;
        uint8_t ip[16];

        if (strcmp(rec->node, node)) {
            continue;
        }
        if (ibb_gid_parse(rec->ip, ip) || find_row(ctx, rec->interface, ip)) {
            VLOG_INFO_RL(&rl, "%s: deleting row for \"%s\": bad or "
                         "duplicate IP", rec->interface, rec->ip);
            ibbrec_host_delete(rec);
            continue;
        }
        row = xzalloc(sizeof *row);
        row->rec = rec;
        memcpy(row->ip, ip, 16);
        hmap_insert(&ctx->rows, &row->node, row_hash(rec->interface, ip));
    }
}

static struct db_port *
find_port(const char *name)
{
    struct db_port *p;

    HMAP_FOR_EACH_WITH_HASH (p, node, hash_string(name, 0), &ports) {
        if (!strcmp(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

/* The address a learned or added host's row is kept under: such hosts have
 * one (lib/addr-map.h, ibb_host_init_ip_mac()). */
static const uint8_t *
host_ip(const struct ibb_host *h)
{
    return h->has_ipv4 ? h->ipv4 : h->has_ipv6 ? h->ipv6 : NULL;
}

/* Parses row 'rec' into '*h', '*source' and '*age' (ms before now).
 * Returns false if it does not describe a host. */
static bool
row_to_host(const struct db_row *row, const struct sync_ctx *ctx,
            struct ibb_host *h, enum ibb_host_source *source,
            long long int *age)
{
    const struct ibbrec_host *rec = row->rec;
    struct eth_addr mac;

    memset(h, 0, sizeof *h);
    if (ibb_gid_is_v4mapped(row->ip)) {
        h->has_ipv4 = true;
        memcpy(h->ipv4, row->ip, 16);
    } else {
        h->has_ipv6 = true;
        memcpy(h->ipv6, row->ip, 16);
    }
    if (rec->mac) {
        if (!eth_addr_from_string(rec->mac, &mac)) {
            return false;
        }
        h->has_mac = true;
        memcpy(h->mac, mac.ea, ETH_ADDR_LEN);
    }
    if (rec->gid) {
        if (ibb_gid_parse(rec->gid, h->gid)) {
            return false;
        }
        h->has_gid = true;
    }
    if (rec->n_lid) {
        h->lid = rec->lid[0];
    }
    *source = (!strcmp(rec->source, "added") ? IBB_HOST_ADDED
               : IBB_HOST_LEARNED);
    *age = MAX(0, ctx->wall - rec->last_seen);
    return true;
}

/* Loads the rows of 'dev' into its map: learned hosts not yet aged out,
 * keeping their age, and added hosts.  A host the map has already stays as
 * it is (the row is brought in line below), unless an added row meets a
 * learned host: the operator's word wins, as with ibbridge/map/add. */
static void
load_port(struct sync_ctx *ctx, struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    const char *name = netdev_get_name(&dev->up);
    long long int max_age = dev->cfg.mac_aging_s * 1000LL;
    size_t n_loaded = 0, n_expired = 0;
    struct db_row *row;

    HMAP_FOR_EACH (row, node, &ctx->rows) {
        enum ibb_host_source source;
        struct ibb_host h;
        long long int age;
        int error;

        if (strcmp(row->rec->interface, name)) {
            continue;
        }
        if (!row_to_host(row, ctx, &h, &source, &age)) {
            continue;
        }
        if (source == IBB_HOST_LEARNED && age >= max_age) {
            n_expired++;
            continue;
        }
        if (source == IBB_HOST_LEARNED) {
            /* As learned from traffic (which counts it as learned), unless
             * traffic since the start taught it already.  The rows come
             * from a map that kept to its limit: none here. */
            error = (!h.has_mac || ibb_addr_map_find_ip(dev->map, row->ip)
                     ? EEXIST
                     : ibb_addr_map_learn_mac(dev->map, row->ip, h.mac,
                                              ctx->now - age, SIZE_MAX));
        } else {
            error = ibb_addr_map_add_host_from(dev->map, &h, source,
                                               ctx->now - age);
        }
        if (error == EEXIST && source == IBB_HOST_ADDED
            && !ibb_addr_map_del_ip_from(dev->map, row->ip,
                                         IBB_HOST_LEARNED)) {
            error = ibb_addr_map_add_host_from(dev->map, &h, source,
                                               ctx->now - age);
        }
        n_loaded += !error;
    }
    if (n_loaded || n_expired) {
        VLOG_INFO("%s: %zu hosts loaded from the %s database, %zu aged "
                  "out", name, n_loaded, IBBRIDGE_DB_NAME, n_expired);
        netdev_change_seq_changed(&dev->up);
    }
}

struct sync_port_ctx {
    struct sync_ctx *ctx;
    const char *name;
    long long int refresh;      /* Most last_seen may lag, in ms. */
};

/* Brings the row of host 'h' in line with it. */
static void
sync_host(const struct ibb_host *h, enum ibb_host_source source,
          long long int last_seen, void *pctx_)
{
    struct sync_port_ctx *pctx = pctx_;
    struct sync_ctx *ctx = pctx->ctx;
    const struct ibbrec_host *rec;
    const char *source_name;
    char mac[ETH_ADDR_STRLEN + 1];
    const uint8_t *ip = host_ip(h);
    long long int seen_wall;
    struct db_row *row;
    bool new_source;

    if ((source != IBB_HOST_LEARNED && source != IBB_HOST_ADDED) || !ip) {
        return;
    }
    source_name = source == IBB_HOST_ADDED ? "added" : "learned";
    seen_wall = ctx->wall - (ctx->now - last_seen);
    snprintf(mac, sizeof mac, ETH_ADDR_FMT, ETH_ADDR_BYTES_ARGS(h->mac));

    row = find_row(ctx, pctx->name, ip);
    if (row) {
        row->keep = true;
        rec = row->rec;
        new_source = strcmp(rec->source, source_name);
        if (new_source) {
            ibbrec_host_set_source(rec, source_name);
        }
        if (new_source || (source == IBB_HOST_LEARNED
                           && seen_wall - rec->last_seen >= pctx->refresh)) {
            ibbrec_host_set_last_seen(rec, seen_wall);
        }
    } else {
        char s[IBB_GID_STRLEN];

        rec = ibbrec_host_insert(txn);
        ibbrec_host_set_node(rec, node);
        ibbrec_host_set_interface(rec, pctx->name);
        ibbrec_host_set_ip(rec, ibb_ip_format(ip, s, sizeof s));
        ibbrec_host_set_source(rec, source_name);
        ibbrec_host_set_last_seen(rec, seen_wall);
    }
    if (h->has_mac ? !rec->mac || strcmp(rec->mac, mac) : !!rec->mac) {
        ibbrec_host_set_mac(rec, h->has_mac ? mac : NULL);
    }
    if (h->has_gid) {
        char s[IBB_GID_STRLEN];

        ibb_gid_format(h->gid, s, sizeof s);
        if (!rec->gid || strcmp(rec->gid, s)) {
            ibbrec_host_set_gid(rec, s);
        }
    } else if (rec->gid) {
        ibbrec_host_set_gid(rec, NULL);
    }
    if (h->lid ? !rec->n_lid || rec->lid[0] != h->lid : rec->n_lid) {
        int64_t lid = h->lid;

        ibbrec_host_set_lid(rec, &lid, h->lid ? 1 : 0);
    }
}

/* Deletes the rows of port 'name' that 'keep' is not set on. */
static void
delete_port_rows(struct sync_ctx *ctx, const char *name)
{
    struct db_row *row;

    HMAP_FOR_EACH (row, node, &ctx->rows) {
        if (!row->keep && !strcmp(row->rec->interface, name)) {
            ibbrec_host_delete(row->rec);
            row->keep = true;
        }
    }
}

static void
sync_port(struct netdev_ibbridge *dev, void *ctx_)
    OVS_REQUIRES(dev->mutex)
{
    const char *name = netdev_get_name(&dev->up);
    struct sync_ctx *ctx = ctx_;
    struct db_port *p = find_port(name);

    if (!p) {
        p = xzalloc(sizeof *p);
        p->name = xstrdup(name);
        hmap_insert(&ports, &p->node, hash_string(name, 0));
    }
    if (p->dev != dev) {
        /* A new netdev under this name: its map has none of the rows. */
        p->dev = dev;
        p->loaded = false;
    }
    p->seen = true;
    p->change_seq = netdev_get_change_seq(&dev->up);
    if (!dev->map) {
        /* Not configured: what it had comes back from the rows later. */
        p->loaded = false;
        return;
    }
    if (!p->loaded) {
        load_port(ctx, dev);
        p->loaded = true;
        p->change_seq = netdev_get_change_seq(&dev->up);
    }

    struct sync_port_ctx pctx = {
        .ctx = ctx,
        .name = name,
        .refresh = MAX(IBBRIDGE_DB_SYNC_MS,
                       MIN(IBBRIDGE_DB_MAX_REFRESH_MS,
                           dev->cfg.mac_aging_s * 1000LL / 4)),
    };
    ibb_addr_map_foreach_host(dev->map, sync_host, &pctx);
    delete_port_rows(ctx, name);
}

/* One pass: every port's rows in line with its map, in one transaction. */
static void
db_sync(void)
{
    struct sync_ctx ctx = {
        .rows = HMAP_INITIALIZER(&ctx.rows),
        .now = time_msec(),
        .wall = time_wall_msec(),
    };
    struct db_port *p;
    struct db_row *row;

    txn = ovsdb_idl_txn_create(idl);
    ovsdb_idl_txn_add_comment(txn, "ibbridge: address map entries");
    index_rows(&ctx);

    HMAP_FOR_EACH (p, node, &ports) {
        p->seen = false;
    }
    ibbridge_for_each_port(NULL, sync_port, &ctx);
    HMAP_FOR_EACH_SAFE (p, node, &ports) {
        if (!p->seen) {
            /* The port left ovs-vswitchd: its rows go too. */
            delete_port_rows(&ctx, p->name);
            hmap_remove(&ports, &p->node);
            free(p->name);
            free(p);
        }
    }

    HMAP_FOR_EACH_POP (row, node, &ctx.rows) {
        free(row);
    }
    hmap_destroy(&ctx.rows);
    next_sync = ctx.now + IBBRIDGE_DB_SYNC_MS;
}

/* Finishes the transaction in flight, if any.  Returns false while it is
 * still under way. */
static bool
db_txn_done(void)
{
    enum ovsdb_idl_txn_status status;

    if (!txn) {
        return true;
    }
    status = ovsdb_idl_txn_commit(txn);
    switch (status) {
    case TXN_INCOMPLETE:
        return false;
    case TXN_UNCOMMITTED:
    case TXN_UNCHANGED:
    case TXN_SUCCESS:
        break;
    case TXN_TRY_AGAIN:
        /* Connection lost, or the rows changed under us: the next pass
         * compares again with what the server has. */
        VLOG_DBG("%s database transaction to try again", IBBRIDGE_DB_NAME);
        break;
    case TXN_ABORTED:
    case TXN_NOT_LOCKED:
    case TXN_ERROR:
    default:
        VLOG_WARN_RL(&rl, "%s database transaction failed (%s): %s",
                     IBBRIDGE_DB_NAME, ovsdb_idl_txn_status_to_string(status),
                     ovsdb_idl_txn_get_error(txn));
        break;
    }
    ovsdb_idl_txn_destroy(txn);
    txn = NULL;
    return true;
}

/* Has a port's map changed by hand since it was compared (ibbridge/map/
 * add, del and flush change the netdev's sequence number)? */
static void
check_changed(struct netdev_ibbridge *dev, void *changed)
    OVS_REQUIRES(dev->mutex)
{
    struct db_port *p = find_port(netdev_get_name(&dev->up));

    if (dev->map
        && (!p || p->dev != dev || !p->loaded
            || p->change_seq != netdev_get_change_seq(&dev->up))) {
        *(bool *) changed = true;
    }
}

void
ibbridge_db_run(void)
{
    bool changed = false;

    switch (state) {
    case DB_IDLE:
        db_start();
        return;
    case DB_PROBING:
        db_probe_run();
        return;
    case DB_OFF:
        return;
    case DB_ACTIVE:
        break;
    }

    ovsdb_idl_run(idl);
    if (!db_txn_done() || !ovsdb_idl_has_ever_connected(idl)
        || !ovsdb_idl_is_connected(idl)) {
        return;
    }
    if (time_msec() < next_sync) {
        ibbridge_for_each_port(NULL, check_changed, &changed);
        if (!changed) {
            return;
        }
    }
    db_sync();
    db_txn_done();
}

void
ibbridge_db_wait(void)
{
    switch (state) {
    case DB_IDLE:
    case DB_OFF:
        return;
    case DB_PROBING:
        jsonrpc_session_wait(probe);
        jsonrpc_session_recv_wait(probe);
        return;
    case DB_ACTIVE:
        break;
    }
    ovsdb_idl_wait(idl);
    if (txn) {
        ovsdb_idl_txn_wait(txn);
    } else if (!hmap_is_empty(&ports) || ovsdb_idl_has_ever_connected(idl)) {
        poll_timer_wait_until(next_sync);
    }
}


/* ------------------------------------------------------------------ */
/* ovs-appctl ibbridge/db/show */

static void
db_unixctl_show(struct unixctl_conn *conn, int argc OVS_UNUSED,
                const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    static const char *const names[] = {
        [DB_IDLE] = "idle (no ibbridge port yet)",
        [DB_PROBING] = "looking for the database",
        [DB_ACTIVE] = "active",
        [DB_OFF] = "off (no database)",
    };
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct ibbrec_host *rec;
    struct db_port *p;
    size_t n = 0;

    ds_put_format(&s, "database: %s\n", names[state]);
    if (remote) {
        ds_put_format(&s, "remote: %s\nnode: %s\n", remote, node);
    }
    if (state == DB_ACTIVE) {
        IBBREC_HOST_FOR_EACH (rec, idl) {
            n++;
        }
        ds_put_format(&s, "connected: %s\nrows: %zu\n",
                      ovsdb_idl_is_connected(idl) ? "yes" : "no", n);
        HMAP_FOR_EACH (p, node, &ports) {
            ds_put_format(&s, "port %s: %s\n", p->name,
                          p->loaded ? "loaded" : "not loaded");
        }
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

void
ibbridge_db_unixctl_register(void)
{
    unixctl_command_register("ibbridge/db/show", "", 0, 0,
                             db_unixctl_show, NULL);
}
