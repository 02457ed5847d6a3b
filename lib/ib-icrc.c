/*
 * ICRC check/generate for IB global/local and RoCEv2 IPv4/IPv6.
 */
#include <config.h>

#include "ib-icrc.h"

#include <errno.h>
#include <string.h>

#include "ib-crc.h"
#include "ib-hdr.h"
#include "ibb-crc-fold.h"
#include "roce-hdr.h"

/* Length of the all-ones prefix that stands for a masked LRH. */
#define IBB_ICRC_ONES_LEN 8

/* CRC of the BTH..pad part, BTH byte 4 masked, continuing 'prefix_crc'.
 * 'len' >= IBB_BTH_LEN. */
uint32_t
ibb_icrc_seeded(uint32_t prefix_crc, const uint8_t *bth, size_t len)
{
    uint8_t masked[IBB_BTH_LEN];
    uint32_t crc;

    memcpy(masked, bth, IBB_BTH_LEN);
    masked[IBB_BTH_RESV8A_OFS] = 0xff;
    crc = ibb_crc32(prefix_crc, masked, IBB_BTH_LEN);
    return ibb_crc32(crc, bth + IBB_BTH_LEN, len - IBB_BTH_LEN);
}

/* The same CRC, started from no prefix. */
uint32_t
ibb_icrc_common(const uint8_t *bth, size_t len)
{
    return ibb_icrc_seeded(0, bth, len);
}

uint32_t
ibb_icrc_reprefix(uint32_t icrc, uint32_t old_prefix, uint32_t new_prefix,
                  size_t len)
{
    /* crc(P || C) = shift_len(crc(P)) ^ crc(C), shift linear.  Carry-less
     * multiplication where the CPU has it: zlib's multiplication modulo P
     * loops over the bits. */
    return icrc ^ ibb_crc32_fold_shift(old_prefix ^ new_prefix, len);
}

/* Longest masked prefix: 8 ones, IPv6, UDP. */
#define IBB_ICRC_HEAD_MAX (IBB_ICRC_ONES_LEN + IBB_IPV6_LEN + IBB_UDP_LEN)

/* Each fill_*() writes a header's masked ICRC prefix at 'buf' and returns
 * its length. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
static size_t
fill_grh(uint8_t *buf, const struct ibb_grh *grh)
{
    struct ibb_grh *m = (struct ibb_grh *) (buf + IBB_ICRC_ONES_LEN);

    memset(buf, 0xff, IBB_ICRC_ONES_LEN);
    memcpy(m, grh, IBB_GRH_LEN);
    m->vtf[0] |= 0x0f;
    m->vtf[1] = m->vtf[2] = m->vtf[3] = 0xff;
    m->hoplmt = 0xff;
    return IBB_ICRC_ONES_LEN + IBB_GRH_LEN;
}
#endif

static size_t
fill_ipv4(uint8_t *buf, const struct ibb_ipv4 *ip, const struct ibb_udp *udp)
{
    struct ibb_ipv4 *m = (struct ibb_ipv4 *) (buf + IBB_ICRC_ONES_LEN);
    struct ibb_udp *mu = (struct ibb_udp *) (m + 1);

    memset(buf, 0xff, IBB_ICRC_ONES_LEN);
    memcpy(m, ip, IBB_IPV4_LEN);
    memcpy(mu, udp, IBB_UDP_LEN);
    m->tos = 0xff;
    m->ttl = 0xff;
    ibb_ipv4_set_csum(m, 0xffff);
    ibb_udp_set_csum(mu, 0xffff);
    return IBB_ICRC_ONES_LEN + IBB_IPV4_LEN + IBB_UDP_LEN;
}

static size_t
fill_ipv6(uint8_t *buf, const struct ibb_ipv6 *ip6,
          const struct ibb_udp *udp)
{
    struct ibb_ipv6 *m = (struct ibb_ipv6 *) (buf + IBB_ICRC_ONES_LEN);
    struct ibb_udp *mu = (struct ibb_udp *) (m + 1);

    memset(buf, 0xff, IBB_ICRC_ONES_LEN);
    memcpy(m, ip6, IBB_IPV6_LEN);
    memcpy(mu, udp, IBB_UDP_LEN);
    m->vtf[0] |= 0x0f;
    m->vtf[1] = m->vtf[2] = m->vtf[3] = 0xff;
    m->hlim = 0xff;
    ibb_udp_set_csum(mu, 0xffff);
    return IBB_ICRC_ONES_LEN + IBB_IPV6_LEN + IBB_UDP_LEN;
}

uint32_t
ibb_icrc_prefix_grh(const struct ibb_grh *grh)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* 8 ones and the GRH are three 16-byte blocks: built with whole loads
     * (the GRH's first 8 bytes masked as one word: TClass, FlowLabel,
     * HopLmt) and folded, rather than masked byte by byte in a buffer
     * that the CRC then waits to load. */
    typedef uint64_t v2u64 __attribute__((vector_size(16)));
    const uint8_t *g = (const uint8_t *) grh;
    uint64_t w;
    ibb_v16 head[3];

    memcpy(&w, g, 8);
    head[0] = (ibb_v16) (v2u64) { UINT64_MAX,
                                  w | UINT64_C(0xff000000ffffff0f) };
    memcpy(&head[1], g + 8, 16);
    memcpy(&head[2], g + 24, 16);
    return ibb_crc32_fold(0, head, 3, g, 0);
