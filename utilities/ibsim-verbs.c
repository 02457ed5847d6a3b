/*
 * ibsim-verbs: a model of one ConnectX-like HCA port behind the rdma-core
 * API (libibverbs and librdmacm entry points), attached to ibsim-fabric as
 * a strict port.  Built as libibsim-verbs.so and loaded with LD_PRELOAD in
 * front of the real libraries, so that a verbs program (ovs-vswitchd with
 * lib/ibport-verbs.c, tests/ibsim-verbs-client.c) runs on the simulated
 * fabric as it would on an HCA.
 *
 * The model is never more permissive than hardware: the "hardware" builds
 * every header of what it sends (the application chooses neither SrcQP nor
 * SGID nor SLID), checks ICRC, VCRC, P_Key, DestQP, Q_Key and DGID of what
 * it receives, and enforces the QP state machine, queue sizes, memory keys
 * and CQ overruns.  See the report in the commit message, and the
 * environment variables below.
 *
 *   IBSIM_VERBS_FABRIC  fabric socket path; without it there is no device.
 *   IBSIM_VERBS_DEVICE  device name (default "ibsim0").
 *   IBSIM_VERBS_PKEY    the one P_Key table entry (default 0xffff).
 *   IBSIM_VERBS_NAME    port name shown by the fabric (default: device).
 *   IBSIM_VERBS_LOG     file to append drops, events and counters to.
 *   IBSIM_VERBS_JOIN_DELAY  milliseconds the SA takes to answer an rdma_cm
 *                       join (default 0: as soon as the background thread
 *                       gets to it).
 *   IBSIM_VERBS_FAIL_SEND  N: the Nth send work request posted to a QP in
 *                       RTS (counting from 1, over all QPs, once) completes
 *                       with IBV_WC_LOC_QP_OP_ERR instead of being sent,
 *                       in order after the sends posted before it, and
 *                       moves its QP to ERR, as a local QP error in
 *                       hardware does.  The QP works again once taken
 *                       through RESET, INIT, RTR to RTS.
 *
 * rdma_cm joins are asynchronous as with the kernel's ib_sa multicast
 * module: rdma_join_multicast_ex() only queues the request; the background
 * thread does the SA exchange (on the fabric port) and queues
 * RDMA_CM_EVENT_MULTICAST_JOIN or _ERROR afterwards.  A port loss ends
 * every completed join with RDMA_CM_EVENT_MULTICAST_ERROR, status
 * -ENETRESET, after IBV_EVENT_PORT_ERR; the application leaves and joins
 * again (when the port is back).
 *
 * Locking: one mutex, 'hca.mutex', guards all state, including the
 * ibb_port object (lib/ibport.h is not thread-safe).  A background thread
 * per open device receives from the fabric, delivers into CQs, retries the
 * connection while the fabric is away and flushes the transmit backlog.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <infiniband/ib.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fabric-proto.h"
#include "ib-crc.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ibport.h"

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

/* Port and protocol constants. */
#define HCA_PORT_NUM 1
#define HCA_RETRY_MS 200            /* Reconnect interval while down. */
#define HCA_CM_UDP_QKEY 0x01234567  /* rdma_cm's Q_Key for RDMA_PS_UDP. */
#define HCA_CONTROLLED_QKEY 0x80000000u
#define HCA_PKT_SIZE (IBB_FABRIC_MAX_PACKET)

/* Drop and event counters, one X-macro list for names and values. */
#define HCA_COUNTERS                                                    \
    X(rx_packets, "packets read from the fabric")                       \
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
    X(cq_overrun, "completions lost to a CQ overrun")                   \
    X(port_err, "fabric connection losses")

struct hca_counters {
#define X(NAME, DESC) unsigned long long NAME;
    HCA_COUNTERS
#undef X
};

struct cm_id;
struct hca_ctx;
struct hca_qp;

/* A protection domain. */
struct hca_pd {
    struct ibv_pd pd;           /* What the application sees. */
    unsigned int refs;          /* MRs, QPs, SRQs and AHs using it. */
};

/* A memory region. */
struct hca_mr {
    struct ibv_mr mr;           /* What the application sees. */
    struct hca_mr *next;        /* In 'hca.mrs'. */
    int access;                 /* IBV_ACCESS_* flags. */
};

/* An address handle. */
struct hca_ah {
    struct ibv_ah ah;           /* What the application sees. */
    struct ibv_ah_attr attr;    /* Its attributes. */
};

/* A completion channel: a pipe, readable while events wait. */
struct hca_channel {
    struct ibv_comp_channel ch; /* ch.fd is the read end. */
    int wfd;                    /* Write end. */
    unsigned int refs;          /* CQs using it. */
};

/* One CQ entry: the completion plus what polling it retires. */
struct hca_cqe {
    struct ibv_wc wc;           /* The completion. */
    bool is_send;               /* Send (retires SQ WQEs) or receive. */
    uint64_t sq_seq;            /* Send: sequence number of the WQE. */
};

/* A completion queue. */
struct hca_cq {
    struct ibv_cq cq;           /* What the application sees. */
    struct hca_cq *next;        /* In 'hca.cqs'. */
    struct hca_ctx *ctx;        /* Owner. */
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

/* A shared receive queue. */
struct hca_srq {
    struct ibv_srq srq;         /* What the application sees. */
    struct hca_rq rq;           /* The queue. */
    unsigned int refs;          /* QPs using it. */
    uint32_t async_events;      /* Async events sent. */
};

/* A multicast attachment of a QP. */
struct hca_attach {
    uint8_t mgid[16];           /* Group. */
    uint16_t mlid;              /* MLID given at attach. */
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

/* An async event as written to a context's pipe. */
struct hca_async_msg {
    enum ibv_event_type type;   /* Event. */
    void *element;              /* CQ, QP or SRQ, or NULL for the port. */
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
    uint64_t n_sends;           /* Sends posted to QPs in RTS. */

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
    uint32_t next_key;          /* MR key allocator. */
    struct cm_id *cm_ids;       /* All rdma_cm ids. */
    uint64_t next_join_seq;     /* Orders the rdma_cm joins. */
    struct hca_ctx *cm_ctx;     /* rdma_cm's own context. */
    unsigned int cm_binds;      /* rdma_cm ids bound to 'cm_ctx'. */

    struct hca_counters c;      /* Counters. */
};

static struct hca hca = {
    .mutex = PTHREAD_MUTEX_INITIALIZER,
    .wake = { -1, -1 },
};

/* ------------------------------------------------------------------ */
/* Helpers. */

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void hca_log(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/* Appends a line to IBSIM_VERBS_LOG, if set.  Caller holds the mutex. */
static void
hca_log(const char *format, ...)
{
    va_list args;

    if (!hca.log) {
        return;
    }
    va_start(args, format);
    fprintf(hca.log, "ibsim-verbs[%ld]: ", (long) getpid());
    vfprintf(hca.log, format, args);
    fputc('\n', hca.log);
    fflush(hca.log);
    va_end(args);
}

/* Counts a received packet dropped for 'reason'. */
#define HCA_DROP(NAME, ...)                                 \
    do {                                                    \
        hca.c.NAME++;                                       \
        hca_log("drop " #NAME ": " __VA_ARGS__);            \
    } while (0)

static void
hca_log_counters(void)
{
#define X(NAME, DESC) hca_log("counter %s: %llu", #NAME, hca.c.NAME);
    HCA_COUNTERS
#undef X
}

static int
make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC)) {
        return errno;
    }
    /* The model never blocks on a full pipe. */
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    return 0;
}

static void
close_pipe(int fds[2])
{
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

static void
write_all(int fd, const void *p, size_t n)
{
    ssize_t r;

    do {
        r = write(fd, p, n);
    } while (r < 0 && errno == EINTR);
}

/* Wakes the receive thread (after a control request that may have queued
 * packets inside the port, or when there is something to send). */
static void
hca_kick(void)
{
    static const char c = 0;

    if (hca.wake[1] >= 0) {
        write_all(hca.wake[1], &c, 1);
    }
}

/* Removes from the pipe 'fds' the records of 'size' bytes whose first
 * pointer at offset 'ofs' is 'ptr': events for an object
 * being destroyed that the application has not read (the kernel drops
 * those too).  Caller holds the mutex. */
static void
pipe_purge(int rfd, int wfd, size_t size, size_t ofs, const void *ptr)
{
    enum { MAX_RECS = 1024 };
    uint8_t *recs = malloc(MAX_RECS * size);
    int flags = fcntl(rfd, F_GETFL);
    size_t n = 0;

    if (!recs) {
        return;
    }
    fcntl(rfd, F_SETFL, flags | O_NONBLOCK);
    while (n < MAX_RECS
           && read(rfd, recs + n * size, size) == (ssize_t) size) {
        n++;
    }
    fcntl(rfd, F_SETFL, flags);
    for (size_t i = 0; i < n; i++) {
        const void *p;

        memcpy(&p, recs + i * size + ofs, sizeof p);
        if (p != ptr) {
            write_all(wfd, recs + i * size, size);
        }
    }
    free(recs);
}

static bool
env_u32(const char *name, uint32_t max, uint32_t *value)
{
    const char *s = getenv(name);
    unsigned long v;
    char *end;

    if (!s || !*s) {
        return false;
    }
    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || *end || v > max) {
        fprintf(stderr, "ibsim-verbs: %s=%s: not a number up to %u, "
                "ignored\n", name, s, max);
        return false;
    }
    *value = v;
    return true;
}

/* Reads the environment once.  Returns false if there is no device. */
static bool
hca_configure(void)
{
    const char *s;
    uint32_t pkey = IBB_DEF_PKEY;

    if (hca.configured) {
        return hca.fabric != NULL;
    }
    hca.configured = true;
    s = getenv("IBSIM_VERBS_FABRIC");
    if (!s || !*s) {
        return false;
    }
    hca.fabric = strdup(s);
    s = getenv("IBSIM_VERBS_DEVICE");
    snprintf(hca.dev.name, sizeof hca.dev.name, "%s", s && *s ? s : "ibsim0");
    snprintf(hca.dev.dev_name, sizeof hca.dev.dev_name, "uverbs0");
    snprintf(hca.dev.dev_path, sizeof hca.dev.dev_path,
             "/sys/class/infiniband_verbs/uverbs0");
    snprintf(hca.dev.ibdev_path, sizeof hca.dev.ibdev_path,
             "/sys/class/infiniband/%s", hca.dev.name);
    hca.dev.node_type = IBV_NODE_CA;
    hca.dev.transport_type = IBV_TRANSPORT_IB;
    env_u32("IBSIM_VERBS_PKEY", 0xffff, &pkey);
    hca.pkey = pkey;
    s = getenv("IBSIM_VERBS_NAME");
    hca.name = strdup(s && *s ? s : hca.dev.name);
    env_u32("IBSIM_VERBS_JOIN_DELAY", 600000, &hca.join_delay_ms);
    env_u32("IBSIM_VERBS_FAIL_SEND", UINT32_MAX, &hca.fail_send);
    s = getenv("IBSIM_VERBS_LOG");
    if (s && *s) {
        hca.log = fopen(s, "ae");
    }
    hca.next_qpn = 0x000100;
    hca.next_key = 0x1000;
    hca.tx_tail = &hca.tx_head;
    return true;
}

static struct hca_ctx *
ctx_cast(struct ibv_context *context)
{
    return (struct hca_ctx *) ((uint8_t *) context
                               - offsetof(struct hca_ctx, vctx.context));
}

static struct hca_qp *
qp_cast(struct ibv_qp *qp)
{
    return (struct hca_qp *) qp;
}

static struct hca_cq *
cq_cast(struct ibv_cq *cq)
{
    return (struct hca_cq *) cq;
}

static struct hca_qp *
find_qp(uint32_t qpn)
{
    for (struct hca_qp *qp = hca.qps; qp; qp = qp->next) {
        if (qp->qp.qp_num == qpn) {
            return qp;
        }
    }
    return NULL;
}

/* True if a packet's P_Key matches the P_Key table: same partition, and
 * not both limited members. */
static bool
pkey_ok(uint16_t pkey)
{
    return ((pkey & 0x7fff) == (hca.pkey & 0x7fff)
            && ((pkey | hca.pkey) & 0x8000) && (pkey & 0x7fff));
}

/* Queues async event 'type' for 'element' on 'ctx' (NULL: every
 * context, for port events). */
static void
async_event(struct hca_ctx *ctx, enum ibv_event_type type, void *element)
{
    struct hca_async_msg m = { .type = type, .element = element };

    for (struct hca_ctx *c = hca.ctxs; c; c = c->next) {
        if (!ctx || c == ctx) {
            write_all(c->async_wfd, &m, sizeof m);
        }
    }
    hca_log("async event %s", ibv_event_type_str(type));
}

/* ------------------------------------------------------------------ */
/* CQs and queues. */

/* Adds 'e' to 'cq'.  'solicited' tells whether it is a solicited
 * completion (for req_notify_cq(cq, 1)). */
static void
cq_push(struct hca_cq *cq, const struct hca_cqe *e, bool solicited)
{
    struct hca_channel *ch;

    if (cq->overrun) {
        hca.c.cq_overrun++;
        return;
    }
    if (cq->count >= (unsigned int) cq->cq.cqe) {
        /* Hardware writes past the consumer: the CQ is in error and the
         * completion is lost. */
        cq->overrun = true;
        hca.c.cq_overrun++;
        async_event(cq->ctx, IBV_EVENT_CQ_ERR, &cq->cq);
        return;
    }
    cq->ring[(cq->head + cq->count) % cq->cq.cqe] = *e;
    cq->count++;
    if (cq->armed && cq->cq.channel
        && (!cq->solicited_only || solicited
            || e->wc.status != IBV_WC_SUCCESS)) {
        struct ibv_cq *p = &cq->cq;

        ch = (struct hca_channel *) cq->cq.channel;
        cq->armed = false;
        write_all(ch->wfd, &p, sizeof p);
    }
}

static void
send_completion(struct hca_qp *qp, uint64_t wr_id, uint64_t seq,
                enum ibv_wc_status status, uint32_t byte_len)
{
    struct hca_cqe e;

