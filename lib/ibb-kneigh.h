/*
 * Kernel neighbour tables as a source of addresses: the bridge follows the
 * Linux neighbour entries (ARP and ND caches, and static "ip neigh"
 * entries) of the interfaces it is told, through libnl-3's route/neigh
 * cache and its change notifications, in the network namespace of the
 * calling process.
 *
 * An Ethernet neighbour (6-byte link-layer address) gives a RoCE host's
 * IP -> MAC.  Entries in state INCOMPLETE, FAILED or NOARP, and those with
 * no link-layer address, are reported as gone.  IPoIB neighbours (20-byte
 * hardware address: QPN and GID) are reported with their address as is.
 */
#ifndef IBB_KNEIGH_H
#define IBB_KNEIGH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibb_kneigh;

/* Called for each neighbour entry that appears, changes ('present' true,
 * with its link-layer address of 'lladdr_len' bytes) or goes ('present'
 * false) on one of the watched interfaces; 'ip' in lib/ib-gid.h form. */
typedef void ibb_kneigh_cb(const uint8_t ip[16], const uint8_t *lladdr,
                           size_t lladdr_len, bool present, void *aux);

/* Starts watching the neighbour tables of the interfaces named in
 * 'ifnames' (comma-separated; an interface may appear later).  Returns 0
 * or a positive errno with a message in '*errp' (to free). */
int ibb_kneigh_open(const char *ifnames, struct ibb_kneigh **, char **errp);
void ibb_kneigh_close(struct ibb_kneigh *);

/* The fd that becomes readable when the kernel reports changes. */
int ibb_kneigh_fd(const struct ibb_kneigh *);

/* Reports, through 'cb', every entry on the first call and the changes
 * since on later ones.  Never blocks. */
void ibb_kneigh_run(struct ibb_kneigh *, ibb_kneigh_cb *cb, void *aux);

#endif /* ibb-kneigh.h */
