/*
 * Unit tests for lib/ib-gid.c, lib/ib-mcast.c, lib/addr-map.c and
 * lib/ibb-drop.c.
 *
 * MGID and MAC expectations are worked out by hand from the linux
 * functions the reference cites (ip_ib_mc_map, ipv6_ib_mc_map,
 * cma_set_mgid, ip_eth_mc_map, ipv6_eth_mc_map).
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
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "addr-map.h"
#include "ib-gid.h"
#include "ib-mcast.h"
#include "ibb-drop.h"

static void
gid(const char *s, uint8_t g[16])
{
    assert_int_equal(ibb_gid_parse(s, g), 0);
}

static void
test_gid(void **state)
{
    uint8_t g[16], v4[4];
    char buf[IBB_GID_STRLEN];

    (void) state;
    gid("fe80::2:c903:a:b", g);
    assert_memory_equal(g, "\xfe\x80\0\0\0\0\0\0\0\x02\xc9\x03\0\x0a\0\x0b",
                        16);
    assert_false(ibb_gid_is_v4mapped(g));
    assert_string_equal(ibb_gid_format(g, buf, sizeof buf),
                        "fe80::2:c903:a:b");

    gid("192.168.1.2", g);
    assert_true(ibb_gid_is_v4mapped(g));
    assert_string_equal(ibb_gid_format(g, buf, sizeof buf),
                        "::ffff:192.168.1.2");
    assert_true(ibb_gid_to_ipv4(g, v4));
    assert_memory_equal(v4, "\xc0\xa8\x01\x02", 4);

    assert_int_equal(ibb_gid_parse("fe80::zz", g), EINVAL);
    assert_int_equal(ibb_gid_parse("", g), EINVAL);

    gid("ff02::1", g);
    assert_true(ibb_gid_is_multicast(g));
    assert_true(ibb_ip_is_multicast(g));
    gid("239.255.0.1", g);
    assert_false(ibb_gid_is_multicast(g));
    assert_true(ibb_ip_is_multicast(g));
    gid("0.0.0.0", g);
    assert_true(ibb_ip_is_unspecified(g));
    gid("::", g);
    assert_true(ibb_ip_is_unspecified(g));
    assert_true(ibb_gid_is_zero(g));
}

static void
check_mgid(enum ibb_mgid_format f, const char *ip, uint16_t pkey,
           uint8_t scope, const char *expect)
{
    uint8_t g[16], m[16], e[16];

    gid(ip, g);
    gid(expect, e);
    assert_int_equal(ibb_mcast_ip_to_mgid(f, g, pkey, scope, m), 0);
    assert_memory_equal(m, e, 16);
}

static void
test_mgid(void **state)
{
    uint8_t g[16], m[16];

    (void) state;
    /* IPoIB IPv4: low 28 bits, pkey | 0x8000. */
    check_mgid(IBB_MGID_IPOIB, "224.0.0.1", 0xffff, 2,
               "ff12:401b:ffff::1");
    check_mgid(IBB_MGID_IPOIB, "239.1.2.3", 0x7fff, 2,
               "ff12:401b:ffff::f01:203");
    check_mgid(IBB_MGID_IPOIB, "224.0.0.251", 0x0001, 5,
               "ff15:401b:8001::fb");
    /* IPoIB IPv6: group bytes 6-15. */
    check_mgid(IBB_MGID_IPOIB, "ff02::1:ff00:1234", 0xffff, 2,
               "ff12:601b:ffff::1:ff00:1234");
    check_mgid(IBB_MGID_IPOIB, "ff0e:1:2:3:4:5:6:7", 0xffff, 2,
               "ff12:601b:ffff:3:4:5:6:7");
    /* rdma_cm on IB. */
    check_mgid(IBB_MGID_RDMA_CM, "239.1.2.3", 0xffff, 2,
               "ff12:4001:ffff::f01:203");
    check_mgid(IBB_MGID_RDMA_CM, "ff0e::1:2", 0x8001, 14,
               "ff1e:6001:8001::1:2");
    /* RoCE. */
    check_mgid(IBB_MGID_ROCE, "239.1.2.3", 0xffff, 2, "::ffff:239.1.2.3");
    check_mgid(IBB_MGID_ROCE, "ff0e::1:2", 0xffff, 2, "ff0e::1:2");

    gid("10.0.0.1", g);
    assert_int_equal(ibb_mcast_ip_to_mgid(IBB_MGID_IPOIB, g, 0xffff, 2, m),
                     EINVAL);
    gid("239.0.0.1", g);
    assert_int_equal(ibb_mcast_ip_to_mgid(IBB_MGID_IPOIB, g, 0xffff, 16, m),
                     EINVAL);
}

static void
test_mcast_mac(void **state)
{
    uint8_t g[16], mac[6];

    (void) state;
    gid("239.129.2.3", g);
    assert_int_equal(ibb_mcast_ip_to_mac(g, mac), 0);
    assert_memory_equal(mac, "\x01\x00\x5e\x01\x02\x03", 6);
    gid("ff02::1:ff00:1234", g);
    assert_int_equal(ibb_mcast_ip_to_mac(g, mac), 0);
    assert_memory_equal(mac, "\x33\x33\xff\x00\x12\x34", 6);
    gid("fd00::1", g);
    assert_int_equal(ibb_mcast_ip_to_mac(g, mac), EINVAL);
}

static void
test_mgid_format_names(void **state)
{
    enum ibb_mgid_format f;

    (void) state;
    assert_int_equal(ibb_mgid_format_parse("rdma_cm", &f), 0);
    assert_int_equal(f, IBB_MGID_RDMA_CM);
    assert_string_equal(ibb_mgid_format_name(IBB_MGID_ROCE), "roce");
    assert_int_equal(ibb_mgid_format_parse("RoCE", &f), EINVAL);
}

static const char good_json[] =
    "{ \"hosts\": ["
    "  { \"gid\": \"fe80::2:c903:a:b\", \"lid\": 5,"
    "    \"ipv4\": \"10.0.0.1\", \"ipv6\": \"fd00::1\" },"
    "  { \"ipv4\": \"10.0.0.2\", \"mac\": \"02:00:00:00:00:02\" } ],"
    "  \"groups\": ["
    "  { \"ip\": \"239.1.1.1\", \"mlid\": 49153 },"
    "  { \"ip\": \"ff0e::5\", \"mlid\": 49154, \"format\": \"roce\" },"
    "  { \"ip\": \"239.3.3.3\", \"mlid\": 49155,"
    "    \"mgid\": \"ff12:a01b::7\" } ] }";

