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
 *   IBSIM_VERBS_SYSFS   directory standing for /sys/class/infiniband: the
 *                       device's ibdev_path is DIR/DEVICE, where the model
 *                       makes device/net/NETDEV/dev_port (port 1), so an
 *                       IPoIB netdev name finds the device as in sysfs.
 *   IBSIM_VERBS_NETDEV  that netdev's name (default "ib0").
 *   IBSIM_VERBS_PORT_STATE  init, armed or down: the port reports that
 *                       state instead of ACTIVE while attached (a port the
 *                       SM has not brought up yet).
 *   IBSIM_VERBS_LINK_LAYER  ethernet: the port says it is RoCE, not IB.
 *   IBSIM_VERBS_FAIL_SEND  N: the Nth send work request posted to a QP in
 *                       RTS (counting from 1, over all QPs, once) completes
 *                       with IBV_WC_LOC_QP_OP_ERR instead of being sent,
 *                       in order after the sends posted before it, and
 *                       moves its QP to ERR, as a local QP error in
 *                       hardware does.  The QP works again once taken
 *                       through RESET, INIT, RTR to RTS.
 *   IBSIM_VERBS_FAIL_ATTACH  N: right after the Nth multicast attach
 *                       (counting from 1, over all QPs, once), the QP
 *                       that took it goes to ERR with IBV_EVENT_QP_FATAL,
 *                       as after a fatal QP error in hardware.  Its
 *                       attachments stay; it receives again once taken
 *                       through RESET, INIT, RTR to RTS.
 *   IBSIM_VERBS_LINE_RATE  FILE: while FILE exists, the wire brings the
 *                       IB packets it holds (a pcap file, as ibsim-fabric
 *                       --pcap or tests/pcap-tool.py write) again and
 *                       again, as fast as the receive queues take them: a
 *                       fabric at line rate, for benchmarks that measure
 *                       the receiver (tests/bench-rxq), where the fabric
 *                       process and its senders, sharing the machine's
 *                       cores, could not keep up.  Each packet passes the
 *                       receive checks once, when the file is read, and
 *                       each copy is matched to QPs and delivered as one
 *                       from the fabric; a copy waits (is not dropped)
 *                       while its QP has no WQE posted or its CQ no room.
 *                       Polling an empty CQ delivers the copies, so each
 *                       queue's source runs at its poller's pace.  The
 *                       background thread reads the file when it appears
 *                       or changes and forgets it when it is removed.
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
 *
 * The model is split by job: this file holds the verbs API objects but
 * the work queues, which are in ibsim-verbs-qp.c; ibsim-verbs-wire.c the
 * "hardware" (the fabric port, sends, receives and the background thread);
 * ibsim-verbs-line-rate.c the line-rate source; ibsim-rdmacm.c librdmacm.
 * What they share is in ibsim-verbs-private.h.
 */
#include <config.h>
#include "ibsim-verbs-private.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ib-hdr.h"
#include "ibport.h"

/* A memory region. */
struct hca_mr {
    struct ibv_mr mr;           /* What the application sees. */
    struct hca_mr *next;        /* In 'hca.mrs'. */
    int access;                 /* IBV_ACCESS_* flags. */
};

/* A completion channel: a pipe, readable while events wait. */
struct hca_channel {
    struct ibv_comp_channel ch; /* ch.fd is the read end. */
    int wfd;                    /* Write end. */
    unsigned int refs;          /* CQs using it. */
};

/* An async event as written to a context's pipe. */
struct hca_async_msg {
    enum ibv_event_type type;   /* Event. */
    void *element;              /* CQ, QP or SRQ, or NULL for the port. */
};

/* Adaptive: PMD threads on other cores poll their CQs under the same
 * mutex, and a short spin costs less than sleeping in the kernel. */
struct hca hca = {
    .mutex = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
    .wake = { -1, -1 },
};

/* ------------------------------------------------------------------ */
/* Helpers. */

/* Appends a line to IBSIM_VERBS_LOG, if set.  Caller holds the mutex. */
void
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

