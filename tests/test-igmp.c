/*
 * Unit tests for lib/ibb-igmp.c (IGMP and MLD messages) and
 * lib/ibb-igmp-host.c (the host's timers).
 *
 * Expected messages were built with scapy (IP with the Router Alert
 * option, IGMP, IGMPv3/IGMPv3mr/IGMPv3gr; IPv6, IPv6ExtHdrHopByHop with
 * RouterAlert and PadN, ICMPv6MLReport, ICMPv6MLDone, ICMPv6MLReport2);
 * queries with tests/igmp-tool.py, also scapy.  The builder must match
 * byte for byte.
 */
#include <config.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ib-gid.h"
#include "ibb-igmp.h"
#include "ibb-igmp-host.h"
#include "test-pkt.h"

static const uint8_t bridge_mac[6] = { 0x02, 0x1b, 0, 0, 0, 0x01 };

static void
ip(const char *s, uint8_t out[16])
{
    assert_int_equal(ibb_gid_parse(s, out), 0);
}

static void
source(struct ibb_igmp_source *src, const char *ipv4)
{
    uint8_t a[16];

    memcpy(src->mac, bridge_mac, 6);
    ip(ipv4, a);
    memcpy(src->ipv4, a + 12, 4);
    ibb_igmp_link_local(bridge_mac, src->ipv6);
}

/* Builds a message and compares it with 'expect_hex'. */
static void
check_build(const char *ipv4, int level, enum ibb_igmp_msg_kind kind,
            const char *const groups[], const enum ibb_igmp_record_type *t,
            size_t n, const char *expect_hex)
{
    uint8_t frame[IBB_IGMP_FRAME_MAX], expect[IBB_IGMP_FRAME_MAX];
    struct ibb_igmp_record recs[4];
    struct ibb_igmp_source src;
    size_t len, expect_len;

    source(&src, ipv4);
    memset(recs, 0, sizeof recs);
    for (size_t i = 0; i < n; i++) {
        recs[i].type = t ? t[i] : IBB_IGMP_IS_EX;
        ip(groups[i], recs[i].group);
    }
    expect_len = tp_unhex(expect_hex, expect);
    len = ibb_igmp_build(&src, level, kind, recs, n, frame);
    assert_int_equal(len, expect_len);
    assert_memory_equal(frame, expect, len);
}

static void
test_build(void **state)
{
    static const char *const g1[] = { "239.1.1.1", "239.2.2.2" };
    static const char *const g6[] = { "ff0e::1:2", "ff05::3" };
    static const enum ibb_igmp_record_type to_ex[] = {
        IBB_IGMP_TO_EX, IBB_IGMP_TO_EX };
    static const enum ibb_igmp_record_type to_in[] = { IBB_IGMP_TO_IN };
    static const enum ibb_igmp_record_type is_ex[] = {
        IBB_IGMP_IS_EX, IBB_IGMP_IS_EX };
    struct ibb_igmp_record mixed[2];
    uint8_t frame[IBB_IGMP_FRAME_MAX];
    struct ibb_igmp_source src;

    (void) state;
    check_build("0.0.0.0", 3, IBB_IGMP_V3_REPORT, g1, to_ex, 2,
                "01005e000016021b00000001080046c0003000004000010203f20000"
                "0000e0000016940400002200f4f50000000204000000ef0101010400"
                "0000ef020202");
    check_build("10.0.0.9", 3, IBB_IGMP_V3_REPORT, g1, to_in, 1,
                "01005e000016021b00000001080046c00028000040000102f9f00a00"
                "0009e0000016940400002200eafb0000000103000000ef0101010000"
                "00000000");
    check_build("10.0.0.9", 2, IBB_IGMP_REPORT, g1, NULL, 1,
                "01005e010101021b00000001080046c00020000040000102ea0c0a00"
                "0009ef010101940400001600f9fcef01010100000000000000000000"
                "00000000");
    check_build("10.0.0.9", 1, IBB_IGMP_REPORT, g1, NULL, 1,
                "01005e010101021b00000001080046c00020000040000102ea0c0a00"
                "0009ef010101940400001200fdfcef01010100000000000000000000"
                "00000000");
    check_build("10.0.0.9", 2, IBB_IGMP_LEAVE, g1, NULL, 1,
                "01005e000002021b00000001080046c00020000040000102fa0c0a00"
                "0009e0000002940400001700f8fcef01010100000000000000000000"
                "00000000");
    check_build("0.0.0.0", 3, IBB_IGMP_V3_REPORT, g6, to_ex, 1,
                "333300000016021b0000000186dd6000000000240001fe8000000000"
                "0000001b00fffe000001ff0200000000000000000000000000163a00"
                "0502000001008f0070e00000000104000000ff0e0000000000000000"
                "000000010002");
    check_build("0.0.0.0", 3, IBB_IGMP_V3_REPORT, g6, is_ex, 2,
                "333300000016021b0000000186dd6000000000380001fe8000000000"
                "0000001b00fffe000001ff0200000000000000000000000000163a00"
                "0502000001008f0071c20000000202000000ff0e0000000000000000"
                "00000001000202000000ff050000000000000000000000000003");
    check_build("0.0.0.0", 2, IBB_IGMP_REPORT, g6, NULL, 1,
                "333300010002021b0000000186dd6000000000200001fe8000000000"
                "0000001b00fffe000001ff0e00000000000000000000000100023a00"
                "050200000100830080ec00000000ff0e000000000000000000000001"
                "0002");
    check_build("0.0.0.0", 2, IBB_IGMP_LEAVE, g6, NULL, 1,
                "333300000002021b0000000186dd6000000000200001fe8000000000"
                "0000001b00fffe000001ff0200000000000000000000000000023a00"
                "05020000010084007ff900000000ff0e000000000000000000000001"
                "0002");

    /* What makes no message. */
    source(&src, "0.0.0.0");
    memset(mixed, 0, sizeof mixed);
    ip("239.1.1.1", mixed[0].group);
    ip("ff0e::1", mixed[1].group);
    mixed[0].type = mixed[1].type = IBB_IGMP_IS_EX;
    assert_int_equal(ibb_igmp_build(&src, 3, IBB_IGMP_V3_REPORT, mixed, 2,
                                    frame), 0);
    assert_int_equal(ibb_igmp_build(&src, 1, IBB_IGMP_LEAVE, mixed, 1,
                                    frame), 0);
    assert_int_equal(ibb_igmp_build(&src, 1, IBB_IGMP_REPORT, mixed + 1, 1,
                                    frame), 0);
    assert_int_equal(ibb_igmp_build(&src, 3, IBB_IGMP_V3_REPORT, mixed, 0,
                                    frame), 0);
    ip("10.0.0.1", mixed[0].group);
    assert_int_equal(ibb_igmp_build(&src, 2, IBB_IGMP_REPORT, mixed, 1,
                                    frame), 0);
}

