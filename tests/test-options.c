/* Unit tests for lib/ibb-options.c: each port option, good and bad. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ib-gid.h"
#include "ibb-options.h"

static void
test_device_sim(void **state)
{
    struct ibb_device_spec spec;
    char *err, *s;

    (void) state;
    assert_int_equal(ibb_parse_device("sim:/run/fabric.sock", &spec, &err),
                     0);
    assert_null(err);
    assert_int_equal(spec.kind, IBB_DEVICE_SIM);
    assert_string_equal(spec.path, "/run/fabric.sock");
    s = ibb_device_spec_to_string(&spec);
    assert_string_equal(s, "sim:/run/fabric.sock");
    free(s);
    ibb_device_spec_destroy(&spec);
}

static void
test_device_verbs(void **state)
{
    struct ibb_device_spec spec;
    char *err, *s;

    (void) state;
    assert_int_equal(ibb_parse_device("verbs:mlx5_0", &spec, &err), 0);
    assert_int_equal(spec.kind, IBB_DEVICE_VERBS);
    assert_string_equal(spec.ibdev, "mlx5_0");
    assert_int_equal(spec.port, 1);
    ibb_device_spec_destroy(&spec);

    assert_int_equal(ibb_parse_device("verbs:mlx4_1:2", &spec, &err), 0);
    assert_string_equal(spec.ibdev, "mlx4_1");
    assert_int_equal(spec.port, 2);
    s = ibb_device_spec_to_string(&spec);
    assert_string_equal(s, "verbs:mlx4_1:2");
    free(s);
    ibb_device_spec_destroy(&spec);
}

/* Each bad device string fails with EINVAL and a message that contains
 * 'needle'. */
static void
check_bad_device(const char *value, const char *needle)
{
    struct ibb_device_spec spec;
    char *err;

    assert_int_equal(ibb_parse_device(value, &spec, &err), EINVAL);
    assert_non_null(err);
    if (!strstr(err, needle)) {
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", value, err, needle);
    }
    assert_null(spec.path);
    assert_null(spec.ibdev);
    free(err);
}

static void
test_device_bad(void **state)
{
    (void) state;
    check_bad_device(NULL, "missing device option");
    check_bad_device("", "missing device option");
    check_bad_device("sim:", "needs the path");
    check_bad_device("eth0", "unknown kind");
    check_bad_device("verbs:", "expected verbs:DEV[:PORT]");
    check_bad_device("verbs:mlx5 0", "expected verbs:DEV[:PORT]");
    check_bad_device("verbs:mlx5_0:0", "port must be a number from 1 to 255");
    check_bad_device("verbs:mlx5_0:256", "port must be");
    check_bad_device("verbs:mlx5_0:x", "port must be");
    check_bad_device("verbs:mlx5_0:", "port must be");
}

static void
test_pkey(void **state)
{
    uint16_t pkey;
    char *err;

    (void) state;
    assert_int_equal(ibb_parse_pkey("0xffff", &pkey, &err), 0);
    assert_int_equal(pkey, 0xffff);
    assert_int_equal(ibb_parse_pkey("0x7fff", &pkey, &err), 0);
    assert_int_equal(pkey, 0x7fff);
    assert_int_equal(ibb_parse_pkey("32769", &pkey, &err), 0);
    assert_int_equal(pkey, 0x8001);

    static const char *const bad[] = {
        "0", "0x0000", "0x8000", "0x10000", "-1", "ffff", "0x", " 1", "1 ",
        "", "0xfffff", "0x0X7fff", "0x0x7fff", "0X0x1", "+5", "0x+5",
        "0x-1", "0x 5", "0x5 ", "5\n", "\t5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pkey = 0x1234;
        if (ibb_parse_pkey(bad[i], &pkey, &err) != EINVAL) {
            fail_msg("pkey \"%s\" accepted as %#x", bad[i], pkey);
        }
        assert_non_null(strstr(err, "expected a P_Key"));
        assert_int_equal(pkey, 0x1234);
        free(err);
    }
}

