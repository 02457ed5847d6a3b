/*
 * Address map: host records in a segmented array, found through open
 * addressing hash indexes; groups in uthash tables.  lib/addr-map-json.c
 * loads map files.
 *
 * lib/addr-map.h gives the design and its memory cost.
 */
#include <config.h>

#include "addr-map.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* uthash must not exit the process on allocation failure: each add
 * function declares 'oom' and checks it. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(OBJ) (oom = true)
#include <uthash.h>

#include "ib-gid.h"
#include "ib-hdr.h"

/* Host records live in chunks that never move, so that a host pointer
 * stays valid until its host is deleted and growing copies nothing.  The
 * first REC_GEO chunks double in size (64, 128, ... 8192 records), so that
 * a small map stays small; each later one holds REC_BIG records, as many as
 * fit in a 2 MB huge page, so that a large map wastes at most one chunk and
 * a lookup in it rarely misses the TLB.  Record number i is record
 * i % REC_BIG of chunk i / REC_BIG, in every chunk, so that finding a
 * record costs a shift, a mask and a load (the numbers past the end of a
 * small chunk are never used).
 *
 * A record is split in two.  Its struct ibb_host, what lookups compare and
 * return, is one 64-byte cache line of its own: a lookup in a large map
 * then misses the cache once on it, not twice as when hosts straddle lines.
 * What only updates need (source, age, list links) sits apart in a
 * struct map_meta of the same number. */
#define REC_CHUNK0 64u
#define REC_GEO 8
#define REC_BIG_BITS 15
#define REC_BIG (1u << REC_BIG_BITS)
#define REC_MAX (1u << 31)
#define HUGE_PAGE (2 * 1024 * 1024)
#define REC_NIL UINT32_MAX      /* No record. */
#define REC_FREE 0xff           /* 'source' of a record on the free list. */
#define CACHE_LINE 64

/* The rest of a host record. */
struct map_meta {
    long long int last_seen;    /* When added or last seen, in ms. */
    uint32_t newer;             /* The next newer host, or REC_NIL. */
    uint32_t older;             /* The next older host, or on the free list
                                 * the next free record; or REC_NIL. */
    uint8_t source;             /* enum ibb_host_source, or REC_FREE. */
};
_Static_assert(sizeof(struct ibb_host) == CACHE_LINE,
               "struct ibb_host no longer fills a cache line");
_Static_assert(sizeof(struct map_meta) == 24, "struct map_meta grew");
_Static_assert(REC_BIG * sizeof(struct ibb_host) == HUGE_PAGE,
               "a big chunk of hosts is not a huge page");

/* A chunk of records: their hosts and the rest, at the same offsets. */
struct map_chunk {
    struct ibb_host *hosts;     /* Hosts, cache line aligned. */
    struct map_meta *meta;      /* The rest of each record. */
};

/* The host indexes: one open addressing table per kind of key (IPv4 and
 * IPv6 share one), at most 3/4 full.  Linear probing in Robin Hood order:
 * an insertion takes the slot of a key nearer its start than itself, so
 * keys sit in the order of their start slots and a miss stops as soon as
 * it passes where its key would be, not at the next empty slot.  Deletion
 * shifts the keys after it back (no tombstones).  A slot keeps the key's
 * 32-bit hash beside the record, so that a probe rarely reads a record
 * that does not match and a resize reads no record at all. */
enum map_key {
    KEY_GID,
    KEY_IP,
    KEY_LID,
    KEY_MAC,
    N_KEYS
};

struct map_slot {
    uint32_t hash;              /* The key's hash; its low bits give the
                                 * slot where probing for it starts. */
    uint32_t ref;               /* 1 + the record's index; 0: empty. */
};

struct map_index {
    struct map_slot *slots;     /* 'mask' + 1 slots, or NULL if none. */
    uint32_t mask;              /* The number of slots - 1. */
    uint32_t n;                 /* Slots in use. */
};

#define INDEX_MIN_SLOTS 16
#define INDEX_MAX_SLOTS (1u << 31)

struct map_group {
    struct ibb_group g;         /* The entry; first, see
                                 * ibb_addr_map_group_stats(). */
    struct ibb_group_stats stats; /* Its counters. */
    UT_hash_handle hh_ip;       /* In map->groups_by_ip. */
    UT_hash_handle hh_mgid;     /* In map->groups_by_mgid. */
};

struct ibb_addr_map {
    struct map_chunk *chunks;   /* Host records, see above. */
    uint32_t n_chunks;          /* Chunks allocated. */
    uint32_t max_chunks;        /* Room in 'chunks'. */
    uint32_t n_recs;            /* 1 + the highest record number handed
                                 * out, live or free; 0 if none. */
    uint32_t free_recs;         /* Free list, linked by 'older'. */
    uint32_t newest;            /* The newest host, or REC_NIL. */
    size_t n_hosts;             /* Number of hosts. */
    size_t n_learned;           /* Learned (traffic, ARP) among them. */
    uint64_t generation;        /* Changes with any host but its age. */
    uint64_t version;           /* Changes with any host but its age and
                                 * with any group, see map_changed(). */
    uint64_t seed;              /* Hash seed, per map. */
    struct map_index idx[N_KEYS]; /* Host indexes, by enum map_key. */
    struct map_group *groups_by_ip;   /* Hash on g.ip; owns the groups. */
    struct map_group *groups_by_mgid; /* Hash on g.mgid. */
};

