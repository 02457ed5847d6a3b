/*
 * What the parts of the rdma-core port backend share: its limits, its
 * counters and the port object.  lib/ibport-verbs.c has the port (device,
 * QPs, events), lib/ibport-verbs-rxq.c its receive queues,
 * lib/ibport-verbs-tx.c its sends, lib/ibport-verbs-mcast.c its
 * multicast.  Only these four include it.
 */
#ifndef IBPORT_VERBS_PRIVATE_H
#define IBPORT_VERBS_PRIVATE_H 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/ib.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

/* uthash must not exit the process on allocation failure: each add checks
 * the 'oom' variable it declares. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(OBJ) (oom = true)
#include <uthash.h>
#include <utlist.h>

#include "ib-gid.h"
#include "ib-hdr.h"
#include "ibb-join.h"
#include "ibport-provider.h"

/* Most QPs per port: the main QP, up to VERBS_MAX_MCAST_QPS multicast QPs
 * (whose share proxies never take) and proxies. */
#define IBB_VERBS_MAX_QPS 4096

/* Receive: SRQ buffers, each room for the GRH plus the largest payload. */
#define VERBS_MAX_PAYLOAD 4096
#define VERBS_RECV_BUF_SIZE (IBB_GRH_LEN + VERBS_MAX_PAYLOAD)
#define VERBS_N_RECV_BUFS 512
#define VERBS_RECV_REPOST 16            /* Repost in batches this big. */
#define VERBS_MAX_RXQS 16               /* Receive queues per port. */

/* Send: a ring of registered slots, one per outstanding send. */
#define VERBS_N_SEND_SLOTS 256
#define VERBS_SEND_SLOT_SIZE VERBS_MAX_PAYLOAD
#define VERBS_MAIN_QP_SEND_WR 256       /* Send queue depth, main QP. */
#define VERBS_PROXY_QP_SEND_WR 64       /* Send queue depth, proxy QPs. */

/* Most address handles cached.  When the cache is full, idle entries (no
 * send in flight) are evicted, up to VERBS_AH_EVICT at a time. */
#define VERBS_MAX_AHS 4096
#define VERBS_AH_EVICT (VERBS_MAX_AHS / 4)

/* Multicast QPs: full-member groups attach to the main QP, then to extra
 * UD QPs made as needed, each with at most the device's
 * max_mcast_qp_attach groups (240 on a ConnectX).  At most this many
 * extra QPs: with 240 groups each, 128 QPs hold 30,960 groups. */
#define VERBS_MAX_MCAST_QPS 128
#define VERBS_MCAST_QP_SEND_WR 1        /* They never send. */

/* A QP that could not be brought back from the error state is tried again
 * after this long. */
#define VERBS_RECOVER_RETRY_MS 1000

/* The backend's counters, exported by verbs_counters() under these names
 * (static strings, so statistics keys stay stable). */