/* Records with sources: IS_IN(10.9.9.9, 10.8.8.8) for 239.1.1.1 beside
 * IS_EX({}) for 239.2.2.2, and IS_IN(fd00::9) for ff0e::1:2 (scapy:
 * IGMPv3gr with srcaddrs, ICMPv6MLDMultAddrRec with sources). */
static void
test_build_sources(void **state)
{
    uint8_t frame[IBB_IGMP_FRAME_MAX], expect[IBB_IGMP_FRAME_MAX];
    static uint8_t many[IBB_IGMP_V3_MAX_SOURCES4 + 1][16];
    struct ibb_igmp_record recs[2];
    struct ibb_igmp_source src;
    uint8_t s4[2][16], s6[1][16];
    size_t len;

    (void) state;
    source(&src, "0.0.0.0");
    memset(recs, 0, sizeof recs);
    recs[0].type = IBB_IGMP_IS_IN;
    ip("239.1.1.1", recs[0].group);
    ip("10.9.9.9", s4[0]);
    ip("10.8.8.8", s4[1]);
    recs[0].sources = (const uint8_t (*)[16]) s4;
    recs[0].n_sources = 2;
    recs[1].type = IBB_IGMP_IS_EX;
    ip("239.2.2.2", recs[1].group);
    len = ibb_igmp_build(&src, 3, IBB_IGMP_V3_REPORT, recs, 2, frame);
    assert_int_equal(len, tp_unhex(
        "01005e000016021b00000001080046c0003800004000010203ea00000000e0000016"
        "940400002200d4d10000000201000002ef0101010a0909090a08080802000000ef02"
        "0202", expect));
    assert_memory_equal(frame, expect, len);

    memset(recs, 0, sizeof recs);
    recs[0].type = IBB_IGMP_IS_IN;
    ip("ff0e::1:2", recs[0].group);
    ip("fd00::9", s6[0]);
    recs[0].sources = (const uint8_t (*)[16]) s6;
    recs[0].n_sources = 1;
    len = ibb_igmp_build(&src, 3, IBB_IGMP_V3_REPORT, recs, 1, frame);
    assert_int_equal(len, tp_unhex(
        "333300000016021b0000000186dd6000000000340001fe80000000000000001b00ff"
        "fe000001ff0200000000000000000000000000163a000502000001008f0076c50000"
        "000101000001ff0e0000000000000000000000010002fd0000000000000000000000"
        "00000009", expect));
    assert_memory_equal(frame, expect, len);

    assert_int_equal(ibb_igmp_v3_record_len(false, 2), 16);
    assert_int_equal(ibb_igmp_v3_record_len(true, 2), 52);

    /* As many sources as a report holds, one more, a source of the other
     * family, two records that do not fit together. */
    for (size_t i = 0; i < IBB_IGMP_V3_MAX_SOURCES4 + 1; i++) {
        uint8_t a[4] = { 10, 1, i >> 8, i };

        ibb_gid_from_ipv4(many[i], a);
    }
    memset(recs, 0, sizeof recs);
    recs[0].type = IBB_IGMP_IS_IN;
    ip("239.1.1.1", recs[0].group);
    recs[0].sources = (const uint8_t (*)[16]) many;
    recs[0].n_sources = IBB_IGMP_V3_MAX_SOURCES4;
    len = ibb_igmp_build(&src, 3, IBB_IGMP_V3_REPORT, recs, 1, frame);
    assert_int_equal(len, 14 + 1500);
    recs[0].n_sources++;
    assert_int_equal(ibb_igmp_build(&src, 3, IBB_IGMP_V3_REPORT, recs, 1,
                                    frame), 0);
    recs[0].n_sources = 1;
    recs[0].sources = (const uint8_t (*)[16]) s6;
    assert_int_equal(ibb_igmp_build(&src, 3, IBB_IGMP_V3_REPORT, recs, 1,
                                    frame), 0);
    recs[0].sources = (const uint8_t (*)[16]) many;
    recs[0].n_sources = IBB_IGMP_V3_MAX_SOURCES4 - 1;
    recs[1] = recs[0];
    recs[1].n_sources = 1;
    assert_int_equal(ibb_igmp_build(&src, 3, IBB_IGMP_V3_REPORT, recs, 2,
                                    frame), 0);
}

