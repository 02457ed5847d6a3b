/*
 * Shared set-up and property checks for the libFuzzer targets in
 * tests/fuzz/ (modelled on OVS's tests/oss-fuzz/).
 *
 * The checks use tests/test-pkt.h's reference CRCs and checksums, written
 * independently of lib/, so a converter that makes a wrong CRC is caught
 * even though it agrees with itself.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H 1

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-conv.h"
#include "ibb-proxy.h"
#include "test-pkt.h"

/* Headroom and buffer the netdev gives a packet. */
#define FUZZ_BUF_SIZE (IBB_CONV_HEADROOM + 8192 + IBB_CONV_TAILROOM)

/* IB host A (native GID, LID 5), host X reachable both ways (LID 6), RoCE
 * host R, a RoCE host with an alias LID, groups in each MGID format. */
static const char fuzz_map_json[] =
    "{ \"hosts\": ["
    "  { \"gid\": \"fe80::2:c903:a:b\", \"lid\": 5,"
    "    \"ipv4\": \"10.0.0.1\", \"ipv6\": \"fd00::1\" },"
    "  { \"ipv4\": \"10.0.0.2\", \"ipv6\": \"fd00::2\","
    "    \"mac\": \"02:00:00:00:00:02\" },"
    "  { \"ipv4\": \"10.0.0.3\", \"mac\": \"02:00:00:00:00:03\","
    "    \"lid\": 7 },"
    "  { \"gid\": \"fe80::2:c903:a:c\", \"lid\": 6, \"ipv4\": \"10.0.1.6\","
    "    \"ipv6\": \"fd00::6\", \"mac\": \"02:00:00:00:00:06\" }"
    "  ],"
    "  \"groups\": ["
    "  { \"ip\": \"239.1.1.1\", \"mlid\": 49153 },"
    "  { \"ip\": \"ff0e::1:2\", \"mlid\": 49154, \"format\": \"rdma_cm\" },"
    "  { \"ip\": \"239.2.2.2\", \"mlid\": 49155, \"format\": \"roce\" }"
    "  ] }";

#define FUZZ_CHECK(COND)                                                \
    do {                                                                \
        if (!(COND)) {                                                  \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,   \
                    __LINE__, #COND);                                   \
            abort();                                                    \
        }                                                               \
    } while (0)

struct fuzz_env {
    struct ibb_addr_map *map;
    struct ibb_proxy_table *proxies;    /* Proxy 0x200 -> 10.0.0.2/0x123. */
    uint8_t *buf;
};

static inline struct fuzz_env *
fuzz_env(void)
{
    static struct fuzz_env env;

    if (!env.map) {
        struct ibb_proxy_endpoint ep = { .qpn = 0x123 };
        char err[128];

        env.map = ibb_addr_map_create();
        FUZZ_CHECK(!ibb_addr_map_load_json_str(env.map, fuzz_map_json, err,
                                               sizeof err));
        env.proxies = ibb_proxy_table_create(16);
        ibb_gid_parse("10.0.0.2", ep.ip);
        FUZZ_CHECK(!ibb_proxy_add(env.proxies, &ep, 0x200, 0x11111111,
                                  true));
        env.buf = malloc(FUZZ_BUF_SIZE);
    }
    return &env;
}

/* A converter configuration chosen by the bits of 'sel'. */
static inline void
fuzz_config(struct ibb_conv_config *cfg, uint8_t sel, struct fuzz_env *env)
{
    static const uint8_t mac[6] = { 0x02, 0x1b, 0, 0, 0, 1 };

    ibb_conv_config_init(cfg);
    memcpy(cfg->bridge_mac, mac, 6);
    cfg->bridge_lid = 1;
    ibb_gid_parse("fe80::2:c903:0:1", cfg->bridge_gid);
    cfg->check_ib_icrc = sel & 1;
    cfg->check_vcrc = sel & 2;
    cfg->check_roce_icrc = sel & 4;
    cfg->check_udp_csum = sel & 8;
    /* Bit 8 matters only RoCEv2 -> IB and the UDP checksum mode only IB ->
     * RoCEv2, so bit 16 picks ipv6 or, with bit 8, none. */
    cfg->udp_csum = (!(sel & 16) ? IBB_UDP_CSUM_ALL
                     : sel & 8 ? IBB_UDP_CSUM_NONE : IBB_UDP_CSUM_IPV6);
    cfg->proxies = sel & 32 ? env->proxies : NULL;
    cfg->pkey = sel & 64 ? 0xffff : 0;
    if (sel & 128) {
        cfg->dscp_map[0] = 46;
    }
}

