/*
 * Unit tests for the converters (lib/ud-to-roce.c, lib/roce-to-ud.c).
 *
 * Input packets come from tests/test-pkt.h, whose CRCs and checksums are
 * computed independently of lib/ (zlib over hand-masked pseudo-packets,
 * bitwise CRC-16, RFC 1071 loop); outputs are checked with the same
 * reference functions and by byte offset.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-conv.h"
#include "ibb-drop.h"
#include "ibb-flow-cache.h"
#include "ibb-proxy.h"
#include "roce-to-ud.h"
#include "test-pkt.h"
#include "test-vectors.h"
#include "ud-to-roce.h"

#define BUF_SIZE 16384
#define OFS 64

/* IB host A (native GID), RoCE host R, and host X that is reachable both
 * ways (for round trips), groups. */
static const char map_json[] =
    "{ \"hosts\": ["
    "  { \"gid\": \"fe80::2:c903:a:b\", \"lid\": 5,"
    "    \"ipv4\": \"10.0.0.1\", \"ipv6\": \"fd00::1\" },"
    "  { \"ipv4\": \"10.0.0.2\", \"ipv6\": \"fd00::2\","
    "    \"mac\": \"02:00:00:00:00:02\" },"
    "  { \"ipv4\": \"10.0.0.3\", \"mac\": \"02:00:00:00:00:03\","
    "    \"lid\": 7 },"
    "  { \"gid\": \"fe80::2:c903:a:c\", \"lid\": 6, \"ipv4\": \"10.0.1.6\","
    "    \"ipv6\": \"fd00::6\", \"mac\": \"02:00:00:00:00:06\" },"
    "  { \"gid\": \"fe80::2:c903:a:d\", \"lid\": 8, \"ipv6\": \"fd00::8\" }"
    "  ],"
    "  \"groups\": ["
    "  { \"ip\": \"239.1.1.1\", \"mlid\": 49153 },"
    "  { \"ip\": \"ff0e::1:2\", \"mlid\": 49154, \"format\": \"rdma_cm\","
    "    \"pkey\": 32769, \"scope\": 5 },"
    "  { \"ip\": \"239.2.2.2\", \"mlid\": 49155, \"format\": \"roce\" }"
    "  ] }";

struct fix {
    struct ibb_addr_map *map;
    struct ibb_conv_config cfg;
    uint8_t *buf;
};

static const uint8_t bridge_mac[6] = { 0x02, 0xbb, 0, 0, 0, 1 };

static void
gid(const char *s, uint8_t g[16])
{
    assert_int_equal(ibb_gid_parse(s, g), 0);
}

/* The MGID of 239.6.6.6, another bridge node's group (see setup()). */
static uint8_t standby_mgid[16];

static int
setup(void **state)
{
    struct fix *fx = calloc(1, sizeof *fx);
    char err[256];

    fx->map = ibb_addr_map_create();
    assert_int_equal(ibb_addr_map_load_json_str(fx->map, map_json, err,
                                                sizeof err), 0);
    /* A group whose join is under way: no MLID yet. */
    {
        struct ibb_group g = { .pkey = 0xffff, .scope = 2 };

        gid("239.4.4.4", g.ip);
        assert_int_equal(ibb_addr_map_add_group(fx->map, &g), 0);
    }
    /* A group another bridge node forwards. */
    {
        struct ibb_group g = { .pkey = 0xffff, .scope = 2, .mlid = 0xc00a };

        gid("239.6.6.6", g.ip);
        assert_int_equal(ibb_addr_map_add_group(fx->map, &g), 0);
        memcpy(standby_mgid, ibb_addr_map_find_group_ip(fx->map, g.ip)->mgid,
               16);
        assert_int_equal(ibb_addr_map_set_group_standby(fx->map, standby_mgid,
                                                        true), 0);
    }
    ibb_conv_config_init(&fx->cfg);
    memcpy(fx->cfg.bridge_mac, bridge_mac, 6);
    fx->cfg.bridge_lid = 1;
    gid("fe80::2:c903:0:1", fx->cfg.bridge_gid);
    fx->buf = calloc(1, BUF_SIZE);
    *state = fx;
    return 0;
}

/* setup() with a flow cache, as a port has: every test runs both ways,
 * so that what a test changes in the map between packets shows whether
 * the cache forgets what it must. */
static int
setup_cached(void **state)
{
    struct fix *fx;

    setup(state);
    fx = *state;
    fx->cfg.flows = ibb_flow_cache_create();
    assert_non_null(fx->cfg.flows);
    return 0;
}

static int
teardown(void **state)
{
    struct fix *fx = *state;

    ibb_flow_cache_destroy(fx->cfg.flows);
    ibb_addr_map_destroy(fx->map);
    free(fx->buf);
    free(fx);
    return 0;
}

static void
default_tr(struct tp_tr *t, uint8_t op, size_t plen)
{
    memset(t, 0, sizeof *t);
    t->opcode = op;
    t->pkey = 0xffff;
    t->dqpn = 0x123;
    t->psn = 0x42;
    t->qkey = 0x11111111;
    t->sqpn = 0xabc;
    t->imm = 0xcafef00d;
    t->plen = plen;
    t->seed = 3;
}

/* IB packet from A (native GID) to 'dgid'. */
static void
default_ib(struct tp_ib *b, const char *dgid)
{
    memset(b, 0, sizeof *b);
    b->grh = true;
    b->sl = 2;
    b->dlid = 1;
    b->slid = 5;
    b->tclass = 0x68;
    b->flow = 0x12345;
    b->hop = 64;
    gid("fe80::2:c903:a:b", b->sgid);
    gid(dgid, b->dgid);
    default_tr(&b->tr, 0x64, 6);
}

/* RoCEv2 frame from R to 'dip'. */
static void
default_roce(struct tp_roce *b, bool v4, const char *dip)
{
    memset(b, 0, sizeof *b);
    memcpy(b->smac, "\x02\0\0\0\0\x02", 6);
    memcpy(b->dmac, bridge_mac, 6);
    b->v4 = v4;
    b->tos = 0xb8;
    b->flow = v4 ? 0 : 0x54321;
    b->ttl = 64;
    b->ipid = 0x77;
    gid(v4 ? "10.0.0.2" : "fd00::2", b->sip);
    gid(dip, b->dip);
    b->sport = 0xc123;
    default_tr(&b->tr, 0x65, 13);
}

static struct ibb_buf
put(struct fix *fx, const uint8_t *pkt, size_t len)
{
    struct ibb_buf b = { fx->buf, BUF_SIZE, OFS, len, NULL };

    memset(fx->buf, 0xee, BUF_SIZE);
    memcpy(fx->buf + OFS, pkt, len);
    return b;
}

/* Checks a RoCEv2 frame made by the bridge against references. */
static void
check_roce_out(const uint8_t *f, size_t len, bool v4,
               const uint8_t dmac[6])
{
    const uint8_t *ip = f + 14;

    assert_memory_equal(f, dmac, 6);
    assert_memory_equal(f + 6, bridge_mac, 6);
    assert_int_equal((f[12] << 8) | f[13], v4 ? 0x0800 : 0x86dd);
    assert_int_equal(tp_get_le32(f + len - 4),
                     tp_ref_icrc_roce(ip, len - 14));
    assert_int_equal(tp_udp_csum(ip, false), 0);
    if (v4) {
        assert_int_equal(ip[0], 0x45);
        assert_int_equal(tp_csum(ip, 20, 0), 0);
        assert_int_equal((ip[2] << 8) | ip[3], len - 14);
        assert_int_equal(ip[9], 17);
        assert_int_equal((ip[20 + 2] << 8) | ip[20 + 3], 4791);
    } else {
        assert_int_equal(ip[0] >> 4, 6);
        assert_int_equal((ip[4] << 8) | ip[5], len - 54);
        assert_int_equal(ip[6], 17);
        assert_int_equal((ip[40 + 2] << 8) | ip[40 + 3], 4791);
    }
}

static void
check_ib_out(const uint8_t *p, size_t len)
{
    assert_int_equal(((p[4] << 8) | p[5]) * 4 + 2, len);
    assert_int_equal(p[1] & 3, 3);
    assert_int_equal(p[8] >> 4, 6);
    assert_int_equal(p[8 + 6], 0x1b);
    assert_int_equal((p[8 + 4] << 8) | p[8 + 5], len - 50);
    assert_int_equal(tp_get_le32(p + len - 6), tp_ref_icrc_ib(p, len - 2));
    assert_int_equal(p[len - 2] | (p[len - 1] << 8), tp_vcrc(p, len - 2));
}