static enum ibb_igmp_parse_result
parse_hex(const char *hex, struct ibb_igmp_query *q)
{
    uint8_t frame[256];
    size_t len = tp_unhex(hex, frame);

    return ibb_igmp_parse(frame, len, q);
}

/* Address 's' in lib/ib-gid.h form, in a static buffer. */
static const uint8_t *
addr16(const char *s)
{
    static uint8_t a[16];

    ip(s, a);
    return a;
}

static void
test_parse(void **state)
{
    struct ibb_igmp_query q;
    uint8_t g[16];

    (void) state;
    /* IGMPv3 general query, Max Resp Code 100 (10 s). */
    assert_int_equal(parse_hex(
        "01005e000001020000000002080046c0002400010000010239140a0000fee0000001"
        "940400001164ec1e00000000027d0000", &q), IBB_IGMP_QUERY);
    assert_false(q.ipv6);
    assert_int_equal(q.level, 3);
    assert_true(ibb_ip_is_unspecified(q.group));
    assert_int_equal(q.max_resp_ms, 10000);
    assert_int_equal(q.qrv, 2);
    assert_int_equal(q.qqi_s, 125);

    /* IGMPv2 group query, 5 s. */
    assert_int_equal(parse_hex(
        "01005e010101020000000002080046c0002000010000010229170a0000feef010101"
        "940400001132fecaef010101", &q), IBB_IGMP_QUERY);
    assert_int_equal(q.level, 2);
    ip("239.1.1.1", g);
    assert_memory_equal(q.group, g, 16);
    assert_int_equal(q.max_resp_ms, 5000);

    /* IGMPv1 query: 10 s. */
    assert_int_equal(parse_hex(
        "01005e000001020000000002080046c0002000010000010239180a0000fee0000001"
        "940400001100eeff00000000", &q), IBB_IGMP_QUERY);
    assert_int_equal(q.level, 1);
    assert_int_equal(q.max_resp_ms, 10000);

    /* IGMPv3 group-and-source query, exponential codes (200: 307.2 s),
     * QRV 3, QQIC 60. */
    assert_int_equal(parse_hex(
        "01005e010101020000000002080046c0002c000100000102290b0a0000feef010101"
        "9404000011c8e4f1ef010101033c00020a0101010a010102", &q),
        IBB_IGMP_QUERY);
    assert_int_equal(q.level, 3);
    assert_int_equal(q.max_resp_ms, 307200);
    assert_int_equal(q.qrv, 3);
    assert_int_equal(q.qqi_s, 60);
    assert_int_equal(q.n_sources, 2);
    ibb_igmp_query_source(&q, 0, g);
    assert_memory_equal(g, addr16("10.1.1.1"), 16);
    ibb_igmp_query_source(&q, 1, g);
    assert_memory_equal(g, addr16("10.1.1.2"), 16);

    /* QQIC 200: 3072 s. */
    assert_int_equal(parse_hex(
        "01005e000001020000000002080046c0002400010000010239140a0000fee0000001"
        "9404000011c8eb6f0000000002c80000", &q), IBB_IGMP_QUERY);
    assert_int_equal(q.qqi_s, 3072);

    /* MLDv2 general query, 2 s; MLDv1 group query, 1.5 s. */
    assert_int_equal(parse_hex(
        "33330000000102000000000286dd6000000000240001fe8000000000000000000000"
        "00000001ff0200000000000000000000000000013a000502000001008200785307d0"
        "00000000000000000000000000000000000000000000", &q), IBB_IGMP_QUERY);
    assert_true(q.ipv6);
    assert_int_equal(q.level, 3);
    assert_int_equal(q.max_resp_ms, 2000);
    assert_true(ibb_ip_is_unspecified(q.group));
    assert_int_equal(parse_hex(
        "33330001000202000000000286dd6000000000200001fe8000000000000000000000"
        "00000001ff0e00000000000000000000000100023a0005020000010082007b2b05dc"
        "0000ff0e0000000000000000000000010002", &q), IBB_IGMP_QUERY);
    assert_int_equal(q.level, 2);
    assert_int_equal(q.max_resp_ms, 1500);
    ip("ff0e::1:2", g);
    assert_memory_equal(q.group, g, 16);

    /* MLDv2 group-and-source query for ff0e::1:2, sources fd00::9 and
     * fd00::a. */
    assert_int_equal(parse_hex(
        "33330001000202000000000286dd6000000000440001fe8000000000000000000000"
        "00000001ff0e00000000000000000000000100023a00050200000100820082e403e8"
        "0000ff0e000000000000000000000001000200000002fd0000000000000000000000"
        "00000009fd00000000000000000000000000000a", &q), IBB_IGMP_QUERY);
    assert_true(q.ipv6);
    assert_int_equal(q.level, 3);
    assert_int_equal(q.n_sources, 2);
    ibb_igmp_query_source(&q, 1, g);
    assert_memory_equal(g, addr16("fd00::a"), 16);

    /* Bad checksum, TTL 2, IGMP length 9. */
    assert_int_equal(parse_hex(
        "01005e000001020000000002080046c0002400010000010239140a0000fee0000001"
        "94040000110ab92d00000000027d0000", &q), IBB_IGMP_MALFORMED);
    assert_int_equal(parse_hex(
        "01005e000001020000000002080046c0002400010000020238140a0000fee0000001"
        "94040000110aec7800000000027d0000", &q), IBB_IGMP_MALFORMED);
    assert_int_equal(parse_hex(
        "01005e000001020000000002080046c0002100010000010239170a0000fee0000001"
        "94040000110aecf50000000002", &q), IBB_IGMP_MALFORMED);
    /* MLD from a global address, with hop limit 255, of 26 bytes. */
    assert_int_equal(parse_hex(
        "33330000000102000000000286dd6000000000240001fd0000000000000000000000"
        "00000009ff0200000000000000000000000000013a0005020000010082007db303e8"
        "00000000000000000000000000000000000000000000", &q),
        IBB_IGMP_MALFORMED);
    assert_int_equal(parse_hex(
        "33330000000102000000000286dd60000000002400fffe8000000000000000000000"
        "00000001ff0200000000000000000000000000013a0005020000010082007c3b03e8"
        "00000000000000000000000000000000000000000000", &q),
        IBB_IGMP_MALFORMED);
    assert_int_equal(parse_hex(
        "33330000000102000000000286dd6000000000220001fe8000000000000000000000"
        "00000001ff0200000000000000000000000000013a0005020000010082007c3d03e8"
        "0000000000000000000000000000000000000000", &q), IBB_IGMP_MALFORMED);
    /* Another host's IGMPv2 report. */
    assert_int_equal(parse_hex(
        "01005e050505020000000002080046c00020000100000102250f0a0000feef050505"
        "940400001600f5f4ef050505", &q), IBB_IGMP_OTHER);
    /* Another host's MLDv2 report without records. */
    assert_int_equal(parse_hex(
        "33330000001602000000000286dd6000000000100001fe8000000000000000000000"
        "00000002ff0200000000000000000000000000163a000502000001008f0073210000"
        "0000", &q), IBB_IGMP_OTHER);
    /* Not IGMP: ARP, and a truncated frame. */
    assert_int_equal(parse_hex(
        "ffffffffffff020000000002080600010800060400010200000000020a000002"
        "0000000000000a000001", &q), IBB_IGMP_NOT_IGMP);
    assert_int_equal(parse_hex("01005e000001", &q), IBB_IGMP_NOT_IGMP);
}

