/*
 * ibsim-verbs-client: a small libibverbs/librdmacm program in the manner of
 * rdma-core's ud_pingpong and mckey, the independent client of the HCA
 * model (utilities/ibsim-verbs.c) in tests/ibsim-verbs.at.  It uses only
 * the public rdma-core API and prints one JSON object per line.
 */
#include <config.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <infiniband/ib.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <rdma/rdma_cma.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 4096
#define GRH_LEN 40

static const char *program_name = "ibsim-verbs-client";

/* Command-line settings. */
struct opts {
    const char *cmd;            /* recv, send, sq-full, cq-overrun,
                                 * events, qp-error, checks. */
    unsigned long count;        /* --count: completions or events. */
    double timeout;             /* --timeout in seconds. */
    uint32_t qkey;              /* --qkey: the QP's Q_Key. */
    uint32_t send_qkey;         /* --send-qkey: the WR's Q_Key. */
    uint16_t dlid;              /* --dlid. */
    uint8_t dgid[16];           /* --dgid. */
    bool has_dgid;
    uint32_t dqpn;              /* --dqpn. */
    uint32_t imm;               /* --imm. */
    bool has_imm;
    const char *payload;        /* --payload: text. */
    double rtr_delay;           /* --rtr-delay: stay in INIT so long. */
    uint8_t mgid[16];           /* --join: multicast group. */
    bool has_mgid;
    bool send_only;             /* --send-only join. */
    unsigned int sq_size;       /* --sq-size. */
    unsigned int cq_size;       /* --cq-size. */
};

static struct opts o = {
    .count = 1,
    .timeout = 10,
    .qkey = 0x01234567,
    .send_qkey = 0x80000000,
    .dqpn = 0x100,
    .payload = "hello",
    .sq_size = 16,
    .cq_size = 64,
};

/* Verbs resources of the run. */
struct ctx {
    struct ibv_context *ctx;
    struct ibv_pd *pd;
    struct ibv_comp_channel *ch;
    struct ibv_cq *cq;
    struct ibv_qp *qp[2];
    struct ibv_mr *mr;
    uint8_t *buf;               /* 'n_bufs' receive buffers, then one to
                                 * send from. */
    int n_bufs;
    struct ibv_port_attr port;
    union ibv_gid gid;
};

