/*
 * Address map: what the bridge knows about the hosts and groups on both
 * sides, looked up by GID, IP address, LID or group.
 *
 * Host entries are generic: a host has any of a GID, a LID, an IPv4 address,
 * an IPv6 address and a MAC address.  An IB host normally has a native GID
 * (subnet prefix + GUID), a LID and its IPoIB address(es); a RoCEv2 host has
 * IP address(es) and a MAC.  A LID on a RoCEv2 host is an alias LID of the
 * bridge that stands for it, used for IB packets without a GRH.  Converters
 * use the map as follows:
 *
 *   IB -> RoCEv2: native GID -> host -> IPv4/IPv6; IP -> host -> MAC;
 *                 MGID -> group -> IP (an IPv4 group's IPoIB or rdma_cm
 *                 MGID converts without an entry, lib/ib-mcast.h);
 *                 no-GRH packets: SLID/DLID -> host -> IP (and MAC).
 *   RoCEv2 -> IB: destination IP -> host -> GID and LID.
 *
 * Group entries give, for an IP multicast group, the MLID and the MGID
 * (computed in the group's format, see lib/ib-mcast.h, or given
 * explicitly); they are found by IP group or by MGID.
 *
 * All addresses use the 16-byte form of lib/ib-gid.h (IPv4 as
 * ::ffff:a.b.c.d).
 *
 * Design, for a million hosts.  Each host is a record in two parts: its
 * struct ibb_host (64 bytes, 56 of them keys), alone in a cache line, and
 * 24 bytes apart for its source, its age and the links of the
 * newest-first list.  Records sit in chunks that never move (doubling up
 * to 8192 records, then 2 MB ones, on huge pages where the kernel gives
 * them), so a host found stays where it is until deleted; deleted records
 * go on a free list.  Four open addressing tables, by GID, IP (IPv4 and
 * IPv6 together), LID and MAC, map keys to records through 8-byte slots:
 * the key's 32-bit hash, so that a probe rarely reads a record that is not
 * the one, and the record's number.  Tables probe linearly in Robin Hood
 * order (a miss stops early), are at most 3/4 full, double and halve, and
 * close the gap a deletion leaves (backward shift, no tombstones); the
 * hash is seeded per map.  Memory: 88 bytes per host plus 8 / load bytes
 * per key (load 3/8 to 3/4); tests/bench-map ("make bench") measures 125
 * bytes per host at 1M hosts and 148 at 100k (69 and 92 beyond the 56 key
 * bytes).
 *
 * A lookup costs a hash and, in a large map, two cache misses (slot,
 * host), which ibb_addr_map_find_ip_batch() overlaps across a batch.
 * bench-map on a 2-core KVM guest (AMD EPYC, medians of 7 runs) gives for
 * find_ip 17, 70 and 102 ns at 1k, 100k and 1M hosts, and in batches of
 * 32, 16, 25 and 39 ns.  At 1M both misses go to DRAM: the bare access
 * pattern (two dependent random lines per key, 32 keys in flight, no
 * other work) takes 25 ns a key there against 3.5 in cache, and the
 * lookup's own work overlaps the waits only in part.  Hence 2.4x from 1k
 * to 1M in batches and 6x one by one, not the 1.5x once hoped for.
 * Groups, few, are in uthash tables.
 *
 * JSON file format (loaded with jansson; unknown keys are errors):
 *
 *   {
 *     "hosts": [
 *       { "gid": "fe80::2:c903:a:b",    IB GID (IPv6 syntax)
 *         "lid": 5,                     LID, 1..0xBFFF
 *         "qpn": 1234,                  IPoIB QPN, 1..0xFFFFFF
 *         "ipv4": "10.0.0.1",           IPv4 address
 *         "ipv6": "fd00::1",            IPv6 address
 *         "mac": "02:00:00:00:00:02" }  Ethernet MAC
 *     ],                                each host needs "gid", "ipv4" or
 *                                       "ipv6"; each key at most once in
 *                                       the whole map
 *     "groups": [
 *       { "ip": "239.1.1.1",            IPv4 or IPv6 multicast group
 *         "mlid": 49153,                MLID, 0xC000..0xFFFE
 *         "format": "ipoib",            "ipoib" (default), "rdma_cm",
 *                                       "roce": MGID format
 *         "pkey": 65535,                P_Key for ipoib/rdma_cm MGIDs,
 *                                       default 0xFFFF
 *         "scope": 2,                   MGID scope nibble, default 2
 *         "mgid": "ff12:a01b::1" }      optional: MGID to use as is
 *     ]                                 (e.g. an SA-assigned one)
 *   }
 *
 * Both top-level keys are optional.
 *
 * Limits: a map file may have at most IBB_ADDR_MAP_MAX_BYTES bytes (4 MiB)
 * and a map document at most IBB_ADDR_MAP_MAX_ENTRIES (20000) hosts and
 * groups together.  ovs-vswitchd loads the map in its main loop, where a
 * map ten times larger takes seconds; the loaders refuse larger ones with
 * EFBIG and a message rather than stall it.  The file must be a regular
 * file (a directory is refused with EISDIR, a FIFO or device with EINVAL).
 */