/* What the host emitted, in order. */
struct sent {
    size_t n;
    enum ibb_igmp_sent what[64];
    uint8_t type[64];           /* IGMP/ICMPv6 type. */
    uint8_t rtype[64];          /* First record's type (v3), else 0. */
    size_t n_recs[64];
};

static void
record(const uint8_t *frame, size_t len, enum ibb_igmp_sent what, void *s_)
{
    struct sent *s = s_;
    bool v6 = frame[12] == 0x86;
    const uint8_t *msg = frame + 14 + (v6 ? 48 : 24);

    assert_true(len >= 60);
    assert_true(s->n < 64);
    s->what[s->n] = what;
    s->type[s->n] = msg[0];
    s->rtype[s->n] = msg[0] == 0x22 || msg[0] == 143 ? msg[8] : 0;
    s->n_recs[s->n] = msg[0] == 0x22 || msg[0] == 143
                      ? (msg[6] << 8 | msg[7]) : 1;
    s->n++;
}

static struct ibb_igmp_host *
host_with(int igmp_level, const char *const groups[], size_t n)
{
    struct ibb_igmp_host_config c;
    struct ibb_igmp_host *h;
    uint8_t g[16];

    memset(&c, 0, sizeof c);
    c.igmp_level = igmp_level;
    c.mld_level = 3;
    source(&c.src, "0.0.0.0");
    h = ibb_igmp_host_create(&c, 42);
    assert_non_null(h);
    ibb_igmp_host_begin_update(h);
    for (size_t i = 0; i < n; i++) {
        ip(groups[i], g);
        assert_int_equal(ibb_igmp_host_want(h, g, 0), 0);
    }
    ibb_igmp_host_end_update(h, 0);
    return h;
}

