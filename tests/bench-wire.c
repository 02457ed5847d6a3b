/*
 * bench-wire: ns per packet for the IB <-> RoCEv2 converters at 64 B and
 * 4 KiB payloads, and CRC throughput beside memcpy of the same bytes.
 *
 * Everything is measured in the same run and printed as absolute numbers
 * and as ratios to the memcpy baseline and to one CRC-32 pass over the
 * bytes the RoCEv2 ICRC covers (the floor of a conversion); nothing is
 * asserted (timings vary by machine).  Each figure is the fastest of many
 * short batches, so that other programs on a shared machine, which only
 * ever slow a batch down, count as little as possible.  Two converter
 * settings are measured:
 *
 *   sim: all CRCs (IB ICRC+VCRC checked and generated, UDP checksum), as
 *        the fabric simulator needs;
 *   hw:  only the RoCEv2 ICRC (checked and generated), as a deployment on
 *        an HCA that makes and checks the IB CRCs itself needs; no IPv4 UDP
 *        checksum (udp-csum=ipv6).
 *
 * Both with a flow cache (lib/ibb-flow-cache.h), as a port converts: the
 * figures are for a flow's later packets.  A new flow's first packet,
 * which looks its addresses up in the map, is shown beside (hw).
 *
 * Then IB -> RoCEv2 over IPv6 with the hw settings and udp-csum=all
 * beside udp-csum=none, i.e. what the IPv6 UDP checksum costs.
 *
 * Usage: bench-wire [SECONDS-PER-CASE [CASE]]   (default 0.2, all cases)
 *
 * With CASE, only that conversion runs, in one loop for SECONDS-PER-CASE,
 * and prints its ns/pkt: a steady workload for "perf record".  CASE
 * is DIR-MODE-PAYLOAD, DIR "u2r" (IB->RoCEv2/IPv4), "u2r6" (IB->RoCEv2/
 * IPv6) or "r2u" (RoCEv2/IPv4->IB), MODE "sim", "hw" (udp-csum=ipv6) or
 * "hwall" (hw with udp-csum=all), PAYLOAD in bytes: e.g. "u2r-hw-64".
 */
#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr-map.h"
#include "ib-crc.h"
#include "ib-gid.h"
#include "ibb-conv.h"
#include "ibb-crc-fold.h"
#include "ibb-csum.h"
#include "ibb-flow-cache.h"
#include "roce-to-ud.h"
#include "test-pkt.h"
#include "ud-to-roce.h"

#define OFS 64
#define BUF_SIZE 16384

static double budget = 0.2;
static volatile uint32_t sink;

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define BARRIER() __asm__ volatile("" ::: "memory")

/* A batch lasts at least this long, so that reading the clock costs
 * little beside it, and little more, so that most batches run without
 * being preempted. */
#define BATCH_SECONDS 50e-6

/* Runs 'body' in batches until 'budget' seconds pass; yields the ns/iter
 * of the fastest batch. */
#define TIME_NS(RESULT, ...)                                    \
    do {                                                        \
        long batch_ = 1;                                        \
        double t0_ = now(), best_ = 1e30;                       \
        for (;;) {                                              \
            double b0_ = now(), bt_;                            \
            for (long i_ = 0; i_ < batch_; i_++) {              \
                __VA_ARGS__;                                    \
                BARRIER();                                      \
            }                                                   \
            bt_ = now() - b0_;                                  \
            if (bt_ < BATCH_SECONDS) {                          \
                batch_ *= 2;                                    \
            } else if (bt_ / batch_ < best_) {                  \
                best_ = bt_ / batch_;                           \
            }                                                   \
            if (now() - t0_ >= budget && best_ < 1e30) {        \
                break;                                          \
            }                                                   \
        }                                                       \
        (RESULT) = best_ * 1e9;                                 \
    } while (0)

static void
gid(const char *s, uint8_t g[16])
{
    if (ibb_gid_parse(s, g)) {
        abort();
    }
}

static void
fill_tr(struct tp_tr *t, size_t plen)
{
    memset(t, 0, sizeof *t);
    t->opcode = 0x64;
    t->pkey = 0xffff;
    t->dqpn = 0x123;
    t->psn = 1;
    t->qkey = 0x11111111;
    t->sqpn = 0xabc;
    t->plen = plen;
}

/* Builds into 'ib' the UD SEND from IB host fe80::2:c903:a:b (LID 5) to
 * 'dgid' with a 'plen'-byte payload that every figure converts.  Returns
 * its length. */
