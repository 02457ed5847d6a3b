/*
 * Which bridge node forwards what, when several bridges share one IB fabric
 * and one Ethernet segment: every multicast group and every unicast host
 * (a "key": the bytes of its IP address or MGID) belongs to exactly one of
 * the live nodes, chosen by rendezvous (highest random weight) hashing:
 *
 *     weight(node, key) = mix64(fnv1a64(key) ^ fnv1a64(node name))
 *     owner(key)        = the live node with the highest weight
 *                         (ties, which need a 64-bit collision, go to
 *                         the smaller name)
 *
 * Every node computes it from the same list of live nodes, so no
 * assignment is stored.  Rebalancing rule: when a node leaves, only its
 * keys move, each to the survivor that ranks next for it; when a node
 * joins, it takes from every other node the keys it now ranks first for,
 * about 1/N of each.  No other key moves.
 *
 * Also here: the members view and its agreement.  A node publishes the
 * names it takes as live; it takes over a key it did not own only once
 * every live node publishes the same view, so that two nodes never both
 * forward one key (it gives keys up at once).
 *
 * No I/O, no OVS: vswitchd-plugin/ibbridge-cluster.c feeds it.
 */
#ifndef IBB_SHARES_H
#define IBB_SHARES_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibb_shares;

struct ibb_shares *ibb_shares_create(void);
void ibb_shares_destroy(struct ibb_shares *);

/* Sets the live nodes (copied; order and repeats do not matter) and which
 * of them is this node ('self', which may be absent: then nothing is
 * ours).  Returns true if the set changed. */
bool ibb_shares_set_nodes(struct ibb_shares *, const char *const *names,
                          size_t n, const char *self);

/* The live nodes, sorted by name. */
size_t ibb_shares_n_nodes(const struct ibb_shares *);
const char *ibb_shares_node(const struct ibb_shares *, size_t i);

/* The live node that owns 'key', as an index for ibb_shares_node(), or -1
 * if there is none. */
int ibb_shares_owner(const struct ibb_shares *, const void *key, size_t len);

/* Is 'key' this node's? */
bool ibb_shares_is_mine(const struct ibb_shares *, const void *key,
                        size_t len);

/* One node's weight for 'key' (the rule above; for tools and tests). */
uint64_t ibb_shares_weight(const char *node, const void *key, size_t len);

/* Does a published view (names, any order) equal the live set? */
bool ibb_shares_same_view(const struct ibb_shares *,
                          const char *const *names, size_t n);

#endif /* ibb-shares.h */