/* Runs 'h' at every deadline up to 'until'; returns the last time run. */
static long long int
run_until(struct ibb_igmp_host *h, long long int until, struct sent *s)
{
    long long int t = 0, next;

    while ((next = ibb_igmp_host_next(h)) <= until) {
        t = next;
        ibb_igmp_host_run(h, t, record, s);
    }
    return t;
}

static void
test_host_v3(void **state)
{
    static const char *const groups[] = { "239.1.1.1", "239.2.2.2",
                                          "ff0e::1" };
    struct ibb_igmp_host *h = host_with(3, groups, 3);
    struct ibb_igmp_query q;
    struct sent s = { 0 };
    long long int t;

    (void) state;
    assert_int_equal(ibb_igmp_host_n_groups(h), 3);
    /* At once: one IGMPv3 report with both groups, one MLDv2 report. */
    assert_int_equal(ibb_igmp_host_next(h), 0);
    ibb_igmp_host_run(h, 0, record, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.type[0], 0x22);
    assert_int_equal(s.n_recs[0], 2);
    assert_int_equal(s.rtype[0], IBB_IGMP_TO_EX);
    assert_int_equal(s.type[1], 143);
    assert_int_equal(s.what[0], IBB_IGMP_SENT_REPORT);
    /* Then each once more within 1 s, and nothing after. */
    t = run_until(h, 5000, &s);
    assert_true(t > 0 && t <= 1000);
    assert_true(s.n >= 4 && s.n <= 5);
    assert_int_equal(ibb_igmp_host_next(h), LLONG_MAX);

    /* A general query: one answer of IS_EX records within Max Resp. */
    memset(&q, 0, sizeof q);
    q.level = 3;
    q.max_resp_ms = 2000;
    q.qrv = 2;
    q.qqi_s = 125;
    s.n = 0;
    assert_true(ibb_igmp_host_query(h, &q, 10000));
    /* A group query while the general answer is pending: covered if that
     * goes sooner than the delay drawn, else answered on its own first
     * (RFC 3376 5.2 rule 1). */
    ip("239.1.1.1", q.group);
    assert_true(ibb_igmp_host_query(h, &q, 10000));
    /* A query for a group the host does not have. */
    ip("239.3.3.3", q.group);
    assert_false(ibb_igmp_host_query(h, &q, 10000));
    t = run_until(h, 20000, &s);
    assert_true(t >= 10000 && t <= 12000);
    assert_true(s.n == 1 || s.n == 2);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.what[i], IBB_IGMP_SENT_ANSWER);
        assert_int_equal(s.rtype[i], IBB_IGMP_IS_EX);
        assert_int_equal(s.n_recs[i], i + 1 == s.n ? 2 : 1);
    }

    /* 239.2.2.2 and ff0e::1 go: TO_IN({}) twice each. */
    s.n = 0;
    ibb_igmp_host_begin_update(h);
    ip("239.1.1.1", q.group);
    ibb_igmp_host_want(h, q.group, 30000);
    ibb_igmp_host_end_update(h, 30000);
    assert_int_equal(ibb_igmp_host_n_groups(h), 1);
    run_until(h, 40000, &s);
    assert_int_equal(s.n, 4);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.what[i], IBB_IGMP_SENT_LEAVE);
        assert_int_equal(s.rtype[i], IBB_IGMP_TO_IN);
    }
    ibb_igmp_host_destroy(h);
}

