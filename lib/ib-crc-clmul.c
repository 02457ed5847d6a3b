/*
 * The InfiniBand VCRC by folding with carry-less multiplication
 * (PCLMULQDQ), the method of Intel's "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ Instruction" (Gopal et al., 2009).
 *
 * The VCRC is reflected (lib/ib-crc.h): the first message bit is a byte's
 * least significant one.  Loaded little-endian, bit i of a 128-bit block
 * is then the coefficient of x**(127 - i) in the block's polynomial, and
 * bit j of a 64-bit lane that of x**(63 - j).  The CRC register after a
 * message M (init folded into its first two bytes) is M * x**16 mod P.
 *
 * Folding: a 128-bit accumulator X = A * x**64 + B (A the low lane, the
 * earlier bytes) stands for everything read so far.  Carrying it 'd' bits
 * further, over the next block D, needs X * x**d + D mod P, and
 *
 *     X * x**d == A * (x**(d + 64) mod P) + B * (x**d mod P)   (mod P),
 *
 * products of a 64-bit lane by a 16-bit constant: they fit a 128-bit
 * register, so no reduction until the end.  Two details fix which powers
 * the constants are.  A reflected carry-less product comes out one bit
 * short (bits j and l of the factors land on bit j + l, where x**(126-j-l)
 * belongs at bit j + l + 1), i.e. multiplied by x.  And a 16-bit constant
 * in the low bits of its 64-bit lane reads as itself times x**48.  So the
 * lanes are multiplied by x**(d + 15) and x**(d - 49) mod P.
 *
 * The end: X * x**16 mod P, from 128 bits.  A constant in the high bits of
 * its lane is read as is, so x**63 mod P there turns A * x**64 into a
 * product of at most 80 bits, and once more its top 16 bits: what is left,
 * 64 bits congruent to X, is handed to the table code as 8 message bytes,
 * with the bytes after the last whole block.
 */
#include <config.h>

#include "ib-crc-clmul.h"

#include <string.h>

/* x**E mod P, reflected: see ib-crc-clmul.h.  tests/test-crc.c recomputes
 * each one from the polynomial through ibb_vcrc_fold_consts. */
#define VCRC_X2063 0x846c       /* Fold by 2048 bits (four 512-bit */
#define VCRC_X1999 0x811b       /* accumulators): low, high lane. */
#define VCRC_X1551 0x908f       /* 1536 bits. */
#define VCRC_X1487 0x5c92
#define VCRC_X1039 0x7721       /* 1024 bits. */
#define VCRC_X975 0xcc27
#define VCRC_X527 0x09c2        /* Fold by 512 bits: low lane. */
#define VCRC_X463 0x64b0        /* Fold by 512 bits: high lane. */
#define VCRC_X399 0x4d19        /* 384 bits. */
#define VCRC_X335 0x5377
#define VCRC_X271 0xa008        /* 256 bits. */
#define VCRC_X207 0x17cd
#define VCRC_X143 0x59fb        /* 128 bits. */
#define VCRC_X79 0x49cf
#define VCRC_X63 0x4874         /* Final reduction. */

#define VCRC_FOLD_CONST(E) { E, VCRC_X##E }
const struct ibb_vcrc_fold_const ibb_vcrc_fold_consts[] = {
    VCRC_FOLD_CONST(2063), VCRC_FOLD_CONST(1999),
    VCRC_FOLD_CONST(1551), VCRC_FOLD_CONST(1487),
    VCRC_FOLD_CONST(1039), VCRC_FOLD_CONST(975),
    VCRC_FOLD_CONST(527), VCRC_FOLD_CONST(463),
    VCRC_FOLD_CONST(399), VCRC_FOLD_CONST(335),
    VCRC_FOLD_CONST(271), VCRC_FOLD_CONST(207),
    VCRC_FOLD_CONST(143), VCRC_FOLD_CONST(79),
    VCRC_FOLD_CONST(63),
};
const size_t ibb_vcrc_n_fold_consts = (sizeof ibb_vcrc_fold_consts
                                       / sizeof ibb_vcrc_fold_consts[0]);

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "ibb-fold-wide.h"

/* A target attribute rather than -mpclmul: the build stays generic and
 * ibb_vcrc16() calls this only where the CPU has the instruction. */
#define CLMUL_TARGET __attribute__((target("pclmul")))

/* The fold constants for 'D' bits: x**(D + 15) for the low lane, x**(D -
 * 49) for the high one (see the top of the file). */
#define FOLD_K(LO, HI) _mm_set_epi64x(HI, LO)

static inline __m128i CLMUL_TARGET
fold(__m128i x, __m128i k)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                         _mm_clmulepi64_si128(x, k, 0x11));
}

static inline __m128i
load(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *) p);
}

static inline uint16_t finish(__m128i x, const uint8_t *p, size_t len);

