/*
 * The receive queues of the rdma-core port backend (lib/ibport-verbs.c).
 *
 * A port has opts.n_rxq receive queues (1 by default, at most
 * VERBS_MAX_RXQS).  Each is an SRQ with VERBS_N_RECV_BUFS buffers (40 GRH
 * bytes + 4096 payload bytes each, in one MR) completing on a receive CQ
 * with a completion channel of its own, so that each queue has its own fd
 * and can be polled by its own thread, as OVS's PMD threads poll one rx
 * queue each.  A QP's receive queue is fixed when it is made, because an
 * HCA binds a QP to its SRQ and receive CQ at creation:
 *
 *   - the main QP (the port's QPN, unicast to the bridge, and its first
 *     multicast attachments) is on queue 0;
 *   - a proxy QP goes to the queue with the fewest proxies, where the main
 *     QP counts as one on queue 0;
 *   - a multicast group goes to the queue its MGID hashes to, attached to
 *     that queue's multicast QPs (or the main QP on queue 0), so that the
 *     groups of a feed spread over the queues and each group's packets
 *     stay in order on one queue.
 *
 * ibb_port_recv_queue() rebuilds the native IB packets (LRH, GRH, BTH,
 * DETH, ImmDt, payload, zero ICRC and VCRC: the HCA checked them) from the
 * work completions and the GRH the HCA scattered.  With opts.busy_poll
 * the CQs are never armed: the caller polls without waiting, and an empty
 * poll costs no system call.
 */
#include <config.h>

#include "ibport-verbs-private.h"

/* Posts the receive buffers of 'rxq' whose indexes are in 'idx' to its SRQ
 * and stores in '*n_posted' how many were posted: on failure, the first
 * '*n_posted' were, and the rest still belong to the caller. */
static int
post_recv_bufs(struct ibb_port_verbs *vp, struct verbs_rxq *rxq,
               const uint32_t *idx, unsigned int n, unsigned int *n_posted)
{
    struct ibv_recv_wr wrs[VERBS_RECV_REPOST], *bad;
    struct ibv_sge sges[VERBS_RECV_REPOST];

    *n_posted = 0;
    while (n) {
        unsigned int k = n < VERBS_RECV_REPOST ? n : VERBS_RECV_REPOST;
        int err;

        for (unsigned int i = 0; i < k; i++) {
            sges[i].addr = (uintptr_t) (rxq->bufs
                                        + (size_t) idx[i]
                                          * VERBS_RECV_BUF_SIZE);
            sges[i].length = VERBS_RECV_BUF_SIZE;
            sges[i].lkey = rxq->mr->lkey;
            wrs[i].wr_id = idx[i];
            wrs[i].sg_list = &sges[i];
            wrs[i].num_sge = 1;
            wrs[i].next = i + 1 < k ? &wrs[i + 1] : NULL;
        }
        bad = NULL;
        err = ibv_post_srq_recv(rxq->srq, wrs, &bad);
        if (err) {
            /* The WRs before 'bad' were posted; 'bad' and those after it
             * were not.  (Providers always set 'bad' on failure; without
             * it, take none of this chunk as posted.) */
            for (unsigned int i = 0; i < k; i++) {
                if (bad == &wrs[i]) {
                    *n_posted += i;
                    break;
                }
            }
            return ibb_port_set_error(&vp->up, err, "%s: ibv_post_srq_recv "
                                      "failed (%s)", vp->up.device,
                                      strerror(err));
        }
        *n_posted += k;
        idx += k;
        n -= k;
    }
    return 0;
}

/* Makes receive queue 'rxq': channel, CQ, SRQ and 'n_bufs' buffers, all
 * posted.  On error, what was made stays for verbs_rxqs_destroy(). */
