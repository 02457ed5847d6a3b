/*
 * RoCEv2 encapsulation headers: Ethernet, 802.1Q, IPv4, IPv6, UDP.
 *
 * Reference: shared/docs/ib-roce-wire-format.md section 4 (linux
 * drivers/infiniband/sw/rxe/rxe_net.c).
 *
 *   RoCEv2: Eth(14) | [802.1Q(4)] | IPv4(20)/IPv6(40) | UDP(8, dport 4791) |
 *           BTH | DETH | [ImmDt] | payload | pad | ICRC(4) | Eth FCS
 *
 * Ethernet (14 bytes): dst MAC(6) | src MAC(6) | EtherType(2).
 * 802.1Q tag (4 bytes, after the src MAC): TCI(2) | inner EtherType(2).
 *
 * IPv4 (20 bytes, IHL 5; the bridge neither accepts nor sends options):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------+-------+-----------+---+-------------------------------+
 *   |Ver=4  | IHL=5 |   DSCP    |ECN|         Total Length          |
 *   +-------+-------+-----------+---+-+-+-+-------------------------+
 *   |        Identification         |0|D|M|     Fragment Offset     |
 *   +---------------+---------------+-+-+-+-------------------------+
 *   |      TTL      |  Protocol=17  |        Header Checksum        |
 *   +---------------+---------------+-------------------------------+
 *   |                        Source Address                         |
 *   |                      Destination Address                      |
 *   +---------------------------------------------------------------+
 *
 * IPv6 (40 bytes): Ver(4) TClass(8) FlowLabel(20) | PayloadLen(2) |
 *   NextHdr(1) | HopLimit(1) | src(16) | dst(16).
 *
 * UDP (8 bytes): sport(2) | dport(2) | length(2) | checksum(2).
 *
 * All structs contain only bytes (alignment 1).
 */
#ifndef ROCE_HDR_H
#define ROCE_HDR_H 1

#include <stdbool.h>
#include <stdint.h>

#include "ibb-bytes.h"

#define IBB_ETH_LEN 14
#define IBB_VLAN_LEN 4
#define IBB_IPV4_LEN 20
#define IBB_IPV6_LEN 40
#define IBB_UDP_LEN 8
#define IBB_MAC_LEN 6

#define IBB_ETH_TYPE_IPV4 0x0800
#define IBB_ETH_TYPE_IPV6 0x86dd
#define IBB_ETH_TYPE_VLAN 0x8100
#define IBB_IPPROTO_UDP 17
#define IBB_ROCE_V2_PORT 4791

/* ------------------------------------------------------------------ */
/* Ethernet and 802.1Q. */

struct ibb_eth {
    uint8_t dst[IBB_MAC_LEN];   /* Destination MAC. */
    uint8_t src[IBB_MAC_LEN];   /* Source MAC. */
    uint8_t type[2];            /* EtherType (or TPID 0x8100). */
};
_Static_assert(sizeof(struct ibb_eth) == IBB_ETH_LEN, "Ethernet size");

static inline uint16_t
ibb_eth_type(const struct ibb_eth *eth)
{
    return ibb_get_be16(eth->type);
}

static inline void
ibb_eth_set_type(struct ibb_eth *eth, uint16_t type)
{
    ibb_put_be16(eth->type, type);
}

struct ibb_vlan {
    uint8_t tci[2];             /* PCP (15:13), DEI (12), VID (11:0). */
    uint8_t type[2];            /* Inner EtherType. */
};
_Static_assert(sizeof(struct ibb_vlan) == IBB_VLAN_LEN, "802.1Q size");

static inline uint16_t
ibb_vlan_tci(const struct ibb_vlan *vlan)
{
    return ibb_get_be16(vlan->tci);
}

static inline void
ibb_vlan_set_tci(struct ibb_vlan *vlan, uint16_t tci)
{
    ibb_put_be16(vlan->tci, tci);
}

static inline uint16_t
ibb_vlan_type(const struct ibb_vlan *vlan)
{
    return ibb_get_be16(vlan->type);
}

static inline void
ibb_vlan_set_type(struct ibb_vlan *vlan, uint16_t type)
{
    ibb_put_be16(vlan->type, type);
}

/* ------------------------------------------------------------------ */
/* IPv4. */

