/*
 * Kernel neighbour tables through libnl-3.  See ibb-kneigh.h.
 */
#include <config.h>

#include "ibb-kneigh.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/neighbour.h>

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/neighbour.h>

#include "ib-gid.h"

#define MAX_IFNAMES 16

struct ibb_kneigh {
    struct nl_cache_mngr *mngr;     /* Follows changes on its own socket. */
    struct nl_cache *cache;         /* route/neigh, kept up to date. */
    char ifnames[MAX_IFNAMES][IF_NAMESIZE];
    size_t n_ifnames;
    bool dumped;                    /* Every entry reported once. */

    /* During ibb_kneigh_run(). */
    ibb_kneigh_cb *cb;
    void *aux;
};

static bool
watched(const struct ibb_kneigh *k, int ifindex)
{
    char name[IF_NAMESIZE];

    if (!if_indextoname(ifindex, name)) {
        return false;
    }
    for (size_t i = 0; i < k->n_ifnames; i++) {
        if (!strcmp(name, k->ifnames[i])) {
            return true;
        }
    }
    return false;
}

/* Reports 'obj', a route/neigh object, as present or gone. */
static void
report(struct ibb_kneigh *k, struct nl_object *obj, bool present)
{
    struct rtnl_neigh *n = (struct rtnl_neigh *) obj;
    struct nl_addr *dst = rtnl_neigh_get_dst(n);
    struct nl_addr *ll = rtnl_neigh_get_lladdr(n);
    int state = rtnl_neigh_get_state(n);
    uint8_t ip[16];

    /* A deleted interface's index no longer has a name: take its
     * entries' deletions whatever the interface. */
    if (!dst || (present && !watched(k, rtnl_neigh_get_ifindex(n)))) {
        return;
    }
    if (nl_addr_get_family(dst) == AF_INET
        && nl_addr_get_len(dst) == 4) {
        ibb_gid_from_ipv4(ip, nl_addr_get_binary_addr(dst));
    } else if (nl_addr_get_family(dst) == AF_INET6
               && nl_addr_get_len(dst) == 16) {
        memcpy(ip, nl_addr_get_binary_addr(dst), 16);
    } else {
        return;
    }
    if (!ll || !nl_addr_get_len(ll)
        || state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)) {
        present = false;
    }
    k->cb(ip, ll ? nl_addr_get_binary_addr(ll) : NULL,
          ll ? nl_addr_get_len(ll) : 0, present, k->aux);
}

static void
change_cb(struct nl_cache *cache, struct nl_object *obj, int action,
          void *k_)
{
    struct ibb_kneigh *k = k_;

    (void) cache;
    if (k->cb) {
        report(k, obj, action != NL_ACT_DEL);
    }
}

static void
dump_cb(struct nl_object *obj, void *k)
{
    report(k, obj, true);
}

int
ibb_kneigh_open(const char *ifnames, struct ibb_kneigh **kp, char **errp)
{
    struct ibb_kneigh *k = calloc(1, sizeof *k);
    char *copy, *save = NULL;
    int err;

    *kp = NULL;
    *errp = NULL;
    if (!k) {
        return ENOMEM;
    }
    copy = strdup(ifnames);
    for (char *name = strtok_r(copy, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        if (k->n_ifnames >= MAX_IFNAMES || strlen(name) >= IF_NAMESIZE) {
            if (asprintf(errp, "expected at most %d interface names of at "
                         "most %d characters, comma-separated",
                         MAX_IFNAMES, IF_NAMESIZE - 1) < 0) {
                *errp = NULL;
            }
            free(copy);
            free(k);
            return EINVAL;
        }
        strcpy(k->ifnames[k->n_ifnames++], name);
    }
    free(copy);
    if (!k->n_ifnames) {
        *errp = strdup("expected interface names, comma-separated");
        free(k);
        return EINVAL;
    }

    err = nl_cache_mngr_alloc(NULL, NETLINK_ROUTE, NL_AUTO_PROVIDE,
                              &k->mngr);
    if (!err) {
        err = nl_cache_mngr_add(k->mngr, "route/neigh", change_cb, k,
                                &k->cache);
    }
    if (err) {
        if (asprintf(errp, "cannot follow the kernel's neighbour tables: "
                     "%s", nl_geterror(err)) < 0) {
            *errp = NULL;
        }
        ibb_kneigh_close(k);
        return EIO;
    }
    *kp = k;
    return 0;
}

void
ibb_kneigh_close(struct ibb_kneigh *k)
{
    if (k) {
        if (k->mngr) {
            nl_cache_mngr_free(k->mngr);
        }
        free(k);
    }
}

int
ibb_kneigh_fd(const struct ibb_kneigh *k)
{
    return nl_cache_mngr_get_fd(k->mngr);
}

void
ibb_kneigh_run(struct ibb_kneigh *k, ibb_kneigh_cb *cb, void *aux)
{
    k->cb = cb;
    k->aux = aux;
    if (!k->dumped) {
        k->dumped = true;
        nl_cache_foreach(k->cache, dump_cb, k);
    }
    /* Changes since: the manager's socket is non-blocking. */
    nl_cache_mngr_data_ready(k->mngr);
    k->cb = NULL;
    k->aux = NULL;
}