static size_t
build_ib(uint8_t *ib, const char *dgid, size_t plen)
{
    struct tp_ib bi;

    memset(&bi, 0, sizeof bi);
    bi.grh = true;
    bi.dlid = 1;
    bi.slid = 5;
    bi.hop = 64;
    bi.flow = 0x12345;
    gid("fe80::2:c903:a:b", bi.sgid);
    gid(dgid, bi.dgid);
    fill_tr(&bi.tr, plen);
    return tp_build_ib(&bi, ib);
}

/* Builds into 'roce' the RoCEv2/IPv4 frame from 10.0.0.2 to 10.0.0.1 with
 * a 'plen'-byte payload.  Returns its length. */
static size_t
build_roce(uint8_t *roce, size_t plen)
{
    struct tp_roce br;

    memset(&br, 0, sizeof br);
    br.v4 = true;
    br.ttl = 64;
    gid("10.0.0.2", br.sip);
    gid("10.0.0.1", br.dip);
    br.sport = 0xc000;
    fill_tr(&br.tr, plen);
    return tp_build_roce(&br, roce);
}

static void
bench_size(const struct ibb_addr_map *map, const struct ibb_conv_config *sim,
           size_t plen)
{
    static uint8_t ib[BUF_SIZE], roce[BUF_SIZE], buf[BUF_SIZE],
        dst[BUF_SIZE];
    struct ibb_conv_config hw = *sim;
    size_t ib_len, roce_len;
    double t_restore_ib, t_restore_roce, t_copy_ib, t_copy_roce, t_crc;
    size_t crc_len;
    double t_u2r_sim, t_u2r_hw, t_r2u_sim, t_r2u_hw, t_u2r_new, t_r2u_new;
    struct ibb_conv_config hw_new;
    struct ibb_buf b;

    hw.check_ib_icrc = false;
    hw.check_vcrc = false;
    hw.gen_ib_crcs = false;
    hw.udp_csum = IBB_UDP_CSUM_IPV6;
    /* Every packet as a new flow's first: no flow cache. */
    hw_new = hw;
    hw_new.flows = NULL;

    ib_len = build_ib(ib, "::ffff:10.0.0.2", plen);

    roce_len = build_roce(roce, plen);

    memcpy(buf + OFS, ib, ib_len);
    if (ibb_ud_to_roce(sim, map, &(struct ibb_buf) { buf, BUF_SIZE, OFS,
                                                     ib_len, NULL })) {
        fprintf(stderr, "bench-wire: IB packet does not convert\n");
        exit(1);
    }
    memcpy(buf + OFS, roce, roce_len);
    if (ibb_roce_to_ud(sim, map, &(struct ibb_buf) { buf, BUF_SIZE, OFS,
                                                     roce_len, NULL })) {
        fprintf(stderr, "bench-wire: RoCEv2 frame does not convert\n");
        exit(1);
    }

    /* Each conversion works in place, so each iteration first restores
     * the bytes it changes (headers and trailer); that cost is measured
     * alone and subtracted. */
    memcpy(buf + OFS, ib, ib_len);
#define RESTORE_IB                                                      \
    memcpy(buf + OFS, ib, 48);                                          \
    memcpy(buf + OFS + ib_len - 6, ib + ib_len - 6, 6)
#define RESTORE_ROCE                                                    \
    memcpy(buf + OFS, roce, 42);                                        \
    memcpy(buf + OFS + roce_len - 4, roce + roce_len - 4, 4)

    TIME_NS(t_restore_ib, RESTORE_IB);
    TIME_NS(t_u2r_sim, { RESTORE_IB; b = (struct ibb_buf) { buf, BUF_SIZE,
                                                            OFS, ib_len,
                                                            NULL };
                         sink += ibb_ud_to_roce(sim, map, &b); });
    TIME_NS(t_u2r_hw, { RESTORE_IB; b = (struct ibb_buf) { buf, BUF_SIZE,
                                                           OFS, ib_len, NULL };
                        sink += ibb_ud_to_roce(&hw, map, &b); });
    TIME_NS(t_u2r_new, { RESTORE_IB; b = (struct ibb_buf) { buf, BUF_SIZE,
                                                            OFS, ib_len,
                                                            NULL };
                         sink += ibb_ud_to_roce(&hw_new, map, &b); });
    memcpy(buf + OFS, roce, roce_len);
    TIME_NS(t_restore_roce, RESTORE_ROCE);
    TIME_NS(t_r2u_sim, { RESTORE_ROCE; b = (struct ibb_buf) { buf, BUF_SIZE,
                                                              OFS,
                                                              roce_len, NULL };
                         sink += ibb_roce_to_ud(sim, map, &b); });
    TIME_NS(t_r2u_hw, { RESTORE_ROCE; b = (struct ibb_buf) { buf, BUF_SIZE,
                                                             OFS, roce_len,
                                                             NULL };
                        sink += ibb_roce_to_ud(&hw, map, &b); });
    TIME_NS(t_r2u_new, { RESTORE_ROCE; b = (struct ibb_buf) { buf, BUF_SIZE,
                                                              OFS, roce_len,
                                                              NULL };
                         sink += ibb_roce_to_ud(&hw_new, map, &b); });
    /* The floor: one CRC-32 pass over as many bytes as the RoCEv2/IPv4
     * ICRC covers (8 ones, IPv4, UDP, BTH..pad). */
    crc_len = 8 + roce_len - 14 - 4;
    TIME_NS(t_crc, sink += ibb_crc32(0, roce, crc_len));
    TIME_NS(t_copy_ib, { memcpy(dst, ib, ib_len); sink += dst[ib_len - 1]; });
    TIME_NS(t_copy_roce, { memcpy(dst, roce, roce_len);
                           sink += dst[roce_len - 1]; });

    t_u2r_sim -= t_restore_ib;
    t_u2r_hw -= t_restore_ib;
    t_r2u_sim -= t_restore_roce;
    t_r2u_hw -= t_restore_roce;
    t_u2r_new -= t_restore_ib;
    t_r2u_new -= t_restore_roce;

    printf("payload %zu B (IB packet %zu B, RoCEv2 frame %zu B)\n",
           plen, ib_len, roce_len);
    printf("  %-22s %9.1f ns/pkt %8.2f Mpps/core %7.2fx memcpy "
           "(%.1f ns)\n", "IB->RoCEv2 sim", t_u2r_sim, 1e3 / t_u2r_sim,
           t_u2r_sim / t_copy_ib, t_copy_ib);
    printf("  %-22s %9.1f ns/pkt %8.2f Mpps/core %7.2fx memcpy\n",
           "IB->RoCEv2 hw", t_u2r_hw, 1e3 / t_u2r_hw, t_u2r_hw / t_copy_ib);
    printf("  %-22s %9.1f ns/pkt %8.2f Mpps/core %7.2fx memcpy "
           "(%.1f ns)\n", "RoCEv2->IB sim", t_r2u_sim, 1e3 / t_r2u_sim,
           t_r2u_sim / t_copy_roce, t_copy_roce);
    printf("  %-22s %9.1f ns/pkt %8.2f Mpps/core %7.2fx memcpy\n",
           "RoCEv2->IB hw", t_r2u_hw, 1e3 / t_r2u_hw,
           t_r2u_hw / t_copy_roce);
    printf("  %-22s %9.1f ns/pkt, RoCEv2->IB %.1f ns/pkt\n",
           "a new flow: IB->RoCEv2", t_u2r_new, t_r2u_new);
    printf("  (restore of changed bytes subtracted: %.1f / %.1f ns)\n",
           t_restore_ib, t_restore_roce);
    printf("  one CRC-32 pass over the %zu B the RoCEv2 ICRC covers: "
           "%.1f ns\n", crc_len, t_crc);
    printf("  hw / CRC pass: IB->RoCEv2 %.2fx, RoCEv2->IB %.2fx\n",
           t_u2r_hw / t_crc, t_r2u_hw / t_crc);
}

