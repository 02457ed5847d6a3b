/*
 * ibsim-rdmacm: the librdmacm part of the HCA model (ibsim-verbs.c): event
 * channels, ids, binding to the port's GID and multicast joins, whose SA
 * exchange the background thread (ibsim-verbs-wire.c) does.
 */
#include <config.h>
#include "ibsim-verbs-private.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <infiniband/ib.h>
#include <limits.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ib-gid.h"
#include "ib-hdr.h"
#include "ibport.h"

/* ------------------------------------------------------------------ */
/* librdmacm: event channels, ids, bind, multicast. */

/* An event channel: a pipe of struct cm_event pointers. */
struct cm_channel {
    struct rdma_event_channel ch;   /* ch.fd is the read end. */
    int wfd;                        /* Write end. */
};

/* State of a multicast membership made through an id. */
enum cm_mc_state {
    CM_MC_JOINING,              /* Waiting for the SA (background thread). */
    CM_MC_JOINED,               /* Counted in an hca_group. */
    CM_MC_FAILED,               /* Refused, or reset by a port loss. */
};

/* A multicast membership made through an id. */
struct cm_mc {
    struct cm_mc *next;         /* In the id's list, oldest first. */
    uint8_t mgid[16];           /* Group. */
    bool full;                  /* Full member (else send-only). */
    enum cm_mc_state state;     /* Where the join stands. */
    uint64_t seq;               /* Order of the join requests. */
    long long due;              /* JOINING: when the SA answers (ms). */
    void *context;              /* The join's context, for its events. */
};

/* An rdma_cm id (UD port spaces only). */
struct cm_id {
    struct rdma_cm_id id;       /* What the application sees. */
    struct cm_id *next;         /* In 'hca.cm_ids'. */
    struct cm_mc *mcs;          /* Memberships. */
    bool bound;                 /* Holds a 'hca.cm_ctx' reference. */
};

/* An event as queued: what the application sees, then the membership it
 * is about, so that rdma_leave_multicast() can drop the unread ones (as
 * the kernel's ucma does). */
struct cm_event {
    struct rdma_cm_event ev;    /* What the application sees; first, so
                                 * rdma_ack_cm_event() frees the whole. */
    const struct cm_mc *mc;     /* Membership, or NULL. */
};

struct rdma_event_channel *
rdma_create_event_channel(void)
{
    struct cm_channel *ch = calloc(1, sizeof *ch);
    int fds[2];
    int err;

    if (!ch) {
        errno = ENOMEM;
        return NULL;
    }
    err = hca_make_pipe(fds);
    if (err) {
        free(ch);
        errno = err;
        return NULL;
    }
    ch->ch.fd = fds[0];
    ch->wfd = fds[1];
    return &ch->ch;
}

void
rdma_destroy_event_channel(struct rdma_event_channel *channel)
{
    struct cm_channel *ch = (struct cm_channel *) channel;
    struct rdma_cm_event *ev;

    /* Events never read are freed with the channel. */
    fcntl(ch->ch.fd, F_SETFL, O_NONBLOCK);
    while (read(ch->ch.fd, &ev, sizeof ev) == sizeof ev) {
        free(ev);
    }
    close(ch->ch.fd);
    close(ch->wfd);
    free(ch);
}

int
rdma_create_id(struct rdma_event_channel *channel, struct rdma_cm_id **idp,
               void *context, enum rdma_port_space ps)
{
    struct cm_id *id;

    if (!channel) {
        /* Synchronous ids are not modelled. */
        errno = EOPNOTSUPP;
        return -1;
    }
    id = calloc(1, sizeof *id);
    if (!id) {
        errno = ENOMEM;
        return -1;
    }
    id->id.channel = channel;
    id->id.context = context;
    id->id.ps = ps;
    id->id.qp_type = IBV_QPT_UD;
    pthread_mutex_lock(&hca.mutex);
    id->next = hca.cm_ids;
    hca.cm_ids = id;
    pthread_mutex_unlock(&hca.mutex);
    *idp = &id->id;
    return 0;
}

static struct hca_group *
find_group(const uint8_t mgid[16])
{
    for (struct hca_group *g = hca.groups; g; g = g->next) {
        if (!memcmp(g->mgid, mgid, 16)) {
            return g;
        }
    }
    return NULL;
}