#define VERBS_COUNTERS                                                       \
    /* Receive drops. */                                                     \
    VERBS_COUNTER(rx_wc_error)          /* Failed receive completion. */     \
    VERBS_COUNTER(rx_bad_opcode)        /* Completion not IBV_WC_RECV. */    \
    VERBS_COUNTER(rx_runt)              /* byte_len below the GRH room. */   \
    VERBS_COUNTER(rx_too_big)           /* Rebuilt packet > its buffer. */   \
    VERBS_COUNTER(rx_unknown_qp)        /* For a QP we no longer have. */    \
    VERBS_COUNTER(rx_self_loop)         /* Our own multicast, looped. */     \
    VERBS_COUNTER(rx_repost_error)      /* ibv_post_srq_recv() failed. */    \
    /* Send drops, by reason. */                                             \
    VERBS_COUNTER(tx_malformed)         /* Not a UD SEND we can post. */     \
    VERBS_COUNTER(tx_no_qp)             /* SrcQP: not a QP that sends. */    \
    VERBS_COUNTER(tx_too_big)           /* Payload > MTU or slot. */         \
    VERBS_COUNTER(tx_ah_error)          /* ibv_create_ah() failed. */        \
    VERBS_COUNTER(tx_ah_cache_full)     /* No AH could be evicted. */        \
    VERBS_COUNTER(tx_qp_error)          /* QP stuck in the error state. */   \
    VERBS_COUNTER(tx_ring_full)         /* No send slot: EAGAIN. */          \
    VERBS_COUNTER(tx_wc_error)          /* Error completion, not flush. */   \
    VERBS_COUNTER(tx_wc_flush)          /* Flushed send completion. */       \
    /* Recovery. */                                                          \
    VERBS_COUNTER(ah_evictions)         /* AHs evicted from the cache. */    \
    VERBS_COUNTER(qp_recoveries)        /* QPs brought back to RTS. */       \
    VERBS_COUNTER(qp_recovery_errors)   /* Failed attempts at that. */       \
    VERBS_COUNTER(join_retries)         /* Failed joins tried again. */      \
    VERBS_COUNTER(join_timeouts)        /* Joins without an answer. */       \
    VERBS_COUNTER(mcast_qps_created)    /* Extra QPs for attachments. */     \
    VERBS_COUNTER(mcast_qps_destroyed)  /* Those released, emptied. */       \
    VERBS_COUNTER(mcast_attach_full)    /* Join failed: no attach room. */   \
    /* HCA asynchronous events, by type. */                                  \
    VERBS_COUNTER(ev_port_active)                                            \
    VERBS_COUNTER(ev_port_err)                                               \
    VERBS_COUNTER(ev_lid_change)                                             \
    VERBS_COUNTER(ev_pkey_change)                                            \
    VERBS_COUNTER(ev_sm_change)                                              \
    VERBS_COUNTER(ev_client_reregister)                                      \
    VERBS_COUNTER(ev_gid_change)                                             \
    VERBS_COUNTER(ev_cq_err)                                                 \
    VERBS_COUNTER(ev_qp_fatal)                                               \
    VERBS_COUNTER(ev_qp_req_err)                                             \
    VERBS_COUNTER(ev_qp_access_err)                                          \
    VERBS_COUNTER(ev_srq_err)                                                \
    VERBS_COUNTER(ev_srq_limit_reached)                                      \
    VERBS_COUNTER(ev_device_fatal)                                           \
    VERBS_COUNTER(ev_other)             /* Any other async event. */         \
    /* rdma_cm events, by type. */                                           \
    VERBS_COUNTER(cm_multicast_join)                                         \
    VERBS_COUNTER(cm_multicast_error)                                        \
    VERBS_COUNTER(cm_unreachable)                                            \
    VERBS_COUNTER(cm_addr_error)                                             \
    VERBS_COUNTER(cm_device_removal)                                         \
    VERBS_COUNTER(cm_addr_change)                                            \
    VERBS_COUNTER(cm_other)             /* Any other rdma_cm event. */

/* A QP of the port: the main one, a proxy, or a multicast QP. */
struct verbs_qp {
    UT_hash_handle hh;          /* In 'qps', keyed on 'qpn'. */
    uint32_t qpn;               /* QP number, the key. */
    uint32_t qkey;              /* Q_Key the QP accepts. */
    uint16_t pkey_index;        /* P_Key index the QP was set up with. */
    struct ibv_qp *qp;          /* The QP. */
    bool broken;                /* In the error state: needs RESET and
                                 * RTS again (verbs_recover_qp()). */
    bool mcast_only;            /* An extra QP for multicast attachments
                                 * only: never sends, not for callers. */
    bool has_room;              /* In its queue's 'mcast_room'. */
    unsigned int n_attached;    /* Groups attached to it. */
    unsigned int rxq;           /* Receive queue (index in 'rxqs'). */
    struct verbs_qp *room_prev; /* In 'mcast_room' if 'has_room'. */
    struct verbs_qp *room_next;
};