static void
test_qkey(void **state)
{
    uint32_t qkey;
    char *err;

    (void) state;
    assert_int_equal(ibb_parse_qkey("0x80010000", &qkey, &err), 0);
    assert_int_equal(qkey, 0x80010000);
    assert_int_equal(ibb_parse_qkey("0", &qkey, &err), 0);
    assert_int_equal(qkey, 0);
    assert_int_equal(ibb_parse_qkey("4294967295", &qkey, &err), 0);
    assert_int_equal(qkey, 0xffffffff);

    static const char *const bad[] = {
        "0x100000000", "4294967296", "-5", "0x1g", "qkey", "",
        "99999999999999999999999", "0x0x5", "0x0X5", "0X0x5", "-1", "+5",
        " 5", "5 ", "0x-1", "0x+1", "0x 1", "0x", "0x0x", "1e3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qkey = 0x1234;
        if (ibb_parse_qkey(bad[i], &qkey, &err) != EINVAL) {
            fail_msg("qkey \"%s\" accepted as %#"PRIx32, bad[i], qkey);
        }
        assert_non_null(strstr(err, "expected a 32-bit Q_Key"));
        assert_int_equal(qkey, 0x1234);
        free(err);
    }
    assert_int_equal(ibb_parse_qkey("0x0x5", &qkey, &err), EINVAL);
    assert_string_equal(err, "qkey \"0x0x5\": expected a 32-bit Q_Key such "
                        "as 0x01234567");
    free(err);
}

static void
test_mac(void **state)
{
    static const uint8_t want[6] = { 0x02, 0x00, 0x5e, 0x10, 0xab, 0xcd };
    uint8_t mac[6];
    char *err;

    (void) state;
    assert_int_equal(ibb_parse_mac("02:00:5e:10:AB:cd", mac, &err), 0);
    assert_memory_equal(mac, want, 6);

    static const struct {
        const char *value;
        const char *needle;
    } bad[] = {
        { "01:00:5e:00:00:01", "unicast" },
        { "00:00:00:00:00:00", "all zeros" },
        { "02:00:00:00:00", "expected an Ethernet address" },
        { "02:00:00:00:00:01:02", "expected an Ethernet address" },
        { "02-00-00-00-00-01", "expected an Ethernet address" },
        { "2:0:0:0:0:1", "expected an Ethernet address" },
        { "zz:00:00:00:00:01", "expected an Ethernet address" },
        { "+2:00:00:00:00:01", "expected an Ethernet address" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ibb_parse_mac(bad[i].value, mac, &err), EINVAL);
        if (!strstr(err, bad[i].needle)) {
            fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].value, err,
                     bad[i].needle);
        }
        free(err);
    }
}

static void
test_mcast_groups(void **state)
{
    struct ibb_mcast_group_spec *groups;
    size_t n;
    char *err, *s;

    (void) state;
    assert_int_equal(ibb_parse_mcast_groups(
                         "239.1.1.1,ff0e::1234/roce/send-only,"
                         "224.0.0.251/rdma_cm/full",
                         IBB_MGID_IPOIB, &groups, &n, &err), 0);
    assert_int_equal(n, 3);
    s = ibb_mcast_group_spec_to_string(&groups[0]);
    assert_string_equal(s, "239.1.1.1/ipoib/full");
    free(s);
    s = ibb_mcast_group_spec_to_string(&groups[1]);
    assert_string_equal(s, "ff0e::1234/roce/send-only");
    free(s);
    s = ibb_mcast_group_spec_to_string(&groups[2]);
    assert_string_equal(s, "224.0.0.251/rdma_cm/full");
    free(s);
    free(groups);

    assert_int_equal(ibb_parse_mcast_groups("", IBB_MGID_ROCE, &groups, &n,
                                            &err), 0);
    assert_int_equal(n, 0);

    static const struct {
        const char *value;
        const char *needle;
    } bad[] = {
        { "10.0.0.1", "is not an IPv4 or IPv6 multicast group" },
        { "fe80::1", "is not an IPv4 or IPv6 multicast group" },
        { "239.1.1.1/ib", "unknown \"ib\" after a group" },
        { "239.1.1.1,", "trailing comma" },
        { ",239.1.1.1", "empty entry" },
        { "239.1.1.1,239.1.1.1/roce", "group ::ffff:239.1.1.1 listed twice" },
        { " 239.1.1.1", "is not an IPv4 or IPv6 multicast group" },
        { "239.1.1.1 ", "is not an IPv4 or IPv6 multicast group" },
        { "239.1.1.1, 239.2.2.2", "is not an IPv4 or IPv6 multicast group" },
        { "+239.1.1.1", "is not an IPv4 or IPv6 multicast group" },
        { "0x0xef010101", "is not an IPv4 or IPv6 multicast group" },
        { "239.1.1.1/ roce", "unknown \" roce\" after a group" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ibb_parse_mcast_groups(bad[i].value, IBB_MGID_IPOIB,
                                                &groups, &n, &err), EINVAL);
        if (!strstr(err, bad[i].needle)) {
            fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].value, err,
                     bad[i].needle);
        }
        free(err);
    }
}