#ifndef ADDR_MAP_H
#define ADDR_MAP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ib-mcast.h"

struct ibb_host {
    uint8_t gid[16];            /* IB GID, normally native. */
    uint8_t ipv4[16];           /* IPv4 address, as ::ffff:a.b.c.d. */
    uint8_t ipv6[16];           /* IPv6 address, never IPv4-mapped. */
    uint8_t mac[6];             /* Ethernet MAC. */
    uint16_t lid;               /* LID, 0 if none. */
    uint32_t qpn;               /* QPN, 0 if unknown: an IB host's IPoIB
                                 * QPN, or the bridge's proxy QPN that
                                 * stands for a RoCE host. */
    bool has_gid;               /* 'gid' is valid: an IB host. */
    bool has_ipv4;              /* 'ipv4' is valid. */
    bool has_ipv6;              /* 'ipv6' is valid. */
    bool has_mac;               /* 'mac' is valid. */
};

/* Which side a host is on: a host with a GID is on the IB side, any other
 * on the RoCEv2 side. */
static inline bool
ibb_host_is_ib(const struct ibb_host *host)
{
    return host->has_gid;
}

/* Where a host entry came from.  They rank file, added, kernel, arp,
 * learned: one never changes a higher one's entry. */
enum ibb_host_source {
    IBB_HOST_FILE,              /* The map file (JSON): never changed by
                                 * the others. */
    IBB_HOST_LEARNED,           /* Learned from traffic; ages out. */
    IBB_HOST_ADDED,             /* Added by the operator at run time. */
    IBB_HOST_KERNEL,            /* A kernel neighbour entry
                                 * (lib/ibb-kneigh.h); goes with it. */
    IBB_HOST_ARP,               /* Learned from an ARP, ND or IPoIB ARP
                                 * message the bridge saw; ages out like
                                 * learned ones, and counts as learned. */
};

const char *ibb_host_source_name(enum ibb_host_source);

struct ibb_group {
    uint8_t ip[16];             /* IP multicast group. */
    uint16_t mlid;              /* Multicast LID. */
    enum ibb_mgid_format format; /* How 'mgid' was derived from 'ip'. */
    uint16_t pkey;              /* P_Key used in 'mgid'. */
    uint8_t scope;              /* Scope nibble used in 'mgid'. */
    bool explicit_mgid;         /* 'mgid' given, not derived. */
    bool standby;               /* Another bridge node forwards it: the
                                 * converters drop its datagrams. */
    uint8_t mgid[16];           /* The group's MGID. */
};

/* Makes '*host' a RoCE host with address 'ip' (lib/ib-gid.h form, IPv4 or
 * IPv6) and MAC 'mac'. */
void ibb_host_init_ip_mac(struct ibb_host *host, const uint8_t ip[16],
                          const uint8_t mac[6]);

/* The largest map file, in bytes, and the most hosts and groups (together)
 * one map document may list.  See the limits above. */
