/*
 * Neighbour responder (ARP and IPv6 ND) for IB hosts.  See ibb-neigh.h.
 */
#include <config.h>

#include "ibb-neigh.h"

#include <stdbool.h>
#include <string.h>

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-bytes.h"
#include "ibb-csum.h"
#include "roce-hdr.h"

#define ETH_TYPE_ARP 0x0806
#define ARP_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
#define ETH_MIN_LEN 60              /* Shortest frame without its FCS. */

#define IPPROTO_ICMPV6 58
#define ND_HOP_LIMIT 255
#define ICMP6_RS 133
#define ICMP6_RA 134
#define ICMP6_NS 135
#define ICMP6_NA 136
#define ICMP6_REDIRECT 137
#define NS_LEN 24                   /* Type..target, before options. */
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE 0x20
#define ND_OPT_SOURCE_LLADDR 1
#define ND_OPT_TARGET_LLADDR 2

static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };

/* Writes the Ethernet header (and the request's 802.1Q tag, if any) of an
 * answer; returns its length. */
static size_t
put_l2(uint8_t *reply, const uint8_t dst[6], const uint8_t src[6],
       const uint8_t *vlan, uint16_t type)
{
    size_t ofs = 12;

    memcpy(reply, dst, 6);
    memcpy(reply + 6, src, 6);
    if (vlan) {
        ibb_put_be16(reply + ofs, IBB_ETH_TYPE_VLAN);
        memcpy(reply + ofs + 2, vlan, 2);
        ofs += 4;
    }
    ibb_put_be16(reply + ofs, type);
    return ofs + 2;
}

/* Writes, at 'p', an IPv6 header and a neighbour advertisement for
 * 'target' to 'dst' with 'flags' and 'mac' as target link-layer address;
 * returns its length. */
static size_t
put_na(uint8_t *p, const uint8_t target[16], const uint8_t dst[16],
       uint8_t flags, const uint8_t mac[6])
{
    uint8_t *na = p + IBB_IPV6_LEN;

    memset(p, 0, IBB_IPV6_LEN + 32);
    p[0] = 0x60;
    ibb_put_be16(p + 4, 32);
    p[6] = IPPROTO_ICMPV6;
    p[7] = ND_HOP_LIMIT;
    memcpy(p + 8, target, 16);
    memcpy(p + 24, dst, 16);
    na[0] = ICMP6_NA;
    na[4] = flags;
    memcpy(na + 8, target, 16);
    na[24] = ND_OPT_TARGET_LLADDR;
    na[25] = 1;
    memcpy(na + 26, mac, 6);
    ibb_put_be16(na + 2, ibb_csum_icmp6(p + 8, p + 24, na, 32));
    return IBB_IPV6_LEN + 32;
}

static const struct ibb_host *
find_ib_host(const struct ibb_addr_map *map, const uint8_t ip[16])
{
    const struct ibb_host *h = ibb_addr_map_find_ip(map, ip);

    return h && h->has_gid ? h : NULL;
}

static enum ibb_neigh_result
answer_arp(const struct ibb_addr_map *map, const uint8_t mac[6],
           bool (*mine)(const uint8_t ip[16]),
           const uint8_t *vlan, const uint8_t *arp, size_t len,
           uint8_t *reply, size_t *reply_len)
{
    const uint8_t *sha = arp + 8, *spa = arp + 14, *tpa = arp + 24;
    uint8_t target[16];
    uint8_t *p;
    size_t ofs;

    if (len < ARP_LEN) {
        return IBB_NEIGH_MALFORMED;
    }
    if (ibb_get_be16(arp) != 1 || ibb_get_be16(arp + 2) != IBB_ETH_TYPE_IPV4
        || arp[4] != 6 || arp[5] != 4) {
        return IBB_NEIGH_IGNORED;       /* Not Ethernet/IPv4 ARP. */
    }
    if (ibb_get_be16(arp + 6) != ARP_OP_REQUEST || !memcmp(spa, tpa, 4)) {
        return IBB_NEIGH_IGNORED;       /* A reply, or gratuitous. */
    }
    if (sha[0] & 1) {
        return IBB_NEIGH_MALFORMED;     /* No host has a group address. */
    }
    ibb_gid_from_ipv4(target, tpa);
    if (!find_ib_host(map, target)) {
        return IBB_NEIGH_NOT_IB_HOST;
    }
    if (mine && !mine(target)) {
        return IBB_NEIGH_NOT_OWNER;
    }

    memset(reply, 0, ETH_MIN_LEN + 4);
    ofs = put_l2(reply, sha, mac, vlan, ETH_TYPE_ARP);
    p = reply + ofs;
    memcpy(p, arp, 6);                  /* htype, ptype, hlen, plen. */
    ibb_put_be16(p + 6, ARP_OP_REPLY);
    memcpy(p + 8, mac, 6);
    memcpy(p + 14, tpa, 4);
    memcpy(p + 18, sha, 6);
    memcpy(p + 24, spa, 4);
    ofs += ARP_LEN;
    *reply_len = ofs < ETH_MIN_LEN ? ETH_MIN_LEN : ofs;
    return IBB_NEIGH_ANSWERED_ARP;
}