static void fatal(const char *format, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
fatal(const char *format, ...)
{
    va_list args;

    fprintf(stderr, "%s: ", program_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(2);
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *
gid_str(const uint8_t gid[16], char *buf)
{
    return inet_ntop(AF_INET6, gid, buf, INET6_ADDRSTRLEN);
}

static unsigned long
parse_num(const char *name, const char *s, unsigned long max)
{
    unsigned long v;
    char *end;

    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || *end || !*s || v > max) {
        fprintf(stderr, "%s: --%s=%s: expected a number up to %lu\n",
                program_name, name, s, max);
        exit(1);
    }
    return v;
}

/* Parses GID 's' (IPv6 syntax) for option --'name', or exits. */
static void
parse_gid(const char *name, const char *s, uint8_t gid[16])
{
    if (inet_pton(AF_INET6, s, gid) != 1) {
        fprintf(stderr, "%s: --%s=%s: not a GID\n", program_name, name, s);
        exit(1);
    }
}

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
    printf("%s: client of the ibsim-verbs HCA model (LD_PRELOAD)\n"
           "usage: %s COMMAND [OPTIONS]\n\n"
           "Commands:\n"
           "  recv      print --count receive completions (QP in RTS)\n"
           "  send      send one datagram to --dlid/--dgid/--dqpn\n"
           "  sq-full   post sends until post_send fails\n"
           "  cq-overrun  overrun a --cq-size CQ, wait for CQ_ERR\n"
           "  events    print --count async events with the port state\n"
           "            (with --join, rdma_cm events of a join too)\n"
           "  qp-error  send 4 datagrams to --dlid/--dgid/--dqpn, taking the "
           "QP\n"
           "            through RESET to RTS again after the third\n"
           "  checks    multicast attach, QP destroy and rdma_cm bind "
           "arguments\n"
           "            that the kernel refuses\n"
           "\nOptions:\n"
           "  --count=N        completions or events (default 1)\n"
           "  --timeout=S      give up after S seconds (default 10)\n"
           "  --qkey=K         the QP's Q_Key (default 0x01234567)\n"
           "  --send-qkey=K    the send WR's Q_Key (default 0x80000000: "
           "the QP's)\n"
           "  --dlid=N --dgid=GID --dqpn=N   destination (send)\n"
           "  --imm=N          send with immediate data\n"
           "  --payload=TEXT   payload (default \"hello\")\n"
           "  --rtr-delay=S    recv: stay in INIT for S seconds first\n"
           "  --join=MGID      recv: join MGID via rdma_cm, attach QP 1 "
           "(QP 2 not);\n"
           "                   send: join send-only and send to it;\n"
           "                   events: join MGID and print its events\n"
           "  --sq-size=N      send queue size (default 16)\n"
           "  --cq-size=N      CQ size (default 64)\n"
           "  -h, --help       this help\n", program_name, program_name);
    exit(0);
}

static void
parse_options(int argc, char *argv[])
{
    static const struct option long_options[] = {
        { "count", required_argument, NULL, 'c' },
        { "timeout", required_argument, NULL, 't' },
        { "qkey", required_argument, NULL, 'k' },
        { "send-qkey", required_argument, NULL, 'K' },
        { "dlid", required_argument, NULL, 'l' },
        { "dgid", required_argument, NULL, 'g' },
        { "dqpn", required_argument, NULL, 'q' },
        { "imm", required_argument, NULL, 'i' },
        { "payload", required_argument, NULL, 'p' },
        { "rtr-delay", required_argument, NULL, 'r' },
        { "join", required_argument, NULL, 'j' },
        { "sq-size", required_argument, NULL, 's' },
        { "cq-size", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };

    for (;;) {
        int c = getopt_long(argc, argv, "c:t:k:K:l:g:q:i:p:r:j:s:C:h",
                            long_options, NULL);

        if (c == -1) {
            break;
        }
        switch (c) {
        case 'c':
            o.count = parse_num("count", optarg, 1000000);
            break;
        case 't':
            o.timeout = atof(optarg);
            break;
        case 'k':
            o.qkey = parse_num("qkey", optarg, UINT32_MAX);
            break;
        case 'K':
            o.send_qkey = parse_num("send-qkey", optarg, UINT32_MAX);
            break;
        case 'l':
            o.dlid = parse_num("dlid", optarg, 0xffff);
            break;
        case 'g':
            parse_gid("dgid", optarg, o.dgid);
            o.has_dgid = true;
            break;
        case 'q':
            o.dqpn = parse_num("dqpn", optarg, 0xffffff);
            break;
        case 'i':
            o.imm = parse_num("imm", optarg, UINT32_MAX);
            o.has_imm = true;
            break;
        case 'p':
            o.payload = optarg;
            break;
        case 'r':
            o.rtr_delay = atof(optarg);
            break;
        case 'j':
            parse_gid("join", optarg, o.mgid);
            o.has_mgid = true;
            break;
        case 's':
            o.sq_size = parse_num("sq-size", optarg, 8192);
            break;
        case 'C':
            o.cq_size = parse_num("cq-size", optarg, 65535);
            break;
        case 'h':
            usage();
        default:
            fprintf(stderr, "Try '%s --help' for more information.\n",
                    program_name);
            exit(1);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "%s: exactly one command expected; use --help\n",
                program_name);
        exit(1);
    }
    o.cmd = argv[optind];
}

/* Opens the one device and its port 1, as ud_pingpong does. */
static void
open_device(struct ctx *c)
{
    struct ibv_device **list;
    int n;

    list = ibv_get_device_list(&n);
    if (!list || !n) {
        fatal("no RDMA devices found");
    }
    c->ctx = ibv_open_device(list[0]);
    if (!c->ctx) {
        fatal("Couldn't get context for %s (%s)",
              ibv_get_device_name(list[0]), strerror(errno));
    }
    ibv_free_device_list(list);
    if (ibv_query_port(c->ctx, 1, &c->port)) {
        fatal("Unable to query port info for port 1");
    }
    if (ibv_query_gid(c->ctx, 1, 0, &c->gid)) {
        fatal("Unable to query GID 0 of port 1");
    }
}

static struct ibv_qp *
create_qp(struct ctx *c, bool block_self)
{
    struct ibv_qp_init_attr_ex a;
    struct ibv_qp *qp;

    memset(&a, 0, sizeof a);
    a.send_cq = c->cq;
    a.recv_cq = c->cq;
    a.cap.max_send_wr = o.sq_size;
    a.cap.max_recv_wr = 64;
    a.cap.max_send_sge = 1;
    a.cap.max_recv_sge = 1;
    a.qp_type = IBV_QPT_UD;
    a.pd = c->pd;
    a.comp_mask = IBV_QP_INIT_ATTR_PD;
    if (block_self) {
        a.comp_mask |= IBV_QP_INIT_ATTR_CREATE_FLAGS;
        a.create_flags = IBV_QP_CREATE_BLOCK_SELF_MCAST_LB;
    }
    qp = ibv_create_qp_ex(c->ctx, &a);
    if (!qp) {
        fatal("Couldn't create QP (%s)", strerror(errno));
    }
    return qp;
}

static void
modify(struct ibv_qp *qp, enum ibv_qp_state state)
{
    struct ibv_qp_attr a;
    int mask = IBV_QP_STATE;
    int err;

    memset(&a, 0, sizeof a);
    a.qp_state = state;
    if (state == IBV_QPS_INIT) {
        a.pkey_index = 0;
        a.port_num = 1;
        a.qkey = o.qkey;
        mask |= IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY;
    } else if (state == IBV_QPS_RTS) {
        a.sq_psn = 0;
        mask |= IBV_QP_SQ_PSN;
    }
    err = ibv_modify_qp(qp, &a, mask);
    if (err) {
        fatal("Failed to modify QP to state %d (%s)", state, strerror(err));
    }
}

static void
post_recvs(struct ctx *c, struct ibv_qp *qp, int first, int n)
{
    for (int i = first; i < first + n; i++) {
        struct ibv_sge sge = {
            .addr = (uintptr_t) (c->buf + i * BUF_SIZE),
            .length = BUF_SIZE,
            .lkey = c->mr->lkey,
        };
        struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sge,
                                  .num_sge = 1 };
        struct ibv_recv_wr *bad;

        if (ibv_post_recv(qp, &wr, &bad)) {
            fatal("Couldn't post receive %d", i);
        }
    }
}

/* Allocates PD, channel, CQ, buffers and MR. */
static void
setup(struct ctx *c, int n_bufs)
{
    open_device(c);
    c->pd = ibv_alloc_pd(c->ctx);
    c->ch = ibv_create_comp_channel(c->ctx);
    if (!c->pd || !c->ch) {
        fatal("Couldn't allocate PD or completion channel");
    }
    c->cq = ibv_create_cq(c->ctx, o.cq_size, NULL, c->ch, 0);
    if (!c->cq) {
        fatal("Couldn't create CQ (%s)", strerror(errno));
    }
    c->n_bufs = n_bufs;
    c->buf = calloc(n_bufs + 1, BUF_SIZE);
    c->mr = ibv_reg_mr(c->pd, c->buf, (n_bufs + 1) * BUF_SIZE,
                       IBV_ACCESS_LOCAL_WRITE);
    if (!c->buf || !c->mr) {
        fatal("Couldn't register MR");
    }
}

static void
teardown(struct ctx *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->qp[i] && ibv_destroy_qp(c->qp[i])) {
            fatal("Couldn't destroy QP");
        }
    }
    if (ibv_dereg_mr(c->mr) || ibv_destroy_cq(c->cq)
        || ibv_destroy_comp_channel(c->ch) || ibv_dealloc_pd(c->pd)
        || ibv_close_device(c->ctx)) {
        fatal("Couldn't release resources");
    }
    free(c->buf);
}