    memset(&e, 0, sizeof e);
    e.wc.wr_id = wr_id;
    e.wc.status = status;
    e.wc.opcode = IBV_WC_SEND;
    e.wc.byte_len = byte_len;
    e.wc.qp_num = qp->qp.qp_num;
    e.is_send = true;
    e.sq_seq = seq;
    cq_push(qp->scq, &e, false);
}

static struct hca_rq *
qp_rq(struct hca_qp *qp)
{
    return qp->srq ? &qp->srq->rq : &qp->rq;
}

static int
rq_init(struct hca_rq *rq, unsigned int max_wr, unsigned int max_sge)
{
    memset(rq, 0, sizeof *rq);
    rq->max_wr = max_wr;
    rq->max_sge = max_sge ? max_sge : 1;
    if (!max_wr) {
        return 0;
    }
    rq->wqes = calloc(max_wr, sizeof *rq->wqes);
    rq->sges = calloc((size_t) max_wr * rq->max_sge, sizeof *rq->sges);
    if (!rq->wqes || !rq->sges) {
        free(rq->wqes);
        free(rq->sges);
        return ENOMEM;
    }
    for (unsigned int i = 0; i < max_wr; i++) {
        rq->wqes[i].sge = &rq->sges[(size_t) i * rq->max_sge];
    }
    return 0;
}

static void
rq_destroy(struct hca_rq *rq)
{
    free(rq->wqes);
    free(rq->sges);
}

/* Posts receive WRs to 'rq'; 'qp' is the QP for a QP's own RQ (flushes in
 * the error state), NULL for an SRQ. */
static int
rq_post(struct hca_rq *rq, struct hca_qp *qp, struct ibv_recv_wr *wr,
        struct ibv_recv_wr **bad_wr)
{
    for (; wr; wr = wr->next) {
        struct hca_rwqe *w;

        if (wr->num_sge < 0 || (unsigned int) wr->num_sge > rq->max_sge) {
            *bad_wr = wr;
            return EINVAL;
        }
        if (rq->used >= rq->max_wr) {
            *bad_wr = wr;
            return ENOMEM;
        }
        rq->used++;
        if (qp && qp->state == IBV_QPS_ERR) {
            struct hca_cqe e;

            memset(&e, 0, sizeof e);
            e.wc.wr_id = wr->wr_id;
            e.wc.status = IBV_WC_WR_FLUSH_ERR;
            e.wc.opcode = IBV_WC_RECV;
            e.wc.qp_num = qp->qp.qp_num;
            cq_push(qp->rcq, &e, false);
            continue;
        }
        w = &rq->wqes[(rq->head + rq->posted) % rq->max_wr];
        w->wr_id = wr->wr_id;
        w->num_sge = wr->num_sge;
        memcpy(w->sge, wr->sg_list, wr->num_sge * sizeof *w->sge);
        rq->posted++;
    }
    return 0;
}

static struct hca_mr *
find_mr(uint32_t lkey)
{
    for (struct hca_mr *mr = hca.mrs; mr; mr = mr->next) {
        if (mr->mr.lkey == lkey) {
            return mr;
        }
    }
    return NULL;
}

/* True if 'sge' lies in an MR of 'pd' that allows 'access'. */
static bool
sge_ok(const struct ibv_sge *sge, struct hca_pd *pd, int access)
{
    struct hca_mr *mr = find_mr(sge->lkey);
    uintptr_t start, end;

    if (!mr || mr->mr.pd != &pd->pd || (mr->access & access) != access) {
        return false;
    }
    start = (uintptr_t) mr->mr.addr;
    end = start + mr->mr.length;
    return (sge->addr >= start && sge->addr <= end
            && sge->length <= end - sge->addr);
}

static void close_qpn(struct hca_qp *);
static void tx_fail(struct hca_qp *, uint64_t wr_id, uint64_t seq);

/* Moves 'qp' to the error state: closes its QPN on the fabric and flushes
 * its own RQ and its unsent sends. */
static void
qp_to_error(struct hca_qp *qp)
{
    struct hca_rq *rq = &qp->rq;

    qp->state = IBV_QPS_ERR;
    qp->qp.state = IBV_QPS_ERR;
    close_qpn(qp);
    if (!qp->srq) {
        while (rq->posted) {
            struct hca_rwqe *w = &rq->wqes[rq->head];
            struct hca_cqe e;

            memset(&e, 0, sizeof e);
            e.wc.wr_id = w->wr_id;
            e.wc.status = IBV_WC_WR_FLUSH_ERR;
            e.wc.opcode = IBV_WC_RECV;
            e.wc.qp_num = qp->qp.qp_num;
            rq->head = (rq->head + 1) % rq->max_wr;
            rq->posted--;
            cq_push(qp->rcq, &e, false);
        }
    }
    for (struct hca_txpkt **pp = &hca.tx_head; *pp;) {
        struct hca_txpkt *t = *pp;

        if (t->qpn == qp->qp.qp_num) {
            *pp = t->next;
            send_completion(qp, t->wr_id, t->sq_seq, IBV_WC_WR_FLUSH_ERR, 0);
            free(t);
        } else {
            pp = &t->next;
        }
    }
    hca.tx_tail = &hca.tx_head;
    while (*hca.tx_tail) {
        hca.tx_tail = &(*hca.tx_tail)->next;
    }
}

/* ------------------------------------------------------------------ */
/* Fabric port: open, loss, reconnect. */

static void cm_port_lost(void);
static long long cm_run_joins(void);

static void
open_qpn(struct hca_qp *qp)
{
    int err;

    if (!hca.up) {
        /* Restored when the port comes back. */
        qp->fabric_open = true;
        return;
    }
    err = ibb_port_qp_open(hca.port, qp->qp.qp_num, qp->qkey);
    qp->fabric_open = !err;
    if (err) {
        hca_log("QP 0x%06x: open on the fabric failed: %s", qp->qp.qp_num,
                ibb_port_error(hca.port));
    }
    hca_kick();
}

static void
close_qpn(struct hca_qp *qp)
{
    if (qp->fabric_open) {
        qp->fabric_open = false;
        ibb_port_qp_close(hca.port, qp->qp.qp_num);
        hca_kick();
    }
}

/* Completes queued sends as if sent (the port is down: the packets are
 * lost on the wire, as with a dead link). */
static void
tx_discard(void)
{
    while (hca.tx_head) {
        struct hca_txpkt *t = hca.tx_head;
        struct hca_qp *qp = find_qp(t->qpn);

        hca.tx_head = t->next;
        if (t->fail) {
            /* A local error does not depend on the link. */
            if (qp) {
                tx_fail(qp, t->wr_id, t->sq_seq);
            }
            free(t);
            continue;
        }
        hca.c.tx_port_down++;
        if (qp && t->signaled) {
            send_completion(qp, t->wr_id, t->sq_seq, IBV_WC_SUCCESS, 0);
        }
        free(t);
    }
    hca.tx_tail = &hca.tx_head;
}

/* The fabric went away. */
static void
port_lost(void)
{
    if (!hca.up) {
        return;
    }
    hca_log("fabric connection lost: %s", ibb_port_error(hca.port));
    hca.up = false;
    hca.c.port_err++;
    hca.attr.state = IBB_PORT_DOWN;
    hca.next_retry = now_ms() + HCA_RETRY_MS;
    tx_discard();

    /* The SA memberships die with the SM: forget them in the port object
     * too, so that ibb_port_reconnect() does not restore them. */
    while (hca.groups) {
        struct hca_group *g = hca.groups;

        hca.groups = g->next;
        ibb_port_mcast_leave(hca.port, g->mgid);
        free(g);
    }
    async_event(NULL, IBV_EVENT_PORT_ERR, NULL);
    cm_port_lost();
}

static void
port_try_reconnect(void)
{
    int err;

    hca.next_retry = now_ms() + HCA_RETRY_MS;
    err = ibb_port_reconnect(hca.port);
    if (err) {
        return;
    }
    ibb_port_query(hca.port, &hca.attr);
    hca.up = true;
    /* QPs that reached RTR while the port was down. */
    for (struct hca_qp *qp = hca.qps; qp; qp = qp->next) {
        if (qp->fabric_open) {
            open_qpn(qp);
        }
    }
    hca_log("fabric connection back, LID %u", hca.attr.lid);
    async_event(NULL, IBV_EVENT_PORT_ACTIVE, NULL);
    async_event(NULL, IBV_EVENT_CLIENT_REREGISTER, NULL);
}

/* ------------------------------------------------------------------ */
/* Receive. */

/* Writes 'len' bytes of 'src' at 'ofs' into the scatter list of 'w'. */
static void
scatter(const struct hca_rwqe *w, size_t ofs, const uint8_t *src,
        size_t len)
{
    for (int i = 0; i < w->num_sge && len; i++) {
        const struct ibv_sge *s = &w->sge[i];
        size_t n;

        if (ofs >= s->length) {
            ofs -= s->length;
            continue;
        }
        n = s->length - ofs;
        if (n > len) {
            n = len;
        }
        memcpy((uint8_t *) (uintptr_t) s->addr + ofs, src, n);
        src += n;
        len -= n;
        ofs = 0;
    }
}

/* A packet that passed the checks, parsed. */
struct rx_pkt {
    const struct ibb_lrh *lrh;  /* LRH. */
    const struct ibb_grh *grh;  /* GRH or NULL. */
    const struct ibb_bth *bth;  /* BTH. */
    const struct ibb_deth *deth; /* DETH. */
    const uint8_t *imm;         /* ImmDt bytes or NULL. */
    const uint8_t *payload;     /* Payload. */
    size_t len;                 /* Payload length, without pad. */
};

static void
deliver_to_qp(struct hca_qp *qp, const struct rx_pkt *p)
{
    struct hca_rq *rq = qp_rq(qp);
    struct hca_rwqe *w;
    struct hca_cqe e;
    size_t room = 0;

    if (!rq->posted) {
        HCA_DROP(rx_rnr, "QP 0x%06x has no receive WQE", qp->qp.qp_num);
        return;
    }
    w = &rq->wqes[rq->head];
    rq->head = (rq->head + 1) % rq->max_wr;
    rq->posted--;

    memset(&e, 0, sizeof e);
    e.wc.wr_id = w->wr_id;
    e.wc.qp_num = qp->qp.qp_num;
    e.wc.opcode = IBV_WC_RECV;
    for (int i = 0; i < w->num_sge; i++) {
        if (!sge_ok(&w->sge[i], qp->pd, IBV_ACCESS_LOCAL_WRITE)) {
            hca.c.rx_prot_err++;
            e.wc.status = IBV_WC_LOC_PROT_ERR;
            cq_push(qp->rcq, &e, false);
            qp_to_error(qp);
            return;
        }
        room += w->sge[i].length;
    }
    if (room < IBB_GRH_LEN + p->len) {
        hca.c.rx_len_err++;
        e.wc.status = IBV_WC_LOC_LEN_ERR;
        cq_push(qp->rcq, &e, false);
        qp_to_error(qp);
        return;
    }
    if (p->grh) {
        scatter(w, 0, (const uint8_t *) p->grh, IBB_GRH_LEN);
        e.wc.wc_flags |= IBV_WC_GRH;
    }
    scatter(w, IBB_GRH_LEN, p->payload, p->len);
    e.wc.status = IBV_WC_SUCCESS;
    e.wc.byte_len = IBB_GRH_LEN + p->len;
    e.wc.src_qp = ibb_deth_sqpn(p->deth);
    e.wc.slid = ibb_lrh_slid(p->lrh);
    e.wc.sl = ibb_lrh_sl(p->lrh);
    e.wc.pkey_index = 0;
    e.wc.dlid_path_bits = 0;
    if (p->imm) {
        /* Network byte order, as the API gives it. */
        memcpy(&e.wc.imm_data, p->imm, 4);
        e.wc.wc_flags |= IBV_WC_WITH_IMM;
    }
    hca.c.rx_delivered++;
    cq_push(qp->rcq, &e, ibb_bth_se(p->bth));
}

static bool
qp_receives(const struct hca_qp *qp)
{
    return qp->state == IBV_QPS_RTR || qp->state == IBV_QPS_RTS;
}

/* Parses and checks 'pkt' ('len' bytes, LRH .. VCRC) as the HCA's receive
 * logic does.  Returns false (and counts) if it is dropped. */
static bool
rx_parse(const uint8_t *pkt, size_t len, struct rx_pkt *p)
{
    size_t ofs = IBB_LRH_LEN, end;
    uint8_t op;

    memset(p, 0, sizeof *p);
    if (len < IBB_LRH_LEN + IBB_BTH_LEN + IBB_DETH_LEN + IBB_ICRC_LEN
        + IBB_VCRC_LEN) {
        HCA_DROP(rx_malformed, "%zu-byte packet too short", len);
        return false;
    }
    if (ibb_vcrc_get(pkt + len - IBB_VCRC_LEN)
        != ibb_vcrc16(0, pkt, len - IBB_VCRC_LEN)) {
        HCA_DROP(rx_bad_vcrc, "%zu-byte packet", len);
        return false;
    }
    p->lrh = (const struct ibb_lrh *) pkt;
    if (ibb_lrh_lver(p->lrh)
        || ibb_lrh_pktlen(p->lrh) * 4 != len - IBB_VCRC_LEN) {
        HCA_DROP(rx_malformed, "bad LVer or PktLen");
        return false;
    }
    if (ibb_lrh_lnh(p->lrh) == IBB_LNH_GLOBAL) {
        p->grh = (const struct ibb_grh *) (pkt + ofs);
        ofs += IBB_GRH_LEN;
        if (len < ofs + IBB_BTH_LEN + IBB_DETH_LEN + IBB_ICRC_LEN
            + IBB_VCRC_LEN
            || ibb_grh_ipver(p->grh) != IBB_GRH_IPVER
            || ibb_grh_nxthdr(p->grh) != IBB_GRH_NXTHDR
            || ibb_grh_paylen(p->grh) != len - IBB_VCRC_LEN - ofs) {
            HCA_DROP(rx_malformed, "bad GRH");
            return false;
        }
    } else if (ibb_lrh_lnh(p->lrh) != IBB_LNH_LOCAL) {
        HCA_DROP(rx_malformed, "LNH %u", ibb_lrh_lnh(p->lrh));
        return false;
    }
    if (ibb_icrc_ib_check(pkt, len - IBB_VCRC_LEN)) {
        HCA_DROP(rx_bad_icrc, "%zu-byte packet", len);
        return false;
    }
    p->bth = (const struct ibb_bth *) (pkt + ofs);
    op = ibb_bth_opcode(p->bth);
    if (op != IBB_OP_UD_SEND_ONLY && op != IBB_OP_UD_SEND_ONLY_WITH_IMM) {
        HCA_DROP(rx_bad_opcode, "opcode 0x%02x", op);
        return false;
    }
    if (ibb_bth_tver(p->bth)) {
        HCA_DROP(rx_malformed, "TVer %u", ibb_bth_tver(p->bth));
        return false;
    }
    if (!pkey_ok(ibb_bth_pkey(p->bth))) {
        HCA_DROP(rx_bad_pkey, "P_Key 0x%04x", ibb_bth_pkey(p->bth));
        return false;
    }
    ofs += IBB_BTH_LEN;
    p->deth = (const struct ibb_deth *) (pkt + ofs);
    ofs += IBB_DETH_LEN;
    end = len - IBB_VCRC_LEN - IBB_ICRC_LEN;
    if (op == IBB_OP_UD_SEND_ONLY_WITH_IMM) {
        if (ofs + IBB_IMMDT_LEN > end) {
            HCA_DROP(rx_malformed, "no room for ImmDt");
            return false;
        }
        p->imm = pkt + ofs;
        ofs += IBB_IMMDT_LEN;
    }
    if (ofs + ibb_bth_pad(p->bth) > end) {
        HCA_DROP(rx_malformed, "PadCnt beyond the payload");
        return false;
    }
    p->payload = pkt + ofs;
    p->len = end - ofs - ibb_bth_pad(p->bth);
    return true;
}

static void
rx_packet(const uint8_t *pkt, size_t len)
{
    struct rx_pkt p;
    uint32_t dqpn, qkey;
    uint16_t dlid;
    struct hca_qp *qp;

    hca.c.rx_packets++;
    if (!rx_parse(pkt, len, &p)) {
        return;
    }
    dqpn = ibb_bth_qpn(p.bth);
    qkey = ibb_deth_qkey(p.deth);
    dlid = ibb_lrh_dlid(p.lrh);

    if (dlid >= IBB_LID_MCAST_MIN && dlid != IBB_LID_PERMISSIVE) {
        uint32_t sqpn = ibb_deth_sqpn(p.deth);
        bool from_us = ibb_lrh_slid(p.lrh) == hca.attr.lid;
        bool any = false;

        if (!p.grh || !ibb_gid_is_multicast(p.grh->dgid)
            || dqpn != IBB_MULTICAST_QPN) {
            HCA_DROP(rx_malformed, "multicast DLID 0x%04x without "
                     "multicast GRH and DestQP", dlid);
            return;
        }
        for (qp = hca.qps; qp; qp = qp->next) {
            bool attached = false;

            for (size_t i = 0; i < qp->n_attach && !attached; i++) {
                attached = !memcmp(qp->attach[i].mgid, p.grh->dgid, 16);
            }
            if (!attached || !qp_receives(qp)) {
                continue;
            }
            any = true;
            if (from_us && sqpn == qp->qp.qp_num && qp->block_self_mcast) {
                continue;
            }
            if (qkey != qp->qkey) {
                HCA_DROP(rx_bad_qkey, "multicast to QP 0x%06x: Q_Key "
                         "0x%08x, QP has 0x%08x", qp->qp.qp_num, qkey,
                         qp->qkey);
                continue;
            }
            deliver_to_qp(qp, &p);
        }
        if (!any) {
            HCA_DROP(rx_mcast_no_qp, "no QP attached");
        }
        return;
    }

    if (dlid != hca.attr.lid) {
        HCA_DROP(rx_bad_dlid, "DLID %u", dlid);
        return;
    }
    qp = dqpn == IBB_MULTICAST_QPN ? NULL : find_qp(dqpn);
    if (!qp) {
        HCA_DROP(rx_no_qp, "DestQP 0x%06x", dqpn);
        return;
    }
    if (!qp_receives(qp)) {
        HCA_DROP(rx_qp_state, "QP 0x%06x in state %d", dqpn, qp->state);
        return;
    }
    if (p.grh && memcmp(p.grh->dgid, hca.attr.gid, 16)) {
        char buf[IBB_GID_STRLEN];

        HCA_DROP(rx_bad_dgid, "DGID %s",
                 ibb_gid_format(p.grh->dgid, buf, sizeof buf));
        return;
    }
    if (qkey != qp->qkey) {
        HCA_DROP(rx_bad_qkey, "QP 0x%06x: Q_Key 0x%08x, QP has 0x%08x",
                 dqpn, qkey, qp->qkey);
        return;
    }
    deliver_to_qp(qp, &p);
}

/* ------------------------------------------------------------------ */
/* Send. */

/* The injected local QP operation error (IBSIM_VERBS_FAIL_SEND) of the
 * send WQE 'wr_id', 'seq' on 'qp': an error completion, whether signaled
 * or not, and the QP in ERR. */
static void
tx_fail(struct hca_qp *qp, uint64_t wr_id, uint64_t seq)
{
    hca.c.tx_qp_op_err++;
    hca_log("QP 0x%06x: injected local QP operation error", qp->qp.qp_num);
    send_completion(qp, wr_id, seq, IBV_WC_LOC_QP_OP_ERR, 0);
    qp_to_error(qp);
}

static bool tx_flush(void);

/* Queues the injected fault for 'wr' behind the sends before it, or fails
 * at once if nothing waits (the port is down or the backlog empty). */
static void
tx_queue_fail(struct hca_qp *qp, const struct ibv_send_wr *wr, uint64_t seq)
{
    struct hca_txpkt *t;

    if (!hca.up || !hca.tx_head || !(t = calloc(1, sizeof *t))) {
        tx_fail(qp, wr->wr_id, seq);
        return;
    }
    t->qpn = qp->qp.qp_num;
    t->wr_id = wr->wr_id;
    t->sq_seq = seq;
    t->fail = true;
    *hca.tx_tail = t;
    hca.tx_tail = &t->next;
    if (!tx_flush()) {
        hca_kick();
    }
}

/* Sends what waits in the backlog.  Returns true if all went out. */
static bool
tx_flush(void)
{
    while (hca.tx_head && hca.up) {
        struct hca_txpkt *t = hca.tx_head;
        struct ibb_port_buf buf = { .data = t->data, .size = t->len,
                                    .len = t->len };
        struct hca_qp *qp;
        size_t n;
        int err;

        if (t->fail) {
            /* The sends before it went out; this one fails the QP. */
            hca.tx_head = t->next;
            if (!hca.tx_head) {
                hca.tx_tail = &hca.tx_head;
            }
            qp = find_qp(t->qpn);
            if (qp) {
                tx_fail(qp, t->wr_id, t->sq_seq);
            }
            free(t);
            continue;
        }
        err = ibb_port_send(hca.port, &buf, 1, &n);
        if (err == EAGAIN) {
            return false;
        } else if (err && !ibb_port_is_up(hca.port)) {
            port_lost();
            return true;
        }
        hca.tx_head = t->next;
        if (!hca.tx_head) {
            hca.tx_tail = &hca.tx_head;
        }
        if (!err) {
            hca.c.tx_packets++;
        } else {
            hca_log("send failed: %s", ibb_port_error(hca.port));
        }
        qp = find_qp(t->qpn);
        if (qp && t->signaled) {
            send_completion(qp, t->wr_id, t->sq_seq, IBV_WC_SUCCESS, 0);
        }
        free(t);
    }
    return true;
}

/* Builds the packet for 'wr' on 'qp' with 'payload' of 'len' bytes and
 * queues it.  Caller checked everything. */
static void
tx_build(struct hca_qp *qp, const struct ibv_send_wr *wr, uint64_t seq,
         bool signaled, const uint8_t *payload, size_t len)
{
    const struct hca_ah *ah = (const struct hca_ah *) wr->wr.ud.ah;
    const struct ibv_ah_attr *a = &ah->attr;
    bool imm = wr->opcode == IBV_WR_SEND_WITH_IMM;
    uint8_t pad = ibb_pad_for_len(len);
    size_t hlen = IBB_LRH_LEN + (a->is_global ? IBB_GRH_LEN : 0);
    size_t tlen = (IBB_BTH_LEN + IBB_DETH_LEN + (imm ? IBB_IMMDT_LEN : 0)
                   + len + pad);
    size_t total = hlen + tlen + IBB_ICRC_LEN + IBB_VCRC_LEN;
    struct hca_txpkt *t = calloc(1, sizeof *t + total);
    uint32_t qkey = wr->wr.ud.remote_qkey;
    struct ibb_lrh *lrh;
    struct ibb_bth *bth;
    struct ibb_deth *deth;
    uint8_t *p;

    if (!t) {
        return;
    }
    t->qpn = qp->qp.qp_num;
    t->wr_id = wr->wr_id;
    t->sq_seq = seq;
    t->signaled = signaled;
    t->len = total;
    p = t->data;

    lrh = (struct ibb_lrh *) p;
    ibb_lrh_set_vl(lrh, 0);
    ibb_lrh_set_lver(lrh, 0);
    ibb_lrh_set_sl(lrh, a->sl);
    ibb_lrh_set_lnh(lrh, a->is_global ? IBB_LNH_GLOBAL : IBB_LNH_LOCAL);
    ibb_lrh_set_dlid(lrh, a->dlid);
    ibb_lrh_set_pktlen(lrh, (total - IBB_VCRC_LEN) / 4);
    ibb_lrh_set_slid(lrh, hca.attr.lid | a->src_path_bits);
    if (a->is_global) {
        struct ibb_grh *grh = (struct ibb_grh *) (p + IBB_LRH_LEN);

        ibb_grh_set_ipver(grh, IBB_GRH_IPVER);
        ibb_grh_set_tclass(grh, a->grh.traffic_class);
        ibb_grh_set_flow(grh, a->grh.flow_label);
        ibb_grh_set_paylen(grh, tlen + IBB_ICRC_LEN);
        ibb_grh_set_nxthdr(grh, IBB_GRH_NXTHDR);
        ibb_grh_set_hoplmt(grh, a->grh.hop_limit);
        /* GID table[sgid_index]: the table has one entry, index 0. */
        memcpy(grh->sgid, hca.attr.gid, 16);
        memcpy(grh->dgid, a->grh.dgid.raw, 16);
    }
    bth = (struct ibb_bth *) (p + hlen);
    ibb_bth_set_opcode(bth, imm ? IBB_OP_UD_SEND_ONLY_WITH_IMM
                                : IBB_OP_UD_SEND_ONLY);
    ibb_bth_set_se(bth, (wr->send_flags & IBV_SEND_SOLICITED) != 0);
    ibb_bth_set_pad(bth, pad);
    ibb_bth_set_tver(bth, 0);
    ibb_bth_set_pkey(bth, hca.pkey);
    ibb_bth_set_qpn(bth, wr->wr.ud.remote_qpn & 0xffffff);
    ibb_bth_set_psn(bth, qp->sq_psn);
    qp->sq_psn = (qp->sq_psn + 1) & 0xffffff;
    deth = (struct ibb_deth *) (p + hlen + IBB_BTH_LEN);
    if (qkey & HCA_CONTROLLED_QKEY) {
        qkey = qp->qkey;
    }
    ibb_deth_set_qkey(deth, qkey);
    ibb_deth_set_sqpn(deth, qp->qp.qp_num);
    p = (uint8_t *) deth + IBB_DETH_LEN;
    if (imm) {
        memcpy(p, &wr->imm_data, 4);
        p += IBB_IMMDT_LEN;
    }
    memcpy(p, payload, len);
    ibb_icrc_ib_generate(t->data, total - IBB_VCRC_LEN);
    ibb_vcrc_put(t->data + total - IBB_VCRC_LEN,
                 ibb_vcrc16(0, t->data, total - IBB_VCRC_LEN));

    if (!hca.up) {
        hca.c.tx_port_down++;
        if (signaled) {
            send_completion(qp, t->wr_id, seq, IBV_WC_SUCCESS, 0);
        }
        free(t);
        return;
    }
    *hca.tx_tail = t;
    hca.tx_tail = &t->next;
    if (!tx_flush()) {
        hca_kick();
    }
}

static int
hca_post_send(struct ibv_qp *ibqp, struct ibv_send_wr *wr,
              struct ibv_send_wr **bad_wr)
{
    static uint8_t buf[IBB_FABRIC_MAX_PACKET];
    struct hca_qp *qp = qp_cast(ibqp);
    int err = 0;

