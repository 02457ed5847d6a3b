/*
 * Packet builders and reference CRCs for the ibbridge unit tests and the
 * benchmark.
 *
 * The CRCs here are deliberately not the ones in lib/: the ICRC is zlib's
 * crc32() over a pseudo-packet masked byte by byte as the wire-format
 * reference (section 2) describes, the VCRC a bitwise CRC-16, the IP and
 * UDP checksums a plain RFC 1071 loop.  Header fields are written by byte
 * offset, not with lib/ accessors.
 */
#ifndef TEST_PKT_H
#define TEST_PKT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Transport part: BTH DETH [ImmDt] payload pad. */
struct tp_tr {
    uint8_t opcode;             /* 0x64 or 0x65 (or anything). */
    uint16_t pkey;
    uint32_t dqpn, psn, qkey, sqpn, imm;
    bool fecn;
    size_t plen;                /* Payload length. */
    uint8_t seed;               /* Payload byte pattern seed. */
};

struct tp_ib {
    bool grh;                   /* LNH 3 (else 2). */
    uint8_t vl, sl;
    uint16_t dlid, slid;
    uint8_t tclass;
    uint32_t flow;
    uint8_t hop;
    uint8_t sgid[16], dgid[16];
    struct tp_tr tr;
};

struct tp_roce {
    uint8_t smac[6], dmac[6];
    bool vlan;
    bool v4;
    uint8_t tos;                /* TOS / traffic class. */
    uint32_t flow;              /* IPv6 only. */
    uint8_t ttl;
    uint16_t ipid;
    uint8_t sip[16], dip[16];   /* 16-byte form; IPv4 in bytes 12-15. */
    uint16_t sport;
    bool udp_csum;
    struct tp_tr tr;
};

/* The MGID ff12::N (N below 65536): a group number as an MGID. */
static inline void
tp_mgid_n(int n, uint8_t mgid[16])
{
    memset(mgid, 0, 16);
    mgid[0] = 0xff;
    mgid[1] = 0x12;
    mgid[14] = n >> 8;
    mgid[15] = n;
}

static inline void
tp_be16(uint8_t *p, uint32_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void
tp_be24(uint8_t *p, uint32_t v)
{
    p[0] = v >> 16;
    p[1] = v >> 8;
    p[2] = v;
}

static inline void
tp_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static inline size_t
tp_pad(size_t plen)
{
    return (4 - (plen & 3)) & 3;
}

/* Writes BTH..pad at 'p'; returns its length. */
static inline size_t
tp_transport(const struct tp_tr *t, uint8_t *p)
{
    size_t n = 0;
    size_t pad = tp_pad(t->plen);

    p[0] = t->opcode;
    p[1] = pad << 4;
    tp_be16(p + 2, t->pkey);
    p[4] = t->fecn ? 0x80 : 0;
    tp_be24(p + 5, t->dqpn);
    p[8] = 0;
    tp_be24(p + 9, t->psn);
    tp_be32(p + 12, t->qkey);
    p[16] = 0;
    tp_be24(p + 17, t->sqpn);
    n = 20;
    if (t->opcode == 0x65) {
        tp_be32(p + n, t->imm);
        n += 4;
    }
    for (size_t i = 0; i < t->plen; i++) {
        p[n++] = (uint8_t) (i * 13 + t->seed);
    }
    memset(p + n, 0, pad);
    return n + pad;
}

/* Bitwise reference for the VCRC: poly 0x100B reflected (0xD008), init and
 * final XOR 0xFFFF, written independently of the table in ib-crc.c. */
static inline uint16_t
tp_vcrc(const uint8_t *p, size_t len)
{
    uint16_t c = 0xffff;

    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0xd008 : c >> 1;
        }
    }
    return c ^ 0xffff;
}

/* Reference ICRC: zlib CRC-32 of 'pseudo' after masking. */
static inline uint32_t
tp_crc_masked(const uint8_t *hdr, size_t hlen, const uint8_t *bth,
              size_t tlen, bool ones_prefix)
{
    uint8_t pseudo[16384];
    size_t n = 0;

    if (ones_prefix) {
        memset(pseudo, 0xff, 8);
        n = 8;
    }
    memcpy(pseudo + n, hdr, hlen);
    memcpy(pseudo + n + hlen, bth, tlen);
    pseudo[n + hlen + 4] = 0xff;        /* BTH FECN/BECN/resv6. */
    return crc32(0, pseudo, n + hlen + tlen);
}