int
hca_make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC)) {
        return errno;
    }
    /* The model never blocks on a full pipe. */
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    return 0;
}

void
hca_close_pipe(int fds[2])
{
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

void
hca_write_all(int fd, const void *p, size_t n)
{
    ssize_t r;

    do {
        r = write(fd, p, n);
    } while (r < 0 && errno == EINTR);
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
            hca_write_all(wfd, recs + i * size, size);
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

/* Makes the part of a sysfs device directory that names its IPoIB netdev:
 * DIR/device/net/NETDEV/dev_port holding 0 (port 1). */
static void
make_sysfs(const char *dir, const char *netdev)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof path, "%s", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/device", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/device/net", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/device/net/%s", dir, netdev);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/device/net/%s/dev_port", dir, netdev);
    f = fopen(path, "w");
    if (f) {
        fputs("0\n", f);
        fclose(f);
    }
}

/* Reads the environment once.  Returns false if there is no device. */
bool
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
    s = getenv("IBSIM_VERBS_SYSFS");
    if (s && *s) {
        const char *netdev = getenv("IBSIM_VERBS_NETDEV");

        mkdir(s, 0755);
        snprintf(hca.dev.ibdev_path, sizeof hca.dev.ibdev_path, "%s/%s", s,
                 hca.dev.name);
        make_sysfs(hca.dev.ibdev_path,
                   netdev && *netdev ? netdev : "ib0");
    } else {
        snprintf(hca.dev.ibdev_path, sizeof hca.dev.ibdev_path,
                 "/sys/class/infiniband/%s", hca.dev.name);
    }
    hca.state_up = IBV_PORT_ACTIVE;
    s = getenv("IBSIM_VERBS_PORT_STATE");
    if (s && !strcmp(s, "init")) {
        hca.state_up = IBV_PORT_INIT;
    } else if (s && !strcmp(s, "armed")) {
        hca.state_up = IBV_PORT_ARMED;
    } else if (s && !strcmp(s, "down")) {
        hca.state_up = IBV_PORT_DOWN;
    }
    s = getenv("IBSIM_VERBS_LINK_LAYER");
    hca.link_layer = (s && !strcmp(s, "ethernet")
                      ? IBV_LINK_LAYER_ETHERNET : IBV_LINK_LAYER_INFINIBAND);
    hca.dev.node_type = IBV_NODE_CA;
    hca.dev.transport_type = IBV_TRANSPORT_IB;
    env_u32("IBSIM_VERBS_PKEY", 0xffff, &pkey);
    hca.pkey = pkey;
    s = getenv("IBSIM_VERBS_NAME");
    hca.name = strdup(s && *s ? s : hca.dev.name);
    env_u32("IBSIM_VERBS_JOIN_DELAY", 600000, &hca.join_delay_ms);
    env_u32("IBSIM_VERBS_FAIL_SEND", UINT32_MAX, &hca.fail_send);
    env_u32("IBSIM_VERBS_FAIL_ATTACH", UINT32_MAX, &hca.fail_attach);
    s = getenv("IBSIM_VERBS_LOG");
    if (s && *s) {
        hca.log = fopen(s, "ae");
    }
    s = getenv("IBSIM_VERBS_LINE_RATE");
    hca.line_rate_file = s && *s ? strdup(s) : NULL;
    hca.next_qpn = 0x000100;
    hca.next_key = 0x1000;
    hca.tx_tail = &hca.tx_head;
    return true;
}

struct hca_qp *
hca_find_qp(uint32_t qpn)
{
    for (struct hca_qp *qp = hca.qps; qp; qp = qp->next) {
        if (qp->qp.qp_num == qpn) {
            return qp;
        }
    }
    return NULL;
}

/* Queues async event 'type' for 'element' on 'ctx' (NULL: every
 * context, for port events). */