    pthread_mutex_lock(&hca.mutex);
    for (; wr; wr = wr->next) {
        bool signaled = qp->sq_sig_all || (wr->send_flags & IBV_SEND_SIGNALED);
        size_t len = 0;
        uint64_t seq;

        if (qp->state != IBV_QPS_RTS && qp->state != IBV_QPS_ERR) {
            err = EINVAL;
            break;
        }
        if ((wr->opcode != IBV_WR_SEND && wr->opcode != IBV_WR_SEND_WITH_IMM)
            || wr->num_sge < 0
            || (unsigned int) wr->num_sge > qp->cap.max_send_sge
            || !wr->wr.ud.ah || wr->wr.ud.ah->context != ibqp->context) {
            err = EINVAL;
            break;
        }
        if (qp->sq_head - qp->sq_retired >= qp->cap.max_send_wr) {
            err = ENOMEM;
            break;
        }
        for (int i = 0; i < wr->num_sge; i++) {
            len += wr->sg_list[i].length;
        }
        if ((wr->send_flags & IBV_SEND_INLINE)
            && len > qp->cap.max_inline_data) {
            err = EINVAL;
            break;
        }
        seq = qp->sq_head++;
        if (qp->state == IBV_QPS_ERR) {
            send_completion(qp, wr->wr_id, seq, IBV_WC_WR_FLUSH_ERR, 0);
            continue;
        }
        if (hca.fail_send && ++hca.n_sends == hca.fail_send) {
            tx_queue_fail(qp, wr, seq);
            continue;
        }
        if (len > hca.attr.mtu || len > IBB_FABRIC_MAX_PACKET - 128) {
            hca.c.tx_len_err++;
            send_completion(qp, wr->wr_id, seq, IBV_WC_LOC_LEN_ERR, 0);
            qp_to_error(qp);
            continue;
        }
        len = 0;
        for (int i = 0; i < wr->num_sge; i++) {
            const struct ibv_sge *s = &wr->sg_list[i];

            if (!(wr->send_flags & IBV_SEND_INLINE)
                && !sge_ok(s, qp->pd, 0)) {
                len = SIZE_MAX;
                break;
            }
            memcpy(buf + len, (const void *) (uintptr_t) s->addr, s->length);
            len += s->length;
        }
        if (len == SIZE_MAX) {
            hca.c.tx_prot_err++;
            send_completion(qp, wr->wr_id, seq, IBV_WC_LOC_PROT_ERR, 0);
            qp_to_error(qp);
            continue;
        }
        tx_build(qp, wr, seq, signaled, buf, len);
    }
    if (err) {
        *bad_wr = wr;
    }
    pthread_mutex_unlock(&hca.mutex);
    return err;
}

/* ------------------------------------------------------------------ */
/* The receive thread. */

static void *
hca_thread(void *arg)
{
    static uint8_t data[IBB_PORT_BURST][HCA_PKT_SIZE];

    (void) arg;
    for (;;) {
        struct pollfd pfd[2];
        int timeout = HCA_RETRY_MS;
        long long next_join;
        nfds_t n = 1;

        pthread_mutex_lock(&hca.mutex);
        if (hca.stop) {
            pthread_mutex_unlock(&hca.mutex);
            break;
        }
        if (!hca.up && now_ms() >= hca.next_retry) {
            port_try_reconnect();
        }
        next_join = cm_run_joins();
        if (next_join != LLONG_MAX) {
            long long wait = next_join - now_ms();

            timeout = wait <= 0 ? 0 : wait < timeout ? wait : timeout;
        }
        pfd[0].fd = hca.wake[0];
        pfd[0].events = POLLIN;
        if (hca.up) {
            pfd[1].fd = ibb_port_fd(hca.port);
            pfd[1].events = POLLIN | (hca.tx_head ? POLLOUT : 0);
            n = 2;
            if (ibb_port_has_pending(hca.port)) {
                timeout = 0;
            }
        }
        pthread_mutex_unlock(&hca.mutex);

        poll(pfd, n, timeout);
        if (pfd[0].revents & POLLIN) {
            char junk[64];

            while (read(hca.wake[0], junk, sizeof junk) > 0) {
                continue;
            }
        }

        pthread_mutex_lock(&hca.mutex);
        if (hca.up && !hca.stop) {
            struct ibb_port_buf bufs[IBB_PORT_BURST];
            size_t got;
            int err;

            for (int i = 0; i < IBB_PORT_BURST; i++) {
                bufs[i].data = data[i];
                bufs[i].size = HCA_PKT_SIZE;
            }
            for (int round = 0; round < 8; round++) {
                err = ibb_port_recv(hca.port, bufs, IBB_PORT_BURST, &got);
                for (size_t i = 0; i < got; i++) {
                    rx_packet(bufs[i].data, bufs[i].len);
                }
                if (err == EAGAIN || got < IBB_PORT_BURST) {
                    if (err && err != EAGAIN && !ibb_port_is_up(hca.port)) {
                        port_lost();
                    }
                    break;
                }
            }
            if (hca.up) {
                tx_flush();
            }
        }
        pthread_mutex_unlock(&hca.mutex);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Devices and contexts. */

struct ibv_device **
ibv_get_device_list(int *num_devices)
{
    struct ibv_device **list = calloc(2, sizeof *list);
    int n = 0;

    if (!list) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_lock(&hca.mutex);
    if (hca_configure()) {
        list[n++] = &hca.dev;
    }
    pthread_mutex_unlock(&hca.mutex);
    if (num_devices) {
        *num_devices = n;
    }
    return list;
}

void
ibv_free_device_list(struct ibv_device **list)
{
    free(list);
}

const char *
ibv_get_device_name(struct ibv_device *device)
{
    return device->name;
}

__be64
ibv_get_device_guid(struct ibv_device *device)
{
    (void) device;
    return htobe64(hca.attr.guid);
}

/* Opens the fabric port for the first context.  Caller holds the mutex. */
static int
hca_open_port(void)
{
    struct ibb_port_options opts;
    char *device, *error = NULL;
    int err;

    if (hca.n_open++) {
        return 0;
    }
    memset(&opts, 0, sizeof opts);
    opts.mode = IBB_PORT_STRICT;
    opts.pkey = hca.pkey;
    opts.name = hca.name;
    device = malloc(strlen(hca.fabric) + 5);
    if (!device) {
        hca.n_open--;
        return ENOMEM;
    }
    sprintf(device, "sim:%s", hca.fabric);
    err = ibb_port_open(device, &opts, &hca.port, &error);
    free(device);
    if (err) {
        fprintf(stderr, "ibsim-verbs: %s\n", error ? error : strerror(err));
        free(error);
        hca.n_open--;
        return err;
    }
    ibb_port_query(hca.port, &hca.attr);
    hca.up = true;
    hca.stop = false;
    err = make_pipe(hca.wake);
    if (!err) {
        fcntl(hca.wake[0], F_SETFL, O_NONBLOCK);
        err = pthread_create(&hca.thread, NULL, hca_thread, NULL);
    }
    if (err) {
        close_pipe(hca.wake);
        ibb_port_close(hca.port);
        hca.port = NULL;
        hca.up = false;
        hca.n_open--;
        return err;
    }
    hca_log("opened %s on fabric %s: LID %u", hca.dev.name, hca.fabric,
            hca.attr.lid);
    return 0;
}

/* Closes the port with the last context.  Caller holds the mutex, which
 * this drops and retakes while joining the thread. */
static void
hca_close_port(void)
{
    if (--hca.n_open) {
        return;
    }
    hca.stop = true;
    hca_kick();
    pthread_mutex_unlock(&hca.mutex);
    pthread_join(hca.thread, NULL);
    pthread_mutex_lock(&hca.mutex);
    close_pipe(hca.wake);
    hca_log_counters();
    while (hca.tx_head) {
        struct hca_txpkt *t = hca.tx_head;

        hca.tx_head = t->next;
        free(t);
    }
    hca.tx_tail = &hca.tx_head;
    while (hca.groups) {
        struct hca_group *g = hca.groups;

        hca.groups = g->next;
        free(g);
    }
    ibb_port_close(hca.port);
    hca.port = NULL;
    hca.up = false;
}

static int hca_poll_cq(struct ibv_cq *, int, struct ibv_wc *);
static int hca_req_notify_cq(struct ibv_cq *, int);
static int hca_post_recv(struct ibv_qp *, struct ibv_recv_wr *,
                         struct ibv_recv_wr **);
static int hca_post_srq_recv(struct ibv_srq *, struct ibv_recv_wr *,
                             struct ibv_recv_wr **);
static struct ibv_qp *hca_create_qp_ex(struct ibv_context *,
                                       struct ibv_qp_init_attr_ex *);
static int hca_query_port(struct ibv_context *, uint8_t,
                          struct ibv_port_attr *, size_t);

static struct hca_ctx *
ctx_open(void)
{
    struct hca_ctx *ctx;
    int fds[2];
    int err;

    if (!hca_configure()) {
        errno = ENODEV;
        return NULL;
    }
    ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        errno = ENOMEM;
        return NULL;
    }
    err = make_pipe(fds);
    if (err) {
        free(ctx);
        errno = err;
        return NULL;
    }
    err = hca_open_port();
    if (err) {
        close_pipe(fds);
        free(ctx);
        errno = err;
        return NULL;
    }
    ctx->async_wfd = fds[1];
    ctx->vctx.sz = sizeof ctx->vctx;
    ctx->vctx.query_port = hca_query_port;
    ctx->vctx.create_qp_ex = hca_create_qp_ex;
    ctx->vctx.context.device = &hca.dev;
    ctx->vctx.context.cmd_fd = -1;
    ctx->vctx.context.async_fd = fds[0];
    ctx->vctx.context.num_comp_vectors = 1;
    ctx->vctx.context.abi_compat = __VERBS_ABI_IS_EXTENDED;
    pthread_mutex_init(&ctx->vctx.context.mutex, NULL);
    ctx->vctx.context.ops.poll_cq = hca_poll_cq;
    ctx->vctx.context.ops.req_notify_cq = hca_req_notify_cq;
    ctx->vctx.context.ops.post_send = hca_post_send;
    ctx->vctx.context.ops.post_recv = hca_post_recv;
    ctx->vctx.context.ops.post_srq_recv = hca_post_srq_recv;
    ctx->next = hca.ctxs;
    hca.ctxs = ctx;
    return ctx;
}

static void
ctx_close(struct hca_ctx *ctx)
{
    for (struct hca_ctx **pp = &hca.ctxs; *pp; pp = &(*pp)->next) {
        if (*pp == ctx) {
            *pp = ctx->next;
            break;
        }
    }
    hca_close_port();
    close(ctx->async_wfd);
    close(ctx->vctx.context.async_fd);
    pthread_mutex_destroy(&ctx->vctx.context.mutex);
    free(ctx);
}

struct ibv_context *
ibv_open_device(struct ibv_device *device)
{
    struct hca_ctx *ctx;

    if (device != &hca.dev) {
        errno = ENODEV;
        return NULL;
    }
    pthread_mutex_lock(&hca.mutex);
    ctx = ctx_open();
    pthread_mutex_unlock(&hca.mutex);
    return ctx ? &ctx->vctx.context : NULL;
}

int
ibv_close_device(struct ibv_context *context)
{
    pthread_mutex_lock(&hca.mutex);
    ctx_close(ctx_cast(context));
    pthread_mutex_unlock(&hca.mutex);
    return 0;
}

int
ibv_query_device(struct ibv_context *context,
                 struct ibv_device_attr *attr)
{
    (void) context;
    memset(attr, 0, sizeof *attr);
    pthread_mutex_lock(&hca.mutex);
    snprintf(attr->fw_ver, sizeof attr->fw_ver, "16.35.1012 (ibsim)");
    attr->node_guid = htobe64(hca.attr.guid);
    attr->sys_image_guid = htobe64(hca.attr.guid);
    pthread_mutex_unlock(&hca.mutex);
    attr->max_mr_size = UINT64_MAX;
    attr->page_size_cap = 0xfffffffffffff000ULL;
    attr->vendor_id = 0x02c9;
    attr->vendor_part_id = 4119;
    attr->hw_ver = 0;
    attr->max_qp = HCA_MAX_QP;
    attr->max_qp_wr = HCA_MAX_QP_WR;
    attr->device_cap_flags = (IBV_DEVICE_PORT_ACTIVE_EVENT
                              | IBV_DEVICE_SYS_IMAGE_GUID
                              | IBV_DEVICE_RC_RNR_NAK_GEN
                              | IBV_DEVICE_UD_AV_PORT_ENFORCE);
    attr->max_sge = HCA_MAX_SGE;
    attr->max_sge_rd = HCA_MAX_SGE;
    attr->max_cq = HCA_MAX_CQ;
    attr->max_cqe = HCA_MAX_CQE;
    attr->max_mr = 1 << 24;
    attr->max_pd = 1 << 24;
    attr->max_qp_rd_atom = 16;
    attr->max_ee_rd_atom = 0;
    attr->max_res_rd_atom = 16 * HCA_MAX_QP;
    attr->max_qp_init_rd_atom = 16;
    attr->atomic_cap = IBV_ATOMIC_HCA;
    attr->max_mcast_grp = 1 << 21;
    attr->max_mcast_qp_attach = HCA_MAX_MCAST_QP_ATTACH;
    attr->max_total_mcast_qp_attach = HCA_MAX_MCAST_QP_ATTACH * (1 << 21);
    attr->max_ah = INT32_MAX;
    attr->max_srq = 1 << 23;
    attr->max_srq_wr = HCA_MAX_SRQ_WR;
    attr->max_srq_sge = HCA_MAX_SRQ_SGE;
    attr->max_pkeys = 1;
    attr->local_ca_ack_delay = 16;
    attr->phys_port_cnt = 1;
    return 0;
}

static void
fill_port_attr(struct ibv_port_attr *a)
{
    memset(a, 0, sizeof *a);
    a->state = hca.up ? IBV_PORT_ACTIVE : IBV_PORT_DOWN;
    a->max_mtu = IBV_MTU_4096;
    switch (hca.attr.mtu) {
    case 256:
        a->active_mtu = IBV_MTU_256;
        break;
    case 512:
        a->active_mtu = IBV_MTU_512;
        break;
    case 1024:
        a->active_mtu = IBV_MTU_1024;
        break;
    case 2048:
        a->active_mtu = IBV_MTU_2048;
        break;
    default:
        a->active_mtu = IBV_MTU_4096;
        break;
    }
    a->gid_tbl_len = 1;
    a->port_cap_flags = IBV_PORT_CLIENT_REG_SUP;
    a->max_msg_sz = 1 << 30;
    a->pkey_tbl_len = 1;
    a->lid = hca.up ? hca.attr.lid : 0;
    a->sm_lid = hca.up ? hca.attr.sm_lid : 0;
    a->lmc = 0;
    a->max_vl_num = 1;
    a->sm_sl = 0;
    a->subnet_timeout = 18;
    a->active_width = 2;        /* 4X. */
    a->active_speed = 32;       /* EDR. */
    a->phys_state = hca.up ? 5 : 3;     /* LinkUp, Disabled. */
    a->link_layer = IBV_LINK_LAYER_INFINIBAND;
}

static int
hca_query_port(struct ibv_context *context, uint8_t port_num,
               struct ibv_port_attr *port_attr, size_t port_attr_len)
{
    struct ibv_port_attr a;

    (void) context;
    if (port_num != HCA_PORT_NUM) {
        return EINVAL;
    }
    pthread_mutex_lock(&hca.mutex);
    fill_port_attr(&a);
    pthread_mutex_unlock(&hca.mutex);
    memcpy(port_attr, &a, port_attr_len < sizeof a ? port_attr_len
                                                   : sizeof a);
    return 0;
}

int
(ibv_query_port)(struct ibv_context *context, uint8_t port_num,
                 struct _compat_ibv_port_attr *port_attr)
{
    /* The compat struct is struct ibv_port_attr up to 'flags'. */
    return hca_query_port(context, port_num,
                          (struct ibv_port_attr *) port_attr,
                          offsetof(struct ibv_port_attr, port_cap_flags2));
}

int
ibv_query_gid(struct ibv_context *context, uint8_t port_num, int index,
              union ibv_gid *gid)
{
    (void) context;
    if (port_num != HCA_PORT_NUM || index != 0) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&hca.mutex);
    memcpy(gid->raw, hca.attr.gid, 16);
    pthread_mutex_unlock(&hca.mutex);
    return 0;
}

int
ibv_query_pkey(struct ibv_context *context, uint8_t port_num, int index,
               __be16 *pkey)
{
    (void) context;
    if (port_num != HCA_PORT_NUM || index != 0) {
        errno = EINVAL;
        return -1;
    }
    *pkey = htobe16(hca.pkey);
    return 0;
}

/* ------------------------------------------------------------------ */
/* PDs, MRs, AHs. */

struct ibv_pd *
ibv_alloc_pd(struct ibv_context *context)
{
    struct hca_pd *pd = calloc(1, sizeof *pd);

    if (!pd) {
        errno = ENOMEM;
        return NULL;
    }
    pd->pd.context = context;
    return &pd->pd;
}

int
ibv_dealloc_pd(struct ibv_pd *ibpd)
{
    struct hca_pd *pd = (struct hca_pd *) ibpd;

    pthread_mutex_lock(&hca.mutex);
    if (pd->refs) {
        pthread_mutex_unlock(&hca.mutex);
        return EBUSY;
    }
    pthread_mutex_unlock(&hca.mutex);
    free(pd);
    return 0;
}

static struct ibv_mr *
reg_mr(struct ibv_pd *ibpd, void *addr, size_t length, int access)
{
    struct hca_pd *pd = (struct hca_pd *) ibpd;
    struct hca_mr *mr;

    /* Remote write or atomic access needs local write. */
    if ((access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC))
        && !(access & IBV_ACCESS_LOCAL_WRITE)) {
        errno = EINVAL;
        return NULL;
    }
    if (!length || (uintptr_t) addr + length < (uintptr_t) addr) {
        errno = EINVAL;
        return NULL;
    }
    mr = calloc(1, sizeof *mr);
    if (!mr) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_lock(&hca.mutex);
    mr->mr.context = ibpd->context;
    mr->mr.pd = ibpd;
    mr->mr.addr = addr;
    mr->mr.length = length;
    mr->mr.lkey = hca.next_key;
    mr->mr.rkey = hca.next_key;
    mr->mr.handle = hca.next_key;
    hca.next_key += 0x100;
    mr->access = access;
    mr->next = hca.mrs;
    hca.mrs = mr;
    pd->refs++;
    pthread_mutex_unlock(&hca.mutex);
    return &mr->mr;
}

