/*
 * RoCEv2 -> IB UD conversion.
 */
#include <config.h>

#include "roce-to-ud.h"

#include <string.h>

#include "addr-map.h"
#include "ib-crc.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ibb-csum.h"
#include "ibb-flow-cache.h"
#include "ibb-proxy.h"
#include "roce-hdr.h"

/* What resolve() finds for a flow, as the flow cache keeps it. */
struct r2u_flow {
    uint8_t dgid[16];           /* Destination GID. */
    const struct ibb_group *group; /* Destination group, if multicast. */
    uint16_t dlid;              /* Destination LID. */
    uint8_t drop;               /* enum ibb_drop: IBB_DROP_NONE or why. */
};
_Static_assert(sizeof(struct r2u_flow) <= IBB_FLOW_VALUE_SIZE,
               "struct r2u_flow does not fit a flow cache entry");

/* What parsing and resolution learn before anything is written. */
struct r2u {
    size_t l3_ofs;              /* IP header offset in the frame. */
    size_t bth_ofs;             /* BTH offset in the frame. */
    size_t tlen;                /* BTH through ICRC. */
    bool v4;                    /* IPv4 (else IPv6). */
    uint8_t tclass;             /* IPv4 TOS / IPv6 traffic class. */
    uint32_t flow;              /* IPv6 flow label, 0 for IPv4. */
    uint8_t ttl;                /* Received TTL / hop limit. */
    uint8_t sip[16];            /* Source IP (lib/ib-gid.h form). */
    uint8_t dip[16];            /* Destination IP. */
    struct ibb_proxy *proxy;    /* Proxy QP the source sends from. */
    struct r2u_flow fl;         /* Destination: in one piece, as the flow
                                 * cache copies it. */
};

static enum ibb_drop
parse_ipv4(const uint8_t *f, size_t len, struct r2u *u)
{
    const struct ibb_ipv4 *ip = (const struct ibb_ipv4 *) (f + u->l3_ofs);
    size_t tot_len;

    if (len < u->l3_ofs + IBB_IPV4_LEN) {
        return IBB_DROP_TRUNCATED;
    }
    if (ibb_ipv4_version(ip) != 4) {
        return IBB_DROP_IP_VERSION;
    }
    if (ibb_ipv4_ihl(ip) < 5) {
        return IBB_DROP_IP_LEN;
    }
    if (ibb_ipv4_ihl(ip) > 5) {
        return IBB_DROP_IPV4_OPTIONS;
    }
    if (ibb_ipv4_frag(ip) & (IBB_IPV4_MF | IBB_IPV4_FRAG_OFS_MASK)) {
        return IBB_DROP_IPV4_FRAG;
    }
    if (!ibb_csum_ipv4_hdr_ok((const uint8_t *) ip)) {
        return IBB_DROP_IPV4_CSUM;
    }
    tot_len = ibb_ipv4_tot_len(ip);
    if (tot_len < IBB_IPV4_LEN + IBB_UDP_LEN) {
        return IBB_DROP_IP_LEN;
    }
    if (u->l3_ofs + tot_len > len) {
        return IBB_DROP_TRUNCATED;
    }
    if (ibb_ipv4_proto(ip) != IBB_IPPROTO_UDP) {
        return IBB_DROP_IP_PROTO;
    }
    u->v4 = true;
    u->tclass = ibb_ipv4_tos(ip);
    u->flow = 0;
    u->ttl = ibb_ipv4_ttl(ip);
    ibb_gid_from_ipv4(u->sip, ip->saddr);
    ibb_gid_from_ipv4(u->dip, ip->daddr);
    u->bth_ofs = u->l3_ofs + IBB_IPV4_LEN + IBB_UDP_LEN;
    u->tlen = tot_len - IBB_IPV4_LEN - IBB_UDP_LEN;
    return IBB_DROP_NONE;
}

