/*
 * The rows of the ibbridge database's Host table against the ports'
 * address maps (see ibbridge-db.c for when this runs).
 *
 * A pass indexes this node's rows by interface and IP, walks every port's
 * map and brings each learned or added host's row in line with it, and
 * deletes the rows nothing in a map has.  The first pass that sees a port
 * (or a port's new netdev) first loads its rows into its map.
 */
#include <config.h>
#include "ibbridge-db-sync.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "netdev-ibbridge-private.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "packets.h"
#include "timeval.h"
#include "util.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ibbridge-idl.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_db_sync);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* A learned host's last_seen is written again once it lags by a quarter of
 * mac-aging-time, within these bounds: after a restart, a host may look
 * that much older than it is, never more. */
#define IBBRIDGE_DB_MIN_REFRESH_MS 1000
#define IBBRIDGE_DB_MAX_REFRESH_MS (60 * 1000)

/* What this file knows of a port. */
struct db_port {
    struct hmap_node node;      /* In 'ports', by name. */
    char *name;                 /* The netdev's name. */
    const struct netdev_ibbridge *dev; /* The netdev, only compared. */
    bool loaded;                /* Its rows went into its map. */
    bool seen;                  /* Found in the current pass. */
    uint64_t change_seq;        /* netdev_get_change_seq() last synced. */

    /* What the rows were last brought in line with: while the map, its
     * generation and the database stay the same, a pass skips the port
     * until ages are due to be written again. */
    const struct ibb_addr_map *map;
    uint64_t map_gen;
    unsigned int idl_seqno;
    long long int next_refresh;
};

static struct hmap ports = HMAP_INITIALIZER(&ports);

/* A row of this node, found by interface and IP for one pass. */
struct db_row {
    struct hmap_node node;      /* In 'sync_ctx->rows'. */
    const struct ibbrec_host *rec;
    uint8_t ip[16];             /* Parsed 'rec->ip'. */
    bool keep;                  /* Its port's map has it. */
};

struct sync_ctx {
    struct ovsdb_idl *idl;
    struct ovsdb_idl_txn *txn;  /* What the pass changes goes here. */
    const char *node;           /* This system's rows. */
    struct hmap rows;           /* Of db_row. */
    long long int now;          /* time_msec(). */
    long long int wall;         /* time_wall_msec() at the same time. */
    unsigned int idl_seqno;     /* ovsdb_idl_get_seqno() of 'idl'. */
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

