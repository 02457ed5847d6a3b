/*
 * IB UD -> RoCEv2 conversion.
 */
#include <config.h>

#include "ud-to-roce.h"

#include <string.h>

#include "addr-map.h"
#include "ib-crc.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ib-mcast.h"
#include "ibb-bytes.h"
#include "ibb-csum.h"
#include "ibb-flow-cache.h"
#include "ibb-proxy.h"
#include "roce-hdr.h"

/* What resolve_global() finds for a flow, as the flow cache keeps it. */
struct u2r_flow {
    uint8_t sip[16];            /* Source IP. */
    uint8_t dip[16];            /* Destination IP. */
    const struct ibb_group *group; /* Destination group, if in the map. */
    uint8_t dmac[6];            /* Destination MAC. */
    bool v4;                    /* Send IPv4 (else IPv6). */
    uint8_t drop;               /* enum ibb_drop: IBB_DROP_NONE or why. */
};
_Static_assert(sizeof(struct u2r_flow) <= IBB_FLOW_VALUE_SIZE,
               "struct u2r_flow does not fit a flow cache entry");

/* What parsing and resolution learn before anything is written. */
struct u2r {
    size_t bth_ofs;             /* BTH offset in the IB packet. */
    size_t tlen;                /* BTH through ICRC. */
    uint8_t tclass;             /* Traffic class to send. */
    uint32_t flow;              /* Flow label to send. */
    uint8_t hop;                /* TTL/hop limit to send. */
    struct u2r_flow fl;         /* Addresses: in one piece, as the flow
                                 * cache copies them. */
};

/* The IP addresses a GID or a host stands for.  Pointers into the packet,
 * the map or the proxy table, valid during one conversion: copying
 * addresses that choose_family() may not pick costs per packet. */
struct ips {
    const uint8_t *v4;          /* IPv4 as ::ffff:a.b.c.d, or NULL. */
    const uint8_t *v6;          /* IPv6, or NULL. */
    uint8_t group4[16];         /* Room for an IPv4 group that only an
                                 * MGID gives. */
};

static void
ips_from_host(struct ips *ips, const struct ibb_host *h)
{
    ips->v4 = h->has_ipv4 ? h->ipv4 : NULL;
    ips->v6 = h->has_ipv6 ? h->ipv6 : NULL;
}

/* Fills 'ips' with the addresses of unicast 'gid', whose host in the map
 * is 'h' (NULL if none). */
static void
resolve_gid_host(const struct ibb_conv_config *cfg, const uint8_t gid[16],
                 const struct ibb_host *h, struct ips *ips)
{
    ips->v4 = ips->v6 = NULL;
    if (ibb_gid_is_v4mapped(gid)) {
        ips->v4 = gid;
    } else if (h) {
        ips_from_host(ips, h);
    } else if (!ibb_gid_same_prefix(gid, cfg->bridge_gid)) {
        ips->v6 = gid;
    }
}

/* Fills 'ips' with the addresses of unicast 'gid'. */
static void
resolve_gid(const struct ibb_conv_config *cfg,
            const struct ibb_addr_map *map, const uint8_t gid[16],
            struct ips *ips)
{
    resolve_gid_host(cfg, gid, (ibb_gid_is_v4mapped(gid) ? NULL
                                : ibb_addr_map_find_gid(map, gid)), ips);
}

static enum ibb_drop
choose_family(struct u2r *u, const struct ips *s, const struct ips *d)
{
    if (s->v4 && d->v4) {
        u->fl.v4 = true;
        memcpy(u->fl.sip, s->v4, 16);
        memcpy(u->fl.dip, d->v4, 16);
    } else if (s->v6 && d->v6) {
        u->fl.v4 = false;
        memcpy(u->fl.sip, s->v6, 16);
        memcpy(u->fl.dip, d->v6, 16);
    } else {
        return IBB_DROP_NO_FAMILY;
    }
    return IBB_DROP_NONE;
}