struct ibb_ipv4 {
    uint8_t ver_ihl;            /* Version (7:4), IHL in words (3:0). */
    uint8_t tos;                /* DSCP (7:2), ECN (1:0). */
    uint8_t tot_len[2];         /* Total length in bytes. */
    uint8_t id[2];              /* Identification. */
    uint8_t frag[2];            /* Flags (15:13), fragment offset (12:0). */
    uint8_t ttl;                /* Time to live. */
    uint8_t proto;              /* Protocol. */
    uint8_t csum[2];            /* Header checksum. */
    uint8_t saddr[4];           /* Source address. */
    uint8_t daddr[4];           /* Destination address. */
};
_Static_assert(sizeof(struct ibb_ipv4) == IBB_IPV4_LEN, "IPv4 size");

#define IBB_IPV4_DF 0x4000
#define IBB_IPV4_MF 0x2000
#define IBB_IPV4_FRAG_OFS_MASK 0x1fff

static inline uint8_t
ibb_ipv4_version(const struct ibb_ipv4 *ip)
{
    return ip->ver_ihl >> 4;
}

static inline uint8_t
ibb_ipv4_ihl(const struct ibb_ipv4 *ip)
{
    return ip->ver_ihl & 0x0f;
}

static inline void
ibb_ipv4_set_ver_ihl(struct ibb_ipv4 *ip, uint8_t ver, uint8_t ihl)
{
    ip->ver_ihl = (ver << 4) | (ihl & 0x0f);
}

static inline uint8_t
ibb_ipv4_tos(const struct ibb_ipv4 *ip)
{
    return ip->tos;
}

static inline void
ibb_ipv4_set_tos(struct ibb_ipv4 *ip, uint8_t tos)
{
    ip->tos = tos;
}

static inline uint16_t
ibb_ipv4_tot_len(const struct ibb_ipv4 *ip)
{
    return ibb_get_be16(ip->tot_len);
}

static inline void
ibb_ipv4_set_tot_len(struct ibb_ipv4 *ip, uint16_t len)
{
    ibb_put_be16(ip->tot_len, len);
}

static inline uint16_t
ibb_ipv4_id(const struct ibb_ipv4 *ip)
{
    return ibb_get_be16(ip->id);
}

static inline void
ibb_ipv4_set_id(struct ibb_ipv4 *ip, uint16_t id)
{
    ibb_put_be16(ip->id, id);
}

static inline uint16_t
ibb_ipv4_frag(const struct ibb_ipv4 *ip)
{
    return ibb_get_be16(ip->frag);
}

static inline void
ibb_ipv4_set_frag(struct ibb_ipv4 *ip, uint16_t frag)
{
    ibb_put_be16(ip->frag, frag);
}

static inline uint8_t
ibb_ipv4_ttl(const struct ibb_ipv4 *ip)
{
    return ip->ttl;
}

static inline void
ibb_ipv4_set_ttl(struct ibb_ipv4 *ip, uint8_t ttl)
{
    ip->ttl = ttl;
}

static inline uint8_t
ibb_ipv4_proto(const struct ibb_ipv4 *ip)
{
    return ip->proto;
}

static inline void
ibb_ipv4_set_proto(struct ibb_ipv4 *ip, uint8_t proto)
{
    ip->proto = proto;
}

static inline uint16_t
ibb_ipv4_csum(const struct ibb_ipv4 *ip)
{
    return ibb_get_be16(ip->csum);
}

static inline void
ibb_ipv4_set_csum(struct ibb_ipv4 *ip, uint16_t csum)
{
    ibb_put_be16(ip->csum, csum);
}

/* Addresses are byte arrays: use ip->saddr and ip->daddr directly. */

/* ------------------------------------------------------------------ */
/* IPv6. */

struct ibb_ipv6 {
    uint8_t vtf[4];             /* Version (31:28), TClass (27:20),
                                 * FlowLabel (19:0). */
    uint8_t plen[2];            /* Payload length. */
    uint8_t nexthdr;            /* Next header. */
    uint8_t hlim;               /* Hop limit. */
    uint8_t saddr[16];          /* Source address. */
    uint8_t daddr[16];          /* Destination address. */
};
_Static_assert(sizeof(struct ibb_ipv6) == IBB_IPV6_LEN, "IPv6 size");

static inline uint8_t
ibb_ipv6_version(const struct ibb_ipv6 *ip6)
{
    return ip6->vtf[0] >> 4;
}