static void
test_host_compat(void **state)
{
    static const char *const groups[] = { "239.1.1.1", "239.2.2.2" };
    struct ibb_igmp_host *h = host_with(3, groups, 2);
    struct ibb_igmp_query q;
    struct sent s = { 0 };
    uint8_t g[16];

    (void) state;
    run_until(h, 5000, &s);
    s.n = 0;

    /* An IGMPv2 general query: v2 from now on, a report per group. */
    memset(&q, 0, sizeof q);
    q.level = 2;
    q.max_resp_ms = 1000;
    assert_true(ibb_igmp_host_query(h, &q, 10000));
    assert_int_equal(ibb_igmp_host_level(h, false, 10000), 2);
    assert_int_equal(ibb_igmp_host_level(h, true, 10000), 3);
    run_until(h, 12000, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.type[0], 0x16);
    assert_int_equal(s.type[1], 0x16);
    assert_int_equal(s.what[0], IBB_IGMP_SENT_ANSWER);

    /* A group goes: one IGMPv2 leave. */
    s.n = 0;
    ibb_igmp_host_begin_update(h);
    ip("239.1.1.1", g);
    ibb_igmp_host_want(h, g, 20000);
    ibb_igmp_host_end_update(h, 20000);
    run_until(h, 21000, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.type[0], 0x17);
    assert_int_equal(s.what[0], IBB_IGMP_SENT_LEAVE);

    /* The Older Version Querier Present Timeout (2 x 125 s + 1 s) runs
     * out: back to v3. */
    assert_int_equal(ibb_igmp_host_level(h, false, 10000 + 250999), 2);
    assert_int_equal(ibb_igmp_host_level(h, false, 10000 + 251000), 3);

    /* An IGMPv1 query: v1 reports, and no leave. */
    q.level = 1;
    q.max_resp_ms = 10000;
    s.n = 0;
    assert_true(ibb_igmp_host_query(h, &q, 300000));
    run_until(h, 311000, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.type[0], 0x12);
    s.n = 0;
    ibb_igmp_host_begin_update(h);
    ibb_igmp_host_end_update(h, 320000);
    run_until(h, 330000, &s);
    assert_int_equal(s.n, 0);
    assert_int_equal(ibb_igmp_host_n_groups(h), 0);
    ibb_igmp_host_destroy(h);
}

static void
test_host_config_v2(void **state)
{
    static const char *const groups[] = { "239.1.1.1" };
    struct ibb_igmp_host *h = host_with(2, groups, 1);
    struct sent s = { 0 };
    long long int t;

    (void) state;
    /* IGMPv2 configured: a report at once, the second within 10 s. */
    ibb_igmp_host_run(h, 0, record, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.type[0], 0x16);
    t = run_until(h, 20000, &s);
    assert_int_equal(s.n, 2);
    assert_true(t > 0 && t <= 10000);
    ibb_igmp_host_destroy(h);
}

/* Frames the host emitted, whole. */
struct frames {
    size_t n;
    size_t len[8];
    enum ibb_igmp_sent what[8];
    uint8_t f[8][IBB_IGMP_FRAME_MAX];
};

static void
keep_frame(const uint8_t *frame, size_t len, enum ibb_igmp_sent what,
           void *fr_)
{
    struct frames *fr = fr_;

    assert_true(fr->n < 8);
    assert_true(len <= IBB_IGMP_FRAME_MAX);
    memcpy(fr->f[fr->n], frame, len);
    fr->len[fr->n] = len;
    fr->what[fr->n] = what;
    fr->n++;
}

/* Runs 'h' at every deadline up to 'until', keeping what it sends. */
static void
run_keep(struct ibb_igmp_host *h, long long int until, struct frames *fr)
{
    long long int next;

    fr->n = 0;
    while ((next = ibb_igmp_host_next(h)) <= until) {
        ibb_igmp_host_run(h, next, keep_frame, fr);
    }
}

/* Checks that frame 'k' of 'fr' is an answer, an IGMPv3 or MLDv2 report
 * of 'n_recs' records. */
static void
check_report(const struct frames *fr, size_t k, size_t n_recs)
{
    const uint8_t *f = fr->f[k];
    bool v6 = f[12] == 0x86;
    const uint8_t *msg = f + 14 + (v6 ? 48 : 24);

    assert_true(k < fr->n);
    assert_int_equal(fr->what[k], IBB_IGMP_SENT_ANSWER);
    assert_int_equal(msg[0], v6 ? 143 : 0x22);
    assert_int_equal(msg[6] << 8 | msg[7], n_recs);
}

/* Checks record 'i' of the report in frame 'k' of 'fr' field by field:
 * its type, aux data length 0, 'n' sources 'srcs' in that order and group
 * 'group'. */
static void
check_record(const struct frames *fr, size_t k, size_t i,
             enum ibb_igmp_record_type type, const char *group,
             const uint8_t (*srcs)[16], size_t n)
{
    const uint8_t *f = fr->f[k];
    bool v6 = f[12] == 0x86;
    size_t alen = v6 ? 16 : 4;
    const uint8_t *rec = f + 14 + (v6 ? 48 : 24) + 8;
    uint8_t g[16];

    for (size_t j = 0; j < i; j++) {
        rec += 4 + alen + rec[1] * 4 + (rec[2] << 8 | rec[3]) * alen;
    }
    assert_true(rec + 4 + alen + n * alen <= f + fr->len[k]);
    assert_int_equal(rec[0], type);
    assert_int_equal(rec[1], 0);
    assert_int_equal(rec[2] << 8 | rec[3], n);
    ip(group, g);
    assert_memory_equal(rec + 4, v6 ? g : g + 12, alen);
    for (size_t j = 0; j < n; j++) {
        assert_memory_equal(rec + 4 + alen + j * alen,
                            v6 ? srcs[j] : srcs[j] + 12, alen);
    }
}

/* Makes 'q' an IGMPv3 or MLDv2 query for 'group' (NULL: general) with
 * the 'n' sources 'srcs', stored on the wire's way in 'wire'. */
