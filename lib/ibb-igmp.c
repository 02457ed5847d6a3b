/*
 * IGMP and MLD messages: building reports and leaves, parsing queries.
 * See ibb-igmp.h.
 */
#include <config.h>

#include "ibb-igmp.h"

#include <string.h>

#include "ib-gid.h"
#include "ib-mcast.h"
#include "ibb-bytes.h"
#include "ibb-csum.h"
#include "roce-hdr.h"

#define ETH_MIN_LEN 60              /* Shortest frame without its FCS. */
#define IPPROTO_IGMP 2
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMPV6 58

#define IGMP_QUERY 0x11
#define IGMP_V1_REPORT 0x12
#define IGMP_V2_REPORT 0x16
#define IGMP_V2_LEAVE 0x17
#define IGMP_V3_REPORT 0x22
#define IGMP_V2_LEN 8
#define IGMP_V3_QUERY_LEN 12

#define MLD_QUERY 130
#define MLD_V1_REPORT 131
#define MLD_V1_DONE 132
#define MLD_V2_REPORT 143
#define MLD_V1_LEN 24
#define MLD_V2_QUERY_LEN 28
#define MLD_V2_REPORT_MIN 8         /* An MLDv2 report without records. */

#define IP_TOS_INTERNETWORK_CONTROL 0xc0
#define IPV4_OPT_ROUTER_ALERT 0x94

/* An IGMPv1 query has no Max Resp Time: hosts use 10 s (RFC 2236 4). */
#define IGMP_V1_MAX_RESP_MS 10000

static const uint8_t all_routers4[4] = { 224, 0, 0, 2 };
static const uint8_t igmpv3_routers[4] = { 224, 0, 0, 22 };
static const uint8_t all_routers6[16] = { 0xff, 0x02, [15] = 0x02 };
static const uint8_t mldv2_routers[16] = { 0xff, 0x02, [15] = 0x16 };

void
ibb_igmp_link_local(const uint8_t mac[6], uint8_t ip[16])
{
    memset(ip, 0, 16);
    ip[0] = 0xfe;
    ip[1] = 0x80;
    ip[8] = mac[0] ^ 0x02;
    ip[9] = mac[1];
    ip[10] = mac[2];
    ip[11] = 0xff;
    ip[12] = 0xfe;
    ip[13] = mac[3];
    ip[14] = mac[4];
    ip[15] = mac[5];
}

/* Writes the Ethernet header for IP multicast destination 'dst'
 * (lib/ib-gid.h form) from 'mac'. */
static void
put_eth(uint8_t *frame, const uint8_t mac[6], const uint8_t dst[16])
{
    ibb_mcast_ip_to_mac(dst, frame);
    memcpy(frame + 6, mac, 6);
    ibb_put_be16(frame + 12, (ibb_gid_is_v4mapped(dst) ? IBB_ETH_TYPE_IPV4
                              : IBB_ETH_TYPE_IPV6));
}

/* Writes an IGMP message 'msg' of 'len' bytes, already at its place after
 * the IPv4 header, into its frame to 'dst'; returns the frame's length. */
static size_t
finish_ipv4(uint8_t *frame, const struct ibb_igmp_source *src,
            const uint8_t dst[4], size_t len)
{
    uint8_t *ip = frame + IBB_IGMP_ETH_LEN;
    uint8_t *msg = ip + IBB_IGMP_IPV4_LEN;
    uint8_t dst16[16];
    size_t total;

    ibb_gid_from_ipv4(dst16, dst);
    put_eth(frame, src->mac, dst16);
    memset(ip, 0, IBB_IGMP_IPV4_LEN);
    ip[0] = 0x40 | (IBB_IGMP_IPV4_LEN / 4);
    ip[1] = IP_TOS_INTERNETWORK_CONTROL;
    ibb_put_be16(ip + 2, IBB_IGMP_IPV4_LEN + len);
    ibb_put_be16(ip + 6, IBB_IPV4_DF);
    ip[8] = 1;
    ip[9] = IPPROTO_IGMP;
    memcpy(ip + 12, src->ipv4, 4);
    memcpy(ip + 16, dst, 4);
    ip[20] = IPV4_OPT_ROUTER_ALERT;
    ip[21] = 4;
    ibb_put_be16(ip + 10, ibb_csum_finish(ibb_csum_add(0, ip,
                                                       IBB_IGMP_IPV4_LEN)));
    ibb_put_be16(msg + 2, 0);
    ibb_put_be16(msg + 2, ibb_csum_finish(ibb_csum_add(0, msg, len)));

    total = IBB_IGMP_ETH_LEN + IBB_IGMP_IPV4_LEN + len;
    if (total < ETH_MIN_LEN) {
        memset(frame + total, 0, ETH_MIN_LEN - total);
        total = ETH_MIN_LEN;
    }
    return total;
}

