/*
 * ibb_crc32_fold() against zlib's crc32() over the same bytes, and the
 * ICRC paths built on it (lib/ib-icrc.h) against the reference ICRC of
 * tests/test-pkt.h.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "ib-crc.h"
#include "ib-icrc.h"
#include "ibb-crc-fold.h"
#include "test-pkt.h"

/* Every head size, every rest length up to past the point where the
 * rest goes to ibb_crc32(), several seeds, the rest at every alignment. */
static void
test_fold_vs_zlib(void **state)
{
    static const uint32_t seeds[] = { 0, 0xdebb20e3, 0x12345678 };
    uint8_t data[64 + 600 + 16];
    ibb_v16 head[4];

    (void) state;
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t) (i * 131 + 7 + (i >> 5));
    }
    for (size_t n16 = 1; n16 <= 4; n16++) {
        memcpy(head, data, 16 * n16);
        for (size_t len = 0; len <= 600; len++) {
            for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
                const uint8_t *rest = data + 64 + (len & 15);
                uint32_t want = crc32(seeds[s], data, 16 * n16);

                want = crc32(want, rest, len);
                assert_int_equal(ibb_crc32_fold(seeds[s], head, n16, rest,
                                                len), want);
            }
        }
    }
}

/* A rest shorter than 16 bytes at the very end of a buffer and at its
 * start: nothing outside it is read (ASan would see it). */
static void
test_fold_short_rest_bounds(void **state)
{
    ibb_v16 head[1];

    (void) state;
    memset(head, 0xa5, sizeof head);
    for (size_t len = 1; len < 16; len++) {
        uint8_t *rest = test_malloc(len);
        uint32_t want;

        memset(rest, (int) len, len);
        want = crc32(crc32(0, (const uint8_t *) head, 16), rest, len);
        assert_int_equal(ibb_crc32_fold(0, head, 1, rest, len), want);
        test_free(rest);
    }
}

/* ibb_crc32_fold_shift() is zlib's crc32_combine(crc, 0, len) at every
 * length to 4096, then at large ones and past its table (64 KiB). */
static void
test_fold_shift_vs_zlib(void **state)
{
    static const uint32_t crcs[] = { 0x80000000, 0xdebb20e3, 0x12345678,
                                     0xffffffff, 1 };

    (void) state;
    for (size_t i = 0; i < sizeof crcs / sizeof crcs[0]; i++) {
        for (size_t len = 0; len <= 4096; len++) {
            assert_int_equal(ibb_crc32_fold_shift(crcs[i], len),
                             crc32_combine(crcs[i], 0, (z_off_t) len));
        }
        for (size_t len = 4097; len < 300000; len = len * 3 + 1) {
            assert_int_equal(ibb_crc32_fold_shift(crcs[i], len),
                             crc32_combine(crcs[i], 0, (z_off_t) len));
        }
        assert_int_equal(ibb_crc32_fold_shift(crcs[i], 0xffff),
                         ibb_crc32_shift(crcs[i], 0xffff));
    }
}

/* ibb_icrc_roce4_fields()/roce6_fields() give the ICRC the reference
 * computes over the frame with those headers, whatever the variant fields
 * (TOS, TTL, flow label, FECN) hold, at every payload length up to past
 * the fold's hand-over to ibb_crc32(). */
static void
test_icrc_fields_vs_ref(void **state)
{
    static uint8_t f[2048];

    (void) state;
    for (int v4 = 0; v4 <= 1; v4++) {
        for (size_t plen = 0; plen <= 400; plen++) {
            struct tp_roce b;
            size_t len, l3 = 14, il = v4 ? 20 : 40;
            const uint8_t *ip = f + l3, *bth = ip + il + 8;
            size_t tlen;
            uint32_t got;

            memset(&b, 0, sizeof b);
            b.v4 = v4;
            b.tos = (uint8_t) (plen * 37);
            b.flow = (uint32_t) plen * 0x1357;
            b.ttl = (uint8_t) (plen + 1);
            tp_unhex("20010db8000000000000000000000001", b.sip);
            tp_unhex("fd000000000000000000000000000102", b.dip);
            if (v4) {
                tp_unhex("00000000000000000000ffff0a000001", b.sip);
                tp_unhex("00000000000000000000ffffc0a80102", b.dip);
            }
            b.sport = (uint16_t) (0xc000 | plen * 101);
            b.tr.opcode = plen & 1 ? 0x65 : 0x64;
            b.tr.pkey = 0xffff;
            b.tr.dqpn = 0x123;
            b.tr.psn = (uint32_t) plen;
            b.tr.qkey = 0x11111111;
            b.tr.sqpn = 0xabc;
            b.tr.fecn = plen & 2;
            b.tr.plen = plen;
            b.tr.seed = (uint8_t) plen;
            len = tp_build_roce(&b, f);
            tlen = len - l3 - il - 8 - 4;
            got = (v4
                   ? ibb_icrc_roce4_fields(ip + 12, ip + 16, b.sport,
                                           (uint16_t) (8 + tlen + 4), bth,
                                           tlen)
                   : ibb_icrc_roce6_fields(ip + 8, ip + 24, b.sport,
                                           (uint16_t) (8 + tlen + 4), bth,
                                           tlen));
            assert_int_equal(got, tp_ref_icrc_roce(ip, len - l3));
        }
    }
}

int
main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_vs_zlib),
        cmocka_unit_test(test_fold_short_rest_bounds),
        cmocka_unit_test(test_icrc_fields_vs_ref),
        cmocka_unit_test(test_fold_shift_vs_zlib),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