/* IB host A -> RoCE host R over IPv4: A's native GID becomes 10.0.0.1. */
static void
test_ib_to_roce_v4(void **state)
{
    struct fix *fx = *state;
    uint8_t pkt[256];
    struct tp_ib b;
    struct ibb_buf buf;
    size_t len;
    const uint8_t *f, *ip, *payload_before;

    default_ib(&b, "::ffff:10.0.0.2");
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    payload_before = fx->buf + OFS + 48;
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf),
                     IBB_DROP_NONE);
    f = ibb_buf_data(&buf);
    ip = f + 14;
    assert_int_equal(buf.ofs, OFS + 6);
    assert_int_equal(buf.len, 42 + len - 50);
    check_roce_out(f, buf.len, true, (const uint8_t *) "\x02\0\0\0\0\x02");
    /* Transport untouched, in place. */
    assert_ptr_equal(f + 42, payload_before);
    assert_memory_equal(f + 42, pkt + 48, len - 48 - 6);
    assert_memory_equal(ip + 12, "\x0a\x00\x00\x01", 4);
    assert_memory_equal(ip + 16, "\x0a\x00\x00\x02", 4);
    assert_int_equal(ip[1], 0x68);                      /* TOS. */
    assert_int_equal(ip[8], 63);                        /* TTL. */
    assert_int_equal((ip[6] << 8) | ip[7], 0x4000);     /* DF. */
    /* sport = 0xC000 | (fl[13:0] ^ fl[19:14]) for fl 0x12345. */
    assert_int_equal((ip[20] << 8) | ip[21], 0xc000 | (0x2345 ^ 0x4));

    /* Same with the UDP checksum turned off for IPv4 (udp-csum=ipv6 and
     * none). */
    for (int mode = IBB_UDP_CSUM_IPV6; mode <= IBB_UDP_CSUM_NONE; mode++) {
        fx->cfg.udp_csum = mode;
        buf = put(fx, pkt, len);
        assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf),
                         IBB_DROP_NONE);
        f = ibb_buf_data(&buf);
        assert_int_equal(f[14 + 26] | f[14 + 27], 0);
        assert_int_equal(tp_get_le32(f + buf.len - 4),
                         tp_ref_icrc_roce(f + 14, buf.len - 14));
    }
}

/* IB host A -> RoCE host R over IPv6: A's native GID becomes fd00::1. */
static void
test_ib_to_roce_v6(void **state)
{
    struct fix *fx = *state;
    uint8_t pkt[256], ip6[16];
    struct tp_ib b;
    struct ibb_buf buf;
    size_t len;
    const uint8_t *f, *ip;

    default_ib(&b, "fd00::2");
    b.tr.opcode = 0x65;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf),
                     IBB_DROP_NONE);
    f = ibb_buf_data(&buf);
    ip = f + 14;
    assert_int_equal(buf.ofs, OFS - 14);
    check_roce_out(f, buf.len, false, (const uint8_t *) "\x02\0\0\0\0\x02");
    assert_memory_equal(f + 62, pkt + 48, len - 48 - 6);
    gid("fd00::1", ip6);
    assert_memory_equal(ip + 8, ip6, 16);
    gid("fd00::2", ip6);
    assert_memory_equal(ip + 24, ip6, 16);
    assert_int_equal(((ip[0] & 0xf) << 4) | (ip[1] >> 4), 0x68);
    assert_int_equal(((ip[1] & 0xf) << 16) | (ip[2] << 8) | ip[3], 0x12345);
    assert_int_equal(ip[7], 63);
    assert_int_not_equal(ip[40 + 6] | ip[40 + 7], 0);

    /* udp-csum=ipv6 still computes it over IPv6 (check_roce_out() checks
     * it); none leaves it 0 and the ICRC right. */
    fx->cfg.udp_csum = IBB_UDP_CSUM_IPV6;
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf),
                     IBB_DROP_NONE);
    f = ibb_buf_data(&buf);
    check_roce_out(f, buf.len, false, (const uint8_t *) "\x02\0\0\0\0\x02");
    assert_int_not_equal(f[54 + 6] | f[54 + 7], 0);
    fx->cfg.udp_csum = IBB_UDP_CSUM_NONE;
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf),
                     IBB_DROP_NONE);
    f = ibb_buf_data(&buf);
    assert_int_equal(f[54 + 6] | f[54 + 7], 0);
    assert_int_equal(tp_get_le32(f + buf.len - 4),
                     tp_ref_icrc_roce(f + 14, buf.len - 14));
    assert_memory_equal(f + 62, pkt + 48, len - 48 - 6);
}

/* RoCE host R -> IB host A: 10.0.0.1 becomes A's native GID and LID. */
static void
roce_to_ib(struct fix *fx, bool v4, bool vlan)
{
    uint8_t pkt[256], g[16];
    struct tp_roce b;
    struct ibb_buf buf;
    size_t len;
    const uint8_t *p;

    default_roce(&b, v4, v4 ? "10.0.0.1" : "fd00::1");
    b.vlan = vlan;
    b.udp_csum = true;
    len = tp_build_roce(&b, pkt);
    fx->cfg.check_udp_csum = true;
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&fx->cfg, fx->map, &buf),
                     IBB_DROP_NONE);
    p = ibb_buf_data(&buf);
    check_ib_out(p, buf.len);
    assert_int_equal(buf.len, 48 + (len - (v4 ? 42 : 62) - (vlan ? 4 : 0))
                              + 2);
    assert_memory_equal(p + 48, pkt + len - (buf.len - 50), buf.len - 50 - 4);
    assert_int_equal((p[2] << 8) | p[3], 5);            /* DLID = A. */
    assert_int_equal((p[6] << 8) | p[7], 1);            /* SLID = bridge. */
    assert_int_equal(p[1] >> 4, 0xb8 >> 5);             /* SL = DSCP>>3. */
    assert_int_equal(p[0], 0);                          /* VL, LVer. */
    gid(v4 ? "::ffff:10.0.0.2" : "fd00::2", g);
    assert_memory_equal(p + 16, g, 16);                 /* SGID. */
    gid("fe80::2:c903:a:b", g);
    assert_memory_equal(p + 32, g, 16);                 /* DGID. */
    assert_int_equal(p[8 + 7], 63);                     /* HopLmt. */
    assert_int_equal(((p[8] & 0xf) << 4) | (p[9] >> 4), 0xb8);
    assert_int_equal(((p[9] & 0xf) << 16) | (p[10] << 8) | p[11],
                     v4 ? 0 : 0x54321);
}

static void
test_roce_to_ib_v4(void **state)
{
    roce_to_ib(*state, true, false);
}

static void
test_roce_to_ib_v6(void **state)
{
    roce_to_ib(*state, false, false);
}

static void
test_roce_to_ib_vlan(void **state)
{
    roce_to_ib(*state, true, true);
}

