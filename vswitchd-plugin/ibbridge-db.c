/*
 * Keeps the run-time entries of the ports' address maps, the hosts learned
 * from traffic and those added with ibbridge/map/add, in the "ibbridge"
 * database (ibbridge.ovsschema, table Host) on the ovsdb-server that
 * ovs-vswitchd uses, so that a restart finds them again.  This file finds
 * the server, connects an IDL and schedules the passes that compare rows
 * and maps (ibbridge-db-sync.c): once a second, or at once after a change
 * by hand, at most one transaction in flight.  The database only follows
 * the maps, except when a port's rows are loaded.
 *
 * Only the main thread (the netdev class's run and wait) comes here.
 */
#include <config.h>
#include "ibbridge-db.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dirs.h"
#include "jsonrpc.h"
#include "netdev-ibbridge-private.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "ovsdb-session.h"
#include "svec.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"
#include "uuid.h"

#include "ibbridge-cluster.h"
#include "ibbridge-db-sync.h"
#include "ibbridge-idl.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_db);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The database's name in ovsdb-server, as in ibbridge.ovsschema. */
#define IBBRIDGE_DB_NAME "ibbridge"

/* How often the maps are compared with the database at most (sooner after
 * a change by hand). */
#define IBBRIDGE_DB_SYNC_MS 1000

enum db_state {
    DB_IDLE,                    /* No ibbridge port yet: not connected. */
    DB_PROBING,                 /* Asking the server for its databases. */
    DB_ACTIVE,                  /* The IDL keeps the maps' rows. */
    DB_OFF,                     /* No database: no persistence. */
};

static enum db_state state = DB_IDLE;
static char *remote;                    /* The server's remote. */
static char *cluster_remote;            /* options:cluster it came from. */
static char *node;                      /* This system's "node" value. */
static struct jsonrpc_session *probe;   /* DB_PROBING: asks "list_dbs". */
static unsigned int probe_seqno;        /* Connection the question went on. */
static struct ovsdb_idl *idl;           /* DB_ACTIVE. */
static struct ovsdb_idl_txn *txn;       /* In flight, or NULL. */
static bool txn_beat;                   /* 'txn' is a heartbeat. */
static long long int next_sync;         /* When to compare again. */


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
        return arg[1] && strchr("pcC", arg[1]) && !arg[2];
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
    if (!buf.length) {
        ds_destroy(&buf);
        return NULL;
    }

    /* Words are NUL-terminated; the first is the program. */
    const char *end = buf.string + buf.length;
    const char *arg = buf.string + strlen(buf.string) + 1;
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

/* The remote: a port's options:cluster (the bridge cluster's database),
 * else $IBBRIDGE_DB_REMOTE if set ("none" turns persistence off), else
 * ovs-vswitchd's own, else its default. */
static char *
find_remote(void)
{
    const char *env = getenv("IBBRIDGE_DB_REMOTE");
    char *r = ibbridge_cluster_wanted_remote();

    if (r) {
        return r;
    }
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
count_port(struct netdev_ibbridge *dev OVS_UNUSED, void *n_)
    OVS_REQUIRES(dev->mutex)
{
    size_t *n = n_;

    (*n)++;
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
    cluster_remote = ibbridge_cluster_wanted_remote();
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
    ibbridge_cluster_attach(idl, remote, node);
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
    if (txn_beat) {
        ibbridge_cluster_beat_done(status == TXN_SUCCESS
                                   || status == TXN_UNCHANGED);
        txn_beat = false;
    }
    ovsdb_idl_txn_destroy(txn);
    txn = NULL;
    return true;
}

/* Can a pass run: connected, with the database's contents, and no
 * transaction in flight? */
static bool
db_ready(void)
{
    return (!txn && ovsdb_idl_has_ever_connected(idl)
            && ovsdb_idl_is_connected(idl));
}

/* Closes the connection, for db_start() to open the right one. */
static void
db_stop(void)
{
    ibbridge_cluster_detach();
    if (txn) {
        ovsdb_idl_txn_destroy(txn);
        txn = NULL;
        txn_beat = false;
    }
    ovsdb_idl_destroy(idl);
    idl = NULL;
    jsonrpc_session_close(probe);
    probe = NULL;
    free(remote);
    free(node);
    free(cluster_remote);
    remote = node = cluster_remote = NULL;
    state = DB_IDLE;
}

/* Starts over when the ports' options:cluster changed. */
static void
db_follow_cluster_option(void)
{
    char *wanted = ibbridge_cluster_wanted_remote();

    if (state != DB_IDLE && !nullable_string_is_equal(wanted,
                                                      cluster_remote)) {
        VLOG_INFO("options:cluster changed: reconnecting the %s database",
                  IBBRIDGE_DB_NAME);
        db_stop();
    }
    free(wanted);
}

void
ibbridge_db_run(void)
{
    db_follow_cluster_option();
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
    ibbridge_cluster_run();
    if (!db_txn_done() || !db_ready() || !ibbridge_cluster_may_write()) {
        return;
    }
    if (ibbridge_cluster_write_due()) {
        /* The heartbeat first, alone: a large map sync must not hold it
         * up. */
        txn = ovsdb_idl_txn_create(idl);
        txn_beat = true;
        ibbridge_cluster_write(txn);
        db_txn_done();
    } else if (time_msec() >= next_sync || ibbridge_db_sync_needed()) {
        txn = ovsdb_idl_txn_create(idl);
        ovsdb_idl_txn_add_comment(txn, "ibbridge: address map entries");
        ibbridge_db_sync(idl, txn, node);
        next_sync = time_msec() + IBBRIDGE_DB_SYNC_MS;
        db_txn_done();
    }
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
    ibbridge_cluster_wait();
    if (txn) {
        ovsdb_idl_txn_wait(txn);
    } else if (db_ready() && ibbridge_cluster_may_write()) {
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
        ibbridge_db_sync_show(&s);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

void
ibbridge_db_unixctl_register(void)
{
    unixctl_command_register("ibbridge/db/show", "", 0, 0,
                             db_unixctl_show, NULL);
    ibbridge_cluster_unixctl_register();
}
