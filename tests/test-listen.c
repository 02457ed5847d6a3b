/*
 * Unit tests for ibb_igmp_parse_report() (lib/ibb-igmp.c) and the router
 * side's listener (lib/ibb-mcast-listen.c): which groups RoCE hosts want,
 * from reports built by lib/ibb-igmp.c's builder (checked byte for byte
 * against scapy in test-igmp) and by hand where it has no way to.
 */
#include <config.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ib-gid.h"
#include "ibb-igmp.h"
#include "ibb-mcast-listen.h"
#include "ibb-options.h"

static void
ip(const char *s, uint8_t out[16])
{
    assert_int_equal(ibb_gid_parse(s, out), 0);
}

/* Builds, from host number 'host' (its MAC ends in it), a message of
 * 'kind' at 'level' for 'group' with record type 'type' (v3). */
static size_t
build(uint8_t *frame, int host, int level, enum ibb_igmp_msg_kind kind,
      const char *group, enum ibb_igmp_record_type type)
{
    struct ibb_igmp_source src;
    struct ibb_igmp_record rec;
    size_t len;

    memset(&src, 0, sizeof src);
    memset(&rec, 0, sizeof rec);
    memcpy(src.mac, "\x02\x00\x00\x00\x00", 5);
    src.mac[5] = host;
    src.ipv4[0] = 10;
    src.ipv4[3] = host;
    ibb_igmp_link_local(src.mac, src.ipv6);
    ip(group, rec.group);
    rec.type = type;
    len = ibb_igmp_build(&src, level, kind, &rec, 1, frame);
    assert_true(len > 0);
    return len;
}

/* Sends the listener a message as build() makes it. */
static void
hear(struct ibb_listen *l, int host, int level, enum ibb_igmp_msg_kind kind,
     const char *group, enum ibb_igmp_record_type type, long long int now)
{
    uint8_t frame[IBB_IGMP_FRAME_MAX];
    struct ibb_igmp_report r;
    size_t len = build(frame, host, level, kind, group, type);

    assert_int_equal(ibb_igmp_parse_report(frame, len, &r),
                     IBB_IGMP_MEMBERSHIP);
    ibb_listen_report(l, &r, now);
}

/* Expects exactly one change, of 'group' to 'wanted'. */
static void
expect_change(struct ibb_listen *l, const char *group, bool wanted)
{
    uint8_t g[16], want[16];
    bool w;

    ip(group, want);
    assert_true(ibb_listen_take_change(l, g, &w));
    assert_memory_equal(g, want, 16);
    assert_int_equal(w, wanted);
    assert_false(ibb_listen_take_change(l, g, &w));
}

static void
expect_no_change(struct ibb_listen *l)
{
    uint8_t g[16];
    bool w;

    assert_false(ibb_listen_take_change(l, g, &w));
}

static void
test_parse_report(void **state)
{
    uint8_t frame[IBB_IGMP_FRAME_MAX], g[16];
    struct ibb_igmp_report r;
    struct ibb_igmp_record rec;
    struct ibb_igmp_query q;
    unsigned int n_src;
    size_t len;

    (void) state;
    /* IGMPv3 report: one TO_EX record, from 10.0.0.7. */
    len = build(frame, 7, 3, IBB_IGMP_V3_REPORT, "239.1.2.3",
                IBB_IGMP_TO_EX);
    assert_int_equal(ibb_igmp_parse(frame, len, &q), IBB_IGMP_OTHER);
    assert_int_equal(ibb_igmp_parse_report(frame, len, &r),
                     IBB_IGMP_MEMBERSHIP);
    assert_int_equal(r.level, 3);
    assert_false(r.ipv6);
    assert_int_equal(r.n_records, 1);
    assert_int_equal(r.mac[5], 7);
    ip("10.0.0.7", g);
    assert_memory_equal(r.source, g, 16);
    assert_true(ibb_igmp_report_next(&r, &rec, &n_src));
    assert_int_equal(rec.type, IBB_IGMP_TO_EX);
    assert_int_equal(n_src, 0);
    ip("239.1.2.3", g);
    assert_memory_equal(rec.group, g, 16);
    assert_false(ibb_igmp_report_next(&r, &rec, &n_src));

    /* IGMPv2 leave: a TO_IN({}) record. */
    len = build(frame, 7, 2, IBB_IGMP_LEAVE, "239.1.2.3", IBB_IGMP_IS_EX);
    assert_int_equal(ibb_igmp_parse_report(frame, len, &r),
                     IBB_IGMP_MEMBERSHIP);
    assert_int_equal(r.level, 2);
    assert_true(ibb_igmp_report_next(&r, &rec, &n_src));
    assert_int_equal(rec.type, IBB_IGMP_TO_IN);

    /* MLDv1 report: IS_EX({}). */
    len = build(frame, 7, 2, IBB_IGMP_REPORT, "ff0e::1:2", IBB_IGMP_IS_EX);
    assert_int_equal(ibb_igmp_parse_report(frame, len, &r),
                     IBB_IGMP_MEMBERSHIP);
    assert_true(r.ipv6);
    assert_true(ibb_igmp_report_next(&r, &rec, &n_src));
    assert_int_equal(rec.type, IBB_IGMP_IS_EX);
    ip("ff0e::1:2", g);
    assert_memory_equal(rec.group, g, 16);

    /* MLDv2: from the link-local address. */
    len = build(frame, 7, 3, IBB_IGMP_V3_REPORT, "ff0e::1:2",
                IBB_IGMP_TO_EX);
    assert_int_equal(ibb_igmp_parse_report(frame, len, &r),
                     IBB_IGMP_MEMBERSHIP);
    assert_int_equal(r.level, 3);
    assert_int_equal(r.source[0], 0xfe);
}