static void
make_query(struct ibb_igmp_query *q, uint8_t *wire, const char *group,
           unsigned int max_ms, const uint8_t (*srcs)[16], size_t n)
{
    memset(q, 0, sizeof *q);
    if (group) {
        ip(group, q->group);
    }
    q->ipv6 = group && !ibb_gid_is_v4mapped(q->group);
    q->level = 3;
    q->max_resp_ms = max_ms;
    q->qrv = 2;
    q->qqi_s = 125;
    q->n_sources = n;
    q->sources = wire;
    for (size_t i = 0; i < n; i++) {
        if (q->ipv6) {
            memcpy(wire + 16 * i, srcs[i], 16);
        } else {
            memcpy(wire + 4 * i, srcs[i] + 12, 4);
        }
    }
}

/* 'n' sources 10.0.Y.Z from 'first' on, or fd00::N. */
static void
make_sources(uint8_t (*srcs)[16], size_t first, size_t n, bool ipv6)
{
    for (size_t i = 0; i < n; i++) {
        size_t x = first + i;

        if (ipv6) {
            char s[32];

            snprintf(s, sizeof s, "fd00::%zx", x + 1);
            ip(s, srcs[i]);
        } else {
            uint8_t a[4] = { 10, 0, x >> 8, x };

            ibb_gid_from_ipv4(srcs[i], a);
        }
    }
}

/* Group-and-source queries under IGMPv3/MLDv2 (RFC 3376 5.2, RFC 3810
 * 6.2, 6.3): the state being EXCLUDE({}), the answer is IS_IN(the sources
 * asked), whose list adds up while the answer is pending. */
