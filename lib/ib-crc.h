/*
 * CRCs used by InfiniBand and RoCEv2.
 *
 * CRC-32 (ICRC): the standard reflected CRC-32 of Ethernet and zlib (poly
 * 0x04C11DB7, reflected 0xEDB88320, init and final XOR 0xFFFFFFFF).  The
 * functions follow zlib's crc32() convention: start with crc = 0, chain by
 * passing the previous result.  The implementation is ISA-L's
 * crc32_gzip_refl() when configure found ISA-L (HAVE_ISAL), zlib's crc32()
 * otherwise; both give the same value.  Combining (CRC of A||B from the CRCs
 * of A and B and the length of B) always uses zlib.
 *
 * CRC-16 (VCRC): poly 0x100B (x^16+x^12+x^3+x+1) processed reflected (table
 * poly 0xD008), init 0xFFFF, final XOR 0xFFFF (Endace dagcrc.c
 * dagcrc_infiniband_vcrc16_r).  Same chaining convention: start with 0.
 * It covers the whole IB packet from the first LRH byte through the ICRC.
 *
 * VCRC byte order on the wire is not verified against hardware (see the
 * wire-format reference, section 8).  ibbridge sends it least-significant
 * byte first, like the ICRC; ibb_vcrc_get()/ibb_vcrc_put() are the only
 * places that decide it.
 */
#ifndef IB_CRC_H
#define IB_CRC_H 1

#include <stddef.h>
#include <stdint.h>

uint32_t ibb_crc32(uint32_t crc, const void *buf, size_t len);
uint32_t ibb_crc32_combine(uint32_t crc1, uint32_t crc2, size_t len2);
uint32_t ibb_crc32_combine_gen(size_t len2);
uint32_t ibb_crc32_combine_op(uint32_t crc1, uint32_t crc2, uint32_t op);
/* The CRC 'crc' of a message followed by 'len' zero bytes, less the CRC of
 * those zeros alone: ibb_crc32_combine(crc, 0, len), faster. */
uint32_t ibb_crc32_shift(uint32_t crc, size_t len);
const char *ibb_crc32_impl(void);

uint16_t ibb_vcrc16(uint16_t crc, const void *buf, size_t len);
/* "pclmul" where the CPU folds with carry-less multiplication
 * (lib/ib-crc-clmul.c), "table" otherwise. */
const char *ibb_vcrc16_impl(void);

/* VCRC wire byte order: least-significant byte first (see above). */
static inline uint16_t
ibb_vcrc_get(const uint8_t *p)
{
    return (uint16_t) (p[0] | (p[1] << 8));
}

static inline void
ibb_vcrc_put(uint8_t *p, uint16_t vcrc)
{
    p[0] = vcrc;
    p[1] = vcrc >> 8;
}

#endif /* ib-crc.h */