/* The scapy-generated IPv4 frames convert (their ICRC is checked). */
static void
test_roce_to_ib_scapy(void **state)
{
    struct fix *fx = *state;
    struct ibb_addr_map *map = ibb_addr_map_create();
    struct ibb_host h;
    struct ibb_group grp;

    /* Map every destination of the vectors to an IB host. */
    for (size_t i = 0; i < ARRAY_SIZE(scapy_vecs); i++) {
        const uint8_t *ip = scapy_vecs[i].frame + 14;

        memset(&h, 0, sizeof h);
        h.has_gid = true;
        gid("fe80::2:c903:0:100", h.gid);
        h.gid[15] = i;
        h.lid = 100 + i;
        h.has_ipv4 = true;
        ibb_gid_from_ipv4(h.ipv4, ip + 16);
        if (ibb_ip_is_multicast(h.ipv4)) {
            memset(&grp, 0, sizeof grp);
            memcpy(grp.ip, h.ipv4, 16);
            grp.mlid = 0xc100;
            grp.pkey = 0xffff;
            grp.scope = 2;
            assert_int_equal(ibb_addr_map_add_group(map, &grp), 0);
            continue;
        }
        if (!ibb_addr_map_find_ip(map, h.ipv4)) {
            assert_int_equal(ibb_addr_map_add_host(map, &h), 0);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(scapy_vecs); i++) {
        struct ibb_buf buf = put(fx, scapy_vecs[i].frame, scapy_vecs[i].len);
        const uint8_t *ip = scapy_vecs[i].frame + 14;
        enum ibb_drop r = ibb_roce_to_ud(&fx->cfg, map, &buf);

        if (ip[8] <= 1) {
            assert_int_equal(r, IBB_DROP_HOP_LIMIT);
            continue;
        }
        assert_int_equal(r, IBB_DROP_NONE);
        check_ib_out(ibb_buf_data(&buf), buf.len);
    }
    ibb_addr_map_destroy(map);
}

/* IB -> RoCEv2 -> IB gives back the packet except LIDs, SL, HopLmt, CRCs.
 * Source uses an IP-derived GID (as a RoCE host seen from IB does) and the
 * destination is host X, known by GID, LID, IP and MAC. */
static void
round_trip(struct fix *fx, bool v4, uint8_t op, size_t plen)
{
    uint8_t pkt[8192], orig[8192];
    struct tp_ib b;
    struct ibb_buf buf;
    size_t len;
    uint8_t *p;

    default_ib(&b, "fe80::2:c903:a:c");
    gid(v4 ? "::ffff:10.9.9.9" : "fd00::99", b.sgid);
    b.flow = v4 ? 0 : 0xabcde;
    b.dlid = 6;
    b.tr.opcode = op;
    b.tr.plen = plen;
    len = tp_build_ib(&b, pkt);
    memcpy(orig, pkt, len);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    check_roce_out(ibb_buf_data(&buf), buf.len, v4,
                   (const uint8_t *) "\x02\0\0\0\0\x06");
    assert_int_equal(ibb_roce_to_ud(&fx->cfg, fx->map, &buf), 0);
    p = ibb_buf_data(&buf);
    assert_int_equal(buf.ofs, OFS);
    assert_int_equal(buf.len, len);
    check_ib_out(p, buf.len);
    assert_int_equal(p[8 + 7], 62);
    /* Restore what may change and compare the rest. */
    memcpy(p, orig, 8);                                 /* LRH. */
    p[8 + 7] = orig[8 + 7];                             /* HopLmt. */
    memcpy(p + len - 6, orig + len - 6, 6);             /* ICRC, VCRC. */
    assert_memory_equal(p, orig, len);
}

static void
test_round_trip(void **state)
{
    struct fix *fx = *state;

    round_trip(fx, true, 0x64, 6);
    round_trip(fx, false, 0x64, 6);
    round_trip(fx, true, 0x65, 0);
    round_trip(fx, false, 0x65, 4096);
    round_trip(fx, true, 0x64, 4093);
}

/* Proxy QPs: IB host A sends to proxy 0x200 at the bridge's own GID, which
 * stands for R's QP 0x123 at 10.0.0.2; R's datagrams from its QP 0xabc
 * leave from proxy 0x201 with the bridge's GID.  The BTH/DETH change, so
 * both ICRCs are checked against the references. */
static void
test_proxy(void **state)
{
    struct fix *fx = *state;
    struct ibb_conv_config cfg = fx->cfg;
    struct ibb_proxy_table *t = ibb_proxy_table_create(4);
    struct ibb_proxy_endpoint ep;
    uint8_t pkt[256];
    struct tp_ib b;
    struct tp_roce r;
    struct ibb_buf buf;
    uint32_t qkey;
    size_t len;
    const uint8_t *f, *p;

    cfg.proxies = t;
    gid("10.0.0.2", ep.ip);
    ep.qpn = 0x123;
    assert_int_equal(ibb_proxy_add(t, &ep, 0x200, 0x11111111, true), 0);
    assert_int_equal(ibb_proxy_add(t, &ep, 0x202, 1, true), EEXIST);

    /* IB -> RoCE through proxy 0x200. */
    default_ib(&b, "fe80::2:c903:0:1");
    b.tr.dqpn = 0x200;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&cfg, fx->map, &buf), 0);
    f = ibb_buf_data(&buf);
    check_roce_out(f, buf.len, true, (const uint8_t *) "\x02\0\0\0\0\x02");
    assert_memory_equal(f + 14 + 16, "\x0a\0\0\x02", 4);
    assert_int_equal((f[42 + 5] << 16) | (f[42 + 6] << 8) | f[42 + 7],
                     0x123);
    assert_int_equal(ibb_proxy_find_qpn(t, 0x200)->to_roce, 1);

    /* The same source through the same proxy QP to a group: the group's
     * (the proxy stands only for a unicast destination). */
    default_ib(&b, "ff12:401b:ffff::f01:101");
    b.tr.dqpn = 0x200;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&cfg, fx->map, &buf), 0);
    check_roce_out(ibb_buf_data(&buf), buf.len, true,
                   (const uint8_t *) "\x01\x00\x5e\x01\x01\x01");
    default_ib(&b, "fe80::2:c903:0:1");

    /* A DestQP that is no proxy is refused. */
    b.tr.dqpn = 0x300;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&cfg, fx->map, &buf), IBB_DROP_NO_PROXY);

    /* RoCE -> IB: no proxy for 10.0.0.2/0xabc yet; the converter notes it,
     * then converts once it exists. */
    default_roce(&r, true, "10.0.0.1");
    len = tp_build_roce(&r, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&cfg, fx->map, &buf), IBB_DROP_NO_PROXY);
    assert_true(ibb_proxy_take_missing(t, &ep, &qkey));
    assert_int_equal(ep.qpn, 0xabc);
    assert_int_equal(qkey, 0x11111111);
    assert_false(ibb_proxy_take_missing(t, &ep, &qkey));
    assert_int_equal(ibb_proxy_add(t, &ep, 0x201, qkey, false), 0);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&cfg, fx->map, &buf), 0);
    p = ibb_buf_data(&buf);
    check_ib_out(p, buf.len);
    assert_memory_equal(p + 8 + 8, cfg.bridge_gid, 16);
    assert_int_equal((p[48 + 12 + 5] << 16) | (p[48 + 12 + 6] << 8)
                     | p[48 + 12 + 7], 0x201);

    /* The bound. */
    ep.qpn = 1;
    assert_int_equal(ibb_proxy_add(t, &ep, 0x203, 1, false), 0);
    ep.qpn = 2;
    assert_int_equal(ibb_proxy_add(t, &ep, 0x204, 1, false), 0);
    ep.qpn = 3;
    assert_int_equal(ibb_proxy_add(t, &ep, 0x205, 1, false), ENOSPC);
    assert_int_equal(ibb_proxy_del(t, 0x203), 0);
    assert_null(ibb_proxy_find_qpn(t, 0x203));
    assert_int_equal(ibb_proxy_table_count(t), 3);
    ibb_proxy_table_destroy(t);
}

static void
test_ecn(void **state)
{
    struct fix *fx = *state;
    uint8_t pkt[256];
    struct tp_ib b;
    struct tp_roce r;
    struct ibb_buf buf;
    size_t len;

    /* FECN -> CE. */
    default_ib(&b, "::ffff:10.0.0.2");
    b.tr.fecn = true;
    b.tclass = 0x02;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    assert_int_equal(ibb_buf_data(&buf)[15], 0x03);

    /* FECN on a Not-ECT class: no CE for a transport that cannot take it
     * (RFC 3168 5). */
    default_ib(&b, "::ffff:10.0.0.2");
    b.tr.fecn = true;
    b.tclass = 0x68;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    assert_int_equal(ibb_buf_data(&buf)[15], 0x68);

    /* CE -> FECN. */
    default_roce(&r, true, "10.0.0.1");
    r.tos = 0x03;
    len = tp_build_roce(&r, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&fx->cfg, fx->map, &buf), 0);
    assert_int_equal(ibb_buf_data(&buf)[48 + 4] & 0x80, 0x80);
    check_ib_out(ibb_buf_data(&buf), buf.len);
}

/* dscp-map: the LRH SL picks the DSCP, the GRH keeps the ECN bits; an SL
 * without an entry keeps the GRH traffic class. */
static void
test_dscp_map(void **state)
{
    struct fix *fx = *state;
    struct ibb_conv_config cfg = fx->cfg;
    uint8_t pkt[256];
    struct tp_ib b;
    struct ibb_buf buf;
    size_t len;

    cfg.dscp_map[2] = 46;
    default_ib(&b, "::ffff:10.0.0.2");
    b.sl = 2;
    b.tclass = 0x69;            /* DSCP 26, ECN 1. */
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&cfg, fx->map, &buf), 0);
    assert_int_equal(ibb_buf_data(&buf)[15], (46 << 2) | 1);

    b.sl = 3;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&cfg, fx->map, &buf), 0);
    assert_int_equal(ibb_buf_data(&buf)[15], 0x69);
}