static enum ibb_drop
parse_ipv6(const uint8_t *f, size_t len, struct r2u *u)
{
    const struct ibb_ipv6 *ip6 = (const struct ibb_ipv6 *) (f + u->l3_ofs);
    size_t plen;

    if (len < u->l3_ofs + IBB_IPV6_LEN) {
        return IBB_DROP_TRUNCATED;
    }
    if (ibb_ipv6_version(ip6) != 6) {
        return IBB_DROP_IP_VERSION;
    }
    if (ibb_ipv6_nexthdr(ip6) != IBB_IPPROTO_UDP) {
        return IBB_DROP_IP_PROTO;
    }
    plen = ibb_ipv6_plen(ip6);
    if (plen < IBB_UDP_LEN) {
        return IBB_DROP_IP_LEN;
    }
    if (u->l3_ofs + IBB_IPV6_LEN + plen > len) {
        return IBB_DROP_TRUNCATED;
    }
    u->v4 = false;
    u->tclass = ibb_ipv6_tclass(ip6);
    u->flow = ibb_ipv6_flow(ip6);
    u->ttl = ibb_ipv6_hlim(ip6);
    memcpy(u->sip, ip6->saddr, 16);
    memcpy(u->dip, ip6->daddr, 16);
    /* An IPv4-mapped address in an IPv6 header would turn the frame into
     * IPv4 on the way back (RFC 4291 2.5.5.2: never on the wire). */
    if (ibb_gid_is_v4mapped(u->sip)) {
        return IBB_DROP_BAD_SRC_ADDR;
    }
    if (ibb_gid_is_v4mapped(u->dip)) {
        return IBB_DROP_BAD_DST_ADDR;
    }
    u->bth_ofs = u->l3_ofs + IBB_IPV6_LEN + IBB_UDP_LEN;
    u->tlen = plen - IBB_UDP_LEN;
    return IBB_DROP_NONE;
}

static enum ibb_drop
parse_frame(const uint8_t *f, size_t len, struct r2u *u)
{
    const struct ibb_eth *eth = (const struct ibb_eth *) f;
    const struct ibb_udp *udp;
    uint16_t type;
    enum ibb_drop r;

    if (len < IBB_ETH_LEN) {
        return IBB_DROP_TRUNCATED;
    }
    type = ibb_eth_type(eth);
    u->l3_ofs = IBB_ETH_LEN;
    if (type == IBB_ETH_TYPE_VLAN) {
        if (len < IBB_ETH_LEN + IBB_VLAN_LEN) {
            return IBB_DROP_TRUNCATED;
        }
        type = ibb_vlan_type((const struct ibb_vlan *) (eth + 1));
        u->l3_ofs += IBB_VLAN_LEN;
    }
    if (type == IBB_ETH_TYPE_IPV4) {
        r = parse_ipv4(f, len, u);
    } else if (type == IBB_ETH_TYPE_IPV6) {
        r = parse_ipv6(f, len, u);
    } else {
        return IBB_DROP_ETH_TYPE;
    }
    if (r) {
        return r;
    }

    udp = (const struct ibb_udp *) (f + u->bth_ofs - IBB_UDP_LEN);
    if (ibb_udp_dport(udp) != IBB_ROCE_V2_PORT) {
        return IBB_DROP_UDP_PORT;
    }
    if (ibb_udp_len(udp) != u->tlen + IBB_UDP_LEN) {
        return IBB_DROP_UDP_LEN;
    }
    return IBB_DROP_NONE;
}

/* The Ethernet side may speak only for itself: no source that no host may
 * have, none with the IB subnet prefix, none the map gives to an IB host
 * (a host with a GID). */