static void
test_roce_prefixes(void **state)
{
    struct ibb_gid_prefix *p;
    uint8_t want[16];
    size_t n;
    char *err;

    (void) state;
    assert_int_equal(ibb_parse_roce_prefixes(IBB_DEFAULT_ROCE_PREFIXES, &p,
                                             &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].plen, 96);
    assert_int_equal(ibb_gid_parse("::ffff:0.0.0.0", want), 0);
    assert_memory_equal(p[0].prefix, want, 16);
    free(p);

    /* An IPv4 network counts from the IPv4 part; IPv6 as is. */
    assert_int_equal(ibb_parse_roce_prefixes("10.1.0.0/16,fd00:1::/32", &p,
                                             &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].plen, 112);
    assert_int_equal(ibb_gid_parse("10.1.0.0", want), 0);
    assert_memory_equal(p[0].prefix, want, 16);
    assert_int_equal(p[1].plen, 32);
    assert_true(ibb_gid_in_prefix((const uint8_t *) "\xfd\x00\x00\x01"
                                  "\x12\x34\x56\x78\x9a\xbc\xde\xf0"
                                  "\x00\x00\x00\x01", p[1].prefix, 32));
    assert_false(ibb_gid_in_prefix((const uint8_t *) "\xfd\x00\x00\x02"
                                   "\x12\x34\x56\x78\x9a\xbc\xde\xf0"
                                   "\x00\x00\x00\x01", p[1].prefix, 32));
    free(p);

    assert_int_equal(ibb_parse_roce_prefixes("", &p, &n, &err), 0);
    assert_int_equal(n, 0);
    free(p);

    static const char *const bad[] = {
        "10.0.0.1/24", "fd00::1/64", "ff02::/16", "10.0.0.0/33", "::/0",
        "fd00::/129", "fd00::", "/64", "fd00::/6x", "fd00::/64,",
        "fd00::/64,,fd01::/64",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ibb_parse_roce_prefixes(bad[i], &p, &n, &err),
                         EINVAL);
        assert_non_null(err);
        assert_non_null(strstr(err, "roce-prefixes"));
        free(err);
    }
}

static void
test_sl_map(void **state)
{
    uint8_t sl_map[64];
    char *err;

    (void) state;
    memset(sl_map, 7, sizeof sl_map);
    assert_int_equal(ibb_parse_sl_map("46:5,0:0,63:15", sl_map, &err), 0);
    assert_int_equal(sl_map[46], 5);
    assert_int_equal(sl_map[0], 0);
    assert_int_equal(sl_map[63], 15);
    assert_int_equal(sl_map[1], 7);

    static const char *const bad[] = {
        "64:1", "1:16", "1", "1:", ":1", "a:b", "1:2,", "1:2,,3:4",
        "0x0x1:2", "1:0x0x2", "0x0X1:2", "-1:2", "1:-2", "+1:2", "1:+2",
        " 1:2", "1 :2", "1: 2", "1:2 ", "1:2, 3:4", "0x:1", "1:0x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (ibb_parse_sl_map(bad[i], sl_map, &err) != EINVAL) {
            fail_msg("sl-map \"%s\" accepted", bad[i]);
        }
        assert_non_null(strstr(err, "expected DSCP:SL pairs"));
        free(err);
    }
    assert_int_equal(ibb_parse_sl_map("1:2,1:3", sl_map, &err), EINVAL);
    assert_string_equal(err, "sl-map: DSCP 1 mapped twice");
    free(err);
}

static void
test_dscp_map(void **state)
{
    uint8_t dscp_map[16];
    char *err;

    (void) state;
    memset(dscp_map, 0xff, sizeof dscp_map);
    assert_int_equal(ibb_parse_dscp_map("5:46,0:0,15:63", dscp_map, &err),
                     0);
    assert_int_equal(dscp_map[5], 46);
    assert_int_equal(dscp_map[0], 0);
    assert_int_equal(dscp_map[15], 63);
    assert_int_equal(dscp_map[1], 0xff);

    static const char *const bad[] = {
        "16:1", "1:64", "1", "1:", ":1", "a:b", "1:2,", "1:2,,3:4",
        "0x0x1:2", "1:0x0x2", "1:0X0x2", "-1:2", "1:-2", "+1:2", "1:+2",
        " 1:2", "1 :2", "1: 2", "1:2 ", "1:2, 3:4", "0x:1", "1:0x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (ibb_parse_dscp_map(bad[i], dscp_map, &err) != EINVAL) {
            fail_msg("dscp-map \"%s\" accepted", bad[i]);
        }
        assert_non_null(strstr(err, "expected SL:DSCP pairs separated by "
                                    "commas, SL 0-15 and DSCP 0-63"));
        free(err);
    }
    assert_int_equal(ibb_parse_dscp_map("3:2,3:3", dscp_map, &err), EINVAL);
    assert_string_equal(err, "dscp-map: SL 3 mapped twice");
    free(err);
}