static void
test_map_json(void **state)
{
    struct ibb_addr_map *map = ibb_addr_map_create();
    const struct ibb_host *h;
    const struct ibb_group *g;
    uint8_t a[16];
    char err[256];

    (void) state;
    assert_int_equal(ibb_addr_map_load_json_str(map, good_json, err,
                                                sizeof err), 0);
    assert_int_equal(ibb_addr_map_n_hosts(map), 2);
    assert_int_equal(ibb_addr_map_n_groups(map), 3);

    gid("fe80::2:c903:a:b", a);
    h = ibb_addr_map_find_gid(map, a);
    assert_non_null(h);
    assert_int_equal(h->lid, 5);
    assert_ptr_equal(ibb_addr_map_find_lid(map, 5), h);
    gid("10.0.0.1", a);
    assert_ptr_equal(ibb_addr_map_find_ip(map, a), h);
    gid("fd00::1", a);
    assert_ptr_equal(ibb_addr_map_find_ip(map, a), h);
    assert_false(h->has_mac);

    gid("10.0.0.2", a);
    h = ibb_addr_map_find_ip(map, a);
    assert_non_null(h);
    assert_true(h->has_mac);
    assert_memory_equal(h->mac, "\x02\0\0\0\0\x02", 6);
    assert_null(ibb_addr_map_find_lid(map, 6));
    gid("10.0.0.3", a);
    assert_null(ibb_addr_map_find_ip(map, a));

    gid("239.1.1.1", a);
    g = ibb_addr_map_find_group_ip(map, a);
    assert_non_null(g);
    assert_int_equal(g->mlid, 0xc001);
    gid("ff12:401b:ffff::f01:101", a);
    assert_ptr_equal(ibb_addr_map_find_group_mgid(map, a), g);
    gid("ff0e::5", a);
    assert_ptr_equal(ibb_addr_map_find_group_mgid(map, a),
                     ibb_addr_map_find_group_ip(map, a));
    gid("ff12:a01b::7", a);
    g = ibb_addr_map_find_group_mgid(map, a);
    assert_non_null(g);
    assert_int_equal(g->mlid, 0xc003);

    ibb_addr_map_destroy(map);
}

static void
check_bad(const char *json, const char *msg_part)
{
    struct ibb_addr_map *map = ibb_addr_map_create();
    char err[256] = "";

    assert_int_not_equal(ibb_addr_map_load_json_str(map, json, err,
                                                    sizeof err), 0);
    if (!strstr(err, msg_part)) {
        fail_msg("error \"%s\" lacks \"%s\"", err, msg_part);
    }
    ibb_addr_map_destroy(map);
}

static void
test_map_json_errors(void **state)
{
    struct ibb_addr_map *map;
    char err[256];

    (void) state;
    check_bad("{", "line 1");
    check_bad("[]", "expected an object");
    check_bad("{\"hostz\": []}", "unknown key");
    check_bad("{\"hosts\": {}}", "expected an array");
    check_bad("{\"hosts\": [1]}", "hosts[0]: expected an object");
    check_bad("{\"hosts\": [{\"lid\": 5}]}", "needs");
    check_bad("{\"hosts\": [{\"ipv4\": \"10.0.0.1\", \"lid\": 0}]}",
              "hosts[0].lid");
    check_bad("{\"hosts\": [{\"ipv4\": \"10.0.0.1\", \"lid\": 49152}]}",
              "hosts[0].lid");
    check_bad("{\"hosts\": [{\"ipv4\": \"fd00::1\"}]}", "not an IPv4");
    check_bad("{\"hosts\": [{\"ipv6\": \"10.0.0.1\"}]}", "IPv4-mapped");
    check_bad("{\"hosts\": [{\"gid\": 5}]}", "hosts[0].gid");
    check_bad("{\"hosts\": [{\"ipv4\": \"10.0.0.1\", \"mac\": \"zz\"}]}",
              "hosts[0].mac");
    check_bad("{\"hosts\": [{\"ipv4\": \"10.0.0.1\"},"
              " {\"ipv4\": \"10.0.0.1\"}]}", "hosts[1]: GID, LID or IP");
    check_bad("{\"hosts\": [{\"ipv4\": \"10.0.0.1\", \"ipv4\": \"1.2.3.4\"}]}",
              "duplicate");
    check_bad("{\"groups\": [{\"ip\": \"10.0.0.1\", \"mlid\": 49153}]}",
              "not a multicast");
    check_bad("{\"groups\": [{\"ip\": \"239.0.0.1\"}]}", "needs");
    check_bad("{\"groups\": [{\"ip\": \"239.0.0.1\", \"mlid\": 5}]}",
              "groups[0].mlid");
    check_bad("{\"groups\": [{\"ip\": \"239.0.0.1\", \"mlid\": 49153,"
              " \"format\": \"x\"}]}", "groups[0].format");
    check_bad("{\"groups\": [{\"ip\": \"239.0.0.1\", \"mlid\": 49153},"
              " {\"ip\": \"239.0.0.1\", \"mlid\": 49154}]}", "already");

    map = ibb_addr_map_create();
    assert_int_equal(ibb_addr_map_load_json_file(map, "/nonexistent.json",
                                                 err, sizeof err), ENOENT);
    assert_non_null(strstr(err, "/nonexistent.json"));
    ibb_addr_map_destroy(map);
}

static void
test_map_json_file(void **state)
{
    char name[] = "/tmp/test-addr-XXXXXX";
    int fd = mkstemp(name);
    struct ibb_addr_map *map = ibb_addr_map_create();
    char err[256];

    (void) state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, good_json, strlen(good_json)),
                     (ssize_t) strlen(good_json));
    close(fd);
    assert_int_equal(ibb_addr_map_load_json_file(map, name, err, sizeof err),
                     0);
    assert_int_equal(ibb_addr_map_n_hosts(map), 2);
    /* Loading again: every entry is a duplicate. */
    assert_int_equal(ibb_addr_map_load_json_file(map, name, err, sizeof err),
                     EEXIST);
    assert_non_null(strstr(err, name));
    unlink(name);
    ibb_addr_map_destroy(map);
}

/* Writes 'len' bytes of 'data' into a new temporary file, whose name it
 * stores in 'name' (at least 32 bytes). */
static void
write_temp(char *name, const char *data, size_t len)
{
    int fd;

    snprintf(name, 32, "/tmp/test-addr-XXXXXX");
    fd = mkstemp(name);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t) len);
    close(fd);
}

/* Loads 'file_name' into a new map, expecting 'error' and a message that
 * contains 'file_name' and 'needle', and no entry loaded. */