/* The trust rules hold for a RoCEv2 frame the bridge made (lib/ud-to-roce.h):
 * a source no host may have never leaves, nor a RoCE host's address. */
static inline void
fuzz_check_roce_source(const struct ibb_addr_map *map, const uint8_t sip[16])
{
    const struct ibb_host *h = ibb_addr_map_find_ip(map, sip);

    FUZZ_CHECK(!ibb_ip_is_bad_source(sip));
    FUZZ_CHECK(!h || h->has_gid);
}

/* A RoCEv2 frame made by the bridge: Ethernet, IPv4 (no options) or IPv6,
 * UDP 4791, BTH..ICRC.  Its IP checksum and ICRC are right by the
 * reference code, and its UDP checksum too, or 0 where 'udp_csum' says.
 * Stores its source IP in 'sip'. */
static inline void
fuzz_check_roce_frame(const uint8_t *f, size_t len,
                      enum ibb_udp_csum udp_csum, uint8_t sip[16])
{
    const uint8_t *ip = f + 14;
    bool v4;

    FUZZ_CHECK(len >= 14 + 20 + 8 + 12 + 8 + 4);
    v4 = ((f[12] << 8) | f[13]) == 0x0800;
    FUZZ_CHECK(v4 || len >= 14 + 40 + 8 + 12 + 8 + 4);
    FUZZ_CHECK(v4 || ((f[12] << 8) | f[13]) == 0x86dd);
    if (v4) {
        FUZZ_CHECK(ip[0] == 0x45);
        FUZZ_CHECK(tp_csum(ip, 20, 0) == 0);
        FUZZ_CHECK((size_t) ((ip[2] << 8) | ip[3]) == len - 14);
        FUZZ_CHECK(ip[9] == 17);
        memset(sip, 0, 10);
        sip[10] = sip[11] = 0xff;
        memcpy(sip + 12, ip + 12, 4);
    } else {
        FUZZ_CHECK(ip[0] >> 4 == 6);
        FUZZ_CHECK((size_t) ((ip[4] << 8) | ip[5]) == len - 54);
        FUZZ_CHECK(ip[6] == 17);
        memcpy(sip, ip + 8, 16);
        FUZZ_CHECK(!ibb_gid_is_v4mapped(sip));
    }
    FUZZ_CHECK(((ip[(v4 ? 20 : 40) + 2] << 8) | ip[(v4 ? 20 : 40) + 3])
               == 4791);
    FUZZ_CHECK(tp_get_le32(f + len - 4) == tp_ref_icrc_roce(ip, len - 14));
    if (udp_csum == IBB_UDP_CSUM_NONE
        || (v4 && udp_csum == IBB_UDP_CSUM_IPV6)) {
        FUZZ_CHECK(!ip[(v4 ? 20 : 40) + 6] && !ip[(v4 ? 20 : 40) + 7]);
    } else {
        FUZZ_CHECK(ip[(v4 ? 20 : 40) + 6] || ip[(v4 ? 20 : 40) + 7]);
        FUZZ_CHECK(tp_udp_csum(ip, false) == 0);
    }
}

/* An IB packet made by the bridge: LRH, GRH, BTH..ICRC, VCRC, all
 * consistent, with the right ICRC and VCRC by the reference code. */
static inline void
fuzz_check_ib_packet(const uint8_t *p, size_t len)
{
    FUZZ_CHECK(len >= 8 + 40 + 12 + 8 + 4 + 2);
    FUZZ_CHECK((size_t) ((p[4] & 7) << 8 | p[5]) * 4 + 2 == len);
    FUZZ_CHECK((p[1] & 3) == 3);
    FUZZ_CHECK(p[8] >> 4 == 6);
    FUZZ_CHECK(p[8 + 6] == 0x1b);
    FUZZ_CHECK((size_t) ((p[8 + 4] << 8) | p[8 + 5]) == len - 50);
    FUZZ_CHECK(tp_get_le32(p + len - 6) == tp_ref_icrc_ib(p, len - 2));
    FUZZ_CHECK((p[len - 2] | (p[len - 1] << 8)) == tp_vcrc(p, len - 2));
}

#endif /* fuzz-common.h */