/* Reference ICRC of the IB packet 'p' of 'len' bytes (LRH..ICRC). */
static inline uint32_t
tp_ref_icrc_ib(const uint8_t *p, size_t len)
{
    uint8_t hdr[48];

    if ((p[1] & 3) == 3) {
        memcpy(hdr, p + 8, 40);
        hdr[0] |= 0x0f;
        hdr[1] = hdr[2] = hdr[3] = 0xff;        /* TClass, FlowLabel. */
        hdr[7] = 0xff;                          /* HopLmt. */
        return tp_crc_masked(hdr, 40, p + 48, len - 48 - 4, true);
    }
    memcpy(hdr, p, 8);
    hdr[0] |= 0xf0;                             /* VL. */
    return tp_crc_masked(hdr, 8, p + 8, len - 8 - 4, false);
}

/* Reference ICRC of the RoCEv2 packet 'ip' (IP header..ICRC). */
static inline uint32_t
tp_ref_icrc_roce(const uint8_t *ip, size_t len)
{
    uint8_t hdr[48];
    size_t hl;

    if (ip[0] >> 4 == 4) {
        hl = 28;
        memcpy(hdr, ip, hl);
        hdr[1] = 0xff;                          /* TOS. */
        hdr[8] = 0xff;                          /* TTL. */
        hdr[10] = hdr[11] = 0xff;               /* Header checksum. */
    } else {
        hl = 48;
        memcpy(hdr, ip, hl);
        hdr[0] |= 0x0f;
        hdr[1] = hdr[2] = hdr[3] = 0xff;        /* TClass, FlowLabel. */
        hdr[7] = 0xff;                          /* Hop limit. */
    }
    hdr[hl - 2] = hdr[hl - 1] = 0xff;           /* UDP checksum. */
    return tp_crc_masked(hdr, hl, ip + hl, len - hl - 4, true);
}

static inline void
tp_le32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

static inline uint32_t
tp_get_le32(const uint8_t *p)
{
    return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t) p[3] << 24);
}

/* Rewrites ICRC and VCRC of IB packet 'p' ('len' includes the VCRC). */
static inline void
tp_fix_ib(uint8_t *p, size_t len)
{
    uint16_t v;

    tp_le32(p + len - 6, tp_ref_icrc_ib(p, len - 2));
    v = tp_vcrc(p, len - 2);
    p[len - 2] = v;
    p[len - 1] = v >> 8;
}

static inline void
tp_fix_vcrc(uint8_t *p, size_t len)
{
    uint16_t v = tp_vcrc(p, len - 2);

    p[len - 2] = v;
    p[len - 1] = v >> 8;
}

/* Builds an IB packet at 'p'; returns its length (through the VCRC). */
static inline size_t
tp_build_ib(const struct tp_ib *b, uint8_t *p)
{
    size_t hl = b->grh ? 48 : 8;
    size_t tl = tp_transport(&b->tr, p + hl) + 4;
    size_t len = hl + tl + 2;

    p[0] = b->vl << 4;
    p[1] = (b->sl << 4) | (b->grh ? 3 : 2);
    tp_be16(p + 2, b->dlid);
    tp_be16(p + 4, (hl + tl) / 4);
    tp_be16(p + 6, b->slid);
    if (b->grh) {
        uint8_t *g = p + 8;

        tp_be32(g, (6u << 28) | ((uint32_t) b->tclass << 20)
                   | (b->flow & 0xfffff));
        tp_be16(g + 4, tl);
        g[6] = 0x1b;
        g[7] = b->hop;
        memcpy(g + 8, b->sgid, 16);
        memcpy(g + 24, b->dgid, 16);
    }
    tp_fix_ib(p, len);
    return len;
}

