/*
 * Address map: uthash tables over host and group entries, JSON loading.
 */
#include <config.h>

#include "addr-map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/* uthash must not exit the process on allocation failure: each add
 * function declares 'oom' and checks it. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(OBJ) (oom = true)
#include <uthash.h>

#include "ib-gid.h"
#include "ib-hdr.h"

struct map_host {
    struct ibb_host h;          /* The entry. */
    enum ibb_host_source source; /* Where the entry came from. */
    long long int last_seen;    /* When added or last seen, in ms. */
    struct map_host *next;      /* All hosts, for destruction. */
    UT_hash_handle hh_gid;      /* In map->by_gid if h.has_gid. */
    UT_hash_handle hh_lid;      /* In map->by_lid if h.lid. */
    UT_hash_handle hh_ip4;      /* In map->by_ip4 if h.has_ipv4. */
    UT_hash_handle hh_ip6;      /* In map->by_ip6 if h.has_ipv6. */
};

struct map_group {
    struct ibb_group g;         /* The entry. */
    UT_hash_handle hh_ip;       /* In map->groups_by_ip. */
    UT_hash_handle hh_mgid;     /* In map->groups_by_mgid. */
};

struct ibb_addr_map {
    struct map_host *hosts;     /* All hosts, linked by 'next'. */
    size_t n_hosts;             /* Number of hosts. */
    size_t n_learned;           /* Number of learned hosts among them. */
    struct map_host *by_gid;    /* Hash on h.gid. */
    struct map_host *by_lid;    /* Hash on h.lid. */
    struct map_host *by_ip4;    /* Hash on h.ipv4. */
    struct map_host *by_ip6;    /* Hash on h.ipv6. */
    struct map_group *groups_by_ip;   /* Hash on g.ip; owns the groups. */
    struct map_group *groups_by_mgid; /* Hash on g.mgid. */
};

struct ibb_addr_map *
ibb_addr_map_create(void)
{
    return calloc(1, sizeof(struct ibb_addr_map));
}

void
ibb_addr_map_destroy(struct ibb_addr_map *map)
{
    struct map_group *g, *tmp;

    if (!map) {
        return;
    }
    HASH_CLEAR(hh_gid, map->by_gid);
    HASH_CLEAR(hh_lid, map->by_lid);
    HASH_CLEAR(hh_ip4, map->by_ip4);
    HASH_CLEAR(hh_ip6, map->by_ip6);
    while (map->hosts) {
        struct map_host *next = map->hosts->next;

        free(map->hosts);
        map->hosts = next;
    }
    HASH_CLEAR(hh_mgid, map->groups_by_mgid);
    HASH_ITER(hh_ip, map->groups_by_ip, g, tmp) {
        HASH_DELETE(hh_ip, map->groups_by_ip, g);
        free(g);
    }
    free(map);
}

/* Removes 'mh' from whichever tables hold it, after a failed add. */
static void
host_unlink(struct ibb_addr_map *map, struct map_host *mh, int n)
{
    if (n > 0 && mh->h.has_gid) {
        HASH_DELETE(hh_gid, map->by_gid, mh);
    }
    if (n > 1 && mh->h.lid) {
        HASH_DELETE(hh_lid, map->by_lid, mh);
    }
    if (n > 2 && mh->h.has_ipv4) {
        HASH_DELETE(hh_ip4, map->by_ip4, mh);
    }
}

int
ibb_addr_map_add_host(struct ibb_addr_map *map, const struct ibb_host *host)
{
    return ibb_addr_map_add_host_from(map, host, IBB_HOST_FILE, 0);
}

int
ibb_addr_map_add_host_from(struct ibb_addr_map *map,
                           const struct ibb_host *host,
                           enum ibb_host_source source, long long int now)
{
    struct map_host *mh;
    bool oom = false;

    if (!host->has_gid && !host->has_ipv4 && !host->has_ipv6) {
        return EINVAL;
    }
    if (host->has_ipv4 && !ibb_gid_is_v4mapped(host->ipv4)) {
        return EINVAL;
    }
    if ((host->has_gid && ibb_addr_map_find_gid(map, host->gid))
        || (host->lid && ibb_addr_map_find_lid(map, host->lid))
        || (host->has_ipv4 && ibb_addr_map_find_ip(map, host->ipv4))
        || (host->has_ipv6 && ibb_addr_map_find_ip(map, host->ipv6))) {
        return EEXIST;
    }