struct ibv_mr *
(ibv_reg_mr)(struct ibv_pd *pd, void *addr, size_t length, int access)
{
    return reg_mr(pd, addr, length, access);
}

struct ibv_mr *
(ibv_reg_mr_iova)(struct ibv_pd *pd, void *addr, size_t length,
                  uint64_t iova, int access)
{
    if (iova != (uintptr_t) addr) {
        errno = EOPNOTSUPP;
        return NULL;
    }
    return reg_mr(pd, addr, length, access);
}

struct ibv_mr *
ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
                 uint64_t iova, unsigned int access)
{
    return (ibv_reg_mr_iova)(pd, addr, length, iova,
                             access & ~IBV_ACCESS_OPTIONAL_RANGE);
}

int
ibv_dereg_mr(struct ibv_mr *ibmr)
{
    struct hca_mr *mr = (struct hca_mr *) ibmr;

    pthread_mutex_lock(&hca.mutex);
    for (struct hca_mr **pp = &hca.mrs; *pp; pp = &(*pp)->next) {
        if (*pp == mr) {
            *pp = mr->next;
            break;
        }
    }
    ((struct hca_pd *) ibmr->pd)->refs--;
    pthread_mutex_unlock(&hca.mutex);
    free(mr);
    return 0;
}

struct ibv_ah *
ibv_create_ah(struct ibv_pd *ibpd, struct ibv_ah_attr *attr)
{
    struct hca_pd *pd = (struct hca_pd *) ibpd;
    struct hca_ah *ah;

    if (attr->port_num != HCA_PORT_NUM || attr->sl > 15
        || attr->src_path_bits
        || (attr->is_global && attr->grh.sgid_index != 0)
        || (attr->is_global && attr->grh.flow_label > IBB_GRH_FLOW_MASK)) {
        errno = EINVAL;
        return NULL;
    }
    ah = calloc(1, sizeof *ah);
    if (!ah) {
        errno = ENOMEM;
        return NULL;
    }
    ah->ah.context = ibpd->context;
    ah->ah.pd = ibpd;
    ah->attr = *attr;
    pthread_mutex_lock(&hca.mutex);
    pd->refs++;
    pthread_mutex_unlock(&hca.mutex);
    return &ah->ah;
}

