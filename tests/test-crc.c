/*
 * Unit tests for lib/ib-crc.c and lib/ib-icrc.c.
 *
 * Vectors come from outside this code: the ICRC values are the worked
 * examples of shared/docs/ib-roce-wire-format.md section 2 (checked there
 * against scapy 2.5.0 and an rxe-derived implementation), the VCRC value is
 * from section 3 (Endace dagcrc parameters), CRC-32 is checked against
 * zlib and the "123456789" check value of the standard CRC-32.
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
#include <zlib.h>

#include "ib-crc.h"
#include "ib-crc-clmul.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ibb-csum.h"
#include "roce-hdr.h"
#include "test-pkt.h"
#include "test-vectors.h"

static void
test_crc32_check_value(void **state)
{
    (void) state;
    assert_int_equal(ibb_crc32(0, "123456789", 9), 0xcbf43926);
}

static void
test_crc32_matches_zlib(void **state)
{
    uint8_t buf[5000];
    size_t lens[] = { 0, 1, 3, 7, 15, 16, 63, 64, 65, 255, 1024, 4096,
                      4999 };

    (void) state;
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t) (i * 131 + 7);
    }
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint32_t z = crc32(0, buf, lens[i]);

        assert_int_equal(ibb_crc32(0, buf, lens[i]), z);
        /* Chaining. */
        if (lens[i] > 3) {
            uint32_t c = ibb_crc32(0, buf, 3);

            assert_int_equal(ibb_crc32(c, buf + 3, lens[i] - 3), z);
            assert_int_equal(ibb_crc32_combine(c, crc32(0, buf + 3,
                                                        lens[i] - 3),
                                               lens[i] - 3), z);
            assert_int_equal(ibb_crc32_combine_op(
                                 c, crc32(0, buf + 3, lens[i] - 3),
                                 ibb_crc32_combine_gen(lens[i] - 3)), z);
        }
    }
}

/* The table-driven shift agrees with zlib's crc32_combine() on either side
 * of each table boundary and past the tables. */
static void
test_crc32_shift_vs_zlib(void **state)
{
    size_t lens[] = { 0, 1, 2, 7, 255, 256, 257, 511, 4096, 4155, 8188,
                      65535, 65536, 70000 };
    uint32_t crcs[] = { 0, 1, 0x80000000, 0xdeadbeef, 0xffffffff };

    (void) state;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t j = 0; j < sizeof crcs / sizeof crcs[0]; j++) {
            assert_int_equal(ibb_crc32_shift(crcs[j], lens[i]),
                             crc32_combine(crcs[j], 0, lens[i]));
        }
    }
}

/* The doc's VCRC example: the IB global packet of section 2, LRH..ICRC. */
static void
test_vcrc_vector(void **state)
{
    (void) state;
    assert_int_equal(ibb_vcrc16(0, ib_global_vec, IB_GLOBAL_VEC_ICRC_END),
                     0x48c6);
    assert_int_equal(tp_vcrc(ib_global_vec, IB_GLOBAL_VEC_ICRC_END),
                     0x48c6);
}

static void
test_vcrc_table_vs_bitwise(void **state)
{
    uint8_t buf[1000];

    (void) state;
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t) (i * 37 + 11);
    }
    for (size_t len = 0; len < sizeof buf; len += 37) {
        uint16_t c = ibb_vcrc16(0, buf, len / 2);

        assert_int_equal(ibb_vcrc16(0, buf, len), tp_vcrc(buf, len));
        assert_int_equal(ibb_vcrc16(c, buf + len / 2, len - len / 2),
                         tp_vcrc(buf, len));
    }
}

/* Random lengths, alignments, contents and chaining splits: the sliced
 * VCRC (8 bytes at a time plus a byte-wise tail) against the bitwise
 * reference, so every length mod 8 and every split is covered. */
static uint32_t
xorshift32(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void
test_vcrc_random_vs_bitwise(void **state)
{
    static uint8_t buf[4200];
    uint32_t rnd = 0x12345678;

    (void) state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = xorshift32(&rnd) % (iter < 2000 ? 80 : 4160);
        size_t ofs = xorshift32(&rnd) % 16;
        size_t split = len ? xorshift32(&rnd) % (len + 1) : 0;
        uint16_t ref, c;

        for (size_t i = 0; i < len; i++) {
            buf[ofs + i] = xorshift32(&rnd);
        }
        ref = tp_vcrc(buf + ofs, len);
        assert_int_equal(ibb_vcrc16(0, buf + ofs, len), ref);
        c = ibb_vcrc16(0, buf + ofs, split);
        assert_int_equal(c, tp_vcrc(buf + ofs, split));
        assert_int_equal(ibb_vcrc16(c, buf + ofs + split, len - split), ref);
    }
    /* All-ones and all-zeros runs longer than one slice. */
    memset(buf, 0xff, 64);
    assert_int_equal(ibb_vcrc16(0, buf, 64), tp_vcrc(buf, 64));
    memset(buf, 0, 64);
    assert_int_equal(ibb_vcrc16(0, buf, 64), tp_vcrc(buf, 64));
}