/* The same for an MLD message to 'dst'. */
static size_t
finish_ipv6(uint8_t *frame, const struct ibb_igmp_source *src,
            const uint8_t dst[16], size_t len)
{
    uint8_t *ip = frame + IBB_IGMP_ETH_LEN;
    uint8_t *hbh = ip + IBB_IPV6_LEN;
    uint8_t *msg = ip + IBB_IGMP_IPV6_LEN;

    put_eth(frame, src->mac, dst);
    memset(ip, 0, IBB_IGMP_IPV6_LEN);
    ip[0] = 0x60;
    ibb_put_be16(ip + 4, 8 + len);
    ip[6] = IPPROTO_HOPOPTS;
    ip[7] = 1;
    memcpy(ip + 8, src->ipv6, 16);
    memcpy(ip + 24, dst, 16);
    hbh[0] = IPPROTO_ICMPV6;
    hbh[1] = 0;                 /* 8 bytes. */
    hbh[2] = 5;                 /* Router Alert, */
    hbh[3] = 2;                 /* 2 bytes, */
    /* value 0 (MLD); then PadN of 2 bytes. */
    hbh[6] = 1;
    hbh[7] = 0;
    ibb_put_be16(msg + 2, 0);
    ibb_put_be16(msg + 2, ibb_csum_icmp6(src->ipv6, dst, msg, len));
    return IBB_IGMP_ETH_LEN + IBB_IGMP_IPV6_LEN + len;
}

size_t
ibb_igmp_v3_record_len(bool ipv6, size_t n_sources)
{
    return (ipv6
            ? IBB_IGMP_V3_REC6_LEN + n_sources * IBB_IGMP_V3_SRC6_LEN
            : IBB_IGMP_V3_REC4_LEN + n_sources * IBB_IGMP_V3_SRC4_LEN);
}