/* IB -> RoCEv2/IPv6 with the hw settings, udp-csum=all beside none, as
 * ratios to a memcpy of the IB packet and to one CRC-32 pass over the
 * bytes the RoCEv2/IPv6 ICRC covers. */
static void
bench_v6_csum(const struct ibb_addr_map *map,
              const struct ibb_conv_config *sim, size_t plen)
{
    static uint8_t ib[BUF_SIZE], buf[BUF_SIZE], dst[BUF_SIZE];
    struct ibb_conv_config all = *sim, none;
    double t_restore, t_all, t_none, t_copy, t_crc, t_csum;
    size_t ib_len, crc_len, frame_len;
    struct ibb_buf b;

    all.check_ib_icrc = false;
    all.check_vcrc = false;
    all.gen_ib_crcs = false;
    all.udp_csum = IBB_UDP_CSUM_ALL;
    none = all;
    none.udp_csum = IBB_UDP_CSUM_NONE;

    ib_len = build_ib(ib, "fd00::2", plen);

    memcpy(buf + OFS, ib, ib_len);
    b = (struct ibb_buf) { buf, BUF_SIZE, OFS, ib_len, NULL };
    if (ibb_ud_to_roce(&all, map, &b) || buf[b.ofs + 12] != 0x86) {
        fprintf(stderr, "bench-wire: IB packet does not convert to "
                "RoCEv2/IPv6\n");
        exit(1);
    }
    frame_len = b.len;

    memcpy(buf + OFS, ib, ib_len);
    TIME_NS(t_restore, RESTORE_IB);
    TIME_NS(t_all, { RESTORE_IB; b = (struct ibb_buf) { buf, BUF_SIZE, OFS,
                                                         ib_len, NULL };
                     sink += ibb_ud_to_roce(&all, map, &b); });
    TIME_NS(t_none, { RESTORE_IB; b = (struct ibb_buf) { buf, BUF_SIZE, OFS,
                                                          ib_len, NULL };
                      sink += ibb_ud_to_roce(&none, map, &b); });
    /* 8 ones, IPv6, UDP, BTH..pad. */
    crc_len = 8 + frame_len - 14 - 4;
    TIME_NS(t_crc, sink += ibb_crc32(0, ib, crc_len));
    TIME_NS(t_csum, sink += ibb_csum_add(0, ib, frame_len - 14 - 40));
    TIME_NS(t_copy, { memcpy(dst, ib, ib_len); sink += dst[ib_len - 1]; });
    t_all -= t_restore;
    t_none -= t_restore;

    printf("payload %zu B IB->RoCEv2/IPv6 hw (RoCEv2 frame %zu B)\n",
           plen, frame_len);
    printf("  %-22s %9.1f ns/pkt %8.2f Mpps/core %7.2fx memcpy %6.2fx "
           "CRC pass\n", "udp-csum=all", t_all, 1e3 / t_all,
           t_all / t_copy, t_all / t_crc);
    printf("  %-22s %9.1f ns/pkt %8.2f Mpps/core %7.2fx memcpy %6.2fx "
           "CRC pass\n", "udp-csum=none", t_none, 1e3 / t_none,
           t_none / t_copy, t_none / t_crc);
    printf("  none / all: %.2fx; the checksum's share of all: %.0f%% "
           "(inet csum of the UDP datagram alone: %.1f ns)\n",
           t_none / t_all, 100 * (t_all - t_none) / t_all, t_csum);
}
#undef RESTORE_IB
#undef RESTORE_ROCE