/* A v3 record of type 'type' with 'n_src' sources is malformed or not:
 * the frame is an IGMPv3 report whose record is edited, checksum redone. */
static enum ibb_igmp_parse_result
parse_edited_v3(uint8_t type, uint16_t n_src, const char *group)
{
    uint8_t frame[IBB_IGMP_FRAME_MAX];
    struct ibb_igmp_report r;
    size_t len = build(frame, 7, 3, IBB_IGMP_V3_REPORT, "239.1.2.3",
                       IBB_IGMP_TO_EX);
    uint8_t *msg = frame + 14 + IBB_IGMP_IPV4_LEN, g[16];
    uint32_t sum = 0;

    msg[8] = type;
    msg[10] = n_src >> 8;
    msg[11] = n_src;
    ip(group, g);
    memcpy(msg + 12, g + 12, 4);
    msg[2] = msg[3] = 0;
    for (size_t i = 0; i < 16; i += 2) {
        sum += (msg[i] << 8) | msg[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    msg[2] = ~sum >> 8;
    msg[3] = ~sum;
    return ibb_igmp_parse_report(frame, len, &r);
}

static void
test_parse_malformed(void **state)
{
    (void) state;
    assert_int_equal(parse_edited_v3(IBB_IGMP_TO_EX, 0, "239.1.2.3"),
                     IBB_IGMP_MEMBERSHIP);
    assert_int_equal(parse_edited_v3(7, 0, "239.1.2.3"), IBB_IGMP_MALFORMED);
    assert_int_equal(parse_edited_v3(0, 0, "239.1.2.3"), IBB_IGMP_MALFORMED);
    assert_int_equal(parse_edited_v3(IBB_IGMP_IS_IN, 1, "239.1.2.3"),
                     IBB_IGMP_MALFORMED);   /* The source is not there. */
    assert_int_equal(parse_edited_v3(IBB_IGMP_TO_EX, 0, "10.1.2.3"),
                     IBB_IGMP_MALFORMED);   /* Not a group. */
}

static void
test_members_and_leaves(void **state)
{
    struct ibb_listen_config cfg = { 0 };
    struct ibb_listen *l = ibb_listen_create(&cfg);

    (void) state;
    /* Two hosts join; the group is wanted once. */
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "239.1.2.3", IBB_IGMP_TO_EX, 0);
    expect_change(l, "239.1.2.3", true);
    hear(l, 2, 2, IBB_IGMP_REPORT, "239.1.2.3", IBB_IGMP_IS_EX, 10);
    expect_no_change(l);
    assert_int_equal(ibb_listen_n_groups(l), 1);

    /* One leaves: the other still wants it. */
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "239.1.2.3", IBB_IGMP_TO_IN, 100);
    ibb_listen_run(l, 100);
    expect_no_change(l);

    /* The last leaves: the group goes after the Last Member Query Time
     * (2 x 1 s), for answers to the querier's group-specific query. */
    hear(l, 2, 2, IBB_IGMP_LEAVE, "239.1.2.3", IBB_IGMP_IS_EX, 1000);
    assert_int_equal(ibb_listen_next(l), 3000);
    ibb_listen_run(l, 2999);
    expect_no_change(l);
    assert_true(ibb_listen_wants(l, (uint8_t[16]) { [10] = 0xff, [11] = 0xff,
                                                    239, 1, 2, 3 }));
    ibb_listen_run(l, 3000);
    expect_change(l, "239.1.2.3", false);
    assert_int_equal(ibb_listen_n_groups(l), 0);
    assert_int_equal(ibb_listen_next(l), LLONG_MAX);

    /* A report within that time keeps it. */
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "ff0e::5", IBB_IGMP_IS_EX, 5000);
    expect_change(l, "ff0e::5", true);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "ff0e::5", IBB_IGMP_TO_IN, 6000);
    hear(l, 3, 3, IBB_IGMP_V3_REPORT, "ff0e::5", IBB_IGMP_IS_EX, 7000);
    ibb_listen_run(l, 8000);
    expect_no_change(l);
    assert_int_equal(ibb_listen_n_groups(l), 1);

    /* BLOCK changes nothing. */
    hear(l, 3, 3, IBB_IGMP_V3_REPORT, "ff0e::5", IBB_IGMP_BLOCK, 9000);
    ibb_listen_run(l, 12000);
    expect_no_change(l);
    assert_int_equal(ibb_listen_counters(l)->groups_added, 2);
    assert_int_equal(ibb_listen_counters(l)->groups_removed, 1);
    ibb_listen_destroy(l);
}