#define IBB_ADDR_MAP_MAX_BYTES (4 * 1024 * 1024)
#define IBB_ADDR_MAP_MAX_ENTRIES 20000

struct ibb_addr_map;

struct ibb_addr_map *ibb_addr_map_create(void);
void ibb_addr_map_destroy(struct ibb_addr_map *);

/* Adds a copy of 'host', as from the map file.  Returns 0, EINVAL if it has
 * no GID or IP (or an 'ipv4' not IPv4-mapped, an 'ipv6' IPv4-mapped, a
 * 'qpn' over 24 bits), EEXIST if its GID, LID, IPv4 or IPv6 address is
 * already in the map, or ENOMEM.  Its MAC may be another host's too (a
 * RoCE host's IPv4 and IPv6 addresses may be learned as two hosts). */
int ibb_addr_map_add_host(struct ibb_addr_map *, const struct ibb_host *);

/* The same, with its source and the time (ms) it was added. */
int ibb_addr_map_add_host_from(struct ibb_addr_map *,
                               const struct ibb_host *,
                               enum ibb_host_source, long long int now);

/* Deletes the learned (traffic, ARP) or added host with address 'ip' (a
 * kernel one too, until the kernel reports it again).  Returns 0, ENOENT
 * if no host has it, or EPERM if the map file's does (edit the file). */
int ibb_addr_map_del_ip(struct ibb_addr_map *, const uint8_t ip[16]);

/* Deletes the learned hosts (traffic, ARP) and, unless 'learned_only', the
 * added ones; returns how many. */
size_t ibb_addr_map_flush(struct ibb_addr_map *, bool learned_only);

/* Calls 'cb' for each host, newest first, with its source and when it was
 * added or (learned) last seen. */
void ibb_addr_map_foreach_host(const struct ibb_addr_map *,
                               void (*cb)(const struct ibb_host *,
                                          enum ibb_host_source,
                                          long long int last_seen,
                                          void *aux),
                               void *aux);

/* Adds a group; computes group->mgid from ip/format/pkey/scope unless
 * 'explicit_mgid'.  Returns 0, EINVAL if 'ip' is not multicast or the MLID
 * not multicast, or EEXIST if the IP or MGID is already in the map.  MLID
 * 0 means "not known yet" (a join under way): RoCE -> IB datagrams to the
 * group are dropped until ibb_addr_map_set_group_mlid(). */
int ibb_addr_map_add_group(struct ibb_addr_map *, const struct ibb_group *);

const struct ibb_host *ibb_addr_map_find_gid(const struct ibb_addr_map *,
                                             const uint8_t gid[16]);
const struct ibb_host *ibb_addr_map_find_ip(const struct ibb_addr_map *,
                                            const uint8_t ip[16]);
const struct ibb_host *ibb_addr_map_find_lid(const struct ibb_addr_map *,
                                             uint16_t lid);
/* One of the hosts with MAC 'mac' (see ibb_addr_map_add_host()). */
const struct ibb_host *ibb_addr_map_find_mac(const struct ibb_addr_map *,
                                             const uint8_t mac[6]);

/* Finds the hosts with addresses 'ips[0]' to 'ips[n - 1]' into 'hosts',
 * as ibb_addr_map_find_ip() would, with the memory loads of
 * IBB_ADDR_MAP_BATCH lookups overlapping (as many as OVS hands a netdev at
 * once): faster than one by one in a large map. */
#define IBB_ADDR_MAP_BATCH 32
void ibb_addr_map_find_ip_batch(const struct ibb_addr_map *,
                                const uint8_t *const ips[], size_t n,
                                const struct ibb_host *hosts[]);
const struct ibb_group *ibb_addr_map_find_group_ip(
    const struct ibb_addr_map *, const uint8_t ip[16]);
const struct ibb_group *ibb_addr_map_find_group_mgid(
    const struct ibb_addr_map *, const uint8_t mgid[16]);

/* Packets and bytes that crossed the bridge to a group, per direction
 * (rx: IB to Ethernet, tx: Ethernet to IB), as the port counts them. */