static void
test_multicast(void **state)
{
    struct fix *fx = *state;
    uint8_t pkt[256], g[16];
    struct tp_roce r;
    struct tp_ib b;
    struct ibb_buf buf;
    size_t len;
    const uint8_t *p;

    /* RoCE -> IB, IPv4 group, IPoIB format. */
    default_roce(&r, true, "239.1.1.1");
    r.tr.dqpn = 0xffffff;
    len = tp_build_roce(&r, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&fx->cfg, fx->map, &buf), 0);
    p = ibb_buf_data(&buf);
    check_ib_out(p, buf.len);
    gid("ff12:401b:ffff::f01:101", g);
    assert_memory_equal(p + 32, g, 16);
    assert_int_equal((p[2] << 8) | p[3], 0xc001);

    /* RoCE -> IB, IPv6 group, rdma_cm format, pkey 0x8001, scope 5. */
    default_roce(&r, false, "ff0e::1:2");
    len = tp_build_roce(&r, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&fx->cfg, fx->map, &buf), 0);
    p = ibb_buf_data(&buf);
    gid("ff15:6001:8001::1:2", g);
    assert_memory_equal(p + 32, g, 16);
    assert_int_equal((p[2] << 8) | p[3], 0xc002);

    /* IB -> RoCE with the IPoIB MGID: 239.1.1.1, 01:00:5e:01:01:01. */
    default_ib(&b, "ff12:401b:ffff::f01:101");
    b.tr.dqpn = 0xffffff;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    p = ibb_buf_data(&buf);
    check_roce_out(p, buf.len, true,
                   (const uint8_t *) "\x01\x00\x5e\x01\x01\x01");
    assert_memory_equal(p + 14 + 16, "\xef\x01\x01\x01", 4);

    /* IB -> RoCE with the IPv6 group: 33:33:00:01:00:02. */
    default_ib(&b, "ff15:6001:8001::1:2");
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    check_roce_out(ibb_buf_data(&buf), buf.len, false,
                   (const uint8_t *) "\x33\x33\x00\x01\x00\x02");

    /* IB -> RoCE with IPv4 groups in no map: their IPoIB and rdma_cm MGIDs
     * say which group (239.7.8.9 keeps its low 28 bits, f07:809). */
    default_ib(&b, "ff12:401b:ffff::f07:809");
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    p = ibb_buf_data(&buf);
    check_roce_out(p, buf.len, true,
                   (const uint8_t *) "\x01\x00\x5e\x07\x08\x09");
    assert_memory_equal(p + 14 + 16, "\xef\x07\x08\x09", 4);
    default_ib(&b, "ff15:4001:ffff::f07:809");
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    /* Another MGID (scope 5) of a group the map gives its own MGID: no
     * group, or the way back would not give this MGID (found by
     * fuzz-ud-to-roce). */
    default_ib(&b, "ff15:401b:ffff::f01:101");
    b.tr.dqpn = 0xffffff;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf),
                     IBB_DROP_NO_GROUP);
    /* Not of the port's partition: no group. */
    {
        struct ibb_conv_config cfg = fx->cfg;

        cfg.pkey = 0xf001;
        default_ib(&b, "ff12:401b:ffff::f07:809");
        b.tr.pkey = 0xf001;
        len = tp_build_ib(&b, pkt);
        buf = put(fx, pkt, len);
        assert_int_equal(ibb_ud_to_roce(&cfg, fx->map, &buf),
                         IBB_DROP_NO_GROUP);
    }

    /* IB -> RoCE with a RoCE-format MGID ::ffff:239.2.2.2. */
    default_ib(&b, "::ffff:239.2.2.2");
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    check_roce_out(ibb_buf_data(&buf), buf.len, true,
                   (const uint8_t *) "\x01\x00\x5e\x02\x02\x02");
}

/* No GRH: SLID 5 (host A) -> DLID 7 (alias LID of RoCE host 10.0.0.3). */
static void
test_no_grh(void **state)
{
    struct fix *fx = *state;
    uint8_t pkt[256];
    struct tp_ib b;
    struct ibb_buf buf;
    size_t len;
    const uint8_t *f;

    default_ib(&b, "::");
    b.grh = false;
    b.dlid = 7;
    len = tp_build_ib(&b, pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, fx->map, &buf), 0);
    f = ibb_buf_data(&buf);
    check_roce_out(f, buf.len, true, (const uint8_t *) "\x02\0\0\0\0\x03");
    assert_memory_equal(f + 14 + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x03", 8);
    assert_int_equal(f[14 + 8], 64);
}

/* Packets reported against the bridge, converted with no more room around
 * them than the netdev and ibbridge-pcap give. */
static void
test_reported(void **state)
{
    struct fix *fx = *state;
    struct ibb_addr_map *map = ibb_addr_map_create();
    struct ibb_buf buf;
    uint8_t pkt[256];
    char err[128];
    size_t len;

    /* An IB packet without a GRH, LIDs resolved through the map: it needs
     * 34 bytes of headroom for IPv4. */
    assert_int_equal(ibb_addr_map_load_json_str(map,
        "{\"hosts\": [{\"gid\": \"fe80::2:c903:a:b\", \"lid\": 5,"
        " \"ipv4\": \"10.0.0.1\"}, {\"ipv4\": \"10.0.0.3\", \"lid\": 7,"
        " \"mac\": \"02:00:00:00:00:03\"}]}", err, sizeof err), 0);
    len = tp_unhex("00020007000a00056420ffff000001230000000101234567"
                "00000abc68656c6c6f210000f97bdf71967c", pkt);
    buf = put(fx, pkt, len);
    buf.ofs = IBB_CONV_HEADROOM;
    memmove(fx->buf + IBB_CONV_HEADROOM, fx->buf + OFS, len);
    assert_int_equal(ibb_ud_to_roce(&fx->cfg, map, &buf), IBB_DROP_NONE);
    check_roce_out(ibb_buf_data(&buf), buf.len, true,
                   (const uint8_t *) "\x02\0\0\0\0\x03");
    ibb_addr_map_destroy(map);

    /* An Ethernet host that claims host A's native GID as its IPv6
     * source. */
    len = tp_unhex("02000000000102000000000286dd6000000000281140fe80000000000000"
                "0002c903000a000bfd000000000000000000000000000005c12312b70028"
                "19b46430ffff00000123000000010123456700000abc73706f6f66000000"
                "fc4451ae", pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&fx->cfg, fx->map, &buf),
                     IBB_DROP_SPOOFED_SRC);

    /* IPv6 with an IPv4-mapped source (and a correct IPv6 checksum). */
    len = tp_unhex("02000000000102000000000286dd600000000024114000000000000000000"
                "000ffff0000000cfd000000000000000000000000000005c12312b70024ab"
                "b26400ffff00000123000000010123456700000abc72646d614c18a0be",
                pkt);
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&fx->cfg, fx->map, &buf),
                     IBB_DROP_BAD_SRC_ADDR);
}

/* ------------------------------------------------------------------ */
/* Every drop reason, each from one input that triggers exactly it. */

enum dir { IB, ROCE };

struct drop_case {
    const char *what;
    enum ibb_drop reason;
    enum dir dir;
    void (*mutate)(uint8_t *p, size_t *len, struct ibb_conv_config *cfg,
                   size_t *ofs);
    bool v6;                    /* For ROCE: IPv6 frame. */
};

/* IB packet offsets. */
#define G 8                     /* GRH. */
#define B 48                    /* BTH. */

static void m_ib_trunc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                       size_t *o) { (void) p; (void) c; (void) o; *l = 5; }
static void m_ib_trunc2(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o) { (void) p; (void) c; (void) o; *l -= 4; }
static void m_ib_noroom(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o)
{
    (void) c;
    gid("fd00::2", p + G + 24);
    tp_fix_ib(p, *l);
    *o = 0;
}
static void m_lver(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                   size_t *o) { (void) c; (void) o; p[0] |= 1;
                                tp_fix_vcrc(p, *l); }
static void m_lnh_raw(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o; p[1] &= ~3;
                                   tp_fix_vcrc(p, *l); }
static void m_lnh_ip(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[1] = (p[1] & ~3) | 1;
                                  tp_fix_vcrc(p, *l); }
static void m_pktlen(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; (void) l; p[5] -= 1; }
static void m_pktlen_small(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                           size_t *o)
{
    (void) c; (void) o;
    p[4] = 0;
    p[5] = 12;                  /* 48 bytes: no room for BTH. */
    *l = 50;
    tp_fix_vcrc(p, *l);
}
static void m_no_grh(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o)
{
    (void) c; (void) o;
    memmove(p + 8, p + 48, *l - 48);
    *l -= 40;
    p[1] = (p[1] & ~3) | 2;
    p[5] -= 10;
    tp_fix_ib(p, *l);
}
static void m_ipver(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                    size_t *o) { (void) c; (void) o; p[G] = 0x46;
                                 tp_fix_ib(p, *l); }
static void m_nxthdr(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[G + 6] = 0x11;
                                  tp_fix_ib(p, *l); }
static void m_paylen(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[G + 5] += 4;
                                  tp_fix_ib(p, *l); }
static void m_vcrc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                   size_t *o) { (void) c; (void) o; p[*l - 1] ^= 1; }
static void m_tver(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                   size_t *o) { (void) c; (void) o; p[B + 1] |= 1;
                                tp_fix_ib(p, *l); }
static void m_opcode(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[B] = 0x04;
                                  tp_fix_ib(p, *l); }
static void m_cnp(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                  size_t *o) { (void) c; (void) o; p[B] = 0x81;
                               tp_fix_ib(p, *l); }
static void m_padcnt(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o)
{
    /* Payload "hello!"+2 pad is 8 bytes: claim 3 pad on a 0-byte payload by
     * cutting the payload. */
    (void) c; (void) o;
    memmove(p + B + 20, p + B + 28, *l - (B + 28));
    *l -= 8;
    p[5] -= 2;
    p[G + 5] -= 8;
    p[B + 1] = (p[B + 1] & ~0x30) | 0x30;
    tp_fix_ib(p, *l);
}
static void m_icrc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                   size_t *o) { (void) c; (void) o; p[B + 21] ^= 0x40;
                                tp_fix_vcrc(p, *l); }