static void
check_bad_file(const char *file_name, int error, const char *needle)
{
    struct ibb_addr_map *map = ibb_addr_map_create();
    char err[512];

    err[0] = '\0';
    assert_int_equal(ibb_addr_map_load_json_file(map, file_name, err,
                                                 sizeof err), error);
    if (!strstr(err, file_name) || !strstr(err, needle)) {
        fail_msg("%s: \"%s\" lacks \"%s\"", file_name, err, needle);
    }
    assert_int_equal(ibb_addr_map_n_hosts(map), 0);
    assert_int_equal(ibb_addr_map_n_groups(map), 0);
    ibb_addr_map_destroy(map);
}

/* A map given as a directory, or as something else than a regular file,
 * is refused as such, not as bad JSON. */
static void
test_map_json_not_a_file(void **state)
{
    char dir[] = "/tmp/test-addr-dir-XXXXXX";
    char fifo[64];

    (void) state;
    assert_non_null(mkdtemp(dir));
    check_bad_file(dir, EISDIR, ": is a directory, not a JSON map file");

    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    check_bad_file(fifo, EINVAL, ": not a regular file");
    unlink(fifo);
    rmdir(dir);

    /* A JSON syntax error in a file still names the line and column. */
    write_temp(fifo, "{ \"hosts\": [\n", 13);
    check_bad_file(fifo, EINVAL, ":2:0: ']' expected near end of file");
    unlink(fifo);

    /* An empty file is bad JSON, not an empty map. */
    write_temp(fifo, "", 0);
    check_bad_file(fifo, EINVAL, ":1:0:");
    unlink(fifo);
}

/* Returns a malloc()ed JSON map with 'n_hosts' hosts and 'n_groups' groups,
 * padded with blanks to at least 'min_len' bytes; stores its length in
 * '*lenp'. */
static char *
big_json(size_t n_hosts, size_t n_groups, size_t min_len, size_t *lenp)
{
    size_t cap = 64 + n_hosts * 48 + n_groups * 64 + min_len;
    char *json = malloc(cap);
    size_t len = 0;

    assert_non_null(json);
    len += snprintf(json + len, cap - len, "{\"hosts\": [");
    for (size_t i = 0; i < n_hosts; i++) {
        len += snprintf(json + len, cap - len,
                        "%s{\"ipv4\": \"10.%zu.%zu.%zu\"}", i ? "," : "",
                        (i >> 16) & 255, (i >> 8) & 255, i & 255);
    }
    len += snprintf(json + len, cap - len, "], \"groups\": [");
    for (size_t i = 0; i < n_groups; i++) {
        len += snprintf(json + len, cap - len,
                        "%s{\"ip\": \"239.1.%zu.%zu\", \"mlid\": %zu}",
                        i ? "," : "", (i >> 8) & 255, i & 255, 0xc001 + i);
    }
    len += snprintf(json + len, cap - len, "]}");
    while (len < min_len) {
        json[len++] = ' ';
    }
    json[len] = '\0';
    *lenp = len;
    return json;
}

/* Maps over IBB_ADDR_MAP_MAX_BYTES or IBB_ADDR_MAP_MAX_ENTRIES are refused
 * with EFBIG and a message that gives the size and the limit; maps right
 * at the limits load. */
static void
test_map_json_limits(void **state)
{
    struct ibb_addr_map *map;
    char name[32], err[512], want[128];
    size_t len;
    char *json;

    (void) state;

    /* Hosts and groups together: the limit exactly, then one more. */
    json = big_json(IBB_ADDR_MAP_MAX_ENTRIES - 100, 100, 0, &len);
    map = ibb_addr_map_create();
    assert_int_equal(ibb_addr_map_load_json_str(map, json, err, sizeof err),
                     0);
    assert_int_equal(ibb_addr_map_n_hosts(map),
                     IBB_ADDR_MAP_MAX_ENTRIES - 100);
    assert_int_equal(ibb_addr_map_n_groups(map), 100);
    ibb_addr_map_destroy(map);
    free(json);

    json = big_json(IBB_ADDR_MAP_MAX_ENTRIES - 100, 101, 0, &len);
    map = ibb_addr_map_create();
    assert_int_equal(ibb_addr_map_load_json_str(map, json, err, sizeof err),
                     EFBIG);
    assert_string_equal(err, "20001 hosts and groups, more than the 20000 a "
                        "map may have (loading a larger map would stall "
                        "ovs-vswitchd; the limit is IBB_ADDR_MAP_MAX_ENTRIES "
                        "in lib/addr-map.h)");
    assert_int_equal(ibb_addr_map_n_hosts(map), 0);
    ibb_addr_map_destroy(map);

    /* The same from a file, whose name starts the message. */
    write_temp(name, json, len);
    snprintf(want, sizeof want, "%s: 20001 hosts and groups, more than the "
             "20000 a map may have", name);
    check_bad_file(name, EFBIG, want);
    unlink(name);
    free(json);

    /* 200000 hosts in 10 MiB, as in the report. */
    json = big_json(200000, 0, 10 * 1024 * 1024, &len);
    assert_int_equal(len, 10485760);
    write_temp(name, json, len);
    snprintf(want, sizeof want, "%s: 10485760 bytes, more than the 4194304 "
             "a map file may have (", name);
    check_bad_file(name, EFBIG, want);
    unlink(name);
    free(json);

    /* Bytes: a few hosts padded to exactly the limit load; one more byte
     * is too many. */
    json = big_json(3, 1, IBB_ADDR_MAP_MAX_BYTES, &len);
    assert_int_equal(len, IBB_ADDR_MAP_MAX_BYTES);
    write_temp(name, json, len);
    map = ibb_addr_map_create();
    assert_int_equal(ibb_addr_map_load_json_file(map, name, err, sizeof err),
                     0);
    assert_int_equal(ibb_addr_map_n_hosts(map), 3);
    assert_int_equal(ibb_addr_map_n_groups(map), 1);
    ibb_addr_map_destroy(map);
    unlink(name);
    free(json);

    json = big_json(3, 1, IBB_ADDR_MAP_MAX_BYTES + 1, &len);
    write_temp(name, json, len);
    snprintf(want, sizeof want, "%s: 4194305 bytes, more than the 4194304 "
             "a map file may have (", name);
    check_bad_file(name, EFBIG, want);
    unlink(name);
    free(json);
}

