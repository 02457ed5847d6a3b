/*
 * Internet checksum (RFC 1071) for IPv4 headers, UDP and ICMPv6.
 */
#ifndef IBB_CSUM_H
#define IBB_CSUM_H 1

#include <stddef.h>
#include <stdint.h>

/* Adds the 16-bit big-endian words of 'buf' to 'sum'.  Chainable while each
 * piece but the last has even length. */
uint32_t ibb_csum_add(uint32_t sum, const void *buf, size_t len);

/* Which block sum ibb_csum_add() uses on this CPU ("avx2", "sse2" or
 * "plain"), for benchmarks. */
const char *ibb_csum_impl(void);

/* Folds 'sum' and returns its ones' complement, the checksum value. */
uint16_t ibb_csum_finish(uint32_t sum);

/* Returns the IPv4 header checksum of the 20-byte header at 'ip' (its
 * checksum field is skipped, so it may hold anything). */
uint16_t ibb_csum_ipv4_hdr(const uint8_t *ip);

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