static void m_hop(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                  size_t *o) { (void) c; (void) o; p[G + 7] = 1;
                               tp_fix_ib(p, *l); }
static void m_hop0(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                   size_t *o) { (void) c; (void) o; p[G + 7] = 0;
                                tp_fix_ib(p, *l); }
static void m_srcmc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                    size_t *o) { (void) c; (void) o;
                                 gid("ff02::1", p + G + 8);
                                 tp_fix_ib(p, *l); }
static void m_sgid_bridge(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                          size_t *o) { (void) o;
                                       memcpy(p + G + 8, c->bridge_gid, 16);
                                       tp_fix_ib(p, *l); }
static void m_sgid_roce(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o) { (void) c; (void) o;
                                     gid("10.0.0.2", p + G + 8);
                                     tp_fix_ib(p, *l); }
static void m_slid_other(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                         size_t *o) { (void) c; (void) o; p[7] = 9;
                                      tp_fix_ib(p, *l); }
static void m_sgid_v4zero(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                          size_t *o) { (void) c; (void) o;
                                       gid("0.0.0.0", p + G + 8);
                                       tp_fix_ib(p, *l); }
static void m_sgid_v4mc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o) { (void) c; (void) o;
                                     gid("224.0.0.1", p + G + 8);
                                     tp_fix_ib(p, *l); }
static void m_sgid_v4bc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o) { (void) c; (void) o;
                                     gid("255.255.255.255", p + G + 8);
                                     tp_fix_ib(p, *l); }
static void m_sgid_lo6(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                       size_t *o) { (void) c; (void) o;
                                    gid("::1", p + G + 8);
                                    tp_fix_ib(p, *l); }
/* The port is in the default partition as a limited member: a limited
 * member of it cannot talk to it, another partition neither. */
static void m_pkey_limited(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                           size_t *o) { (void) o; c->pkey = 0x7fff;
                                        p[B + 2] = 0x7f; p[B + 3] = 0xff;
                                        tp_fix_ib(p, *l); }
static void m_r_pkey_other(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                           size_t *o) { (void) o; c->pkey = 0xffff;
                                        p[14 + 28 + 2] = 0x80;
                                        p[14 + 28 + 3] = 0x01;
                                        tp_fix_roce(p, *l); }
/* Found by fuzz-ud-to-roce: without a GRH, an SLID that is the bridge's
 * alias LID for RoCE host 10.0.0.3 (LID 7) spoke for that host. */
static void m_nogrh_roce_slid(uint8_t *p, size_t *l,
                              struct ibb_conv_config *c, size_t *o)
{
    struct tp_ib b;

    (void) c; (void) o;
    default_ib(&b, "::");
    b.grh = false;
    b.slid = 7;
    b.dlid = 5;
    *l = tp_build_ib(&b, p);
}
static void m_nosrcip(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o;
                                   gid("fe80::2:c903:0:99", p + G + 8);
                                   tp_fix_ib(p, *l); }
static void m_nodstip(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o;
                                   gid("fe80::2:c903:0:98", p + G + 24);
                                   tp_fix_ib(p, *l); }
static void m_family(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o;
                                  gid("fe80::2:c903:a:d", p + G + 24);
                                  gid("::ffff:10.5.5.5", p + G + 8);
                                  tp_fix_ib(p, *l); }
static void m_nomac(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                    size_t *o) { (void) c; (void) o;
                                 gid("::ffff:10.0.0.77", p + G + 24);
                                 tp_fix_ib(p, *l); }
static void m_standby_ib(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                         size_t *o) { (void) c; (void) o;
                                      memcpy(p + G + 24, standby_mgid, 16);
                                      tp_fix_ib(p, *l); }
static void m_nogroup_ib(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                         size_t *o) { (void) c; (void) o;
                                      gid("ff12:601b:ffff::9", p + G + 24);
                                      tp_fix_ib(p, *l); }

/* RoCEv2 frame mutations; IPv4 header at 14. */
#define I 14
static void m_r_trunc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) p; (void) c; (void) o; *l = 30; }
static void m_r_trunc2(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                       size_t *o) { (void) p; (void) c; (void) o; *l -= 1; }
static void m_r_noroom(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                       size_t *o) { (void) p; (void) c; (void) l; *o = 0; }
static void m_r_big(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                    size_t *o)
{
    struct tp_roce b;

    (void) c; (void) o;
    default_roce(&b, true, "10.0.0.1");
    b.tr.plen = 8200;
    *l = tp_build_roce(&b, p);
}
static void m_r_ethtype(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o) { (void) c; (void) o; (void) l;
                                     p[12] = 0x08; p[13] = 0x06; }
static void m_r_ipver(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o; (void) l;
                                   p[I] = 0x65; }
static void m_r_opts(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[I] = 0x46;
                                  tp_fix_roce(p, *l); }
static void m_r_ihl(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                    size_t *o) { (void) c; (void) o; (void) l;
                                 p[I] = 0x44; }
static void m_r_frag(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[I + 6] |= 0x20;
                                  tp_fix_roce(p, *l); }
static void m_r_csum(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; (void) l;
                                  p[I + 11] ^= 1; }
static void m_r_iplen(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o; p[I + 2] = 0;
                                   p[I + 3] = 20; tp_fix_roce(p, *l); }
static void m_r_iptrunc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o) { (void) c; (void) o; p[I + 3] += 4;
                                     tp_fix_roce(p, *l); }
static void m_r_proto(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o; p[I + 9] = 6;
                                   tp_fix_roce(p, *l); }
static void m_r_port(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[I + 23] = 0xb6;
                                  tp_fix_roce(p, *l); }
static void m_r_udplen(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                       size_t *o) { (void) c; (void) o; p[I + 25] -= 4;
                                    tp_fix_roce(p, *l); }
static void m_r_udpcsum(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o) { (void) o; (void) l;
                                     p[I + 26] = 0x12; p[I + 27] = 0x34;
                                     c->check_udp_csum = true; }
static void m_r_icrc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[*l - 5] ^= 1; }
static void m_r_ttl(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                    size_t *o) { (void) c; (void) o; p[I + 8] = 1;
                                 tp_fix_roce(p, *l); }
static void m_r_src(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                    size_t *o) { (void) c; (void) o;
                                 memcpy(p + I + 12, "\xe0\0\0\x05", 4);
                                 tp_fix_roce(p, *l); }
/* An empty proxy table: the bridge is strict, nobody has a proxy. */
static struct ibb_proxy_table *
empty_proxies(void)
{
    static struct ibb_proxy_table *t;

    if (!t) {
        t = ibb_proxy_table_create(1);
    }
    return t;
}
static void m_noproxy(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) p; (void) l; (void) o;
                                   c->proxies = empty_proxies(); }
/* MTUs smaller than the default packets need: IP header, UDP and
 * transport headers alone are over 40 bytes; the payload is over 1. */
static void m_eth_mtu(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) p; (void) l; (void) o;
                                   c->eth_mtu = 40; }
static void m_ib_mtu(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) p; (void) l; (void) o;
                                  c->ib_mtu = 1; }
/* A frame to 239.4.4.4, whose join has not completed (MLID 0, see
 * setup()). */
static void m_r_joining(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o)
{
    struct tp_roce b;

    (void) o; (void) c;
    default_roce(&b, true, "239.4.4.4");
    memcpy(b.dmac, "\x01\x00\x5e\x04\x04\x04", 6);
    b.tr.dqpn = 0xffffff;
    *l = tp_build_roce(&b, p);
}
/* A frame to 239.6.6.6, which another bridge node forwards. */
static void m_r_standby(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o)
{
    struct tp_roce b;

    (void) o; (void) c;
    default_roce(&b, true, "239.6.6.6");
    memcpy(b.dmac, "\x01\x00\x5e\x06\x06\x06", 6);
    b.tr.dqpn = 0xffffff;
    *l = tp_build_roce(&b, p);
}
static void m_r_nogid(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o;
                                   memcpy(p + I + 16, "\x0a\0\0\x4d", 4);
                                   tp_fix_roce(p, *l); }
static void m_r_nogid_roce(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                           size_t *o) { (void) c; (void) o;
                                        memcpy(p + I + 16, "\x0a\0\0\x03",
                                               4);
                                        tp_fix_roce(p, *l); }
static void m_r_nogroup(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                        size_t *o) { (void) c; (void) o;
                                     memcpy(p + I + 16, "\xef\x09\x09\x09",
                                            4);
                                     tp_fix_roce(p, *l); }
static void m_r_opcode(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                       size_t *o) { (void) c; (void) o; p[I + 28] = 0x0a;
                                    tp_fix_roce(p, *l); }
static void m_r_tver(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; p[I + 29] |= 2;
                                  tp_fix_roce(p, *l); }