static void
test_map_learn(void **state)
{
    static const uint8_t mac1[6] = { 2, 0, 0, 0, 0, 2 };
    static const uint8_t mac2[6] = { 2, 0, 0, 0, 0, 3 };
    struct ibb_addr_map *map = ibb_addr_map_create(), *map2;
    const struct ibb_host *h;
    uint8_t ib_ip[16], file_ip[16], r1[16], r2[16], r3[16];

    (void) state;
    assert_int_equal(ibb_addr_map_load_json_str(map,
        "{\"hosts\": [{\"gid\": \"fe80::2:c903:a:b\", \"ipv4\": \"10.0.0.1\"},"
        " {\"ipv4\": \"10.0.0.4\", \"mac\": \"02:00:00:00:00:04\"}]}",
        NULL, 0), 0);
    gid("::ffff:10.0.0.1", ib_ip);
    gid("::ffff:10.0.0.4", file_ip);
    gid("::ffff:10.0.0.2", r1);
    gid("fd00::2", r2);
    gid("::ffff:10.0.0.3", r3);

    /* New, then refreshed with a new MAC; IPv6 too. */
    assert_int_equal(ibb_addr_map_learn_mac(map, r1, mac1, 1000, 2), 0);
    assert_int_equal(ibb_addr_map_learn_mac(map, r1, mac2, 2000, 2), 0);
    h = ibb_addr_map_find_ip(map, r1);
    assert_non_null(h);
    assert_true(h->has_mac && !h->has_gid);
    assert_memory_equal(h->mac, mac2, 6);
    assert_int_equal(ibb_addr_map_learn_mac(map, r2, mac1, 3000, 2), 0);
    assert_int_equal(ibb_addr_map_n_learned(map), 2);
    assert_int_equal(ibb_addr_map_n_hosts(map), 4);

    /* Never for an IB host, never over the file, not beyond the bound. */
    assert_int_equal(ibb_addr_map_learn_mac(map, ib_ip, mac1, 0, 9), EPERM);
    assert_int_equal(ibb_addr_map_learn_mac(map, file_ip, mac1, 0, 9),
                     EEXIST);
    assert_int_equal(ibb_addr_map_learn_mac(map, r3, mac1, 0, 2), ENOSPC);

    /* The kernel's word: over a learned entry, not over the file's. */
    {
        static const uint8_t mac3[6] = { 2, 0, 0, 0, 0, 0x33 };

        assert_int_equal(ibb_addr_map_set_kernel_mac(map, r2, mac3, 4000),
                         0);
        assert_int_equal(ibb_addr_map_n_learned(map), 1);
        assert_memory_equal(ibb_addr_map_find_ip(map, r2)->mac, mac3, 6);
        assert_int_equal(ibb_addr_map_set_kernel_mac(map, file_ip, mac3, 0),
                         EEXIST);
        assert_int_equal(ibb_addr_map_set_kernel_mac(map, ib_ip, mac3, 0),
                         EPERM);
        /* Learning does not change it; only its own source deletes it. */
        assert_int_equal(ibb_addr_map_learn_mac(map, r2, mac1, 0, 9), EEXIST);
        assert_int_equal(ibb_addr_map_del_ip_from(map, r2, IBB_HOST_LEARNED),
                         ENOENT);
        assert_int_equal(ibb_addr_map_del_ip_from(map, r2, IBB_HOST_KERNEL),
                         0);
        assert_null(ibb_addr_map_find_ip(map, r2));
        assert_int_equal(ibb_addr_map_learn_mac(map, r2, mac1, 3000, 2), 0);
    }

    /* Kept across a reload. */
    map2 = ibb_addr_map_create();
    assert_int_equal(ibb_addr_map_copy_runtime(map2, map), 2);
    assert_non_null(ibb_addr_map_find_ip(map2, r2));
    ibb_addr_map_destroy(map2);

    /* Deleting: never the file's; flushing: learned only, then all. */
    {
        struct ibb_host added = { .has_ipv4 = true, .has_mac = true };
        uint8_t r5[16];

        gid("::ffff:10.0.0.5", r5);
        memcpy(added.ipv4, r5, 16);
        assert_int_equal(ibb_addr_map_add_host_from(map, &added,
                                                    IBB_HOST_ADDED, 0), 0);
        assert_int_equal(ibb_addr_map_del_ip(map, file_ip), EPERM);
        assert_int_equal(ibb_addr_map_del_ip(map, r3), ENOENT);
        assert_int_equal(ibb_addr_map_del_ip(map, r5), 0);
        assert_null(ibb_addr_map_find_ip(map, r5));
        assert_int_equal(ibb_addr_map_add_host_from(map, &added,
                                                    IBB_HOST_ADDED, 0), 0);
        map2 = ibb_addr_map_create();
        ibb_addr_map_copy_runtime(map2, map);
        assert_int_equal(ibb_addr_map_n_hosts(map2), 3);
        assert_int_equal(ibb_addr_map_flush(map2, true), 2);
        assert_int_equal(ibb_addr_map_flush(map2, false), 1);
        assert_int_equal(ibb_addr_map_n_hosts(map2), 0);
        ibb_addr_map_destroy(map2);
        assert_int_equal(ibb_addr_map_del_ip(map, r5), 0);
        assert_string_equal(ibb_host_source_name(IBB_HOST_LEARNED),
                            "learned");
    }

    /* r1 was seen at 2000, r2 at 3000: at 5500 with 3000 ms, r1 goes. */
    assert_int_equal(ibb_addr_map_expire_learned(map, 5500, 3000), 1);
    assert_null(ibb_addr_map_find_ip(map, r1));
    assert_non_null(ibb_addr_map_find_ip(map, r2));
    assert_non_null(ibb_addr_map_find_ip(map, file_ip));
    assert_int_equal(ibb_addr_map_expire_learned(map, 6000, 3000), 1);
    assert_int_equal(ibb_addr_map_n_learned(map), 0);
    assert_int_equal(ibb_addr_map_n_hosts(map), 2);
    ibb_addr_map_destroy(map);
}

/* Host 'i' of the tests below: i % 3 == 0 an IB host (GID, LID, IPv4, an
 * IPoIB QPN), 1 a RoCE host with IPv4, IPv6 and a MAC, 2 a RoCE host with
 * IPv4 and a MAC. */
static void
test_host(uint32_t i, struct ibb_host *h)
{
    memset(h, 0, sizeof *h);
    h->has_ipv4 = true;
    h->ipv4[10] = h->ipv4[11] = 0xff;
    h->ipv4[12] = 10;
    h->ipv4[13] = i >> 16;
    h->ipv4[14] = i >> 8;
    h->ipv4[15] = i;
    if (i % 3 == 0) {
        h->has_gid = true;
        h->gid[0] = 0xfe;
        h->gid[1] = 0x80;
        memcpy(h->gid + 12, &i, 4);
        h->lid = i / 3 + 1;
        h->qpn = 0x40 + i;
    } else {
        h->has_mac = true;
        h->mac[0] = 2;
        memcpy(h->mac + 2, &i, 4);
        if (i % 3 == 1) {
            h->has_ipv6 = true;
            h->ipv6[0] = 0xfd;
            memcpy(h->ipv6 + 12, &i, 4);
        }
    }
}