/* What an address handle is made of.  Only bytes and naturally aligned
 * fields, without padding, so it can be hashed as memory.  The flow label
 * is part of it because the AH is the only place a UD send takes it from;
 * RoCE peers that vary it per flow make more entries, which the cache's
 * bound and eviction (get_ah()) keep in check. */
struct verbs_ah_key {
    uint8_t dgid[16];           /* Destination GID, if 'is_global'. */
    uint32_t flow_label;        /* GRH flow label, if 'is_global'. */
    uint16_t dlid;              /* Destination LID. */
    uint8_t sl;                 /* Service level. */
    uint8_t is_global;          /* 1 if the packet has a GRH. */
    uint8_t tclass;             /* GRH traffic class, if 'is_global'. */
    uint8_t hop_limit;          /* GRH hop limit, if 'is_global'. */
    uint8_t zero[2];            /* Always zero. */
};
_Static_assert(sizeof(struct verbs_ah_key) == 28, "AH key has padding");

/* A cached address handle. */
struct verbs_ah {
    UT_hash_handle hh;          /* In 'ahs', keyed on 'key'. */
    struct verbs_ah_key key;    /* The key. */
    struct ibv_ah *ah;          /* The address handle. */
    unsigned int inflight;      /* Sends posted with it, not yet reaped:
                                 * it must not be destroyed before. */
    bool referenced;            /* Used since the last eviction sweep. */
};

/* The rdma_cm and attach side of a multicast membership; its state,
 * pacing and retries are in the port's join table ('joins'), which has
 * an entry for exactly the groups in 'groups'. */
struct verbs_group {
    UT_hash_handle hh;          /* In 'groups', keyed on 'mgid'. */
    uint8_t mgid[16];           /* Multicast GID, the key. */
    enum ibb_mcast_join join;   /* Of the join posted last. */
    uint16_t pkey;              /* P_Key of that join. */
    uint32_t xid;               /* Its request number in 'joins'. */
    struct rdma_cm_id *id;      /* rdma_cm id of the join, NULL if none. */
    bool join_posted;           /* rdma_join_multicast_ex() succeeded. */
    struct verbs_qp *attach_qp; /* QP attached to the group, or NULL. */
    uint16_t attach_mlid;       /* MLID given to ibv_attach_mcast(). */
};

/* Counters (see VERBS_COUNTERS). */
struct verbs_counters {
#define VERBS_COUNTER(NAME) uint64_t NAME;
    VERBS_COUNTERS
#undef VERBS_COUNTER
};

/* A receive queue: an SRQ with its buffers, completing on a receive CQ of
 * its own with a completion channel of its own.  The port's QPs are spread
 * over the queues (lib/ibport-verbs-rxq.c says how), so that each queue can
 * be polled by a thread of its own. */
struct verbs_rxq {
    struct ibv_comp_channel *channel; /* Completion channel of 'cq'. */
    struct ibv_cq *cq;          /* Receive CQ, armed on 'channel' unless
                                 * the port busy-polls. */
    struct ibv_srq *srq;        /* Receive queue of the QPs on it. */
    uint8_t *bufs;              /* n_bufs * VERBS_RECV_BUF_SIZE. */
    struct ibv_mr *mr;          /* Registration of 'bufs'. */
    unsigned int n_bufs;        /* Buffers in 'bufs'. */
    uint32_t *repost;           /* Indexes of buffers to post again. */
    unsigned int n_repost;      /* Entries in 'repost'. */
    bool more;                  /* Last recv stopped full. */
    bool repost_retry;          /* Posting 'repost' failed: run() tries
                                 * again. */
    unsigned int n_proxies;     /* Proxy QPs on it. */
    struct verbs_qp *mcast_room; /* Its QPs that can take another group. */
    uint64_t packets;           /* Packets received on it. */
};

struct ibb_port_verbs {
    struct ibb_port up;         /* Common state, must be first. */

