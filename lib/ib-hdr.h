/*
 * InfiniBand headers: LRH, GRH, BTH, DETH, ImmDt, ICRC, VCRC.
 *
 * Reference: shared/docs/ib-roce-wire-format.md section 1 (checked against
 * linux drivers/infiniband/core/ud_header.c and sw/rxe/rxe_hdr.h).  Byte
 * offsets are from the header start, bit 7 is the MSB, multi-byte fields are
 * big-endian.
 *
 * Native IB packet:
 *
 *   LRH(8) | GRH(40) if LNH=3 | BTH(12) | DETH(8) | ImmDt(4) if op 0x65 |
 *   payload | pad 0-3 | ICRC(4) | VCRC(2)
 *
 * LRH, Local Route Header (8 bytes):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------+-------+-------+---+---+-------------------------------+
 *   |  VL   | LVer  |  SL   |rsv|LNH|             DLID              |
 *   +-------+-------+-------+---+---+-------------------------------+
 *   |  rsv    |       PktLen        |             SLID              |
 *   +---------+---------------------+-------------------------------+
 *
 *   LVer must be 0.  LNH: 0 raw, 1 IP non-IBA, 2 IBA local (BTH next),
 *   3 IBA global (GRH next).  PktLen counts 4-byte words from the first
 *   LRH byte through the ICRC (the VCRC is not counted).
 *
 * GRH, Global Route Header (40 bytes):
 *
 *   +-------+---------------+---------------------------------------+
 *   |IPVer=6|    TClass     |              FlowLabel                |
 *   +-------+---------------+---------------+-----------------------+
 *   |            PayLen             | NxtHdr=1B     |    HopLmt     |
 *   +-------------------------------+---------------+---------------+
 *   |                      SGID (16 bytes)                          |
 *   |                      DGID (16 bytes)                          |
 *   +---------------------------------------------------------------+
 *
 *   PayLen counts the bytes after the GRH through the ICRC.
 *
 * BTH, Base Transport Header (12 bytes):
 *
 *   +---------------+-+-+---+-------+-------------------------------+
 *   |    OpCode     |S|M|Pad| TVer  |             P_Key             |
 *   +-+-+-----------+-+-+---+-------+-------------------------------+
 *   |F|B|   resv6   |                    DestQP                     |
 *   +-+-------------+-----------------------------------------------+
 *   |A|   resv7     |                      PSN                      |
 *   +-+-------------+-----------------------------------------------+
 *
 *   S = solicited event, M = MigReq, Pad = PadCnt, F = FECN, B = BECN,
 *   A = AckReq.  TVer must be 0.  The ICRC masks byte 4 (F, B, resv6).
 *
 * DETH (8 bytes): Q_Key(4) | reserved(1) | SrcQP(3).
 * ImmDt (4 bytes): opaque immediate data, directly after the DETH.
 *
 * ICRC: CRC-32 stored least-significant byte first.  VCRC: CRC-16, see
 * lib/ib-crc.h for its byte order.
 *
 * All structs contain only bytes, so they have alignment 1 and may overlay
 * any buffer offset.  Use the accessors; nothing else touches the bytes.
 */
#ifndef IB_HDR_H
#define IB_HDR_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibb-bytes.h"

#define IBB_LRH_LEN 8
#define IBB_GRH_LEN 40
#define IBB_BTH_LEN 12
#define IBB_DETH_LEN 8
#define IBB_IMMDT_LEN 4
#define IBB_ICRC_LEN 4
#define IBB_VCRC_LEN 2
#define IBB_GID_LEN 16

/* Well-known values. */
#define IBB_GRH_NXTHDR 0x1b         /* GRH NxtHdr for an IBA transport. */
#define IBB_GRH_IPVER 6             /* GRH IPVer. */
#define IBB_MULTICAST_QPN 0xffffff  /* BTH DestQP for multicast. */
#define IBB_LID_PERMISSIVE 0xffff
#define IBB_LID_MCAST_MIN 0xc000
#define IBB_LID_MCAST_MAX 0xfffe
#define IBB_DEF_PKEY 0xffff