size_t
ibb_igmp_build(const struct ibb_igmp_source *src, int level,
               enum ibb_igmp_msg_kind kind,
               const struct ibb_igmp_record *recs, size_t n, uint8_t *frame)
{
    bool ipv6;

    if (!n) {
        return 0;
    }
    ipv6 = !ibb_gid_is_v4mapped(recs[0].group);
    for (size_t i = 0; i < n; i++) {
        if (ibb_gid_is_v4mapped(recs[i].group) == ipv6
            || !ibb_ip_is_multicast(recs[i].group)) {
            return 0;
        }
    }

    if (kind == IBB_IGMP_V3_REPORT) {
        size_t room = ipv6 ? IBB_IGMP_V3_ROOM6 : IBB_IGMP_V3_ROOM4;
        uint8_t *msg = frame + IBB_IGMP_ETH_LEN
                       + (ipv6 ? IBB_IGMP_IPV6_LEN : IBB_IGMP_IPV4_LEN);
        uint8_t *rec = msg + IBB_IGMP_V3_HDR_LEN;
        size_t len = 0;

        for (size_t i = 0; i < n; i++) {
            /* (n_sources fits in 16 bits when the record fits.) */
            if (recs[i].n_sources > room
                || (len += ibb_igmp_v3_record_len(ipv6, recs[i].n_sources))
                   > room) {
                return 0;
            }
            for (size_t j = 0; j < recs[i].n_sources; j++) {
                if (ibb_gid_is_v4mapped(recs[i].sources[j]) == ipv6) {
                    return 0;
                }
            }
        }
        memset(msg, 0, IBB_IGMP_V3_HDR_LEN + len);
        msg[0] = ipv6 ? MLD_V2_REPORT : IGMP_V3_REPORT;
        ibb_put_be16(msg + 6, n);
        for (size_t i = 0; i < n; i++) {
            rec[0] = recs[i].type;
            ibb_put_be16(rec + 2, recs[i].n_sources);
            if (ipv6) {
                memcpy(rec + 4, recs[i].group, 16);
                rec += IBB_IGMP_V3_REC6_LEN;
            } else {
                memcpy(rec + 4, recs[i].group + 12, 4);
                rec += IBB_IGMP_V3_REC4_LEN;
            }
            for (size_t j = 0; j < recs[i].n_sources; j++) {
                if (ipv6) {
                    memcpy(rec, recs[i].sources[j], 16);
                    rec += IBB_IGMP_V3_SRC6_LEN;
                } else {
                    memcpy(rec, recs[i].sources[j] + 12, 4);
                    rec += IBB_IGMP_V3_SRC4_LEN;
                }
            }
        }
        return (ipv6
                ? finish_ipv6(frame, src, mldv2_routers,
                              IBB_IGMP_V3_HDR_LEN + len)
                : finish_ipv4(frame, src, igmpv3_routers,
                              IBB_IGMP_V3_HDR_LEN + len));
    }

    if (n != 1 || (level != IBB_IGMP_V1 && level != IBB_IGMP_V2)
        || (ipv6 && level == IBB_IGMP_V1)
        || (kind == IBB_IGMP_LEAVE && level == IBB_IGMP_V1)) {
        return 0;
    }
    if (ipv6) {
        uint8_t *msg = frame + IBB_IGMP_ETH_LEN + IBB_IGMP_IPV6_LEN;

        memset(msg, 0, MLD_V1_LEN);
        msg[0] = kind == IBB_IGMP_LEAVE ? MLD_V1_DONE : MLD_V1_REPORT;
        memcpy(msg + 8, recs[0].group, 16);
        return finish_ipv6(frame, src,
                           kind == IBB_IGMP_LEAVE ? all_routers6
                           : recs[0].group, MLD_V1_LEN);
    } else {
        uint8_t *msg = frame + IBB_IGMP_ETH_LEN + IBB_IGMP_IPV4_LEN;

        memset(msg, 0, IGMP_V2_LEN);
        msg[0] = (kind == IBB_IGMP_LEAVE ? IGMP_V2_LEAVE
                  : level == IBB_IGMP_V1 ? IGMP_V1_REPORT : IGMP_V2_REPORT);
        memcpy(msg + 4, recs[0].group + 12, 4);
        return finish_ipv4(frame, src,
                           kind == IBB_IGMP_LEAVE ? all_routers4
                           : recs[0].group + 12, IGMP_V2_LEN);
    }
}

/* IGMPv3 Max Resp Code and QQIC (RFC 3376 4.1.1, 4.1.7): below 128 the
 * value, else 1eeemmmm as (mant | 0x10) << (exp + 3). */
static unsigned int
igmp_code(uint8_t code)
{
    return code < 128 ? code : ((code & 0x0f) | 0x10) << (((code >> 4) & 7)
                                                          + 3);
}

/* MLDv2 Maximum Response Code (RFC 3810 5.1.3): below 32768 the value in
 * ms, else 1eeemmmmmmmmmmmm as (mant | 0x1000) << (exp + 3). */
static unsigned int
mld_code(uint16_t code)
{
    return code < 32768 ? code : ((code & 0x0fffu) | 0x1000u)
                                 << (((code >> 12) & 7) + 3);
}

/* An IGMP or MLD message found in a frame, its IP header checked. */
struct igmp_msg {
    bool ipv6;
    const uint8_t *mac;         /* Ethernet header. */
    const uint8_t *ip;          /* IPv4 or IPv6 header. */
    const uint8_t *msg;         /* IGMP message, or MLD's ICMPv6. */
    size_t len;                 /* Its length. */
};

/* Finds the IGMP message in IPv4 packet 'ip' of 'len' bytes: returns
 * IBB_IGMP_OTHER with '*m' filled in if there is one and its headers and
 * checksums are right. */
static enum ibb_igmp_parse_result
locate_igmp(const uint8_t *ip, size_t len, struct igmp_msg *m)
{
    size_t ihl, total;

    if (len < IBB_IPV4_LEN || (ip[0] >> 4) != 4 || ip[9] != IPPROTO_IGMP) {
        return IBB_IGMP_NOT_IGMP;
    }
    ihl = (ip[0] & 0x0f) * 4;
    total = ibb_get_be16(ip + 2);
    if (ihl < IBB_IPV4_LEN || total < ihl || total > len
        || ibb_csum_finish(ibb_csum_add(0, ip, ihl))
        || (ibb_get_be16(ip + 6) & (IBB_IPV4_MF | IBB_IPV4_FRAG_OFS_MASK))
        || ip[8] != 1) {
        return IBB_IGMP_MALFORMED;
    }
    m->ipv6 = false;
    m->ip = ip;
    m->msg = ip + ihl;
    m->len = total - ihl;
    if (m->len < IGMP_V2_LEN
        || ibb_csum_finish(ibb_csum_add(0, m->msg, m->len))) {
        return IBB_IGMP_MALFORMED;
    }
    return IBB_IGMP_OTHER;
}