static int
rxq_create(struct ibb_port_verbs *vp, struct verbs_rxq *rxq,
           unsigned int n_bufs)
{
    struct ibv_srq_init_attr sattr;
    unsigned int n_posted;
    int err;

    errno = 0;
    rxq->channel = ibv_create_comp_channel(vp->ctx);
    if (!rxq->channel) {
        return verbs_call_failed(vp, "ibv_create_comp_channel");
    }
    err = verbs_set_nonblock(rxq->channel->fd);
    if (err) {
        return ibb_port_set_error(&vp->up, err, "%s: making the completion "
                                  "channel non-blocking failed (%s)",
                                  vp->up.device, strerror(err));
    }

    errno = 0;
    /* Twice the entries that can be outstanding: an overrun CQ is
     * fatal. */
    rxq->cq = ibv_create_cq(vp->ctx, 2 * n_bufs, vp, rxq->channel, 0);
    if (!rxq->cq) {
        return verbs_call_failed(vp, "ibv_create_cq (receive)");
    }

    memset(&sattr, 0, sizeof sattr);
    sattr.srq_context = vp;
    sattr.attr.max_wr = n_bufs;
    sattr.attr.max_sge = 1;
    errno = 0;
    rxq->srq = ibv_create_srq(vp->pd, &sattr);
    if (!rxq->srq) {
        return verbs_call_failed(vp, "ibv_create_srq");
    }

    rxq->repost = calloc(n_bufs, sizeof *rxq->repost);
    if (!rxq->repost) {
        return ibb_port_set_error(&vp->up, ENOMEM, "%s: out of memory",
                                  vp->up.device);
    }
    err = verbs_alloc_registered(vp, (size_t) n_bufs * VERBS_RECV_BUF_SIZE,
                                 &rxq->bufs, &rxq->mr, "receive buffers");
    if (err) {
        return err;
    }
    rxq->n_bufs = n_bufs;

    for (unsigned int i = 0; i < n_bufs; i++) {
        rxq->repost[i] = i;
    }
    err = post_recv_bufs(vp, rxq, rxq->repost, n_bufs, &n_posted);
    if (err) {
        return err;
    }
    rxq->n_repost = 0;
    return 0;
}

/* Makes opts.n_rxq receive queues (1 if 0).  On error, what was made stays
 * for verbs_rxqs_destroy(). */
int
verbs_rxqs_create(struct ibb_port_verbs *vp)
{
    unsigned int n_rxq = vp->up.opts.n_rxq ? vp->up.opts.n_rxq : 1;
    unsigned int n_bufs = VERBS_N_RECV_BUFS;
    struct ibv_device_attr dattr;

    if (n_rxq > VERBS_MAX_RXQS) {
        return ibb_port_set_error(&vp->up, EINVAL, "%s: %u receive queues "
                                  "asked for, at most %d", vp->up.device,
                                  n_rxq, VERBS_MAX_RXQS);
    }
    memset(&dattr, 0, sizeof dattr);
    if (!ibv_query_device(vp->ctx, &dattr) && dattr.max_srq_wr > 1
        && (unsigned int) dattr.max_srq_wr - 1 < n_bufs) {
        n_bufs = dattr.max_srq_wr - 1;
    }
    vp->n_rxq = n_rxq;
    for (unsigned int i = 0; i < n_rxq; i++) {
        int err = rxq_create(vp, &vp->rxqs[i], n_bufs);

        if (err) {
            return err;
        }
    }
    return 0;
}

/* Destroys every receive queue (their QPs must be gone). */
void
verbs_rxqs_destroy(struct ibb_port_verbs *vp)
{
    for (unsigned int i = 0; i < VERBS_MAX_RXQS; i++) {
        struct verbs_rxq *rxq = &vp->rxqs[i];

        if (rxq->mr) {
            ibv_dereg_mr(rxq->mr);
            rxq->mr = NULL;
        }
        free(rxq->bufs);
        rxq->bufs = NULL;
        rxq->n_bufs = 0;
        free(rxq->repost);
        rxq->repost = NULL;
        rxq->n_repost = 0;
        if (rxq->srq) {
            ibv_destroy_srq(rxq->srq);
            rxq->srq = NULL;
        }
        if (rxq->cq) {
            ibv_destroy_cq(rxq->cq);
            rxq->cq = NULL;
        }
        if (rxq->channel) {
            ibv_destroy_comp_channel(rxq->channel);
            rxq->channel = NULL;
        }
    }
}

/* Forgets the receive state that belongs to a device (on connect and
 * disconnect); the packet counters stay. */
void
verbs_rxqs_reset(struct ibb_port_verbs *vp)
{
    for (unsigned int i = 0; i < VERBS_MAX_RXQS; i++) {
        struct verbs_rxq *rxq = &vp->rxqs[i];

        rxq->more = false;
        rxq->n_repost = 0;
        rxq->repost_retry = false;
        rxq->n_proxies = 0;
        rxq->mcast_room = NULL;
    }
}

/* Empties the completion channel of 'rxq' and arms its CQ. */
static int
arm_recv_cq(struct ibb_port_verbs *vp, struct verbs_rxq *rxq)
{
    struct ibv_cq *cq;
    void *cq_ctx;
    int err;

    while (!ibv_get_cq_event(rxq->channel, &cq, &cq_ctx)) {
        ibv_ack_cq_events(cq, 1);
    }
    err = ibv_req_notify_cq(rxq->cq, 0);
    if (err) {
        return ibb_port_set_error(&vp->up, err, "%s: ibv_req_notify_cq "
                                  "failed (%s)", vp->up.device,
                                  strerror(err));
    }
    return 0;
}