    mh = calloc(1, sizeof *mh);
    if (!mh) {
        return ENOMEM;
    }
    mh->h = *host;
    mh->source = source;
    mh->last_seen = now;
    if (mh->h.has_gid) {
        HASH_ADD(hh_gid, map->by_gid, h.gid, 16, mh);
        if (oom) {
            goto nomem;
        }
    }
    if (mh->h.lid) {
        HASH_ADD(hh_lid, map->by_lid, h.lid, sizeof mh->h.lid, mh);
        if (oom) {
            host_unlink(map, mh, 1);
            goto nomem;
        }
    }
    if (mh->h.has_ipv4) {
        HASH_ADD(hh_ip4, map->by_ip4, h.ipv4, 16, mh);
        if (oom) {
            host_unlink(map, mh, 2);
            goto nomem;
        }
    }
    if (mh->h.has_ipv6) {
        HASH_ADD(hh_ip6, map->by_ip6, h.ipv6, 16, mh);
        if (oom) {
            host_unlink(map, mh, 3);
            goto nomem;
        }
    }
    mh->next = map->hosts;
    map->hosts = mh;
    map->n_hosts++;
    return 0;

nomem:
    free(mh);
    return ENOMEM;
}

int
ibb_addr_map_add_group(struct ibb_addr_map *map,
                       const struct ibb_group *group)
{
    struct map_group *mg;
    bool oom = false;

    if (!ibb_ip_is_multicast(group->ip)
        || (group->mlid && (group->mlid < IBB_LID_MCAST_MIN
                            || group->mlid > IBB_LID_MCAST_MAX))) {
        return EINVAL;
    }
    mg = calloc(1, sizeof *mg);
    if (!mg) {
        return ENOMEM;
    }
    mg->g = *group;
    if (!group->explicit_mgid) {
        int error = ibb_mcast_ip_to_mgid(group->format, group->ip,
                                         group->pkey, group->scope,
                                         mg->g.mgid);
        if (error) {
            free(mg);
            return error;
        }
    }
    if (ibb_addr_map_find_group_ip(map, mg->g.ip)
        || ibb_addr_map_find_group_mgid(map, mg->g.mgid)) {
        free(mg);
        return EEXIST;
    }
    HASH_ADD(hh_ip, map->groups_by_ip, g.ip, 16, mg);
    if (oom) {
        free(mg);
        return ENOMEM;
    }
    HASH_ADD(hh_mgid, map->groups_by_mgid, g.mgid, 16, mg);
    if (oom) {
        HASH_DELETE(hh_ip, map->groups_by_ip, mg);
        free(mg);
        return ENOMEM;
    }
    return 0;
}

static struct map_host *
find_host_ip(const struct ibb_addr_map *map, const uint8_t ip[16])
{
    struct map_host *mh;

    if (ibb_gid_is_v4mapped(ip)) {
        HASH_FIND(hh_ip4, map->by_ip4, ip, 16, mh);
    } else {
        HASH_FIND(hh_ip6, map->by_ip6, ip, 16, mh);
    }
    return mh;
}

void
ibb_host_init_ip_mac(struct ibb_host *host, const uint8_t ip[16],
                     const uint8_t mac[6])
{
    memset(host, 0, sizeof *host);
    if (ibb_gid_is_v4mapped(ip)) {
        host->has_ipv4 = true;
        memcpy(host->ipv4, ip, 16);
    } else {
        host->has_ipv6 = true;
        memcpy(host->ipv6, ip, 16);
    }
    host->has_mac = true;
    memcpy(host->mac, mac, 6);
}

