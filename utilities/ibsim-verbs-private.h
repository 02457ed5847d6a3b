/*
 * ibsim-verbs-private.h: what the files of the HCA model
 * (libibsim-verbs.so) share: the one 'struct hca' and its counters, the
 * objects that several files use (PDs, CQs, SRQs, QPs, receive queues,
 * AHs, the transmit backlog, SA memberships), and the functions
 * that one file calls in another.  Private to the model, which exports
 * only ibv_* and rdma_* (utilities/ibsim-verbs.map).
 *
 *   ibsim-verbs.c       the verbs API objects: device, contexts, PDs, MRs,
 *                       AHs, CQs and completion channels, poll, async
 *                       events.
 *   ibsim-verbs-qp.c    the work queues: receive queues, SRQs, QPs and
 *                       their states, post, multicast attach.
 *   ibsim-verbs-wire.c  the "hardware": the fabric port (open, loss,
 *                       reconnect), packets built for sends, received
 *                       packets checked and delivered to QPs, the
 *                       background thread.
 *   ibsim-rdmacm.c      librdmacm: event channels, ids, bind, multicast
 *                       joins.
 *   ibsim-verbs-line-rate.c  the line-rate source (IBSIM_VERBS_LINE_RATE):
 *                       captured packets that arrive as fast as the
 *                       receive queues take them, for benchmarks.
 */
#ifndef IBSIM_VERBS_PRIVATE_H
#define IBSIM_VERBS_PRIVATE_H 1

#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fabric-proto.h"
#include "ib-hdr.h"
#include "ibport.h"

/* Port and protocol constants. */
#define HCA_PORT_NUM 1
#define HCA_RETRY_MS 200            /* Reconnect interval while down. */
#define HCA_CM_UDP_QKEY 0x01234567  /* rdma_cm's Q_Key for RDMA_PS_UDP. */
#define HCA_CONTROLLED_QKEY 0x80000000u
#define HCA_PKT_SIZE (IBB_FABRIC_MAX_PACKET)

/* Device limits, reported by ibv_query_device() and enforced. */
#define HCA_MAX_QP 4096
#define HCA_MAX_QP_WR 8192
#define HCA_MAX_SGE 30
#define HCA_MAX_CQ 4096
#define HCA_MAX_CQE 65535
#define HCA_MAX_INLINE 256
#define HCA_MAX_MCAST_QP_ATTACH 240
#define HCA_MAX_SRQ_WR 8192
#define HCA_MAX_SRQ_SGE 31

/* Drop and event counters, one X-macro list for names and values. */
#define HCA_COUNTERS                                                    \
    X(rx_packets, "packets read from the fabric")                       \
    X(rx_line_rate, "copies from the line-rate source delivered")       \
    X(rx_delivered, "receive completions written")                      \
    X(rx_bad_vcrc, "dropped: bad VCRC")                                 \
    X(rx_bad_icrc, "dropped: bad ICRC")                                 \
    X(rx_malformed, "dropped: bad LRH/GRH/BTH or length")               \
    X(rx_bad_opcode, "dropped: not a UD SEND")                          \
    X(rx_bad_pkey, "dropped: P_Key not in the P_Key table")             \
    X(rx_bad_dlid, "dropped: DLID is not the port LID")                 \
    X(rx_no_qp, "dropped: no QP with that DestQP")                      \
    X(rx_qp_state, "dropped: QP not in RTR or RTS")                     \
    X(rx_bad_qkey, "dropped: Q_Key mismatch")                           \
    X(rx_bad_dgid, "dropped: DGID not in the GID table")                \
    X(rx_mcast_no_qp, "dropped: no QP attached to the MGID")            \
    X(rx_rnr, "dropped: no receive WQE posted (UD RNR)")                \
    X(rx_len_err, "receive completions with IBV_WC_LOC_LEN_ERR")        \
    X(rx_prot_err, "receive completions with IBV_WC_LOC_PROT_ERR")      \
    X(tx_packets, "packets sent to the fabric")                         \
    X(tx_port_down, "sends discarded while the port was down")          \
    X(tx_prot_err, "send completions with IBV_WC_LOC_PROT_ERR")         \
    X(tx_len_err, "send completions with IBV_WC_LOC_LEN_ERR")           \
    X(tx_qp_op_err, "send completions with IBV_WC_LOC_QP_OP_ERR "       \
      "(IBSIM_VERBS_FAIL_SEND)")                                        \
    X(mcast_joins, "rdma_cm joins answered by the SA")                  \
    X(mcast_join_err, "rdma_cm joins that failed")                      \
    X(mcast_reset, "rdma_cm joins ended by a port loss (ENETRESET)")    \
    X(mcast_attach, "multicast groups attached to a QP")                \
    X(mcast_attach_full, "attaches refused: QP at max_mcast_qp_attach") \
    X(cq_overrun, "completions lost to a CQ overrun")                   \
    X(port_err, "fabric connection losses")