/* Arms every receive CQ, unless the port busy-polls. */
int
verbs_rxqs_arm(struct ibb_port_verbs *vp)
{
    if (vp->up.opts.busy_poll) {
        return 0;
    }
    for (unsigned int i = 0; i < vp->n_rxq; i++) {
        int err = ibv_req_notify_cq(vp->rxqs[i].cq, 0);

        if (err) {
            return ibb_port_set_error(&vp->up, err, "%s: ibv_req_notify_cq "
                                      "failed (%s)", vp->up.device,
                                      strerror(err));
        }
    }
    return 0;
}

/* After post_recv_bufs() posted only the first 'posted' of 'rxq->repost':
 * keeps the others for the next try, which run() makes too (if no
 * completion comes to call recv() again, the SRQ could run dry). */
static void
repost_failed(struct ibb_port_verbs *vp, struct verbs_rxq *rxq,
              unsigned int posted)
{
    vp->c.rx_repost_error++;
    rxq->n_repost -= posted;
    memmove(rxq->repost, rxq->repost + posted,
            rxq->n_repost * sizeof *rxq->repost);
    rxq->repost_retry = true;
    if (vp->recover_at == LLONG_MAX) {
        vp->recover_at = ibb_port_now_ms() + VERBS_RECOVER_RETRY_MS;
    }
}

/* Posts again the buffers whose posting failed, from run(). */
void
verbs_rxqs_retry_reposts(struct ibb_port_verbs *vp)
{
    for (unsigned int i = 0; i < vp->n_rxq; i++) {
        struct verbs_rxq *rxq = &vp->rxqs[i];
        unsigned int posted;

        if (!rxq->repost_retry || !rxq->srq || !rxq->n_repost) {
            continue;
        }
        rxq->repost_retry = false;
        if (post_recv_bufs(vp, rxq, rxq->repost, rxq->n_repost, &posted)) {
            repost_failed(vp, rxq, posted);
        } else {
            rxq->n_repost = 0;
        }
    }
}

/* The queue for a new proxy QP: the one with the fewest proxies, counting
 * the main QP as one on queue 0. */
unsigned int
verbs_rxq_for_proxy(const struct ibb_port_verbs *vp)
{
    unsigned int best = 0;

    for (unsigned int i = 1; i < vp->n_rxq; i++) {
        if (vp->rxqs[i].n_proxies
            < vp->rxqs[best].n_proxies + (best == 0)) {
            best = i;
        }
    }
    return best;
}

/* The queue of group 'mgid': an FNV-1a hash of the MGID, so that groups
 * made from consecutive IP addresses spread too. */
unsigned int
verbs_rxq_for_group(const struct ibb_port_verbs *vp, const uint8_t mgid[16])
{
    uint32_t h = 2166136261u;

    if (vp->n_rxq <= 1) {
        return 0;
    }
    for (int i = 0; i < 16; i++) {
        h = (h ^ mgid[i]) * 16777619u;
    }
    return h % vp->n_rxq;
}

enum rx_result {
    RX_OK,                      /* Packet rebuilt. */
    RX_DROPPED,                 /* Dropped and counted. */
    RX_TOO_BIG,                 /* Does not fit the caller's buffer. */
};

/* Rebuilds the native IB packet of successful receive completion 'wc'
 * into 'buf'. */