/* LRH LNH values. */
enum ibb_lnh {
    IBB_LNH_RAW = 0,            /* Raw packet. */
    IBB_LNH_IP = 1,             /* IP non-IBA transport. */
    IBB_LNH_LOCAL = 2,          /* IBA local: BTH follows the LRH. */
    IBB_LNH_GLOBAL = 3,         /* IBA global: GRH follows the LRH. */
};

/* ------------------------------------------------------------------ */
/* LRH. */

struct ibb_lrh {
    uint8_t vl_lver;            /* VL (7:4), LVer (3:0). */
    uint8_t sl_lnh;             /* SL (7:4), reserved (3:2), LNH (1:0). */
    uint8_t dlid[2];            /* Destination LID. */
    uint8_t pktlen[2];          /* Reserved (15:11), PktLen (10:0). */
    uint8_t slid[2];            /* Source LID. */
};
_Static_assert(sizeof(struct ibb_lrh) == IBB_LRH_LEN, "LRH size");

#define IBB_LRH_PKTLEN_MASK 0x07ff

static inline uint8_t
ibb_lrh_vl(const struct ibb_lrh *lrh)
{
    return lrh->vl_lver >> 4;
}

static inline void
ibb_lrh_set_vl(struct ibb_lrh *lrh, uint8_t vl)
{
    lrh->vl_lver = (lrh->vl_lver & 0x0f) | (vl << 4);
}

static inline uint8_t
ibb_lrh_lver(const struct ibb_lrh *lrh)
{
    return lrh->vl_lver & 0x0f;
}

static inline void
ibb_lrh_set_lver(struct ibb_lrh *lrh, uint8_t lver)
{
    lrh->vl_lver = (lrh->vl_lver & 0xf0) | (lver & 0x0f);
}

static inline uint8_t
ibb_lrh_sl(const struct ibb_lrh *lrh)
{
    return lrh->sl_lnh >> 4;
}

static inline void
ibb_lrh_set_sl(struct ibb_lrh *lrh, uint8_t sl)
{
    lrh->sl_lnh = (lrh->sl_lnh & 0x0f) | (sl << 4);
}

static inline uint8_t
ibb_lrh_lnh(const struct ibb_lrh *lrh)
{
    return lrh->sl_lnh & 0x03;
}

static inline void
ibb_lrh_set_lnh(struct ibb_lrh *lrh, uint8_t lnh)
{
    lrh->sl_lnh = (lrh->sl_lnh & 0xfc) | (lnh & 0x03);
}

static inline uint16_t
ibb_lrh_dlid(const struct ibb_lrh *lrh)
{
    return ibb_get_be16(lrh->dlid);
}

static inline void
ibb_lrh_set_dlid(struct ibb_lrh *lrh, uint16_t dlid)
{
    ibb_put_be16(lrh->dlid, dlid);
}

/* PktLen in 4-byte words. */
static inline uint16_t
ibb_lrh_pktlen(const struct ibb_lrh *lrh)
{
    return ibb_get_be16(lrh->pktlen) & IBB_LRH_PKTLEN_MASK;
}

static inline void
ibb_lrh_set_pktlen(struct ibb_lrh *lrh, uint16_t words)
{
    uint16_t v = ibb_get_be16(lrh->pktlen) & ~IBB_LRH_PKTLEN_MASK;

    ibb_put_be16(lrh->pktlen, v | (words & IBB_LRH_PKTLEN_MASK));
}

static inline uint16_t
ibb_lrh_slid(const struct ibb_lrh *lrh)
{
    return ibb_get_be16(lrh->slid);
}

static inline void
ibb_lrh_set_slid(struct ibb_lrh *lrh, uint16_t slid)
{
    ibb_put_be16(lrh->slid, slid);
}

/* ------------------------------------------------------------------ */
/* GRH. */

struct ibb_grh {
    uint8_t vtf[4];             /* IPVer (31:28), TClass (27:20),
                                 * FlowLabel (19:0). */
    uint8_t paylen[2];          /* Bytes after the GRH through the ICRC. */
    uint8_t nxthdr;             /* Next header, 0x1B for IBA. */
    uint8_t hoplmt;             /* Hop limit. */
    uint8_t sgid[IBB_GID_LEN];  /* Source GID. */
    uint8_t dgid[IBB_GID_LEN];  /* Destination GID. */
};
_Static_assert(sizeof(struct ibb_grh) == IBB_GRH_LEN, "GRH size");