/* Finds the MLD message in IPv6 packet 'ip' of 'len' bytes, as
 * locate_igmp() does. */
static enum ibb_igmp_parse_result
locate_mld(const uint8_t *ip, size_t len, struct igmp_msg *m)
{
    const uint8_t *msg = ip + IBB_IPV6_LEN;
    size_t plen, mlen;
    uint8_t next;

    if (len < IBB_IPV6_LEN || (ip[0] >> 4) != 6) {
        return IBB_IGMP_NOT_IGMP;
    }
    plen = ibb_get_be16(ip + 4);
    if (plen > len - IBB_IPV6_LEN) {
        return IBB_IGMP_NOT_IGMP;       /* The converter counts it. */
    }
    next = ip[6];
    mlen = plen;
    if (next == IPPROTO_HOPOPTS) {
        size_t hlen;

        if (mlen < 8) {
            return IBB_IGMP_NOT_IGMP;
        }
        hlen = (msg[1] + 1) * 8;
        if (hlen > mlen) {
            return IBB_IGMP_NOT_IGMP;
        }
        next = msg[0];
        msg += hlen;
        mlen -= hlen;
    }
    if (next != IPPROTO_ICMPV6 || mlen < 4) {
        return IBB_IGMP_NOT_IGMP;
    }
    switch (msg[0]) {
    case MLD_QUERY: case MLD_V1_REPORT: case MLD_V1_DONE: case MLD_V2_REPORT:
        break;
    default:
        return IBB_IGMP_NOT_IGMP;       /* ND and other ICMPv6. */
    }
    /* From a link-local address; a report may come from :: while the
     * host's own is tentative (RFC 3590 4). */
    if (ip[7] != 1
        || !((ip[8] == 0xfe && (ip[9] & 0xc0) == 0x80)
             || (msg[0] != MLD_QUERY && ibb_ip_is_unspecified(ip + 8)))
        || mlen < (msg[0] == MLD_V2_REPORT ? MLD_V2_REPORT_MIN : MLD_V1_LEN)
        || ibb_csum_icmp6(ip + 8, ip + 24, msg, mlen)) {
        return IBB_IGMP_MALFORMED;
    }
    m->ipv6 = true;
    m->ip = ip;
    m->msg = msg;
    m->len = mlen;
    return IBB_IGMP_OTHER;
}

/* Finds the IGMP or MLD message of Ethernet frame 'frame' (an 802.1Q tag
 * is skipped), as locate_igmp() does. */
static enum ibb_igmp_parse_result
locate(const uint8_t *frame, size_t len, struct igmp_msg *m)
{
    size_t ofs = 12;
    uint16_t type;

    if (len < IBB_ETH_LEN) {
        return IBB_IGMP_NOT_IGMP;
    }
    m->mac = frame;
    type = ibb_get_be16(frame + ofs);
    if (type == IBB_ETH_TYPE_VLAN) {
        if (len < IBB_ETH_LEN + IBB_VLAN_LEN) {
            return IBB_IGMP_NOT_IGMP;
        }
        ofs += 4;
        type = ibb_get_be16(frame + ofs);
    }
    ofs += 2;
    if (type == IBB_ETH_TYPE_IPV4) {
        return locate_igmp(frame + ofs, len - ofs, m);
    } else if (type == IBB_ETH_TYPE_IPV6) {
        return locate_mld(frame + ofs, len - ofs, m);
    }
    return IBB_IGMP_NOT_IGMP;
}