struct hca_counters {
#define X(NAME, DESC) unsigned long long NAME;
    HCA_COUNTERS
#undef X
};

struct cm_id;
struct hca_cq;
struct hca_ctx;
struct hca_line_rate;
struct hca_mr;
struct hca_pd;
struct hca_qp;
struct hca_srq;

/* An address handle. */
struct hca_ah {
    struct ibv_ah ah;           /* What the application sees. */
    struct ibv_ah_attr attr;    /* Its attributes. */
};

/* One CQ entry: the completion plus what polling it retires. */
struct hca_cqe {
    struct ibv_wc wc;           /* The completion. */
    bool is_send;               /* Send (retires SQ WQEs) or receive. */
    uint64_t sq_seq;            /* Send: sequence number of the WQE. */
};

/* One posted receive WQE. */
struct hca_rwqe {
    uint64_t wr_id;             /* Application's id. */
    int num_sge;                /* Used entries of 'sge'. */
    struct ibv_sge *sge;        /* 'max_sge' entries. */
};

/* A receive queue (a QP's own, or an SRQ). */
struct hca_rq {
    struct hca_rwqe *wqes;      /* 'max_wr' slots. */
    struct ibv_sge *sges;       /* Storage for the WQEs' SGEs. */
    unsigned int max_wr;        /* Queue size. */
    unsigned int max_sge;       /* SGEs per WQE. */
    unsigned int head;          /* Oldest posted WQE. */
    unsigned int posted;        /* Posted WQEs not yet consumed. */
    unsigned int used;          /* Posted plus consumed but not polled. */
};

/* A multicast attachment of a QP. */
struct hca_attach {
    uint8_t mgid[16];           /* Group. */
    uint16_t mlid;              /* MLID given at attach. */
};

/* A protection domain. */
struct hca_pd {
    struct ibv_pd pd;           /* What the application sees. */
    unsigned int refs;          /* MRs, QPs, SRQs and AHs using it. */
};

/* A completion queue. */
struct hca_cq {
    struct ibv_cq cq;           /* What the application sees. */
    struct hca_cq *next;        /* In 'hca.cqs'. */
    struct hca_ctx *ctx;        /* Owner. */
    uint32_t cqn;               /* CQ number, as hardware's, for the log. */
    struct hca_cqe *ring;       /* 'cq.cqe' entries. */
    unsigned int head;          /* Oldest entry. */
    unsigned int count;         /* Entries held. */
    bool armed;                 /* req_notify_cq() called. */
    bool solicited_only;        /* Armed for solicited only. */
    bool overrun;               /* In error after an overrun. */
    unsigned int refs;          /* QPs using it. */
    uint32_t comp_events;       /* Completion events sent. */
    uint32_t async_events;      /* Async events sent. */
};

/* A shared receive queue. */
struct hca_srq {
    struct ibv_srq srq;         /* What the application sees. */
    struct hca_rq rq;           /* The queue. */
    unsigned int refs;          /* QPs using it. */
    uint32_t async_events;      /* Async events sent. */
};

/* A queue pair (UD only). */
struct hca_qp {
    struct ibv_qp qp;           /* What the application sees. */
    struct hca_qp *next;        /* In 'hca.qps'. */
    struct hca_ctx *ctx;        /* Owner. */
    struct hca_pd *pd;          /* Protection domain. */
    struct hca_cq *scq, *rcq;   /* Send and receive CQs. */
    struct hca_srq *srq;        /* SRQ, or NULL for the own RQ. */
    struct hca_rq rq;           /* Own RQ when 'srq' is NULL. */
    struct ibv_qp_cap cap;      /* Queue sizes. */
    bool sq_sig_all;            /* Every send WR is signaled. */
    bool block_self_mcast;      /* IBV_QP_CREATE_BLOCK_SELF_MCAST_LB. */
    enum ibv_qp_state state;    /* Current state. */
    uint32_t qkey;              /* Q_Key (from INIT). */
    uint16_t pkey_index;        /* P_Key index (from INIT). */
    uint32_t sq_psn;            /* Next PSN to send. */
    bool fabric_open;           /* QPN opened on the fabric. */
    uint64_t sq_head;           /* Sequence number of the next WQE. */
    uint64_t sq_retired;        /* WQEs before this one are retired. */
    struct hca_attach *attach;  /* Multicast attachments. */
    size_t n_attach;            /* Number of 'attach'. */
    uint32_t async_events;      /* Async events sent. */
};