static void
test_timers(void **state)
{
    struct ibb_listen_config cfg = { 0 };
    struct ibb_listen *l = ibb_listen_create(&cfg);
    struct ibb_igmp_query q;

    (void) state;
    /* No query heard: the Group Membership Interval is 2 x 125 + 10 s. */
    hear(l, 1, 2, IBB_IGMP_REPORT, "239.9.9.9", IBB_IGMP_IS_EX, 0);
    expect_change(l, "239.9.9.9", true);
    ibb_listen_run(l, 259999);
    expect_no_change(l);
    ibb_listen_run(l, 260000);
    expect_change(l, "239.9.9.9", false);
    assert_int_equal(ibb_listen_counters(l)->expired, 1);

    /* An IGMPv3 general query with QRV 3, QQIC 60 s and 5 s to answer:
     * 3 x 60 + 5 s. */
    memset(&q, 0, sizeof q);
    q.level = 3;
    q.qrv = 3;
    q.qqi_s = 60;
    q.max_resp_ms = 5000;
    ibb_listen_query(l, &q, 300000);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "239.9.9.9", IBB_IGMP_IS_EX, 301000);
    expect_change(l, "239.9.9.9", true);
    assert_int_equal(ibb_listen_next(l), 301000 + 185000);

    /* A group-specific query: the members have QRV x its Max Resp Time
     * (3 x 1 s) to answer; one that does keeps the group. */
    ip("239.9.9.9", q.group);
    q.max_resp_ms = 1000;
    ibb_listen_query(l, &q, 310000);
    assert_int_equal(ibb_listen_next(l), 313000);
    hear(l, 2, 3, IBB_IGMP_V3_REPORT, "239.9.9.9", IBB_IGMP_IS_EX, 311000);
    ibb_listen_run(l, 313000);
    expect_no_change(l);
    assert_int_equal(ibb_listen_counters(l)->expired, 2);
    /* With the S flag (a member answered the querier already) the
     * timers stay. */
    q.suppress = true;
    ibb_listen_query(l, &q, 315000);
    ibb_listen_run(l, 318000);
    expect_no_change(l);
    q.suppress = false;

    /* Without an answer it would have gone. */
    ibb_listen_query(l, &q, 320000);
    ibb_listen_run(l, 323000);
    expect_change(l, "239.9.9.9", false);
    ibb_listen_destroy(l);
}

static void
test_ranges(void **state)
{
    struct ibb_listen_config cfg = { 0 };
    struct ibb_gid_prefix *ranges;
    struct ibb_listen *l = ibb_listen_create(&cfg);
    uint8_t g[16];
    size_t n;
    char *err = NULL;

    (void) state;
    /* By default every group but link-local ones. */
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "224.0.0.251", IBB_IGMP_IS_EX, 0);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "ff02::fb", IBB_IGMP_IS_EX, 0);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "ff02::1:ff00:1", IBB_IGMP_IS_EX, 0);
    expect_no_change(l);
    assert_int_equal(ibb_listen_counters(l)->filtered, 3);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "224.0.1.1", IBB_IGMP_IS_EX, 0);
    expect_change(l, "224.0.1.1", true);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "239.1.9.9", IBB_IGMP_IS_EX, 0);
    expect_change(l, "239.1.9.9", true);

    /* Ranges: only those.  Groups now out of range go. */
    assert_int_equal(ibb_parse_mcast_ranges("239.1.0.0/16,ff15::/16",
                                             &ranges, &n, &err), 0);
    cfg.ranges = ranges;
    cfg.n_ranges = n;
    ibb_listen_configure(l, &cfg);
    expect_change(l, "224.0.1.1", false);
    assert_int_equal(ibb_listen_n_groups(l), 1);
    ip("239.1.200.1", g);
    assert_true(ibb_listen_in_range(&cfg, g));
    ip("239.2.0.1", g);
    assert_false(ibb_listen_in_range(&cfg, g));
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "239.2.0.1", IBB_IGMP_IS_EX, 0);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "ff0e::1", IBB_IGMP_IS_EX, 0);
    expect_no_change(l);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "ff15::7", IBB_IGMP_IS_EX, 0);
    expect_change(l, "ff15::7", true);

    /* At most max_groups. */
    cfg.max_groups = 2;
    ibb_listen_configure(l, &cfg);
    hear(l, 1, 3, IBB_IGMP_V3_REPORT, "239.1.0.3", IBB_IGMP_IS_EX, 0);
    expect_no_change(l);
    assert_int_equal(ibb_listen_counters(l)->full, 1);
    ibb_listen_destroy(l);
    free(ranges);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_report),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_members_and_leaves),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_ranges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