static inline uint8_t
ibb_ipv6_tclass(const struct ibb_ipv6 *ip6)
{
    return (ibb_get_be32(ip6->vtf) >> 20) & 0xff;
}

static inline uint32_t
ibb_ipv6_flow(const struct ibb_ipv6 *ip6)
{
    return ibb_get_be32(ip6->vtf) & 0xfffff;
}

/* Sets version, traffic class and flow label at once. */
static inline void
ibb_ipv6_set_vtf(struct ibb_ipv6 *ip6, uint8_t ver, uint8_t tclass,
                 uint32_t flow)
{
    ibb_put_be32(ip6->vtf, ((uint32_t) ver << 28)
                           | ((uint32_t) tclass << 20) | (flow & 0xfffff));
}

static inline uint16_t
ibb_ipv6_plen(const struct ibb_ipv6 *ip6)
{
    return ibb_get_be16(ip6->plen);
}

static inline void
ibb_ipv6_set_plen(struct ibb_ipv6 *ip6, uint16_t plen)
{
    ibb_put_be16(ip6->plen, plen);
}

static inline uint8_t
ibb_ipv6_nexthdr(const struct ibb_ipv6 *ip6)
{
    return ip6->nexthdr;
}

static inline void
ibb_ipv6_set_nexthdr(struct ibb_ipv6 *ip6, uint8_t nexthdr)
{
    ip6->nexthdr = nexthdr;
}

static inline uint8_t
ibb_ipv6_hlim(const struct ibb_ipv6 *ip6)
{
    return ip6->hlim;
}

static inline void
ibb_ipv6_set_hlim(struct ibb_ipv6 *ip6, uint8_t hlim)
{
    ip6->hlim = hlim;
}

/* ------------------------------------------------------------------ */
/* UDP. */

struct ibb_udp {
    uint8_t sport[2];           /* Source port. */
    uint8_t dport[2];           /* Destination port. */
    uint8_t len[2];             /* Length of UDP header plus payload. */
    uint8_t csum[2];            /* Checksum, 0 = none (IPv4 only). */
};
_Static_assert(sizeof(struct ibb_udp) == IBB_UDP_LEN, "UDP size");

static inline uint16_t
ibb_udp_sport(const struct ibb_udp *udp)
{
    return ibb_get_be16(udp->sport);
}

static inline void
ibb_udp_set_sport(struct ibb_udp *udp, uint16_t port)
{
    ibb_put_be16(udp->sport, port);
}

static inline uint16_t
ibb_udp_dport(const struct ibb_udp *udp)
{
    return ibb_get_be16(udp->dport);
}

static inline void
ibb_udp_set_dport(struct ibb_udp *udp, uint16_t port)
{
    ibb_put_be16(udp->dport, port);
}

static inline uint16_t
ibb_udp_len(const struct ibb_udp *udp)
{
    return ibb_get_be16(udp->len);
}

static inline void
ibb_udp_set_len(struct ibb_udp *udp, uint16_t len)
{
    ibb_put_be16(udp->len, len);
}

static inline uint16_t
ibb_udp_csum(const struct ibb_udp *udp)
{
    return ibb_get_be16(udp->csum);
}

static inline void
ibb_udp_set_csum(struct ibb_udp *udp, uint16_t csum)
{
    ibb_put_be16(udp->csum, csum);
}

/* ------------------------------------------------------------------ */
/* RoCEv2 UDP source port from a flow label (rdma_flow_label_to_udp_sport in
 * linux include/rdma/ib_verbs.h): 0xC000 | (fl[13:0] ^ fl[19:14]). */
static inline uint16_t
ibb_roce_flow_to_sport(uint32_t fl)
{
    uint32_t fl_low = fl & 0x03fff;
    uint32_t fl_high = fl & 0xfc000;

    fl_low ^= fl_high >> 14;
    return (uint16_t) (fl_low | 0xc000);
}

/* Flow label derived from two QPNs when the GRH carries none
 * (rdma_calc_flow_label in linux include/rdma/ib_verbs.h). */
static inline uint32_t
ibb_roce_calc_flow(uint32_t lqpn, uint32_t rqpn)
{
    uint64_t v = (uint64_t) lqpn * rqpn;

    v ^= v >> 20;
    v ^= v >> 40;
    return (uint32_t) (v & 0xfffff);
}

#endif /* roce-hdr.h */