static void
bench_crc(size_t len)
{
    static uint8_t src[BUF_SIZE], dst[BUF_SIZE];
    double t_copy, t_crc, t_vcrc, t_csum;

    for (size_t i = 0; i < len; i++) {
        src[i] = i * 7;
    }
    TIME_NS(t_copy, { memcpy(dst, src, len); sink += dst[len - 1]; });
    TIME_NS(t_crc, sink += ibb_crc32(0, src, len));
    TIME_NS(t_vcrc, sink += ibb_vcrc16(0, src, len));
    TIME_NS(t_csum, sink += ibb_csum_add(0, src, len));

    printf("%5zu B  memcpy %8.1f ns %7.2f GB/s | crc32 (%s) %8.1f ns "
           "%7.2f GB/s %6.2fx | vcrc16 (%s) %8.1f ns %6.2f GB/s %6.2fx "
           "%5.2fx crc32 | inet csum %7.1f ns %6.2fx\n",
           len, t_copy, len / t_copy, ibb_crc32_impl(), t_crc,
           len / t_crc, t_crc / t_copy, ibb_vcrc16_impl(), t_vcrc,
           len / t_vcrc, t_vcrc / t_copy, t_vcrc / t_crc, t_csum,
           t_csum / t_copy);
}

/* Runs only the case named 'name' (see the usage above) for 'budget'
 * seconds.  Returns false if 'name' is not a case. */