static void
test_bool_and_gid_index(void **state)
{
    unsigned int index;
    bool b;
    char *err;

    (void) state;
    assert_int_equal(ibb_parse_bool("icrc-check", "false", &b, &err), 0);
    assert_false(b);
    assert_int_equal(ibb_parse_bool("icrc-check", "true", &b, &err), 0);
    assert_true(b);
    assert_int_equal(ibb_parse_bool("icrc-check", "yes", &b, &err), EINVAL);
    assert_string_equal(err, "icrc-check \"yes\": expected true or false");
    free(err);

    assert_int_equal(ibb_parse_gid_index("3", &index, &err), 0);
    assert_int_equal(index, 3);
    assert_int_equal(ibb_parse_gid_index("0x0a", &index, &err), 0);
    assert_int_equal(index, 10);

    static const char *const bad[] = {
        "256", "-1", "+5", " 5", "5 ", "0x0x5", "0X0x5", "0x", "", "x5",
        "0x-1", "0x 5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        index = 77;
        if (ibb_parse_gid_index(bad[i], &index, &err) != EINVAL) {
            fail_msg("gid-index \"%s\" accepted as %u", bad[i], index);
        }
        assert_non_null(strstr(err, "expected a number from 0 to 255"));
        assert_int_equal(index, 77);
        free(err);
    }
}

static void
test_udp_csum(void **state)
{
    static const char *const names[] = { "all", "ipv6", "none" };
    static const char *const bad[] = { "", "ALL", "ipv4", "all ", "0" };
    enum ibb_udp_csum mode;
    char *err;

    (void) state;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ibb_parse_udp_csum(names[i], &mode, &err), 0);
        assert_null(err);
        assert_string_equal(ibb_udp_csum_name(mode), names[i]);
    }
    assert_int_equal(IBB_UDP_CSUM_ALL, 0);      /* The zeroed default. */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mode = IBB_UDP_CSUM_IPV6;
        assert_int_equal(ibb_parse_udp_csum(bad[i], &mode, &err), EINVAL);
        assert_non_null(strstr(err, "expected all, ipv6 or none"));
        assert_int_equal(mode, IBB_UDP_CSUM_IPV6);
        free(err);
    }
    assert_int_equal(ibb_parse_udp_csum("v6", &mode, &err), EINVAL);
    assert_string_equal(err, "udp-csum \"v6\": expected all, ipv6 or none");
    free(err);
}

/* ibb_parse_uint() itself, which the tools' numeric options use too. */
static void
test_parse_uint(void **state)
{
    unsigned long long v;

    (void) state;
    assert_true(ibb_parse_uint("0", 10, &v));
    assert_int_equal(v, 0);
    assert_true(ibb_parse_uint("0x0", 10, &v));
    assert_int_equal(v, 0);
    assert_true(ibb_parse_uint("0XaB", 0xff, &v));
    assert_int_equal(v, 0xab);
    assert_true(ibb_parse_uint("007", 10, &v));
    assert_int_equal(v, 7);
    assert_true(ibb_parse_uint("0x00ff", 0xff, &v));
    assert_int_equal(v, 0xff);
    assert_true(ibb_parse_uint("18446744073709551615", ULLONG_MAX, &v));
    assert_true(v == ULLONG_MAX);

    static const char *const bad[] = {
        "", "0x", "0X", "0x0x5", "0x0X5", "0X0x5", "0x0x", "-1", "+1",
        "0x-1", "0x+1", " 1", "1 ", "0x 1", "0x1 ", "\t1", "1\n", "1.0",
        "1e3", "08x", "ab", "0b1", "18446744073709551616",
        "0x1ffffffffffffffff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = 42;
        if (ibb_parse_uint(bad[i], ULLONG_MAX, &v)) {
            fail_msg("\"%s\" accepted as %llu", bad[i], v);
        }
        assert_int_equal(v, 42);
    }
    assert_false(ibb_parse_uint(NULL, 10, &v));
    assert_false(ibb_parse_uint("11", 10, &v));
    assert_false(ibb_parse_uint("0xb", 10, &v));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_sim),
        cmocka_unit_test(test_device_verbs),
        cmocka_unit_test(test_device_bad),
        cmocka_unit_test(test_pkey),
        cmocka_unit_test(test_qkey),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_mcast_groups),
        cmocka_unit_test(test_roce_prefixes),
        cmocka_unit_test(test_sl_map),
        cmocka_unit_test(test_dscp_map),
        cmocka_unit_test(test_bool_and_gid_index),
        cmocka_unit_test(test_udp_csum),
        cmocka_unit_test(test_parse_uint),
    };
    return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