static enum ibb_drop
check_roce_source(const struct ibb_conv_config *cfg,
                  const struct ibb_addr_map *map, const uint8_t sip[16])
{
    const struct ibb_host *h;

    if (ibb_ip_is_bad_source(sip)) {
        return IBB_DROP_BAD_SRC_ADDR;
    }
    if (!ibb_gid_is_v4mapped(sip) && ibb_gid_same_prefix(sip,
                                                         cfg->bridge_gid)) {
        return IBB_DROP_SPOOFED_SRC;
    }
    h = ibb_addr_map_find_ip(map, sip);
    return h && h->has_gid ? IBB_DROP_SPOOFED_SRC : IBB_DROP_NONE;
}

static enum ibb_drop
resolve(const struct ibb_conv_config *cfg, const struct ibb_addr_map *map,
        struct r2u *u)
{
    enum ibb_drop r = check_roce_source(cfg, map, u->sip);

    if (r) {
        return r;
    }
    if (ibb_ip_is_multicast(u->dip)) {
        const struct ibb_group *g = ibb_addr_map_find_group_ip(map, u->dip);

        if (!g) {
            return IBB_DROP_NO_GROUP;
        }
        if (g->standby) {
            return IBB_DROP_NOT_OWNER;
        }
        if (!g->mlid) {
            return IBB_DROP_GROUP_JOINING;
        }
        memcpy(u->fl.dgid, g->mgid, 16);
        u->fl.dlid = g->mlid;
        u->fl.group = g;
    } else {
        const struct ibb_host *h = ibb_addr_map_find_ip(map, u->dip);

        if (!h || !h->has_gid || !h->lid) {
            return IBB_DROP_NO_DST_GID;
        }
        memcpy(u->fl.dgid, h->gid, 16);
        u->fl.dlid = h->lid;
    }
    return IBB_DROP_NONE;
}

/* ibb_flow_key 'c' of this converter's flows. */
#define R2U_FLOW_KIND (UINT64_C(2) << 32)

/* resolve() through cfg->flows: its result depends only on the source and
 * destination IPs, the map and the port's GID (and P_Key, which the cache
 * checks for every user). */
static enum ibb_drop
resolve_cached(const struct ibb_conv_config *cfg,
               const struct ibb_addr_map *map, struct r2u *u)
{
    struct ibb_flow_cache *fc = cfg->flows;
    struct ibb_flow_entry *slot;
    uint64_t version;
    enum ibb_drop r;

    if (!fc) {
        return resolve(cfg, map, u);
    }
    version = ibb_addr_map_version(map);
    if (ibb_flow_cache_get(fc, u->sip, u->dip, R2U_FLOW_KIND, version,
                           cfg->bridge_gid, cfg->pkey, &u->fl, sizeof u->fl,
                           &slot)) {
        return u->fl.drop;
    }

    r = resolve(cfg, map, u);
    if (r) {
        /* A drop keeps nothing else: what resolution half did goes. */
        memset(&u->fl, 0, sizeof u->fl);
    }
    u->fl.drop = r;
    ibb_flow_cache_put(fc, slot, u->sip, u->dip, R2U_FLOW_KIND, version,
                       &u->fl, sizeof u->fl);
    return r;
}

/* Writes LRH and GRH at 'p' and the ICRC and VCRC.  If 'have_icrc', 'icrc'
 * is the RoCEv2 ICRC computed over the same transport bytes with prefix
 * CRC 'old_prefix'. */
