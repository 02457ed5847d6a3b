/*
 * ICRC (invariant CRC) for native IB and RoCEv2 packets.
 *
 * The ICRC is the CRC-32 of lib/ib-crc.h over a pseudo-packet: a header
 * prefix with the variant fields replaced by all-ones, then the transport
 * part from the first BTH byte through the pad with BTH byte 4 (FECN, BECN,
 * resv6) replaced by 0xFF.  Reference: shared/docs/ib-roce-wire-format.md
 * section 2.
 *
 *   IB global (LNH=3): 8 x 0xFF instead of the LRH, then the GRH with
 *                      TClass, FlowLabel and HopLmt masked.
 *   IB local (LNH=2):  the LRH with VL masked (from Shanley only: no
 *                      implementation to check it against).
 *   RoCEv2/IPv4:       8 x 0xFF, the IPv4 header with TOS, TTL and header
 *                      checksum masked, the UDP header with checksum masked.
 *   RoCEv2/IPv6:       8 x 0xFF, the IPv6 header with TClass, FlowLabel and
 *                      HopLimit masked, the UDP header with checksum masked.
 *
 * The ICRC is stored least-significant byte first (ibb_icrc_get/put in
 * lib/ib-hdr.h).
 *
 * Because the transport part is the same in an IB packet and in the RoCEv2
 * frame it becomes, a converter computes it once (ibb_icrc_common()) and
 * combines it with each prefix (ibb_icrc_prefix_*(), ibb_icrc_finish()) to
 * get both the value it checks and the value it writes.
 */
#ifndef IB_ICRC_H
#define IB_ICRC_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibb_grh;
struct ibb_lrh;
struct ibb_ipv4;
struct ibb_ipv6;
struct ibb_udp;

/* Building blocks.  Each returns a CRC in zlib's convention (not yet
 * combined); ibb_icrc_finish() turns a prefix and a common part into the
 * ICRC value. */
uint32_t ibb_icrc_common(const uint8_t *bth, size_t len);
uint32_t ibb_icrc_prefix_grh(const struct ibb_grh *grh);
uint32_t ibb_icrc_prefix_lrh(const struct ibb_lrh *lrh);
uint32_t ibb_icrc_prefix_ipv4(const struct ibb_ipv4 *ip,
                              const struct ibb_udp *udp);
uint32_t ibb_icrc_prefix_ipv6(const struct ibb_ipv6 *ip6,
                              const struct ibb_udp *udp);
uint32_t ibb_icrc_finish(uint32_t prefix_crc, uint32_t common_crc,
                         size_t common_len);

/* Faster path, no combining: the ICRC of a packet whose prefix CRC is
 * 'prefix_crc' and whose transport part is the 'len' bytes at 'bth'. */
uint32_t ibb_icrc_seeded(uint32_t prefix_crc, const uint8_t *bth,
                         size_t len);

/* Fastest path, for a packet whose headers and transport part sit one
 * after the other in memory: the ICRC of the IB packet whose GRH is at
 * 'grh', or of the RoCEv2 packet whose IPv4 or IPv6 header is at 'ip'
 * (UDP right after it), with 'len' transport bytes (BTH..pad) right after
 * the headers.  Two CRC calls, no copy of the transport part.  They read
 * (and then ignore) the 8 bytes before 'grh' or 'ip', which must exist:
 * the LRH, the Ethernet header. */
uint32_t ibb_icrc_ib_grh(const uint8_t *grh, size_t len);
uint32_t ibb_icrc_roce4(const uint8_t *ip, size_t len);
uint32_t ibb_icrc_roce6(const uint8_t *ip6, size_t len);

/* The same, for RoCEv2 headers built apart from the packet's transport
 * part at 'bth': a copy of the BTH's first 16 bytes must follow the UDP
 * header at 'ip'.  A converter that builds the headers on the stack thus
 * reads them there, not back from the packet it just copied them to
 * (loads that straddle fresh stores wait for them). */
uint32_t ibb_icrc_roce4_at(const uint8_t *ip, const uint8_t *bth,
                           size_t len);
uint32_t ibb_icrc_roce6_at(const uint8_t *ip6, const uint8_t *bth,
                           size_t len);

/* Given 'icrc', the ICRC of prefix A (CRC 'old_prefix') followed by 'len'
 * transport bytes, returns the ICRC of prefix B (CRC 'new_prefix')
 * followed by the same bytes, without reading them (CRC linearity: the prefix
 * difference shifted by 'len' bytes, ibb_crc32_fold_shift()). */
uint32_t ibb_icrc_reprefix(uint32_t icrc, uint32_t old_prefix,
                           uint32_t new_prefix, size_t len);

/* Whole-packet helpers.  'pkt' is a native IB packet starting at the LRH,
 * or a RoCEv2 packet starting at the IPv4/IPv6 header (no Ethernet).
 * 'len' runs through the ICRC (for IB: not the VCRC).  They parse only what
 * they need and return EINVAL if the headers do not fit in 'len' or are not
 * IBA (LNH 2/3) or IPv4-IHL5/IPv6 + UDP; ..._check() returns EBADMSG on a
 * mismatch and 0 on a match. */
int ibb_icrc_ib_calc(const uint8_t *pkt, size_t len, uint32_t *icrc);
int ibb_icrc_ib_check(const uint8_t *pkt, size_t len);
int ibb_icrc_ib_generate(uint8_t *pkt, size_t len);

int ibb_icrc_roce_calc(const uint8_t *pkt, size_t len, uint32_t *icrc);
int ibb_icrc_roce_check(const uint8_t *pkt, size_t len);
int ibb_icrc_roce_generate(uint8_t *pkt, size_t len);

#endif /* ib-icrc.h */