#else
    uint8_t buf[IBB_ICRC_HEAD_MAX];

    return ibb_crc32(0, buf, fill_grh(buf, grh));
#endif
}

uint32_t
ibb_icrc_prefix_lrh(const struct ibb_lrh *lrh)
{
    struct ibb_lrh m = *lrh;

    ibb_lrh_set_vl(&m, 0xf);
    return ibb_crc32(0, &m, sizeof m);
}

uint32_t
ibb_icrc_prefix_ipv4(const struct ibb_ipv4 *ip, const struct ibb_udp *udp)
{
    uint8_t buf[IBB_ICRC_HEAD_MAX];

    return ibb_crc32(0, buf, fill_ipv4(buf, ip, udp));
}

uint32_t
ibb_icrc_prefix_ipv6(const struct ibb_ipv6 *ip6, const struct ibb_udp *udp)
{
    uint8_t buf[IBB_ICRC_HEAD_MAX];

    return ibb_crc32(0, buf, fill_ipv6(buf, ip6, udp));
}

/* Heads are built in whole 16-byte pieces (ibb_v16): masking byte by
 * byte instead leaves the CRC's wide loads waiting for the narrow stores
 * before them, which cost as much as the CRC of a small packet. */
typedef ibb_v16 icrc_v16;

/* The head of each kind of packet's ICRC input, starting 8 bytes before
 * its first header: 0xff where the ICRC puts ones (the 8 bytes standing
 * for the LRH, the variant fields, BTH byte 4), else 0. */
static const uint8_t ipv4_head_mask[48] = {
    [0 ... 7] = 0xff,
    [8 + 1] = 0xff,                           /* TOS */
    [8 + 8] = 0xff,                           /* TTL */
    [8 + 10 ... 8 + 11] = 0xff,               /* Header checksum. */
    [28 + 6 ... 28 + 7] = 0xff,               /* UDP checksum. */
    [36 + IBB_BTH_RESV8A_OFS] = 0xff,
};
static const uint8_t ipv6_head_mask[64] = {
    [0 ... 7] = 0xff,
    [8] = 0x0f, [9 ... 11] = 0xff,            /* TClass, FlowLabel. */
    [8 + 7] = 0xff,                           /* HopLimit. */
    [48 + 6 ... 48 + 7] = 0xff,               /* UDP checksum. */
    [56 + IBB_BTH_RESV8A_OFS] = 0xff,
};
static const uint8_t grh_head_mask[64] = {
    [0 ... 7] = 0xff,
    [8] = 0x0f, [9 ... 11] = 0xff,            /* TClass, FlowLabel. */
    [8 + 7] = 0xff,                           /* HopLmt. */
    [48 + IBB_BTH_RESV8A_OFS] = 0xff,
};
_Static_assert(IBB_ICRC_ONES_LEN + IBB_IPV4_LEN + IBB_UDP_LEN + IBB_BTH_LEN
               == sizeof ipv4_head_mask, "IPv4 head is not 48 bytes");