int
ibb_addr_map_learn_mac(struct ibb_addr_map *map, const uint8_t ip[16],
                       const uint8_t mac[6], long long int now,
                       size_t max_learned)
{
    struct map_host *mh = find_host_ip(map, ip);
    struct ibb_host host;
    int error;

    if (mh) {
        if (mh->source != IBB_HOST_LEARNED) {
            return (mh->h.has_gid ? EPERM
                    : mh->h.has_mac && !memcmp(mh->h.mac, mac, 6) ? 0
                    : EEXIST);
        }
        memcpy(mh->h.mac, mac, 6);
        mh->last_seen = now;
        return 0;
    }
    if (map->n_learned >= max_learned) {
        return ENOSPC;
    }
    ibb_host_init_ip_mac(&host, ip, mac);
    error = ibb_addr_map_add_host_from(map, &host, IBB_HOST_LEARNED, now);
    if (!error) {
        map->n_learned++;
    }
    return error;
}

/* Unlinks and frees '*prevp', a host with no GID or LID (learned or
 * added), and points '*prevp' to the next one. */
static void
host_remove(struct ibb_addr_map *map, struct map_host **prevp)
{
    struct map_host *mh = *prevp;

    if (mh->h.has_ipv4) {
        HASH_DELETE(hh_ip4, map->by_ip4, mh);
    }
    if (mh->h.has_ipv6) {
        HASH_DELETE(hh_ip6, map->by_ip6, mh);
    }
    if (mh->h.has_gid) {
        HASH_DELETE(hh_gid, map->by_gid, mh);
    }
    if (mh->h.lid) {
        HASH_DELETE(hh_lid, map->by_lid, mh);
    }
    if (mh->source == IBB_HOST_LEARNED) {
        map->n_learned--;
    }
    *prevp = mh->next;
    free(mh);
    map->n_hosts--;
}

int
ibb_addr_map_del_ip(struct ibb_addr_map *map, const uint8_t ip[16])
{
    struct map_host *target = find_host_ip(map, ip);

    if (!target) {
        return ENOENT;
    } else if (target->source == IBB_HOST_FILE) {
        return EPERM;
    }
    for (struct map_host **prev = &map->hosts; *prev;
         prev = &(*prev)->next) {
        if (*prev == target) {
            host_remove(map, prev);
            break;
        }
    }
    return 0;
}

size_t
ibb_addr_map_flush(struct ibb_addr_map *map, bool learned_only)
{
    struct map_host **prev = &map->hosts;
    size_t n = 0;

    while (*prev) {
        enum ibb_host_source src = (*prev)->source;

        if (src == IBB_HOST_LEARNED
            || (src == IBB_HOST_ADDED && !learned_only)) {
            host_remove(map, prev);
            n++;
        } else {
            prev = &(*prev)->next;
        }
    }
    return n;
}

void
ibb_addr_map_foreach_host(const struct ibb_addr_map *map,
                          void (*cb)(const struct ibb_host *,
                                     enum ibb_host_source,
                                     long long int last_seen, void *aux),
                          void *aux)
{
    for (const struct map_host *mh = map->hosts; mh; mh = mh->next) {
        cb(&mh->h, mh->source, mh->last_seen, aux);
    }
}

const char *
ibb_host_source_name(enum ibb_host_source source)
{
    return (source == IBB_HOST_FILE ? "file"
            : source == IBB_HOST_LEARNED ? "learned"
            : source == IBB_HOST_ADDED ? "added"
            : source == IBB_HOST_KERNEL ? "kernel" : "unknown");
}

int
ibb_addr_map_set_kernel_mac(struct ibb_addr_map *map, const uint8_t ip[16],
                            const uint8_t mac[6], long long int now)
{
    struct map_host *mh = find_host_ip(map, ip);
    struct ibb_host host;

    if (mh) {
        if (mh->source == IBB_HOST_FILE || mh->source == IBB_HOST_ADDED) {
            return (mh->h.has_gid ? EPERM
                    : mh->h.has_mac && !memcmp(mh->h.mac, mac, 6) ? 0
                    : EEXIST);
        }
        if (mh->source == IBB_HOST_LEARNED) {
            mh->source = IBB_HOST_KERNEL;
            map->n_learned--;
        }
        memcpy(mh->h.mac, mac, 6);
        mh->last_seen = now;
        return 0;
    }
    ibb_host_init_ip_mac(&host, ip, mac);
    return ibb_addr_map_add_host_from(map, &host, IBB_HOST_KERNEL, now);
}

size_t
ibb_addr_map_flush_source(struct ibb_addr_map *map,
                          enum ibb_host_source source)
{
    struct map_host **prev = &map->hosts;
    size_t n = 0;

