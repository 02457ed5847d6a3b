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
#include "ibb-csum.h"
#include "ibb-proxy.h"
#include "roce-hdr.h"

/* What parsing and resolution learn before anything is written. */
struct u2r {
    size_t bth_ofs;             /* BTH offset in the IB packet. */
    size_t tlen;                /* BTH through ICRC. */
    uint8_t tclass;             /* Traffic class to send. */
    uint32_t flow;              /* Flow label to send. */
    uint8_t hop;                /* TTL/hop limit to send. */
    bool v4;                    /* Send IPv4 (else IPv6). */
    uint8_t sip[16];            /* Source IP. */
    uint8_t dip[16];            /* Destination IP. */
    uint8_t dmac[6];            /* Destination MAC. */
    const struct ibb_group *group; /* Destination group, if in the map. */
};

/* The IP addresses a GID or a host stands for. */
struct ips {
    bool has4;                  /* 'v4' valid. */
    bool has6;                  /* 'v6' valid. */
    uint8_t v4[16];             /* IPv4 as ::ffff:a.b.c.d. */
    uint8_t v6[16];             /* IPv6. */
};

static void
ips_from_host(struct ips *ips, const struct ibb_host *h)
{
    ips->has4 = h->has_ipv4;
    ips->has6 = h->has_ipv6;
    if (h->has_ipv4) {
        memcpy(ips->v4, h->ipv4, 16);
    }
    if (h->has_ipv6) {
        memcpy(ips->v6, h->ipv6, 16);
    }
}

/* Fills 'ips' with the addresses of unicast 'gid'. */
static void
resolve_gid(const struct ibb_conv_config *cfg,
            const struct ibb_addr_map *map, const uint8_t gid[16],
            struct ips *ips)
{
    const struct ibb_host *h;

    memset(ips, 0, sizeof *ips);
    if (ibb_gid_is_v4mapped(gid)) {
        ips->has4 = true;
        memcpy(ips->v4, gid, 16);
    } else if ((h = ibb_addr_map_find_gid(map, gid)) != NULL) {
        ips_from_host(ips, h);
    } else if (!ibb_gid_same_prefix(gid, cfg->bridge_gid)) {
        ips->has6 = true;
        memcpy(ips->v6, gid, 16);
    }
}

static enum ibb_drop
choose_family(struct u2r *u, const struct ips *s, const struct ips *d)
{
    if (s->has4 && d->has4) {
        u->v4 = true;
        memcpy(u->sip, s->v4, 16);
        memcpy(u->dip, d->v4, 16);
    } else if (s->has6 && d->has6) {
        u->v4 = false;
        memcpy(u->sip, s->v6, 16);
        memcpy(u->dip, d->v6, 16);
    } else {
        return IBB_DROP_NO_FAMILY;
    }
    return IBB_DROP_NONE;
}

static enum ibb_drop
resolve_dmac(const struct ibb_addr_map *map, struct u2r *u)
{
    const struct ibb_host *h;

    if (ibb_ip_is_multicast(u->dip)) {
        ibb_mcast_ip_to_mac(u->dip, u->dmac);
        return IBB_DROP_NONE;
    }
    h = ibb_addr_map_find_ip(map, u->dip);
    if (!h || !h->has_mac) {
        return IBB_DROP_NO_DST_MAC;
    }
    memcpy(u->dmac, h->mac, 6);
    return IBB_DROP_NONE;
}

/* The destination a proxy QP stands for. */
static void
ips_from_proxy(struct ips *ips, const struct ibb_proxy *proxy)
{
    memset(ips, 0, sizeof *ips);
    if (ibb_gid_is_v4mapped(proxy->ep.ip)) {
        ips->has4 = true;
        memcpy(ips->v4, proxy->ep.ip, 16);
    } else {
        ips->has6 = true;
        memcpy(ips->v6, proxy->ep.ip, 16);
    }
}

/* The IB side may speak only for itself: an SGID must not be the bridge's
 * own GID nor stand for an address the map gives to a RoCE host (a host
 * without a GID), and where the map knows the SGID's host and its LID,
 * the SLID must be that LID. */