static void
print_ready(struct ctx *c)
{
    char gid[INET6_ADDRSTRLEN];

    printf("{\"event\":\"ready\",\"lid\":%u,\"gid\":\"%s\",\"qpn\":%u",
           c->port.lid, gid_str(c->gid.raw, gid), c->qp[0]->qp_num);
    if (c->qp[1]) {
        printf(",\"qpn2\":%u", c->qp[1]->qp_num);
    }
    printf(",\"state\":%d,\"link_layer\":%u}\n", c->port.state,
           c->port.link_layer);
    fflush(stdout);
}

static void
print_wc(struct ctx *c, const struct ibv_wc *wc)
{
    const uint8_t *b = c->buf + wc->wr_id * BUF_SIZE;
    char sgid[INET6_ADDRSTRLEN], dgid[INET6_ADDRSTRLEN];

    printf("{\"event\":\"%s\",\"status\":\"%s\",\"qp\":%u",
           wc->opcode & IBV_WC_RECV ? "recv" : "send",
           ibv_wc_status_str(wc->status), wc->qp_num);
    if (wc->status == IBV_WC_SUCCESS && wc->opcode & IBV_WC_RECV) {
        printf(",\"src_qp\":%u,\"slid\":%u,\"sl\":%u,\"pkey_index\":%u,"
               "\"byte_len\":%u,\"grh\":%s", wc->src_qp, wc->slid, wc->sl,
               wc->pkey_index, wc->byte_len,
               wc->wc_flags & IBV_WC_GRH ? "true" : "false");
        if (wc->wc_flags & IBV_WC_GRH) {
            printf(",\"sgid\":\"%s\",\"dgid\":\"%s\"", gid_str(b + 8, sgid),
                   gid_str(b + 24, dgid));
        }
        if (wc->wc_flags & IBV_WC_WITH_IMM) {
            printf(",\"imm\":%u", be32toh(wc->imm_data));
        }
        printf(",\"payload\":\"%.*s\"", (int) (wc->byte_len - GRH_LEN),
               (const char *) b + GRH_LEN);
    }
    printf("}\n");
    fflush(stdout);
}