    while (*prev) {
        if ((*prev)->source == source && source != IBB_HOST_FILE) {
            host_remove(map, prev);
            n++;
        } else {
            prev = &(*prev)->next;
        }
    }
    return n;
}

int
ibb_addr_map_del_ip_from(struct ibb_addr_map *map, const uint8_t ip[16],
                         enum ibb_host_source source)
{
    struct map_host *target = find_host_ip(map, ip);

    if (!target || target->source != source) {
        return ENOENT;
    }
    return ibb_addr_map_del_ip(map, ip);
}

size_t
ibb_addr_map_expire_learned(struct ibb_addr_map *map, long long int now,
                            long long int max_age)
{
    struct map_host **prev = &map->hosts;
    size_t n = 0;

    while (*prev) {
        if ((*prev)->source == IBB_HOST_LEARNED
            && now - (*prev)->last_seen >= max_age) {
            host_remove(map, prev);
            n++;
        } else {
            prev = &(*prev)->next;
        }
    }
    return n;
}

size_t
ibb_addr_map_copy_runtime(struct ibb_addr_map *dst,
                          const struct ibb_addr_map *src)
{
    size_t n = 0;

    for (const struct map_host *mh = src->hosts; mh; mh = mh->next) {
        int error;

        if (mh->source == IBB_HOST_LEARNED) {
            error = ibb_addr_map_learn_mac(dst, (mh->h.has_ipv4
                                                 ? mh->h.ipv4 : mh->h.ipv6),
                                           mh->h.mac, mh->last_seen,
                                           SIZE_MAX);
        } else if (mh->source == IBB_HOST_ADDED
                   || mh->source == IBB_HOST_KERNEL) {
            error = ibb_addr_map_add_host_from(dst, &mh->h, mh->source,
                                               mh->last_seen);
        } else {
            continue;
        }
        n += !error;
    }
    return n;
}

size_t
ibb_addr_map_n_learned(const struct ibb_addr_map *map)
{
    return map ? map->n_learned : 0;
}

const struct ibb_host *
ibb_addr_map_find_gid(const struct ibb_addr_map *map, const uint8_t gid[16])
{
    struct map_host *mh;

    HASH_FIND(hh_gid, map->by_gid, gid, 16, mh);
    return mh ? &mh->h : NULL;
}

const struct ibb_host *
ibb_addr_map_find_ip(const struct ibb_addr_map *map, const uint8_t ip[16])
{
    struct map_host *mh = find_host_ip(map, ip);

    return mh ? &mh->h : NULL;
}

const struct ibb_host *
ibb_addr_map_find_lid(const struct ibb_addr_map *map, uint16_t lid)
{
    struct map_host *mh;

    HASH_FIND(hh_lid, map->by_lid, &lid, sizeof lid, mh);
    return mh ? &mh->h : NULL;
}

const struct ibb_group *
ibb_addr_map_find_group_ip(const struct ibb_addr_map *map,
                           const uint8_t ip[16])
{
    struct map_group *mg;

    HASH_FIND(hh_ip, map->groups_by_ip, ip, 16, mg);
    return mg ? &mg->g : NULL;
}

const struct ibb_group *
ibb_addr_map_find_group_mgid(const struct ibb_addr_map *map,
                             const uint8_t mgid[16])
{
    struct map_group *mg;

    HASH_FIND(hh_mgid, map->groups_by_mgid, mgid, 16, mg);
    return mg ? &mg->g : NULL;
}

int
ibb_addr_map_set_group_mlid(struct ibb_addr_map *map, const uint8_t mgid[16],
                            uint16_t mlid)
{
    struct map_group *mg;

    HASH_FIND(hh_mgid, map->groups_by_mgid, mgid, 16, mg);
    if (!mg) {
        return ENOENT;
    }
    mg->g.mlid = mlid;
    return 0;
}

size_t
ibb_addr_map_n_hosts(const struct ibb_addr_map *map)
{
    return map ? map->n_hosts : 0;
}

size_t
ibb_addr_map_n_groups(const struct ibb_addr_map *map)
{
    return map ? HASH_CNT(hh_ip, map->groups_by_ip) : 0;
}

/* ------------------------------------------------------------------ */
/* JSON. */