int
ibv_destroy_ah(struct ibv_ah *ah)
{
    pthread_mutex_lock(&hca.mutex);
    ((struct hca_pd *) ah->pd)->refs--;
    pthread_mutex_unlock(&hca.mutex);
    free(ah);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Completion channels and CQs. */

struct ibv_comp_channel *
ibv_create_comp_channel(struct ibv_context *context)
{
    struct hca_channel *ch = calloc(1, sizeof *ch);
    int fds[2];
    int err;

    if (!ch) {
        errno = ENOMEM;
        return NULL;
    }
    err = make_pipe(fds);
    if (err) {
        free(ch);
        errno = err;
        return NULL;
    }
    ch->ch.context = context;
    ch->ch.fd = fds[0];
    ch->wfd = fds[1];
    return &ch->ch;
}

int
ibv_destroy_comp_channel(struct ibv_comp_channel *channel)
{
    struct hca_channel *ch = (struct hca_channel *) channel;

    pthread_mutex_lock(&hca.mutex);
    if (ch->refs) {
        pthread_mutex_unlock(&hca.mutex);
        return EBUSY;
    }
    pthread_mutex_unlock(&hca.mutex);
    close(ch->ch.fd);
    close(ch->wfd);
    free(ch);
    return 0;
}

struct ibv_cq *
ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
              struct ibv_comp_channel *channel, int comp_vector)
{
    struct hca_cq *cq;