/* Removes 'g' from 'hca.groups' and frees it. */
static void
group_free(struct hca_group *g)
{
    for (struct hca_group **pp = &hca.groups; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    free(g);
}

/* Makes the port's SA membership of 'g' match its joins; frees 'g' when
 * none is left.  Returns 0 or a positive errno. */
static int
group_sync(struct hca_group *g)
{
    enum ibb_mcast_join want;
    int err = 0;

    if (!g->n_full && !g->n_send_only) {
        if (hca.up) {
            ibb_port_mcast_leave(hca.port, g->mgid);
            hca_kick();
        }
        group_free(g);
        return 0;
    }
    want = g->n_full ? IBB_MCAST_FULL : IBB_MCAST_SEND_ONLY;
    if (want != g->join || !g->mlid) {
        err = (hca.up
               ? ibb_port_mcast_join(hca.port, g->mgid, want,
                                     HCA_CM_UDP_QKEY, hca.pkey, &g->mlid)
               : ENETDOWN);
        hca_kick();
        if (!err) {
            g->join = want;
        }
    }
    return err;
}

/* Drops 'mc''s share of its SA membership, if it has one. */
static void
mc_unjoin(struct cm_mc *mc)
{
    struct hca_group *g;

    if (mc->state != CM_MC_JOINED) {
        return;
    }
    mc->state = CM_MC_FAILED;
    g = find_group(mc->mgid);
    if (g) {
        if (mc->full) {
            g->n_full--;
        } else {
            g->n_send_only--;
        }
        group_sync(g);
    }
}

/* Frees the events that the application has not read for 'id' (if 'mc'
 * is NULL) or for membership 'mc': after rdma_destroy_id() or
 * rdma_leave_multicast() none may be delivered (the kernel's ucma drops
 * them too).  Caller holds the mutex. */
static void
cm_purge_events(struct cm_id *id, const struct cm_mc *mc)
{
    struct cm_channel *ch = (struct cm_channel *) id->id.channel;
    struct cm_event *evs[1024];
    int flags = fcntl(ch->ch.fd, F_GETFL);
    size_t n = 0;

    fcntl(ch->ch.fd, F_SETFL, flags | O_NONBLOCK);
    while (n < sizeof evs / sizeof evs[0]
           && read(ch->ch.fd, &evs[n], sizeof evs[n]) == sizeof evs[n]) {
        n++;
    }
    fcntl(ch->ch.fd, F_SETFL, flags);
    for (size_t i = 0; i < n; i++) {
        if (mc ? evs[i]->mc == mc : evs[i]->ev.id == &id->id) {
            free(evs[i]);
        } else {
            hca_write_all(ch->wfd, &evs[i], sizeof evs[i]);
        }
    }
}

int
rdma_destroy_id(struct rdma_cm_id *cmid)
{
    struct cm_id *id = (struct cm_id *) cmid;

    pthread_mutex_lock(&hca.mutex);
    for (struct cm_id **pp = &hca.cm_ids; *pp; pp = &(*pp)->next) {
        if (*pp == id) {
            *pp = id->next;
            break;
        }
    }
    cm_purge_events(id, NULL);
    while (id->mcs) {
        struct cm_mc *mc = id->mcs;

        id->mcs = mc->next;
        mc_unjoin(mc);
        free(mc);
    }
    if (id->bound && !--hca.cm_binds) {
        struct hca_ctx *ctx = hca.cm_ctx;

        hca.cm_ctx = NULL;
        hca_ctx_close(ctx);
    }
    pthread_mutex_unlock(&hca.mutex);
    free(id);
    return 0;
}

/* True if 'pkey' (host order) of an AF_IB address is in the P_Key table:
 * 0 stands for the default entry; otherwise the low 15 bits must match,
 * as the kernel's ib_find_cached_pkey() compares them. */
static bool
cm_pkey_ok(uint16_t pkey)
{
    return !pkey || (pkey & 0x7fff) == (hca.pkey & 0x7fff);
}

int
rdma_bind_addr(struct rdma_cm_id *cmid, struct sockaddr *addr)
{
    struct cm_id *id = (struct cm_id *) cmid;
    const struct sockaddr_ib *sib = (const struct sockaddr_ib *) addr;
    int err = 0;

    if (id->bound) {
        errno = EINVAL;
        return -1;
    }
    if (!addr || addr->sa_family != AF_IB) {
        /* Only AF_IB addresses are modelled (no IPoIB here). */
        errno = EADDRNOTAVAIL;
        return -1;
    }
    pthread_mutex_lock(&hca.mutex);
    if (!hca_configure()) {
        err = ENODEV;
        goto out;
    }
    if (!cm_pkey_ok(be16toh(sib->sib_pkey))) {
        hca_log("rdma_bind_addr: P_Key 0x%04x is not in the P_Key table",
                be16toh(sib->sib_pkey));
        err = EINVAL;
        goto out;
    }
    if (!hca.cm_ctx) {
        hca.cm_ctx = hca_ctx_open();
        if (!hca.cm_ctx) {
            err = errno;
            goto out;
        }
    }
    hca.cm_binds++;
    if (memcmp(sib->sib_addr.sib_raw, hca.attr.gid, 16)) {
        err = EADDRNOTAVAIL;
        if (!--hca.cm_binds) {
            hca_ctx_close(hca.cm_ctx);
            hca.cm_ctx = NULL;
        }
        goto out;
    }
    id->bound = true;
    cmid->verbs = &hca.cm_ctx->vctx.context;
    cmid->port_num = HCA_PORT_NUM;
    memcpy(&cmid->route.addr.src_storage, sib, sizeof *sib);
out:
    pthread_mutex_unlock(&hca.mutex);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/* Queues event 'type' with 'status' about membership 'mc' of 'id'; 'g'
 * (the group, for a completed join) fills in the UD parameters. */
static void
cm_queue_event(struct cm_id *id, const struct cm_mc *mc,
               enum rdma_cm_event_type type, int status,
               const struct hca_group *g)
{
    struct cm_channel *ch = (struct cm_channel *) id->id.channel;
    struct cm_event *e = calloc(1, sizeof *e);
    struct rdma_cm_event *ev;

    if (!e) {
        return;
    }
    e->mc = mc;
    ev = &e->ev;
    ev->id = &id->id;
    ev->event = type;
    ev->status = status;
    /* librdmacm hands the join's context back in private_data. */
    ev->param.ud.private_data = mc->context;
    if (g) {
        struct ibv_ah_attr *ah = &ev->param.ud.ah_attr;

        ah->dlid = g->mlid;
        ah->sl = 0;
        ah->port_num = HCA_PORT_NUM;
        ah->is_global = 1;
        memcpy(ah->grh.dgid.raw, mc->mgid, 16);
        ah->grh.sgid_index = 0;
        ah->grh.hop_limit = 0;
        ev->param.ud.qp_num = IBB_MULTICAST_QPN;
        /* ibport's join does not return the group's Q_Key: the SA
         * creates groups with the requested one. */
        ev->param.ud.qkey = HCA_CM_UDP_QKEY;
    }
    hca_log("rdma_cm event %s, status %d", rdma_event_str(type), status);
    hca_write_all(ch->wfd, &e, sizeof e);
}

/* The SA exchange of the join 'mc' of 'id', on the background thread:
 * joins the port to the group at the fabric if it is not yet a member
 * (or only a send-only one for a full join), then queues the result. */
static void
cm_join(struct cm_id *id, struct cm_mc *mc)
{
    struct hca_group *g = find_group(mc->mgid);
    int err;

    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g) {
            err = ENOMEM;
            goto fail;
        }
        memcpy(g->mgid, mc->mgid, 16);
        g->next = hca.groups;
        hca.groups = g;
    }
    if (mc->full) {
        g->n_full++;
    } else {
        g->n_send_only++;
    }
    err = group_sync(g);
    if (err) {
        if (mc->full) {
            g->n_full--;
        } else {
            g->n_send_only--;
        }
        if (!g->n_full && !g->n_send_only) {
            group_free(g);
        }
        goto fail;
    }
    hca.c.mcast_joins++;
    mc->state = CM_MC_JOINED;
    cm_queue_event(id, mc, RDMA_CM_EVENT_MULTICAST_JOIN, 0, g);
    return;

fail:
    hca.c.mcast_join_err++;
    hca_log("multicast join failed: %s", strerror(err));
    mc->state = CM_MC_FAILED;
    cm_queue_event(id, mc, RDMA_CM_EVENT_MULTICAST_ERROR, -err, NULL);
}

