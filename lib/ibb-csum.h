/*
 * Internet checksum (RFC 1071) for IPv4 headers, UDP and ICMPv6.
 */
#ifndef IBB_CSUM_H
#define IBB_CSUM_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Adds the 16-bit big-endian words of 'buf' to 'sum'.  Chainable while each
 * piece but the last has even length. */
uint32_t ibb_csum_add(uint32_t sum, const void *buf, size_t len);

/* Which block sum ibb_csum_add() uses on this CPU ("avx2", "sse2" or
 * "plain"), for benchmarks. */
const char *ibb_csum_impl(void);

/* Folds 'sum' and returns its ones' complement, the checksum value.
 * Inline: a call would cost as much as the fold, and every converted
 * IPv4 packet pays it. */
static inline uint16_t
ibb_csum_finish(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t) ~sum;
}

/* Whether the 20-byte IPv4 header at 'ip' has a right checksum: its
 * ten words, the checksum among them, add up to 0xffff (RFC 1071).  Inline
 * and in whole words, as every frame from Ethernet pays for it; the sum of
 * the header's words in memory order is the byte-swapped sum of its
 * big-endian ones, and 0xffff is its own swap. */
static inline bool
ibb_csum_ipv4_hdr_ok(const uint8_t *ip)
{
    uint64_t a, b, sum;
    uint32_t c;

    memcpy(&a, ip, 8);
    memcpy(&b, ip + 8, 8);
    memcpy(&c, ip + 16, 4);
    sum = (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32) + c;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

/* Returns the UDP checksum for the UDP datagram 'udp' of 'len' bytes
 * (header included; its checksum field is skipped) between 16-byte
 * addresses 'src' and 'dst' in lib/ib-gid.h form: IPv4-mapped addresses
 * get the IPv4 pseudo-header, others the IPv6 one.  A computed 0 is
 * returned as 0xFFFF (RFC 768). */
uint16_t ibb_csum_udp(const uint8_t src[16], const uint8_t dst[16],
                      const uint8_t *udp, size_t len);

/* Returns the checksum over ICMPv6 message 'msg' of 'len' bytes from
 * 'src' to 'dst' with its pseudo-header: 0 over a message whose checksum
 * field is right. */
uint16_t ibb_csum_icmp6(const uint8_t src[16], const uint8_t dst[16],
                        const uint8_t *msg, size_t len);

#endif /* ibb-csum.h */
