/*
 * The send path of the rdma-core port backend (lib/ibport-verbs.c).
 *
 * ibb_port_send() takes native IB packets (LRH .. VCRC) and posts each as a
 * UD send: its DETH SrcQP picks the QP (the main QP or a proxy QP), its
 * LRH and GRH an address handle, its BTH DestQP and DETH Q_Key the remote
 * QP and Q_Key.  The payload is copied into a slot of a registered send
 * ring, and the HCA builds the headers and CRCs itself.
 *
 * Address handles are cached (at most VERBS_MAX_AHS).  A send in flight
 * holds a reference on its AH until its completion is reaped, so that an
 * AH is destroyed only when no send uses it; a full cache evicts idle
 * entries, oldest first.  A send never waits: a full ring, a full cache
 * or a QP in the error state drops the packet, counted.
 */
#include <config.h>

#include "ibport-verbs-private.h"

/* Frees send slot 'slot': drops its reference on its AH and puts it back
 * on the free stack. */
static void
release_slot(struct ibb_port_verbs *vp, unsigned int slot)
{
    vp->slot_busy[slot] = false;
    if (vp->slot_ah[slot]) {
        vp->slot_ah[slot]->inflight--;
        vp->slot_ah[slot] = NULL;
    }
    vp->free_slots[vp->n_free_slots++] = slot;
}

/* Frees the slots of every send still in flight on QP 'qpn', after the
 * HCA dropped them (QP destroyed or reset). */
void
verbs_release_qp_slots(struct ibb_port_verbs *vp, uint32_t qpn)
{
    for (unsigned int i = 0; i < VERBS_N_SEND_SLOTS; i++) {
        if (vp->slot_busy[i] && vp->slot_qpn[i] == qpn) {
            release_slot(vp, i);
        }
    }
}

void
verbs_reap_sends(struct ibb_port_verbs *vp)
{
    struct ibv_wc wcs[32];
    int got;

    if (!vp->send_cq) {
        return;
    }
    do {
        got = ibv_poll_cq(vp->send_cq, 32, wcs);
        for (int i = 0; i < got; i++) {
            uint32_t slot = wcs[i].wr_id & 0xffffffff;
            uint32_t seq = wcs[i].wr_id >> 32;
            bool current = (slot < VERBS_N_SEND_SLOTS && vp->slot_busy[slot]
                            && vp->slot_seq[slot] == seq);

            if (wcs[i].status == IBV_WC_WR_FLUSH_ERR) {
                vp->c.tx_wc_flush++;
            } else if (wcs[i].status != IBV_WC_SUCCESS) {
                /* The error moved the QP to SQE or ERR, where every later
                 * send is flushed: recover it.  (Not for a stale
                 * completion, from before a reset that already did.) */
                struct verbs_qp *q = (current
                                      ? find_qp(vp, vp->slot_qpn[slot])
                                      : NULL);

                vp->c.tx_wc_error++;
                if (q) {
                    verbs_mark_qp_broken(vp, q);
                }
            }
            if (current) {
                release_slot(vp, slot);
            }
        }
    } while (got == 32);
}

/* Returns a free send slot, or -1 if none is free even after reaping the
 * send CQ once.  Never waits: the caller's main loop must not stall, and
 * it counts the packet as dropped. */
static int
get_send_slot(struct ibb_port_verbs *vp)
{
    if (!vp->n_free_slots) {
        verbs_reap_sends(vp);
        if (!vp->n_free_slots) {
            vp->c.tx_ring_full++;
            return -1;
        }
    }
    return vp->free_slots[--vp->n_free_slots];
}

static void
destroy_ah(struct ibb_port_verbs *vp, struct verbs_ah *a)
{
    HASH_DEL(vp->ahs, a);
    vp->n_ahs--;
    ibv_destroy_ah(a->ah);
    free(a);
}

void
verbs_flush_ahs(struct ibb_port_verbs *vp)
{
    struct verbs_ah *a, *next;

    HASH_ITER(hh, vp->ahs, a, next) {
        destroy_ah(vp, a);
    }
    vp->n_ahs = 0;
}

/* Makes room in the full AH cache: evicts up to VERBS_AH_EVICT entries
 * that no send in flight uses, oldest first, sparing on a first pass
 * those used since the last sweep (a CLOCK approximation of LRU).
 * Returns how many were evicted. */