/* Each folding constant recomputed from the polynomial: x**exp mod
 * x^16+x^12+x^3+x+1 one power at a time, then reflected as the table code
 * holds the register (bit j = coefficient of x**(15 - j)). */
static void
test_vcrc_fold_consts(void **state)
{
    (void) state;
    assert_true(ibb_vcrc_n_fold_consts > 0);
    for (size_t i = 0; i < ibb_vcrc_n_fold_consts; i++) {
        const struct ibb_vcrc_fold_const *k = &ibb_vcrc_fold_consts[i];
        uint32_t r = 1;
        uint16_t refl = 0;

        for (unsigned int e = 0; e < k->exp; e++) {
            r <<= 1;
            if (r & 0x10000) {
                r ^= 0x1100b;
            }
        }
        for (int j = 0; j < 16; j++) {
            refl |= ((r >> j) & 1) << (15 - j);
        }
        if (refl != k->value) {
            print_error("x^%u mod P is 0x%04x, not 0x%04x\n",
                        k->exp, refl, k->value);
        }
        assert_int_equal(refl, k->value);
    }
}

/* 'fn' against the bitwise reference at every length to 600 and some
 * large ones, at several alignments, in one piece and chained at three
 * splits (also through the other implementation, so a register handed
 * between them must mean the same).  Random bytes, then all-ones. */
typedef uint16_t vcrc_fn(uint16_t, const void *, size_t);

static void
check_vcrc_impl(vcrc_fn *fn, vcrc_fn *other)
{
    static uint8_t buf[70000 + 16];
    static const size_t big[] = { 1024, 1500, 4095, 4096, 4097, 4170,
                                  8192, 9000, 65536, 70000 };
    static const size_t ofss[] = { 0, 1, 3, 8, 15 };
    uint32_t rnd = 0x9e3779b9;

    for (int fill = 0; fill < 2; fill++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            buf[i] = fill ? 0xff : xorshift32(&rnd);
        }
        for (size_t n = 0; n <= 600 + ARRAY_SIZE(big); n++) {
            size_t len = n <= 600 ? n : big[n - 601];

            for (size_t o = 0; o < ARRAY_SIZE(ofss); o++) {
                const uint8_t *p = buf + ofss[o];
                uint16_t want = tp_vcrc(p, len);
                size_t splits[] = { len / 2, len > 17 ? 17 : 0,
                                    len > 1 ? len - 1 : 0 };

                assert_int_equal(fn(0, p, len), want);
                for (size_t s = 0; s < ARRAY_SIZE(splits); s++) {
                    size_t k = splits[s];

                    assert_int_equal(fn(fn(0, p, k), p + k, len - k),
                                     want);
                    assert_int_equal(fn(other(0, p, k), p + k, len - k),
                                     want);
                }
            }
        }
    }
}

/* The table code, which non-x86 CPUs and short inputs use. */
static void
test_vcrc_table_lengths(void **state)
{
    (void) state;
    check_vcrc_impl(ibb_vcrc16_table, ibb_vcrc16);
}

/* The folding code, called directly (ibb_vcrc16() skips it under 16
 * bytes). */
static void
test_vcrc_clmul_lengths(void **state)
{
    (void) state;
    if (!ibb_vcrc16_clmul_usable()) {
        assert_string_equal(ibb_vcrc16_impl(), "table");
        skip();
    }
    assert_string_equal(ibb_vcrc16_impl(),
                        ibb_vcrc16_vpclmul_usable() ? "vpclmul" : "pclmul");
    check_vcrc_impl(ibb_vcrc16_clmul, ibb_vcrc16_table);
}

static void
test_vcrc_vpclmul_lengths(void **state)
{
    (void) state;
    if (!ibb_vcrc16_vpclmul_usable()) {
        skip();
    }
    assert_string_equal(ibb_vcrc16_impl(), "vpclmul");
    check_vcrc_impl(ibb_vcrc16_vpclmul, ibb_vcrc16_clmul);
}

/* What everyone calls. */
static void
test_vcrc_dispatch_lengths(void **state)
{
    (void) state;
    check_vcrc_impl(ibb_vcrc16, ibb_vcrc16_table);
}

static void
test_vcrc_byte_order(void **state)
{
    uint8_t b[2];

    (void) state;
    ibb_vcrc_put(b, 0x48c6);
    assert_int_equal(b[0], 0xc6);
    assert_int_equal(b[1], 0x48);
    assert_int_equal(ibb_vcrc_get(b), 0x48c6);
}