static enum rx_result
rebuild_packet(struct ibb_port_verbs *vp, const struct verbs_rxq *rxq,
               const struct ibv_wc *wc, struct ibb_port_buf *buf)
{
    const uint8_t *rbuf = rxq->bufs + wc->wr_id * VERBS_RECV_BUF_SIZE;
    bool has_grh = (wc->wc_flags & IBV_WC_GRH) != 0;
    bool has_imm = (wc->wc_flags & IBV_WC_WITH_IMM) != 0;
    uint8_t op = (has_imm ? IBB_OP_UD_SEND_ONLY_WITH_IMM
                          : IBB_OP_UD_SEND_ONLY);
    const struct ibb_opcode_info *info = &ibb_opcode[op];
    size_t payload_len, hdr_len, total;
    const struct verbs_qp *q;
    struct verbs_group *g = NULL;
    struct ibb_lrh *lrh;
    struct ibb_bth *bth;
    bool mcast = false;
    uint16_t dlid;
    uint8_t *p;
    uint8_t pad;

    if (wc->byte_len < IBB_GRH_LEN
        || wc->byte_len > VERBS_RECV_BUF_SIZE) {
        vp->c.rx_runt++;
        return RX_DROPPED;
    }
    q = find_qp(vp, wc->qp_num);
    if (!q) {
        vp->c.rx_unknown_qp++;
        return RX_DROPPED;
    }
    if (has_grh) {
        const struct ibb_grh *rgrh = (const struct ibb_grh *) rbuf;

        mcast = ibb_gid_is_multicast(rgrh->dgid);
        if (mcast) {
            g = find_group(vp, rgrh->dgid);
        }
    }
    if (mcast && find_qp(vp, wc->src_qp) && vp->lid
        && (wc->slid & ~((1u << vp->lmc) - 1)) == vp->lid) {
        /* Our own multicast, looped back by an HCA that cannot block it
         * (or sent by another of our QPs). */
        vp->c.rx_self_loop++;
        return RX_DROPPED;
    }

    payload_len = wc->byte_len - IBB_GRH_LEN;
    pad = ibb_pad_for_len(payload_len);
    hdr_len = IBB_LRH_LEN + (has_grh ? IBB_GRH_LEN : 0) + info->length;
    total = hdr_len + payload_len + pad + IBB_ICRC_LEN + IBB_VCRC_LEN;
    if (total > buf->size) {
        vp->c.rx_too_big++;
        return RX_TOO_BIG;
    }

    p = buf->data;
    memset(p, 0, hdr_len);

    lrh = (struct ibb_lrh *) p;
    /* The MLID the group's QP was attached with, whichever QP that is. */
    dlid = (g && g->attach_qp
            ? g->attach_mlid : vp->lid | wc->dlid_path_bits);
    ibb_lrh_set_vl(lrh, 0);
    ibb_lrh_set_lver(lrh, 0);
    ibb_lrh_set_sl(lrh, wc->sl);
    ibb_lrh_set_lnh(lrh, has_grh ? IBB_LNH_GLOBAL : IBB_LNH_LOCAL);
    ibb_lrh_set_dlid(lrh, dlid);
    ibb_lrh_set_pktlen(lrh, (total - IBB_VCRC_LEN) / 4);
    ibb_lrh_set_slid(lrh, wc->slid);
    p += IBB_LRH_LEN;

    if (has_grh) {
        memcpy(p, rbuf, IBB_GRH_LEN);
        p += IBB_GRH_LEN;
    }

    bth = (struct ibb_bth *) p;
    ibb_bth_set_opcode(bth, op);
    ibb_bth_set_pad(bth, pad);
    ibb_bth_set_tver(bth, 0);
    /* The P_Key of the receiving QP: a UD QP only takes packets of its
     * own partition, and wc->pkey_index is valid for GSI QPs only
     * (ibv_poll_cq(3)). */
    ibb_bth_set_pkey(bth, (q->pkey_index < vp->n_pkeys
                           ? vp->pkeys[q->pkey_index]
                           : vp->up.opts.pkey));
    ibb_bth_set_qpn(bth, mcast ? IBB_MULTICAST_QPN : wc->qp_num);
    ibb_bth_set_psn(bth, 0);

    struct ibb_deth *deth = (struct ibb_deth *) (p + info->offset[IBB_DETH]);
    ibb_deth_set_qkey(deth, q->qkey);
    ibb_deth_set_sqpn(deth, wc->src_qp);
    if (has_imm) {
        struct ibb_immdt *immdt = (struct ibb_immdt *)
                                  (p + info->offset[IBB_IMMDT]);

        ibb_immdt_set_imm(immdt, ntohl(wc->imm_data));
    }
    p += info->offset[IBB_PAYLOAD];

    memcpy(p, rbuf + IBB_GRH_LEN, payload_len);
    p += payload_len;
    /* Pad, then ICRC and VCRC as zeros: the HCA checked them. */
    memset(p, 0, pad + IBB_ICRC_LEN + IBB_VCRC_LEN);

    buf->len = total;
    return RX_OK;
}