static inline uint16_t
tp_csum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (p[i] << 8) | p[i + 1];
    }
    if (len & 1) {
        sum += p[len - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}

/* Reference UDP checksum of the RoCEv2 packet at 'ip' (0 if it verifies:
 * summing with the stored checksum gives 0). */
static inline uint16_t
tp_udp_csum(const uint8_t *ip, bool fill)
{
    uint32_t sum = 0;
    const uint8_t *udp;
    size_t ulen;
    uint8_t pseudo[40];
    size_t pl;

    if (ip[0] >> 4 == 4) {
        udp = ip + 20;
        ulen = (udp[4] << 8) | udp[5];
        memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = 17;
        tp_be16(pseudo + 10, ulen);
        pl = 12;
    } else {
        udp = ip + 40;
        ulen = (udp[4] << 8) | udp[5];
        memcpy(pseudo, ip + 8, 32);
        tp_be32(pseudo + 32, ulen);
        tp_be32(pseudo + 36, 17);
        pl = 40;
    }
    for (size_t i = 0; i < pl; i += 2) {
        sum += (pseudo[i] << 8) | pseudo[i + 1];
    }
    if (fill) {
        uint16_t c;

        ((uint8_t *) udp)[6] = ((uint8_t *) udp)[7] = 0;
        c = tp_csum(udp, ulen, sum);
        tp_be16((uint8_t *) udp + 6, c ? c : 0xffff);
        return 0;
    }
    return tp_csum(udp, ulen, sum);
}

/* Rewrites the IPv4 header checksum and the ICRC of the frame 'f'. */
static inline void
tp_fix_roce(uint8_t *f, size_t len)
{
    size_t l3 = (f[12] == 0x81 && f[13] == 0) ? 18 : 14;
    uint8_t *ip = f + l3;

    if (ip[0] >> 4 == 4) {
        ip[10] = ip[11] = 0;
        tp_be16(ip + 10, tp_csum(ip, (ip[0] & 0xf) * 4, 0));
    }
    tp_le32(f + len - 4, tp_ref_icrc_roce(ip, len - l3));
}

/* Builds a RoCEv2 frame at 'f'; returns its length. */
static inline size_t
tp_build_roce(const struct tp_roce *b, uint8_t *f)
{
    size_t l3 = b->vlan ? 18 : 14;
    size_t il = b->v4 ? 20 : 40;
    uint8_t *ip = f + l3;
    uint8_t *udp = ip + il;
    size_t tl = tp_transport(&b->tr, udp + 8) + 4;
    size_t len = l3 + il + 8 + tl;

    memcpy(f, b->dmac, 6);
    memcpy(f + 6, b->smac, 6);
    if (b->vlan) {
        tp_be16(f + 12, 0x8100);
        tp_be16(f + 14, 0x0064);
    }
    tp_be16(f + l3 - 2, b->v4 ? 0x0800 : 0x86dd);
    if (b->v4) {
        ip[0] = 0x45;
        ip[1] = b->tos;
        tp_be16(ip + 2, 20 + 8 + tl);
        tp_be16(ip + 4, b->ipid);
        tp_be16(ip + 6, 0x4000);
        ip[8] = b->ttl;
        ip[9] = 17;
        memcpy(ip + 12, b->sip + 12, 4);
        memcpy(ip + 16, b->dip + 12, 4);
    } else {
        tp_be32(ip, (6u << 28) | ((uint32_t) b->tos << 20)
                    | (b->flow & 0xfffff));
        tp_be16(ip + 4, 8 + tl);
        ip[6] = 17;
        ip[7] = b->ttl;
        memcpy(ip + 8, b->sip, 16);
        memcpy(ip + 24, b->dip, 16);
    }
    tp_be16(udp, b->sport);
    tp_be16(udp + 2, 4791);
    tp_be16(udp + 4, 8 + tl);
    udp[6] = udp[7] = 0;
    tp_fix_roce(f, len);
    if (b->udp_csum) {
        tp_udp_csum(ip, true);
    }
    return len;
}

/* Parses hex string 'hex' (test vectors) into 'out' and returns the byte
 * count; a digit that is not hex is a broken vector: the test aborts. */
static inline size_t
tp_unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned int b;

        if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
            fprintf(stderr, "bad hex test vector at %zu: %s\n", i, hex);
            abort();
        }
        out[i] = b;
    }
    return n;
}

#endif /* test-pkt.h */