static enum ibb_drop
check_ib_source(const struct ibb_conv_config *cfg,
                const struct ibb_addr_map *map, const struct ibb_lrh *lrh,
                const uint8_t sgid[16])
{
    const struct ibb_host *h;

    if (!memcmp(sgid, cfg->bridge_gid, 16)) {
        return IBB_DROP_SPOOFED_SRC;
    }
    h = ibb_addr_map_find_gid(map, sgid);
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
    struct ips s, d;
    enum ibb_drop r;

    if (ibb_gid_is_multicast(grh->sgid) || ibb_gid_is_zero(grh->sgid)) {
        return IBB_DROP_BAD_SRC_ADDR;
    }
    r = check_ib_source(cfg, map, lrh, grh->sgid);
    if (r) {
        return r;
    }
    resolve_gid(cfg, map, grh->sgid, &s);
    if (!s.has4 && !s.has6) {
        return IBB_DROP_NO_SRC_IP;
    }
    if ((s.has4 && ibb_ip_is_bad_source(s.v4))
        || (s.has6 && ibb_ip_is_bad_source(s.v6))) {
        return IBB_DROP_BAD_SRC_ADDR;
    }

    memset(&d, 0, sizeof d);
    if (ibb_gid_is_multicast(grh->dgid)) {
        const struct ibb_group *g;

        g = ibb_addr_map_find_group_mgid(map, grh->dgid);
        u->group = g;
        if (g) {
            if (ibb_gid_is_v4mapped(g->ip)) {
                d.has4 = true;
                memcpy(d.v4, g->ip, 16);
            } else {
                d.has6 = true;
                memcpy(d.v6, g->ip, 16);
            }
        } else {
            uint16_t pkey;

            /* An IPv4 group's IPoIB or rdma_cm MGID says which group it
             * is: no map entry needed, if it is of the port's partition
             * and the map gives the group no other MGID (scopes and
             * formats make several MGIDs of one group). */
            if (ibb_mcast_mgid_to_ipv4(grh->dgid, d.v4, &pkey)
                || (cfg->pkey && pkey != (cfg->pkey | 0x8000))
                || ibb_addr_map_find_group_ip(map, d.v4)) {
                return IBB_DROP_NO_GROUP;
            }
            d.has4 = true;
        }
    } else if (proxy) {
        /* The DGID is the bridge's own: the proxy QP says who. */
        ips_from_proxy(&d, proxy);
    } else {
        resolve_gid(cfg, map, grh->dgid, &d);
        if (!d.has4 && !d.has6) {
            return IBB_DROP_NO_DST_IP;
        }
    }
    r = choose_family(u, &s, &d);
    return r ? r : resolve_dmac(map, u);
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
    if (!s.has4 && !s.has6) {
        return IBB_DROP_NO_SRC_IP;
    }
    if ((s.has4 && ibb_ip_is_bad_source(s.v4))
        || (s.has6 && ibb_ip_is_bad_source(s.v6))) {
        return IBB_DROP_BAD_SRC_ADDR;
    }
    if (!d.has4 && !d.has6) {
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

/* Builds Eth, IP and UDP (checksum 0) for 'u' into 'hdr'.  'bth' is the
 * packet's BTH, for the QPNs that pick a UDP port when there is no flow
 * label. */
static void
build_roce_hdr(const struct ibb_conv_config *cfg, const struct u2r *u,
               const struct ibb_bth *bth, uint8_t *hdr)
{
    const struct ibb_deth *deth = (const struct ibb_deth *) (bth + 1);
    struct ibb_eth *eth = (struct ibb_eth *) hdr;
    uint8_t *l3 = hdr + IBB_ETH_LEN;
    size_t udp_len = IBB_UDP_LEN + u->tlen;
    struct ibb_udp *udp;
    uint32_t flow;

    memcpy(eth->dst, u->dmac, 6);
    memcpy(eth->src, cfg->bridge_mac, 6);
    ibb_eth_set_type(eth, u->v4 ? IBB_ETH_TYPE_IPV4 : IBB_ETH_TYPE_IPV6);

    if (u->v4) {
        struct ibb_ipv4 *ip = (struct ibb_ipv4 *) l3;

        ibb_ipv4_set_ver_ihl(ip, 4, 5);
        ibb_ipv4_set_tos(ip, u->tclass);
        ibb_ipv4_set_tot_len(ip, IBB_IPV4_LEN + udp_len);
        ibb_ipv4_set_id(ip, 0);
        ibb_ipv4_set_frag(ip, IBB_IPV4_DF);
        ibb_ipv4_set_ttl(ip, u->hop);
        ibb_ipv4_set_proto(ip, IBB_IPPROTO_UDP);
        memcpy(ip->saddr, u->sip + 12, 4);
        memcpy(ip->daddr, u->dip + 12, 4);
        ibb_ipv4_set_csum(ip, ibb_csum_ipv4_hdr(l3));
        udp = (struct ibb_udp *) (ip + 1);
    } else {
        struct ibb_ipv6 *ip6 = (struct ibb_ipv6 *) l3;

        ibb_ipv6_set_vtf(ip6, 6, u->tclass, u->flow);
        ibb_ipv6_set_plen(ip6, udp_len);
        ibb_ipv6_set_nexthdr(ip6, IBB_IPPROTO_UDP);
        ibb_ipv6_set_hlim(ip6, u->hop);
        memcpy(ip6->saddr, u->sip, 16);
        memcpy(ip6->daddr, u->dip, 16);
        udp = (struct ibb_udp *) (ip6 + 1);
    }

    flow = u->flow ? u->flow : ibb_roce_calc_flow(ibb_deth_sqpn(deth),
                                                  ibb_bth_qpn(bth));
    ibb_udp_set_sport(udp, ibb_roce_flow_to_sport(flow));
    ibb_udp_set_dport(udp, IBB_ROCE_V2_PORT);
    ibb_udp_set_len(udp, udp_len);
    ibb_udp_set_csum(udp, 0);
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
    uint8_t hdr[IBB_ETH_LEN + IBB_IPV6_LEN + IBB_UDP_LEN];
    uint32_t icrc = 0, old_prefix = 0, new_prefix;
    const uint8_t *l3;
    const struct ibb_udp *udp;
    struct u2r u;
    size_t clen, hdr_len;
    enum ibb_drop r;
    uint8_t *f;

    buf->group = NULL;
    memset(&u, 0, sizeof u);
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

    /* One CRC pass over BTH..pad: seeded with the IB prefix when the IB
     * ICRC is checked (the new ICRC then follows by CRC linearity), else
     * with the new RoCEv2 prefix. */
    clen = u.tlen - IBB_ICRC_LEN;
    if (cfg->check_ib_icrc) {
        old_prefix = (u.bth_ofs > IBB_LRH_LEN
                      ? ibb_icrc_prefix_grh(grh)
                      : ibb_icrc_prefix_lrh(lrh));
        icrc = ibb_icrc_seeded(old_prefix, (const uint8_t *) bth, clen);
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
        r = resolve_global(cfg, map, lrh, grh, proxy, &u);
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

    hdr_len = IBB_ETH_LEN + (u.v4 ? IBB_IPV4_LEN : IBB_IPV6_LEN)
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

    build_roce_hdr(cfg, &u, bth, hdr);
    l3 = hdr + IBB_ETH_LEN;
    udp = (struct ibb_udp *) (l3 + hdr_len - IBB_ETH_LEN - IBB_UDP_LEN);
    new_prefix = (u.v4
                  ? ibb_icrc_prefix_ipv4((const struct ibb_ipv4 *) l3, udp)
                  : ibb_icrc_prefix_ipv6((const struct ibb_ipv6 *) l3, udp));
    icrc = (cfg->check_ib_icrc && !proxy
            ? ibb_icrc_reprefix(icrc, old_prefix, new_prefix, clen)
            : ibb_icrc_seeded(new_prefix, (const uint8_t *) bth, clen));

    /* Write: headers over the old LRH/GRH, ICRC over the old one. */
    buf->ofs = buf->ofs + u.bth_ofs - hdr_len;
    buf->len = hdr_len + u.tlen;
    f = ibb_buf_data(buf);
    memcpy(f, hdr, hdr_len);
    ibb_icrc_put(f + buf->len - IBB_ICRC_LEN, icrc);
    if (!u.v4 || cfg->ipv4_udp_csum) {
        uint8_t *udp_out = f + hdr_len - IBB_UDP_LEN;
        uint16_t csum = ibb_csum_udp(u.sip, u.dip, udp_out,
                                     IBB_UDP_LEN + u.tlen);

        ibb_udp_set_csum((struct ibb_udp *) udp_out, csum);
    }
    buf->group = u.group;
    return IBB_DROP_NONE;
}