static void m_r6_ver(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o; (void) l;
                                  p[I] = 0x40 | (p[I] & 0xf); }
static void m_r6_sip4(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o;
                                   gid("::ffff:0.0.0.12", p + I + 8);
                                   tp_fix_roce(p, *l); }
static void m_r6_dip4(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o;
                                   gid("::ffff:10.0.0.1", p + I + 24);
                                   tp_fix_roce(p, *l); }
static void m_r6_ibprefix(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                          size_t *o) { (void) c; (void) o;
                                       gid("fe80::2:c903:a:b", p + I + 8);
                                       tp_fix_roce(p, *l); }
static void m_r_ibhost(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                       size_t *o) { (void) c; (void) o;
                                    memcpy(p + I + 12, "\x0a\0\x01\x06", 4);
                                    tp_fix_roce(p, *l); }
static void m_r_loop(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                     size_t *o) { (void) c; (void) o;
                                  memcpy(p + I + 12, "\x7f\0\0\x01", 4);
                                  tp_fix_roce(p, *l); }
static void m_r6_nh(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                    size_t *o) { (void) c; (void) o; p[I + 6] = 0;
                                 tp_fix_roce(p, *l); }
static void m_r6_plen(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o; p[I + 4] = 0;
                                   p[I + 5] = 4; tp_fix_roce(p, *l); }
static void m_r6_hlim(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                      size_t *o) { (void) c; (void) o; p[I + 7] = 0;
                                   tp_fix_roce(p, *l); }
static void m_r6_vlan_trunc(uint8_t *p, size_t *l, struct ibb_conv_config *c,
                            size_t *o) { (void) c; (void) o; p[12] = 0x81;
                                         p[13] = 0; *l = 16; }

static const struct drop_case drop_cases[] = {
    { "ib short", IBB_DROP_TRUNCATED, IB, m_ib_trunc, false },
    { "ib cut", IBB_DROP_TRUNCATED, IB, m_ib_trunc2, false },
    { "ib v6 no headroom", IBB_DROP_NO_ROOM, IB, m_ib_noroom, false },
    { "lver", IBB_DROP_LRH_LVER, IB, m_lver, false },
    { "lnh raw", IBB_DROP_LNH_RAW, IB, m_lnh_raw, false },
    { "lnh ip", IBB_DROP_LNH_IP, IB, m_lnh_ip, false },
    { "pktlen", IBB_DROP_LRH_PKTLEN, IB, m_pktlen, false },
    { "pktlen small", IBB_DROP_LRH_PKTLEN, IB, m_pktlen_small, false },
    { "no grh", IBB_DROP_NO_GRH_UNMAPPED, IB, m_no_grh, false },
    { "ipver", IBB_DROP_GRH_IPVER, IB, m_ipver, false },
    { "nxthdr", IBB_DROP_GRH_NXTHDR, IB, m_nxthdr, false },
    { "paylen", IBB_DROP_GRH_PAYLEN, IB, m_paylen, false },
    { "vcrc", IBB_DROP_BAD_VCRC, IB, m_vcrc, false },
    { "tver", IBB_DROP_BTH_TVER, IB, m_tver, false },
    { "rc opcode", IBB_DROP_OPCODE, IB, m_opcode, false },
    { "cnp", IBB_DROP_OPCODE, IB, m_cnp, false },
    { "padcnt", IBB_DROP_PADCNT, IB, m_padcnt, false },
    { "icrc", IBB_DROP_BAD_ICRC, IB, m_icrc, false },
    { "hop 1", IBB_DROP_HOP_LIMIT, IB, m_hop, false },
    { "hop 0", IBB_DROP_HOP_LIMIT, IB, m_hop0, false },
    { "src mcast", IBB_DROP_BAD_SRC_ADDR, IB, m_srcmc, false },
    { "src unmapped", IBB_DROP_NO_SRC_IP, IB, m_nosrcip, false },
    { "dst unmapped", IBB_DROP_NO_DST_IP, IB, m_nodstip, false },
    { "family", IBB_DROP_NO_FAMILY, IB, m_family, false },
    { "no mac", IBB_DROP_NO_DST_MAC, IB, m_nomac, false },
    { "ib no group", IBB_DROP_NO_GROUP, IB, m_nogroup_ib, false },
    { "roce short", IBB_DROP_TRUNCATED, ROCE, m_r_trunc, false },
    { "roce cut", IBB_DROP_TRUNCATED, ROCE, m_r_trunc2, false },
    { "roce vlan cut", IBB_DROP_TRUNCATED, ROCE, m_r6_vlan_trunc, false },
    { "roce ip total > frame", IBB_DROP_TRUNCATED, ROCE, m_r_iptrunc,
      false },
    { "roce no headroom", IBB_DROP_NO_ROOM, ROCE, m_r_noroom, false },
    { "too big", IBB_DROP_TOO_BIG, ROCE, m_r_big, false },
    { "ethtype", IBB_DROP_ETH_TYPE, ROCE, m_r_ethtype, false },
    { "ip version", IBB_DROP_IP_VERSION, ROCE, m_r_ipver, false },
    { "ipv6 version", IBB_DROP_IP_VERSION, ROCE, m_r6_ver, true },
    { "options", IBB_DROP_IPV4_OPTIONS, ROCE, m_r_opts, false },
    { "ihl 4", IBB_DROP_IP_LEN, ROCE, m_r_ihl, false },
    { "frag", IBB_DROP_IPV4_FRAG, ROCE, m_r_frag, false },
    { "ip csum", IBB_DROP_IPV4_CSUM, ROCE, m_r_csum, false },
    { "ip len", IBB_DROP_IP_LEN, ROCE, m_r_iplen, false },
    { "ipv6 plen", IBB_DROP_IP_LEN, ROCE, m_r6_plen, true },
    { "proto", IBB_DROP_IP_PROTO, ROCE, m_r_proto, false },
    { "ipv6 nexthdr", IBB_DROP_IP_PROTO, ROCE, m_r6_nh, true },
    { "port", IBB_DROP_UDP_PORT, ROCE, m_r_port, false },
    { "udp len", IBB_DROP_UDP_LEN, ROCE, m_r_udplen, false },
    { "udp csum", IBB_DROP_UDP_CSUM, ROCE, m_r_udpcsum, false },
    { "roce opcode", IBB_DROP_OPCODE, ROCE, m_r_opcode, false },
    { "roce tver", IBB_DROP_BTH_TVER, ROCE, m_r_tver, false },
    { "roce icrc", IBB_DROP_BAD_ICRC, ROCE, m_r_icrc, false },
    { "ttl 1", IBB_DROP_HOP_LIMIT, ROCE, m_r_ttl, false },
    { "ipv6 hlim 0", IBB_DROP_HOP_LIMIT, ROCE, m_r6_hlim, true },
    { "roce src mcast", IBB_DROP_BAD_SRC_ADDR, ROCE, m_r_src, false },
    { "no gid", IBB_DROP_NO_DST_GID, ROCE, m_r_nogid, false },
    { "dst is roce host", IBB_DROP_NO_DST_GID, ROCE, m_r_nogid_roce, false },
    { "roce no group", IBB_DROP_NO_GROUP, ROCE, m_r_nogroup, false },
    { "ib no proxy", IBB_DROP_NO_PROXY, IB, m_noproxy, false },
    { "sgid is the bridge's", IBB_DROP_SPOOFED_SRC, IB, m_sgid_bridge, false },
    { "sgid is a roce host's", IBB_DROP_SPOOFED_SRC, IB, m_sgid_roce, false },
    { "slid not the sgid's", IBB_DROP_SRC_MISMATCH, IB, m_slid_other, false },
    { "sgid 0.0.0.0", IBB_DROP_BAD_SRC_ADDR, IB, m_sgid_v4zero, false },
    { "sgid 224.0.0.1", IBB_DROP_BAD_SRC_ADDR, IB, m_sgid_v4mc, false },
    { "sgid 255.255.255.255", IBB_DROP_BAD_SRC_ADDR, IB, m_sgid_v4bc, false },
    { "sgid ::1", IBB_DROP_BAD_SRC_ADDR, IB, m_sgid_lo6, false },
    { "ipv6 v4-mapped src", IBB_DROP_BAD_SRC_ADDR, ROCE, m_r6_sip4, true },
    { "ipv6 v4-mapped dst", IBB_DROP_BAD_DST_ADDR, ROCE, m_r6_dip4, true },
    { "ipv6 src ib prefix", IBB_DROP_SPOOFED_SRC, ROCE, m_r6_ibprefix, true },
    { "src is an ib host's", IBB_DROP_SPOOFED_SRC, ROCE, m_r_ibhost, false },
    { "src loopback", IBB_DROP_BAD_SRC_ADDR, ROCE, m_r_loop, false },
    { "no grh, slid a roce host's", IBB_DROP_SPOOFED_SRC, IB,
      m_nogrh_roce_slid, false },
    { "both limited", IBB_DROP_PKEY, IB, m_pkey_limited, false },
    { "roce other partition", IBB_DROP_PKEY, ROCE, m_r_pkey_other, false },
    { "roce no proxy", IBB_DROP_NO_PROXY, ROCE, m_noproxy, false },
    { "roce group joining", IBB_DROP_GROUP_JOINING, ROCE, m_r_joining,
      false },
    { "roce another node's group", IBB_DROP_NOT_OWNER, ROCE, m_r_standby,
      false },
    { "ib another node's group", IBB_DROP_NOT_OWNER, IB, m_standby_ib,
      false },
    { "over the ethernet mtu", IBB_DROP_ETH_MTU, IB, m_eth_mtu, false },
    { "over the ib mtu", IBB_DROP_IB_MTU, ROCE, m_ib_mtu, false },
};