/* Checks the options after a solicitation's target (RFC 4861 7.1.1):
 * every option has a nonzero length and fits; no source link-layer
 * address from the unspecified address. */
static bool
ns_options_ok(const uint8_t *opt, size_t len, bool from_unspecified)
{
    while (len) {
        size_t olen;

        if (len < 2 || !opt[1] || (size_t) opt[1] * 8 > len) {
            return false;
        }
        olen = opt[1] * 8;
        if (opt[0] == ND_OPT_SOURCE_LLADDR && from_unspecified) {
            return false;
        }
        opt += olen;
        len -= olen;
    }
    return true;
}

static enum ibb_neigh_result
answer_nd(const struct ibb_addr_map *map, const uint8_t mac[6],
          bool (*mine)(const uint8_t ip[16]), const uint8_t *eth_src, const uint8_t *vlan, const uint8_t *ip6,
          size_t len, uint8_t *reply, size_t *reply_len)
{
    const uint8_t *src = ip6 + 8, *icmp = ip6 + IBB_IPV6_LEN;
    const uint8_t *target = icmp + 8;
    size_t plen;
    bool dad;
    size_t ofs;

    if (len < IBB_IPV6_LEN || (ip6[0] >> 4) != 6
        || ip6[6] != IPPROTO_ICMPV6) {
        return IBB_NEIGH_NOT_NEIGH;
    }
    plen = ibb_get_be16(ip6 + 4);
    if (plen > len - IBB_IPV6_LEN || plen < 4) {
        return IBB_NEIGH_NOT_NEIGH;     /* The converter counts it. */
    }
    switch (icmp[0]) {
    case ICMP6_NS:
        break;
    case ICMP6_RS: case ICMP6_RA: case ICMP6_NA: case ICMP6_REDIRECT:
        return IBB_NEIGH_IGNORED;
    default:
        return IBB_NEIGH_NOT_NEIGH;
    }

    dad = ibb_ip_is_unspecified(src);
    if (ip6[7] != ND_HOP_LIMIT || icmp[1] || plen < NS_LEN
        || ibb_csum_icmp6(src, ip6 + 24, icmp, plen)
        || ibb_gid_is_multicast(target) || ibb_ip_is_multicast(src)
        || !ns_options_ok(icmp + NS_LEN, plen - NS_LEN, dad)) {
        return IBB_NEIGH_MALFORMED;
    }
    if (!find_ib_host(map, target) || ibb_gid_is_v4mapped(target)) {
        return IBB_NEIGH_NOT_IB_HOST;
    }
    if (mine && !mine(target)) {
        return IBB_NEIGH_NOT_OWNER;
    }

    /* A DAD probe's answer goes to all nodes (33:33:00:00:00:01). */
    ofs = put_l2(reply, dad ? all_nodes_mac : eth_src, mac, vlan,
                 IBB_ETH_TYPE_IPV6);
    ofs += put_na(reply + ofs, target, dad ? all_nodes : src,
                  dad ? 0 : NA_FLAG_SOLICITED, mac);
    *reply_len = ofs;
    return IBB_NEIGH_ANSWERED_ND;
}

enum ibb_neigh_result
ibb_neigh_answer(const struct ibb_addr_map *map, const uint8_t mac[6],
                 const uint8_t *frame, size_t len, uint8_t *reply,
                 size_t *reply_len)
{
    return ibb_neigh_answer_for(map, mac, NULL, frame, len, reply,
                                reply_len);
}