_Static_assert(IBB_ICRC_ONES_LEN + IBB_IPV6_LEN + IBB_UDP_LEN + 8
               == sizeof ipv6_head_mask, "IPv6 head is not 64 bytes");
_Static_assert(IBB_ICRC_ONES_LEN + IBB_GRH_LEN + 16
               == sizeof grh_head_mask, "GRH head is not 64 bytes");

/* The CRC of the 'n16' * 16 bytes at 'src' masked by 'mask', continued
 * over the 'rest_len' bytes at 'rest'. */
static inline uint32_t
icrc_head(const uint8_t *src, const uint8_t *mask, size_t n16,
          const uint8_t *rest, size_t rest_len)
{
    icrc_v16 head[4];

    for (size_t i = 0; i < n16; i++) {
        icrc_v16 v, m;

        memcpy(&v, src + 16 * i, 16);
        memcpy(&m, mask + 16 * i, 16);
        head[i] = v | m;
    }
    /* One pass, one final reduction: the head is folded into the rest. */
    return ibb_crc32_fold(0, head, n16, rest, rest_len);
}

uint32_t
ibb_icrc_ib_grh(const uint8_t *grh, size_t len)
{
    const uint8_t *bth = grh + IBB_GRH_LEN;

    if (len < 16) {
        return ibb_icrc_seeded(ibb_icrc_prefix_grh((const struct ibb_grh *)
                                                   grh), bth, len);
    }
    return icrc_head(grh - IBB_ICRC_ONES_LEN, grh_head_mask, 4, bth + 16,
                     len - 16);
}

uint32_t
ibb_icrc_roce4_at(const uint8_t *ip, const uint8_t *bth, size_t len)
{
    return icrc_head(ip - IBB_ICRC_ONES_LEN, ipv4_head_mask, 3,
                     bth + IBB_BTH_LEN, len - IBB_BTH_LEN);
}

uint32_t
ibb_icrc_roce6_at(const uint8_t *ip6, const uint8_t *bth, size_t len)
{
    return icrc_head(ip6 - IBB_ICRC_ONES_LEN, ipv6_head_mask, 4, bth + 8,
                     len - 8);
}

uint32_t
ibb_icrc_roce4(const uint8_t *ip, size_t len)
{
    return ibb_icrc_roce4_at(ip, ip + IBB_IPV4_LEN + IBB_UDP_LEN, len);
}

uint32_t
ibb_icrc_roce6(const uint8_t *ip6, size_t len)
{
    return ibb_icrc_roce6_at(ip6, ip6 + IBB_IPV6_LEN + IBB_UDP_LEN, len);
}

uint32_t
ibb_icrc_finish(uint32_t prefix_crc, uint32_t common_crc, size_t common_len)
{
    return ibb_crc32_combine(prefix_crc, common_crc, common_len);
}

/* Finds the BTH of the IB packet 'pkt' of 'len' bytes (through the ICRC)
 * and computes the prefix CRC.  Returns the BTH offset, or 0 if the packet
 * cannot carry an ICRC. */
static size_t
ib_prefix(const uint8_t *pkt, size_t len, uint32_t *prefix)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;
    size_t bth_ofs;

    if (len < IBB_LRH_LEN) {
        return 0;
    }
    switch (ibb_lrh_lnh(lrh)) {
    case IBB_LNH_GLOBAL:
        bth_ofs = IBB_LRH_LEN + IBB_GRH_LEN;
        if (len < bth_ofs + IBB_BTH_LEN + IBB_ICRC_LEN) {
            return 0;
        }
        *prefix = ibb_icrc_prefix_grh((const struct ibb_grh *)
                                      (pkt + IBB_LRH_LEN));
        return bth_ofs;

    case IBB_LNH_LOCAL:
        bth_ofs = IBB_LRH_LEN;
        if (len < bth_ofs + IBB_BTH_LEN + IBB_ICRC_LEN) {
            return 0;
        }
        *prefix = ibb_icrc_prefix_lrh(lrh);
        return bth_ofs;

    default:
        return 0;
    }
}

