/*
 * Unit tests for lib/ibb-neigh.c, the ARP and ND responder, and
 * lib/ibb-ipoib-arp.c, IPoIB ARP.
 *
 * Requests and expected answers were built with scapy (Ether, Dot1Q, ARP,
 * IPv6, ICMPv6ND_NS/NA and their link-layer address options), independently
 * of the responder; answers must match them byte for byte (ARP answers are
 * padded to the 60-byte Ethernet minimum, as a NIC sends them).
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
#include "ibb-ipoib-arp.h"
#include "ibb-neigh.h"
#include "test-pkt.h"

static const uint8_t bridge_mac[6] = { 0x02, 0x1b, 0, 0, 0, 0x01 };

/* h1 (an IB host) 10.0.0.1 and fd00::1; r1 (a RoCE host) 10.0.0.2 and
 * fd00::2. */
static const char map_json[] =
    "{\"hosts\": ["
    "{\"gid\": \"fe80::2:c903:a:b\", \"lid\": 10, \"ipv4\": \"10.0.0.1\","
    " \"ipv6\": \"fd00::1\"},"
    "{\"ipv4\": \"10.0.0.2\", \"ipv6\": \"fd00::2\","
    " \"mac\": \"02:00:00:00:00:02\"}]}";

static int
setup(void **state)
{
    struct ibb_addr_map *map = ibb_addr_map_create();

    assert_int_equal(ibb_addr_map_load_json_str(map, map_json, NULL, 0), 0);
    *state = map;
    return 0;
}

static int
teardown(void **state)
{
    ibb_addr_map_destroy(*state);
    return 0;
}

/* Asks the responder about 'req_hex'; checks the result and, for an
 * answer, that it is 'want_hex' followed by 'pad' zero bytes. */
static void
check(void **state, const char *req_hex, enum ibb_neigh_result want,
      const char *want_hex, size_t pad)
{
    uint8_t req[256], expect[256], reply[IBB_NEIGH_REPLY_MAX];
    size_t req_len = tp_unhex(req_hex, req);
    size_t reply_len = 0, n;

    assert_int_equal(ibb_neigh_answer(*state, bridge_mac, req, req_len,
                                      reply, &reply_len), want);
    if (want_hex) {
        n = tp_unhex(want_hex, expect);
        memset(expect + n, 0, pad);
        assert_int_equal(reply_len, n + pad);
        assert_memory_equal(reply, expect, n + pad);
    }
}

#define ARP_REQ_H1 "ffffffffffff020000000002080600010800060400010200000000" \
                   "020a0000020000000000000a000001"

static void
test_arp(void **state)
{
    /* For h1: answered with the bridge MAC. */
    check(state, ARP_REQ_H1, IBB_NEIGH_ANSWERED_ARP,
          "020000000002021b0000000108060001080006040002021b000000010a0000"
          "010200000000020a000002", 18);
    /* With an 802.1Q tag, kept. */
    check(state, "ffffffffffff020000000002810000050806000108000604000102000"
          "00000020a0000020000000000000a000001", IBB_NEIGH_ANSWERED_ARP,
          "020000000002021b000000018100000508060001080006040002021b000000"
          "010a0000010200000000020a000002", 14);
    /* For r1 (asked by 10.0.0.5), a RoCE host whose own stack answers;
     * for no one. */
    check(state, "ffffffffffff020000000005080600010800060400010200000000050"
          "a0000050000000000000a000002", IBB_NEIGH_NOT_IB_HOST, NULL, 0);
    check(state, "ffffffffffff020000000002080600010800060400010200000000020"
          "a0000020000000000000a000063", IBB_NEIGH_NOT_IB_HOST, NULL, 0);
    /* A reply, a gratuitous ARP: nothing to answer. */
    check(state, "ffffffffffff020000000002080600010800060400020200000000020"
          "a0000020000000000000a000001", IBB_NEIGH_IGNORED, NULL, 0);
    check(state, "ffffffffffff020000000002080600010800060400010200000000020"
          "a0000010000000000000a000001", IBB_NEIGH_IGNORED, NULL, 0);
    /* Cut short; a multicast sender. */
    check(state, "ffffffffffff0200000000020806000108000604000102",
          IBB_NEIGH_MALFORMED, NULL, 0);
    check(state, "ffffffffffff020000000002080600010800060400010300000000020"
          "a0000020000000000000a000001", IBB_NEIGH_MALFORMED, NULL, 0);
    /* Not ARP at all. */
    check(state, "ffffffffffff02000000000288b5000102", IBB_NEIGH_NOT_NEIGH,
          NULL, 0);
}