static void
set_err(char *err, size_t err_size, const char *format, ...)
{
    va_list args;

    if (!err_size) {
        return;
    }
    va_start(args, format);
    vsnprintf(err, err_size, format, args);
    va_end(args);
}

static int
json_addr(json_t *v, const char *what, size_t idx, const char *key,
          uint8_t addr[16], char *err, size_t err_size)
{
    const char *s = json_string_value(v);

    if (!s || ibb_gid_parse(s, addr)) {
        set_err(err, err_size, "%s[%zu].%s: expected an address string",
                what, idx, key);
        return EINVAL;
    }
    return 0;
}

static int
json_uint(json_t *v, const char *what, size_t idx, const char *key,
          long long min, long long max, long long *out,
          char *err, size_t err_size)
{
    if (!json_is_integer(v) || json_integer_value(v) < min
        || json_integer_value(v) > max) {
        set_err(err, err_size, "%s[%zu].%s: expected an integer in "
                "%lld..%lld", what, idx, key, min, max);
        return EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
    unsigned int b[6];
    char c;

    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
               &b[4], &b[5], &c) != 6) {
        return EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = b[i];
    }
    return 0;
}

static int
load_host(struct ibb_addr_map *map, json_t *obj, size_t idx,
          char *err, size_t err_size)
{
    struct ibb_host h;
    const char *key;
    json_t *v;
    int error;

    memset(&h, 0, sizeof h);
    if (!json_is_object(obj)) {
        set_err(err, err_size, "hosts[%zu]: expected an object", idx);
        return EINVAL;
    }
    json_object_foreach (obj, key, v) {
        long long n;

        if (!strcmp(key, "gid")) {
            error = json_addr(v, "hosts", idx, key, h.gid, err, err_size);
            h.has_gid = true;
        } else if (!strcmp(key, "lid")) {
            error = json_uint(v, "hosts", idx, key, 1, IBB_LID_MCAST_MIN - 1,
                              &n, err, err_size);
            h.lid = n;
        } else if (!strcmp(key, "ipv4")) {
            error = json_addr(v, "hosts", idx, key, h.ipv4, err, err_size);
            if (!error && !ibb_gid_is_v4mapped(h.ipv4)) {
                set_err(err, err_size, "hosts[%zu].ipv4: not an IPv4 "
                        "address", idx);
                error = EINVAL;
            }
            h.has_ipv4 = true;
        } else if (!strcmp(key, "ipv6")) {
            error = json_addr(v, "hosts", idx, key, h.ipv6, err, err_size);
            if (!error && ibb_gid_is_v4mapped(h.ipv6)) {
                set_err(err, err_size, "hosts[%zu].ipv6: IPv4-mapped "
                        "address, use \"ipv4\"", idx);
                error = EINVAL;
            }
            h.has_ipv6 = true;
        } else if (!strcmp(key, "mac")) {
            error = (!json_is_string(v)
                     || parse_mac(json_string_value(v), h.mac));
            if (error) {
                set_err(err, err_size, "hosts[%zu].mac: expected "
                        "xx:xx:xx:xx:xx:xx", idx);
                error = EINVAL;
            }
            h.has_mac = true;
        } else {
            set_err(err, err_size, "hosts[%zu]: unknown key \"%s\"", idx,
                    key);
            error = EINVAL;
        }
        if (error) {
            return error;
        }
    }
    error = ibb_addr_map_add_host(map, &h);
    if (error == EINVAL) {
        set_err(err, err_size, "hosts[%zu]: needs \"gid\", \"ipv4\" or "
                "\"ipv6\"", idx);
    } else if (error == EEXIST) {
        set_err(err, err_size, "hosts[%zu]: GID, LID or IP address already "
                "in the map", idx);
    } else if (error) {
        set_err(err, err_size, "hosts[%zu]: %s", idx, strerror(error));
    }
    return error;
}

