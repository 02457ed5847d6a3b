/* IB port interface: backend selection and the state kept across
 * reconnects.  See lib/ibport.h. */
#include <config.h>

#include "ibport.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ibport-provider.h"

/* uthash must not exit the process on allocation failure. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(OBJ) (oom = true)
#include <uthash.h>

/* An entry of port->group_ix: where a membership is in port->groups, so
 * that 10,000 of them are found in O(1). */
struct ibb_port_group_ix {
    UT_hash_handle hh;          /* In port->group_ix, keyed on 'mgid'. */
    uint8_t mgid[16];           /* The key. */
    size_t idx;                 /* Index in port->groups. */
};

int
ibb_port_set_error(struct ibb_port *port, int error, const char *format, ...)
{
    va_list args;
    char *msg;

    va_start(args, format);
    if (vasprintf(&msg, format, args) < 0) {
        abort();
    }
    va_end(args);
    free(port->error);
    port->error = msg;
    return error;
}

void
ibb_port_clear_error(struct ibb_port *port)
{
    free(port->error);
    port->error = NULL;
}

static const struct ibb_port_class *
lookup_class(enum ibb_device_kind kind)
{
    switch (kind) {
    case IBB_DEVICE_SIM:
        return &ibb_port_sim_class;
    case IBB_DEVICE_VERBS:
#ifdef HAVE_IBVERBS
        return &ibb_port_verbs_class;
#endif
    default:
        return NULL;
    }
}

static void
free_common(struct ibb_port *port)
{
    ibb_device_spec_destroy(&port->spec);
    free(port->device);
    free((char *) port->opts.name);
    free(port->aliases);
    free(port->routes);
    free(port->qps);
    free(port->groups);
    free(port->error);
    {
        struct ibb_port_group_ix *ix, *next;

        HASH_ITER(hh, port->group_ix, ix, next) {
            HASH_DEL(port->group_ix, ix);
            free(ix);
        }
    }
}

int
ibb_port_open(const char *device, const struct ibb_port_options *opts,
              struct ibb_port **portp, char **errp)
{
    const struct ibb_port_class *class;
    struct ibb_device_spec spec;
    struct ibb_port *port;
    char *error = NULL;
    int err;

    *portp = NULL;
    if (errp) {
        *errp = NULL;
    }

    err = ibb_parse_device(device, &spec, &error);
    if (err) {
        goto fail;
    }

    class = lookup_class(spec.kind);
    if (!class) {
        error = ibb_xasprintf("%s: the verbs backend is not built in "
                              "(configure found no libibverbs and "
                              "librdmacm: install rdma-core's development "
                              "files and build again)", device);
        ibb_device_spec_destroy(&spec);
        err = EOPNOTSUPP;
        goto fail;
    }

    if (opts && opts->n_rxq > 1 && !class->recv_queue) {
        error = ibb_xasprintf("%s: a %s port has one receive queue, not %u",
                              device, class->type, opts->n_rxq);
        ibb_device_spec_destroy(&spec);
        err = EINVAL;
        goto fail;
    }

    port = class->alloc();
    if (!port) {
        ibb_device_spec_destroy(&spec);
        error = ibb_xasprintf("%s: out of memory", device);
        err = ENOMEM;
        goto fail;
    }
    port->class = class;
    port->spec = spec;
    port->device = strdup(device);
    if (opts) {
        port->opts = *opts;
    }
    port->opts.name = port->opts.name ? strdup(port->opts.name) : NULL;
    if (!port->opts.pkey) {
        port->opts.pkey = IBB_DEFAULT_PKEY;
    }

    err = class->connect(port);
    if (err) {
        error = port->error ? port->error : ibb_xasprintf("%s: %s", device,
                                                          strerror(err));
        port->error = NULL;
        free_common(port);
        class->dealloc(port);
        goto fail;
    }
    *portp = port;
    return 0;

fail:
    if (errp) {
        *errp = error;
    } else {
        free(error);
    }
    return err;
}

void
ibb_port_close(struct ibb_port *port)
{
    if (port) {
        port->class->disconnect(port);
        free_common(port);
        port->class->dealloc(port);
    }
}