static unsigned int
evict_ahs(struct ibb_port_verbs *vp)
{
    unsigned int evicted = 0;

    verbs_reap_sends(vp);
    for (int pass = 0; pass < 2 && evicted < VERBS_AH_EVICT; pass++) {
        struct verbs_ah *a, *next;

        HASH_ITER(hh, vp->ahs, a, next) {
            if (evicted >= VERBS_AH_EVICT) {
                break;
            } else if (a->inflight) {
                continue;
            } else if (a->referenced && !pass) {
                a->referenced = false;
                continue;
            }
            destroy_ah(vp, a);
            evicted++;
        }
    }
    vp->c.ah_evictions += evicted;
    return evicted;
}

/* Returns the cached AH for 'key', creating it if needed; NULL if it
 * cannot (counted). */
static struct verbs_ah *
get_ah(struct ibb_port_verbs *vp, const struct verbs_ah_key *key)
{
    struct ibv_ah_attr attr;
    struct verbs_ah *a;
    bool oom = false;

    HASH_FIND(hh, vp->ahs, key, sizeof *key, a);
    if (a) {
        a->referenced = true;
        return a;
    }

    /* A real bound: an AH is destroyed only when no send in flight uses
     * it.  If every cached AH is in use, the packet is dropped. */
    if (vp->n_ahs >= VERBS_MAX_AHS && !evict_ahs(vp)) {
        vp->c.tx_ah_cache_full++;
        return NULL;
    }

    memset(&attr, 0, sizeof attr);
    attr.dlid = key->dlid;
    attr.sl = key->sl;
    attr.src_path_bits = 0;
    attr.static_rate = 0;
    attr.is_global = key->is_global;
    attr.port_num = vp->port_num;
    if (key->is_global) {
        memcpy(attr.grh.dgid.raw, key->dgid, 16);
        attr.grh.flow_label = key->flow_label;
        attr.grh.sgid_index = vp->up.opts.gid_index;
        attr.grh.hop_limit = key->hop_limit;
        attr.grh.traffic_class = key->tclass;
    }

    a = calloc(1, sizeof *a);
    if (!a) {
        vp->c.tx_ah_error++;
        return NULL;
    }
    a->key = *key;
    a->referenced = true;
    a->ah = ibv_create_ah(vp->pd, &attr);
    if (!a->ah) {
        free(a);
        vp->c.tx_ah_error++;
        return NULL;
    }
    HASH_ADD(hh, vp->ahs, key, sizeof a->key, a);
    if (oom) {
        ibv_destroy_ah(a->ah);
        free(a);
        vp->c.tx_ah_error++;
        return NULL;
    }
    vp->n_ahs++;
    return a;
}

/* A native IB packet to send, parsed. */
struct tx_pkt {
    struct verbs_ah_key key;    /* Address handle fields. */
    uint8_t opcode;             /* BTH opcode. */
    bool se;                    /* BTH solicited event. */
    uint32_t dqpn;              /* BTH DestQP. */
    uint32_t qkey;              /* DETH Q_Key. */
    uint32_t sqpn;              /* DETH SrcQP. */
    const struct ibb_immdt *immdt; /* ImmDt, if any. */
    const uint8_t *payload;     /* Payload. */
    size_t payload_len;         /* Its length, without pad. */
};

/* Parses 'data' (LRH .. VCRC) into 'pkt'.  Returns false if it is not a
 * UD SEND packet we can post. */
static bool
parse_tx_packet(const uint8_t *data, size_t len, struct tx_pkt *pkt)
{
    const struct ibb_opcode_info *info;
    const struct ibb_lrh *lrh;
    const struct ibb_bth *bth;
    const struct ibb_deth *deth;
    size_t ofs = IBB_LRH_LEN, end;

    memset(pkt, 0, sizeof *pkt);
    if (len < IBB_LRH_LEN) {
        return false;
    }
    lrh = (const struct ibb_lrh *) data;
    pkt->key.dlid = ibb_lrh_dlid(lrh);
    pkt->key.sl = ibb_lrh_sl(lrh);
    if (ibb_lrh_lnh(lrh) == IBB_LNH_GLOBAL) {
        const struct ibb_grh *grh;

        if (len < IBB_LRH_LEN + IBB_GRH_LEN) {
            return false;
        }
        grh = (const struct ibb_grh *) (data + ofs);
        pkt->key.is_global = 1;
        pkt->key.tclass = ibb_grh_tclass(grh);
        pkt->key.flow_label = ibb_grh_flow(grh);
        pkt->key.hop_limit = ibb_grh_hoplmt(grh);
        memcpy(pkt->key.dgid, grh->dgid, 16);
        ofs += IBB_GRH_LEN;
    } else if (ibb_lrh_lnh(lrh) != IBB_LNH_LOCAL) {
        return false;
    }

    if (len < ofs + IBB_BTH_LEN) {
        return false;
    }
    bth = (const struct ibb_bth *) (data + ofs);
    pkt->opcode = ibb_bth_opcode(bth);
    if (pkt->opcode != IBB_OP_UD_SEND_ONLY
        && pkt->opcode != IBB_OP_UD_SEND_ONLY_WITH_IMM) {
        return false;
    }
    info = &ibb_opcode[pkt->opcode];
    end = IBB_ICRC_LEN + IBB_VCRC_LEN + ibb_bth_pad(bth);
    if (len < ofs + info->length + end) {
        return false;
    }
    pkt->se = ibb_bth_se(bth);
    pkt->dqpn = ibb_bth_qpn(bth);
    deth = (const struct ibb_deth *) (data + ofs + info->offset[IBB_DETH]);
    pkt->qkey = ibb_deth_qkey(deth);
    pkt->sqpn = ibb_deth_sqpn(deth);
    if (info->flags & IBB_OPF_IMMDT) {
        pkt->immdt = (const struct ibb_immdt *)
                     (data + ofs + info->offset[IBB_IMMDT]);
    }
    pkt->payload = data + ofs + info->offset[IBB_PAYLOAD];
    pkt->payload_len = len - (ofs + info->offset[IBB_PAYLOAD]) - end;
    return true;
}