/* ------------------------------------------------------------------ */
/* Versions. */

/* Every map's versions come from this one counter, so that no two maps,
 * not even one freed and one allocated at its address, ever share one: a
 * cache of lookups (lib/ibb-flow-cache.h) that kept a version holds for
 * that map in that state alone. */
static atomic_uint_fast64_t versions;

/* Anything a lookup can see changed in 'map'. */
static void
map_changed(struct ibb_addr_map *map)
{
    map->version = atomic_fetch_add_explicit(&versions, 1,
                                             memory_order_relaxed) + 1;
}

/* A host was added, removed or changed (not only seen again). */
static void
host_changed(struct ibb_addr_map *map)
{
    map->generation++;
    map_changed(map);
}

/* ------------------------------------------------------------------ */
/* Records. */

/* Allocates 'size' bytes, zeroed if 'zero', aligned on a cache line.
 * Large tables get transparent huge pages where the kernel has them: at a
 * million hosts a lookup otherwise misses the TLB on the index slot and
 * again on the record. */
static void *
big_alloc(size_t size, bool zero)
{
    size_t align = CACHE_LINE;
    void *p;

#ifdef MADV_HUGEPAGE
    if (size >= HUGE_PAGE) {
        align = HUGE_PAGE;
    }
#endif
    if (posix_memalign(&p, align, size)) {
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) {
        madvise(p, size, MADV_HUGEPAGE);
    }
#endif
    return zero ? memset(p, 0, size) : p;
}

/* The number of records in chunk 'k'. */
static size_t
chunk_recs(uint32_t k)
{
    return k < REC_GEO ? REC_CHUNK0 << k : REC_BIG;
}

/* The host of record 'i'. */
static inline struct ibb_host *
host_at(const struct ibb_addr_map *map, uint32_t i)
{
    return &map->chunks[i >> REC_BIG_BITS].hosts[i & (REC_BIG - 1)];
}

/* The rest of record 'i'. */
static inline struct map_meta *
meta_at(const struct ibb_addr_map *map, uint32_t i)
{
    return &map->chunks[i >> REC_BIG_BITS].meta[i & (REC_BIG - 1)];
}

/* Whether record number 'i' is past the end of its chunk: never used. */
static bool
rec_is_gap(uint32_t i)
{
    return (i & (REC_BIG - 1)) >= chunk_recs(i >> REC_BIG_BITS);
}

/* Returns a free record's number, or REC_NIL if memory is short. */
static uint32_t
rec_alloc(struct ibb_addr_map *map)
{
    uint32_t i, k;

    if (map->free_recs != REC_NIL) {
        i = map->free_recs;
        map->free_recs = meta_at(map, i)->older;
        return i;
    }
    i = map->n_recs;
    if (rec_is_gap(i)) {
        /* A small chunk is full: the next one starts at a multiple of
         * REC_BIG. */
        i = (i | (REC_BIG - 1)) + 1;
    }
    if (i >= REC_MAX) {
        return REC_NIL;
    }
    k = i >> REC_BIG_BITS;
    if (k == map->n_chunks) {
        struct map_chunk *c;

        if (k == map->max_chunks) {
            uint32_t max = map->max_chunks ? 2 * map->max_chunks : 16;
            struct map_chunk *chunks = realloc(map->chunks,
                                               max * sizeof *chunks);

            if (!chunks) {
                return REC_NIL;
            }
            map->chunks = chunks;
            map->max_chunks = max;
        }
        c = &map->chunks[k];
        c->hosts = big_alloc(chunk_recs(k) * sizeof *c->hosts, false);
        c->meta = malloc(chunk_recs(k) * sizeof *c->meta);
        if (!c->hosts || !c->meta) {
            free(c->hosts);
            free(c->meta);
            return REC_NIL;
        }
        map->n_chunks++;
    }
    map->n_recs = i + 1;
    return i;
}

/* Frees every record and index: the map has no host left. */
static void
hosts_clear(struct ibb_addr_map *map)
{
    for (uint32_t k = 0; k < map->n_chunks; k++) {
        free(map->chunks[k].hosts);
        free(map->chunks[k].meta);
    }
    free(map->chunks);
    map->chunks = NULL;
    map->n_chunks = map->max_chunks = 0;
    for (int key = 0; key < N_KEYS; key++) {
        free(map->idx[key].slots);
        memset(&map->idx[key], 0, sizeof map->idx[key]);
    }
    map->n_recs = 0;
    map->free_recs = REC_NIL;
    map->newest = REC_NIL;
    map->n_hosts = 0;
    map->n_learned = 0;
}

/* ------------------------------------------------------------------ */
/* Hashing.  The seed differs per map, so that learned addresses (chosen
 * by whoever sends traffic) cannot be picked to collide. */