static void
write_ib(const struct ibb_conv_config *cfg, const struct r2u *u,
         uint8_t *p, bool have_icrc, uint32_t icrc, uint32_t old_prefix,
         size_t clen)
{
    struct ibb_lrh *lrh = (struct ibb_lrh *) p;
    struct ibb_grh *grh = (struct ibb_grh *) (lrh + 1);
    struct ibb_bth *bth = (struct ibb_bth *) (grh + 1);
    size_t pktbytes = IBB_LRH_LEN + IBB_GRH_LEN + u->tlen;
    uint8_t *icrc_p = p + pktbytes - IBB_ICRC_LEN;

    memset(lrh, 0, sizeof *lrh);
    ibb_lrh_set_sl(lrh, cfg->sl_map[u->tclass >> 2] & 0x0f);
    ibb_lrh_set_lnh(lrh, IBB_LNH_GLOBAL);
    ibb_lrh_set_dlid(lrh, u->fl.dlid);
    ibb_lrh_set_pktlen(lrh, pktbytes / 4);
    ibb_lrh_set_slid(lrh, cfg->bridge_lid);

    memset(grh->vtf, 0, sizeof grh->vtf);
    ibb_grh_set_ipver(grh, IBB_GRH_IPVER);
    ibb_grh_set_tclass(grh, u->tclass);
    ibb_grh_set_flow(grh, u->flow);
    ibb_grh_set_paylen(grh, u->tlen);
    ibb_grh_set_nxthdr(grh, IBB_GRH_NXTHDR);
    ibb_grh_set_hoplmt(grh, u->ttl - 1);
    /* Through a proxy, the source is the bridge's own GID and the proxy's
     * QPN, as an HCA stamps them. */
    memcpy(grh->sgid, u->proxy ? cfg->bridge_gid : u->sip, 16);
    memcpy(grh->dgid, u->fl.dgid, 16);
    if (u->proxy) {
        ibb_deth_set_sqpn((struct ibb_deth *) (bth + 1),
                          u->proxy->proxy_qpn);
    }

    if ((u->tclass & 0x03) == 0x03) {
        ibb_bth_set_fecn(bth, true);
    }

    if (cfg->gen_ib_crcs) {
        icrc = (have_icrc
                ? ibb_icrc_reprefix(icrc, old_prefix,
                                    ibb_icrc_prefix_grh(grh), clen)
                : ibb_icrc_ib_grh((const uint8_t *) grh, clen));
        ibb_icrc_put(icrc_p, icrc);
        ibb_vcrc_put(p + pktbytes, ibb_vcrc16(0, p, pktbytes));
    } else {
        ibb_icrc_put(icrc_p, 0);
        ibb_vcrc_put(p + pktbytes, 0);
    }
}

bool
ibb_roce_source(const uint8_t *frame, size_t len, uint8_t ip[16],
                uint8_t mac[6])
{
    const struct ibb_eth *eth = (const struct ibb_eth *) frame;
    size_t l3 = IBB_ETH_LEN;
    uint16_t type;

    /* Only offsets: the frame is trusted once ibb_roce_to_ud() accepts
     * it, and its parse is not worth doing twice per frame. */
    if (len < IBB_ETH_LEN + IBB_VLAN_LEN + IBB_IPV6_LEN) {
        return false;
    }
    type = ibb_eth_type(eth);
    if (type == IBB_ETH_TYPE_VLAN) {
        type = ibb_vlan_type((const struct ibb_vlan *) (eth + 1));
        l3 += IBB_VLAN_LEN;
    }
    if (type == IBB_ETH_TYPE_IPV4) {
        ibb_gid_from_ipv4(ip, frame + l3 + 12);
    } else if (type == IBB_ETH_TYPE_IPV6) {
        memcpy(ip, frame + l3 + 8, 16);
    } else {
        return false;
    }
    memcpy(mac, eth->src, 6);
    return true;
}