/* A device context. */
struct hca_ctx {
    struct verbs_context vctx;  /* vctx.context is what the app sees. */
    struct hca_ctx *next;       /* In 'hca.ctxs'. */
    int async_wfd;              /* Write end of the async event pipe. */
};

/* A send waiting for room at the fabric. */
struct hca_txpkt {
    struct hca_txpkt *next;     /* In 'hca.tx_head'. */
    uint32_t qpn;               /* Sending QP. */
    uint64_t wr_id;             /* For the completion. */
    uint64_t sq_seq;            /* Sequence number of the WQE. */
    bool signaled;              /* Completion wanted. */
    bool fail;                  /* Injected fault: no packet, the WQE
                                 * completes with IBV_WC_LOC_QP_OP_ERR. */
    size_t len;                 /* Packet length. */
    uint8_t data[];             /* LRH .. VCRC. */
};

/* A multicast membership of the port at the SA (fabric). */
struct hca_group {
    struct hca_group *next;     /* In 'hca.groups'. */
    uint8_t mgid[16];           /* Group. */
    unsigned int n_full;        /* rdma_cm full-member joins. */
    unsigned int n_send_only;   /* rdma_cm send-only joins. */
    enum ibb_mcast_join join;   /* Join state at the fabric. */
    uint16_t mlid;              /* MLID. */
};

/* The one HCA port. */
struct hca {
    pthread_mutex_t mutex;      /* Guards everything below. */
    bool configured;            /* Environment read. */
    char *fabric;               /* IBSIM_VERBS_FABRIC. */
    struct ibv_device dev;      /* The device. */
    uint16_t pkey;              /* P_Key table[0]. */
    char *name;                 /* Name shown by the fabric. */
    FILE *log;                  /* IBSIM_VERBS_LOG, or NULL. */
    uint32_t join_delay_ms;     /* IBSIM_VERBS_JOIN_DELAY. */
    uint32_t fail_send;         /* IBSIM_VERBS_FAIL_SEND, 0 if none. */
    uint32_t fail_attach;       /* IBSIM_VERBS_FAIL_ATTACH, 0 if none. */
    uint64_t n_attaches;        /* Multicast attaches, over all QPs. */
    enum ibv_port_state state_up;   /* IBSIM_VERBS_PORT_STATE: the state
                                     * shown while attached. */
    uint8_t link_layer;         /* IBSIM_VERBS_LINK_LAYER. */
    uint64_t n_sends;           /* Sends posted to QPs in RTS. */
    char *line_rate_file;       /* IBSIM_VERBS_LINE_RATE, or NULL. */
    struct hca_line_rate *line_rate; /* Its packets while it exists. */

    unsigned int n_open;        /* Open contexts (incl. rdma_cm's). */
    struct ibb_port *port;      /* Fabric port while open. */
    bool up;                    /* Port ACTIVE. */
    struct ibb_port_attr attr;  /* LID, GID, MTU, SM LID. */
    long long next_retry;       /* When to try to reconnect (ms). */
    pthread_t thread;           /* Receive thread. */
    bool stop;                  /* Tells the thread to exit. */
    int wake[2];                /* Wakes the thread. */

    struct hca_ctx *ctxs;       /* Open contexts. */
    struct hca_qp *qps;         /* All QPs. */
    struct hca_cq *cqs;         /* All CQs. */
    struct hca_mr *mrs;         /* All MRs. */
    struct hca_group *groups;   /* SA memberships. */
    struct hca_txpkt *tx_head;  /* Sends waiting for the fabric. */
    struct hca_txpkt **tx_tail; /* Where to append. */
    unsigned int n_qps;         /* Number of 'qps'. */
    unsigned int n_cqs;         /* Number of 'cqs'. */
    uint32_t next_qpn;          /* QPN allocator. */
    uint32_t next_cqn;          /* CQ number allocator. */
    uint32_t next_key;          /* MR key allocator. */
    struct cm_id *cm_ids;       /* All rdma_cm ids. */
    uint64_t next_join_seq;     /* Orders the rdma_cm joins. */
    struct hca_ctx *cm_ctx;     /* rdma_cm's own context. */
    unsigned int cm_binds;      /* rdma_cm ids bound to 'cm_ctx'. */

    struct hca_counters c;      /* Counters. */
};

