/*
 * ibsim-verbs-qp.c: the HCA model's work queues (utilities/ibsim-verbs.c
 * has the overview): receive queues, SRQs and UD QPs, their state machine,
 * posting sends and receives, and multicast attachments.
 */
#include <config.h>
#include "ibsim-verbs-private.h"

#include <errno.h>
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ib-gid.h"
#include "ib-hdr.h"

/* ------------------------------------------------------------------ */
/* Receive queues. */

struct hca_rq *
hca_qp_rq(struct hca_qp *qp)
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

/* Completes receive WR 'wr_id' of 'qp' with IBV_WC_WR_FLUSH_ERR. */
static void
recv_flushed(struct hca_qp *qp, uint64_t wr_id)
{
    struct hca_cqe e;

    memset(&e, 0, sizeof e);
    e.wc.wr_id = wr_id;
    e.wc.status = IBV_WC_WR_FLUSH_ERR;
    e.wc.opcode = IBV_WC_RECV;
    e.wc.qp_num = qp->qp.qp_num;
    hca_cq_push(qp->rcq, &e, false);
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
            recv_flushed(qp, wr->wr_id);
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

/* Takes the sends of 'qp' that wait for the fabric out of the backlog,
 * each completing with IBV_WC_WR_FLUSH_ERR if 'flush' (the error state),
 * else silently (RESET). */
static void
tx_drop(struct hca_qp *qp, bool flush)
{
    for (struct hca_txpkt **pp = &hca.tx_head; *pp;) {
        struct hca_txpkt *t = *pp;

        if (t->qpn == qp->qp.qp_num) {
            *pp = t->next;
            if (flush) {
                hca_send_completion(qp, t->wr_id, t->sq_seq,
                                    IBV_WC_WR_FLUSH_ERR, 0);
            }
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

/* Moves 'qp' to the error state: closes its QPN on the fabric and flushes
 * its own RQ and its unsent sends. */
void
hca_qp_to_error(struct hca_qp *qp)
{
    struct hca_rq *rq = &qp->rq;

    qp->state = IBV_QPS_ERR;
    qp->qp.state = IBV_QPS_ERR;
    hca_close_qpn(qp);
    if (!qp->srq) {
        while (rq->posted) {
            uint64_t wr_id = rq->wqes[rq->head].wr_id;

            rq->head = (rq->head + 1) % rq->max_wr;
            rq->posted--;
            recv_flushed(qp, wr_id);
        }
    }
    tx_drop(qp, true);
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

int
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
        if (qpn > 1 && qpn != IBB_MULTICAST_QPN && !hca_find_qp(qpn)) {
            return qpn;
        }
    }
}

struct ibv_qp *
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
    /* Tests map groups and QPs to receive CQs from this line. */
    hca_log("created UD QP 0x%06x (receive CQ 0x%06x)", qp->qp.qp_num,
            qp->rcq->cqn);
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
    hca_close_qpn(qp);
    qp->rq.head = 0;
    qp->rq.posted = 0;
    qp->rq.used = 0;
    qp->sq_retired = qp->sq_head;
    tx_drop(qp, false);
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
        hca_qp_to_error(qp);
        break;
    case IBV_QPS_RTR:
    case IBV_QPS_RTS:
        /* Receiving starts at RTR; a new Q_Key reopens the QPN. */
        if (cur == IBV_QPS_INIT || (mask & IBV_QP_QKEY)) {
            hca_open_qpn(qp);
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

int
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
            hca_send_completion(qp, wr->wr_id, seq, IBV_WC_WR_FLUSH_ERR, 0);
            continue;
        }
        if (hca.fail_send && ++hca.n_sends == hca.fail_send) {
            hca_tx_queue_fail(qp, wr, seq);
            continue;
        }
        if (len > hca.attr.mtu || len > IBB_FABRIC_MAX_PACKET - 128) {
            hca.c.tx_len_err++;
            hca_send_completion(qp, wr->wr_id, seq, IBV_WC_LOC_LEN_ERR, 0);
            hca_qp_to_error(qp);
            continue;
        }
        len = 0;
        for (int i = 0; i < wr->num_sge; i++) {
            const struct ibv_sge *s = &wr->sg_list[i];

            if (!(wr->send_flags & IBV_SEND_INLINE)
                && !hca_sge_ok(s, qp->pd, 0)) {
                len = SIZE_MAX;
                break;
            }
            memcpy(buf + len, (const void *) (uintptr_t) s->addr, s->length);
            len += s->length;
        }
        if (len == SIZE_MAX) {
            hca.c.tx_prot_err++;
            hca_send_completion(qp, wr->wr_id, seq, IBV_WC_LOC_PROT_ERR, 0);
            hca_qp_to_error(qp);
            continue;
        }
        hca_tx_build(qp, wr, seq, signaled, buf, len);
    }
    if (err) {
        *bad_wr = wr;
    }
    pthread_mutex_unlock(&hca.mutex);
    return err;
}

int
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
        hca.c.mcast_attach_full++;
        hca_log("QP 0x%06x: ibv_attach_mcast refused: %d groups attached "
                "(max_mcast_qp_attach)", ibqp->qp_num,
                HCA_MAX_MCAST_QP_ATTACH);
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
    hca.c.mcast_attach++;
    if (hca.log) {
        char buf[IBB_GID_STRLEN];

        /* Tests count the groups per QP from these lines. */
        hca_log("QP 0x%06x: attached %s with LID 0x%04x (%zu groups)",
                ibqp->qp_num, ibb_gid_format(gid->raw, buf, sizeof buf),
                lid, qp->n_attach);
    }
    if (hca.fail_attach && ++hca.n_attaches == hca.fail_attach) {
        hca_log("QP 0x%06x: injected fatal QP error", ibqp->qp_num);
        hca_qp_to_error(qp);
        hca_async_event(qp->ctx, IBV_EVENT_QP_FATAL, ibqp);
    }
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
            hca_log("QP 0x%06x: detached a group (%zu groups)",
                    ibqp->qp_num, qp->n_attach);
            err = 0;
            break;
        }
    }
    pthread_mutex_unlock(&hca.mutex);
    return err;
}
