/*
 * Address map: host records in a segmented array, found through open
 * addressing hash indexes; groups in uthash tables; JSON loading.
 *
 * lib/addr-map.h gives the design and its memory cost.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

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
 * a lookup in it rarely misses the TLB. */
#define REC_CHUNK0_BITS 6
#define REC_CHUNK0 (1u << REC_CHUNK0_BITS)
#define REC_GEO 8
#define REC_GEO_RECS (REC_CHUNK0 * ((1u << REC_GEO) - 1))
#define REC_BIG (HUGE_PAGE / sizeof(struct map_rec))
#define REC_MAX (1u << 31)
#define HUGE_PAGE (2 * 1024 * 1024)
#define REC_NIL UINT32_MAX      /* No record. */
#define REC_FREE 0xff           /* 'source' of a record on the free list. */

struct map_rec {
    struct ibb_host h;          /* The entry, as find_*() return it. */
    long long int last_seen;    /* When added or last seen, in ms. */
    uint32_t newer;             /* The next newer host, or REC_NIL. */
    uint32_t older;             /* The next older host, or on the free list
                                 * the next free record; or REC_NIL. */
    uint8_t source;             /* enum ibb_host_source, or REC_FREE. */
};
_Static_assert(sizeof(struct ibb_host) == 64, "struct ibb_host grew");
_Static_assert(sizeof(struct map_rec) == 88, "struct map_rec grew");

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
    struct ibb_group g;         /* The entry. */
    UT_hash_handle hh_ip;       /* In map->groups_by_ip. */
    UT_hash_handle hh_mgid;     /* In map->groups_by_mgid. */
};

struct ibb_addr_map {
    struct map_rec **chunks;    /* Host records, see above. */
    uint32_t n_chunks;          /* Chunks allocated. */
    uint32_t max_chunks;        /* Room in 'chunks'. */
    uint32_t n_recs;            /* Records handed out, live or free. */
    uint32_t free_recs;         /* Free list, linked by 'older'. */
    uint32_t newest;            /* The newest host, or REC_NIL. */
    size_t n_hosts;             /* Number of hosts. */
    size_t n_learned;           /* Learned (traffic, ARP) among them. */
    uint64_t seed;              /* Hash seed, per map. */
    struct map_index idx[N_KEYS]; /* Host indexes, by enum map_key. */
    struct map_group *groups_by_ip;   /* Hash on g.ip; owns the groups. */
    struct map_group *groups_by_mgid; /* Hash on g.mgid. */
};

/* ------------------------------------------------------------------ */
/* Records. */

/* Allocates 'size' bytes, zeroed if 'zero'.  Large tables get transparent
 * huge pages where the kernel has them: at a million hosts a lookup
 * otherwise misses the TLB on the index slot and again on the record. */
static void *
big_alloc(size_t size, bool zero)
{
#ifdef MADV_HUGEPAGE
    if (size >= HUGE_PAGE) {
        void *p;

        if (posix_memalign(&p, HUGE_PAGE, size)) {
            return NULL;
        }
        madvise(p, size, MADV_HUGEPAGE);
        return zero ? memset(p, 0, size) : p;
    }
#endif
    return zero ? calloc(1, size) : malloc(size);
}

/* Returns the chunk of record 'i' and stores its place there in
 * '*offset'. */
static inline uint32_t
rec_chunk(uint32_t i, uint32_t *offset)
{
    if (i < REC_GEO_RECS) {
        uint32_t j = i + REC_CHUNK0;
        int top = 31 - __builtin_clz(j);

        *offset = j - (1u << top);
        return top - REC_CHUNK0_BITS;
    }
    i -= REC_GEO_RECS;
    *offset = i % REC_BIG;
    return REC_GEO + i / REC_BIG;
}

static size_t
chunk_bytes(uint32_t k)
{
    return (k < REC_GEO
            ? sizeof(struct map_rec) * (REC_CHUNK0 << k)
            : HUGE_PAGE);
}

static inline struct map_rec *
rec_at(const struct ibb_addr_map *map, uint32_t i)
{
    uint32_t offset;
    uint32_t k = rec_chunk(i, &offset);

    return &map->chunks[k][offset];
}