/* A received packet that passed the checks, parsed: pointers into it. */
struct hca_rx_pkt {
    const struct ibb_lrh *lrh;  /* LRH. */
    const struct ibb_grh *grh;  /* GRH or NULL. */
    const struct ibb_bth *bth;  /* BTH. */
    const struct ibb_deth *deth; /* DETH. */
    const uint8_t *imm;         /* ImmDt bytes or NULL. */
    const uint8_t *payload;     /* Payload. */
    size_t len;                 /* Payload length, without pad. */
};

/* The one HCA port, defined in ibsim-verbs.c. */
extern struct hca hca;

/* The model's objects from what the application holds. */
static inline struct hca_ctx *
ctx_cast(struct ibv_context *context)
{
    return (struct hca_ctx *) ((uint8_t *) context
                               - offsetof(struct hca_ctx, vctx.context));
}

static inline struct hca_qp *
qp_cast(struct ibv_qp *qp)
{
    return (struct hca_qp *) qp;
}

static inline struct hca_cq *
cq_cast(struct ibv_cq *cq)
{
    return (struct hca_cq *) cq;
}

/* ibsim-verbs.c: helpers. */
void hca_log(const char *format, ...)
    __attribute__((format(printf, 1, 2)));
int hca_make_pipe(int fds[2]);
void hca_close_pipe(int fds[2]);
void hca_write_all(int fd, const void *p, size_t n);
bool hca_configure(void);
struct hca_qp *hca_find_qp(uint32_t qpn);
void hca_async_event(struct hca_ctx *, enum ibv_event_type, void *element);

/* ibsim-verbs.c: contexts, CQs, MRs. */
struct hca_ctx *hca_ctx_open(void);
void hca_ctx_close(struct hca_ctx *);
void hca_cq_push(struct hca_cq *, const struct hca_cqe *, bool solicited);
bool hca_cq_full(const struct hca_cq *);
/* Fills each armed, empty CQ from the line-rate source that just began. */
void hca_line_rate_start(void);
void hca_send_completion(struct hca_qp *, uint64_t wr_id, uint64_t seq,
                         enum ibv_wc_status, uint32_t byte_len);
bool hca_sge_ok(const struct ibv_sge *, struct hca_pd *, int access);

/* ibsim-verbs-qp.c: receive queues, SRQs, QPs; the context's entry points
 * for them. */
struct hca_rq *hca_qp_rq(struct hca_qp *);
void hca_qp_to_error(struct hca_qp *);
struct ibv_qp *hca_create_qp_ex(struct ibv_context *,
                                struct ibv_qp_init_attr_ex *);
int hca_post_send(struct ibv_qp *, struct ibv_send_wr *,
                  struct ibv_send_wr **);
int hca_post_recv(struct ibv_qp *, struct ibv_recv_wr *,
                  struct ibv_recv_wr **);
int hca_post_srq_recv(struct ibv_srq *, struct ibv_recv_wr *,
                      struct ibv_recv_wr **);

/* ibsim-verbs-wire.c: the fabric port and the data path. */
int hca_open_port(void);
void hca_close_port(void);
void hca_kick(void);
void hca_open_qpn(struct hca_qp *);
void hca_close_qpn(struct hca_qp *);
void hca_tx_queue_fail(struct hca_qp *, const struct ibv_send_wr *,
                       uint64_t seq);
void hca_tx_build(struct hca_qp *, const struct ibv_send_wr *, uint64_t seq,
                  bool signaled, const uint8_t *payload, size_t len);

/* Parses and checks 'pkt' ('len' bytes, LRH .. VCRC) as the HCA's receive
 * logic does.  Returns false (and counts) if it is dropped. */
bool hca_rx_parse(const uint8_t *pkt, size_t len, struct hca_rx_pkt *);

/* Delivers checked packet 'p' to the QPs its DLID, DestQP, DGID and Q_Key
 * select, counting drops, and returns how many took it.  With 'only', for
 * the line-rate source: only QPs whose receive CQ is 'only' and that have
 * a WQE posted and room in it take it, and the rest wait (no drop). */
int hca_rx_deliver(const struct hca_rx_pkt *p, const struct hca_cq *only);

/* ibsim-verbs-line-rate.c: the line-rate source. */
void hca_line_rate_check(void);
void hca_line_rate_fill(struct hca_cq *, unsigned int max);
void hca_line_rate_free(void);

/* ibsim-rdmacm.c: the joins' SA exchange and their end on a port loss. */
long long hca_cm_run_joins(void);
void hca_cm_port_lost(void);

#endif /* ibsim-verbs-private.h */