/* Does the joins whose SA answer is due, in the order they were asked
 * for.  Returns when the next one is due, LLONG_MAX if none waits.
 * Called by the background thread with the mutex held. */
long long
hca_cm_run_joins(void)
{
    for (;;) {
        long long now = ibb_port_now_ms(), next = LLONG_MAX;
        struct cm_mc *first = NULL;
        struct cm_id *first_id = NULL;

        for (struct cm_id *id = hca.cm_ids; id; id = id->next) {
            for (struct cm_mc *mc = id->mcs; mc; mc = mc->next) {
                if (mc->state != CM_MC_JOINING) {
                    continue;
                }
                if (mc->due > now) {
                    next = mc->due < next ? mc->due : next;
                } else if (!first || mc->seq < first->seq) {
                    first = mc;
                    first_id = id;
                }
            }
        }
        if (!first) {
            return next;
        }
        cm_join(first_id, first);
    }
}

/* The port is gone and the SA memberships with it: as the kernel's
 * ib_sa multicast module does on a port event, ends every completed join
 * with RDMA_CM_EVENT_MULTICAST_ERROR, status -ENETRESET.  Caller freed
 * 'hca.groups' and queued IBV_EVENT_PORT_ERR. */
void
hca_cm_port_lost(void)
{
    for (struct cm_id *id = hca.cm_ids; id; id = id->next) {
        for (struct cm_mc *mc = id->mcs; mc; mc = mc->next) {
            if (mc->state == CM_MC_JOINED) {
                mc->state = CM_MC_FAILED;
                hca.c.mcast_reset++;
                cm_queue_event(id, mc, RDMA_CM_EVENT_MULTICAST_ERROR,
                               -ENETRESET, NULL);
            }
        }
    }
}