static enum ibb_drop
resolve_dmac(const struct ibb_addr_map *map, struct u2r *u)
{
    const struct ibb_host *h;

    if (ibb_ip_is_multicast(u->fl.dip)) {
        ibb_mcast_ip_to_mac(u->fl.dip, u->fl.dmac);
        return IBB_DROP_NONE;
    }
    h = ibb_addr_map_find_ip(map, u->fl.dip);
    if (!h || !h->has_mac) {
        return IBB_DROP_NO_DST_MAC;
    }
    memcpy(u->fl.dmac, h->mac, 6);
    return IBB_DROP_NONE;
}

/* The destination a proxy QP stands for. */
static void
ips_from_proxy(struct ips *ips, const struct ibb_proxy *proxy)
{
    ips->v4 = ips->v6 = NULL;
    if (ibb_gid_is_v4mapped(proxy->ep.ip)) {
        ips->v4 = proxy->ep.ip;
    } else {
        ips->v6 = proxy->ep.ip;
    }
}

/* The IB side may speak only for itself: an SGID must not be the bridge's
 * own GID nor stand for an address the map gives to a RoCE host (a host
 * without a GID), and where the map knows the SGID's host and its LID,
 * the SLID must be that LID.  '*hp' gets the SGID's host, or NULL, for
 * resolve_gid_host(). */
static enum ibb_drop
check_ib_source(const struct ibb_conv_config *cfg,
                const struct ibb_addr_map *map, const struct ibb_lrh *lrh,
                const uint8_t sgid[16], const struct ibb_host **hp)
{
    const struct ibb_host *h;

    *hp = NULL;
    if (!memcmp(sgid, cfg->bridge_gid, 16)) {
        return IBB_DROP_SPOOFED_SRC;
    }
    h = *hp = ibb_addr_map_find_gid(map, sgid);
    if (h) {
        return (h->lid && h->lid != ibb_lrh_slid(lrh)
                ? IBB_DROP_SRC_MISMATCH : IBB_DROP_NONE);
    }
    h = ibb_addr_map_find_ip(map, sgid);
    return h && !h->has_gid ? IBB_DROP_SPOOFED_SRC : IBB_DROP_NONE;
}

static enum ibb_drop
resolve_global(const struct ibb_conv_config *cfg,
               const struct ibb_addr_map *map, const struct ibb_lrh *lrh,
               const struct ibb_grh *grh, const struct ibb_proxy *proxy,
               struct u2r *u)
{
    const struct ibb_host *sh;
    struct ips s, d;
    enum ibb_drop r;

    if (ibb_gid_is_multicast(grh->sgid) || ibb_gid_is_zero(grh->sgid)) {
        return IBB_DROP_BAD_SRC_ADDR;
    }
    r = check_ib_source(cfg, map, lrh, grh->sgid, &sh);
    if (r) {
        return r;
    }
    resolve_gid_host(cfg, grh->sgid, sh, &s);
    if (!s.v4 && !s.v6) {
        return IBB_DROP_NO_SRC_IP;
    }
    if ((s.v4 && ibb_ip_is_bad_source(s.v4))
        || (s.v6 && ibb_ip_is_bad_source(s.v6))) {
        return IBB_DROP_BAD_SRC_ADDR;
    }