#define NS_H1 "3333ff00000102000000000286dd6000000000203afffd0000000000000" \
              "00000000000000002ff0200000000000000000001ff00000187007d9700" \
              "000000fd0000000000000000000000000000010101020000000002"

static void
test_nd(void **state)
{
    char bad[sizeof NS_H1];

    /* For h1: a solicited advertisement, Override clear. */
    check(state, NS_H1, IBB_NEIGH_ANSWERED_ND,
          "020000000002021b0000000186dd6000000000203afffd00000000000000000000"
          "0000000001fd00000000000000000000000000000288003c8140000000fd0000"
          "000000000000000000000000010201021b00000001", 0);
    /* Duplicate address detection: to all nodes, not solicited. */
    check(state, "3333ff00000102000000000286dd6000000000183aff00000000000000"
          "000000000000000000ff0200000000000000000001ff00000187007da500000000"
          "fd000000000000000000000000000001", IBB_NEIGH_ANSWERED_ND,
          "333300000001021b0000000186dd6000000000203afffd00000000000000000000"
          "0000000001ff02000000000000000000000000000188007a8000000000fd0000"
          "000000000000000000000000010201021b00000001", 0);
    /* A bad checksum; a hop limit other than 255. */
    strcpy(bad, NS_H1);
    memcpy(bad + 2 * 56, "0000", 4);
    check(state, bad, IBB_NEIGH_MALFORMED, NULL, 0);
    strcpy(bad, NS_H1);
    memcpy(bad + 2 * 21, "40", 2);
    check(state, bad, IBB_NEIGH_MALFORMED, NULL, 0);
    /* From a multicast source (ff02::1), checksum right. */
    check(state, "3333ff00000102000000000286dd6000000000203affff0200000000"
          "00000000000000000001ff0200000000000000000001ff00000187007b960000"
          "0000fd0000000000000000000000000000010101020000000002",
          IBB_NEIGH_MALFORMED, NULL, 0);
}

/* What the bridge learns from: the sender of ARP, the source of a
 * solicitation with its link-layer address option. */
static void
test_sender(void **state)
{
    static const uint8_t r1_mac[6] = { 2, 0, 0, 0, 0, 2 };
    uint8_t frame[256], ip[16], want[16], mac[6];
    size_t len;

    (void) state;
    len = tp_unhex(ARP_REQ_H1, frame);
    assert_true(ibb_neigh_sender(frame, len, ip, mac));
    assert_int_equal(ibb_gid_parse("10.0.0.2", want), 0);
    assert_memory_equal(ip, want, 16);
    assert_memory_equal(mac, r1_mac, 6);
    /* A reply teaches too. */
    len = tp_unhex("ffffffffffff020000000002080600010800060400020200000000020"
                "a0000020000000000000a000001", frame);
    assert_true(ibb_neigh_sender(frame, len, ip, mac));

    len = tp_unhex(NS_H1, frame);
    assert_true(ibb_neigh_sender(frame, len, ip, mac));
    assert_int_equal(ibb_gid_parse("fd00::2", want), 0);
    assert_memory_equal(ip, want, 16);
    assert_memory_equal(mac, r1_mac, 6);

    /* Not from a probe (0.0.0.0), nor for another's MAC (the hardware
     * address is not the frame's source), nor a DAD solicitation. */
    len = tp_unhex("ffffffffffff020000000002080600010800060400010200000000020"
                "000000000000000000000000a000001", frame);
    assert_false(ibb_neigh_sender(frame, len, ip, mac));
    len = tp_unhex("ffffffffffff020000000009080600010800060400010200000000020"
                "a0000020000000000000a000001", frame);
    assert_false(ibb_neigh_sender(frame, len, ip, mac));
    len = tp_unhex("3333ff00000102000000000286dd6000000000183aff0000000000000"
                "0000000000000000000ff0200000000000000000001ff00000187007da5"
                "00000000fd000000000000000000000000000001", frame);
    assert_false(ibb_neigh_sender(frame, len, ip, mac));
    /* Cut short. */
    assert_false(ibb_neigh_sender(frame, 20, ip, mac));
}