    if (cqe < 1 || cqe > HCA_MAX_CQE || comp_vector != 0) {
        errno = EINVAL;
        return NULL;
    }
    cq = calloc(1, sizeof *cq);
    if (!cq) {
        errno = ENOMEM;
        return NULL;
    }
    cq->ring = calloc(cqe, sizeof *cq->ring);
    if (!cq->ring) {
        free(cq);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_lock(&hca.mutex);
    if (hca.n_cqs >= HCA_MAX_CQ) {
        pthread_mutex_unlock(&hca.mutex);
        free(cq->ring);
        free(cq);
        errno = ENOMEM;
        return NULL;
    }
    cq->cq.context = context;
    cq->cq.channel = channel;
    cq->cq.cq_context = cq_context;
    cq->cq.cqe = cqe;
    pthread_mutex_init(&cq->cq.mutex, NULL);
    pthread_cond_init(&cq->cq.cond, NULL);
    cq->ctx = ctx_cast(context);
    if (channel) {
        ((struct hca_channel *) channel)->refs++;
    }
    cq->next = hca.cqs;
    hca.cqs = cq;
    hca.n_cqs++;
    pthread_mutex_unlock(&hca.mutex);
    return &cq->cq;
}

int
ibv_destroy_cq(struct ibv_cq *ibcq)
{
    struct hca_cq *cq = cq_cast(ibcq);

    pthread_mutex_lock(&hca.mutex);
    /* libibverbs waits until every event the application read is
     * acknowledged; the model refuses instead.  Unread ones vanish. */
    if (cq->refs || cq->comp_events != ibcq->comp_events_completed
        || cq->async_events != ibcq->async_events_completed) {
        pthread_mutex_unlock(&hca.mutex);
        return EBUSY;
    }
    if (ibcq->channel) {
        struct hca_channel *ch = (struct hca_channel *) ibcq->channel;

        pipe_purge(ch->ch.fd, ch->wfd, sizeof(struct ibv_cq *), 0, ibcq);
    }
    pipe_purge(cq->ctx->vctx.context.async_fd, cq->ctx->async_wfd,
               sizeof(struct hca_async_msg),
               offsetof(struct hca_async_msg, element), ibcq);
    for (struct hca_cq **pp = &hca.cqs; *pp; pp = &(*pp)->next) {
        if (*pp == cq) {
            *pp = cq->next;
            break;
        }
    }
    hca.n_cqs--;
    if (ibcq->channel) {
        ((struct hca_channel *) ibcq->channel)->refs--;
    }
    pthread_mutex_unlock(&hca.mutex);
    pthread_mutex_destroy(&ibcq->mutex);
    pthread_cond_destroy(&ibcq->cond);
    free(cq->ring);
    free(cq);
    return 0;
}

/* Frees the queue slots that polling 'e' retires. */
static void
cqe_retire(const struct hca_cqe *e)
{
    struct hca_qp *qp = find_qp(e->wc.qp_num);

    if (!qp) {
        return;
    }
    if (e->is_send) {
        /* A completion retires its WQE and the unsignaled ones before. */
        if (e->sq_seq + 1 > qp->sq_retired) {
            qp->sq_retired = e->sq_seq + 1;
        }
    } else {
        struct hca_rq *rq = qp_rq(qp);

        if (rq->used) {
            rq->used--;
        }
    }
}

static int
hca_poll_cq(struct ibv_cq *ibcq, int num_entries, struct ibv_wc *wc)
{
    struct hca_cq *cq = cq_cast(ibcq);
    int n = 0;

    pthread_mutex_lock(&hca.mutex);
    while (n < num_entries && cq->count) {
        struct hca_cqe *e = &cq->ring[cq->head];

        wc[n++] = e->wc;
        cqe_retire(e);
        cq->head = (cq->head + 1) % ibcq->cqe;
        cq->count--;
    }
    pthread_mutex_unlock(&hca.mutex);
    return n;
}

static int
hca_req_notify_cq(struct ibv_cq *ibcq, int solicited_only)
{
    struct hca_cq *cq = cq_cast(ibcq);

    if (!ibcq->channel) {
        return EINVAL;
    }
    pthread_mutex_lock(&hca.mutex);
    cq->armed = true;
    cq->solicited_only = solicited_only != 0;
    pthread_mutex_unlock(&hca.mutex);
    return 0;
}

int
ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq,
                 void **cq_context)
{
    struct ibv_cq *p;
    ssize_t n;

    do {
        n = read(channel->fd, &p, sizeof p);
    } while (n < 0 && errno == EINTR);
    if (n != sizeof p) {
        if (n >= 0) {
            errno = EIO;
        }
        return -1;
    }
    pthread_mutex_lock(&hca.mutex);
    cq_cast(p)->comp_events++;
    pthread_mutex_unlock(&hca.mutex);
    *cq = p;
    *cq_context = p->cq_context;
    return 0;
}

