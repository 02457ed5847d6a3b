#include <config.h>

#include "ib-ud-build.h"

#include <string.h>

#include "ib-crc.h"
#include "ib-hdr.h"
#include "ib-icrc.h"

size_t
ibb_ud_build(uint8_t *pkt, const struct ibb_ud_hdrs *h,
             const uint8_t *payload, size_t len)
{
    struct ibb_lrh *lrh = (struct ibb_lrh *) pkt;
    struct ibb_grh *grh = (struct ibb_grh *) (lrh + 1);
    struct ibb_bth *bth = (struct ibb_bth *) (grh + 1);
    struct ibb_deth *deth = (struct ibb_deth *) (bth + 1);
    size_t pad = ibb_pad_for_len(len);
    size_t tlen = IBB_BTH_LEN + IBB_DETH_LEN + len + pad + IBB_ICRC_LEN;
    size_t pktbytes = IBB_LRH_LEN + IBB_GRH_LEN + tlen;

    memset(pkt, 0, IBB_LRH_LEN + IBB_GRH_LEN + IBB_BTH_LEN + IBB_DETH_LEN);
    ibb_lrh_set_sl(lrh, h->sl);
    ibb_lrh_set_lnh(lrh, IBB_LNH_GLOBAL);
    ibb_lrh_set_dlid(lrh, h->dlid);
    ibb_lrh_set_slid(lrh, h->slid);
    ibb_lrh_set_pktlen(lrh, pktbytes / 4);

    ibb_grh_set_ipver(grh, IBB_GRH_IPVER);
    ibb_grh_set_tclass(grh, h->tclass);
    ibb_grh_set_flow(grh, h->flow);
    ibb_grh_set_paylen(grh, tlen);
    ibb_grh_set_nxthdr(grh, IBB_GRH_NXTHDR);
    ibb_grh_set_hoplmt(grh, h->hop_limit);
    memcpy(grh->sgid, h->sgid, 16);
    memcpy(grh->dgid, h->dgid, 16);

    ibb_bth_set_opcode(bth, IBB_OP_UD_SEND_ONLY);
    ibb_bth_set_pad(bth, pad);
    ibb_bth_set_pkey(bth, h->pkey);
    ibb_bth_set_qpn(bth, h->dqpn);
    ibb_bth_set_psn(bth, h->psn);
    ibb_deth_set_qkey(deth, h->qkey);
    ibb_deth_set_sqpn(deth, h->sqpn);

    memcpy(deth + 1, payload, len);
    memset((uint8_t *) (deth + 1) + len, 0, pad);
    ibb_icrc_ib_generate(pkt, pktbytes);
    ibb_vcrc_put(pkt + pktbytes, ibb_vcrc16(0, pkt, pktbytes));
    return pktbytes + IBB_VCRC_LEN;
}