const char *
ibb_port_device(const struct ibb_port *port)
{
    return port->device;
}

const char *
ibb_port_error(const struct ibb_port *port)
{
    return port->error ? port->error : "";
}

int
ibb_port_fd(const struct ibb_port *port)
{
    return port->class->get_fd(port);
}

bool
ibb_port_has_pending(const struct ibb_port *port)
{
    return port->class->has_pending(port);
}

bool
ibb_port_is_up(const struct ibb_port *port)
{
    return port->class->is_up(port);
}

int
ibb_port_recv(struct ibb_port *port, struct ibb_port_buf bufs[], size_t n,
              size_t *n_recv)
{
    *n_recv = 0;
    if (n > IBB_PORT_BURST) {
        n = IBB_PORT_BURST;
    }
    return port->class->recv(port, bufs, n, n_recv);
}

unsigned int
ibb_port_n_rxq(const struct ibb_port *port)
{
    return port->class->n_rxq ? port->class->n_rxq(port) : 1;
}

int
ibb_port_recv_queue(struct ibb_port *port, unsigned int qid,
                    struct ibb_port_buf bufs[], size_t n, size_t *n_recv)
{
    if (!qid || !port->class->recv_queue) {
        /* Queue 0, or a port with one: the only queue.  A one-queue
         * caller may still ask for queue 1 and up before it learns how
         * many there are: nothing there. */
        if (qid) {
            *n_recv = 0;
            return EAGAIN;
        }
        return ibb_port_recv(port, bufs, n, n_recv);
    }
    *n_recv = 0;
    if (n > IBB_PORT_BURST) {
        n = IBB_PORT_BURST;
    }
    return port->class->recv_queue(port, qid, bufs, n, n_recv);
}

int
ibb_port_queue_fd(const struct ibb_port *port, unsigned int qid)
{
    return (!qid ? ibb_port_fd(port)
            : port->class->queue_fd ? port->class->queue_fd(port, qid) : -1);
}

bool
ibb_port_queue_has_pending(const struct ibb_port *port, unsigned int qid)
{
    return (!qid ? ibb_port_has_pending(port)
            : port->class->queue_has_pending
            && port->class->queue_has_pending(port, qid));
}

int
ibb_port_send(struct ibb_port *port, const struct ibb_port_buf bufs[],
              size_t n, size_t *n_sent)
{
    *n_sent = 0;
    if (n > IBB_PORT_BURST) {
        return ibb_port_set_error(port, EINVAL, "%s: burst of %zu packets "
                                  "exceeds %d", port->device, n,
                                  IBB_PORT_BURST);
    }
    return n ? port->class->send(port, bufs, n, n_sent) : 0;
}

int
ibb_port_query(struct ibb_port *port, struct ibb_port_attr *attr)
{
    memset(attr, 0, sizeof *attr);
    return port->class->query(port, attr);
}

int
ibb_port_path_query(struct ibb_port *port, const uint8_t gid[16],
                    uint16_t *lid)
{
    *lid = 0;
    return port->class->path_query(port, gid, lid);
}

static struct ibb_port_group *
find_group(struct ibb_port *port, const uint8_t mgid[16])
{
    struct ibb_port_group_ix *ix;

    HASH_FIND(hh, port->group_ix, mgid, 16, ix);
    return ix ? &port->groups[ix->idx] : NULL;
}

int
ibb_port_mcast_join(struct ibb_port *port, const uint8_t mgid[16],
                    enum ibb_mcast_join join, uint32_t qkey, uint16_t pkey,
                    uint16_t *mlid)
{
    struct ibb_port_group g, *gp;
    struct ibb_port_group_ix *ix;
    bool oom = false;
    int err;

    memset(&g, 0, sizeof g);
    memcpy(g.mgid, mgid, 16);
    g.join = join;
    g.qkey = qkey;
    g.pkey = pkey ? pkey : port->opts.pkey;
    err = port->class->mcast_join(port, &g, mlid);
    if (err) {
        return err;
    }

    gp = find_group(port, mgid);
    if (!gp) {
        if (port->n_groups == port->allocated_groups) {
            size_t n = port->allocated_groups ? 2 * port->allocated_groups
                                              : 8;

            gp = realloc(port->groups, n * sizeof *gp);
            if (!gp) {
                return ibb_port_set_error(port, ENOMEM, "out of memory");
            }
            port->groups = gp;
            port->allocated_groups = n;
        }
        ix = calloc(1, sizeof *ix);
        if (!ix) {
            return ibb_port_set_error(port, ENOMEM, "out of memory");
        }
        memcpy(ix->mgid, mgid, 16);
        ix->idx = port->n_groups;
        HASH_ADD(hh, port->group_ix, mgid, 16, ix);
        if (oom) {
            free(ix);
            return ibb_port_set_error(port, ENOMEM, "out of memory");
        }
        gp = &port->groups[port->n_groups++];
    }
    g.mlid = *mlid;
    *gp = g;
    return 0;
}