static enum ibb_igmp_parse_result
parse_igmp_query(const struct igmp_msg *m, struct ibb_igmp_query *q)
{
    const uint8_t *msg = m->msg;
    size_t mlen = m->len;

    memset(q, 0, sizeof *q);
    ibb_gid_from_ipv4(q->group, msg + 4);
    if (mlen == IGMP_V2_LEN) {
        q->level = msg[1] ? IBB_IGMP_V2 : IBB_IGMP_V1;
        q->max_resp_ms = msg[1] ? msg[1] * 100 : IGMP_V1_MAX_RESP_MS;
        if (q->level == IBB_IGMP_V1) {
            memset(q->group + 12, 0, 4);    /* v1: always general. */
        }
    } else if (mlen >= IGMP_V3_QUERY_LEN) {
        q->level = IBB_IGMP_V3;
        q->max_resp_ms = igmp_code(msg[1]) * 100;
        q->qrv = msg[8] & 7;
        q->suppress = (msg[8] & 8) != 0;
        q->qqi_s = igmp_code(msg[9]);
        q->n_sources = ibb_get_be16(msg + 10);
        q->sources = msg + IGMP_V3_QUERY_LEN;
        if (mlen < IGMP_V3_QUERY_LEN + 4 * (size_t) q->n_sources) {
            return IBB_IGMP_MALFORMED;
        }
    } else {
        return IBB_IGMP_MALFORMED;      /* RFC 3376 7.1: ignored. */
    }
    if (!(msg[4] | msg[5] | msg[6] | msg[7])) {
        memset(q->group, 0, 16);
        if (q->n_sources) {
            return IBB_IGMP_MALFORMED;  /* Sources of no group. */
        }
    } else if (!ibb_ip_is_multicast(q->group)) {
        return IBB_IGMP_MALFORMED;
    }
    return IBB_IGMP_QUERY;
}

static enum ibb_igmp_parse_result
parse_mld_query(const struct igmp_msg *m, struct ibb_igmp_query *q)
{
    const uint8_t *msg = m->msg;
    size_t mlen = m->len;

    memset(q, 0, sizeof *q);
    q->ipv6 = true;
    memcpy(q->group, msg + 8, 16);
    if (mlen == MLD_V1_LEN) {
        q->level = IBB_IGMP_V2;
        q->max_resp_ms = ibb_get_be16(msg + 4);
    } else if (mlen >= MLD_V2_QUERY_LEN) {
        q->level = IBB_IGMP_V3;
        q->max_resp_ms = mld_code(ibb_get_be16(msg + 4));
        q->qrv = msg[24] & 7;
        q->suppress = (msg[24] & 8) != 0;
        q->qqi_s = igmp_code(msg[25]);
        q->n_sources = ibb_get_be16(msg + 26);
        q->sources = msg + MLD_V2_QUERY_LEN;
        if (mlen < MLD_V2_QUERY_LEN + 16 * (size_t) q->n_sources) {
            return IBB_IGMP_MALFORMED;
        }
    } else {
        return IBB_IGMP_MALFORMED;      /* RFC 3810 8.1: ignored. */
    }
    if (ibb_ip_is_unspecified(q->group)) {
        if (q->n_sources) {
            return IBB_IGMP_MALFORMED;
        }
    } else if (!ibb_ip_is_multicast(q->group)
               || ibb_gid_is_v4mapped(q->group)) {
        return IBB_IGMP_MALFORMED;
    }
    return IBB_IGMP_QUERY;
}

enum ibb_igmp_parse_result
ibb_igmp_parse(const uint8_t *frame, size_t len, struct ibb_igmp_query *query)
{
    enum ibb_igmp_parse_result r;
    struct igmp_msg m;

    r = locate(frame, len, &m);
    if (r != IBB_IGMP_OTHER) {
        return r;
    }
    if (!m.ipv6) {
        return (m.msg[0] == IGMP_QUERY ? parse_igmp_query(&m, query)
                : IBB_IGMP_OTHER);
    }
    return (m.msg[0] == MLD_QUERY ? parse_mld_query(&m, query)
            : IBB_IGMP_OTHER);
}

/* Checks the records of an IGMPv3 or MLDv2 report in 'r' (records at
 * 'recs', 'len' bytes to the end of the message): each must fit, its group
 * must be multicast. */
static bool
check_v3_records(struct ibb_igmp_report *r, const uint8_t *recs, size_t len)
{
    size_t glen = r->ipv6 ? 16 : 4;
    const uint8_t *p = recs;

    for (size_t i = 0; i < r->n_records; i++) {
        size_t rlen;
        uint8_t group[16];

        if (len < 4 + glen) {
            return false;
        }
        rlen = 4 + glen + ibb_get_be16(p + 2) * glen + p[1] * 4;
        if (rlen > len || p[0] < IBB_IGMP_IS_IN || p[0] > IBB_IGMP_BLOCK) {
            return false;
        }
        if (r->ipv6) {
            memcpy(group, p + 4, 16);
        } else {
            ibb_gid_from_ipv4(group, p + 4);
        }
        if (!ibb_ip_is_multicast(group)
            || (r->ipv6 && ibb_gid_is_v4mapped(group))) {
            return false;
        }
        p += rlen;
        len -= rlen;
    }
    r->recs = recs;
    return true;
}