uint16_t CLMUL_TARGET
ibb_vcrc16_clmul(uint16_t crc, const void *buf, size_t len)
{
    const __m128i k128 = FOLD_K(VCRC_X143, VCRC_X79);
    const uint8_t *p = buf;
    __m128i x;

    if (len < 16) {
        return ibb_vcrc16_table(crc, buf, len);
    }

    /* The register XORed into the first two bytes, as the table code
     * does. */
    x = _mm_xor_si128(load(p), _mm_cvtsi32_si128(crc ^ 0xffff));
    p += 16;
    len -= 16;

    /* Four accumulators 64 bytes apart: each fold waits for the previous
     * one's product, so one chain would leave the multiplier idle. */
    if (len >= 48) {
        const __m128i k512 = FOLD_K(VCRC_X527, VCRC_X463);
        __m128i x1 = load(p), x2 = load(p + 16), x3 = load(p + 32);

        p += 48;
        len -= 48;
        for (; len >= 64; p += 64, len -= 64) {
            x = _mm_xor_si128(fold(x, k512), load(p));
            x1 = _mm_xor_si128(fold(x1, k512), load(p + 16));
            x2 = _mm_xor_si128(fold(x2, k512), load(p + 32));
            x3 = _mm_xor_si128(fold(x3, k512), load(p + 48));
        }
        x = _mm_xor_si128(
            _mm_xor_si128(fold(x, FOLD_K(VCRC_X399, VCRC_X335)),
                          fold(x1, FOLD_K(VCRC_X271, VCRC_X207))),
            _mm_xor_si128(fold(x2, k128), x3));
    }
    return finish(x, p, len);
}

/* The VCRC register after accumulator 'x' and the 'len' bytes at 'p'. */
static inline uint16_t CLMUL_TARGET
finish(__m128i x, const uint8_t *p, size_t len)
{
    const __m128i k128 = FOLD_K(VCRC_X143, VCRC_X79);
    const __m128i k_end = _mm_set_epi64x(0, (uint64_t) VCRC_X63 << 48);
    __m128i y;
    uint64_t z;
    uint8_t rest[8 + 15];

    for (; len >= 16; p += 16, len -= 16) {
        x = _mm_xor_si128(fold(x, k128), load(p));
    }

    /* A * x**64 + B to at most 80 bits (bits 48..127), then the top 16 of
     * those the same way, into the high lane. */
    y = _mm_xor_si128(_mm_clmulepi64_si128(x, k_end, 0x00),
                      _mm_unpackhi_epi64(_mm_setzero_si128(), x));
    y = _mm_xor_si128(_mm_clmulepi64_si128(y, k_end, 0x00), y);
    z = _mm_cvtsi128_si64(_mm_unpackhi_epi64(y, y));

    /* The tables finish from a zero register (0xffff in, which
     * ibb_vcrc16_table() inverts): those 8 bytes (x86 is little-endian:
     * message order), then the bytes after the last whole block, in one
     * call. */
    memcpy(rest, &z, 8);
    memcpy(rest + 8, p, len);
    return ibb_vcrc16_table(0xffff, rest, 8 + len);
}

bool
ibb_vcrc16_clmul_usable(void)
{
    /* Needed before __builtin_cpu_supports() in constructors, which may
     * run before libgcc's own. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul");
}

/* AVX-512 with VPCLMULQDQ: four 16-byte lanes per instruction. */
static const struct ibb_fold_wide_k vcrc_wide_k = {
    .k2048 = { VCRC_X2063, VCRC_X1999 },
    .k1536 = { VCRC_X1551, VCRC_X1487 },
    .k1024 = { VCRC_X1039, VCRC_X975 },
    .k512 = { VCRC_X527, VCRC_X463 },
    .k384 = { VCRC_X399, VCRC_X335 },
    .k256 = { VCRC_X271, VCRC_X207 },
    .k128 = { VCRC_X143, VCRC_X79 },
};

uint16_t IBB_WIDE_TARGET
ibb_vcrc16_vpclmul(uint16_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf, *end = p + len;
    __m512i x0;
    __m128i x;

    if (len < 64) {
        return ibb_vcrc16_clmul(crc, buf, len);
    }

    /* The register XORed into the first two bytes. */
    x0 = _mm512_xor_si512(_mm512_loadu_si512(p),
                          _mm512_zextsi128_si512(
                              _mm_cvtsi32_si128(crc ^ 0xffff)));
    p += 64;
    x = ibb_fold_wide(x0, &p, end, &vcrc_wide_k);
    return finish(x, p, end - p);
}

bool
ibb_vcrc16_vpclmul_usable(void)
{
    __builtin_cpu_init();
    return (__builtin_cpu_supports("pclmul")
            && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("vpclmulqdq"));
}
#else
uint16_t
ibb_vcrc16_clmul(uint16_t crc, const void *buf, size_t len)
{
    return ibb_vcrc16_table(crc, buf, len);
}

bool
ibb_vcrc16_clmul_usable(void)
{
    return false;
}

uint16_t
ibb_vcrc16_vpclmul(uint16_t crc, const void *buf, size_t len)
{
    return ibb_vcrc16_table(crc, buf, len);
}

bool
ibb_vcrc16_vpclmul_usable(void)
{
    return false;
}
#endif