static inline uint64_t
mix64(uint64_t x)
{
    /* MurmurHash3's finaliser: each input bit flips half the output. */
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* Folds the 128-bit product of 'a' and 'b' (wyhash's mixer): one multiply
 * where a 64-bit machine has it. */
static inline uint64_t
mum(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 p = (unsigned __int128) a * b;

    return (uint64_t) p ^ (uint64_t) (p >> 64);
#else
    return mix64(a ^ mix64(b));
#endif
}

static inline uint32_t
hash_addr(uint64_t seed, const uint8_t addr[16])
{
    uint64_t hi, lo;

    memcpy(&hi, addr, 8);
    memcpy(&lo, addr + 8, 8);
    return mum(hi ^ seed, lo ^ (seed >> 32 | seed << 32)
               ^ UINT64_C(0xe7037ed1a0b428db));
}

static inline uint32_t
hash_lid(uint64_t seed, uint16_t lid)
{
    return mix64(lid ^ seed);
}

static inline uint32_t
hash_mac(uint64_t seed, const uint8_t mac[6])
{
    uint32_t a;
    uint16_t b;

    /* Two loads: one 8-byte load from a copy would stall on the copy. */
    memcpy(&a, mac, 4);
    memcpy(&b, mac + 4, 2);
    return mix64((a | (uint64_t) b << 32) ^ seed);
}

static uint64_t
new_seed(const struct ibb_addr_map *map)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return mix64((uintptr_t) map
                 ^ mix64(ts.tv_sec * UINT64_C(1000000000) + ts.tv_nsec));
}

/* ------------------------------------------------------------------ */
/* Indexes. */

/* Whether host 'h' has address 'ip'.  It compares one of its addresses,
 * picked without a branch: a lookup in a mix of IPv4 and IPv6 addresses
 * would mispredict one. */
static inline bool
host_has_ip(const struct ibb_host *h, const uint8_t ip[16])
{
    static const uint8_t v4mapped[12] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
    };
    bool v4 = !memcmp(ip, v4mapped, 12);

    return ((v4 ? h->has_ipv4 : h->has_ipv6)
            && !memcmp(v4 ? h->ipv4 : h->ipv6, ip, 16));
}

/* Whether host 'h' has key 'k' of kind 'key' (a uint16_t for KEY_LID). */
static inline bool
host_has_key(const struct ibb_host *h, enum map_key key, const void *k)
{
    switch (key) {
    case KEY_GID:
        return h->has_gid && !memcmp(h->gid, k, 16);
    case KEY_IP:
        return host_has_ip(h, k);
    case KEY_LID:
        return h->lid == *(const uint16_t *) k;
    case KEY_MAC:
        return h->has_mac && !memcmp(h->mac, k, 6);
    case N_KEYS:
    default:
        return false;
    }
}

/* How far slot 'i', in use, is from the slot where probing for its key
 * starts. */
static inline uint32_t
slot_dist(const struct map_slot *slots, uint32_t mask, uint32_t i)
{
    return (i - slots[i].hash) & mask;
}

/* Whether a probe 'dist' slots from its start at slot 'i' may go on: its
 * key can only be further if 'i' holds a key that started no later. */
static inline bool
probe_goes_on(const struct map_slot *slots, uint32_t mask, uint32_t i,
              uint32_t dist)
{
    return slots[i].ref && slot_dist(slots, mask, i) >= dist;
}

/* Returns 1 + the index of the record with key 'k' (hashed: 'hash'), or 0
 * if none. */
static inline uint32_t
index_find(const struct ibb_addr_map *map, enum map_key key, const void *k,
           uint32_t hash)
{
    const struct map_index *idx = &map->idx[key];
    uint32_t mask = idx->mask;

    if (!idx->slots) {
        return 0;
    }
    for (uint32_t i = hash & mask, dist = 0;
         probe_goes_on(idx->slots, mask, i, dist);
         i = (i + 1) & mask, dist++) {
        const struct map_slot *s = &idx->slots[i];

        if (s->hash == hash && host_has_key(host_at(map, s->ref - 1), key,
                                            k)) {
            return s->ref;
        }
    }
    return 0;
}

static void
slots_put(struct map_slot *slots, uint32_t mask, uint32_t hash, uint32_t ref)
{
    struct map_slot cur = { hash, ref };
    uint32_t i = hash & mask;

    for (uint32_t dist = 0; slots[i].ref; i = (i + 1) & mask, dist++) {
        uint32_t d = slot_dist(slots, mask, i);

        if (d < dist) {
            /* Robin Hood: 'cur' takes the slot, the key there goes on. */
            struct map_slot tmp = slots[i];

            slots[i] = cur;
            cur = tmp;
            dist = d;
        }
    }
    slots[i] = cur;
}

/* Moves 'idx' into 'n_slots' slots, from the hashes alone. */
static int
index_resize(struct map_index *idx, uint32_t n_slots)
{
    struct map_slot *slots = big_alloc(n_slots * sizeof *slots, true);

    if (!slots) {
        return ENOMEM;
    }
    if (idx->slots) {
        for (uint32_t i = 0; i <= idx->mask; i++) {
            if (idx->slots[i].ref) {
                slots_put(slots, n_slots - 1, idx->slots[i].hash,
                          idx->slots[i].ref);
            }
        }
        free(idx->slots);
    }
    idx->slots = slots;
    idx->mask = n_slots - 1;
    return 0;
}

/* Makes room in 'idx' for 'n_more' keys.  Returns 0 or ENOMEM. */
static int
index_reserve(struct map_index *idx, uint32_t n_more)
{
    uint64_t n_slots = idx->slots ? (uint64_t) idx->mask + 1 : 0;
    uint64_t want = n_slots ? n_slots : INDEX_MIN_SLOTS;

    while (((uint64_t) idx->n + n_more) * 4 > want * 3) {
        want *= 2;
    }
    if (want == n_slots) {
        return 0;
    }
    return want > INDEX_MAX_SLOTS ? ENOMEM : index_resize(idx, want);
}