/* As ib_prefix() for a RoCEv2 packet that starts at the IP header. */
static size_t
roce_prefix(const uint8_t *pkt, size_t len, uint32_t *prefix)
{
    size_t bth_ofs;

    if (len < 1) {
        return 0;
    }
    switch (pkt[0] >> 4) {
    case 4:
        bth_ofs = IBB_IPV4_LEN + IBB_UDP_LEN;
        if ((pkt[0] & 0x0f) != 5
            || len < bth_ofs + IBB_BTH_LEN + IBB_ICRC_LEN) {
            return 0;
        }
        *prefix = ibb_icrc_prefix_ipv4((const struct ibb_ipv4 *) pkt,
                                       (const struct ibb_udp *)
                                       (pkt + IBB_IPV4_LEN));
        return bth_ofs;

    case 6:
        bth_ofs = IBB_IPV6_LEN + IBB_UDP_LEN;
        if (len < bth_ofs + IBB_BTH_LEN + IBB_ICRC_LEN) {
            return 0;
        }
        *prefix = ibb_icrc_prefix_ipv6((const struct ibb_ipv6 *) pkt,
                                       (const struct ibb_udp *)
                                       (pkt + IBB_IPV6_LEN));
        return bth_ofs;

    default:
        return 0;
    }
}

/* Finds where a packet's transport part starts and computes the CRC of its
 * prefix: ib_prefix() or roce_prefix(). */
typedef size_t icrc_prefix_func(const uint8_t *pkt, size_t len,
                                uint32_t *prefix);

static int
icrc_calc(icrc_prefix_func *prefix_func, const uint8_t *pkt, size_t len,
          uint32_t *icrc)
{
    uint32_t prefix;
    size_t bth_ofs = prefix_func(pkt, len, &prefix);
    size_t clen;

    if (!bth_ofs) {
        return EINVAL;
    }
    clen = len - bth_ofs - IBB_ICRC_LEN;
    *icrc = ibb_icrc_seeded(prefix, pkt + bth_ofs, clen);
    return 0;
}

static int
icrc_check(icrc_prefix_func *prefix_func, const uint8_t *pkt, size_t len)
{
    uint32_t icrc;
    int error = icrc_calc(prefix_func, pkt, len, &icrc);

    if (error) {
        return error;
    }
    return icrc == ibb_icrc_get(pkt + len - IBB_ICRC_LEN) ? 0 : EBADMSG;
}

static int
icrc_generate(icrc_prefix_func *prefix_func, uint8_t *pkt, size_t len)
{
    uint32_t icrc;
    int error = icrc_calc(prefix_func, pkt, len, &icrc);

    if (!error) {
        ibb_icrc_put(pkt + len - IBB_ICRC_LEN, icrc);
    }
    return error;
}

int
ibb_icrc_ib_calc(const uint8_t *pkt, size_t len, uint32_t *icrc)
{
    return icrc_calc(ib_prefix, pkt, len, icrc);
}

int
ibb_icrc_ib_check(const uint8_t *pkt, size_t len)
{
    return icrc_check(ib_prefix, pkt, len);
}

int
ibb_icrc_ib_generate(uint8_t *pkt, size_t len)
{
    return icrc_generate(ib_prefix, pkt, len);
}

int
ibb_icrc_roce_calc(const uint8_t *pkt, size_t len, uint32_t *icrc)
{
    return icrc_calc(roce_prefix, pkt, len, icrc);
}

int
ibb_icrc_roce_check(const uint8_t *pkt, size_t len)
{
    return icrc_check(roce_prefix, pkt, len);
}

int
ibb_icrc_roce_generate(uint8_t *pkt, size_t len)
{
    return icrc_generate(roce_prefix, pkt, len);
}