/* Waits for completions through the channel until 'n' arrived or the
 * timeout; prints them.  Returns how many arrived. */
static unsigned long
wait_completions(struct ctx *c, unsigned long n, bool repost)
{
    double deadline = now() + o.timeout;
    unsigned long got = 0;

    fcntl(c->ch->fd, F_SETFL, fcntl(c->ch->fd, F_GETFL) | O_NONBLOCK);
    if (ibv_req_notify_cq(c->cq, 0)) {
        fatal("Couldn't request CQ notification");
    }
    for (bool first = true; got < n; first = false) {
        struct pollfd pfd = { .fd = c->ch->fd, .events = POLLIN };
        double left = deadline - now();
        struct ibv_wc wc[8];
        struct ibv_cq *ev_cq;
        void *ev_ctx;
        int k;

        /* The first round polls what came before the CQ was armed. */
        if (!first) {
            if (left <= 0) {
                break;
            }
            if (poll(&pfd, 1, left * 1000 + 1) <= 0) {
                continue;
            }
            if (ibv_get_cq_event(c->ch, &ev_cq, &ev_ctx)) {
                if (errno == EAGAIN) {
                    continue;
                }
                fatal("Failed to get CQ event (%s)", strerror(errno));
            }
            ibv_ack_cq_events(ev_cq, 1);
            if (ibv_req_notify_cq(c->cq, 0)) {
                fatal("Couldn't request CQ notification");
            }
        }
        while (got < n && (k = ibv_poll_cq(c->cq, 1, wc)) > 0) {
            for (int i = 0; i < k; i++) {
                print_wc(c, &wc[i]);
                got++;
                if (repost && wc[i].opcode & IBV_WC_RECV) {
                    struct ibv_qp *qp = (c->qp[1]
                                         && wc[i].qp_num == c->qp[1]->qp_num
                                         ? c->qp[1] : c->qp[0]);

                    post_recvs(c, qp, wc[i].wr_id, 1);
                }
            }
        }
    }
    return got;
}

static struct rdma_event_channel *cm_ch;
static struct rdma_cm_id *cm_id;