enum ibb_drop
ibb_roce_to_ud(const struct ibb_conv_config *cfg,
               const struct ibb_addr_map *map, struct ibb_buf *buf)
{
    const uint8_t *f = ibb_buf_data(buf);
    const uint8_t *bth;
    struct r2u u;
    uint32_t icrc = 0, old_prefix = 0;
    size_t clen, new_ofs, new_len;
    enum ibb_drop r;

    buf->group = NULL;
    /* Only the fields that parse_frame() and resolve() may leave unset:
     * a memset of the whole struct costs as much as the rest of the
     * headers' work. */
    u.proxy = NULL;
    u.fl.group = NULL;
    r = parse_frame(f, buf->len, &u);
    if (r) {
        return r;
    }
    bth = f + u.bth_ofs;
    r = ibb_conv_check_transport(bth, u.tlen);
    if (!r) {
        r = ibb_conv_check_pkey(cfg, bth);
    }
    if (r) {
        return r;
    }
    if (cfg->check_udp_csum) {
        const uint8_t *udp = bth - IBB_UDP_LEN;
        uint16_t csum = ibb_udp_csum((const struct ibb_udp *) udp);

        if (csum && csum != ibb_csum_udp(u.sip, u.dip, udp,
                                         u.tlen + IBB_UDP_LEN)) {
            return IBB_DROP_UDP_CSUM;
        }
    }

    /* One CRC pass over the RoCEv2 ICRC's input checks it; the IB ICRC
     * follows from it and the RoCEv2 prefix's CRC by CRC linearity when
     * write_ib() needs it (IB CRCs made, no proxy changing SrcQP). */
    clen = u.tlen - IBB_ICRC_LEN;
    if (cfg->check_roce_icrc) {
        const uint8_t *l3 = f + u.l3_ofs;
        const struct ibb_udp *udp = (const struct ibb_udp *)
                                    (bth - IBB_UDP_LEN);

        /* The Ethernet header precedes 'l3', as these read. */
        icrc = (u.v4 ? ibb_icrc_roce4(l3, clen)
                : ibb_icrc_roce6(l3, clen));
        if (cfg->gen_ib_crcs && !cfg->proxies) {
            /* The prefix alone, for write_ib()'s reprefix: a short pass
             * that does not wait for the one above. */
            old_prefix = (u.v4
                          ? ibb_icrc_prefix_ipv4((const struct ibb_ipv4 *) l3,
                                                 udp)
                          : ibb_icrc_prefix_ipv6((const struct ibb_ipv6 *) l3,
                                                 udp));
        }
        if (icrc != ibb_icrc_get(bth + clen)) {
            return IBB_DROP_BAD_ICRC;
        }
    }
    if (u.ttl <= 1) {
        return IBB_DROP_HOP_LIMIT;
    }
    r = resolve_cached(cfg, map, &u);
    if (r) {
        return r;
    }
    if (cfg->proxies) {
        const struct ibb_deth *deth = (const struct ibb_deth *)
                                      (bth + IBB_BTH_LEN);

        u.proxy = ibb_proxy_find_endpoint(cfg->proxies, u.sip,
                                          ibb_deth_sqpn(deth));
        if (!u.proxy) {
            ibb_proxy_note_missing(cfg->proxies, u.sip, ibb_deth_sqpn(deth),
                                   ibb_deth_qkey(deth));
            return IBB_DROP_NO_PROXY;
        }
    }

    new_len = IBB_LRH_LEN + IBB_GRH_LEN + u.tlen + IBB_VCRC_LEN;
    if ((new_len - IBB_VCRC_LEN) / 4 > IBB_LRH_PKTLEN_MASK) {
        return IBB_DROP_TOO_BIG;
    }
    if (cfg->ib_mtu && ibb_conv_payload_len(bth, u.tlen) > cfg->ib_mtu) {
        return IBB_DROP_IB_MTU;
    }
    if (buf->ofs + u.bth_ofs < IBB_LRH_LEN + IBB_GRH_LEN) {
        return IBB_DROP_NO_ROOM;
    }
    new_ofs = buf->ofs + u.bth_ofs - IBB_LRH_LEN - IBB_GRH_LEN;
    if (new_ofs + new_len > buf->size) {
        return IBB_DROP_NO_ROOM;
    }
    buf->ofs = new_ofs;
    buf->len = new_len;
    if (u.proxy) {
        u.proxy->to_ib++;
    }
    /* A new SrcQP changes the bytes the ICRC covers: no reuse then. */
    write_ib(cfg, &u, ibb_buf_data(buf), cfg->check_roce_icrc && !u.proxy,
             icrc, old_prefix, clen);
    buf->group = u.fl.group;
    return IBB_DROP_NONE;
}