    d.v4 = d.v6 = NULL;
    if (ibb_gid_is_multicast(grh->dgid)) {
        const struct ibb_group *g;

        g = ibb_addr_map_find_group_mgid(map, grh->dgid);
        u->fl.group = g;
        if (g && g->standby) {
            /* Left, or being left: what still arrives is another bridge
             * node's to forward. */
            return IBB_DROP_NOT_OWNER;
        } else if (g) {
            if (ibb_gid_is_v4mapped(g->ip)) {
                d.v4 = g->ip;
            } else {
                d.v6 = g->ip;
            }
        } else {
            uint16_t pkey;

            /* An IPv4 group's IPoIB or rdma_cm MGID says which group it
             * is: no map entry needed, if it is of the port's partition
             * and the map gives the group no other MGID (scopes and
             * formats make several MGIDs of one group). */
            if (ibb_mcast_mgid_to_ipv4(grh->dgid, d.group4, &pkey)
                || (cfg->pkey && pkey != (cfg->pkey | 0x8000))
                || ibb_addr_map_find_group_ip(map, d.group4)) {
                return IBB_DROP_NO_GROUP;
            }
            d.v4 = d.group4;
        }
    } else if (proxy) {
        /* The DGID is the bridge's own: the proxy QP says who. */
        ips_from_proxy(&d, proxy);
    } else {
        resolve_gid(cfg, map, grh->dgid, &d);
        if (!d.v4 && !d.v6) {
            return IBB_DROP_NO_DST_IP;
        }
    }
    r = choose_family(u, &s, &d);
    return r ? r : resolve_dmac(map, u);
}

/* ibb_flow_key 'c' of this converter's flows: its kind, whether a proxy
 * QP gave the destination, the SLID. */
#define U2R_FLOW_KIND (UINT64_C(1) << 32)
#define U2R_FLOW_PROXY (UINT64_C(1) << 33)

/* resolve_global() through cfg->flows: its result depends only on the
 * SLID, the SGID, the DGID or, for a unicast DGID through a proxy QP, the
 * proxy's endpoint (which then stands for it), the map, and the port's GID
 * and P_Key. */
static enum ibb_drop
resolve_global_cached(const struct ibb_conv_config *cfg,
                      const struct ibb_addr_map *map,
                      const struct ibb_lrh *lrh, const struct ibb_grh *grh,
                      const struct ibb_proxy *proxy, struct u2r *u)
{
    struct ibb_flow_cache *fc = cfg->flows;
    struct ibb_flow_entry *slot;
    const uint8_t *dst;
    uint64_t version, c;
    enum ibb_drop r;

    if (!fc) {
        return resolve_global(cfg, map, lrh, grh, proxy, u);
    }
    if (ibb_gid_is_multicast(grh->dgid)) {
        proxy = NULL;           /* (resolve_global() does not look.) */
    }
    dst = proxy ? proxy->ep.ip : grh->dgid;
    c = U2R_FLOW_KIND | (proxy ? U2R_FLOW_PROXY : 0) | ibb_lrh_slid(lrh);
    version = ibb_addr_map_version(map);
    if (ibb_flow_cache_get(fc, grh->sgid, dst, c, version, cfg->bridge_gid,
                           cfg->pkey, &u->fl, sizeof u->fl, &slot)) {
        return u->fl.drop;
    }

    r = resolve_global(cfg, map, lrh, grh, proxy, u);
    if (r) {
        /* A drop keeps nothing else: what resolution half did goes. */
        memset(&u->fl, 0, sizeof u->fl);
    }
    u->fl.drop = r;
    ibb_flow_cache_put(fc, slot, grh->sgid, dst, c, version, &u->fl,
                       sizeof u->fl);
    return r;
}

static enum ibb_drop
resolve_local(const struct ibb_addr_map *map, const struct ibb_lrh *lrh,
              const struct ibb_proxy *proxy, struct u2r *u)
{
    const struct ibb_host *sh = ibb_addr_map_find_lid(map,
                                                      ibb_lrh_slid(lrh));
    const struct ibb_host *dh = (proxy ? NULL
                                 : ibb_addr_map_find_lid(map,
                                                         ibb_lrh_dlid(lrh)));
    struct ips s, d;
    enum ibb_drop r;

    if (!sh || (!dh && !proxy)) {
        return IBB_DROP_NO_GRH_UNMAPPED;
    }
    if (!sh->has_gid) {
        /* The SLID is an alias LID of the bridge for a RoCE host: no IB
         * host may speak for it. */
        return IBB_DROP_SPOOFED_SRC;
    }
    ips_from_host(&s, sh);
    if (proxy) {
        ips_from_proxy(&d, proxy);
    } else {
        ips_from_host(&d, dh);
    }
    if (!s.v4 && !s.v6) {
        return IBB_DROP_NO_SRC_IP;
    }
    if ((s.v4 && ibb_ip_is_bad_source(s.v4))
        || (s.v6 && ibb_ip_is_bad_source(s.v6))) {
        return IBB_DROP_BAD_SRC_ADDR;
    }
    if (!d.v4 && !d.v6) {
        return IBB_DROP_NO_DST_IP;
    }
    r = choose_family(u, &s, &d);
    return r ? r : resolve_dmac(map, u);
}

