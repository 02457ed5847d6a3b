/*
 * ibsim-verbs-wire: the "hardware" of the HCA model (ibsim-verbs.c): the
 * fabric port (open, loss, reconnect), the packets it builds for sends, the
 * checks and delivery of received packets to QPs, and the background
 * thread that receives from the fabric, retries the connection while the
 * fabric is away and flushes the transmit backlog.
 */
#include <config.h>
#include "ibsim-verbs-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ib-crc.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ibport.h"

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

/* Wakes the receive thread (after a control request that may have queued
 * packets inside the port, or when there is something to send). */
void
hca_kick(void)
{
    static const char c = 0;

    if (hca.wake[1] >= 0) {
        hca_write_all(hca.wake[1], &c, 1);
    }
}

/* True if a packet's P_Key matches the P_Key table: same partition, and
 * not both limited members. */
static bool
pkey_ok(uint16_t pkey)
{
    return ((pkey & 0x7fff) == (hca.pkey & 0x7fff)
            && ((pkey | hca.pkey) & 0x8000) && (pkey & 0x7fff));
}

/* ------------------------------------------------------------------ */
/* Fabric port: open, loss, reconnect. */

static void tx_fail(struct hca_qp *, uint64_t wr_id, uint64_t seq);

void
hca_open_qpn(struct hca_qp *qp)
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

void
hca_close_qpn(struct hca_qp *qp)
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
        struct hca_qp *qp = hca_find_qp(t->qpn);

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
            hca_send_completion(qp, t->wr_id, t->sq_seq, IBV_WC_SUCCESS, 0);
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
    hca.next_retry = ibb_port_now_ms() + HCA_RETRY_MS;
    tx_discard();

    /* The SA memberships die with the SM: forget them in the port object
     * too, so that ibb_port_reconnect() does not restore them. */
    while (hca.groups) {
        struct hca_group *g = hca.groups;

        hca.groups = g->next;
        ibb_port_mcast_leave(hca.port, g->mgid);
        free(g);
    }
    hca_async_event(NULL, IBV_EVENT_PORT_ERR, NULL);
    hca_cm_port_lost();
}