/* Checks that 'map' finds host 'i' by each of its keys if 'present',
 * else by none. */
static void
check_host(const struct ibb_addr_map *map, uint32_t i, bool present)
{
    const struct ibb_host *found;
    struct ibb_host h;

    test_host(i, &h);
    found = ibb_addr_map_find_ip(map, h.ipv4);
    if (!present) {
        assert_null(found);
        assert_true(!h.has_ipv6 || !ibb_addr_map_find_ip(map, h.ipv6));
        assert_true(!h.has_gid || !ibb_addr_map_find_gid(map, h.gid));
        assert_true(!h.lid || !ibb_addr_map_find_lid(map, h.lid));
        assert_true(!h.has_mac || !ibb_addr_map_find_mac(map, h.mac));
        return;
    }
    assert_non_null(found);
    assert_memory_equal(found, &h, sizeof h);
    if (h.has_ipv6) {
        assert_ptr_equal(ibb_addr_map_find_ip(map, h.ipv6), found);
    }
    if (h.has_gid) {
        assert_ptr_equal(ibb_addr_map_find_gid(map, h.gid), found);
    }
    if (h.lid) {
        assert_ptr_equal(ibb_addr_map_find_lid(map, h.lid), found);
    }
    if (h.has_mac) {
        assert_ptr_equal(ibb_addr_map_find_mac(map, h.mac), found);
    }
}

static void
test_map_find_mac(void **state)
{
    static const uint8_t mac1[6] = { 2, 0, 0, 0, 0, 1 };
    static const uint8_t mac2[6] = { 2, 0, 0, 0, 0, 2 };
    static const uint8_t mac3[6] = { 2, 0, 0, 0, 0, 3 };
    struct ibb_addr_map *map = ibb_addr_map_create();
    const struct ibb_host *h4, *h6;
    uint8_t ip4[16], ip6[16];

    (void) state;
    gid("10.0.0.1", ip4);
    gid("fd00::1", ip6);
    assert_null(ibb_addr_map_find_mac(map, mac1));

    /* A RoCE host's IPv4 and IPv6 addresses, learned as two hosts with
     * one MAC: either is found by it, until both are gone. */
    assert_int_equal(ibb_addr_map_learn_mac(map, ip4, mac1, 0, 9), 0);
    assert_int_equal(ibb_addr_map_learn_mac(map, ip6, mac1, 0, 9), 0);
    h4 = ibb_addr_map_find_ip(map, ip4);
    h6 = ibb_addr_map_find_ip(map, ip6);
    assert_true(ibb_addr_map_find_mac(map, mac1) == h4
                || ibb_addr_map_find_mac(map, mac1) == h6);
    assert_int_equal(ibb_addr_map_del_ip(map, ip4), 0);
    assert_ptr_equal(ibb_addr_map_find_mac(map, mac1), h6);

    /* A new MAC, learned or from the kernel, replaces the old one in the
     * index. */
    assert_int_equal(ibb_addr_map_learn_mac(map, ip6, mac2, 1, 9), 0);
    assert_null(ibb_addr_map_find_mac(map, mac1));
    assert_ptr_equal(ibb_addr_map_find_mac(map, mac2), h6);
    assert_int_equal(ibb_addr_map_set_kernel_mac(map, ip6, mac3, 2), 0);
    assert_null(ibb_addr_map_find_mac(map, mac2));
    assert_ptr_equal(ibb_addr_map_find_mac(map, mac3), h6);
    assert_int_equal(ibb_addr_map_del_ip(map, ip6), 0);
    assert_null(ibb_addr_map_find_mac(map, mac3));
    assert_int_equal(ibb_addr_map_n_hosts(map), 0);

    /* From the map file. */
    assert_int_equal(ibb_addr_map_load_json_str(map, good_json, NULL, 0), 0);
    gid("10.0.0.2", ip4);
    assert_ptr_equal(ibb_addr_map_find_mac(map, (const uint8_t *)
                                           "\x02\0\0\0\0\x02"),
                     ibb_addr_map_find_ip(map, ip4));
    ibb_addr_map_destroy(map);
}

static void
test_map_qpn(void **state)
{
    struct ibb_addr_map *map = ibb_addr_map_create(), *map2;
    struct ibb_host h;
    uint8_t a[16];
    char err[256];

    (void) state;
    assert_int_equal(ibb_addr_map_load_json_str(map,
        "{\"hosts\": [{\"gid\": \"fe80::1\", \"ipv4\": \"10.0.0.1\","
        " \"qpn\": 72}]}", err, sizeof err), 0);
    gid("10.0.0.1", a);
    assert_int_equal(ibb_addr_map_find_ip(map, a)->qpn, 72);
    assert_true(ibb_host_is_ib(ibb_addr_map_find_ip(map, a)));
    check_bad("{\"hosts\": [{\"gid\": \"fe80::1\", \"qpn\": 0}]}",
              "hosts[0].qpn");
    check_bad("{\"hosts\": [{\"gid\": \"fe80::1\", \"qpn\": 16777216}]}",
              "hosts[0].qpn");

    /* Added at run time, kept across a reload. */
    test_host(3, &h);
    assert_int_equal(ibb_addr_map_add_host_from(map, &h, IBB_HOST_ADDED, 5),
                     0);
    map2 = ibb_addr_map_create();
    assert_int_equal(ibb_addr_map_copy_runtime(map2, map), 1);
    assert_int_equal(ibb_addr_map_find_gid(map2, h.gid)->qpn, 0x43);
    ibb_addr_map_destroy(map2);

    h.qpn = 0x1000000;
    h.ipv4[15]++;
    h.gid[15]++;
    h.lid++;
    assert_int_equal(ibb_addr_map_add_host_from(map, &h, IBB_HOST_ADDED, 5),
                     EINVAL);
    /* An IPv4-mapped IPv6 address would hide from find_ip(). */
    test_host(1, &h);
    memcpy(h.ipv6, h.ipv4, 16);
    assert_int_equal(ibb_addr_map_add_host(map, &h), EINVAL);
    ibb_addr_map_destroy(map);
}

/* Hosts from ARP, ND or IPoIB ARP rank above those learned from traffic,
 * below the kernel's, and age out like them. */