/* Validates the LRH and GRH of the IB packet 'p' of 'len' bytes. */
static enum ibb_drop
parse_ib(const struct ibb_conv_config *cfg, const uint8_t *p, size_t len,
         struct u2r *u)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) p;
    size_t pktbytes;

    if (len < IBB_LRH_LEN) {
        return IBB_DROP_TRUNCATED;
    }
    if (ibb_lrh_lver(lrh)) {
        return IBB_DROP_LRH_LVER;
    }
    switch (ibb_lrh_lnh(lrh)) {
    case IBB_LNH_RAW:
        return IBB_DROP_LNH_RAW;
    case IBB_LNH_IP:
        return IBB_DROP_LNH_IP;
    case IBB_LNH_LOCAL:
        u->bth_ofs = IBB_LRH_LEN;
        break;
    default:
        u->bth_ofs = IBB_LRH_LEN + IBB_GRH_LEN;
        break;
    }

    pktbytes = (size_t) ibb_lrh_pktlen(lrh) * 4;
    if (pktbytes + IBB_VCRC_LEN > len) {
        return IBB_DROP_TRUNCATED;
    }
    if (pktbytes + IBB_VCRC_LEN < len
        || pktbytes < u->bth_ofs + IBB_BTH_LEN + IBB_ICRC_LEN) {
        return IBB_DROP_LRH_PKTLEN;
    }
    if (cfg->check_vcrc
        && ibb_vcrc16(0, p, pktbytes) != ibb_vcrc_get(p + pktbytes)) {
        return IBB_DROP_BAD_VCRC;
    }
    u->tlen = pktbytes - u->bth_ofs;

    if (u->bth_ofs > IBB_LRH_LEN) {
        const struct ibb_grh *grh = (const struct ibb_grh *)
                                    (p + IBB_LRH_LEN);

        if (ibb_grh_ipver(grh) != IBB_GRH_IPVER) {
            return IBB_DROP_GRH_IPVER;
        }
        if (ibb_grh_nxthdr(grh) != IBB_GRH_NXTHDR) {
            return IBB_DROP_GRH_NXTHDR;
        }
        if (ibb_grh_paylen(grh) != u->tlen) {
            return IBB_DROP_GRH_PAYLEN;
        }
    }
    return IBB_DROP_NONE;
}

/* The checksum of the IPv4 header build_roce_hdr() writes for 'u' (ID 0,
 * DF, UDP), from the values rather than from the bytes just stored one at
 * a time: a load that spans several narrow stores waits for all of them. */
static uint16_t
ipv4_hdr_csum(const struct u2r *u, uint16_t tot_len)
{
    uint64_t sum = ((uint64_t) (0x4500 | u->tclass) + tot_len + IBB_IPV4_DF
                    + (u->hop << 8 | IBB_IPPROTO_UDP)
                    + ibb_get_be32(u->fl.sip + 12)
                    + ibb_get_be32(u->fl.dip + 12));

    sum = (sum & 0xffffffff) + (sum >> 32);
    return ibb_csum_finish((uint32_t) ((sum & 0xffff) + (sum >> 16)));
}

/* The UDP source port for 'u': from the flow label, or when there is none
 * from the QPNs of 'bth' and its DETH. */