void
ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
    pthread_mutex_lock(&hca.mutex);
    cq->comp_events_completed += nevents;
    pthread_mutex_unlock(&hca.mutex);
}

/* ------------------------------------------------------------------ */
/* SRQs. */

struct ibv_srq *
ibv_create_srq(struct ibv_pd *ibpd, struct ibv_srq_init_attr *attr)
{
    struct hca_pd *pd = (struct hca_pd *) ibpd;
    struct hca_srq *srq;
    int err;

    if (!attr->attr.max_wr || attr->attr.max_wr > HCA_MAX_SRQ_WR
        || attr->attr.max_sge > HCA_MAX_SRQ_SGE) {
        errno = EINVAL;
        return NULL;
    }
    srq = calloc(1, sizeof *srq);
    if (!srq) {
        errno = ENOMEM;
        return NULL;
    }
    err = rq_init(&srq->rq, attr->attr.max_wr, attr->attr.max_sge);
    if (err) {
        free(srq);
        errno = err;
        return NULL;
    }
    srq->srq.context = ibpd->context;
    srq->srq.srq_context = attr->srq_context;
    srq->srq.pd = ibpd;
    pthread_mutex_init(&srq->srq.mutex, NULL);
    pthread_cond_init(&srq->srq.cond, NULL);
    attr->attr.max_sge = srq->rq.max_sge;
    pthread_mutex_lock(&hca.mutex);
    pd->refs++;
    pthread_mutex_unlock(&hca.mutex);
    return &srq->srq;
}

int
ibv_destroy_srq(struct ibv_srq *ibsrq)
{
    struct hca_srq *srq = (struct hca_srq *) ibsrq;

    pthread_mutex_lock(&hca.mutex);
    if (srq->refs || srq->async_events != ibsrq->events_completed) {
        pthread_mutex_unlock(&hca.mutex);
        return EBUSY;
    }
    ((struct hca_pd *) ibsrq->pd)->refs--;
    pthread_mutex_unlock(&hca.mutex);
    pthread_mutex_destroy(&ibsrq->mutex);
    pthread_cond_destroy(&ibsrq->cond);
    rq_destroy(&srq->rq);
    free(srq);
    return 0;
}

static int
hca_post_srq_recv(struct ibv_srq *ibsrq, struct ibv_recv_wr *wr,
                  struct ibv_recv_wr **bad_wr)
{
    struct hca_srq *srq = (struct hca_srq *) ibsrq;
    int err;

    pthread_mutex_lock(&hca.mutex);
    err = rq_post(&srq->rq, NULL, wr, bad_wr);
    pthread_mutex_unlock(&hca.mutex);
    return err;
}

/* ------------------------------------------------------------------ */
/* QPs. */

/* Picks an unused QPN: 24 bits, never 0, 1 or 0xFFFFFF, spread out. */
static uint32_t
alloc_qpn(void)
{
    for (;;) {
        uint32_t qpn = hca.next_qpn;

        hca.next_qpn = (hca.next_qpn + 0x47) & 0xffffff;
        if (hca.next_qpn < 0x100) {
            hca.next_qpn = 0x100;
        }
        if (qpn > 1 && qpn != IBB_MULTICAST_QPN && !find_qp(qpn)) {
            return qpn;
        }
    }
}

static struct ibv_qp *
hca_create_qp_ex(struct ibv_context *context,
                 struct ibv_qp_init_attr_ex *attr)
{
    uint32_t known = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_CREATE_FLAGS;
    struct ibv_qp_cap *cap = &attr->cap;
    struct hca_pd *pd = (struct hca_pd *) attr->pd;
    struct hca_qp *qp;
    int err;

    if (attr->comp_mask & ~known) {
        errno = EOPNOTSUPP;
        return NULL;
    }
    if ((attr->comp_mask & IBV_QP_INIT_ATTR_CREATE_FLAGS)
        && (attr->create_flags & ~IBV_QP_CREATE_BLOCK_SELF_MCAST_LB)) {
        errno = EOPNOTSUPP;
        return NULL;
    }
    if (attr->qp_type != IBV_QPT_UD) {
        /* Only UD is modelled. */
        errno = EOPNOTSUPP;
        return NULL;
    }
    if (!(attr->comp_mask & IBV_QP_INIT_ATTR_PD) || !pd
        || pd->pd.context != context
        || !attr->send_cq || !attr->recv_cq
        || attr->send_cq->context != context
        || attr->recv_cq->context != context
        || !cap->max_send_wr || cap->max_send_wr > HCA_MAX_QP_WR
        || cap->max_send_sge > HCA_MAX_SGE
        || cap->max_inline_data > HCA_MAX_INLINE
        || (!attr->srq && (!cap->max_recv_wr
                           || cap->max_recv_wr > HCA_MAX_QP_WR
                           || cap->max_recv_sge > HCA_MAX_SGE))) {
        errno = EINVAL;
        return NULL;
    }
    qp = calloc(1, sizeof *qp);
    if (!qp) {
        errno = ENOMEM;
        return NULL;
    }
    if (attr->srq) {
        cap->max_recv_wr = 0;
        cap->max_recv_sge = 0;
    } else {
        err = rq_init(&qp->rq, cap->max_recv_wr, cap->max_recv_sge);
        if (err) {
            free(qp);
            errno = err;
            return NULL;
        }
        cap->max_recv_sge = qp->rq.max_sge;
    }
    if (!cap->max_send_sge) {
        cap->max_send_sge = 1;
    }

    pthread_mutex_lock(&hca.mutex);
    if (hca.n_qps >= HCA_MAX_QP) {
        pthread_mutex_unlock(&hca.mutex);
        rq_destroy(&qp->rq);
        free(qp);
        errno = ENOMEM;
        return NULL;
    }
    qp->qp.context = context;
    qp->qp.qp_context = attr->qp_context;
    qp->qp.pd = attr->pd;
    qp->qp.send_cq = attr->send_cq;
    qp->qp.recv_cq = attr->recv_cq;
    qp->qp.srq = attr->srq;
    qp->qp.qp_num = alloc_qpn();
    qp->qp.handle = qp->qp.qp_num;
    qp->qp.state = IBV_QPS_RESET;
    qp->qp.qp_type = IBV_QPT_UD;
    pthread_mutex_init(&qp->qp.mutex, NULL);
    pthread_cond_init(&qp->qp.cond, NULL);
    qp->ctx = ctx_cast(context);
    qp->pd = pd;
    qp->scq = cq_cast(attr->send_cq);
    qp->rcq = cq_cast(attr->recv_cq);
    qp->srq = (struct hca_srq *) attr->srq;
    qp->cap = *cap;
    qp->sq_sig_all = attr->sq_sig_all != 0;
    qp->block_self_mcast = ((attr->comp_mask & IBV_QP_INIT_ATTR_CREATE_FLAGS)
                            && (attr->create_flags
                                & IBV_QP_CREATE_BLOCK_SELF_MCAST_LB));
    qp->state = IBV_QPS_RESET;
    pd->refs++;
    qp->scq->refs++;
    qp->rcq->refs++;
    if (qp->srq) {
        qp->srq->refs++;
    }
    qp->next = hca.qps;
    hca.qps = qp;
    hca.n_qps++;
    hca_log("created UD QP 0x%06x", qp->qp.qp_num);
    pthread_mutex_unlock(&hca.mutex);
    return &qp->qp;
}

struct ibv_qp *
ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
    struct ibv_qp_init_attr_ex ex;
    struct ibv_qp *qp;

    memset(&ex, 0, sizeof ex);
    memcpy(&ex, attr, sizeof *attr);
    ex.comp_mask = IBV_QP_INIT_ATTR_PD;
    ex.pd = pd;
    qp = hca_create_qp_ex(pd->context, &ex);
    if (qp) {
        attr->cap = ex.cap;
    }
    return qp;
}

/* Empties a QP's own RQ without completions (the RESET transition). */
static void
qp_reset(struct hca_qp *qp)
{
    close_qpn(qp);
    qp->rq.head = 0;
    qp->rq.posted = 0;
    qp->rq.used = 0;
    qp->sq_retired = qp->sq_head;
    for (struct hca_txpkt **pp = &hca.tx_head; *pp;) {
        struct hca_txpkt *t = *pp;

        if (t->qpn == qp->qp.qp_num) {
            *pp = t->next;
            free(t);
        } else {
            pp = &t->next;
        }
    }
    hca.tx_tail = &hca.tx_head;
    while (*hca.tx_tail) {
        hca.tx_tail = &(*hca.tx_tail)->next;
    }
}

/* The attribute masks of the UD QP state table (IBA 11.2.5.1; the
 * kernel's ib_modify_qp_is_ok()): required and optional, per
 * transition. */