enum ibb_neigh_result
ibb_neigh_answer_for(const struct ibb_addr_map *map, const uint8_t mac[6],
                     bool (*mine)(const uint8_t ip[16]),
                     const uint8_t *frame, size_t len, uint8_t *reply,
                     size_t *reply_len)
{
    const uint8_t *vlan = NULL;
    size_t ofs = 12;
    uint16_t type;

    if (len < IBB_ETH_LEN) {
        return IBB_NEIGH_NOT_NEIGH;
    }
    type = ibb_get_be16(frame + ofs);
    if (type == IBB_ETH_TYPE_VLAN) {
        if (len < IBB_ETH_LEN + IBB_VLAN_LEN) {
            return IBB_NEIGH_NOT_NEIGH;
        }
        vlan = frame + ofs + 2;
        ofs += 4;
        type = ibb_get_be16(frame + ofs);
    }
    ofs += 2;
    if (type == ETH_TYPE_ARP) {
        return answer_arp(map, mac, mine, vlan, frame + ofs, len - ofs,
                          reply, reply_len);
    } else if (type == IBB_ETH_TYPE_IPV6) {
        return answer_nd(map, mac, mine, frame + 6, vlan, frame + ofs,
                         len - ofs, reply, reply_len);
    }
    return IBB_NEIGH_NOT_NEIGH;
}

/* The source link-layer address option of the solicitation options at
 * 'opt' ('len' bytes, checked by ns_options_ok()), or NULL. */
static const uint8_t *
ns_source_lladdr(const uint8_t *opt, size_t len)
{
    while (len >= 8 && opt[1] && (size_t) opt[1] * 8 <= len) {
        size_t olen = opt[1] * 8;

        if (opt[0] == ND_OPT_SOURCE_LLADDR && olen == 8) {
            return opt + 2;
        }
        len -= olen;
        opt += olen;
    }
    return NULL;
}

bool
ibb_neigh_sender(const uint8_t *frame, size_t len, uint8_t ip[16],
                 uint8_t mac[6])
{
    const uint8_t *eth_src = frame + 6, *p, *sha = NULL;
    size_t ofs = 12;
    uint16_t type;

    if (len < IBB_ETH_LEN) {
        return false;
    }
    type = ibb_get_be16(frame + ofs);
    if (type == IBB_ETH_TYPE_VLAN && len >= IBB_ETH_LEN + IBB_VLAN_LEN) {
        ofs += 4;
        type = ibb_get_be16(frame + ofs);
    }
    ofs += 2;
    p = frame + ofs;
    len -= ofs;
    if (type == ETH_TYPE_ARP) {
        if (len < ARP_LEN || ibb_get_be16(p) != 1
            || ibb_get_be16(p + 2) != IBB_ETH_TYPE_IPV4
            || p[4] != 6 || p[5] != 4
            || !(p[14] | p[15] | p[16] | p[17])) {
            return false;
        }
        sha = p + 8;
        ibb_gid_from_ipv4(ip, p + 14);
    } else if (type == IBB_ETH_TYPE_IPV6) {
        size_t plen;

        if (len < IBB_IPV6_LEN + NS_LEN || p[6] != IPPROTO_ICMPV6
            || p[IBB_IPV6_LEN] != ICMP6_NS || p[7] != ND_HOP_LIMIT) {
            return false;
        }
        plen = ibb_get_be16(p + 4);
        if (plen < NS_LEN || plen > len - IBB_IPV6_LEN
            || ibb_ip_is_unspecified(p + 8) || ibb_ip_is_multicast(p + 8)) {
            return false;
        }
        sha = ns_source_lladdr(p + IBB_IPV6_LEN + NS_LEN, plen - NS_LEN);
        memcpy(ip, p + 8, 16);
    }
    if (!sha || sha[0] & 1 || memcmp(sha, eth_src, 6)
        || ibb_ip_is_bad_source(ip)) {
        return false;
    }
    memcpy(mac, sha, 6);
    return true;
}

size_t
ibb_neigh_announce(const uint8_t mac[6], const uint8_t ip[16],
                   uint8_t *frame)
{
    static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t *p;
    size_t ofs;

    if (ibb_gid_is_v4mapped(ip)) {
        memset(frame, 0, ETH_MIN_LEN);
        ofs = put_l2(frame, broadcast, mac, NULL, ETH_TYPE_ARP);
        p = frame + ofs;
        ibb_put_be16(p, 1);
        ibb_put_be16(p + 2, IBB_ETH_TYPE_IPV4);
        p[4] = 6;
        p[5] = 4;
        ibb_put_be16(p + 6, ARP_OP_REQUEST);
        memcpy(p + 8, mac, 6);
        memcpy(p + 14, ip + 12, 4);
        memcpy(p + 24, ip + 12, 4);
        return ETH_MIN_LEN;
    }

    ofs = put_l2(frame, all_nodes_mac, mac, NULL, IBB_ETH_TYPE_IPV6);
    return ofs + put_na(frame + ofs, ip, all_nodes, NA_FLAG_OVERRIDE, mac);
}