int
verbs_send(struct ibb_port *port, const struct ibb_port_buf bufs[],
           size_t n, size_t *n_sent)
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    size_t i;

    *n_sent = 0;
    if (!vp->send_cq || vp->fatal) {
        return ibb_port_set_error(port, EPIPE, "%s: %s", port->device,
                                  vp->fatal ? "HCA reported a fatal error"
                                            : "not connected");
    }
    verbs_reap_sends(vp);

    for (i = 0; i < n; i++) {
        struct ibv_send_wr wr, *bad;
        struct verbs_qp *q;
        struct ibv_sge sge;
        struct tx_pkt pkt;
        struct verbs_ah *ah;
        uint8_t *slot_buf;
        int slot, err;

        if (!parse_tx_packet(bufs[i].data, bufs[i].len, &pkt)) {
            vp->c.tx_malformed++;
            continue;
        }
        q = find_qp(vp, pkt.sqpn);
        if (!q || q->mcast_only) {
            vp->c.tx_no_qp++;
            continue;
        }
        if (!verbs_qp_usable(vp, q)) {
            /* In the error state, it would only flush the send. */
            vp->c.tx_qp_error++;
            continue;
        }
        if (pkt.payload_len > VERBS_SEND_SLOT_SIZE
            || (vp->mtu && pkt.payload_len > vp->mtu)) {
            vp->c.tx_too_big++;
            continue;
        }
        ah = get_ah(vp, &pkt.key);
        if (!ah) {
            continue;
        }
        slot = get_send_slot(vp);
        if (slot < 0) {
            *n_sent = i;
            return EAGAIN;
        }

        slot_buf = vp->send_bufs + (size_t) slot * VERBS_SEND_SLOT_SIZE;
        memcpy(slot_buf, pkt.payload, pkt.payload_len);
        sge.addr = (uintptr_t) slot_buf;
        sge.length = pkt.payload_len;
        sge.lkey = vp->send_mr->lkey;

        memset(&wr, 0, sizeof wr);
        vp->slot_seq[slot]++;
        wr.wr_id = ((uint64_t) vp->slot_seq[slot] << 32) | (uint32_t) slot;
        wr.sg_list = &sge;
        wr.num_sge = pkt.payload_len ? 1 : 0;
        wr.send_flags = IBV_SEND_SIGNALED | (pkt.se ? IBV_SEND_SOLICITED
                                                    : 0);
        if (pkt.immdt) {
            wr.opcode = IBV_WR_SEND_WITH_IMM;
            wr.imm_data = htonl(ibb_immdt_imm(pkt.immdt));
        } else {
            wr.opcode = IBV_WR_SEND;
        }
        wr.wr.ud.ah = ah->ah;
        wr.wr.ud.remote_qpn = pkt.dqpn;
        wr.wr.ud.remote_qkey = pkt.qkey;

        /* The slot holds a reference on the AH until its completion is
         * reaped (or the QP reset or destroyed). */
        vp->slot_busy[slot] = true;
        vp->slot_qpn[slot] = q->qpn;
        vp->slot_ah[slot] = ah;
        ah->inflight++;
        err = ibv_post_send(q->qp, &wr, &bad);
        if (err) {
            release_slot(vp, slot);
            *n_sent = i;
            if (err == ENOMEM) {
                return EAGAIN;
            }
            return ibb_port_set_error(port, err, "%s: ibv_post_send on QP "
                                      "0x%06x failed (%s)", port->device,
                                      q->qpn, strerror(err));
        }
    }
    *n_sent = i;
    return 0;
}