#define IBB_GRH_FLOW_MASK 0x000fffff

static inline uint8_t
ibb_grh_ipver(const struct ibb_grh *grh)
{
    return grh->vtf[0] >> 4;
}

static inline void
ibb_grh_set_ipver(struct ibb_grh *grh, uint8_t ipver)
{
    grh->vtf[0] = (grh->vtf[0] & 0x0f) | (ipver << 4);
}

static inline uint8_t
ibb_grh_tclass(const struct ibb_grh *grh)
{
    return (ibb_get_be32(grh->vtf) >> 20) & 0xff;
}

static inline void
ibb_grh_set_tclass(struct ibb_grh *grh, uint8_t tclass)
{
    uint32_t v = ibb_get_be32(grh->vtf) & ~(0xffu << 20);

    ibb_put_be32(grh->vtf, v | ((uint32_t) tclass << 20));
}

static inline uint32_t
ibb_grh_flow(const struct ibb_grh *grh)
{
    return ibb_get_be32(grh->vtf) & IBB_GRH_FLOW_MASK;
}

static inline void
ibb_grh_set_flow(struct ibb_grh *grh, uint32_t flow)
{
    uint32_t v = ibb_get_be32(grh->vtf) & ~IBB_GRH_FLOW_MASK;

    ibb_put_be32(grh->vtf, v | (flow & IBB_GRH_FLOW_MASK));
}

static inline uint16_t
ibb_grh_paylen(const struct ibb_grh *grh)
{
    return ibb_get_be16(grh->paylen);
}

static inline void
ibb_grh_set_paylen(struct ibb_grh *grh, uint16_t paylen)
{
    ibb_put_be16(grh->paylen, paylen);
}

static inline uint8_t
ibb_grh_nxthdr(const struct ibb_grh *grh)
{
    return grh->nxthdr;
}

static inline void
ibb_grh_set_nxthdr(struct ibb_grh *grh, uint8_t nxthdr)
{
    grh->nxthdr = nxthdr;
}

static inline uint8_t
ibb_grh_hoplmt(const struct ibb_grh *grh)
{
    return grh->hoplmt;
}

static inline void
ibb_grh_set_hoplmt(struct ibb_grh *grh, uint8_t hoplmt)
{
    grh->hoplmt = hoplmt;
}

/* GIDs are byte arrays: use grh->sgid and grh->dgid directly with
 * memcpy()/memcmp() and the helpers in lib/ib-gid.h. */

/* ------------------------------------------------------------------ */
/* BTH. */

struct ibb_bth {
    uint8_t opcode;             /* Transport (7:5), operation (4:0). */
    uint8_t flags;              /* SE (7), MigReq (6), PadCnt (5:4),
                                 * TVer (3:0). */
    uint8_t pkey[2];            /* Partition key. */
    uint8_t resv8a;             /* FECN (7), BECN (6), reserved (5:0). */
    uint8_t dqpn[3];            /* Destination QP. */
    uint8_t ack_resv7;          /* AckReq (7), reserved (6:0). */
    uint8_t psn[3];             /* Packet sequence number. */
};
_Static_assert(sizeof(struct ibb_bth) == IBB_BTH_LEN, "BTH size");

#define IBB_BTH_SE_MASK 0x80
#define IBB_BTH_MIG_MASK 0x40
#define IBB_BTH_PAD_MASK 0x30
#define IBB_BTH_TVER_MASK 0x0f
#define IBB_BTH_FECN_MASK 0x80
#define IBB_BTH_BECN_MASK 0x40
#define IBB_BTH_ACK_MASK 0x80

/* Offset of the byte the ICRC masks (FECN, BECN, resv6). */
#define IBB_BTH_RESV8A_OFS 4

static inline uint8_t
ibb_bth_opcode(const struct ibb_bth *bth)
{
    return bth->opcode;
}

static inline void
ibb_bth_set_opcode(struct ibb_bth *bth, uint8_t opcode)
{
    bth->opcode = opcode;
}