enum ibb_igmp_parse_result
ibb_igmp_parse_report(const uint8_t *frame, size_t len,
                      struct ibb_igmp_report *r)
{
    enum ibb_igmp_parse_result res;
    struct igmp_msg m;
    uint8_t type;

    res = locate(frame, len, &m);
    if (res != IBB_IGMP_OTHER) {
        return res;
    }
    memset(r, 0, sizeof *r);
    r->ipv6 = m.ipv6;
    memcpy(r->mac, m.mac + 6, 6);
    type = m.msg[0];
    if (!m.ipv6) {
        ibb_gid_from_ipv4(r->source, m.ip + 12);
        switch (type) {
        case IGMP_V1_REPORT: case IGMP_V2_REPORT: case IGMP_V2_LEAVE:
            r->level = type == IGMP_V1_REPORT ? IBB_IGMP_V1 : IBB_IGMP_V2;
            r->n_records = 1;
            r->single.type = (type == IGMP_V2_LEAVE ? IBB_IGMP_TO_IN
                              : IBB_IGMP_IS_EX);
            ibb_gid_from_ipv4(r->single.group, m.msg + 4);
            break;
        case IGMP_V3_REPORT:
            r->level = IBB_IGMP_V3;
            r->n_records = ibb_get_be16(m.msg + 6);
            return (check_v3_records(r, m.msg + IBB_IGMP_V3_HDR_LEN,
                                     m.len - IBB_IGMP_V3_HDR_LEN)
                    ? IBB_IGMP_MEMBERSHIP : IBB_IGMP_MALFORMED);
        default:
            return IBB_IGMP_OTHER;
        }
    } else {
        memcpy(r->source, m.ip + 8, 16);
        switch (type) {
        case MLD_V1_REPORT: case MLD_V1_DONE:
            r->level = IBB_IGMP_V2;
            r->n_records = 1;
            r->single.type = (type == MLD_V1_DONE ? IBB_IGMP_TO_IN
                              : IBB_IGMP_IS_EX);
            memcpy(r->single.group, m.msg + 8, 16);
            if (ibb_gid_is_v4mapped(r->single.group)) {
                return IBB_IGMP_MALFORMED;
            }
            break;
        case MLD_V2_REPORT:
            r->level = IBB_IGMP_V3;
            r->n_records = ibb_get_be16(m.msg + 6);
            return (check_v3_records(r, m.msg + IBB_IGMP_V3_HDR_LEN,
                                     m.len - IBB_IGMP_V3_HDR_LEN)
                    ? IBB_IGMP_MEMBERSHIP : IBB_IGMP_MALFORMED);
        default:
            return IBB_IGMP_OTHER;
        }
    }
    return (ibb_ip_is_multicast(r->single.group) ? IBB_IGMP_MEMBERSHIP
            : IBB_IGMP_MALFORMED);
}

bool
ibb_igmp_report_next(struct ibb_igmp_report *r, struct ibb_igmp_record *rec,
                     unsigned int *n_sources)
{
    size_t glen = r->ipv6 ? 16 : 4;
    const uint8_t *p = r->recs;

    if (r->next >= r->n_records) {
        return false;
    }
    r->next++;
    if (!p) {
        *rec = r->single;
        *n_sources = 0;
        return true;
    }
    memset(rec, 0, sizeof *rec);    /* Sources are counted, not kept. */
    rec->type = p[0];
    if (r->ipv6) {
        memcpy(rec->group, p + 4, 16);
    } else {
        ibb_gid_from_ipv4(rec->group, p + 4);
    }
    *n_sources = ibb_get_be16(p + 2);
    r->recs = p + 4 + glen + *n_sources * glen + p[1] * 4;
    return true;
}

void
ibb_igmp_query_source(const struct ibb_igmp_query *q, size_t i,
                      uint8_t ip[16])
{
    if (q->ipv6) {
        memcpy(ip, q->sources + 16 * i, 16);
    } else {
        ibb_gid_from_ipv4(ip, q->sources + 4 * i);
    }
}