/* Joins o.mgid through rdma_cm; stores the MLID and Q_Key. */
static void
join(struct ctx *c, bool send_only, uint16_t *mlid, uint32_t *qkey)
{
    struct rdma_cm_join_mc_attr_ex attr;
    struct pollfd pfd;
    struct sockaddr_ib sib, mc;
    struct rdma_cm_event *ev;
    bool immediate;

    cm_ch = rdma_create_event_channel();
    if (!cm_ch || rdma_create_id(cm_ch, &cm_id, NULL, RDMA_PS_UDP)) {
        fatal("rdma_create_id failed (%s)", strerror(errno));
    }
    memset(&sib, 0, sizeof sib);
    sib.sib_family = AF_IB;
    sib.sib_pkey = htobe16(0xffff);
    memcpy(sib.sib_addr.sib_raw, c->gid.raw, 16);
    if (rdma_bind_addr(cm_id, (struct sockaddr *) &sib)) {
        fatal("rdma_bind_addr failed (%s)", strerror(errno));
    }
    memset(&mc, 0, sizeof mc);
    mc.sib_family = AF_IB;
    memcpy(mc.sib_addr.sib_raw, o.mgid, 16);
    memset(&attr, 0, sizeof attr);
    attr.comp_mask = (RDMA_CM_JOIN_MC_ATTR_ADDRESS
                      | RDMA_CM_JOIN_MC_ATTR_JOIN_FLAGS);
    attr.join_flags = (send_only ? RDMA_MC_JOIN_FLAG_SENDONLY_FULLMEMBER
                                 : RDMA_MC_JOIN_FLAG_FULLMEMBER);
    attr.addr = (struct sockaddr *) &mc;
    if (rdma_join_multicast_ex(cm_id, &attr, NULL)) {
        fatal("rdma_join_multicast_ex failed (%s)", strerror(errno));
    }
    /* As with the kernel, the join completes later: is its event there
     * already? */
    pfd.fd = cm_ch->fd;
    pfd.events = POLLIN;
    immediate = poll(&pfd, 1, 0) > 0;
    if (rdma_get_cm_event(cm_ch, &ev)) {
        fatal("rdma_get_cm_event failed (%s)", strerror(errno));
    }
    if (ev->event != RDMA_CM_EVENT_MULTICAST_JOIN) {
        fatal("join failed: %s, status %d", rdma_event_str(ev->event),
              ev->status);
    }
    *mlid = ev->param.ud.ah_attr.dlid;
    *qkey = ev->param.ud.qkey;
    printf("{\"event\":\"joined\",\"mlid\":%u,\"qkey\":%u,\"qp_num\":%u,"
           "\"is_global\":%u,\"immediate\":%s}\n", *mlid, *qkey,
           ev->param.ud.qp_num, ev->param.ud.ah_attr.is_global,
           immediate ? "true" : "false");
    fflush(stdout);
    rdma_ack_cm_event(ev);
}

static void
leave(void)
{
    struct sockaddr_ib mc;

    memset(&mc, 0, sizeof mc);
    mc.sib_family = AF_IB;
    memcpy(mc.sib_addr.sib_raw, o.mgid, 16);
    if (rdma_leave_multicast(cm_id, (struct sockaddr *) &mc)
        || rdma_destroy_id(cm_id)) {
        fatal("leaving the group failed (%s)", strerror(errno));
    }
    rdma_destroy_event_channel(cm_ch);
}

static int
cmd_recv(void)
{
    struct ctx c;
    uint16_t mlid = 0;
    uint32_t qkey;
    unsigned long got;

    memset(&c, 0, sizeof c);
    setup(&c, 128);
    c.qp[0] = create_qp(&c, true);
    if (o.has_mgid) {
        c.qp[1] = create_qp(&c, false);
    }
    for (int i = 0; i < 2 && c.qp[i]; i++) {
        modify(c.qp[i], IBV_QPS_INIT);
        post_recvs(&c, c.qp[i], i * 64, 64);
    }
    if (o.has_mgid) {
        join(&c, false, &mlid, &qkey);
        if (ibv_attach_mcast(c.qp[0], (union ibv_gid *) o.mgid, mlid)) {
            fatal("Couldn't attach QP to the group");
        }
    }
    print_ready(&c);
    if (o.rtr_delay > 0) {
        usleep(o.rtr_delay * 1e6);
    }
    for (int i = 0; i < 2 && c.qp[i]; i++) {
        modify(c.qp[i], IBV_QPS_RTR);
        modify(c.qp[i], IBV_QPS_RTS);
    }
    printf("{\"event\":\"rts\"}\n");
    fflush(stdout);
    got = wait_completions(&c, o.count, true);
    printf("{\"event\":\"done\",\"completions\":%lu}\n", got);
    if (o.has_mgid) {
        ibv_detach_mcast(c.qp[0], (union ibv_gid *) o.mgid, mlid);
        leave();
    }
    teardown(&c);
    return 0;
}

static struct ibv_ah *
make_ah(struct ctx *c, uint16_t dlid, const uint8_t *dgid)
{
    struct ibv_ah_attr a;
    struct ibv_ah *ah;

    memset(&a, 0, sizeof a);
    a.dlid = dlid;
    a.sl = 0;
    a.port_num = 1;
    if (dgid) {
        a.is_global = 1;
        memcpy(a.grh.dgid.raw, dgid, 16);
        a.grh.sgid_index = 0;
        a.grh.hop_limit = 64;
    }
    ah = ibv_create_ah(c->pd, &a);
    if (!ah) {
        fatal("Failed to create AH (%s)", strerror(errno));
    }
    return ah;
}