static void
test_icrc_roce_v4_doc(void **state)
{
    const uint8_t *ip = roce_v4_doc_vec + IBB_ETH_LEN;
    size_t len = sizeof roce_v4_doc_vec - IBB_ETH_LEN;
    uint32_t icrc;

    (void) state;
    assert_int_equal(ibb_icrc_roce_calc(ip, len, &icrc), 0);
    assert_int_equal(icrc, 0x0ba781bb);
    assert_int_equal(ibb_icrc_roce_check(ip, len), 0);
}

static void
test_icrc_roce_v6_doc(void **state)
{
    const uint8_t *ip = roce_v6_doc_vec + IBB_ETH_LEN;
    size_t len = sizeof roce_v6_doc_vec - IBB_ETH_LEN;

    (void) state;
    assert_int_equal(ibb_icrc_roce_check(ip, len), 0);
    assert_memory_equal(ip + len - 4, "\x3b\x40\x83\x5a", 4);
}

static void
test_icrc_ib_global_doc(void **state)
{
    (void) state;
    assert_int_equal(ibb_icrc_ib_check(ib_global_vec,
                                       IB_GLOBAL_VEC_ICRC_END), 0);
    assert_memory_equal(ib_global_vec + IB_GLOBAL_VEC_ICRC_END - 4,
                        "\x75\x7e\x54\xd9", 4);
}

/* Fields the ICRC masks must not change it; others must. */
static void
test_icrc_ib_masks(void **state)
{
    uint8_t p[sizeof ib_global_vec];
    struct ibb_lrh *lrh = (struct ibb_lrh *) p;
    struct ibb_grh *grh = (struct ibb_grh *) (p + IBB_LRH_LEN);
    struct ibb_bth *bth = (struct ibb_bth *) (grh + 1);
    size_t len = IB_GLOBAL_VEC_ICRC_END;

    (void) state;
    memcpy(p, ib_global_vec, sizeof p);
    ibb_lrh_set_vl(lrh, 7);
    ibb_lrh_set_sl(lrh, 3);
    ibb_lrh_set_dlid(lrh, 0x1234);
    ibb_lrh_set_slid(lrh, 0x4321);
    ibb_grh_set_tclass(grh, 0x11);
    ibb_grh_set_flow(grh, 0xabcde);
    ibb_grh_set_hoplmt(grh, 3);
    ibb_bth_set_fecn(bth, true);
    ibb_bth_set_becn(bth, true);
    assert_int_equal(ibb_icrc_ib_check(p, len), 0);

    ibb_bth_set_pkey(bth, 0x7fff);
    assert_int_equal(ibb_icrc_ib_check(p, len), EBADMSG);
    ibb_icrc_ib_generate(p, len);
    assert_int_equal(ibb_icrc_ib_check(p, len), 0);

    /* Not IBA: LNH raw. */
    ibb_lrh_set_lnh(lrh, IBB_LNH_RAW);
    assert_int_equal(ibb_icrc_ib_check(p, len), EINVAL);
    /* Truncated. */
    assert_int_equal(ibb_icrc_ib_check(ib_global_vec, 20), EINVAL);
}

static void
test_icrc_ib_local(void **state)
{
    /* LNH=2: the LRH is covered with VL masked. */
    uint8_t p[8 + 32];
    struct ibb_lrh *lrh = (struct ibb_lrh *) p;
    uint32_t a, b;

    (void) state;
    memcpy(p, ib_global_vec, 8);
    memcpy(p + 8, ib_global_vec + 48, 32);
    ibb_lrh_set_lnh(lrh, IBB_LNH_LOCAL);
    ibb_lrh_set_pktlen(lrh, 10);
    assert_int_equal(ibb_icrc_ib_calc(p, sizeof p, &a), 0);
    ibb_lrh_set_vl(lrh, 5);
    assert_int_equal(ibb_icrc_ib_calc(p, sizeof p, &b), 0);
    assert_int_equal(a, b);
    ibb_lrh_set_sl(lrh, 5);
    assert_int_equal(ibb_icrc_ib_calc(p, sizeof p, &b), 0);
    assert_int_not_equal(a, b);

    /* Independent: zlib CRC of the masked pseudo-packet. */
    ibb_lrh_set_sl(lrh, 0);
    {
        uint8_t pseudo[sizeof p - 4];

        memcpy(pseudo, p, sizeof pseudo);
        pseudo[0] |= 0xf0;
        pseudo[8 + 4] = 0xff;
        assert_int_equal(b = crc32(0, pseudo, sizeof pseudo), a);
    }
}