static int
load_group(struct ibb_addr_map *map, json_t *obj, size_t idx,
           char *err, size_t err_size)
{
    struct ibb_group g;
    bool has_ip = false, has_mlid = false;
    const char *key;
    json_t *v;
    int error;

    memset(&g, 0, sizeof g);
    g.format = IBB_MGID_IPOIB;
    g.pkey = IBB_DEF_PKEY;
    g.scope = IBB_MCAST_SCOPE_LINK;
    if (!json_is_object(obj)) {
        set_err(err, err_size, "groups[%zu]: expected an object", idx);
        return EINVAL;
    }
    json_object_foreach (obj, key, v) {
        long long n;

        if (!strcmp(key, "ip")) {
            error = json_addr(v, "groups", idx, key, g.ip, err, err_size);
            if (!error && !ibb_ip_is_multicast(g.ip)) {
                set_err(err, err_size, "groups[%zu].ip: not a multicast "
                        "address", idx);
                error = EINVAL;
            }
            has_ip = true;
        } else if (!strcmp(key, "mlid")) {
            error = json_uint(v, "groups", idx, key, IBB_LID_MCAST_MIN,
                              IBB_LID_MCAST_MAX, &n, err, err_size);
            g.mlid = n;
            has_mlid = true;
        } else if (!strcmp(key, "format")) {
            error = (!json_is_string(v)
                     || ibb_mgid_format_parse(json_string_value(v),
                                              &g.format));
            if (error) {
                set_err(err, err_size, "groups[%zu].format: expected "
                        "\"ipoib\", \"rdma_cm\" or \"roce\"", idx);
                error = EINVAL;
            }
        } else if (!strcmp(key, "pkey")) {
            error = json_uint(v, "groups", idx, key, 1, 0xffff, &n,
                              err, err_size);
            g.pkey = n;
        } else if (!strcmp(key, "scope")) {
            error = json_uint(v, "groups", idx, key, 0, 15, &n,
                              err, err_size);
            g.scope = n;
        } else if (!strcmp(key, "mgid")) {
            error = json_addr(v, "groups", idx, key, g.mgid, err, err_size);
            g.explicit_mgid = true;
        } else {
            set_err(err, err_size, "groups[%zu]: unknown key \"%s\"", idx,
                    key);
            error = EINVAL;
        }
        if (error) {
            return error;
        }
    }
    if (!has_ip || !has_mlid) {
        set_err(err, err_size, "groups[%zu]: needs \"ip\" and \"mlid\"",
                idx);
        return EINVAL;
    }
    error = ibb_addr_map_add_group(map, &g);
    if (error == EEXIST) {
        set_err(err, err_size, "groups[%zu]: group IP or MGID already in "
                "the map", idx);
    } else if (error) {
        set_err(err, err_size, "groups[%zu]: %s", idx, strerror(error));
    }
    return error;
}

static int
load_json(struct ibb_addr_map *map, json_t *root, char *err, size_t err_size)
{
    size_t n_entries = 0;
    const char *key;
    json_t *v;

    if (!json_is_object(root)) {
        set_err(err, err_size, "top level: expected an object");
        return EINVAL;
    }
    json_object_foreach (root, key, v) {
        n_entries += json_array_size(v);
    }
    if (n_entries > IBB_ADDR_MAP_MAX_ENTRIES) {
        set_err(err, err_size, "%zu hosts and groups, more than the %d a map "
                "may have (loading a larger map would stall ovs-vswitchd; the "
                "limit is IBB_ADDR_MAP_MAX_ENTRIES in lib/addr-map.h)",
                n_entries, IBB_ADDR_MAP_MAX_ENTRIES);
        return EFBIG;
    }
    json_object_foreach (root, key, v) {
        bool hosts = !strcmp(key, "hosts");
        size_t i;
        json_t *e;

        if (!hosts && strcmp(key, "groups")) {
            set_err(err, err_size, "top level: unknown key \"%s\"", key);
            return EINVAL;
        }
        if (!json_is_array(v)) {
            set_err(err, err_size, "%s: expected an array", key);
            return EINVAL;
        }
        json_array_foreach (v, i, e) {
            int error = (hosts ? load_host(map, e, i, err, err_size)
                         : load_group(map, e, i, err, err_size));
            if (error) {
                return error;
            }
        }
    }
    return 0;
}

int
ibb_addr_map_load_json_str(struct ibb_addr_map *map, const char *json,
                           char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *root;
    int error;

    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        set_err(err, err_size, "line %d column %d: %s", jerr.line,
                jerr.column, jerr.text);
        return EINVAL;
    }
    error = load_json(map, root, err, err_size);
    json_decref(root);
    return error;
}