/* IPoIB ARP, built with scapy: ARP(hwtype=32, hwlen=20, ...) after the
 * IPoIB header 0806 0000.  h1 (QPN 0x48) asks for r1 (10.0.0.2). */
/* Several bridge nodes: the one that owns an IB host answers for it, the
 * others leave it to that one; RoCE hosts are never answered for. */
static bool
owns_only_v4(const uint8_t ip[16])
{
    return ibb_gid_is_v4mapped(ip);
}

static bool
owns_nothing(const uint8_t ip[16])
{
    (void) ip;
    return false;
}

static void
test_answer_for_owner(void **state)
{
    uint8_t req[256], reply[IBB_NEIGH_REPLY_MAX];
    size_t arp_len, ns_len, reply_len = 0;
    uint8_t arp[256];

    arp_len = tp_unhex(ARP_REQ_H1, arp);
    ns_len = tp_unhex(NS_H1, req);
    assert_int_equal(ibb_neigh_answer_for(*state, bridge_mac, owns_only_v4,
                                          arp, arp_len, reply, &reply_len),
                     IBB_NEIGH_ANSWERED_ARP);
    assert_int_equal(ibb_neigh_answer_for(*state, bridge_mac, owns_only_v4,
                                          req, ns_len, reply, &reply_len),
                     IBB_NEIGH_NOT_OWNER);
    assert_int_equal(ibb_neigh_answer_for(*state, bridge_mac, owns_nothing,
                                          arp, arp_len, reply, &reply_len),
                     IBB_NEIGH_NOT_OWNER);
    /* Whether an IB host is asked for comes first. */
    arp[41] = 9;                        /* Target 10.0.0.9: nobody. */
    assert_int_equal(ibb_neigh_answer_for(*state, bridge_mac, owns_nothing,
                                          arp, arp_len, reply, &reply_len),
                     IBB_NEIGH_NOT_IB_HOST);
    /* Without an owner test, all IB hosts are answered for. */
    assert_int_equal(ibb_neigh_answer_for(*state, bridge_mac, NULL, req,
                                          ns_len, reply, &reply_len),
                     IBB_NEIGH_ANSWERED_ND);
}

#define IPOIB_REQ "08060000002008001404000100000048fe800000000000000002c90300" \
                  "0a000b0a00000100000000000000000000000000000000000000000a000002"
/* The bridge's answer: QPN 0x1b1b, GID fe80::2:c903:0:2. */
#define IPOIB_REP "08060000002008001404000200001b1bfe800000000000000002c90300" \
                  "0000020a00000200000048fe800000000000000002c903000a000b0a000001"