int
ibb_port_mcast_leave(struct ibb_port *port, const uint8_t mgid[16])
{
    struct ibb_port_group_ix *ix, *moved;
    int err;

    err = port->class->mcast_leave(port, mgid);
    HASH_FIND(hh, port->group_ix, mgid, 16, ix);
    if (ix) {
        size_t last = --port->n_groups;

        if (ix->idx != last) {
            port->groups[ix->idx] = port->groups[last];
            HASH_FIND(hh, port->group_ix, port->groups[ix->idx].mgid, 16,
                      moved);
            if (moved) {
                moved->idx = ix->idx;
            }
        }
        HASH_DEL(port->group_ix, ix);
        free(ix);
    }
    return err;
}

int
ibb_port_alias_add(struct ibb_port *port, const uint8_t gid[16])
{
    uint8_t (*aliases)[16];
    int err;

    err = port->class->alias(port, gid, true);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < port->n_aliases; i++) {
        if (!memcmp(port->aliases[i], gid, 16)) {
            return 0;
        }
    }
    aliases = realloc(port->aliases, (port->n_aliases + 1) * 16);
    if (!aliases) {
        return ibb_port_set_error(port, ENOMEM, "out of memory");
    }
    port->aliases = aliases;
    memcpy(port->aliases[port->n_aliases++], gid, 16);
    return 0;
}

int
ibb_port_alias_del(struct ibb_port *port, const uint8_t gid[16])
{
    int err = port->class->alias(port, gid, false);

    for (size_t i = 0; i < port->n_aliases; i++) {
        if (!memcmp(port->aliases[i], gid, 16)) {
            memcpy(port->aliases[i], port->aliases[--port->n_aliases], 16);
            break;
        }
    }
    return err;
}

static struct ibb_port_route *
find_route(struct ibb_port *port, const struct ibb_port_route *r)
{
    for (size_t i = 0; i < port->n_routes; i++) {
        if (port->routes[i].plen == r->plen
            && !memcmp(port->routes[i].prefix, r->prefix, 16)) {
            return &port->routes[i];
        }
    }
    return NULL;
}

int
ibb_port_route_add(struct ibb_port *port, const struct ibb_port_route *r)
{
    struct ibb_port_route *routes, *old;
    int err;

    if (!port->class->route) {
        return ibb_port_set_error(port, EOPNOTSUPP, "%s ports cannot add "
                                  "routes: the subnet manager routes "
                                  "prefixes", port->class->type);
    }
    err = port->class->route(port, r, true);
    if (err) {
        return err;
    }
    old = find_route(port, r);
    if (old) {
        *old = *r;
        return 0;
    }
    routes = realloc(port->routes, (port->n_routes + 1) * sizeof *routes);
    if (!routes) {
        return ibb_port_set_error(port, ENOMEM, "out of memory");
    }
    port->routes = routes;
    port->routes[port->n_routes++] = *r;
    return 0;
}

int
ibb_port_route_del(struct ibb_port *port, const struct ibb_port_route *r)
{
    struct ibb_port_route *old = find_route(port, r);

    if (!port->class->route) {
        return ibb_port_set_error(port, EOPNOTSUPP, "%s ports have no "
                                  "routes", port->class->type);
    }
    if (old) {
        *old = port->routes[--port->n_routes];
    }
    return port->class->route(port, r, false);
}