static void
test_host_group_source(void **state)
{
    static const char *const groups[] = { "239.1.1.1", "239.2.2.2",
                                          "ff0e::1:2" };
    struct ibb_igmp_host *h = host_with(3, groups, 3);
    static uint8_t srcs[1100][16];
    static uint8_t wire[1100 * 16];
    static struct frames fr;
    struct ibb_igmp_query q;
    long long int now;

    (void) state;
    run_keep(h, 5000, &fr);

    /* Rule 3: answered within Max Resp, IS_IN(S0, S1). */
    now = 10000;
    make_sources(srcs, 0, 2, false);
    make_query(&q, wire, "239.1.1.1", 1000, srcs, 2);
    assert_true(ibb_igmp_host_query(h, &q, now));
    assert_true(ibb_igmp_host_next(h) <= now + 1000);
    run_keep(h, now + 1000, &fr);
    assert_int_equal(fr.n, 1);
    check_report(&fr, 0, 1);
    check_record(&fr, 0, 0, IBB_IGMP_IS_IN, "239.1.1.1", srcs, 2);
    run_keep(h, now + 100000, &fr);
    assert_int_equal(fr.n, 0);

    /* Rule 5: a second query's sources add up, once each: S0, S1, then
     * S2 of the second query (S1 again). */
    now = 200000;
    make_query(&q, wire, "239.1.1.1", 1000, srcs, 2);
    assert_true(ibb_igmp_host_query(h, &q, now));
    make_sources(srcs, 1, 2, false);
    make_query(&q, wire, "239.1.1.1", 1000, srcs, 2);
    assert_true(ibb_igmp_host_query(h, &q, now + 10));
    run_keep(h, now + 1010, &fr);
    assert_int_equal(fr.n, 1);
    check_report(&fr, 0, 1);
    make_sources(srcs, 0, 3, false);
    check_record(&fr, 0, 0, IBB_IGMP_IS_IN, "239.1.1.1", srcs, 3);

    /* Rule 4: a group query after a group-and-source one, or the other
     * way round, makes a group answer, IS_EX({}). */
    now = 300000;
    make_query(&q, wire, "239.1.1.1", 1000, srcs, 1);
    assert_true(ibb_igmp_host_query(h, &q, now));
    make_query(&q, wire, "239.1.1.1", 1000, NULL, 0);
    assert_true(ibb_igmp_host_query(h, &q, now));
    make_query(&q, wire, "239.2.2.2", 1000, NULL, 0);
    assert_true(ibb_igmp_host_query(h, &q, now));
    make_query(&q, wire, "239.2.2.2", 1000, srcs, 1);
    assert_true(ibb_igmp_host_query(h, &q, now));
    run_keep(h, now + 1000, &fr);
    assert_true(fr.n == 1 || fr.n == 2);
    for (size_t k = 0; k < fr.n; k++) {
        const uint8_t *rec = fr.f[k] + 14 + 24 + 8;

        check_report(&fr, k, 3 - fr.n);
        for (size_t i = 0; i < 3 - fr.n; i++, rec += 8) {
            check_record(&fr, k, i, IBB_IGMP_IS_EX,
                         rec[7] == 1 ? "239.1.1.1" : "239.2.2.2", NULL, 0);
        }
    }

    /* Rule 1: a general answer due sooner covers a group-and-source
     * query; and one going first answers a pending one, IS_EX({}). */
    now = 400000;
    make_query(&q, wire, NULL, 0, NULL, 0);
    assert_true(ibb_igmp_host_query(h, &q, now));
    make_query(&q, wire, "239.1.1.1", 1000, srcs, 1);
    assert_true(ibb_igmp_host_query(h, &q, now));
    run_keep(h, now + 100000, &fr);
    assert_int_equal(fr.n, 1);
    check_report(&fr, 0, 2);
    check_record(&fr, 0, 0, IBB_IGMP_IS_EX,
                 fr.f[0][14 + 24 + 8 + 7] == 1 ? "239.1.1.1" : "239.2.2.2",
                 NULL, 0);
    now = 600000;
    make_query(&q, wire, "239.1.1.1", 1000, srcs, 1);
    assert_true(ibb_igmp_host_query(h, &q, now));
    make_query(&q, wire, NULL, 0, NULL, 0);
    assert_true(ibb_igmp_host_query(h, &q, now));
    run_keep(h, now + 100000, &fr);
    assert_int_equal(fr.n, 1);
    check_report(&fr, 0, 2);
    check_record(&fr, 0, 1, IBB_IGMP_IS_EX,
                 fr.f[0][14 + 24 + 8 + 8 + 7] == 1 ? "239.1.1.1"
                 : "239.2.2.2", NULL, 0);

    /* MLDv2: IS_IN(fd00::1, fd00::2). */
    now = 700000;
    make_sources(srcs, 0, 2, true);
    make_query(&q, wire, "ff0e::1:2", 1000, srcs, 2);
    assert_true(ibb_igmp_host_query(h, &q, now));
    run_keep(h, now + 1000, &fr);
    assert_int_equal(fr.n, 1);
    check_report(&fr, 0, 1);
    check_record(&fr, 0, 0, IBB_IGMP_IS_IN, "ff0e::1:2", srcs, 2);

    /* More sources than a report holds: IS_IN split, a report each. */
    now = 800000;
    make_sources(srcs, 0, 400, false);
    make_query(&q, wire, "239.2.2.2", 1000, srcs, 400);
    assert_true(ibb_igmp_host_query(h, &q, now));
    run_keep(h, now + 1000, &fr);
    assert_int_equal(fr.n, 2);
    check_report(&fr, 0, 1);
    check_record(&fr, 0, 0, IBB_IGMP_IS_IN, "239.2.2.2", srcs,
                 IBB_IGMP_V3_MAX_SOURCES4);
    check_report(&fr, 1, 1);
    check_record(&fr, 1, 0, IBB_IGMP_IS_IN, "239.2.2.2",
                 srcs + IBB_IGMP_V3_MAX_SOURCES4,
                 400 - IBB_IGMP_V3_MAX_SOURCES4);

    /* IBB_IGMP_MAX_PENDING_SOURCES sources are kept; one more makes a
     * group answer. */
    now = 900000;
    make_sources(srcs, 0, IBB_IGMP_MAX_PENDING_SOURCES + 1, false);
    make_query(&q, wire, "239.1.1.1", 1000, srcs,
               IBB_IGMP_MAX_PENDING_SOURCES);
    assert_true(ibb_igmp_host_query(h, &q, now));
    make_query(&q, wire, "239.1.1.1", 1000, srcs + 1,
               IBB_IGMP_MAX_PENDING_SOURCES);
    assert_true(ibb_igmp_host_query(h, &q, now));
    run_keep(h, now + 1000, &fr);
    assert_int_equal(fr.n, 1);
    check_report(&fr, 0, 1);
    check_record(&fr, 0, 0, IBB_IGMP_IS_EX, "239.1.1.1", NULL, 0);

    /* Not ours; and a group left with an answer pending: only its
     * TO_IN({}) go. */
    now = 1000000;
    make_query(&q, wire, "239.3.3.3", 1000, srcs, 1);
    assert_false(ibb_igmp_host_query(h, &q, now));
    make_query(&q, wire, "239.2.2.2", 1000, srcs, 1);
    assert_true(ibb_igmp_host_query(h, &q, now));
    ibb_igmp_host_begin_update(h);
    ibb_igmp_host_want(h, addr16("239.1.1.1"), now);
    ibb_igmp_host_want(h, addr16("ff0e::1:2"), now);
    ibb_igmp_host_end_update(h, now);
    run_keep(h, now + 100000, &fr);
    assert_int_equal(fr.n, 2);
    for (size_t k = 0; k < fr.n; k++) {
        assert_int_equal(fr.what[k], IBB_IGMP_SENT_LEAVE);
        assert_int_equal(fr.f[k][14 + 24 + 8], IBB_IGMP_TO_IN);
    }
    ibb_igmp_host_destroy(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_build_sources),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_host_v3),
        cmocka_unit_test(test_host_compat),
        cmocka_unit_test(test_host_config_v2),
        cmocka_unit_test(test_host_group_source),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