/* Posts one send of the payload; returns post_send's result. */
static int
post_send(struct ctx *c, struct ibv_ah *ah, uint32_t dqpn, uint64_t wr_id)
{
    uint8_t *b = c->buf + c->n_bufs * BUF_SIZE;
    size_t len = strlen(o.payload);
    struct ibv_sge sge = { .addr = (uintptr_t) b, .length = len,
                           .lkey = c->mr->lkey };
    struct ibv_send_wr wr, *bad;

    memcpy(b, o.payload, len);
    memset(&wr, 0, sizeof wr);
    wr.wr_id = wr_id;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = o.has_imm ? IBV_WR_SEND_WITH_IMM : IBV_WR_SEND;
    wr.imm_data = htobe32(o.imm);
    wr.send_flags = IBV_SEND_SIGNALED;
    wr.wr.ud.ah = ah;
    wr.wr.ud.remote_qpn = dqpn;
    wr.wr.ud.remote_qkey = o.send_qkey;
    return ibv_post_send(c->qp[0], &wr, &bad);
}

static int
cmd_send(void)
{
    struct ibv_ah *ah;
    struct ctx c;
    uint16_t dlid = o.dlid;
    uint32_t dqpn = o.dqpn;
    uint32_t qkey;
    int err;

    memset(&c, 0, sizeof c);
    setup(&c, 0);
    c.qp[0] = create_qp(&c, true);
    modify(c.qp[0], IBV_QPS_INIT);
    if (o.has_mgid) {
        join(&c, true, &dlid, &qkey);
        memcpy(o.dgid, o.mgid, 16);
        o.has_dgid = true;
        dqpn = 0xffffff;
    }
    modify(c.qp[0], IBV_QPS_RTR);
    modify(c.qp[0], IBV_QPS_RTS);
    print_ready(&c);
    ah = make_ah(&c, dlid, o.has_dgid ? o.dgid : NULL);
    err = post_send(&c, ah, dqpn, 1);
    if (err) {
        fatal("Couldn't post send (%s)", strerror(err));
    }
    wait_completions(&c, 1, false);
    ibv_destroy_ah(ah);
    if (o.has_mgid) {
        leave();
    }
    teardown(&c);
    return 0;
}

static int
cmd_sq_full(void)
{
    struct ibv_ah *ah;
    struct ctx c;
    unsigned int i;
    int err = 0;

    memset(&c, 0, sizeof c);
    setup(&c, 0);
    c.qp[0] = create_qp(&c, true);
    modify(c.qp[0], IBV_QPS_INIT);
    ah = make_ah(&c, o.dlid, o.has_dgid ? o.dgid : NULL);

    /* Before RTS, the send queue refuses work. */
    err = post_send(&c, ah, o.dqpn, 0);
    printf("{\"event\":\"post\",\"state\":\"init\",\"err\":\"%s\"}\n",
           err ? strerror(err) : "none");
    modify(c.qp[0], IBV_QPS_RTR);
    modify(c.qp[0], IBV_QPS_RTS);
    for (i = 0; i < o.sq_size + 1; i++) {
        err = post_send(&c, ah, o.dqpn, i);
        if (err) {
            break;
        }
    }
    printf("{\"event\":\"post\",\"posted\":%u,\"err\":\"%s\"}\n", i,
           err ? strerror(err) : "none");
    /* Reaping the completions frees the queue again. */
    wait_completions(&c, i, false);
    err = post_send(&c, ah, o.dqpn, i);
    printf("{\"event\":\"post\",\"after_poll\":true,\"err\":\"%s\"}\n",
           err ? strerror(err) : "none");
    wait_completions(&c, 1, false);
    ibv_destroy_ah(ah);
    teardown(&c);
    return 0;
}

static const char *
port_state_name(struct ibv_context *ctx)
{
    struct ibv_port_attr a;

    if (ibv_query_port(ctx, 1, &a)) {
        return "error";
    }
    return ibv_port_state_str(a.state);
}