int
ibb_port_qp_open(struct ibb_port *port, uint32_t qpn, uint32_t qkey)
{
    struct ibb_port_qp *qps;
    int err;

    err = port->class->qp(port, qpn, qkey, true);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < port->n_qps; i++) {
        if (port->qps[i].qpn == qpn) {
            port->qps[i].qkey = qkey;
            return 0;
        }
    }
    qps = realloc(port->qps, (port->n_qps + 1) * sizeof *qps);
    if (!qps) {
        return ibb_port_set_error(port, ENOMEM, "out of memory");
    }
    port->qps = qps;
    port->qps[port->n_qps].qpn = qpn;
    port->qps[port->n_qps].qkey = qkey;
    port->n_qps++;
    return 0;
}

int
ibb_port_qp_close(struct ibb_port *port, uint32_t qpn)
{
    int err = port->class->qp(port, qpn, 0, false);

    for (size_t i = 0; i < port->n_qps; i++) {
        if (port->qps[i].qpn == qpn) {
            port->qps[i] = port->qps[--port->n_qps];
            break;
        }
    }
    return err;
}

/* Sim ports number their QPs themselves: the lowest free QPN from 0x100
 * up (below are QP0, QP1 and room for hosts' fixed numbers). */
static uint32_t
pick_free_qpn(const struct ibb_port *port)
{
    for (uint32_t qpn = 0x100; qpn < 0xffffff; qpn++) {
        bool used = false;

        for (size_t i = 0; i < port->n_qps && !used; i++) {
            used = port->qps[i].qpn == qpn;
        }
        if (!used) {
            return qpn;
        }
    }
    return 0;
}

int
ibb_port_qp_create(struct ibb_port *port, uint32_t qkey, uint32_t *qpn)
{
    *qpn = 0;
    if (port->class->qp_create) {
        return port->class->qp_create(port, qkey, qpn);
    }
    if (port->opts.mode != IBB_PORT_STRICT) {
        return ibb_port_set_error(port, EOPNOTSUPP, "%s: a raw-mode port "
                                  "has no QPs of its own", port->device);
    }
    *qpn = pick_free_qpn(port);
    if (!*qpn) {
        return ibb_port_set_error(port, ENOSPC, "%s: no free QPN",
                                  port->device);
    }
    return ibb_port_qp_open(port, *qpn, qkey);
}

int
ibb_port_qp_destroy(struct ibb_port *port, uint32_t qpn)
{
    return (port->class->qp_destroy
            ? port->class->qp_destroy(port, qpn)
            : ibb_port_qp_close(port, qpn));
}

bool
ibb_port_hw_crcs(const struct ibb_port *port)
{
    return port->class->hw_crcs;
}

const char *
ibb_mcast_state_name(enum ibb_mcast_state state)
{
    switch (state) {
    case IBB_MCAST_JOINING:
        return "joining";
    case IBB_MCAST_JOINED:
        return "joined";
    case IBB_MCAST_FAILED:
        return "failed";
    case IBB_MCAST_LEAVING:
        return "leaving";
    default:
        return "unknown";
    }
}

int
ibb_port_mcast_status(struct ibb_port *port, const uint8_t mgid[16],
                      struct ibb_mcast_status *st)
{
    const struct ibb_port_group *g;

    memset(st, 0, sizeof *st);
    if (port->class->mcast_status) {
        int err = port->class->mcast_status(port, mgid, st);

        if (err != EOPNOTSUPP) {
            return err;
        }
    }
    /* Synchronous backends: a membership exists only once joined. */
    g = find_group(port, mgid);
    if (!g) {
        return ENOENT;
    }
    st->state = IBB_MCAST_JOINED;
    st->mlid = g->mlid;
    return 0;
}

bool
ibb_port_mcast_tracks_changes(const struct ibb_port *port)
{
    return (port->class->mcast_take_changed
            && (port->opts.async_joins || port->class->async_joins));
}

bool
ibb_port_mcast_take_changed(struct ibb_port *port, uint8_t mgid[16],
                            struct ibb_mcast_status *st)
{
    memset(st, 0, sizeof *st);
    return (port->class->mcast_take_changed
            && port->class->mcast_take_changed(port, mgid, st));
}