static uint16_t
roce_sport(const struct u2r *u, const struct ibb_bth *bth)
{
    const struct ibb_deth *deth = (const struct ibb_deth *) (bth + 1);
    uint32_t flow;

    flow = u->flow ? u->flow : ibb_roce_calc_flow(ibb_deth_sqpn(deth),
                                                  ibb_bth_qpn(bth));
    return ibb_roce_flow_to_sport(flow);
}

/* Builds Eth, IP and UDP (checksum 0) for 'u' at 'hdr'. */
static void
build_roce_hdr(const struct ibb_conv_config *cfg, const struct u2r *u,
               uint16_t sport, uint8_t *hdr)
{
    struct ibb_eth *eth = (struct ibb_eth *) hdr;
    uint8_t *l3 = hdr + IBB_ETH_LEN;
    size_t udp_len = IBB_UDP_LEN + u->tlen;
    struct ibb_udp *udp;

    memcpy(eth->dst, u->fl.dmac, 6);
    memcpy(eth->src, cfg->bridge_mac, 6);
    ibb_eth_set_type(eth, u->fl.v4 ? IBB_ETH_TYPE_IPV4 : IBB_ETH_TYPE_IPV6);

    if (u->fl.v4) {
        struct ibb_ipv4 *ip = (struct ibb_ipv4 *) l3;

        ibb_ipv4_set_ver_ihl(ip, 4, 5);
        ibb_ipv4_set_tos(ip, u->tclass);
        ibb_ipv4_set_tot_len(ip, IBB_IPV4_LEN + udp_len);
        ibb_ipv4_set_id(ip, 0);
        ibb_ipv4_set_frag(ip, IBB_IPV4_DF);
        ibb_ipv4_set_ttl(ip, u->hop);
        ibb_ipv4_set_proto(ip, IBB_IPPROTO_UDP);
        memcpy(ip->saddr, u->fl.sip + 12, 4);
        memcpy(ip->daddr, u->fl.dip + 12, 4);
        ibb_ipv4_set_csum(ip, ipv4_hdr_csum(u, IBB_IPV4_LEN + udp_len));
        udp = (struct ibb_udp *) (ip + 1);
    } else {
        struct ibb_ipv6 *ip6 = (struct ibb_ipv6 *) l3;

        ibb_ipv6_set_vtf(ip6, 6, u->tclass, u->flow);
        ibb_ipv6_set_plen(ip6, udp_len);
        ibb_ipv6_set_nexthdr(ip6, IBB_IPPROTO_UDP);
        ibb_ipv6_set_hlim(ip6, u->hop);
        memcpy(ip6->saddr, u->fl.sip, 16);
        memcpy(ip6->daddr, u->fl.dip, 16);
        udp = (struct ibb_udp *) (ip6 + 1);
    }

    ibb_udp_set_sport(udp, sport);
    ibb_udp_set_dport(udp, IBB_ROCE_V2_PORT);
    ibb_udp_set_len(udp, udp_len);
    ibb_udp_set_csum(udp, 0);
}

/* The UDP checksum of the frame for 'u' (what ibb_csum_udp() gives over
 * it), from the values: the pseudo-header and UDP header from 'u',
 * 'sport' and 'udp_len', the 'clen' bytes at 'bth' as they are, then the
 * ICRC 'icrc'.  Loading the headers and ICRC just stored instead would wait
 * for those narrow stores to reach the cache. */
static uint16_t
udp_csum(const struct u2r *u, uint16_t sport, uint16_t udp_len,
         const uint8_t *bth, size_t clen, uint32_t icrc)
{
    uint64_t sum = ibb_csum_add(0, bth, clen);
    const uint8_t *s = u->fl.sip, *d = u->fl.dip;
    uint16_t csum;

    if (u->fl.v4) {
        sum += (uint64_t) ibb_get_be32(s + 12) + ibb_get_be32(d + 12);
    } else {
        for (int i = 0; i < 16; i += 4) {
            sum += (uint64_t) ibb_get_be32(s + i) + ibb_get_be32(d + i);
        }
    }
    /* Pseudo-header protocol and length, UDP ports and length, and the
     * ICRC's two 16-bit words as ibb_icrc_put() lays them out (least
     * significant byte first). */
    sum += IBB_IPPROTO_UDP + 2u * udp_len + sport + IBB_ROCE_V2_PORT;
    sum += ((icrc & 0xff) << 8 | (icrc >> 8 & 0xff))
           + ((icrc >> 16 & 0xff) << 8 | icrc >> 24);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    csum = ibb_csum_finish((uint32_t) sum);
    return csum ? csum : 0xffff;
}