static inline bool
ibb_bth_se(const struct ibb_bth *bth)
{
    return (bth->flags & IBB_BTH_SE_MASK) != 0;
}

static inline void
ibb_bth_set_se(struct ibb_bth *bth, bool se)
{
    bth->flags = (bth->flags & ~IBB_BTH_SE_MASK) | (se ? IBB_BTH_SE_MASK : 0);
}

static inline bool
ibb_bth_mig(const struct ibb_bth *bth)
{
    return (bth->flags & IBB_BTH_MIG_MASK) != 0;
}

static inline void
ibb_bth_set_mig(struct ibb_bth *bth, bool mig)
{
    bth->flags = (bth->flags & ~IBB_BTH_MIG_MASK)
                 | (mig ? IBB_BTH_MIG_MASK : 0);
}

static inline uint8_t
ibb_bth_pad(const struct ibb_bth *bth)
{
    return (bth->flags & IBB_BTH_PAD_MASK) >> 4;
}

static inline void
ibb_bth_set_pad(struct ibb_bth *bth, uint8_t pad)
{
    bth->flags = (bth->flags & ~IBB_BTH_PAD_MASK) | ((pad << 4)
                                                     & IBB_BTH_PAD_MASK);
}

static inline uint8_t
ibb_bth_tver(const struct ibb_bth *bth)
{
    return bth->flags & IBB_BTH_TVER_MASK;
}

static inline void
ibb_bth_set_tver(struct ibb_bth *bth, uint8_t tver)
{
    bth->flags = (bth->flags & ~IBB_BTH_TVER_MASK)
                 | (tver & IBB_BTH_TVER_MASK);
}

static inline uint16_t
ibb_bth_pkey(const struct ibb_bth *bth)
{
    return ibb_get_be16(bth->pkey);
}

static inline void
ibb_bth_set_pkey(struct ibb_bth *bth, uint16_t pkey)
{
    ibb_put_be16(bth->pkey, pkey);
}

/* True if P_Keys 'a' and 'b' may talk: the same partition (low 15 bits)
 * and at least one of them a full member (IBA 10.9.3). */
static inline bool
ibb_pkey_match(uint16_t a, uint16_t b)
{
    return (a & 0x7fff) == (b & 0x7fff) && ((a | b) & 0x8000);
}

static inline bool
ibb_bth_fecn(const struct ibb_bth *bth)
{
    return (bth->resv8a & IBB_BTH_FECN_MASK) != 0;
}

static inline void
ibb_bth_set_fecn(struct ibb_bth *bth, bool fecn)
{
    bth->resv8a = (bth->resv8a & ~IBB_BTH_FECN_MASK)
                  | (fecn ? IBB_BTH_FECN_MASK : 0);
}

static inline bool
ibb_bth_becn(const struct ibb_bth *bth)
{
    return (bth->resv8a & IBB_BTH_BECN_MASK) != 0;
}

static inline void
ibb_bth_set_becn(struct ibb_bth *bth, bool becn)
{
    bth->resv8a = (bth->resv8a & ~IBB_BTH_BECN_MASK)
                  | (becn ? IBB_BTH_BECN_MASK : 0);
}

static inline uint32_t
ibb_bth_qpn(const struct ibb_bth *bth)
{
    return ibb_get_be24(bth->dqpn);
}

static inline void
ibb_bth_set_qpn(struct ibb_bth *bth, uint32_t qpn)
{
    ibb_put_be24(bth->dqpn, qpn);
}

static inline bool
ibb_bth_ack(const struct ibb_bth *bth)
{
    return (bth->ack_resv7 & IBB_BTH_ACK_MASK) != 0;
}

static inline void
ibb_bth_set_ack(struct ibb_bth *bth, bool ack)
{
    bth->ack_resv7 = (bth->ack_resv7 & ~IBB_BTH_ACK_MASK)
                     | (ack ? IBB_BTH_ACK_MASK : 0);
}

static inline uint32_t
ibb_bth_psn(const struct ibb_bth *bth)
{
    return ibb_get_be24(bth->psn);
}