/* Reads all of 'fd' (whose size fstat() gave as 'size') into a malloc()ed
 * buffer '*bufp' of '*lenp' bytes.  Reads at most IBB_ADDR_MAP_MAX_BYTES + 1
 * bytes, so that a file that grew since fstat() is still caught as too
 * large.  Returns 0 or a positive errno. */
static int
read_map_file(int fd, off_t size, char **bufp, size_t *lenp)
{
    size_t cap = (size < IBB_ADDR_MAP_MAX_BYTES
                  ? size : IBB_ADDR_MAP_MAX_BYTES) + 1;
    size_t len = 0;
    char *buf = malloc(cap);

    if (!buf) {
        return ENOMEM;
    }
    for (;;) {
        ssize_t n;

        if (len == cap) {
            char *p;

            if (cap > IBB_ADDR_MAP_MAX_BYTES) {
                break;
            }
            cap = IBB_ADDR_MAP_MAX_BYTES + 1;
            p = realloc(buf, cap);
            if (!p) {
                free(buf);
                return ENOMEM;
            }
            buf = p;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0) {
            int error = errno;

            if (error == EINTR) {
                continue;
            }
            free(buf);
            return error;
        } else if (!n) {
            break;
        }
        len += n;
    }
    *bufp = buf;
    *lenp = len;
    return 0;
}

/* Sets the message for a map file of 'size' bytes, too large. */
static void
set_too_big(char *err, size_t err_size, const char *file_name,
            long long int size)
{
    set_err(err, err_size, "%s: %lld bytes, more than the %d a map file may "
            "have (loading a larger map would stall ovs-vswitchd; the limit "
            "is IBB_ADDR_MAP_MAX_BYTES in lib/addr-map.h)", file_name, size,
            IBB_ADDR_MAP_MAX_BYTES);
}

int
ibb_addr_map_load_json_file(struct ibb_addr_map *map, const char *file_name,
                            char *err, size_t err_size)
{
    json_error_t jerr;
    struct stat st;
    json_t *root;
    size_t len;
    char *buf;
    int error;
    int fd;

    /* O_NONBLOCK: opening a FIFO must not wait for a writer.  It changes
     * nothing for the regular files that are all we read. */
    fd = open(file_name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        error = errno;
        set_err(err, err_size, "%s: %s", file_name, strerror(error));
        return error;
    }
    if (fstat(fd, &st)) {
        error = errno;
        set_err(err, err_size, "%s: %s", file_name, strerror(error));
        close(fd);
        return error;
    }
    if (S_ISDIR(st.st_mode)) {
        set_err(err, err_size, "%s: is a directory, not a JSON map file",
                file_name);
        close(fd);
        return EISDIR;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, err_size, "%s: not a regular file (a map must be a "
                "JSON file)", file_name);
        close(fd);
        return EINVAL;
    }
    if (st.st_size > IBB_ADDR_MAP_MAX_BYTES) {
        set_too_big(err, err_size, file_name, st.st_size);
        close(fd);
        return EFBIG;
    }
    error = read_map_file(fd, st.st_size, &buf, &len);
    close(fd);
    if (error) {
        set_err(err, err_size, "%s: %s", file_name, strerror(error));
        return error;
    }
    if (len > IBB_ADDR_MAP_MAX_BYTES) {
        /* The file grew after fstat(): 'len' is only a lower bound. */
        set_err(err, err_size, "%s: more than the %d bytes a map file may "
                "have (loading a larger map would stall ovs-vswitchd; the "
                "limit is IBB_ADDR_MAP_MAX_BYTES in lib/addr-map.h)",
                file_name, IBB_ADDR_MAP_MAX_BYTES);
        free(buf);
        return EFBIG;
    }

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!root) {
        set_err(err, err_size, "%s:%d:%d: %s", file_name, jerr.line,
                jerr.column, jerr.text);
        return EINVAL;
    }
    error = load_json(map, root, err, err_size);
    json_decref(root);
    if (error && err_size) {
        char msg[256];

        snprintf(msg, sizeof msg, "%s", err);
        set_err(err, err_size, "%s: %s", file_name, msg);
    }
    return error;
}