static void
test_drop_reasons(void **state)
{
    struct fix *fx = *state;
    bool covered[IBB_DROP_N_REASONS] = { false };
    static uint8_t pkt[BUF_SIZE];

    for (size_t i = 0; i < ARRAY_SIZE(drop_cases); i++) {
        const struct drop_case *dc = &drop_cases[i];
        struct ibb_conv_config cfg = fx->cfg;
        size_t len, ofs = OFS;
        struct ibb_buf buf;
        enum ibb_drop r;
        uint8_t *copy;

        if (dc->dir == IB) {
            struct tp_ib b;

            default_ib(&b, "::ffff:10.0.0.2");
            len = tp_build_ib(&b, pkt);
        } else {
            struct tp_roce b;

            default_roce(&b, !dc->v6, dc->v6 ? "fd00::1" : "10.0.0.1");
            len = tp_build_roce(&b, pkt);
        }
        /* Unmutated input converts. */
        buf = put(fx, pkt, len);
        r = (dc->dir == IB ? ibb_ud_to_roce(&cfg, fx->map, &buf)
             : ibb_roce_to_ud(&cfg, fx->map, &buf));
        assert_int_equal(r, IBB_DROP_NONE);

        dc->mutate(pkt, &len, &cfg, &ofs);
        buf = put(fx, pkt, len);
        buf.ofs = ofs;
        if (ofs != OFS) {
            memmove(fx->buf + ofs, fx->buf + OFS, len);
        }
        copy = malloc(BUF_SIZE);
        memcpy(copy, fx->buf, BUF_SIZE);
        r = (dc->dir == IB ? ibb_ud_to_roce(&cfg, fx->map, &buf)
             : ibb_roce_to_ud(&cfg, fx->map, &buf));
        if (r != dc->reason) {
            fail_msg("%s: got %s, expected %s", dc->what, ibb_drop_name(r),
                     ibb_drop_name(dc->reason));
        }
        /* A dropped packet is left as it was. */
        assert_memory_equal(copy, fx->buf, BUF_SIZE);
        assert_int_equal(buf.ofs, ofs);
        free(copy);
        covered[r] = true;
    }
    for (int i = 1; i < IBB_DROP_N_REASONS; i++) {
        if (!covered[i]) {
            fail_msg("drop reason %s has no test", ibb_drop_name(i));
        }
    }
}

static void
test_check_flags(void **state)
{
    struct fix *fx = *state;
    struct ibb_conv_config cfg = fx->cfg;
    uint8_t pkt[256];
    struct tp_ib b;
    struct tp_roce r;
    struct ibb_buf buf;
    size_t len;

    default_ib(&b, "::ffff:10.0.0.2");
    len = tp_build_ib(&b, pkt);
    pkt[len - 3] ^= 1;                  /* ICRC. */
    pkt[len - 1] ^= 1;                  /* VCRC. */
    cfg.check_ib_icrc = false;
    cfg.check_vcrc = false;
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_ud_to_roce(&cfg, fx->map, &buf), 0);
    check_roce_out(ibb_buf_data(&buf), buf.len, true,
                   (const uint8_t *) "\x02\0\0\0\0\x02");

    default_roce(&r, true, "10.0.0.1");
    len = tp_build_roce(&r, pkt);
    pkt[len - 1] ^= 1;
    cfg.check_roce_icrc = false;
    cfg.gen_ib_crcs = false;
    buf = put(fx, pkt, len);
    assert_int_equal(ibb_roce_to_ud(&cfg, fx->map, &buf), 0);
    assert_int_equal(tp_get_le32(ibb_buf_data(&buf) + buf.len - 6), 0);
}

/* Truncated and mutated packets must not make the converters read or
 * write outside the packet (ASan checks): each goes into a buffer
 * allocated to the exact size. */
static void
fuzz_one(struct fix *fx, const uint8_t *pkt, size_t len, bool ib,
         size_t head, size_t tail)
{
    uint8_t *mem = malloc(head + len + tail);
    struct ibb_buf buf = { mem, head + len + tail, head, len, NULL };
    enum ibb_drop r;

    memcpy(mem + head, pkt, len);
    r = (ib ? ibb_ud_to_roce(&fx->cfg, fx->map, &buf)
         : ibb_roce_to_ud(&fx->cfg, fx->map, &buf));
    assert_true((unsigned) r < IBB_DROP_N_REASONS);
    assert_true(buf.ofs + buf.len <= buf.size);
    free(mem);
}

static void
test_fuzz(void **state)
{
    struct fix *fx = *state;
    uint8_t seeds[6][512], pkt[512];
    size_t lens[6];
    bool is_ib[6] = { true, true, true, false, false, false };
    uint32_t rnd = 12345;
    struct tp_ib b;
    struct tp_roce r;

    default_ib(&b, "::ffff:10.0.0.2");
    lens[0] = tp_build_ib(&b, seeds[0]);
    default_ib(&b, "fd00::2");
    lens[1] = tp_build_ib(&b, seeds[1]);
    default_ib(&b, "::");
    b.grh = false;
    b.dlid = 7;
    lens[2] = tp_build_ib(&b, seeds[2]);
    default_roce(&r, true, "10.0.0.1");
    lens[3] = tp_build_roce(&r, seeds[3]);
    default_roce(&r, false, "fd00::1");
    lens[4] = tp_build_roce(&r, seeds[4]);
    default_roce(&r, true, "239.1.1.1");
    r.vlan = true;
    lens[5] = tp_build_roce(&r, seeds[5]);

    fx->cfg.check_udp_csum = true;
    for (int s = 0; s < 6; s++) {
        /* Every truncation, with no room around. */
        for (size_t l = 0; l <= lens[s]; l++) {
            fuzz_one(fx, seeds[s], l, is_ib[s], 0, 0);
            fuzz_one(fx, seeds[s], l, is_ib[s], IBB_CONV_HEADROOM,
                     IBB_CONV_TAILROOM);
        }
        /* Random byte mutations, some of them with fixed-up CRCs so they
         * get past the checks. */
        for (int n = 0; n < 3000; n++) {
            size_t len = lens[s];
            int k;

            memcpy(pkt, seeds[s], len);
            for (k = 0; k < 1 + n % 4; k++) {
                rnd = rnd * 1103515245 + 12345;
                pkt[(rnd >> 8) % len] = rnd >> 20;
            }
            if (n & 1) {
                if (is_ib[s]) {
                    if ((pkt[1] & 3) >= 2 && len >= 8 + 12 + 6) {
                        tp_fix_vcrc(pkt, len);
                    }
                } else if (len > 60 && (pkt[14] >> 4 == 4 || pkt[14] >> 4 == 6)
                           && (pkt[14] >> 4 != 4 || (pkt[14] & 0xf) == 5)) {
                    tp_fix_roce(pkt, len);
                }
            }
            rnd = rnd * 1103515245 + 12345;
            len -= (rnd >> 16) % 8 == 0 ? (rnd >> 4) % len : 0;
            fuzz_one(fx, pkt, len, is_ib[s], IBB_CONV_HEADROOM,
                     IBB_CONV_TAILROOM);
        }
    }
}

/* IB -> RoCE of 'b' (built into 'pkt'): returns the drop reason, and on
 * success leaves the frame in '*buf'. */
static enum ibb_drop
u2r(struct fix *fx, const struct tp_ib *b, struct ibb_buf *buf)
{
    uint8_t pkt[256];
    size_t len = tp_build_ib(b, pkt);

    *buf = put(fx, pkt, len);
    return ibb_ud_to_roce(&fx->cfg, fx->map, buf);
}

/* RoCE -> IB of 'r', as u2r(). */
static enum ibb_drop
r2u(struct fix *fx, const struct tp_roce *r, struct ibb_buf *buf)
{
    uint8_t pkt[256];
    size_t len = tp_build_roce(r, pkt);

    *buf = put(fx, pkt, len);
    return ibb_roce_to_ud(&fx->cfg, fx->map, buf);
}

/* The flow cache answers a flow's later packets, and forgets what a
 * change to the map or to the port's GID or P_Key makes wrong. */