static inline void
ibb_bth_set_psn(struct ibb_bth *bth, uint32_t psn)
{
    ibb_put_be24(bth->psn, psn);
}

/* ------------------------------------------------------------------ */
/* DETH. */

struct ibb_deth {
    uint8_t qkey[4];            /* Queue key. */
    uint8_t resv;               /* Reserved. */
    uint8_t sqpn[3];            /* Source QP. */
};
_Static_assert(sizeof(struct ibb_deth) == IBB_DETH_LEN, "DETH size");

static inline uint32_t
ibb_deth_qkey(const struct ibb_deth *deth)
{
    return ibb_get_be32(deth->qkey);
}

static inline void
ibb_deth_set_qkey(struct ibb_deth *deth, uint32_t qkey)
{
    ibb_put_be32(deth->qkey, qkey);
}

static inline uint32_t
ibb_deth_sqpn(const struct ibb_deth *deth)
{
    return ibb_get_be24(deth->sqpn);
}

static inline void
ibb_deth_set_sqpn(struct ibb_deth *deth, uint32_t sqpn)
{
    ibb_put_be24(deth->sqpn, sqpn);
}

/* ------------------------------------------------------------------ */
/* ImmDt. */

struct ibb_immdt {
    uint8_t imm[4];             /* Immediate data, opaque. */
};
_Static_assert(sizeof(struct ibb_immdt) == IBB_IMMDT_LEN, "ImmDt size");

static inline uint32_t
ibb_immdt_imm(const struct ibb_immdt *immdt)
{
    return ibb_get_be32(immdt->imm);
}

static inline void
ibb_immdt_set_imm(struct ibb_immdt *immdt, uint32_t imm)
{
    ibb_put_be32(immdt->imm, imm);
}

/* ------------------------------------------------------------------ */
/* ICRC: stored least-significant byte first (rxe, scapy). */

static inline uint32_t
ibb_icrc_get(const uint8_t *p)
{
    return ibb_get_le32(p);
}

static inline void
ibb_icrc_put(uint8_t *p, uint32_t icrc)
{
    ibb_put_le32(p, icrc);
}

/* ------------------------------------------------------------------ */
/* Opcode table (lib/ib-opcode.c), read as ibb_opcode[op].offset[IBB_DETH],
 * like rxe_opcode[].  Offsets are from the first BTH byte. */

/* BTH opcodes. */
#define IBB_OP_UD_SEND_ONLY 0x64
#define IBB_OP_UD_SEND_ONLY_WITH_IMM 0x65
#define IBB_OP_CNP 0x81

/* Header kinds in a transport header chain. */
enum ibb_hdr_type {
    IBB_BTH,
    IBB_DETH,
    IBB_IMMDT,
    IBB_PAYLOAD,
    IBB_NUM_HDR_TYPES
};

/* Opcode flags. */
enum {
    IBB_OPF_VALID = 1 << 0,     /* Known opcode. */
    IBB_OPF_BRIDGED = 1 << 1,   /* Bridged between IB and RoCEv2. */
    IBB_OPF_DETH = 1 << 2,      /* Has a DETH. */
    IBB_OPF_IMMDT = 1 << 3,     /* Has an ImmDt. */
};

struct ibb_opcode_info {
    const char *name;           /* Name, e.g. "UD_SEND_ONLY"; NULL if
                                 * unknown. */
    uint8_t flags;              /* IBB_OPF_*. */
    uint8_t length;             /* BTH plus extension headers, in bytes. */
    uint8_t offset[IBB_NUM_HDR_TYPES]; /* Offset of each header from the
                                        * BTH, 0 if absent (except BTH). */
};

extern const struct ibb_opcode_info ibb_opcode[256];

/* Returns true if 'opcode' is one of the opcodes the bridge converts. */
static inline bool
ibb_opcode_is_bridged(uint8_t opcode)
{
    return (ibb_opcode[opcode].flags & IBB_OPF_BRIDGED) != 0;
}

/* Returns the PadCnt that a payload of 'len' bytes needs. */
static inline uint8_t
ibb_pad_for_len(size_t len)
{
    return (4 - (len & 3)) & 3;
}

#endif /* ib-hdr.h */
