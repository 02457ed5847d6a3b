/*
 * GIDs and the IP addresses they stand for.
 *
 * A GID is 16 bytes, laid out like an IPv6 address.  An IB host's native GID
 * is a 64-bit subnet prefix (default fe80::/64) plus its port GUID.  A RoCEv2
 * host's GID is derived from its IP address: "::ffff:a.b.c.d" (IPv4-mapped,
 * ::ffff:0:0/96) for IPv4, the address itself for IPv6 (linux
 * ib_gid_to_network_type, rdma-core map_ipv4_addr_to_ipv6).
 *
 * In lib/ an IP address of either family is kept as 16 bytes in this same
 * form, so IPv4 a.b.c.d is ::ffff:a.b.c.d.
 */
#ifndef IB_GID_H
#define IB_GID_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IBB_GID_STRLEN 46       /* Like INET6_ADDRSTRLEN, with the NUL. */

/* Parses 's' as an IPv6-style GID, or as a dotted IPv4 address, which gives
 * the IPv4-mapped GID.  Returns 0 or EINVAL. */
int ibb_gid_parse(const char *s, uint8_t gid[16]);

/* Parses a GID prefix "GID/LEN" (LEN 1..128) or an IPv4 network
 * "a.b.c.d/LEN" (LEN 1..32, which is ::ffff:a.b.c.d/(96 + LEN)) into
 * 'prefix' and '*plen'.  Returns 0, or EINVAL also if the address has bits
 * set past the length. */
int ibb_gid_parse_prefix(const char *s, uint8_t prefix[16],
                         unsigned int *plen);

/* True if the first 'plen' bits of 'gid' are those of 'prefix'. */
bool ibb_gid_in_prefix(const uint8_t gid[16], const uint8_t prefix[16],
                       unsigned int plen);

/* Formats 'gid' into 'buf' (at least IBB_GID_STRLEN bytes), IPv4-mapped
 * GIDs as "::ffff:a.b.c.d".  Returns 'buf'. */
char *ibb_gid_format(const uint8_t gid[16], char *buf, size_t size);

/* Formats IP address 'ip' (16-byte form) as dotted IPv4 if it is
 * IPv4-mapped, else as IPv6.  Returns 'buf'. */
char *ibb_ip_format(const uint8_t ip[16], char *buf, size_t size);

/* The predicates below run several times per converted packet: they are
 * inline, and compare words rather than calling memcmp(). */

static inline bool
ibb_gid_is_v4mapped(const uint8_t gid[16])
{
    static const uint8_t ffff[4] = { 0, 0, 0xff, 0xff };
    uint32_t mid, want;
    uint64_t hi;

    memcpy(&hi, gid, 8);
    memcpy(&mid, gid + 8, 4);
    memcpy(&want, ffff, 4);
    return !hi && mid == want;
}

static inline bool
ibb_gid_is_multicast(const uint8_t gid[16])
{
    return gid[0] == 0xff;
}

static inline bool
ibb_gid_is_zero(const uint8_t gid[16])
{
    uint64_t hi, lo;

    memcpy(&hi, gid, 8);
    memcpy(&lo, gid + 8, 8);
    return !(hi | lo);
}

/* Returns true if 'gid' has the same upper 64 bits as 'ref'. */
static inline bool
ibb_gid_same_prefix(const uint8_t gid[16], const uint8_t ref[16])
{
    return !memcmp(gid, ref, 8);
}

static inline void
ibb_gid_from_ipv4(uint8_t gid[16], const uint8_t ipv4[4])
{
    static const uint8_t v4mapped_prefix[12] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
    };

    memcpy(gid, v4mapped_prefix, sizeof v4mapped_prefix);
    memcpy(gid + 12, ipv4, 4);
}

/* Copies the IPv4 address in IPv4-mapped 'gid' to 'ipv4'.  Returns false
 * (and leaves 'ipv4' alone) if 'gid' is not IPv4-mapped. */
bool ibb_gid_to_ipv4(const uint8_t gid[16], uint8_t ipv4[4]);

/* IP-address predicates on the 16-byte form. */
static inline bool
ibb_ip_is_multicast(const uint8_t ip[16])
{
    if (ibb_gid_is_v4mapped(ip)) {
        return (ip[12] & 0xf0) == 0xe0;
    }
    return ip[0] == 0xff;
}

bool ibb_ip_is_unspecified(const uint8_t ip[16]);

/* True if no packet may come from 'ip': unspecified, multicast, loopback,
 * broadcast or otherwise reserved (IPv4 0/8, 127/8, 224/3; IPv6 ::, ::1,
 * ff00::/8), as a router's source checks (RFC 1812 5.3.7). */
static inline bool
ibb_ip_is_bad_source(const uint8_t ip[16])
{
    static const uint8_t loopback6[16] = { [15] = 1 };

    if (ibb_gid_is_v4mapped(ip)) {
        /* 0/8 "this network", 127/8 loopback, 224/4 multicast and 240/4
         * reserved, with 255.255.255.255 (RFC 1812 5.3.7). */
        return ip[12] == 0 || ip[12] == 127 || ip[12] >= 224;
    }
    return (ibb_gid_is_zero(ip) || ip[0] == 0xff
            || !memcmp(ip, loopback6, 16));
}

#endif /* ib-gid.h */