int
rdma_join_multicast_ex(struct rdma_cm_id *cmid,
                       struct rdma_cm_join_mc_attr_ex *attr, void *context)
{
    uint32_t need = RDMA_CM_JOIN_MC_ATTR_ADDRESS
                    | RDMA_CM_JOIN_MC_ATTR_JOIN_FLAGS;
    struct cm_id *id = (struct cm_id *) cmid;
    const struct sockaddr_ib *sib;
    struct cm_mc *mc, **tail;

    if ((attr->comp_mask & need) != need
        || (attr->comp_mask & ~need)
        || (attr->join_flags != RDMA_MC_JOIN_FLAG_FULLMEMBER
            && attr->join_flags != RDMA_MC_JOIN_FLAG_SENDONLY_FULLMEMBER)
        || !attr->addr || !id->bound) {
        errno = EINVAL;
        return -1;
    }
    if (attr->addr->sa_family != AF_IB) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (cmid->ps != RDMA_PS_UDP && cmid->ps != RDMA_PS_IB) {
        errno = EOPNOTSUPP;
        return -1;
    }
    sib = (const struct sockaddr_ib *) attr->addr;
    if (!ibb_gid_is_multicast(sib->sib_addr.sib_raw)) {
        errno = EINVAL;
        return -1;
    }

    pthread_mutex_lock(&hca.mutex);
    for (tail = &id->mcs; *tail; tail = &(*tail)->next) {
        if (!memcmp((*tail)->mgid, sib->sib_addr.sib_raw, 16)) {
            pthread_mutex_unlock(&hca.mutex);
            errno = EADDRINUSE;
            return -1;
        }
    }
    mc = calloc(1, sizeof *mc);
    if (!mc) {
        pthread_mutex_unlock(&hca.mutex);
        errno = ENOMEM;
        return -1;
    }
    memcpy(mc->mgid, sib->sib_addr.sib_raw, 16);
    mc->full = attr->join_flags == RDMA_MC_JOIN_FLAG_FULLMEMBER;
    mc->state = CM_MC_JOINING;
    mc->seq = hca.next_join_seq++;
    mc->due = ibb_port_now_ms() + hca.join_delay_ms;
    mc->context = context;
    *tail = mc;

    /* The background thread sends the SA request and queues the event,
     * after this returns. */
    hca_kick();
    pthread_mutex_unlock(&hca.mutex);
    return 0;
}

int
rdma_leave_multicast(struct rdma_cm_id *cmid, struct sockaddr *addr)
{
    struct cm_id *id = (struct cm_id *) cmid;
    const struct sockaddr_ib *sib = (const struct sockaddr_ib *) addr;

    if (!addr || addr->sa_family != AF_IB) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    pthread_mutex_lock(&hca.mutex);
    for (struct cm_mc **pp = &id->mcs; *pp; pp = &(*pp)->next) {
        struct cm_mc *mc = *pp;

        if (!memcmp(mc->mgid, sib->sib_addr.sib_raw, 16)) {
            /* A join still waiting for the SA is cancelled. */
            *pp = mc->next;
            mc_unjoin(mc);
            cm_purge_events(id, mc);
            free(mc);
            pthread_mutex_unlock(&hca.mutex);
            return 0;
        }
    }
    pthread_mutex_unlock(&hca.mutex);
    errno = EADDRNOTAVAIL;
    return -1;
}

int
rdma_get_cm_event(struct rdma_event_channel *channel,
                  struct rdma_cm_event **event)
{
    struct rdma_cm_event *ev;
    ssize_t n;

    do {
        n = read(channel->fd, &ev, sizeof ev);
    } while (n < 0 && errno == EINTR);
    if (n != sizeof ev) {
        if (n >= 0) {
            errno = ENODATA;
        }
        return -1;
    }
    *event = ev;
    return 0;
}

int
rdma_ack_cm_event(struct rdma_cm_event *event)
{
    free(event);
    return 0;
}
