/*
 * Internet checksum.
 */
#include <config.h>

#include "ibb-csum.h"

#include <stdbool.h>
#include <string.h>

#include "ib-gid.h"
#include "ibb-bytes.h"

uint32_t
ibb_csum_add(uint32_t sum, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t acc = sum;

    /* 8 bytes per step into a 64-bit accumulator: the carries out of each
     * 32-bit half are kept in the upper bits and folded at the end. */
    while (len >= 8) {
        acc += ibb_get_be32(p);
        acc += ibb_get_be32(p + 4);
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        acc += ibb_get_be16(p);
        p += 2;
        len -= 2;
    }
    if (len) {
        acc += (uint32_t) p[0] << 8;
    }
    acc = (acc & 0xffffffff) + (acc >> 32);
    acc = (acc & 0xffffffff) + (acc >> 32);
    return (uint32_t) acc;
}

uint16_t
ibb_csum_finish(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t) ~sum;
}

uint16_t
ibb_csum_ipv4_hdr(const uint8_t *ip)
{
    /* Straight-line adds of 32-bit words (the checksum's own word
     * skipped), not the general loop: every frame pays for this.  Folding
     * the carries back in makes the sum of 32-bit words the 16-bit one. */
    uint64_t sum = ((uint64_t) ibb_get_be32(ip) + ibb_get_be32(ip + 4)
                    + ibb_get_be16(ip + 8) + ibb_get_be32(ip + 12)
                    + ibb_get_be32(ip + 16));

    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    return ibb_csum_finish((uint32_t) sum);
}

uint16_t
ibb_csum_udp(const uint8_t src[16], const uint8_t dst[16],
             const uint8_t *udp, size_t len)
{
    uint8_t pseudo[40];
    size_t plen;
    uint32_t sum;
    uint16_t csum;

    if (ibb_gid_is_v4mapped(src)) {
        memcpy(pseudo, src + 12, 4);
        memcpy(pseudo + 4, dst + 12, 4);
        pseudo[8] = 0;
        pseudo[9] = 17;
        ibb_put_be16(pseudo + 10, (uint16_t) len);
        plen = 12;
    } else {
        memcpy(pseudo, src, 16);
        memcpy(pseudo + 16, dst, 16);
        ibb_put_be32(pseudo + 32, (uint32_t) len);
        ibb_put_be32(pseudo + 36, 17);
        plen = 40;
    }
    sum = ibb_csum_add(0, pseudo, plen);
    sum = ibb_csum_add(sum, udp, 6);
    sum = ibb_csum_add(sum, udp + 8, len - 8);
    csum = ibb_csum_finish(sum);
    return csum ? csum : 0xffff;
}

uint16_t
ibb_csum_icmp6(const uint8_t src[16], const uint8_t dst[16],
               const uint8_t *msg, size_t len)
{
    uint8_t tail[8] = { 0 };
    uint32_t sum;

    tail[0] = len >> 24;
    tail[1] = len >> 16;
    tail[2] = len >> 8;
    tail[3] = len;
    tail[7] = 58;               /* IPPROTO_ICMPV6 */
    sum = ibb_csum_add(0, src, 16);
    sum = ibb_csum_add(sum, dst, 16);
    sum = ibb_csum_add(sum, tail, 8);
    return ibb_csum_finish(ibb_csum_add(sum, msg, len));
}