bool
ibb_port_run(struct ibb_port *port)
{
    return port->class->run ? port->class->run(port) : false;
}

int
ibb_port_ctl_fd(const struct ibb_port *port)
{
    return port->class->ctl_fd ? port->class->ctl_fd(port) : -1;
}

int
ibb_port_mcg_subscribe(struct ibb_port *port, bool on)
{
    if (!port->class->mcg_subscribe) {
        return ibb_port_set_error(port, ENOTSUP, "%s: the %s backend cannot "
                                  "subscribe to SA notices", port->device,
                                  port->class->type);
    }
    return port->class->mcg_subscribe(port, on);
}

int
ibb_port_mcg_list(struct ibb_port *port)
{
    if (!port->class->mcg_list) {
        return ibb_port_set_error(port, ENOTSUP, "%s: the %s backend cannot "
                                  "list the SA's groups", port->device,
                                  port->class->type);
    }
    return port->class->mcg_list(port);
}

bool
ibb_port_mcg_take_event(struct ibb_port *port, struct ibb_mcg_event *ev)
{
    memset(ev, 0, sizeof *ev);
    return (port->class->mcg_take_event
            && port->class->mcg_take_event(port, ev));
}

const char *
ibb_mcg_event_name(enum ibb_mcg_event_type type)
{
    switch (type) {
    case IBB_MCG_CREATED:
        return "created";
    case IBB_MCG_DELETED:
        return "deleted";
    case IBB_MCG_LISTED:
        return "listed";
    case IBB_MCG_LIST_DONE:
        return "list-done";
    case IBB_MCG_RESUBSCRIBED:
        return "resubscribed";
    case IBB_MCG_SUBSCRIBE_FAILED:
        return "subscribe-failed";
    }
    return "?";
}

long long
ibb_port_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

size_t
ibb_port_counters(const struct ibb_port *port, struct ibb_port_counter *out,
                  size_t max)
{
    return port->class->counters ? port->class->counters(port, out, max) : 0;
}

long long
ibb_port_next_wakeup(const struct ibb_port *port)
{
    return (port->class->next_wakeup
            ? port->class->next_wakeup(port) : LLONG_MAX);
}

bool
ibb_port_take_qps_lost(struct ibb_port *port)
{
    bool lost = port->qps_lost;

    port->qps_lost = false;
    return lost;
}

int
ibb_port_reconnect(struct ibb_port *port)
{
    uint16_t mlid;
    int err;

    if (port->class->is_up(port)) {
        return 0;
    }
    if (port->class->needs_reopen) {
        /* Event-driven backends (an HCA) recover by themselves from a port
         * going down and up: the QPs stay, and ibb_port_run() rejoins
         * groups.  After a fatal error only a new open helps. */
        ibb_port_run(port);
        if (port->class->is_up(port)) {
            return 0;
        }
        if (!port->class->needs_reopen || !port->class->needs_reopen(port)) {
            return ENETDOWN;
        }
        port->class->disconnect(port);
        err = port->class->connect(port);
        if (err) {
            return err;
        }
        port->qps_lost = true;
        for (size_t i = 0; i < port->n_groups; i++) {
            port->class->mcast_join(port, &port->groups[i], &mlid);
        }
        return 0;
    }
    port->class->disconnect(port);
    err = port->class->connect(port);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < port->n_aliases; i++) {
        err = port->class->alias(port, port->aliases[i], true);
        if (err) {
            goto fail;
        }
    }
    for (size_t i = 0; i < port->n_qps; i++) {
        err = port->class->qp(port, port->qps[i].qpn, port->qps[i].qkey,
                              true);
        if (err) {
            goto fail;
        }
    }
    for (size_t i = 0; i < port->n_routes; i++) {
        err = port->class->route(port, &port->routes[i], true);
        if (err) {
            goto fail;
        }
    }
    for (size_t i = 0; i < port->n_groups; i++) {
        err = port->class->mcast_join(port, &port->groups[i], &mlid);
        if (err) {
            goto fail;
        }
    }
    return 0;

fail:
    port->class->disconnect(port);
    return err;
}