static void
test_map_arp(void **state)
{
    static const uint8_t mac1[6] = { 2, 0, 0, 0, 0, 1 };
    static const uint8_t mac2[6] = { 2, 0, 0, 0, 0, 2 };
    struct ibb_addr_map *map = ibb_addr_map_create();
    struct ibb_host h;
    uint8_t ip[16], ib_ip[16];

    (void) state;
    assert_string_equal(ibb_host_source_name(IBB_HOST_ARP), "arp");
    gid("10.0.0.1", ip);
    ibb_host_init_ip_mac(&h, ip, mac1);
    assert_int_equal(ibb_addr_map_add_host_from(map, &h, IBB_HOST_ARP, 100),
                     0);
    test_host(0, &h);           /* An IB host from IPoIB ARP. */
    memcpy(ib_ip, h.ipv4, 16);
    assert_int_equal(ibb_addr_map_add_host_from(map, &h, IBB_HOST_ARP, 100),
                     0);
    assert_int_equal(ibb_addr_map_n_learned(map), 2);

    /* Traffic does not change it, but keeps it alive if it agrees. */
    assert_int_equal(ibb_addr_map_learn_mac(map, ip, mac2, 200, 9), EEXIST);
    assert_int_equal(ibb_addr_map_learn_mac(map, ip, mac1, 200, 9), 0);
    assert_int_equal(ibb_addr_map_learn_mac(map, ib_ip, mac1, 200, 9),
                     EPERM);
    assert_int_equal(ibb_addr_map_expire_learned(map, 250, 100), 1);
    assert_null(ibb_addr_map_find_ip(map, ib_ip));
    assert_non_null(ibb_addr_map_find_ip(map, ip));

    /* The kernel's word is better. */
    assert_int_equal(ibb_addr_map_set_kernel_mac(map, ip, mac2, 300), 0);
    assert_memory_equal(ibb_addr_map_find_ip(map, ip)->mac, mac2, 6);
    assert_int_equal(ibb_addr_map_n_learned(map), 0);
    assert_int_equal(ibb_addr_map_flush_source(map, IBB_HOST_KERNEL), 1);

    /* Flushed as learned. */
    ibb_host_init_ip_mac(&h, ip, mac1);
    assert_int_equal(ibb_addr_map_add_host_from(map, &h, IBB_HOST_ARP, 0),
                     0);
    assert_int_equal(ibb_addr_map_flush(map, true), 1);
    assert_int_equal(ibb_addr_map_n_hosts(map), 0);
    assert_int_equal(ibb_addr_map_n_learned(map), 0);
    ibb_addr_map_destroy(map);
}

/* A host deleted and added again is found again, by all its keys, and the
 * other hosts stay found. */
static void
test_map_del_readd(void **state)
{
    struct ibb_addr_map *map = ibb_addr_map_create();
    struct ibb_host h;

    (void) state;
    for (uint32_t i = 0; i < 30; i++) {
        test_host(i, &h);
        assert_int_equal(ibb_addr_map_add_host_from(map, &h, IBB_HOST_ADDED,
                                                    i), 0);
    }
    for (uint32_t round = 0; round < 3; round++) {
        for (uint32_t i = round; i < 30; i += 3) {
            test_host(i, &h);
            assert_int_equal(ibb_addr_map_del_ip(map, h.ipv4), 0);
            check_host(map, i, false);
            assert_int_equal(ibb_addr_map_del_ip(map, h.ipv4), ENOENT);
            assert_int_equal(ibb_addr_map_add_host_from(map, &h,
                                                        IBB_HOST_ADDED, 0),
                             0);
            assert_int_equal(ibb_addr_map_add_host_from(map, &h,
                                                        IBB_HOST_ADDED, 0),
                             EEXIST);
        }
        for (uint32_t i = 0; i < 30; i++) {
            check_host(map, i, true);
        }
    }
    assert_int_equal(ibb_addr_map_n_hosts(map), 30);
    ibb_addr_map_destroy(map);
}

#define CHURN_HOSTS 3000

struct churn_ref {
    bool present[CHURN_HOSTS];  /* Host i is in the map. */
    uint64_t added[CHURN_HOSTS]; /* When it was added, as a count. */
    uint64_t last;              /* The last host seen by foreach. */
    size_t n;                   /* Hosts seen by foreach. */
};

static void
churn_visit(const struct ibb_host *h, enum ibb_host_source source,
            long long int last_seen, void *ref_)
{
    struct churn_ref *ref = ref_;
    uint32_t i = ((uint32_t) h->ipv4[13] << 16 | h->ipv4[14] << 8
                  | h->ipv4[15]);

    assert_int_equal(source, IBB_HOST_ADDED);
    assert_true(i < CHURN_HOSTS && ref->present[i]);
    assert_int_equal(last_seen, ref->added[i]);
    /* Newest first. */
    assert_true(!ref->n || ref->added[i] < ref->last);
    ref->last = ref->added[i];
    ref->n++;
}

/* 100000 random adds and deletes, with the map grown and shrunk several
 * times over, checked against a plain array: a deletion that breaks a
 * probe sequence, or a resize that loses a key, shows up as a host not
 * found (or found after its deletion). */
static void
test_map_churn(void **state)
{
    struct ibb_addr_map *map = ibb_addr_map_create();
    struct churn_ref *ref = calloc(1, sizeof *ref);
    size_t empty_bytes = ibb_addr_map_bytes(map);
    uint64_t rng = 12345;
    size_t n = 0;

    (void) state;
    assert_non_null(ref);
    for (uint64_t op = 1; op <= 100000; op++) {
        /* Phases of 20000 operations: mostly adds, then mostly deletes. */
        bool grow = (op / 20000) % 2 == 0;
        struct ibb_host h;
        uint32_t i;

        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        i = (rng >> 33) % CHURN_HOSTS;
        test_host(i, &h);
        if ((rng >> 20) % 8 < (grow ? 6 : 1)) {
            assert_int_equal(ibb_addr_map_add_host_from(map, &h,
                                                        IBB_HOST_ADDED, op),
                             ref->present[i] ? EEXIST : 0);
            if (!ref->present[i]) {
                ref->present[i] = true;
                ref->added[i] = op;
                n++;
            }
        } else {
            assert_int_equal(ibb_addr_map_del_ip(map, h.ipv4),
                             ref->present[i] ? 0 : ENOENT);
            n -= ref->present[i];
            ref->present[i] = false;
        }
        assert_int_equal(ibb_addr_map_n_hosts(map), n);
        if (op % 5000 == 0) {
            for (i = 0; i < CHURN_HOSTS; i++) {
                check_host(map, i, ref->present[i]);
            }
            ref->n = 0;
            ibb_addr_map_foreach_host(map, churn_visit, ref);
            assert_int_equal(ref->n, n);
        }
    }

    /* Deleting every host gives the memory back. */
    assert_int_equal(ibb_addr_map_flush(map, false), n);
    assert_int_equal(ibb_addr_map_bytes(map), empty_bytes);
    assert_int_equal(ibb_addr_map_bytes(NULL), 0);
    free(ref);
    ibb_addr_map_destroy(map);
}

