/*
 * Byte-order helpers for wire headers.
 *
 * Wire headers in ibbridge sit at offsets that are not multiples of 4 (BTH
 * is at frame offset 42 after Ethernet+IPv4+UDP), so header accessors never
 * cast to 16- or 32-bit types: they load and store single bytes through
 * these helpers.  Everything here is big-endian (network order) except the
 * ICRC, which travels least-significant byte first.
 */
#ifndef IBB_BYTES_H
#define IBB_BYTES_H 1

#include <stdint.h>

static inline uint16_t
ibb_get_be16(const uint8_t *p)
{
    return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline void
ibb_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline uint32_t
ibb_get_be24(const uint8_t *p)
{
    return ((uint32_t) p[0] << 16) | ((uint32_t) p[1] << 8) | p[2];
}

static inline void
ibb_put_be24(uint8_t *p, uint32_t v)
{
    p[0] = v >> 16;
    p[1] = v >> 8;
    p[2] = v;
}

static inline uint32_t
ibb_get_be32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}

static inline void
ibb_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static inline uint32_t
ibb_get_le32(const uint8_t *p)
{
    return ((uint32_t) p[3] << 24) | ((uint32_t) p[2] << 16)
           | ((uint32_t) p[1] << 8) | p[0];
}

static inline void
ibb_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

#endif /* ibb-bytes.h */