/* Prints the rdma_cm events waiting on 'cm_ch'; returns how many. */
static unsigned long
print_cm_events(void)
{
    struct rdma_cm_event *ev;
    unsigned long got = 0;

    while (!rdma_get_cm_event(cm_ch, &ev)) {
        printf("{\"event\":\"cm\",\"type\":\"%s\",\"status\":%d}\n",
               rdma_event_str(ev->event), ev->status);
        fflush(stdout);
        rdma_ack_cm_event(ev);
        got++;
    }
    return got;
}

/* Prints async events (and the rdma_cm events of the join, if any) until
 * 'n' arrived or the timeout. */
static unsigned long
wait_async(struct ibv_context *ctx, unsigned long n)
{
    double deadline = now() + o.timeout;
    unsigned long got = 0;

    fcntl(ctx->async_fd, F_SETFL,
          fcntl(ctx->async_fd, F_GETFL) | O_NONBLOCK);
    if (cm_ch) {
        fcntl(cm_ch->fd, F_SETFL, fcntl(cm_ch->fd, F_GETFL) | O_NONBLOCK);
    }
    while (got < n) {
        struct pollfd pfd[2] = {
            { .fd = ctx->async_fd, .events = POLLIN },
            { .fd = cm_ch ? cm_ch->fd : -1, .events = POLLIN },
        };
        struct ibv_async_event ev;
        double left = deadline - now();

        if (left <= 0) {
            break;
        }
        if (poll(pfd, 2, left * 1000 + 1) <= 0) {
            continue;
        }
        if (pfd[1].revents & POLLIN) {
            got += print_cm_events();
        }
        if (!(pfd[0].revents & POLLIN) || ibv_get_async_event(ctx, &ev)) {
            continue;
        }
        printf("{\"event\":\"async\",\"type\":\"%s\",\"port_state\":\"%s\"}"
               "\n", ibv_event_type_str(ev.event_type),
               port_state_name(ctx));
        fflush(stdout);
        ibv_ack_async_event(&ev);
        got++;
    }
    return got;
}

static int
cmd_cq_overrun(void)
{
    struct ibv_ah *ah;
    struct ctx c;
    int err;

    memset(&c, 0, sizeof c);
    setup(&c, 0);
    c.qp[0] = create_qp(&c, true);
    modify(c.qp[0], IBV_QPS_INIT);
    modify(c.qp[0], IBV_QPS_RTR);
    modify(c.qp[0], IBV_QPS_RTS);
    ah = make_ah(&c, o.dlid, o.has_dgid ? o.dgid : NULL);
    for (unsigned int i = 0; i < o.cq_size + 1; i++) {
        err = post_send(&c, ah, o.dqpn, i);
        if (err) {
            fatal("Couldn't post send %u (%s)", i, strerror(err));
        }
    }
    wait_async(c.ctx, 1);
    ibv_destroy_ah(ah);
    teardown(&c);
    return 0;
}

static int
cmd_events(void)
{
    struct ctx c;

    uint16_t mlid;
    uint32_t qkey;

    memset(&c, 0, sizeof c);
    open_device(&c);
    if (o.has_mgid) {
        join(&c, false, &mlid, &qkey);
    }
    printf("{\"event\":\"ready\",\"lid\":%u,\"state\":\"%s\"}\n",
           c.port.lid, ibv_port_state_str(c.port.state));
    fflush(stdout);
    printf("{\"event\":\"done\",\"events\":%lu}\n",
           wait_async(c.ctx, o.count));
    if (o.has_mgid) {
        /* The membership outlives its error event until it is left. */
        leave();
    }
    ibv_close_device(c.ctx);
    return 0;
}

/* Posts send 'i' and prints its completion. */
static void
send_one(struct ctx *c, struct ibv_ah *ah, uint64_t i)
{
    int err = post_send(c, ah, o.dqpn, i);

    if (err) {
        fatal("Couldn't post send %"PRIu64" (%s)", i, strerror(err));
    }
    if (wait_completions(c, 1, false) != 1) {
        fatal("no completion for send %"PRIu64, i);
    }
}