enum ibb_drop
ibb_ud_to_roce(const struct ibb_conv_config *cfg,
               const struct ibb_addr_map *map, struct ibb_buf *buf)
{
    const uint8_t *p = ibb_buf_data(buf);
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) p;
    const struct ibb_grh *grh = (const struct ibb_grh *) (p + IBB_LRH_LEN);
    const struct ibb_bth *bth;
    struct ibb_proxy *proxy = NULL;
    uint8_t hdr[IBB_ETH_LEN + IBB_IPV6_LEN + IBB_UDP_LEN + 16];
    uint32_t icrc = 0, old_prefix = 0;
    uint16_t sport, udp_len;
    const uint8_t *l3;
    struct u2r u;
    size_t clen, hdr_len, new_ofs;
    enum ibb_drop r;
    uint8_t *f;

    buf->group = NULL;
    /* Only the fields that not every path sets: a memset of the whole
     * struct costs as much as the rest of the headers' work. */
    u.tclass = 0;
    u.flow = 0;
    u.fl.group = NULL;
    r = parse_ib(cfg, p, buf->len, &u);
    if (r) {
        return r;
    }
    bth = (const struct ibb_bth *) (p + u.bth_ofs);
    r = ibb_conv_check_transport((const uint8_t *) bth, u.tlen);
    if (!r) {
        r = ibb_conv_check_pkey(cfg, (const uint8_t *) bth);
    }
    if (r) {
        return r;
    }

    /* One CRC pass over BTH..pad: the IB ICRC when it is checked (the new
     * ICRC then follows by CRC linearity from it and the IB prefix's CRC),
     * else the new RoCEv2 one. */
    clen = u.tlen - IBB_ICRC_LEN;
    if (cfg->check_ib_icrc) {
        if (u.bth_ofs > IBB_LRH_LEN) {
            /* Two passes that do not wait for each other, the prefix's
             * three blocks and the whole ICRC, each folding its head in
             * 16-byte pieces straight from the packet. */
            old_prefix = ibb_icrc_prefix_grh(grh);
            icrc = ibb_icrc_ib_grh((const uint8_t *) grh, clen);
        } else {
            old_prefix = ibb_icrc_prefix_lrh(lrh);
            icrc = ibb_icrc_seeded(old_prefix, (const uint8_t *) bth, clen);
        }
        if (icrc != ibb_icrc_get(p + u.bth_ofs + clen)) {
            return IBB_DROP_BAD_ICRC;
        }
    }

    if (cfg->proxies && ibb_bth_qpn(bth) != IBB_MULTICAST_QPN) {
        proxy = ibb_proxy_find_qpn(cfg->proxies, ibb_bth_qpn(bth));
        if (!proxy) {
            return IBB_DROP_NO_PROXY;
        }
    }

    if (u.bth_ofs > IBB_LRH_LEN) {
        if (ibb_grh_hoplmt(grh) <= 1) {
            return IBB_DROP_HOP_LIMIT;
        }
        u.hop = ibb_grh_hoplmt(grh) - 1;
        u.tclass = ibb_grh_tclass(grh);
        u.flow = ibb_grh_flow(grh);
        r = resolve_global_cached(cfg, map, lrh, grh, proxy, &u);
    } else {
        u.hop = cfg->no_grh_hop_limit;
        r = resolve_local(map, lrh, proxy, &u);
    }
    if (r) {
        return r;
    }
    if (cfg->dscp_map[ibb_lrh_sl(lrh)] != IBB_DSCP_KEEP) {
        /* The fabric's service level decides the DSCP; ECN stays. */
        u.tclass = (cfg->dscp_map[ibb_lrh_sl(lrh)] << 2) | (u.tclass & 0x03);
    }
    if (ibb_bth_fecn(bth) && (u.tclass & 0x03)) {
        /* Congestion met on IB: CE, but only for an ECN-capable
         * transport (RFC 3168 5); a Not-ECT packet stays Not-ECT. */
        u.tclass |= 0x03;
    }

    hdr_len = IBB_ETH_LEN + (u.fl.v4 ? IBB_IPV4_LEN : IBB_IPV6_LEN)
              + IBB_UDP_LEN;
    if (cfg->eth_mtu && hdr_len - IBB_ETH_LEN + u.tlen > cfg->eth_mtu) {
        return IBB_DROP_ETH_MTU;
    }
    if (buf->ofs + u.bth_ofs < hdr_len) {
        return IBB_DROP_NO_ROOM;
    }
    if (proxy) {
        /* The endpoint's own QPN goes on the wire; the BTH changes, so
         * the ICRC below takes a pass of its own. */
        ibb_bth_set_qpn((struct ibb_bth *) bth, proxy->ep.qpn);
        proxy->to_roce++;
    }

    /* The headers are built on the stack, followed by a copy of the
     * BTH's first 16 bytes, so that the ICRC reads its head there in whole
     * 16-byte pieces and the rest from the packet; then they are copied
     * over the old LRH/GRH.  (Composing the head in registers instead
     * measured slower: its instructions cost about what the wait for the
     * stack's stores does.) */
    sport = roce_sport(&u, bth);
    udp_len = IBB_UDP_LEN + u.tlen;
    build_roce_hdr(cfg, &u, sport, hdr);
    memcpy(hdr + hdr_len, bth, 16);
    l3 = hdr + IBB_ETH_LEN;
    if (cfg->check_ib_icrc && !proxy) {
        /* The new ICRC from the checked one (CRC linearity): only the
         * prefix changes. */
        const struct ibb_udp *udp = (const struct ibb_udp *)
                                    (hdr + hdr_len - IBB_UDP_LEN);
        uint32_t new_prefix;

        new_prefix = (u.fl.v4
                      ? ibb_icrc_prefix_ipv4((const struct ibb_ipv4 *) l3,
                                             udp)
                      : ibb_icrc_prefix_ipv6((const struct ibb_ipv6 *) l3,
                                             udp));
        icrc = ibb_icrc_reprefix(icrc, old_prefix, new_prefix, clen);
    } else if (u.fl.v4) {
        icrc = ibb_icrc_roce4_at(l3, (const uint8_t *) bth, clen);
    } else {
        icrc = ibb_icrc_roce6_at(l3, (const uint8_t *) bth, clen);
    }

    new_ofs = buf->ofs + u.bth_ofs - hdr_len;
    f = buf->base + new_ofs;
    /* Constant sizes: the compiler copies them with a few wide moves. */
    if (u.fl.v4) {
        memcpy(f, hdr, IBB_ETH_LEN + IBB_IPV4_LEN + IBB_UDP_LEN);
    } else {
        memcpy(f, hdr, IBB_ETH_LEN + IBB_IPV6_LEN + IBB_UDP_LEN);
    }
    buf->ofs = new_ofs;
    buf->len = hdr_len + u.tlen;
    ibb_icrc_put(f + buf->len - IBB_ICRC_LEN, icrc);
    if (cfg->udp_csum == IBB_UDP_CSUM_ALL
        || (cfg->udp_csum == IBB_UDP_CSUM_IPV6 && !u.fl.v4)) {
        ibb_udp_set_csum((struct ibb_udp *) (f + hdr_len - IBB_UDP_LEN),
                         udp_csum(&u, sport, udp_len, (const uint8_t *) bth,
                                  clen, icrc));
    }
    buf->group = u.fl.group;
    return IBB_DROP_NONE;
}