/* Adds 'ref' under 'hash'; index_reserve() made room. */
static void
index_insert(struct map_index *idx, uint32_t hash, uint32_t ref)
{
    slots_put(idx->slots, idx->mask, hash, ref);
    idx->n++;
}

/* Removes 'ref', which is in 'idx' under 'hash', then closes the gap: the
 * keys after it move back one slot, up to one at its start slot. */
static void
index_remove(struct map_index *idx, uint32_t hash, uint32_t ref)
{
    struct map_slot *slots = idx->slots;
    uint32_t mask = idx->mask;
    uint32_t i = hash & mask;
    uint32_t j;

    while (slots[i].ref != ref) {
        i = (i + 1) & mask;
    }
    for (j = (i + 1) & mask; slots[j].ref && slot_dist(slots, mask, j);
         j = (j + 1) & mask) {
        slots[i] = slots[j];
        i = j;
    }
    slots[i].ref = 0;
    idx->n--;
}

/* Halves 'idx' when it is under 1/8 full, so that a flush gives memory
 * back.  Failing to allocate is harmless: it stays as it is. */
static void
index_shrink(struct map_index *idx)
{
    if (idx->slots && idx->mask + 1 > INDEX_MIN_SLOTS
        && (uint64_t) idx->n * 8 < (uint64_t) idx->mask + 1) {
        index_resize(idx, (idx->mask + 1) / 2);
    }
}

/* Adds record 'i' to, or removes it from, the index of each key it has. */
static void
rec_index(struct ibb_addr_map *map, uint32_t i, bool add)
{
    void (*op)(struct map_index *, uint32_t, uint32_t)
        = add ? index_insert : index_remove;
    const struct ibb_host *h = host_at(map, i);
    uint64_t seed = map->seed;

    if (h->has_gid) {
        op(&map->idx[KEY_GID], hash_addr(seed, h->gid), i + 1);
    }
    if (h->has_ipv4) {
        op(&map->idx[KEY_IP], hash_addr(seed, h->ipv4), i + 1);
    }
    if (h->has_ipv6) {
        op(&map->idx[KEY_IP], hash_addr(seed, h->ipv6), i + 1);
    }
    if (h->lid) {
        op(&map->idx[KEY_LID], hash_lid(seed, h->lid), i + 1);
    }
    if (h->has_mac) {
        op(&map->idx[KEY_MAC], hash_mac(seed, h->mac), i + 1);
    }
}

/* Makes room in the indexes for the keys of 'h'.  Returns 0 or ENOMEM. */
static int
reserve_keys(struct ibb_addr_map *map, const struct ibb_host *h)
{
    uint32_t n[N_KEYS] = {
        [KEY_GID] = h->has_gid,
        [KEY_IP] = h->has_ipv4 + h->has_ipv6,
        [KEY_LID] = h->lid != 0,
        [KEY_MAC] = h->has_mac,
    };

    for (int key = 0; key < N_KEYS; key++) {
        if (n[key] && index_reserve(&map->idx[key], n[key])) {
            return ENOMEM;
        }
    }
    return 0;
}

/* Gives record 'i' MAC 'mac', in the MAC index too.  Returns 0 or ENOMEM
 * (the host had no MAC and the index could not grow). */