struct ibb_group_stats {
    uint64_t rx_packets;
    uint64_t rx_bytes;
    uint64_t tx_packets;
    uint64_t tx_bytes;
};

/* The counters of 'group', an entry of 'map' (as the lookups and the
 * converters' ibb_buf 'group' give them): O(1), for the packet path. */
struct ibb_group_stats *ibb_addr_map_group_stats(struct ibb_addr_map *,
                                                 const struct ibb_group *);

/* Gives each group of 'dst' the counters its MGID has in 'src' (a map
 * reloaded keeps them). */
void ibb_addr_map_copy_group_stats(struct ibb_addr_map *dst,
                                   const struct ibb_addr_map *src);

/* Calls 'cb' for each group, in no particular order. */
void ibb_addr_map_foreach_group(const struct ibb_addr_map *,
                                void (*cb)(const struct ibb_group *,
                                           const struct ibb_group_stats *,
                                           void *aux),
                                void *aux);

/* Deletes the group with 'mgid' (with its counters).  Returns 0 or
 * ENOENT. */
int ibb_addr_map_del_group(struct ibb_addr_map *, const uint8_t mgid[16]);

/* Sets the MLID of the group with 'mgid' (known once a join completes).
 * Returns 0 or ENOENT. */
int ibb_addr_map_set_group_mlid(struct ibb_addr_map *, const uint8_t mgid[16],
                                uint16_t mlid);

/* Marks the group with 'mgid' as another bridge node's to forward
 * ('standby') or this one's (lib/ibb-shares.h).  Returns 0 or ENOENT. */
int ibb_addr_map_set_group_standby(struct ibb_addr_map *,
                                   const uint8_t mgid[16], bool standby);

/* Learning: RoCE hosts' MACs from the traffic the bridge accepts.  Sources
 * rank file, added, kernel, arp, learned: one never changes a higher one's
 * entry (traffic that agrees with an ARP entry refreshes it).
 *
 * Learns that IP address 'ip' (a RoCE host's: the caller has checked the
 * source rules) has MAC 'mac', seen at 'now' (ms): adds a learned host or
 * refreshes one.  Returns 0; EPERM if the map gives 'ip' to an IB host
 * (never learned); EEXIST if a host from a higher source has 'ip' with no
 * or another MAC (it is never changed by learning); ENOSPC if
 * 'max_learned' hosts are learned already; ENOMEM. */
int ibb_addr_map_learn_mac(struct ibb_addr_map *, const uint8_t ip[16],
                           const uint8_t mac[6], long long int now,
                           size_t max_learned);

/* The same from an ARP or ND message RoCE host 'ip' sent (its own
 * sender address): adds an ARP host, or refreshes or updates a learned or
 * ARP one (the host's own word is better than a guess from traffic).
 * Returns as ibb_addr_map_learn_mac(). */
int ibb_addr_map_learn_arp(struct ibb_addr_map *, const uint8_t ip[16],
                           const uint8_t mac[6], long long int now,
                           size_t max_learned);

/* Sets RoCE host 'ip' -> 'mac' from a kernel neighbour entry: adds it,
 * updates it, or takes over a learned or ARP entry (the kernel's word is
 * better than a guess from traffic).  Returns 0, or as
 * ibb_addr_map_learn_mac() EPERM (an IB host's address) or EEXIST (the
 * file or the operator gave it another MAC), or ENOMEM. */
int ibb_addr_map_set_kernel_mac(struct ibb_addr_map *, const uint8_t ip[16],
                                const uint8_t mac[6], long long int now);

/* Learning IB hosts: IPv4 or IPv6 address 'ip' belongs to the IB host
 * with native GID 'gid', LID 'lid' and (IPoIB) QPN 'qpn' (0 where not
 * known), as an IPoIB ARP message the bridge saw says ('source'
 * IBB_HOST_ARP, ages out; at most 'max_learned' learned hosts) or an IPoIB
 * kernel neighbour ('source' IBB_HOST_KERNEL).  Adds the host, refreshes
 * it, adds the address to what the same source said of 'gid' (its other
 * family's), or replaces what a lower source said of 'ip' or 'gid' (a
 * host that moved); a LID another host has is left out.  Returns 0; EPERM if the map
 * gives 'ip' to a RoCE host; EEXIST if a higher source has 'ip' or 'gid'
 * otherwise; ENOSPC; EINVAL for a zero or multicast GID; ENOMEM. */
