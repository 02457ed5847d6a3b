/*
 * ibb_crc32_fold() and ibb_crc32_fold_shift() against zlib over the same
 * bytes.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "ib-crc.h"
#include "ibb-crc-fold.h"

#define ARRAY_SIZE(a) (sizeof (a) / sizeof (a)[0])

/* Every head size, every rest length up to well past the point where
 * long rests take other code (there, every head and rest length modulo
 * 64, so every count of leading zeros the wide code folds in), then long
 * ones, several seeds, the rest at every alignment. */
static void
check_fold_vs_zlib(void)
{
    static const uint32_t seeds[] = { 0, 0xdebb20e3, 0x12345678 };
    static const size_t big[] = { 1023, 1024, 1500, 4095, 4096, 4104,
                                  4152, 9000 };
    static uint8_t data[64 + 9000 + 16];
    ibb_v16 head[4];

    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t) (i * 131 + 7 + (i >> 5));
    }
    for (size_t n16 = 1; n16 <= 4; n16++) {
        memcpy(head, data, 16 * n16);
        for (size_t n = 0; n <= 1100 + ARRAY_SIZE(big); n++) {
            size_t len = n <= 1100 ? n : big[n - 1101];

            for (size_t s = 0; s < ARRAY_SIZE(seeds); s++) {
                const uint8_t *rest = data + 64 + (len & 15);
                uint32_t want = crc32(seeds[s], data, 16 * n16);

                want = crc32(want, rest, len);
                assert_int_equal(ibb_crc32_fold(seeds[s], head, n16, rest,
                                                len), want);
            }
        }
    }
}

/* What the CPU gives: VPCLMULQDQ for long rests where it has it. */
static void
test_fold_vs_zlib(void **state)
{
    (void) state;
    check_fold_vs_zlib();
}

/* PCLMULQDQ alone (ISA-L or zlib for long rests), as on CPUs without
 * AVX-512. */
static void
test_fold_vs_zlib_narrow(void **state)
{
    (void) state;
    assert_false(ibb_crc32_fold_wide(false));
    assert_string_not_equal(ibb_crc32_fold_impl(), "vpclmul");
    check_fold_vs_zlib();
    ibb_crc32_fold_wide(true);
}

/* A rest alone in a buffer of its own size, with every head size: nothing
 * outside it is read (ASan would see it: plain malloc(), as test_malloc()
 * adds guard bytes that may be read), short or long, on each side of where
 * the AVX-512 code takes over (64 bytes) and of where it did (256). */
static void
test_fold_rest_bounds(void **state)
{
    ibb_v16 head[4];

    (void) state;
    memset(head, 0xa5, sizeof head);
    for (size_t n16 = 1; n16 <= 4; n16++) {
        for (size_t len = 1; len <= 320; len++) {
            uint8_t *rest = malloc(len);
            uint32_t want;

            assert_non_null(rest);
            memset(rest, (int) len, len);
            want = crc32(crc32(0, (const uint8_t *) head, 16 * n16), rest,
                         len);
            assert_int_equal(ibb_crc32_fold(0, head, n16, rest, len), want);
            free(rest);
        }
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

int
main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_vs_zlib),
        cmocka_unit_test(test_fold_vs_zlib_narrow),
        cmocka_unit_test(test_fold_rest_bounds),
        cmocka_unit_test(test_fold_shift_vs_zlib),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