    /* Device and port. */
    struct ibv_context *ctx;    /* Open device, NULL if not connected. */
    char devname[IBV_SYSFS_NAME_MAX]; /* Its name. */
    unsigned int port_num;      /* HCA port number. */
    bool active;                /* Port state is ACTIVE. */
    bool fatal;                 /* A fatal async event was seen. */
    uint16_t lid;               /* Port LID. */
    uint8_t lmc;                /* LID mask count. */
    uint16_t sm_lid;            /* SM LID. */
    uint16_t mtu;               /* Active MTU in bytes. */
    uint8_t gid[16];            /* GID at opts.gid_index. */
    int gid_tbl_len;            /* Size of the GID table. */
    uint16_t *pkeys;            /* P_Key table, host order. */
    int n_pkeys;                /* Entries in 'pkeys'. */
    uint16_t pkey_index;        /* Index of opts.pkey in 'pkeys'. */
    uint32_t qkey;              /* Main QP's Q_Key. */
    unsigned int max_qp_attach; /* Device: groups per QP. */
    unsigned int max_total_attach; /* Device: attachments in all. */

    /* Queues and buffers. */
    struct ibv_pd *pd;          /* Protection domain. */
    struct verbs_rxq rxqs[VERBS_MAX_RXQS]; /* Receive queues. */
    unsigned int n_rxq;         /* Of them in use, 1 or more. */
    struct ibv_cq *send_cq;     /* Send CQ, polled. */
    uint8_t *send_bufs;         /* VERBS_N_SEND_SLOTS send slots. */
    struct ibv_mr *send_mr;     /* Registration of 'send_bufs'. */
    uint16_t free_slots[VERBS_N_SEND_SLOTS]; /* Stack of free slots. */
    unsigned int n_free_slots;  /* Entries in 'free_slots'. */
    uint32_t slot_seq[VERBS_N_SEND_SLOTS]; /* Per slot: generation of its
                                            * current send, in wr_id. */
    bool slot_busy[VERBS_N_SEND_SLOTS];    /* Per slot: send in flight. */
    uint32_t slot_qpn[VERBS_N_SEND_SLOTS]; /* Per slot: QP it went on. */
    struct verbs_ah *slot_ah[VERBS_N_SEND_SLOTS]; /* Per slot: the AH its
                                                   * send uses, whose
                                                   * 'inflight' it holds. */

    /* QPs and address handles. */
    struct verbs_qp *qps;       /* All QPs, by QPN. */
    unsigned int n_qps;         /* Entries in 'qps'. */
    struct verbs_qp *main_qp;   /* The main QP (also in 'qps'). */
    bool no_block_lb;           /* HCA refused BLOCK_SELF_MCAST_LB. */
    struct verbs_ah *ahs;       /* Cached AHs. */
    unsigned int n_ahs;         /* Entries in 'ahs'. */

    /* Control: multicast and events. */
    struct rdma_event_channel *cm_channel; /* rdma_cm events. */
    struct verbs_group *groups; /* Memberships, by MGID. */
    struct ibb_join_table *joins; /* Their states, paced (lib/ibb-join.h);
                                   * kept over reconnects. */
    uint32_t next_xid;          /* Request number for 'joins'. */
    unsigned int n_mcast_qps;   /* Extra multicast QPs in 'qps'. */
    unsigned int n_attached;    /* Attachments over all QPs. */
    int epoll_fd;               /* Async fd + cm channel, -1 if none. */
    bool changed;               /* State changed since the last run()
                                 * reported it: sticky until then. */
    long long recover_at;       /* CLOCK_MONOTONIC ms at which run() next
                                 * recovers broken QPs and reposts
                                 * receive buffers, LLONG_MAX if none
                                 * needs it. */

    struct verbs_counters c;    /* Counters. */
};

static inline struct ibb_port_verbs *
verbs_cast(const struct ibb_port *port)
{
    return (struct ibb_port_verbs *) port;
}