/* Returns a free record's index, or REC_NIL if memory is short. */
static uint32_t
rec_alloc(struct ibb_addr_map *map)
{
    uint32_t i, k, offset;

    if (map->free_recs != REC_NIL) {
        i = map->free_recs;
        map->free_recs = rec_at(map, i)->older;
        return i;
    }
    if (map->n_recs >= REC_MAX) {
        return REC_NIL;
    }
    i = map->n_recs;
    k = rec_chunk(i, &offset);
    if (k == map->n_chunks) {
        if (k == map->max_chunks) {
            uint32_t max = map->max_chunks ? 2 * map->max_chunks : 16;
            struct map_rec **chunks = realloc(map->chunks,
                                              max * sizeof *chunks);

            if (!chunks) {
                return REC_NIL;
            }
            map->chunks = chunks;
            map->max_chunks = max;
        }
        map->chunks[k] = big_alloc(chunk_bytes(k), false);
        if (!map->chunks[k]) {
            return REC_NIL;
        }
        map->n_chunks++;
    }
    map->n_recs++;
    return i;
}

/* Frees every record and index: the map has no host left. */
static void
hosts_clear(struct ibb_addr_map *map)
{
    for (uint32_t k = 0; k < map->n_chunks; k++) {
        free(map->chunks[k]);
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

/* Whether record 'r' has key 'k' of kind 'key' (a uint16_t for KEY_LID). */
static inline bool
rec_has_key(const struct map_rec *r, enum map_key key, const void *k)
{
    const struct ibb_host *h = &r->h;

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

        if (s->hash == hash && rec_has_key(rec_at(map, s->ref - 1), key, k)) {
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
    const struct ibb_host *h = &rec_at(map, i)->h;
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
    struct ibb_host *h = &rec_at(map, i)->h;

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
    return ref ? &rec_at(map, ref - 1)->h : NULL;
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
    struct map_rec *r;
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

    r = rec_at(map, i);
    r->h = *host;
    r->last_seen = now;
    r->source = source;
    rec_index(map, i, true);

    r->newer = REC_NIL;
    r->older = map->newest;
    if (map->newest != REC_NIL) {
        rec_at(map, map->newest)->newer = i;
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
    struct map_rec *r = rec_at(map, i);

    rec_index(map, i, false);
    if (r->newer != REC_NIL) {
        rec_at(map, r->newer)->older = r->older;
    } else {
        map->newest = r->older;
    }
    if (r->older != REC_NIL) {
        rec_at(map, r->older)->newer = r->newer;
    }
    map->n_learned -= source_is_learned(r->source);
    r->source = REC_FREE;
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
          bool (*pred)(const struct map_rec *, const void *aux),
          const void *aux)
{
    size_t n = 0;

    /* Deleting the last host frees the records: 'n_recs' becomes 0. */
    for (uint32_t i = 0; i < map->n_recs; i++) {
        struct map_rec *r = rec_at(map, i);

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
        struct map_rec *r = rec_at(map, ref - 1);
        int error;

        if (r->h.has_gid) {
            return EPERM;
        } else if (!source_is_learned(r->source)) {
            return r->h.has_mac && !memcmp(r->h.mac, mac, 6) ? 0 : EEXIST;
        }
        /* A host's own ARP or ND is better than a guess from traffic,
         * and the newest one wins. */
        error = rec_set_mac(map, ref - 1, mac);
        if (!error) {
            r->source = IBB_HOST_ARP;
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
        struct map_rec *r = rec_at(map, ref - 1);

        if (r->h.has_gid) {
            return EPERM;
        } else if (r->source == IBB_HOST_LEARNED) {
            r->last_seen = now;
            return rec_set_mac(map, ref - 1, mac);
        } else if (!r->h.has_mac || memcmp(r->h.mac, mac, 6)) {
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
    } else if (rec_at(map, ref - 1)->source == IBB_HOST_FILE) {
        return EPERM;
    }
    host_remove(map, ref - 1);
    return 0;
}

static bool
is_flushed(const struct map_rec *r, const void *learned_only)
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
        const struct map_rec *r = rec_at(map, i);

        i = r->older;
        cb(&r->h, r->source, r->last_seen, aux);
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
        struct map_rec *r = rec_at(map, ref - 1);
        int error;

        if (r->h.has_gid) {
            return EPERM;
        } else if (r->source == IBB_HOST_FILE
                   || r->source == IBB_HOST_ADDED) {
            return r->h.has_mac && !memcmp(r->h.mac, mac, 6) ? 0 : EEXIST;
        }
        error = rec_set_mac(map, ref - 1, mac);
        if (error) {
            return error;
        }
        if (source_is_learned(r->source)) {
            r->source = IBB_HOST_KERNEL;
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
        struct map_rec *r = rec_at(map, by_ip - 1);

        if (!r->h.has_gid) {
            return EPERM;
        } else if (by_ip == by_gid && source_rank(r->source) > rank) {
            /* It agrees with a better source, which stays as it is. */
            return 0;
        } else if (by_ip == by_gid && r->source == source
                   && (!lid || r->h.lid == lid)
                   && (!qpn || r->h.qpn == qpn)) {
            r->last_seen = now;
            return 0;
        } else if (source_rank(r->source) > rank) {
            return EEXIST;
        }
    }
    if (by_gid && by_gid != by_ip
        && source_rank(rec_at(map, by_gid - 1)->source) > rank) {
        return EEXIST;
    }

    /* The host keeps what it had under its GID (its other family's
     * address, a LID or QPN not told here); the address moves to it. */
    memset(&host, 0, sizeof host);
    if (by_gid) {
        host = rec_at(map, by_gid - 1)->h;
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
    struct map_rec *r;

    if (!ref) {
        return false;
    }
    r = rec_at(map, ref - 1);
    if (source_is_learned(r->source)) {
        r->last_seen = now;
        if (!r->h.lid && lid && !ibb_addr_map_find_lid(map, lid)) {
            struct ibb_host host = r->h;
            enum ibb_host_source source = r->source;

            host.lid = lid;
            host_remove(map, ref - 1);
            ibb_addr_map_add_host_from(map, &host, source, now);
        }
    }
    return true;
}

static bool
is_from(const struct map_rec *r, const void *source)
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

    if (!ref || rec_at(map, ref - 1)->source != source) {
        return ENOENT;
    }
    return ibb_addr_map_del_ip(map, ip);
}

struct expiry {
    long long int now;          /* The time, ms. */
    long long int max_age;      /* Older learned hosts go, ms. */
};

static bool
is_expired(const struct map_rec *r, const void *e_)
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
        const struct map_rec *r = rec_at(src, i);
        int error;

        i = r->older;
        if (r->source == IBB_HOST_LEARNED) {
            error = ibb_addr_map_learn_mac(dst, (r->h.has_ipv4
                                                 ? r->h.ipv4 : r->h.ipv6),
                                           r->h.mac, r->last_seen,
                                           SIZE_MAX);
        } else if (r->source != IBB_HOST_FILE) {
            error = ibb_addr_map_add_host_from(dst, &r->h, r->source,
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
            /* A host may straddle two cache lines. */
            __builtin_prefetch(hosts[k]);
            __builtin_prefetch(&hosts[k]->has_mac);
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (hosts[k] && !host_has_ip(hosts[k], ips[k])) {
            /* Another key with the same hash: rare. */
            hosts[k] = ibb_addr_map_find_ip(map, ips[k]);
        }
    }
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
        bytes += chunk_bytes(k);
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
ibb_addr_map_n_groups(const struct ibb_addr_map *map)
{
    return map ? HASH_CNT(hh_ip, map->groups_by_ip) : 0;
}

void
ibb_addr_map_foreach_group(const struct ibb_addr_map *map,
                           void (*cb)(const struct ibb_group *, void *aux),
                           void *aux)
{
    const struct map_group *g;

    if (!map) {
        return;
    }
    for (g = map->groups_by_ip; g; g = g->hh_ip.next) {
        cb(&g->g, aux);
    }
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
        } else if (!strcmp(key, "qpn")) {
            error = json_uint(v, "hosts", idx, key, 1, 0xffffff, &n,
                              err, err_size);
            h.qpn = n;
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
    size_t len = 0;
    char *buf = NULL;
    json_t *root;
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