void
hca_async_event(struct hca_ctx *ctx, enum ibv_event_type type, void *element)
{
    struct hca_async_msg m = { .type = type, .element = element };

    for (struct hca_ctx *c = hca.ctxs; c; c = c->next) {
        if (!ctx || c == ctx) {
            hca_write_all(c->async_wfd, &m, sizeof m);
        }
    }
    hca_log("async event %s", ibv_event_type_str(type));
}

/* ------------------------------------------------------------------ */
/* CQs and queues. */

/* Adds 'e' to 'cq'.  'solicited' tells whether it is a solicited
 * completion (for req_notify_cq(cq, 1)). */
void
hca_cq_push(struct hca_cq *cq, const struct hca_cqe *e, bool solicited)
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
        hca_async_event(cq->ctx, IBV_EVENT_CQ_ERR, &cq->cq);
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
        hca_write_all(ch->wfd, &p, sizeof p);
    }
}

void
hca_send_completion(struct hca_qp *qp, uint64_t wr_id, uint64_t seq,
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
    hca_cq_push(qp->scq, &e, false);
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
bool
hca_sge_ok(const struct ibv_sge *sge, struct hca_pd *pd, int access)
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

static int hca_poll_cq(struct ibv_cq *, int, struct ibv_wc *);
static int hca_req_notify_cq(struct ibv_cq *, int);
static int hca_query_port(struct ibv_context *, uint8_t,
                          struct ibv_port_attr *, size_t);

struct hca_ctx *
hca_ctx_open(void)
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
    err = hca_make_pipe(fds);
    if (err) {
        free(ctx);
        errno = err;
        return NULL;
    }
    err = hca_open_port();
    if (err) {
        hca_close_pipe(fds);
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

void
hca_ctx_close(struct hca_ctx *ctx)
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
    ctx = hca_ctx_open();
    pthread_mutex_unlock(&hca.mutex);
    return ctx ? &ctx->vctx.context : NULL;
}

int
ibv_close_device(struct ibv_context *context)
{
    pthread_mutex_lock(&hca.mutex);
    hca_ctx_close(ctx_cast(context));
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
    a->state = hca.up ? hca.state_up : IBV_PORT_DOWN;
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
    a->link_layer = hca.link_layer;
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
    err = hca_make_pipe(fds);
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
    cq->cqn = ++hca.next_cqn & 0xffffff;
    cq->next = hca.cqs;
    hca.cqs = cq;
    hca.n_cqs++;
    hca_log("created CQ 0x%06x (%d entries%s)", cq->cqn, cqe,
            channel ? ", completion channel" : "");
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
    struct hca_qp *qp = hca_find_qp(e->wc.qp_num);

    if (!qp) {
        return;
    }
    if (e->is_send) {
        /* A completion retires its WQE and the unsignaled ones before. */
        if (e->sq_seq + 1 > qp->sq_retired) {
            qp->sq_retired = e->sq_seq + 1;
        }
    } else {
        struct hca_rq *rq = hca_qp_rq(qp);

        if (rq->used) {
            rq->used--;
        }
    }
}

bool
hca_cq_full(const struct hca_cq *cq)
{
    return cq->count >= (unsigned int) cq->cq.cqe;
}

/* An armed, empty CQ waits for the next completion; at line rate it is
 * already on its way. */
static void
line_rate_fill_armed(struct hca_cq *cq)
{
    if (hca.line_rate && cq->armed && !cq->count) {
        hca_line_rate_fill(cq, cq->cq.cqe);
    }
}

static int
hca_poll_cq(struct ibv_cq *ibcq, int num_entries, struct ibv_wc *wc)
{
    struct hca_cq *cq = cq_cast(ibcq);
    int n = 0;

    pthread_mutex_lock(&hca.mutex);
    if (hca.line_rate && !cq->count && num_entries > 0) {
        hca_line_rate_fill(cq, num_entries);
    }
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
    line_rate_fill_armed(cq);
    pthread_mutex_unlock(&hca.mutex);
    return 0;
}

void
hca_line_rate_start(void)
{
    for (struct hca_cq *cq = hca.cqs; cq; cq = cq->next) {
        line_rate_fill_armed(cq);
    }
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