static void
port_try_reconnect(void)
{
    int err;

    hca.next_retry = ibb_port_now_ms() + HCA_RETRY_MS;
    err = ibb_port_reconnect(hca.port);
    if (err) {
        return;
    }
    ibb_port_query(hca.port, &hca.attr);
    hca.up = true;
    /* QPs that reached RTR while the port was down. */
    for (struct hca_qp *qp = hca.qps; qp; qp = qp->next) {
        if (qp->fabric_open) {
            hca_open_qpn(qp);
        }
    }
    hca_log("fabric connection back, LID %u", hca.attr.lid);
    hca_async_event(NULL, IBV_EVENT_PORT_ACTIVE, NULL);
    hca_async_event(NULL, IBV_EVENT_CLIENT_REREGISTER, NULL);
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

static void
deliver_to_qp(struct hca_qp *qp, const struct hca_rx_pkt *p)
{
    struct hca_rq *rq = hca_qp_rq(qp);
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
        if (!hca_sge_ok(&w->sge[i], qp->pd, IBV_ACCESS_LOCAL_WRITE)) {
            hca.c.rx_prot_err++;
            e.wc.status = IBV_WC_LOC_PROT_ERR;
            hca_cq_push(qp->rcq, &e, false);
            hca_qp_to_error(qp);
            return;
        }
        room += w->sge[i].length;
    }
    if (room < IBB_GRH_LEN + p->len) {
        hca.c.rx_len_err++;
        e.wc.status = IBV_WC_LOC_LEN_ERR;
        hca_cq_push(qp->rcq, &e, false);
        hca_qp_to_error(qp);
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
    hca_cq_push(qp->rcq, &e, ibb_bth_se(p->bth));
}

static bool
qp_receives(const struct hca_qp *qp)
{
    return qp->state == IBV_QPS_RTR || qp->state == IBV_QPS_RTS;
}

bool
hca_rx_parse(const uint8_t *pkt, size_t len, struct hca_rx_pkt *p)
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

/* Whether a copy for 'qp' from the line-rate source filling 'only' waits:
 * 'qp' is on another CQ, or has no WQE or no CQ entry to take it. */
static bool
source_waits(const struct hca_qp *qp, const struct hca_cq *only)
{
    return only && (qp->rcq != only
                    || !hca_qp_rq((struct hca_qp *) qp)->posted
                    || hca_cq_full(only));
}

int
hca_rx_deliver(const struct hca_rx_pkt *p, const struct hca_cq *only)
{
    uint32_t dqpn = ibb_bth_qpn(p->bth);
    uint32_t qkey = ibb_deth_qkey(p->deth);
    uint16_t dlid = ibb_lrh_dlid(p->lrh);
    struct hca_qp *qp;
    int n = 0;

    if (dlid >= IBB_LID_MCAST_MIN && dlid != IBB_LID_PERMISSIVE) {
        uint32_t sqpn = ibb_deth_sqpn(p->deth);
        bool from_us = ibb_lrh_slid(p->lrh) == hca.attr.lid;
        bool any = false;

        if (!p->grh || !ibb_gid_is_multicast(p->grh->dgid)
            || dqpn != IBB_MULTICAST_QPN) {
            HCA_DROP(rx_malformed, "multicast DLID 0x%04x without "
                     "multicast GRH and DestQP", dlid);
            return 0;
        }
        for (qp = hca.qps; qp; qp = qp->next) {
            bool attached = false;

            for (size_t i = 0; i < qp->n_attach && !attached; i++) {
                attached = !memcmp(qp->attach[i].mgid, p->grh->dgid, 16);
            }
            if (!attached || !qp_receives(qp)) {
                continue;
            }
            any = true;
            if (source_waits(qp, only)
                || (from_us && sqpn == qp->qp.qp_num
                    && qp->block_self_mcast)) {
                continue;
            }
            if (qkey != qp->qkey) {
                HCA_DROP(rx_bad_qkey, "multicast to QP 0x%06x: Q_Key "
                         "0x%08x, QP has 0x%08x", qp->qp.qp_num, qkey,
                         qp->qkey);
                continue;
            }
            deliver_to_qp(qp, p);
            n++;
        }
        if (!any && !only) {
            HCA_DROP(rx_mcast_no_qp, "no QP attached");
        }
        return n;
    }

    if (dlid != hca.attr.lid) {
        HCA_DROP(rx_bad_dlid, "DLID %u", dlid);
        return 0;
    }
    qp = dqpn == IBB_MULTICAST_QPN ? NULL : hca_find_qp(dqpn);
    if (!qp) {
        HCA_DROP(rx_no_qp, "DestQP 0x%06x", dqpn);
        return 0;
    }
    if (!qp_receives(qp)) {
        HCA_DROP(rx_qp_state, "QP 0x%06x in state %d", dqpn, qp->state);
        return 0;
    }
    if (p->grh && memcmp(p->grh->dgid, hca.attr.gid, 16)) {
        char buf[IBB_GID_STRLEN];

        HCA_DROP(rx_bad_dgid, "DGID %s",
                 ibb_gid_format(p->grh->dgid, buf, sizeof buf));
        return 0;
    }
    if (qkey != qp->qkey) {
        HCA_DROP(rx_bad_qkey, "QP 0x%06x: Q_Key 0x%08x, QP has 0x%08x",
                 dqpn, qkey, qp->qkey);
        return 0;
    }
    if (source_waits(qp, only)) {
        return 0;
    }
    deliver_to_qp(qp, p);
    return 1;
}

static void
rx_packet(const uint8_t *pkt, size_t len)
{
    struct hca_rx_pkt p;

    hca.c.rx_packets++;
    if (hca_rx_parse(pkt, len, &p)) {
        hca_rx_deliver(&p, NULL);
    }
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
    hca_send_completion(qp, wr_id, seq, IBV_WC_LOC_QP_OP_ERR, 0);
    hca_qp_to_error(qp);
}

static bool tx_flush(void);

/* Queues the injected fault for 'wr' behind the sends before it, or fails
 * at once if nothing waits (the port is down or the backlog empty). */
void
hca_tx_queue_fail(struct hca_qp *qp, const struct ibv_send_wr *wr,
                  uint64_t seq)
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
            qp = hca_find_qp(t->qpn);
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
        qp = hca_find_qp(t->qpn);
        if (qp && t->signaled) {
            hca_send_completion(qp, t->wr_id, t->sq_seq, IBV_WC_SUCCESS, 0);
        }
        free(t);
    }
    return true;
}

/* Builds the packet for 'wr' on 'qp' with 'payload' of 'len' bytes and
 * queues it.  Caller checked everything. */
void
hca_tx_build(struct hca_qp *qp, const struct ibv_send_wr *wr, uint64_t seq,
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
            hca_send_completion(qp, t->wr_id, seq, IBV_WC_SUCCESS, 0);
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
        hca_line_rate_check();
        if (!hca.up && ibb_port_now_ms() >= hca.next_retry) {
            port_try_reconnect();
        }
        next_join = hca_cm_run_joins();
        if (next_join != LLONG_MAX) {
            long long wait = next_join - ibb_port_now_ms();

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
/* Opening and closing the port. */

/* Opens the fabric port for the first context.  Caller holds the mutex. */
int
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
    err = hca_make_pipe(hca.wake);
    if (!err) {
        fcntl(hca.wake[0], F_SETFL, O_NONBLOCK);
        err = pthread_create(&hca.thread, NULL, hca_thread, NULL);
    }
    if (err) {
        hca_close_pipe(hca.wake);
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
void
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
    hca_close_pipe(hca.wake);
    hca_log_counters();
    while (hca.tx_head) {
        struct hca_txpkt *t = hca.tx_head;

        hca.tx_head = t->next;
        free(t);
    }
    hca.tx_tail = &hca.tx_head;
    hca_line_rate_free();
    while (hca.groups) {
        struct hca_group *g = hca.groups;

        hca.groups = g->next;
        free(g);
    }
    ibb_port_close(hca.port);
    hca.port = NULL;
    hca.up = false;
}