    IBBREC_HOST_FOR_EACH (rec, ctx->idl) {
        struct db_row *row;
        uint8_t ip[16];

        if (strcmp(rec->node, ctx->node)) {
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
    if (rec->n_qpn) {
        h->qpn = rec->qpn[0];
    }
    *source = (!strcmp(rec->source, "added") ? IBB_HOST_ADDED
               : !strcmp(rec->source, "arp") ? IBB_HOST_ARP
               : IBB_HOST_LEARNED);
    if (*source == IBB_HOST_ARP && !h->has_gid) {
        return false;
    }
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
        if (source != IBB_HOST_ADDED && age >= max_age) {
            n_expired++;
            continue;
        }
        if (source == IBB_HOST_ARP) {
            /* An IB host an IPoIB ARP told of. */
            error = ibb_addr_map_learn_ib(dev->map, row->ip, h.gid, h.lid,
                                          h.qpn, IBB_HOST_ARP,
                                          ctx->now - age, SIZE_MAX);
        } else if (source == IBB_HOST_LEARNED) {
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
        VLOG_INFO("%s: %zu hosts loaded from the ibbridge database, %zu aged "
                  "out", name, n_loaded, n_expired);
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

    if ((source != IBB_HOST_LEARNED && source != IBB_HOST_ADDED
         && source != IBB_HOST_ARP) || !ip) {
        return;
    }
    source_name = (source == IBB_HOST_ADDED ? "added"
                   : source == IBB_HOST_ARP ? "arp" : "learned");
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
        if (new_source || (source != IBB_HOST_ADDED
                           && seen_wall - rec->last_seen >= pctx->refresh)) {
            ibbrec_host_set_last_seen(rec, seen_wall);
        }
    } else {
        char s[IBB_GID_STRLEN];

        rec = ibbrec_host_insert(ctx->txn);
        ibbrec_host_set_node(rec, ctx->node);
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
    if (h->qpn ? !rec->n_qpn || rec->qpn[0] != h->qpn : rec->n_qpn) {
        int64_t qpn = h->qpn;

        ibbrec_host_set_qpn(rec, &qpn, h->qpn ? 1 : 0);
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

/* Whether port 'p' (netdev 'dev') needs its rows compared with its map. */
static bool
port_needs_pass(const struct db_port *p, struct netdev_ibbridge *dev,
                const struct sync_ctx *ctx)
    OVS_REQUIRES(dev->mutex)
{
    if (!dev->map) {
        return p->loaded;
    }
    return (p->dev != dev || !p->loaded || p->map != dev->map
            || p->map_gen != ibb_addr_map_generation(dev->map)
            || p->idl_seqno != ctx->idl_seqno
            || ctx->now >= p->next_refresh);
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
    if (!port_needs_pass(p, dev, ctx)) {
        /* Nothing changed on either side: its rows stay as they are. */
        return;
    }
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
        .refresh = MAX(IBBRIDGE_DB_MIN_REFRESH_MS,
                       MIN(IBBRIDGE_DB_MAX_REFRESH_MS,
                           dev->cfg.mac_aging_s * 1000LL / 4)),
    };
    ibb_addr_map_foreach_host(dev->map, sync_host, &pctx);
    delete_port_rows(ctx, name);
    p->map = dev->map;
    p->map_gen = ibb_addr_map_generation(dev->map);
    p->idl_seqno = ctx->idl_seqno;
    p->next_refresh = ctx->now + pctx.refresh;
}

struct need_ctx {
    const struct sync_ctx *ctx;
    bool need;                  /* A port needs a pass. */
    size_t n_known;             /* Ports found that 'ports' has. */
};

static void
check_need(struct netdev_ibbridge *dev, void *need_)
    OVS_REQUIRES(dev->mutex)
{
    struct db_port *p = find_port(netdev_get_name(&dev->up));
    struct need_ctx *need = need_;

    need->n_known += p != NULL;
    if (!p ? dev->map != NULL : port_needs_pass(p, dev, need->ctx)) {
        need->need = true;
    }
}

void
ibbridge_db_sync(struct ovsdb_idl *idl, struct ovsdb_idl_txn *txn,
                 const char *node)
{
    struct sync_ctx ctx = {
        .idl = idl,
        .txn = txn,
        .node = node,
        .rows = HMAP_INITIALIZER(&ctx.rows),
        .now = time_msec(),
        .wall = time_wall_msec(),
        .idl_seqno = ovsdb_idl_get_seqno(idl),
    };
    struct need_ctx need = { .ctx = &ctx };
    struct db_port *p;
    struct db_row *row;

    /* Most passes find nothing changed: then no row is even looked at
     * (a port that left makes a pass too, to delete its rows). */
    ibbridge_for_each_port(NULL, check_need, &need);
    if (!need.need && need.n_known == hmap_count(&ports)) {
        return;
    }
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
}

struct check_ctx {
    bool changed;               /* A port is new or changed by hand. */
    size_t n_known;             /* Ports found that 'ports' has. */
};

static void
check_changed(struct netdev_ibbridge *dev, void *ctx_)
    OVS_REQUIRES(dev->mutex)
{
    struct db_port *p = find_port(netdev_get_name(&dev->up));
    struct check_ctx *ctx = ctx_;

    if (p) {
        ctx->n_known++;
    }
    if (dev->map
        && (!p || p->dev != dev || !p->loaded
            || p->change_seq != netdev_get_change_seq(&dev->up))) {
        ctx->changed = true;
    }
}

bool
ibbridge_db_sync_needed(void)
{
    struct check_ctx ctx = { false, 0 };

    ibbridge_for_each_port(NULL, check_changed, &ctx);
    /* Fewer known ports than before: one left, and its rows go. */
    return ctx.changed || ctx.n_known < hmap_count(&ports);
}

void
ibbridge_db_sync_show(struct ds *s)
{
    struct db_port *p;

    HMAP_FOR_EACH (p, node, &ports) {
        ds_put_format(s, "port %s: %s\n", p->name,
                      p->loaded ? "loaded" : "not loaded");
    }
}