static void
test_icrc_roce_scapy(void **state)
{
    (void) state;
    for (size_t i = 0; i < ARRAY_SIZE(scapy_vecs); i++) {
        const struct scapy_vec *v = &scapy_vecs[i];

        assert_int_equal(ibb_icrc_roce_check(v->frame + IBB_ETH_LEN,
                                             v->len - IBB_ETH_LEN), 0);
    }
}

static void
test_icrc_roce_v4_masks(void **state)
{
    uint8_t f[sizeof roce_v4_doc_vec];
    uint8_t *ip = f + IBB_ETH_LEN;
    size_t len = sizeof f - IBB_ETH_LEN;

    (void) state;
    memcpy(f, roce_v4_doc_vec, sizeof f);
    ip[1] = 0x03;               /* TOS. */
    ip[8] = 1;                  /* TTL. */
    ip[10] = ip[11] = 0;        /* Header checksum. */
    ip[26] = 0x12;              /* UDP checksum. */
    ip[28 + 4] = 0xc0;          /* FECN, BECN. */
    assert_int_equal(ibb_icrc_roce_check(ip, len), 0);
    ip[4] = 0;                  /* IP ID is covered. */
    assert_int_equal(ibb_icrc_roce_check(ip, len), EBADMSG);
    assert_int_equal(ibb_icrc_roce_generate(ip, len), 0);
    assert_int_equal(ibb_icrc_roce_check(ip, len), 0);
    ip[0] = 0x46;               /* IHL 6: not supported. */
    assert_int_equal(ibb_icrc_roce_check(ip, len), EINVAL);
}

/* RFC 1071 the slow way: 16-bit big-endian words, end-around carry after
 * each. */
static uint16_t
ref_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < len; i += 2) {
        sum += (uint32_t) p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum & 0xffff;
}

/* ibb_csum_add() against the reference at every length to 600 and some
 * large ones, at odd and even addresses, in one piece and chained at an
 * even split; random bytes and all-ones (the most carries). */
static void
test_inet_csum(void **state)
{
    static uint8_t buf[70000 + 8];
    static const size_t big[] = { 1024, 1499, 4096, 4137, 9000, 65535,
                                  70000 };
    uint32_t seed = 1;

    (void) state;
    for (int fill = 0; fill < 2; fill++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            seed = seed * 1103515245 + 12345;
            buf[i] = fill ? 0xff : seed >> 16;
        }
        for (size_t n = 0; n < 600 + ARRAY_SIZE(big); n++) {
            size_t len = n < 600 ? n : big[n - 600];

            for (size_t ofs = 0; ofs < 4; ofs++) {
                const uint8_t *p = buf + ofs;
                size_t half = len / 2 & ~(size_t) 1;
                uint16_t want = ref_csum(p, len);

                assert_int_equal(ibb_csum_finish(ibb_csum_add(0, p, len)),
                                 want);
                assert_int_equal(
                    ibb_csum_finish(ibb_csum_add(ibb_csum_add(0, p, half),
                                                 p + half, len - half)),
                    want);
            }
        }
    }
    /* A sum that is 0 mod 0xffff stays "-0" (0xffff), so the checksum
     * is 0, as the slow way has it. */
    memset(buf, 0, 64);
    buf[10] = buf[11] = 0xff;
    assert_int_equal(ibb_csum_finish(ibb_csum_add(0, buf, 64)), 0);
    assert_int_equal(ref_csum(buf, 64), 0);
    memset(buf, 0, 64);
    assert_int_equal(ibb_csum_finish(ibb_csum_add(0, buf, 64)), 0xffff);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_crc32_matches_zlib),
        cmocka_unit_test(test_crc32_shift_vs_zlib),
        cmocka_unit_test(test_vcrc_vector),
        cmocka_unit_test(test_vcrc_table_vs_bitwise),
        cmocka_unit_test(test_vcrc_random_vs_bitwise),
        cmocka_unit_test(test_vcrc_fold_consts),
        cmocka_unit_test(test_vcrc_table_lengths),
        cmocka_unit_test(test_vcrc_clmul_lengths),
        cmocka_unit_test(test_vcrc_vpclmul_lengths),
        cmocka_unit_test(test_vcrc_dispatch_lengths),
        cmocka_unit_test(test_vcrc_byte_order),
        cmocka_unit_test(test_icrc_roce_v4_doc),
        cmocka_unit_test(test_icrc_roce_v6_doc),
        cmocka_unit_test(test_icrc_ib_global_doc),
        cmocka_unit_test(test_icrc_ib_masks),
        cmocka_unit_test(test_icrc_ib_local),
        cmocka_unit_test(test_icrc_roce_scapy),
        cmocka_unit_test(test_icrc_roce_v4_masks),
        cmocka_unit_test(test_inet_csum),
    };

    printf("# CRC-32 implementation: %s, VCRC: %s\n", ibb_crc32_impl(),
           ibb_vcrc16_impl());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