static int
cmd_qp_error(void)
{
    struct ibv_ah *ah;
    struct ctx c;

    memset(&c, 0, sizeof c);
    setup(&c, 0);
    c.qp[0] = create_qp(&c, true);
    modify(c.qp[0], IBV_QPS_INIT);
    modify(c.qp[0], IBV_QPS_RTR);
    modify(c.qp[0], IBV_QPS_RTS);
    print_ready(&c);
    ah = make_ah(&c, o.dlid, o.has_dgid ? o.dgid : NULL);
    for (uint64_t i = 1; i <= 3; i++) {
        send_one(&c, ah, i);
    }
    /* An error completion left the QP in ERR (sends are flushed): back to
     * RTS through RESET, as ibport-verbs does. */
    modify(c.qp[0], IBV_QPS_RESET);
    modify(c.qp[0], IBV_QPS_INIT);
    modify(c.qp[0], IBV_QPS_RTR);
    modify(c.qp[0], IBV_QPS_RTS);
    printf("{\"event\":\"rts\"}\n");
    send_one(&c, ah, 4);
    ibv_destroy_ah(ah);
    teardown(&c);
    return 0;
}

static void
print_check(const char *call, int err)
{
    printf("{\"event\":\"check\",\"call\":\"%s\",\"err\":\"%s\"}\n", call,
           err ? strerror(err) : "none");
    fflush(stdout);
}

/* Binds a new rdma_cm id to the port GID with P_Key 'pkey'. */
static void
check_bind(struct ctx *c, const char *call, uint16_t pkey)
{
    struct rdma_event_channel *ch = rdma_create_event_channel();
    struct rdma_cm_id *id;
    struct sockaddr_ib sib;
    int err = 0;

    if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_UDP)) {
        fatal("rdma_create_id failed (%s)", strerror(errno));
    }
    memset(&sib, 0, sizeof sib);
    sib.sib_family = AF_IB;
    sib.sib_pkey = htobe16(pkey);
    memcpy(sib.sib_addr.sib_raw, c->gid.raw, 16);
    if (rdma_bind_addr(id, (struct sockaddr *) &sib)) {
        err = errno;
    }
    print_check(call, err);
    rdma_destroy_id(id);
    rdma_destroy_event_channel(ch);
}

static int
cmd_checks(void)
{
    static const uint8_t def_mgid[16] = { 0xff, 0x12, 0x40, 0x1b, 0xff, 0xff,
                                          [15] = 0x01 };
    union ibv_gid mgid;
    struct ctx c;

    memset(&c, 0, sizeof c);
    memcpy(mgid.raw, o.has_mgid ? o.mgid : def_mgid, 16);
    setup(&c, 0);
    c.qp[0] = create_qp(&c, true);
    modify(c.qp[0], IBV_QPS_INIT);

    /* Attach: a multicast GID and a multicast LID only. */
    print_check("attach_lid_0", ibv_attach_mcast(c.qp[0], &mgid, 0));
    print_check("attach_lid_unicast", ibv_attach_mcast(c.qp[0], &mgid,
                                                       0xbfff));
    print_check("attach_lid_permissive", ibv_attach_mcast(c.qp[0], &mgid,
                                                          0xffff));
    print_check("attach_gid_unicast", ibv_attach_mcast(c.qp[0], &c.gid,
                                                       0xc001));
    print_check("attach", ibv_attach_mcast(c.qp[0], &mgid, 0xc001));

    /* An attached QP cannot be destroyed. */
    print_check("destroy_attached", ibv_destroy_qp(c.qp[0]));
    print_check("detach_lid_0", ibv_detach_mcast(c.qp[0], &mgid, 0));
    print_check("detach", ibv_detach_mcast(c.qp[0], &mgid, 0xc001));

    /* Bind: the P_Key must be in the P_Key table (0: the default). */
    check_bind(&c, "bind_pkey_0x8001", 0x8001);
    check_bind(&c, "bind_pkey_0", 0);
    check_bind(&c, "bind_pkey_0x7fff", 0x7fff);
    teardown(&c);
    return 0;
}

int
main(int argc, char *argv[])
{
    parse_options(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(o.cmd, "recv")) {
        return cmd_recv();
    } else if (!strcmp(o.cmd, "send")) {
        return cmd_send();
    } else if (!strcmp(o.cmd, "sq-full")) {
        return cmd_sq_full();
    } else if (!strcmp(o.cmd, "cq-overrun")) {
        return cmd_cq_overrun();
    } else if (!strcmp(o.cmd, "events")) {
        return cmd_events();
    } else if (!strcmp(o.cmd, "qp-error")) {
        return cmd_qp_error();
    } else if (!strcmp(o.cmd, "checks")) {
        return cmd_checks();
    }
    fprintf(stderr, "%s: unknown command \"%s\"; use --help\n",
            program_name, o.cmd);
    return 1;
}