static int
rec_set_mac(struct ibb_addr_map *map, uint32_t i, const uint8_t mac[6])
{
    struct map_index *idx = &map->idx[KEY_MAC];
    struct ibb_host *h = host_at(map, i);

    if (h->has_mac) {
        if (!memcmp(h->mac, mac, 6)) {
            return 0;
        }
        index_remove(idx, hash_mac(map->seed, h->mac), i + 1);
    } else if (index_reserve(idx, 1)) {
        return ENOMEM;
    }
    memcpy(h->mac, mac, 6);
    h->has_mac = true;
    host_changed(map);
    index_insert(idx, hash_mac(map->seed, mac), i + 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Hosts. */

static bool
source_is_learned(enum ibb_host_source source)
{
    return source == IBB_HOST_LEARNED || source == IBB_HOST_ARP;
}

static const struct ibb_host *
host_of(const struct ibb_addr_map *map, uint32_t ref)
{
    return ref ? host_at(map, ref - 1) : NULL;
}

/* Returns 1 + the index of the host with address 'ip', or 0. */
static inline uint32_t
find_ip(const struct ibb_addr_map *map, const uint8_t ip[16])
{
    return index_find(map, KEY_IP, ip, hash_addr(map->seed, ip));
}

/* Returns 1 + the index of the host with GID 'gid', or 0. */
static inline uint32_t
find_gid(const struct ibb_addr_map *map, const uint8_t gid[16])
{
    return index_find(map, KEY_GID, gid, hash_addr(map->seed, gid));
}

struct ibb_addr_map *
ibb_addr_map_create(void)
{
    struct ibb_addr_map *map = calloc(1, sizeof *map);

    if (map) {
        map->free_recs = REC_NIL;
        map->newest = REC_NIL;
        map->seed = new_seed(map);
        map_changed(map);
    }
    return map;
}

void
ibb_addr_map_destroy(struct ibb_addr_map *map)
{
    struct map_group *g, *tmp;

    if (!map) {
        return;
    }
    hosts_clear(map);
    HASH_CLEAR(hh_mgid, map->groups_by_mgid);
    HASH_ITER(hh_ip, map->groups_by_ip, g, tmp) {
        HASH_DELETE(hh_ip, map->groups_by_ip, g);
        free(g);
    }
    free(map);
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
    struct map_meta *r;
    uint32_t i;

    if ((!host->has_gid && !host->has_ipv4 && !host->has_ipv6)
        || (host->has_ipv4 && !ibb_gid_is_v4mapped(host->ipv4))
        || (host->has_ipv6 && ibb_gid_is_v4mapped(host->ipv6))
        || host->qpn > 0xffffff) {
        return EINVAL;
    }
    if ((host->has_gid && ibb_addr_map_find_gid(map, host->gid))
        || (host->lid && ibb_addr_map_find_lid(map, host->lid))
        || (host->has_ipv4 && find_ip(map, host->ipv4))
        || (host->has_ipv6 && find_ip(map, host->ipv6))) {
        return EEXIST;
    }
    if (reserve_keys(map, host)) {
        return ENOMEM;
    }
    i = rec_alloc(map);
    if (i == REC_NIL) {
        return ENOMEM;
    }

    *host_at(map, i) = *host;
    r = meta_at(map, i);
    r->last_seen = now;
    r->source = source;
    host_changed(map);
    rec_index(map, i, true);

    r->newer = REC_NIL;
    r->older = map->newest;
    if (map->newest != REC_NIL) {
        meta_at(map, map->newest)->newer = i;
    }
    map->newest = i;

    map->n_hosts++;
    map->n_learned += source_is_learned(source);
    return 0;
}

/* Deletes host 'i'. */
static void
host_remove(struct ibb_addr_map *map, uint32_t i)
{
    struct map_meta *r = meta_at(map, i);

    rec_index(map, i, false);
    if (r->newer != REC_NIL) {
        meta_at(map, r->newer)->older = r->older;
    } else {
        map->newest = r->older;
    }
    if (r->older != REC_NIL) {
        meta_at(map, r->older)->newer = r->newer;
    }
    map->n_learned -= source_is_learned(r->source);
    r->source = REC_FREE;
    host_changed(map);
    r->older = map->free_recs;
    map->free_recs = i;

    if (!--map->n_hosts) {
        hosts_clear(map);
    } else {
        for (int key = 0; key < N_KEYS; key++) {
            index_shrink(&map->idx[key]);
        }
    }
}

/* Deletes the hosts 'pred' selects; returns how many.  It goes through
 * the records in memory order, not by the list: the once-a-second sweep
 * for aged hosts then reads a million hosts in milliseconds. */
static size_t
remove_if(struct ibb_addr_map *map,
          bool (*pred)(const struct map_meta *, const void *aux),
          const void *aux)
{
    size_t n = 0;

    /* Deleting the last host frees the records: 'n_recs' becomes 0. */
    for (uint32_t i = 0; i < map->n_recs; i++) {
        struct map_meta *r;

        if (rec_is_gap(i)) {
            i |= REC_BIG - 1;
            continue;
        }
        r = meta_at(map, i);
        if (r->source != REC_FREE && pred(r, aux)) {
            host_remove(map, i);
            n++;
        }
    }
    return n;
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

/* Adds RoCE host 'ip' -> 'mac' as learned from 'source', within the
 * bound. */
static int
add_learned_mac(struct ibb_addr_map *map, const uint8_t ip[16],
                const uint8_t mac[6], enum ibb_host_source source,
                long long int now, size_t max_learned)
{
    struct ibb_host host;

    if (map->n_learned >= max_learned) {
        return ENOSPC;
    }
    ibb_host_init_ip_mac(&host, ip, mac);
    return ibb_addr_map_add_host_from(map, &host, source, now);
}

int
ibb_addr_map_learn_arp(struct ibb_addr_map *map, const uint8_t ip[16],
                       const uint8_t mac[6], long long int now,
                       size_t max_learned)
{
    uint32_t ref = find_ip(map, ip);

    if (ref) {
        const struct ibb_host *h = host_at(map, ref - 1);
        struct map_meta *r = meta_at(map, ref - 1);
        int error;

        if (h->has_gid) {
            return EPERM;
        } else if (!source_is_learned(r->source)) {
            return h->has_mac && !memcmp(h->mac, mac, 6) ? 0 : EEXIST;
        }
        /* A host's own ARP or ND is better than a guess from traffic,
         * and the newest one wins. */
        error = rec_set_mac(map, ref - 1, mac);
        if (!error) {
            r->source = IBB_HOST_ARP;
            host_changed(map);
            r->last_seen = now;
        }
        return error;
    }
    return add_learned_mac(map, ip, mac, IBB_HOST_ARP, now, max_learned);
}

int
ibb_addr_map_learn_mac(struct ibb_addr_map *map, const uint8_t ip[16],
                       const uint8_t mac[6], long long int now,
                       size_t max_learned)
{
    uint32_t ref = find_ip(map, ip);

    if (ref) {
        const struct ibb_host *h = host_at(map, ref - 1);
        struct map_meta *r = meta_at(map, ref - 1);

        if (h->has_gid) {
            return EPERM;
        } else if (r->source == IBB_HOST_LEARNED) {
            r->last_seen = now;
            return rec_set_mac(map, ref - 1, mac);
        } else if (!h->has_mac || memcmp(h->mac, mac, 6)) {
            return EEXIST;
        } else if (r->source == IBB_HOST_ARP) {
            /* Traffic agrees with the ARP entry: it is still there. */
            r->last_seen = now;
        }
        return 0;
    }
    return add_learned_mac(map, ip, mac, IBB_HOST_LEARNED, now,
                           max_learned);
}

int
ibb_addr_map_del_ip(struct ibb_addr_map *map, const uint8_t ip[16])
{
    uint32_t ref = find_ip(map, ip);

    if (!ref) {
        return ENOENT;
    } else if (meta_at(map, ref - 1)->source == IBB_HOST_FILE) {
        return EPERM;
    }
    host_remove(map, ref - 1);
    return 0;
}

static bool
is_flushed(const struct map_meta *r, const void *learned_only)
{
    return (source_is_learned(r->source)
            || (r->source == IBB_HOST_ADDED && !*(const bool *) learned_only));
}

size_t
ibb_addr_map_flush(struct ibb_addr_map *map, bool learned_only)
{
    return remove_if(map, is_flushed, &learned_only);
}

void
ibb_addr_map_foreach_host(const struct ibb_addr_map *map,
                          void (*cb)(const struct ibb_host *,
                                     enum ibb_host_source,
                                     long long int last_seen, void *aux),
                          void *aux)
{
    uint32_t i = map->newest;

    while (i != REC_NIL) {
        const struct ibb_host *h = host_at(map, i);
        const struct map_meta *r = meta_at(map, i);

        i = r->older;
        cb(h, r->source, r->last_seen, aux);
    }
}

const char *
ibb_host_source_name(enum ibb_host_source source)
{
    return (source == IBB_HOST_FILE ? "file"
            : source == IBB_HOST_LEARNED ? "learned"
            : source == IBB_HOST_ADDED ? "added"
            : source == IBB_HOST_KERNEL ? "kernel"
            : source == IBB_HOST_ARP ? "arp" : "unknown");
}

int
ibb_addr_map_set_kernel_mac(struct ibb_addr_map *map, const uint8_t ip[16],
                            const uint8_t mac[6], long long int now)
{
    uint32_t ref = find_ip(map, ip);
    struct ibb_host host;

    if (ref) {
        const struct ibb_host *h = host_at(map, ref - 1);
        struct map_meta *r = meta_at(map, ref - 1);
        int error;

        if (h->has_gid) {
            return EPERM;
        } else if (r->source == IBB_HOST_FILE
                   || r->source == IBB_HOST_ADDED) {
            return h->has_mac && !memcmp(h->mac, mac, 6) ? 0 : EEXIST;
        }
        error = rec_set_mac(map, ref - 1, mac);
        if (error) {
            return error;
        }
        if (source_is_learned(r->source)) {
            r->source = IBB_HOST_KERNEL;
            host_changed(map);
            map->n_learned--;
        }
        r->last_seen = now;
        return 0;
    }
    ibb_host_init_ip_mac(&host, ip, mac);
    return ibb_addr_map_add_host_from(map, &host, IBB_HOST_KERNEL, now);
}

/* Higher ranks are never changed by lower ones. */
static int
source_rank(enum ibb_host_source source)
{
    switch (source) {
    case IBB_HOST_FILE:
        return 4;
    case IBB_HOST_ADDED:
        return 3;
    case IBB_HOST_KERNEL:
        return 2;
    case IBB_HOST_ARP:
        return 1;
    case IBB_HOST_LEARNED:
    default:
        return 0;
    }
}

int
ibb_addr_map_learn_ib(struct ibb_addr_map *map, const uint8_t ip[16],
                      const uint8_t gid[16], uint16_t lid, uint32_t qpn,
                      enum ibb_host_source source, long long int now,
                      size_t max_learned)
{
    uint32_t by_ip = find_ip(map, ip);
    uint32_t by_gid = find_gid(map, gid);
    struct ibb_host host;
    int rank = source_rank(source);

    if (ibb_gid_is_zero(gid) || ibb_gid_is_multicast(gid)
        || qpn > 0xffffff) {
        return EINVAL;
    }
    if (by_ip) {
        const struct ibb_host *h = host_at(map, by_ip - 1);
        struct map_meta *r = meta_at(map, by_ip - 1);

        if (!h->has_gid) {
            return EPERM;
        } else if (by_ip == by_gid && source_rank(r->source) > rank) {
            /* It agrees with a better source, which stays as it is. */
            return 0;
        } else if (by_ip == by_gid && r->source == source
                   && (!lid || h->lid == lid)
                   && (!qpn || h->qpn == qpn)) {
            r->last_seen = now;
            return 0;
        } else if (source_rank(r->source) > rank) {
            return EEXIST;
        }
    }
    if (by_gid && by_gid != by_ip
        && source_rank(meta_at(map, by_gid - 1)->source) > rank) {
        return EEXIST;
    }

    /* A host of the same source keeps what it had under its GID (its
     * other family's address, a LID or QPN not told here); one from a
     * lower source is replaced whole, so that each address keeps the
     * lifetime of the source that told it. */
    memset(&host, 0, sizeof host);
    if (by_gid && meta_at(map, by_gid - 1)->source == source) {
        host = *host_at(map, by_gid - 1);
    }
    if (by_ip && by_ip != by_gid) {
        host_remove(map, by_ip - 1);
        by_gid = find_gid(map, gid);
    }
    if (by_gid) {
        host_remove(map, by_gid - 1);
    }
    if (source_is_learned(source) && map->n_learned >= max_learned) {
        return ENOSPC;
    }

    host.has_gid = true;
    memcpy(host.gid, gid, 16);
    host.lid = lid ? lid : host.lid;
    host.qpn = qpn ? qpn : host.qpn;
    if (ibb_gid_is_v4mapped(ip)) {
        host.has_ipv4 = true;
        memcpy(host.ipv4, ip, 16);
    } else {
        host.has_ipv6 = true;
        memcpy(host.ipv6, ip, 16);
    }
    if (host.lid && ibb_addr_map_find_lid(map, host.lid)) {
        host.lid = 0;
    }
    return ibb_addr_map_add_host_from(map, &host, source, now);
}

bool
ibb_addr_map_touch_ib(struct ibb_addr_map *map, const uint8_t gid[16],
                      uint16_t lid, long long int now)
{
    uint32_t ref = find_gid(map, gid);
    const struct ibb_host *h;
    struct map_meta *r;

    if (!ref) {
        return false;
    }
    h = host_at(map, ref - 1);
    r = meta_at(map, ref - 1);
    if (source_is_learned(r->source)) {
        r->last_seen = now;
    }
    if (source_is_learned(r->source) || r->source == IBB_HOST_KERNEL) {
        /* An IPoIB neighbour gives no LID where the port cannot ask the
         * SA (an HCA): the host's own datagrams do. */
        if (!h->lid && lid && !ibb_addr_map_find_lid(map, lid)) {
            struct ibb_host host = *h;
            enum ibb_host_source source = r->source;

            host.lid = lid;
            host_remove(map, ref - 1);
            ibb_addr_map_add_host_from(map, &host, source, now);
        }
    }
    return true;
}

static bool
is_from(const struct map_meta *r, const void *source)
{
    return r->source == *(const enum ibb_host_source *) source;
}

size_t
ibb_addr_map_flush_source(struct ibb_addr_map *map,
                          enum ibb_host_source source)
{
    return source == IBB_HOST_FILE ? 0 : remove_if(map, is_from, &source);
}

int
ibb_addr_map_del_ip_from(struct ibb_addr_map *map, const uint8_t ip[16],
                         enum ibb_host_source source)
{
    uint32_t ref = find_ip(map, ip);

    if (!ref || meta_at(map, ref - 1)->source != source) {
        return ENOENT;
    }
    return ibb_addr_map_del_ip(map, ip);
}

struct expiry {
    long long int now;          /* The time, ms. */
    long long int max_age;      /* Older learned hosts go, ms. */
};

static bool
is_expired(const struct map_meta *r, const void *e_)
{
    const struct expiry *e = e_;

    return source_is_learned(r->source) && e->now - r->last_seen >= e->max_age;
}

size_t
ibb_addr_map_expire_learned(struct ibb_addr_map *map, long long int now,
                            long long int max_age)
{
    struct expiry e = { now, max_age };

    return map->n_learned ? remove_if(map, is_expired, &e) : 0;
}

size_t
ibb_addr_map_copy_runtime(struct ibb_addr_map *dst,
                          const struct ibb_addr_map *src)
{
    uint32_t i = src->newest;
    size_t n = 0;

    while (i != REC_NIL) {
        const struct ibb_host *h = host_at(src, i);
        const struct map_meta *r = meta_at(src, i);
        int error;

        i = r->older;
        if (r->source == IBB_HOST_LEARNED) {
            error = ibb_addr_map_learn_mac(dst, (h->has_ipv4
                                                 ? h->ipv4 : h->ipv6),
                                           h->mac, r->last_seen,
                                           SIZE_MAX);
        } else if (r->source != IBB_HOST_FILE) {
            error = ibb_addr_map_add_host_from(dst, h, r->source,
                                               r->last_seen);
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
    return host_of(map, find_gid(map, gid));
}

const struct ibb_host *
ibb_addr_map_find_ip(const struct ibb_addr_map *map, const uint8_t ip[16])
{
    return host_of(map, find_ip(map, ip));
}

const struct ibb_host *
ibb_addr_map_find_lid(const struct ibb_addr_map *map, uint16_t lid)
{
    return host_of(map, index_find(map, KEY_LID, &lid,
                                   hash_lid(map->seed, lid)));
}

const struct ibb_host *
ibb_addr_map_find_mac(const struct ibb_addr_map *map, const uint8_t mac[6])
{
    return host_of(map, index_find(map, KEY_MAC, mac,
                                   hash_mac(map->seed, mac)));
}

void
ibb_addr_map_find_ip_batch(const struct ibb_addr_map *map,
                           const uint8_t *const ips[], size_t n,
                           const struct ibb_host *hosts[])
{
    const struct map_index *idx = &map->idx[KEY_IP];
    uint32_t hashes[IBB_ADDR_MAP_BATCH];

    for (; n > IBB_ADDR_MAP_BATCH; n -= IBB_ADDR_MAP_BATCH) {
        ibb_addr_map_find_ip_batch(map, ips, IBB_ADDR_MAP_BATCH, hosts);
        ips += IBB_ADDR_MAP_BATCH;
        hosts += IBB_ADDR_MAP_BATCH;
    }
    if (!idx->slots) {
        memset(hosts, 0, n * sizeof *hosts);
        return;
    }

    /* Three passes, each starting the memory loads the next one needs, so
     * that the cache misses of the whole batch overlap: hash and fetch the
     * home slots; find the first slot with a matching hash and fetch its
     * host; compare the keys. */
    for (size_t k = 0; k < n; k++) {
        hashes[k] = hash_addr(map->seed, ips[k]);
        __builtin_prefetch(&idx->slots[hashes[k] & idx->mask]);
    }
    for (size_t k = 0; k < n; k++) {
        uint32_t i = hashes[k] & idx->mask;
        uint32_t dist = 0;

        hosts[k] = NULL;
        for (; probe_goes_on(idx->slots, idx->mask, i, dist);
             i = (i + 1) & idx->mask, dist++) {
            if (idx->slots[i].hash == hashes[k]) {
                hosts[k] = host_of(map, idx->slots[i].ref);
                break;
            }
        }
        if (hosts[k]) {
            __builtin_prefetch(hosts[k]);
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (hosts[k] && !host_has_ip(hosts[k], ips[k])) {
            /* Another key with the same hash: rare. */
            hosts[k] = ibb_addr_map_find_ip(map, ips[k]);
        }
    }
}

uint64_t
ibb_addr_map_generation(const struct ibb_addr_map *map)
{
    return map ? map->generation : 0;
}

uint64_t
ibb_addr_map_version(const struct ibb_addr_map *map)
{
    return map->version;
}

size_t
ibb_addr_map_n_hosts(const struct ibb_addr_map *map)
{
    return map ? map->n_hosts : 0;
}

size_t
ibb_addr_map_bytes(const struct ibb_addr_map *map)
{
    size_t bytes = sizeof *map;

    if (!map) {
        return 0;
    }
    bytes += map->max_chunks * sizeof *map->chunks;
    for (uint32_t k = 0; k < map->n_chunks; k++) {
        bytes += chunk_recs(k) * (sizeof(struct ibb_host)
                                  + sizeof(struct map_meta));
    }
    for (int key = 0; key < N_KEYS; key++) {
        bytes += (map->idx[key].slots
                  ? sizeof(struct map_slot) * (map->idx[key].mask + 1) : 0);
    }
    return bytes + ibb_addr_map_n_groups(map) * sizeof(struct map_group);
}

/* ------------------------------------------------------------------ */
/* Groups. */

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
    map_changed(map);
    return 0;
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

struct ibb_group_stats *
ibb_addr_map_group_stats(struct ibb_addr_map *map,
                         const struct ibb_group *group)
{
    /* 'group' is the first member of its map_group. */
    (void) map;
    return &((struct map_group *) group)->stats;
}

void
ibb_addr_map_copy_group_stats(struct ibb_addr_map *dst,
                              const struct ibb_addr_map *src)
{
    struct map_group *mg, *next, *old;

    HASH_ITER(hh_mgid, dst->groups_by_mgid, mg, next) {
        HASH_FIND(hh_mgid, src->groups_by_mgid, mg->g.mgid, 16, old);
        if (old) {
            mg->stats = old->stats;
        }
    }
}

void
ibb_addr_map_foreach_group(const struct ibb_addr_map *map,
                           void (*cb)(const struct ibb_group *,
                                      const struct ibb_group_stats *,
                                      void *aux),
                           void *aux)
{
    struct map_group *mg, *next;

    HASH_ITER(hh_mgid, map->groups_by_mgid, mg, next) {
        cb(&mg->g, &mg->stats, aux);
    }
}

int
ibb_addr_map_del_group(struct ibb_addr_map *map, const uint8_t mgid[16])
{
    struct map_group *mg;

    HASH_FIND(hh_mgid, map->groups_by_mgid, mgid, 16, mg);
    if (!mg) {
        return ENOENT;
    }
    HASH_DELETE(hh_mgid, map->groups_by_mgid, mg);
    HASH_DELETE(hh_ip, map->groups_by_ip, mg);
    free(mg);
    map_changed(map);
    return 0;
}

/* The group entry with 'mgid', for changing it, or NULL. */
static struct map_group *
group_by_mgid(struct ibb_addr_map *map, const uint8_t mgid[16])
{
    struct map_group *mg;

    HASH_FIND(hh_mgid, map->groups_by_mgid, mgid, 16, mg);
    return mg;
}

int
ibb_addr_map_set_group_mlid(struct ibb_addr_map *map, const uint8_t mgid[16],
                            uint16_t mlid)
{
    struct map_group *mg = group_by_mgid(map, mgid);

    if (!mg) {
        return ENOENT;
    }
    if (mg->g.mlid != mlid) {
        mg->g.mlid = mlid;
        map_changed(map);
    }
    return 0;
}

int
ibb_addr_map_set_group_standby(struct ibb_addr_map *map,
                               const uint8_t mgid[16], bool standby)
{
    struct map_group *mg = group_by_mgid(map, mgid);

    if (!mg) {
        return ENOENT;
    }
    if (mg->g.standby != standby) {
        mg->g.standby = standby;
        map_changed(map);
    }
    return 0;
}

size_t
ibb_addr_map_n_groups(const struct ibb_addr_map *map)
{
    return map ? HASH_CNT(hh_ip, map->groups_by_ip) : 0;
}
