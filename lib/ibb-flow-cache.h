/*
 * What the converters learned about recent flows, so that the next packet
 * of a flow skips the address map.
 *
 * Resolving a packet's addresses (its source's right to them, its
 * destination's IP or GID, MAC or LID, its group) takes two or three map
 * lookups, 5 to 10 ns: a sixth of converting a 64-byte packet.  Its result
 * depends only on a few header fields, on the map and on the port's GID
 * and P_Key, so it is kept here under those fields, like the exact match
 * cache of OVS's userspace datapath: one entry per hash value, the newest
 * flow taking it.  A result, a drop reason too, counts only as long as the
 * map has the version it was found in (lib/addr-map.h: a change to any
 * host or group gives a map a version no map had before) and the port's
 * GID and P_Key have not changed.
 *
 * Not thread-safe: one cache per port, used under the port's lock.
 */
#ifndef IBB_FLOW_CACHE_H
#define IBB_FLOW_CACHE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IBB_FLOW_CACHE_BITS 10  /* 1024 entries. */

/* The fields a result depends on: two addresses and a word of the rest,
 * as the converter that fills 'a', 'b' and 'c' chooses them (and sets
 * apart its own kind in 'c', so that the two directions never meet). */
struct ibb_flow_key {
    uint8_t a[16];
    uint8_t b[16];
    uint64_t c;
};

/* Room for what one converter keeps of a result. */
#define IBB_FLOW_VALUE_SIZE 48

struct ibb_flow_entry {
    uint64_t version;           /* The map version, or 0: empty. */
    struct ibb_flow_key key;
    uint64_t value[IBB_FLOW_VALUE_SIZE / 8];
} __attribute__((aligned(64)));

struct ibb_flow_cache {
    uint64_t hits;              /* Packets that found their flow. */
    uint64_t misses;            /* Packets that resolved and were kept. */
    uint8_t gid[16];            /* The port GID the entries hold for. */
    uint16_t pkey;              /* The P_Key the entries hold for. */
    struct ibb_flow_entry entries[1u << IBB_FLOW_CACHE_BITS];
};

/* Returns a new, empty cache, or NULL if memory is short. */
struct ibb_flow_cache *ibb_flow_cache_create(void);
void ibb_flow_cache_destroy(struct ibb_flow_cache *);

/* Forgets every entry. */
void ibb_flow_cache_flush(struct ibb_flow_cache *);

/* Entries stand for the port GID 'gid' and P_Key 'pkey': flushes the
 * cache if they stood for others.  (ibb_flow_cache_get() does.) */
static inline void
ibb_flow_cache_sync(struct ibb_flow_cache *fc, const uint8_t gid[16],
                    uint16_t pkey)
{
    if (memcmp(fc->gid, gid, 16) || fc->pkey != pkey) {
        ibb_flow_cache_flush(fc);
        memcpy(fc->gid, gid, 16);
        fc->pkey = pkey;
    }
}

/* A flow's key as five words, loaded once for both the hash and the
 * comparison. */
struct ibb_flow_words {
    uint64_t a0, a1, b0, b1, c;
};

static inline struct ibb_flow_words
ibb_flow_words(const uint8_t a[16], const uint8_t b[16], uint64_t c)
{
    struct ibb_flow_words w;

    memcpy(&w.a0, a, 8);
    memcpy(&w.a1, a + 8, 8);
    memcpy(&w.b0, b, 8);
    memcpy(&w.b1, b + 8, 8);
    w.c = c;
    return w;
}

/* The slot key 'w' belongs in. */
static inline struct ibb_flow_entry *
ibb_flow_cache_slot(struct ibb_flow_cache *fc, const struct ibb_flow_words *w)
{
    /* Independent multiplications, then their high bits: enough mixing
     * for a table that compares whole keys. */
    uint64_t h = ((w->a0 * UINT64_C(0x9e3779b97f4a7c15))
                  ^ (w->a1 * UINT64_C(0xc2b2ae3d27d4eb4f))
                  ^ (w->b0 * UINT64_C(0x165667b19e3779f9))
                  ^ (w->b1 * UINT64_C(0xd6e8feb86659fd93))
                  ^ (w->c * UINT64_C(0xff51afd7ed558ccd)));

    return &fc->entries[(h ^ (h >> 32)) >> (32 - IBB_FLOW_CACHE_BITS)
                        & ((1u << IBB_FLOW_CACHE_BITS) - 1)];
}

/* Whether slot 'e' holds key 'w' for map version 'version'.  Word by word
 * from the registers the hash used: the hit path is most of what the
 * cache costs, and a memcmp() of a key built on the stack would load it
 * all again. */
static inline bool
ibb_flow_entry_holds(const struct ibb_flow_entry *e,
                     const struct ibb_flow_words *w, uint64_t version)
{
    struct ibb_flow_words k = ibb_flow_words(e->key.a, e->key.b, e->key.c);

    return (e->version == version
            && !((k.a0 ^ w->a0) | (k.a1 ^ w->a1) | (k.b0 ^ w->b0)
                 | (k.b1 ^ w->b1) | (k.c ^ w->c)));
}

/* Looks up the flow with key 'a', 'b', 'c' in map version 'version' for a
 * port with GID 'gid' and P_Key 'pkey'.  On a hit copies the value kept
 * for it to 'value' ('size' bytes) and returns true.  Either way '*slotp'
 * gets the slot for ibb_flow_cache_put(). */
static inline bool
ibb_flow_cache_get(struct ibb_flow_cache *fc, const uint8_t a[16],
                   const uint8_t b[16], uint64_t c, uint64_t version,
                   const uint8_t gid[16], uint16_t pkey, void *value,
                   size_t size, struct ibb_flow_entry **slotp)
{
    struct ibb_flow_words w = ibb_flow_words(a, b, c);
    struct ibb_flow_entry *e;

    ibb_flow_cache_sync(fc, gid, pkey);
    e = *slotp = ibb_flow_cache_slot(fc, &w);
    if (ibb_flow_entry_holds(e, &w, version)) {
        fc->hits++;
        memcpy(value, e->value, size);
        return true;
    }
    return false;
}

/* Keeps key 'a', 'b', 'c' -> the 'size' bytes at 'value' in 'slot' (from
 * ibb_flow_cache_get()), for map version 'version'. */
static inline void
ibb_flow_cache_put(struct ibb_flow_cache *fc, struct ibb_flow_entry *slot,
                   const uint8_t a[16], const uint8_t b[16], uint64_t c,
                   uint64_t version, const void *value, size_t size)
{
    fc->misses++;
    slot->version = version;
    memcpy(slot->key.a, a, 16);
    memcpy(slot->key.b, b, 16);
    slot->key.c = c;
    memcpy(slot->value, value, size);
}

#endif /* ibb-flow-cache.h */