int ibb_addr_map_learn_ib(struct ibb_addr_map *, const uint8_t ip[16],
                          const uint8_t gid[16], uint16_t lid, uint32_t qpn,
                          enum ibb_host_source, long long int now,
                          size_t max_learned);

/* Traffic from IB host 'gid' with source LID 'lid': a learned host (ARP)
 * is seen again at 'now'; it, or a kernel one, gets 'lid' if it had no
 * LID.  Returns true if the map has a host with 'gid'. */
bool ibb_addr_map_touch_ib(struct ibb_addr_map *, const uint8_t gid[16],
                           uint16_t lid, long long int now);

/* Deletes the host with address 'ip' if it came from 'source'.  Returns 0
 * or ENOENT. */
int ibb_addr_map_del_ip_from(struct ibb_addr_map *, const uint8_t ip[16],
                             enum ibb_host_source);

/* Forgets learned hosts (traffic, ARP) not seen for 'max_age' ms before
 * 'now'; returns how many. */
size_t ibb_addr_map_expire_learned(struct ibb_addr_map *, long long int now,
                                   long long int max_age);

/* Copies into 'dst' the hosts 'src' has from run time, not from its file:
 * learned (as seen then), added, or from the kernel, where 'dst' allows
 * it: for a reloaded map file.  Returns how many hosts were kept. */
size_t ibb_addr_map_copy_runtime(struct ibb_addr_map *dst,
                                 const struct ibb_addr_map *src);

/* Deletes every host from 'source' (not IBB_HOST_FILE); returns how many. */
size_t ibb_addr_map_flush_source(struct ibb_addr_map *,
                                 enum ibb_host_source);

/* Number of learned hosts, from traffic or ARP (counted in
 * ibb_addr_map_n_hosts() too); 0 for a null map (a port whose
 * reconfiguration failed has none). */
size_t ibb_addr_map_n_learned(const struct ibb_addr_map *);

size_t ibb_addr_map_n_hosts(const struct ibb_addr_map *);

/* A number that changes whenever a host is added, removed or changed
 * (not when it is only seen again), for whoever keeps a copy in step. */
uint64_t ibb_addr_map_generation(const struct ibb_addr_map *);

/* A number that changes whenever anything a lookup can find changes: a
 * host (not only seen again) or a group (added, removed, its MLID or
 * standby).  Never 0, and never the same for two maps or two states of
 * one map: what a cache found in one version holds while the map has it
 * (lib/ibb-flow-cache.h). */
uint64_t ibb_addr_map_version(const struct ibb_addr_map *);
size_t ibb_addr_map_n_groups(const struct ibb_addr_map *);

/* Bytes the map has allocated for itself, its hosts and their indexes
 * (groups count as their entries only: there are few); 0 for a null
 * map. */
size_t ibb_addr_map_bytes(const struct ibb_addr_map *);

/* Loads JSON (format above) from file 'file_name' or string 'json' into
 * the map, adding to what it holds.  Returns 0 or a positive errno (EINVAL
 * for bad JSON or values or a file that is not a regular file, EISDIR for a
 * directory, EFBIG for a map over the limits above, EEXIST for duplicates,
 * or the error opening or reading the file); on error writes a message
 * into 'err' (if 'err_size' > 0) and the map holds the entries added before
 * the bad one (none if the map is over the limits). */
int ibb_addr_map_load_json_file(struct ibb_addr_map *, const char *file_name,
                                char *err, size_t err_size);
int ibb_addr_map_load_json_str(struct ibb_addr_map *, const char *json,
                               char *err, size_t err_size);

#endif /* addr-map.h */