static inline struct verbs_qp *
find_qp(const struct ibb_port_verbs *vp, uint32_t qpn)
{
    struct verbs_qp *q;

    HASH_FIND(hh, vp->qps, &qpn, sizeof qpn, q);
    return q;
}

static inline struct verbs_group *
find_group(const struct ibb_port_verbs *vp, const uint8_t mgid[16])
{
    struct verbs_group *g;

    HASH_FIND(hh, vp->groups, mgid, 16, g);
    return g;
}

/* lib/ibport-verbs.c. */
int verbs_call_failed(struct ibb_port_verbs *, const char *what);
int verbs_set_nonblock(int fd);
int verbs_alloc_registered(struct ibb_port_verbs *, size_t size,
                           uint8_t **bufp, struct ibv_mr **mrp,
                           const char *what);
int verbs_create_qp(struct ibb_port_verbs *, uint32_t qkey,
                    unsigned int send_wr, unsigned int rxq,
                    struct verbs_qp **);
int verbs_free_qp(struct ibb_port_verbs *, struct verbs_qp *);
void verbs_mark_qp_broken(struct ibb_port_verbs *, struct verbs_qp *);
bool verbs_qp_usable(struct ibb_port_verbs *, struct verbs_qp *);

/* lib/ibport-verbs-tx.c: the send path and its address handle cache. */
void verbs_reap_sends(struct ibb_port_verbs *);
void verbs_release_qp_slots(struct ibb_port_verbs *, uint32_t qpn);
void verbs_flush_ahs(struct ibb_port_verbs *);
int verbs_send(struct ibb_port *, const struct ibb_port_buf bufs[],
               size_t n, size_t *n_sent);

/* lib/ibport-verbs-mcast.c: multicast joins, leaves and attachments. */
void verbs_requeue_groups(struct ibb_port_verbs *, bool stop);
void verbs_destroy_groups(struct ibb_port_verbs *);
void verbs_free_groups(struct ibb_port_verbs *);
void verbs_pump_joins(struct ibb_port_verbs *);
void verbs_handle_cm_events(struct ibb_port_verbs *);
int verbs_mcast_join(struct ibb_port *, const struct ibb_port_group *,
                     uint16_t *mlid);
int verbs_mcast_leave(struct ibb_port *, const uint8_t mgid[16]);
int verbs_mcast_status(struct ibb_port *, const uint8_t mgid[16],
                       struct ibb_mcast_status *);
bool verbs_mcast_take_changed(struct ibb_port *, uint8_t mgid[16],
                              struct ibb_mcast_status *);
int verbs_mcg_subscribe(struct ibb_port *, bool on);
int verbs_mcg_list(struct ibb_port *);

/* lib/ibport-verbs-rxq.c: the receive queues. */
int verbs_rxqs_create(struct ibb_port_verbs *);
void verbs_rxqs_destroy(struct ibb_port_verbs *);
void verbs_rxqs_reset(struct ibb_port_verbs *);
int verbs_rxqs_arm(struct ibb_port_verbs *);
void verbs_rxqs_retry_reposts(struct ibb_port_verbs *);
unsigned int verbs_rxq_for_proxy(const struct ibb_port_verbs *);
unsigned int verbs_rxq_for_group(const struct ibb_port_verbs *,
                                 const uint8_t mgid[16]);
int verbs_recv_queue(struct ibb_port *, unsigned int qid,
                     struct ibb_port_buf bufs[], size_t n, size_t *n_recv);
int verbs_queue_fd(const struct ibb_port *, unsigned int qid);
bool verbs_queue_has_pending(const struct ibb_port *, unsigned int qid);
unsigned int verbs_n_rxq(const struct ibb_port *);
size_t verbs_rxq_counters(const struct ibb_port_verbs *,
                          struct ibb_port_counter *, size_t max);

#endif /* ibport-verbs-private.h */