static bool
ud_masks(enum ibv_qp_state cur, enum ibv_qp_state next, int *req, int *opt)
{
    *req = IBV_QP_STATE;
    *opt = 0;
    if (next == IBV_QPS_RESET || next == IBV_QPS_ERR) {
        return true;
    }
    if (cur == IBV_QPS_RESET && next == IBV_QPS_INIT) {
        *req |= IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY;
    } else if (cur == IBV_QPS_INIT && next == IBV_QPS_INIT) {
        *opt = IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY;
    } else if (cur == IBV_QPS_INIT && next == IBV_QPS_RTR) {
        *opt = IBV_QP_PKEY_INDEX | IBV_QP_QKEY;
    } else if (cur == IBV_QPS_RTR && next == IBV_QPS_RTS) {
        *req |= IBV_QP_SQ_PSN;
        *opt = IBV_QP_CUR_STATE | IBV_QP_QKEY;
    } else if (cur == IBV_QPS_RTS && next == IBV_QPS_RTS) {
        *opt = IBV_QP_CUR_STATE | IBV_QP_QKEY;
    } else {
        return false;
    }
    return true;
}

int
ibv_modify_qp(struct ibv_qp *ibqp, struct ibv_qp_attr *attr, int mask)
{
    struct hca_qp *qp = qp_cast(ibqp);
    enum ibv_qp_state cur, next;
    int req, opt;

    pthread_mutex_lock(&hca.mutex);
    cur = qp->state;
    if ((mask & IBV_QP_CUR_STATE) && attr->cur_qp_state != cur) {
        goto einval;
    }
    next = mask & IBV_QP_STATE ? attr->qp_state : cur;
    if (!(mask & IBV_QP_STATE) || !ud_masks(cur, next, &req, &opt)
        || (mask & req) != req || (mask & ~(req | opt))) {
        goto einval;
    }
    if ((mask & IBV_QP_PORT) && attr->port_num != HCA_PORT_NUM) {
        goto einval;
    }
    if ((mask & IBV_QP_PKEY_INDEX) && attr->pkey_index != 0) {
        goto einval;
    }
    if ((mask & IBV_QP_QKEY) && (attr->qkey & HCA_CONTROLLED_QKEY)) {
        /* A controlled Q_Key needs privilege (CAP_NET_RAW). */
        pthread_mutex_unlock(&hca.mutex);
        return EPERM;
    }

    if (mask & IBV_QP_QKEY) {
        qp->qkey = attr->qkey;
    }
    if (mask & IBV_QP_PKEY_INDEX) {
        qp->pkey_index = attr->pkey_index;
    }
    if (mask & IBV_QP_SQ_PSN) {
        qp->sq_psn = attr->sq_psn & 0xffffff;
    }
    switch (next) {
    case IBV_QPS_RESET:
        qp_reset(qp);
        break;
    case IBV_QPS_ERR:
        qp_to_error(qp);
        break;
    case IBV_QPS_RTR:
    case IBV_QPS_RTS:
        /* Receiving starts at RTR; a new Q_Key reopens the QPN. */
        if (cur == IBV_QPS_INIT || (mask & IBV_QP_QKEY)) {
            open_qpn(qp);
        }
        break;
    default:
        break;
    }
    qp->state = next;
    ibqp->state = next;
    hca_log("QP 0x%06x: state %d -> %d", ibqp->qp_num, cur, next);
    pthread_mutex_unlock(&hca.mutex);
    return 0;

einval:
    pthread_mutex_unlock(&hca.mutex);
    return EINVAL;
}

int
ibv_destroy_qp(struct ibv_qp *ibqp)
{
    struct hca_qp *qp = qp_cast(ibqp);

    pthread_mutex_lock(&hca.mutex);
    if (qp->async_events != ibqp->events_completed) {
        pthread_mutex_unlock(&hca.mutex);
        return EBUSY;
    }
    if (qp->n_attach) {
        /* Each attachment holds a reference on the QP (the kernel's
         * ib_attach_mcast() takes qp->usecnt): detach first. */
        hca_log("QP 0x%06x: not destroyed, still attached to %zu "
                "multicast group(s)", ibqp->qp_num, qp->n_attach);
        pthread_mutex_unlock(&hca.mutex);
        return EBUSY;
    }
    qp_reset(qp);
    for (struct hca_qp **pp = &hca.qps; *pp; pp = &(*pp)->next) {
        if (*pp == qp) {
            *pp = qp->next;
            break;
        }
    }
    hca.n_qps--;
    qp->pd->refs--;
    qp->scq->refs--;
    qp->rcq->refs--;
    if (qp->srq) {
        qp->srq->refs--;
    }
    pthread_mutex_unlock(&hca.mutex);
    pthread_mutex_destroy(&ibqp->mutex);
    pthread_cond_destroy(&ibqp->cond);
    rq_destroy(&qp->rq);
    free(qp->attach);
    free(qp);
    return 0;
}

static int
hca_post_recv(struct ibv_qp *ibqp, struct ibv_recv_wr *wr,
              struct ibv_recv_wr **bad_wr)
{
    struct hca_qp *qp = qp_cast(ibqp);
    int err;

    pthread_mutex_lock(&hca.mutex);
    if (qp->srq || qp->state == IBV_QPS_RESET) {
        *bad_wr = wr;
        err = EINVAL;
    } else {
        err = rq_post(&qp->rq, qp, wr, bad_wr);
    }
    pthread_mutex_unlock(&hca.mutex);
    return err;
}

/* True if 'gid' and 'lid' may be given to ibv_attach_mcast() and
 * ibv_detach_mcast(): a multicast GID and a multicast LID (0xC000 to
 * 0xFFFE; the kernel's is_valid_mcast_lid() for an IB port). */
static bool
mcast_addr_ok(const union ibv_gid *gid, uint16_t lid, const char *what)
{
    if (!ibb_gid_is_multicast(gid->raw)
        || lid < IBB_LID_MCAST_MIN || lid == IBB_LID_PERMISSIVE) {
        char buf[IBB_GID_STRLEN];

        pthread_mutex_lock(&hca.mutex);
        hca_log("%s: refused GID %s with LID 0x%04x", what,
                ibb_gid_format(gid->raw, buf, sizeof buf), lid);
        pthread_mutex_unlock(&hca.mutex);
        return false;
    }
    return true;
}

int
ibv_attach_mcast(struct ibv_qp *ibqp, const union ibv_gid *gid, uint16_t lid)
{
    struct hca_qp *qp = qp_cast(ibqp);
    struct hca_attach *a;
    int err = 0;

    if (!mcast_addr_ok(gid, lid, "ibv_attach_mcast")) {
        return EINVAL;
    }
    pthread_mutex_lock(&hca.mutex);
    for (size_t i = 0; i < qp->n_attach; i++) {
        if (!memcmp(qp->attach[i].mgid, gid->raw, 16)) {
            goto out;
        }
    }
    if (qp->n_attach >= HCA_MAX_MCAST_QP_ATTACH) {
        err = ENOMEM;
        goto out;
    }
    a = realloc(qp->attach, (qp->n_attach + 1) * sizeof *a);
    if (!a) {
        err = ENOMEM;
        goto out;
    }
    qp->attach = a;
    memcpy(a[qp->n_attach].mgid, gid->raw, 16);
    a[qp->n_attach].mlid = lid;
    qp->n_attach++;
out:
    pthread_mutex_unlock(&hca.mutex);
    return err;
}

int
ibv_detach_mcast(struct ibv_qp *ibqp, const union ibv_gid *gid, uint16_t lid)
{
    struct hca_qp *qp = qp_cast(ibqp);
    int err = EINVAL;

    if (!mcast_addr_ok(gid, lid, "ibv_detach_mcast")) {
        return EINVAL;
    }
    pthread_mutex_lock(&hca.mutex);
    for (size_t i = 0; i < qp->n_attach; i++) {
        if (!memcmp(qp->attach[i].mgid, gid->raw, 16)) {
            qp->attach[i] = qp->attach[--qp->n_attach];
            err = 0;
            break;
        }
    }
    pthread_mutex_unlock(&hca.mutex);
    return err;
}

/* ------------------------------------------------------------------ */
/* Async events. */

int
ibv_get_async_event(struct ibv_context *context,
                    struct ibv_async_event *event)
{
    struct hca_async_msg m;
    ssize_t n;

    do {
        n = read(context->async_fd, &m, sizeof m);
    } while (n < 0 && errno == EINTR);
    if (n != sizeof m) {
        if (n >= 0) {
            errno = EIO;
        }
        return -1;
    }
    memset(event, 0, sizeof *event);
    event->event_type = m.type;
    pthread_mutex_lock(&hca.mutex);
    switch (m.type) {
    case IBV_EVENT_CQ_ERR:
        event->element.cq = m.element;
        cq_cast(event->element.cq)->async_events++;
        break;
    case IBV_EVENT_QP_FATAL:
    case IBV_EVENT_QP_REQ_ERR:
    case IBV_EVENT_QP_ACCESS_ERR:
    case IBV_EVENT_COMM_EST:
    case IBV_EVENT_SQ_DRAINED:
    case IBV_EVENT_PATH_MIG:
    case IBV_EVENT_PATH_MIG_ERR:
    case IBV_EVENT_QP_LAST_WQE_REACHED:
        event->element.qp = m.element;
        break;
    case IBV_EVENT_SRQ_ERR:
    case IBV_EVENT_SRQ_LIMIT_REACHED:
        event->element.srq = m.element;
        break;
    default:
        event->element.port_num = HCA_PORT_NUM;
        break;
    }
    pthread_mutex_unlock(&hca.mutex);
    return 0;
}

void
ibv_ack_async_event(struct ibv_async_event *event)
{
    pthread_mutex_lock(&hca.mutex);
    switch (event->event_type) {
    case IBV_EVENT_CQ_ERR:
        event->element.cq->async_events_completed++;
        break;
    case IBV_EVENT_QP_FATAL:
    case IBV_EVENT_QP_REQ_ERR:
    case IBV_EVENT_QP_ACCESS_ERR:
    case IBV_EVENT_COMM_EST:
    case IBV_EVENT_SQ_DRAINED:
    case IBV_EVENT_PATH_MIG:
    case IBV_EVENT_PATH_MIG_ERR:
    case IBV_EVENT_QP_LAST_WQE_REACHED:
        event->element.qp->events_completed++;
        break;
    case IBV_EVENT_SRQ_ERR:
    case IBV_EVENT_SRQ_LIMIT_REACHED:
        event->element.srq->events_completed++;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&hca.mutex);
}

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
    err = make_pipe(fds);
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
            write_all(ch->wfd, &evs[i], sizeof evs[i]);
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
        ctx_close(ctx);
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
        hca.cm_ctx = ctx_open();
        if (!hca.cm_ctx) {
            err = errno;
            goto out;
        }
    }
    hca.cm_binds++;
    if (memcmp(sib->sib_addr.sib_raw, hca.attr.gid, 16)) {
        err = EADDRNOTAVAIL;
        if (!--hca.cm_binds) {
            ctx_close(hca.cm_ctx);
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
    write_all(ch->wfd, &e, sizeof e);
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
static long long
cm_run_joins(void)
{
    for (;;) {
        long long now = now_ms(), next = LLONG_MAX;
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
static void
cm_port_lost(void)
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
    mc->due = now_ms() + hca.join_delay_ms;
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