int
verbs_recv_queue(struct ibb_port *port, unsigned int qid,
                 struct ibb_port_buf bufs[], size_t n, size_t *n_recv)
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    struct ibv_wc wcs[IBB_PORT_BURST];
    bool armed = port->opts.busy_poll, too_big = false;
    struct verbs_rxq *rxq;
    size_t done = 0;
    int err = 0;

    *n_recv = 0;
    if (qid >= vp->n_rxq || !vp->rxqs[qid].cq || vp->fatal) {
        return (vp->fatal ? ECONNRESET
                : qid >= vp->n_rxq && vp->ctx
                ? ibb_port_set_error(port, EINVAL, "%s: no receive queue "
                                     "%u (%u in all)", port->device, qid,
                                     vp->n_rxq)
                : ibb_port_set_error(port, ENOTCONN, "%s: not connected",
                                     port->device));
    }
    rxq = &vp->rxqs[qid];

    rxq->more = false;
    while (done < n) {
        int got = ibv_poll_cq(rxq->cq, n - done, wcs);

        if (got < 0) {
            err = ibb_port_set_error(port, EIO, "%s: ibv_poll_cq (receive) "
                                     "failed", port->device);
            break;
        } else if (!got) {
            if (armed) {
                break;
            }
            /* Arm, then poll once more: a completion that came between
             * the empty poll and the arm would otherwise wait unseen. */
            err = arm_recv_cq(vp, rxq);
            if (err) {
                break;
            }
            armed = true;
            continue;
        }

        for (int i = 0; i < got; i++) {
            const struct ibv_wc *wc = &wcs[i];

            if (wc->wr_id >= rxq->n_bufs) {
                vp->c.rx_wc_error++;
                continue;
            }
            rxq->repost[rxq->n_repost++] = wc->wr_id;
            if (wc->status != IBV_WC_SUCCESS) {
                vp->c.rx_wc_error++;
            } else if (wc->opcode != IBV_WC_RECV) {
                vp->c.rx_bad_opcode++;
            } else {
                switch (rebuild_packet(vp, rxq, wc, &bufs[done])) {
                case RX_OK:
                    done++;
                    break;
                case RX_TOO_BIG:
                    too_big = true;
                    break;
                case RX_DROPPED:
                default:
                    break;
                }
            }
        }
    }
    /* A full burst may have left completions behind, armed or not (one
     * that came before the arm does not signal the fd): ask for another
     * call without waiting. */
    if (done == n) {
        rxq->more = true;
    }
    rxq->packets += done;

    if (rxq->n_repost >= VERBS_RECV_REPOST) {
        unsigned int posted;
        int perr = post_recv_bufs(vp, rxq, rxq->repost, rxq->n_repost,
                                  &posted);

        if (perr) {
            repost_failed(vp, rxq, posted);
            if (!err) {
                err = perr;
            }
        } else {
            rxq->n_repost = 0;
        }
    }

    *n_recv = done;
    if (done) {
        return 0;
    } else if (err) {
        return err;
    } else if (too_big) {
        return ibb_port_set_error(port, EMSGSIZE, "%s: received packet "
                                  "exceeds buffer", port->device);
    }
    return EAGAIN;
}

/* The fd of queue 'qid''s completion channel (never readable while the
 * port busy-polls), -1 if none. */
int
verbs_queue_fd(const struct ibb_port *port, unsigned int qid)
{
    const struct ibb_port_verbs *vp = verbs_cast(port);

    return (qid < vp->n_rxq && vp->rxqs[qid].channel && !vp->fatal
            ? vp->rxqs[qid].channel->fd : -1);
}

/* True if the last receive on 'qid' stopped at a full burst: more
 * completions may be waiting that the fd will not signal. */
bool
verbs_queue_has_pending(const struct ibb_port *port, unsigned int qid)
{
    const struct ibb_port_verbs *vp = verbs_cast(port);

    return qid < vp->n_rxq && vp->rxqs[qid].more;
}

unsigned int
verbs_n_rxq(const struct ibb_port *port)
{
    const struct ibb_port_verbs *vp = verbs_cast(port);

    return vp->n_rxq ? vp->n_rxq
           : port->opts.n_rxq ? port->opts.n_rxq : 1;
}

/* Exports "rxqN_packets" for each queue in use. */
size_t
verbs_rxq_counters(const struct ibb_port_verbs *vp,
                   struct ibb_port_counter *out, size_t max)
{
#define RXQ_NAME(N) "rxq" #N "_packets"
    static const char *const names[VERBS_MAX_RXQS] = {
        RXQ_NAME(0), RXQ_NAME(1), RXQ_NAME(2), RXQ_NAME(3),
        RXQ_NAME(4), RXQ_NAME(5), RXQ_NAME(6), RXQ_NAME(7),
        RXQ_NAME(8), RXQ_NAME(9), RXQ_NAME(10), RXQ_NAME(11),
        RXQ_NAME(12), RXQ_NAME(13), RXQ_NAME(14), RXQ_NAME(15),
    };
#undef RXQ_NAME
    unsigned int n = vp->n_rxq ? vp->n_rxq : 1;

    for (size_t i = 0; i < n && i < max; i++) {
        out[i].name = names[i];
        out[i].value = vp->rxqs[i].packets;
    }
    return n;
}