/* Growing from empty to 50000 hosts rehashes each index many times and
 * fills small and large record chunks; every host stays found, the memory
 * per host stays bounded, a batch lookup finds what single ones do, and
 * a flush finds every host again. */
static void
test_map_grow(void **state)
{
    enum { N = 50000 };
    struct ibb_addr_map *map = ibb_addr_map_create();
    size_t empty_bytes = ibb_addr_map_bytes(map);
    const struct ibb_host *first;
    const struct ibb_host *hosts[70];
    const uint8_t *ips[70];
    uint8_t addrs[70][16];
    struct ibb_host h;

    (void) state;
    test_host(0, &h);
    assert_int_equal(ibb_addr_map_add_host_from(map, &h, IBB_HOST_ADDED, 0),
                     0);
    first = ibb_addr_map_find_ip(map, h.ipv4);
    for (uint32_t i = 1; i < N; i++) {
        test_host(i, &h);
        assert_int_equal(ibb_addr_map_add_host_from(map, &h, IBB_HOST_ADDED,
                                                    i), 0);
    }
    for (uint32_t i = 0; i < N; i++) {
        check_host(map, i, true);
    }
    /* Records never move. */
    test_host(0, &h);
    assert_ptr_equal(ibb_addr_map_find_ip(map, h.ipv4), first);
    assert_int_equal(ibb_addr_map_n_hosts(map), N);
    assert_true(ibb_addr_map_bytes(map) / N < 256);

    /* Hits and misses, in more than one batch. */
    for (uint32_t k = 0; k < 70; k++) {
        test_host(k * 997 % (N + N / 2), &h);
        memcpy(addrs[k], k % 2 ? h.ipv4 : h.ipv6, 16);
        ips[k] = addrs[k];
    }
    ibb_addr_map_find_ip_batch(map, ips, 70, hosts);
    for (uint32_t k = 0; k < 70; k++) {
        assert_ptr_equal(hosts[k], ibb_addr_map_find_ip(map, ips[k]));
    }

    /* A sweep goes through every chunk, the small ones' unused record
     * numbers skipped. */
    assert_int_equal(ibb_addr_map_flush(map, false), N);
    assert_int_equal(ibb_addr_map_bytes(map), empty_bytes);
    ibb_addr_map_destroy(map);
}

static void
test_drop_names(void **state)
{
    (void) state;
    assert_string_equal(ibb_drop_name(IBB_DROP_NONE), "ok");
    assert_string_equal(ibb_drop_name(IBB_DROP_BAD_ICRC), "bad_icrc");
    assert_string_equal(ibb_drop_desc(IBB_DROP_BAD_VCRC), "bad VCRC");
    assert_string_equal(ibb_drop_name(IBB_DROP_N_REASONS), "unknown");
    for (int i = 0; i < IBB_DROP_N_REASONS; i++) {
        assert_non_null(ibb_drop_name(i));
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(ibb_drop_name(i), ibb_drop_name(j));
        }
    }
}

/* RoCE hosts' own ARP and ND: better than traffic, below the rest. */
static void
test_map_learn_arp(void **state)
{
    static const uint8_t m1[6] = { 2, 0, 0, 0, 0, 1 };
    static const uint8_t m2[6] = { 2, 0, 0, 0, 0, 2 };
    struct ibb_addr_map *map = ibb_addr_map_create();
    uint8_t ip1[16], ip2[16], ib[16];
    const struct ibb_host *h;

    (void) state;
    assert_int_equal(ibb_addr_map_load_json_str(map,
        "{\"hosts\": [{\"gid\": \"fe80::3\", \"ipv4\": \"10.0.0.3\"},"
        " {\"ipv4\": \"10.0.0.4\", \"mac\": \"02:00:00:00:00:04\"}]}",
        NULL, 0), 0);
    gid("10.0.0.1", ip1);
    gid("10.0.0.2", ip2);
    gid("10.0.0.3", ib);

    /* Traffic first, then the host's ARP with another MAC: ARP wins. */
    assert_int_equal(ibb_addr_map_learn_mac(map, ip1, m1, 100, 10), 0);
    assert_int_equal(ibb_addr_map_learn_arp(map, ip1, m2, 200, 10), 0);
    h = ibb_addr_map_find_ip(map, ip1);
    assert_memory_equal(h->mac, m2, 6);
    assert_ptr_equal(ibb_addr_map_find_mac(map, m2), h);
    assert_null(ibb_addr_map_find_mac(map, m1));
    /* Traffic does not change it back, but refreshes it if it agrees,
     * which is no change to keep in step with. */
    uint64_t gen = ibb_addr_map_generation(map);
    assert_int_equal(ibb_addr_map_learn_mac(map, ip1, m1, 300, 10), EEXIST);
    assert_int_equal(ibb_addr_map_learn_mac(map, ip1, m2, 300, 10), 0);
    assert_true(ibb_addr_map_generation(map) == gen);
    assert_int_equal(ibb_addr_map_expire_learned(map, 1000, 800), 0);
    /* A new ARP host; the limit; an IB host's or the file's address. */
    assert_int_equal(ibb_addr_map_learn_arp(map, ip2, m1, 400, 10), 0);
    assert_true(ibb_addr_map_generation(map) != gen);
    assert_int_equal(ibb_addr_map_n_learned(map), 2);
    gid("10.0.0.9", ip2);
    assert_int_equal(ibb_addr_map_learn_arp(map, ip2, m1, 400, 2), ENOSPC);
    assert_int_equal(ibb_addr_map_learn_arp(map, ib, m1, 400, 10), EPERM);
    gid("10.0.0.4", ip2);
    assert_int_equal(ibb_addr_map_learn_arp(map, ip2, m1, 400, 10), EEXIST);
    ibb_addr_map_destroy(map);
}

/* IB hosts learned from IPoIB ARP and IPoIB kernel neighbours, refreshed
 * by their traffic, never over a higher source or a RoCE host. */