static void
test_flow_cache(void **state)
{
    struct fix *fx = *state;
    struct ibb_flow_cache *fc = fx->cfg.flows;
    const struct ibb_group *grp;
    uint8_t ip[16], mgid[16];
    struct ibb_buf buf;
    struct tp_roce r;
    struct tp_ib b;
    uint64_t hits;

    /* IB host A -> RoCE host 10.0.0.9, whose MAC nobody knows yet: the
     * drop is kept, and learning the MAC ends it. */
    default_ib(&b, "::ffff:10.0.0.9");
    assert_int_equal(u2r(fx, &b, &buf), IBB_DROP_NO_DST_MAC);
    hits = fc->hits;
    assert_int_equal(u2r(fx, &b, &buf), IBB_DROP_NO_DST_MAC);
    assert_true(fc->hits == hits + 1);
    gid("10.0.0.9", ip);
    assert_int_equal(ibb_addr_map_learn_mac(fx->map, ip,
                                            (const uint8_t *)
                                            "\x02\0\0\0\0\x09", 1000,
                                            100), 0);
    assert_int_equal(u2r(fx, &b, &buf), 0);
    assert_memory_equal(ibb_buf_data(&buf), "\x02\0\0\0\0\x09", 6);
    hits = fc->hits;
    assert_int_equal(u2r(fx, &b, &buf), 0);
    assert_true(fc->hits == hits + 1);
    assert_memory_equal(ibb_buf_data(&buf), "\x02\0\0\0\0\x09", 6);

    /* The host moves: its next frame goes to the new MAC. */
    assert_int_equal(ibb_addr_map_learn_mac(fx->map, ip,
                                            (const uint8_t *)
                                            "\x02\0\0\0\0\x19", 2000,
                                            100), 0);
    assert_int_equal(u2r(fx, &b, &buf), 0);
    assert_memory_equal(ibb_buf_data(&buf), "\x02\0\0\0\0\x19", 6);

    /* It goes away. */
    assert_int_equal(ibb_addr_map_del_ip(fx->map, ip), 0);
    assert_int_equal(u2r(fx, &b, &buf), IBB_DROP_NO_DST_MAC);

    /* An IB host's source LID that the map changes. */
    default_ib(&b, "::ffff:10.0.0.2");
    assert_int_equal(u2r(fx, &b, &buf), 0);
    b.slid = 9;
    assert_int_equal(u2r(fx, &b, &buf), IBB_DROP_SRC_MISMATCH);

    /* A group handed to another bridge node and back, both ways; the
     * MLID a new join gives. */
    default_ib(&b, "ff12:401b:ffff::f01:101");
    b.tr.dqpn = 0xffffff;
    default_roce(&r, true, "239.1.1.1");
    r.tr.dqpn = 0xffffff;
    assert_int_equal(u2r(fx, &b, &buf), 0);
    assert_int_equal(r2u(fx, &r, &buf), 0);
    gid("239.1.1.1", ip);
    grp = ibb_addr_map_find_group_ip(fx->map, ip);
    memcpy(mgid, grp->mgid, 16);
    assert_int_equal(ibb_addr_map_set_group_standby(fx->map, mgid, true), 0);
    assert_int_equal(u2r(fx, &b, &buf), IBB_DROP_NOT_OWNER);
    assert_int_equal(r2u(fx, &r, &buf), IBB_DROP_NOT_OWNER);
    assert_int_equal(ibb_addr_map_set_group_standby(fx->map, mgid, false),
                     0);
    assert_int_equal(ibb_addr_map_set_group_mlid(fx->map, mgid, 0), 0);
    assert_int_equal(u2r(fx, &b, &buf), 0);
    assert_int_equal(r2u(fx, &r, &buf), IBB_DROP_GROUP_JOINING);
    assert_int_equal(ibb_addr_map_set_group_mlid(fx->map, mgid, 0xc0aa), 0);
    assert_int_equal(r2u(fx, &r, &buf), 0);
    assert_int_equal((ibb_buf_data(&buf)[2] << 8) | ibb_buf_data(&buf)[3],
                     0xc0aa);

    /* A RoCE host's address that the map gives to an IB host later. */
    default_roce(&r, true, "10.0.0.1");
    gid("10.0.0.12", r.sip);
    assert_int_equal(ibb_addr_map_learn_arp(fx->map, r.sip,
                                            (const uint8_t *)
                                            "\x02\0\0\0\0\x0c", 3000,
                                            100), 0);
    assert_int_equal(r2u(fx, &r, &buf), 0);
    assert_int_equal(ibb_addr_map_del_ip(fx->map, r.sip), 0);
    assert_int_equal(ibb_addr_map_learn_ib(fx->map, r.sip,
                                           (const uint8_t *)
                                           "\xfe\x80\0\0\0\0\0\0"
                                           "\0\x02\xc9\x03\0\x0a\0\x0e",
                                           14, 0, IBB_HOST_KERNEL, 0, 0), 0);
    assert_int_equal(r2u(fx, &r, &buf), IBB_DROP_SPOOFED_SRC);

    /* The port's GID: a source with its subnet prefix has no IP unless
     * the map gives it one. */
    default_ib(&b, "fd00::6");
    gid("fd77::5", b.sgid);
    assert_int_equal(u2r(fx, &b, &buf), 0);
    gid("fd77::1", fx->cfg.bridge_gid);
    assert_int_equal(u2r(fx, &b, &buf), IBB_DROP_NO_SRC_IP);
    gid("fe80::2:c903:0:1", fx->cfg.bridge_gid);

    /* The port's P_Key: an IPv4 group no map has, named by its MGID,
     * crosses only in the port's partition. */
    default_ib(&b, "ff12:401b:ffff::f07:809");
    b.tr.dqpn = 0xffffff;
    b.tr.pkey = 0x8001;
    assert_int_equal(u2r(fx, &b, &buf), 0);
    fx->cfg.pkey = 0x8001;
    assert_int_equal(u2r(fx, &b, &buf), IBB_DROP_NO_GROUP);
    fx->cfg.pkey = 0;

    /* More flows than entries, twice over: each packet gets its own
     * source, whichever flow had its entry before. */
    default_ib(&b, "::ffff:10.0.1.6");
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3000; i++) {
            char s[32];

            snprintf(s, sizeof s, "::ffff:10.9.%d.%d", i >> 8, i & 0xff);
            gid(s, b.sgid);
            b.slid = 100 + i;
            assert_int_equal(u2r(fx, &b, &buf), 0);
            assert_memory_equal(ibb_buf_data(&buf) + 14 + 12, b.sgid + 12,
                                4);
        }
    }
    assert_true(fc->hits > 0 && fc->misses > 3000);
}

/* Every converter test, with setup SETUP. */
#define CONV_TESTS(SETUP)                                                  \
    cmocka_unit_test_setup_teardown(test_ib_to_roce_v4, SETUP, teardown),  \
    cmocka_unit_test_setup_teardown(test_ib_to_roce_v6, SETUP, teardown),  \
    cmocka_unit_test_setup_teardown(test_roce_to_ib_v4, SETUP, teardown),  \
    cmocka_unit_test_setup_teardown(test_roce_to_ib_v6, SETUP, teardown),  \
    cmocka_unit_test_setup_teardown(test_roce_to_ib_vlan, SETUP, teardown),\
    cmocka_unit_test_setup_teardown(test_roce_to_ib_scapy, SETUP,          \
                                    teardown),                             \
    cmocka_unit_test_setup_teardown(test_round_trip, SETUP, teardown),     \
    cmocka_unit_test_setup_teardown(test_dscp_map, SETUP, teardown),       \
    cmocka_unit_test_setup_teardown(test_ecn, SETUP, teardown),            \
    cmocka_unit_test_setup_teardown(test_proxy, SETUP, teardown),          \
    cmocka_unit_test_setup_teardown(test_multicast, SETUP, teardown),      \
    cmocka_unit_test_setup_teardown(test_no_grh, SETUP, teardown),         \
    cmocka_unit_test_setup_teardown(test_reported, SETUP, teardown),       \
    cmocka_unit_test_setup_teardown(test_drop_reasons, SETUP, teardown),   \
    cmocka_unit_test_setup_teardown(test_check_flags, SETUP, teardown),    \
    cmocka_unit_test_setup_teardown(test_fuzz, SETUP, teardown)

int
main(void)
{
    /* The same tests without and with a flow cache (setup_cached()). */
    const struct CMUnitTest tests[] = { CONV_TESTS(setup) };
    const struct CMUnitTest cached[] = {
        CONV_TESTS(setup_cached),
        cmocka_unit_test_setup_teardown(test_flow_cache, setup_cached,
                                        teardown),
    };

    return (cmocka_run_group_tests_name("conv", tests, NULL, NULL)
            | cmocka_run_group_tests_name("conv with a flow cache", cached,
                                          NULL, NULL));
}