static bool
bench_one(const struct ibb_addr_map *map, const struct ibb_conv_config *sim,
          const char *name)
{
    static uint8_t pkt[BUF_SIZE], buf[BUF_SIZE];
    struct ibb_conv_config cfg = *sim;
    char dir[8], mode[8];
    size_t plen, pkt_len;
    bool u2r;
    double t;

    if (sscanf(name, "%7[^-]-%7[^-]-%zu", dir, mode, &plen) != 3
        || plen > 8192) {
        return false;
    }
    if (!strcmp(mode, "hw") || !strcmp(mode, "hwall")) {
        cfg.check_ib_icrc = false;
        cfg.check_vcrc = false;
        cfg.gen_ib_crcs = false;
        cfg.udp_csum = mode[2] ? IBB_UDP_CSUM_ALL : IBB_UDP_CSUM_IPV6;
    } else if (strcmp(mode, "sim")) {
        return false;
    }
    if (!strcmp(dir, "u2r") || !strcmp(dir, "u2r6")) {
        u2r = true;
        pkt_len = build_ib(pkt, dir[3] ? "fd00::2" : "::ffff:10.0.0.2",
                           plen);
    } else if (!strcmp(dir, "r2u")) {
        u2r = false;
        pkt_len = build_roce(pkt, plen);
    } else {
        return false;
    }

    memcpy(buf + OFS, pkt, pkt_len);
    TIME_NS(t, {
            struct ibb_buf b = { buf, BUF_SIZE, OFS, pkt_len, NULL };

            /* Restore the bytes the conversion changes, as above. */
            if (u2r) {
                memcpy(buf + OFS, pkt, 48);
                memcpy(buf + OFS + pkt_len - 6, pkt + pkt_len - 6, 6);
            } else {
                memcpy(buf + OFS, pkt, 42);
                memcpy(buf + OFS + pkt_len - 4, pkt + pkt_len - 4, 4);
            }
            sink += (u2r ? ibb_ud_to_roce(&cfg, map, &b)
                     : ibb_roce_to_ud(&cfg, map, &b));
        });
    printf("%s: %.1f ns/pkt (fastest batch, restore included)%s\n", name,
           t, sink ? " (drops!)" : "");
    return true;
}

int
main(int argc, char *argv[])
{
    static const char json[] =
        "{ \"hosts\": ["
        "  { \"gid\": \"fe80::2:c903:a:b\", \"lid\": 5,"
        "    \"ipv4\": \"10.0.0.1\", \"ipv6\": \"fd00::1\" },"
        "  { \"ipv4\": \"10.0.0.2\", \"ipv6\": \"fd00::2\","
        "    \"mac\": \"02:00:00:00:00:02\" } ] }";
    struct ibb_addr_map *map = ibb_addr_map_create();
    struct ibb_conv_config cfg;
    char err[256];

    if (argc > 1) {
        char *end;

        budget = strtod(argv[1], &end);
        if (*end || budget <= 0 || budget > 60) {
            fprintf(stderr, "bench-wire: bad SECONDS-PER-CASE \"%s\"\n",
                    argv[1]);
            return 1;
        }
    }
    if (!map || ibb_addr_map_load_json_str(map, json, err, sizeof err)) {
        fprintf(stderr, "bench-wire: map: %s\n", err);
        return 1;
    }
    ibb_conv_config_init(&cfg);
    cfg.bridge_lid = 1;
    gid("fe80::2:c903:0:1", cfg.bridge_gid);
    /* As a port has one: the figures are for a flow's later packets. */
    cfg.flows = ibb_flow_cache_create();
    if (!cfg.flows) {
        fprintf(stderr, "bench-wire: out of memory\n");
        return 1;
    }

    if (argc > 2) {
        if (!bench_one(map, &cfg, argv[2])) {
            fprintf(stderr, "bench-wire: bad CASE \"%s\"\n", argv[2]);
            return 1;
        }
        ibb_flow_cache_destroy(cfg.flows);
        ibb_addr_map_destroy(map);
        return 0;
    }
    printf("# bench-wire: CRC-32 via %s, ICRC head folding %s, internet "
           "checksum %s; 'hw' = RoCEv2 ICRC only\n", ibb_crc32_impl(),
           ibb_crc32_fold_impl(), ibb_csum_impl());
    bench_size(map, &cfg, 64);
    bench_size(map, &cfg, 4096);
    bench_v6_csum(map, &cfg, 64);
    bench_v6_csum(map, &cfg, 4096);
    printf("CRC throughput beside memcpy of the same bytes "
           "(ratio = time / memcpy time):\n");
    bench_crc(64);
    bench_crc(96);
    bench_crc(4096);
    ibb_flow_cache_destroy(cfg.flows);
    ibb_addr_map_destroy(map);
    return 0;
}