static void
test_map_learn_ib(void **state)
{
    struct ibb_addr_map *map = ibb_addr_map_create();
    uint8_t g1[16], g2[16], g3[16], ip1[16], ip2[16], ip3[16], r1[16];
    const struct ibb_host *h;

    (void) state;
    assert_int_equal(ibb_addr_map_load_json_str(map,
        "{\"hosts\": [{\"gid\": \"fe80::3\", \"lid\": 3,"
        " \"ipv4\": \"10.0.0.3\"},"
        " {\"ipv4\": \"10.0.0.2\", \"mac\": \"02:00:00:00:00:02\"}]}",
        NULL, 0), 0);
    gid("fe80::1", g1);
    gid("fe80::2", g2);
    gid("fe80::3", g3);
    gid("10.0.0.1", ip1);
    gid("10.0.0.9", ip2);
    gid("10.0.0.3", ip3);
    gid("10.0.0.2", r1);

    /* From an ARP: a learned IB host, found by IP, GID and LID. */
    assert_int_equal(ibb_addr_map_learn_ib(map, ip1, g1, 7, 0x48,
                                           IBB_HOST_ARP, 1000, 10), 0);
    h = ibb_addr_map_find_ip(map, ip1);
    assert_non_null(h);
    assert_true(ibb_host_is_ib(h));
    assert_int_equal(h->qpn, 0x48);
    assert_ptr_equal(ibb_addr_map_find_gid(map, g1), h);
    assert_ptr_equal(ibb_addr_map_find_lid(map, 7), h);
    assert_int_equal(ibb_addr_map_n_learned(map), 1);

    /* Never over the file's IB host or a RoCE host. */
    assert_int_equal(ibb_addr_map_learn_ib(map, ip3, g2, 0, 0, IBB_HOST_ARP,
                                           1000, 10), EEXIST);
    assert_int_equal(ibb_addr_map_learn_ib(map, ip2, g3, 0, 0, IBB_HOST_ARP,
                                           1000, 10), EEXIST);
    assert_int_equal(ibb_addr_map_learn_ib(map, r1, g2, 0, 0, IBB_HOST_ARP,
                                           1000, 10), EPERM);
    /* What agrees with the file changes nothing, a QPN it lacks too. */
    assert_int_equal(ibb_addr_map_learn_ib(map, ip3, g3, 3, 0x77,
                                           IBB_HOST_ARP, 1000, 10), 0);
    assert_int_equal(ibb_addr_map_find_ip(map, ip3)->qpn, 0);
    /* A LID another host has is left out. */
    assert_int_equal(ibb_addr_map_learn_ib(map, ip2, g2, 3, 0, IBB_HOST_ARP,
                                           1000, 10), 0);
    assert_int_equal(ibb_addr_map_find_ip(map, ip2)->lid, 0);
    {
        uint8_t g8[16], ip8[16];

        gid("fe80::8", g8);
        gid("10.0.0.8", ip8);
        assert_int_equal(ibb_addr_map_learn_ib(map, ip8, g8, 0, 0,
                                               IBB_HOST_ARP, 1000, 2),
                         ENOSPC);
    }

    /* Traffic refreshes the age and fills the LID; the sweep keeps it. */
    assert_true(ibb_addr_map_touch_ib(map, g2, 9, 5000));
    assert_int_equal(ibb_addr_map_find_ip(map, ip2)->lid, 9);
    assert_int_equal(ibb_addr_map_expire_learned(map, 5500, 4000), 1);
    assert_null(ibb_addr_map_find_ip(map, ip1));
    assert_non_null(ibb_addr_map_find_lid(map, 9));
    assert_false(ibb_addr_map_touch_ib(map, g1, 7, 6000));

    /* A host that moved: the GID's old address goes. */
    assert_int_equal(ibb_addr_map_learn_ib(map, ip1, g2, 9, 0, IBB_HOST_ARP,
                                           7000, 10), 0);
    assert_null(ibb_addr_map_find_ip(map, ip2));
    assert_ptr_equal(ibb_addr_map_find_gid(map, g2),
                     ibb_addr_map_find_ip(map, ip1));

    /* The kernel's word takes over an ARP entry and does not age. */
    assert_int_equal(ibb_addr_map_learn_ib(map, ip1, g2, 0, 0x99,
                                           IBB_HOST_KERNEL, 8000, 10), 0);
    assert_int_equal(ibb_addr_map_find_ip(map, ip1)->qpn, 0x99);
    assert_int_equal(ibb_addr_map_n_learned(map), 0);
    /* Replaced whole (each address keeps its source's lifetime): the LID
     * the ARP entry had comes back with the host's traffic. */
    assert_int_equal(ibb_addr_map_find_ip(map, ip1)->lid, 0);
    assert_true(ibb_addr_map_touch_ib(map, g2, 9, 8500));
    assert_int_equal(ibb_addr_map_find_ip(map, ip1)->lid, 9);
    assert_int_equal(ibb_addr_map_learn_ib(map, ip1, g1, 0, 0, IBB_HOST_ARP,
                                           9000, 10), EEXIST);
    assert_int_equal(ibb_addr_map_learn_ib(map, ip1, g1, 0, 0, IBB_HOST_ARP,
                                           9000, 10), EEXIST);
    /* Its IPv6 address joins the same host. */
    {
        uint8_t ip6[16];

        gid("fd00::1", ip6);
        assert_int_equal(ibb_addr_map_learn_ib(map, ip6, g2, 0, 0,
                                               IBB_HOST_KERNEL, 9000, 10), 0);
        assert_ptr_equal(ibb_addr_map_find_ip(map, ip6),
                         ibb_addr_map_find_ip(map, ip1));
    }
    gid("ff12:401b::1", g1);
    assert_int_equal(ibb_addr_map_learn_ib(map, ip2, g1, 0, 0, IBB_HOST_ARP,
                                           9000, 10), EINVAL);
    ibb_addr_map_destroy(map);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gid),
        cmocka_unit_test(test_mgid),
        cmocka_unit_test(test_mcast_mac),
        cmocka_unit_test(test_mgid_format_names),
        cmocka_unit_test(test_map_json),
        cmocka_unit_test(test_map_json_errors),
        cmocka_unit_test(test_map_json_file),
        cmocka_unit_test(test_map_json_not_a_file),
        cmocka_unit_test(test_map_json_limits),
        cmocka_unit_test(test_map_learn),
        cmocka_unit_test(test_map_find_mac),
        cmocka_unit_test(test_map_qpn),
        cmocka_unit_test(test_map_arp),
        cmocka_unit_test(test_map_learn_ib),
        cmocka_unit_test(test_map_learn_arp),
        cmocka_unit_test(test_map_del_readd),
        cmocka_unit_test(test_map_churn),
        cmocka_unit_test(test_map_grow),
        cmocka_unit_test(test_drop_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