static void
test_ipoib_arp(void **state)
{
    struct ibb_ipoib_arp_self self = { .qpn = 0x1b1b };
    struct ibb_ipoib_arp req, reply;
    uint8_t buf[128], want[128], mgid[16], gid[16];

    /* Parsing what scapy made. */
    assert_int_equal(tp_unhex(IPOIB_REQ, buf), IBB_IPOIB_ARP_LEN);
    assert_int_equal(ibb_ipoib_arp_parse(buf, IBB_IPOIB_ARP_LEN, &req), 0);
    assert_int_equal(req.op, IBB_IPOIB_ARP_REQUEST);
    assert_int_equal(req.sha.qpn, 0x48);
    assert_int_equal(ibb_gid_parse("fe80::2:c903:a:b", gid), 0);
    assert_memory_equal(req.sha.gid, gid, 16);
    assert_int_equal(ibb_gid_parse("10.0.0.2", gid), 0);
    assert_memory_equal(req.tpa, gid, 16);

    /* The answer for RoCE host r1, byte for byte scapy's. */
    assert_int_equal(ibb_gid_parse("fe80::2:c903:0:2", self.gid), 0);
    assert_int_equal(ibb_ipoib_arp_answer(*state, &self, &req, &reply),
                     IBB_IPOIB_ARP_ANSWERED);
    ibb_ipoib_arp_write(&reply, buf);
    tp_unhex(IPOIB_REP, want);
    assert_memory_equal(buf, want, IBB_IPOIB_ARP_LEN);

    /* A raw port answers with r1's own GID. */
    self.host_gids = true;
    ibb_ipoib_arp_answer(*state, &self, &req, &reply);
    assert_memory_equal(reply.sha.gid, gid, 16);

    /* Not for an IB host (h1 answers itself), nor an unknown address. */
    assert_int_equal(ibb_gid_parse("10.0.0.7", req.spa), 0);
    assert_int_equal(ibb_gid_parse("10.0.0.1", req.tpa), 0);
    assert_int_equal(ibb_ipoib_arp_answer(*state, &self, &req, &reply),
                     IBB_IPOIB_ARP_NOT_ROCE);
    assert_int_equal(ibb_gid_parse("10.0.0.9", req.tpa), 0);
    assert_int_equal(ibb_ipoib_arp_answer(*state, &self, &req, &reply),
                     IBB_IPOIB_ARP_NOT_ROCE);
    /* Gratuitous ARP and replies ask nothing. */
    assert_int_equal(ibb_gid_parse("10.0.0.2", req.tpa), 0);
    memcpy(req.spa, req.tpa, 16);
    assert_int_equal(ibb_ipoib_arp_answer(*state, &self, &req, &reply),
                     IBB_IPOIB_ARP_IGNORED);
    tp_unhex(IPOIB_REP, buf);
    assert_int_equal(ibb_ipoib_arp_parse(buf, IBB_IPOIB_ARP_LEN, &req), 0);
    assert_int_equal(ibb_ipoib_arp_answer(*state, &self, &req, &reply),
                     IBB_IPOIB_ARP_IGNORED);

    /* A node that took r1 over announces it: a gratuitous request from
     * its QP, which another bridge's responder leaves unanswered. */
    self.host_gids = false;
    assert_int_equal(ibb_gid_parse("10.0.0.2", gid), 0);
    ibb_ipoib_arp_announce(&self, gid, &reply);
    ibb_ipoib_arp_write(&reply, buf);
    assert_int_equal(ibb_ipoib_arp_parse(buf, IBB_IPOIB_ARP_LEN, &req), 0);
    assert_int_equal(req.op, IBB_IPOIB_ARP_REQUEST);
    assert_int_equal(req.sha.qpn, 0x1b1b);
    assert_memory_equal(req.sha.gid, self.gid, 16);
    assert_memory_equal(req.spa, gid, 16);
    assert_memory_equal(req.tpa, gid, 16);
    assert_int_equal(ibb_ipoib_arp_answer(*state, &self, &req, &reply),
                     IBB_IPOIB_ARP_IGNORED);

    /* Bad ones: short, Ethernet ARP lengths, unknown op, not ARP. */
    tp_unhex(IPOIB_REQ, buf);
    assert_int_equal(ibb_ipoib_arp_parse(buf, 59, &req), EINVAL);
    buf[8] = 6;
    assert_int_equal(ibb_ipoib_arp_parse(buf, 60, &req), EINVAL);
    buf[8] = 20;
    buf[11] = 3;
    assert_int_equal(ibb_ipoib_arp_parse(buf, 60, &req), EINVAL);
    buf[1] = 0x00;
    assert_int_equal(ibb_ipoib_arp_parse(buf, 60, &req), ENOENT);

    /* The broadcast group of the default partition. */
    ibb_ipoib_bcast_mgid(0x7fff, mgid);
    assert_int_equal(ibb_gid_parse("ff12:401b:ffff::ffff:ffff", gid), 0);
    assert_memory_equal(mgid, gid, 16);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_for_owner, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ipoib_arp, setup, teardown),
        cmocka_unit_test(test_sender),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
