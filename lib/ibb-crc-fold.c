/*
 * One-pass CRC-32 over a head in 16-byte blocks and a rest in memory.
 *
 * The folding follows Intel's "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ" (2009) in its bit-reflected form, with the
 * constants of Linux arch/x86/crypto/crc32-pclmul_asm.S: a 128-bit
 * remainder is carried 16 (or 32) bytes forward by two carry-less
 * multiplications, and at the end reduced to 32 bits (Barrett).  The
 * 32-byte constants are x^(256+-32) mod P computed the way those are
 * (bit-reflected, shifted left by one); the same computation gives back
 * Linux's 16- and 64-byte ones.  tests/test-crc-fold.c
 * checks it against zlib's crc32() at every length and split.
 */
#include <config.h>

#include "ibb-crc-fold.h"

#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#include "ib-crc.h"

/* Past this many bytes of rest, folding 16 bytes at a time (one chain of
 * multiplications) is slower than ISA-L's several chains: without AVX-512
 * the head is then reduced alone and ibb_crc32() takes the rest. */
#define FOLD_REST_MAX 256

/* From this many bytes of rest (its first block), crc32_fold_wide() takes
 * head and rest where the CPU has AVX-512: its first block puts head and
 * rest together in registers, and its chain of multiplications is a
 * quarter as long as 16 bytes at a time.  At a 64-byte rest a pass takes
 * as long either way; at 72 bytes (a 64-byte payload and its DETH) 23.6
 * against 27.2 ns, at 256 bytes 25.7 against 40.6 (one pass waiting for
 * the one before, 48-byte head, this machine). */
#define WIDE_REST_MIN 64

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "ibb-fold-wide.h"

#define CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

/* x^(128+32) and x^(128-32) mod P (bit-reflected, shifted left by 1):
 * carry 128 bits 16 bytes forward.  Low qword first. */
#define K_FOLD_LO UINT64_C(0x1751997d0)
#define K_FOLD_HI UINT64_C(0x0ccaa009e)
/* The same for 32 bytes: x^(256+32) and x^(256-32) mod P. */
#define K_FOLD32_LO UINT64_C(0x0f1da05aa)
#define K_FOLD32_HI UINT64_C(0x15a546366)
/* x^64 and x^128 mod P: reduce() carries a remainder's 32-bit words one
 * and three words on with them (two with K_FOLD_HI, x^96). */
#define K_64 UINT64_C(0x163cd6124)
#define K_128 UINT64_C(0x140d44a2e)
/* P' (P, reflected, with x^32) and mu' = x^64 / P (reflected), Barrett. */
#define K_POLY UINT64_C(0x1db710641)
#define K_MU UINT64_C(0x1f7011641)

/* pshufb controls: 16 bytes at 'shuf + 16 + r' shift a vector down
 * (toward byte 0) by r bytes; at 'shuf + r' up by 16 - r; 0x80 gives 0. */
static const uint8_t shuf[48] = {
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
};

/* 'x' carried over as many bytes as the constants 'k' stand for, then
 * XORed with 'next'. */
static inline CLMUL_TARGET __m128i
fold_by(__m128i x, __m128i k, __m128i next)
{
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                                       _mm_clmulepi64_si128(x, k, 0x11)),
                         next);
}

/* 'x' carried over the next 16 bytes, 'next'. */
static inline CLMUL_TARGET __m128i
fold16(__m128i x, __m128i next)
{
    return fold_by(x, _mm_set_epi64x(K_FOLD_HI, K_FOLD_LO), next);
}

/* The CRC register (not inverted) that 128-bit remainder 'x' stands for.
 * Its first three 32-bit words are carried onto the last, each by
 * x^(32j + 32) for its distance of j words, in three multiplications that
 * do not wait for each other; then Barrett takes the 64 bits to 32.  (Two
 * steps, 128 -> 96 -> 64 bits, put one more multiplication on the path
 * that ends every pass: about 1 ns of a 64-byte conversion.) */
static inline CLMUL_TARGET uint32_t
reduce(__m128i x)
{
    const __m128i k_even = _mm_set_epi64x(K_64, K_128);  /* Words 2, 0. */
    const __m128i k_odd = _mm_set_epi64x(0, K_FOLD_HI);  /* Word 1. */
    const __m128i poly = _mm_set_epi64x(K_MU, K_POLY);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i even = _mm_and_si128(x, _mm_set_epi32(0, -1, 0, -1));
    __m128i odd = _mm_srli_epi64(x, 32);                /* Words 1, 3. */
    __m128i t;

    /* 128 -> 64 bits. */
    x = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(even, k_even, 0x00),
                                    _mm_clmulepi64_si128(even, k_even, 0x11)),
                      _mm_xor_si128(_mm_clmulepi64_si128(odd, k_odd, 0x00),
                                    _mm_srli_si128(odd, 8)));
    /* Barrett: 64 -> 32 bits. */
    t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x, mask32), poly,
                                           0x10), mask32);
    x = _mm_xor_si128(x, _mm_clmulepi64_si128(t, poly, 0x00));
    return (uint32_t) _mm_extract_epi32(x, 1);
}

/* 'x' carried over 32 bytes, to be XORed with the block 32 bytes on: two
 * remainders in flight halve the chain of dependent multiplications. */
static inline CLMUL_TARGET __m128i
fold32(__m128i x, __m128i next)
{
    return fold_by(x, _mm_set_epi64x(K_FOLD32_HI, K_FOLD32_LO), next);
}

/* The CRC after remainder 'x' and the bytes from 'p' to 'end', the end
 * of a rest that began at 'start'. */
static inline CLMUL_TARGET uint32_t
fold_tail(__m128i x, const uint8_t *start, const uint8_t *p,
          const uint8_t *end)
{
    __m128i a, b, ctl, last;
    size_t r;

    for (; p + 16 <= end; p += 16) {
        x = fold16(x, _mm_loadu_si128((const __m128i *) p));
    }
    r = end - p;                      /* Bytes after the whole blocks. */
    if (!r) {
        return ~reduce(x);
    }
    if (end - start < 16) {
        /* Too short to load the last 16 bytes in place: from a copy. */
        uint8_t tmp[16] = { 0 };

        memcpy(tmp + 16 - r, p, r);
        last = _mm_loadu_si128((const __m128i *) tmp);
    } else {
        last = _mm_loadu_si128((const __m128i *) (end - 16));
    }

    /* 'x' then 'r' more bytes, the top 'r' bytes of 'last': as 16 bytes
     * 'a' (zeros, then the first 'r' bytes of 'x') followed by 16 bytes
     * 'b' (the rest of 'x', then the new bytes). */
    a = _mm_shuffle_epi8(x, _mm_loadu_si128((const __m128i *) (shuf + r)));
    ctl = _mm_loadu_si128((const __m128i *) (shuf + 16 + r));
    b = _mm_or_si128(_mm_shuffle_epi8(x, ctl),
                     _mm_and_si128(last, _mm_cmplt_epi8(ctl,
                                                        _mm_setzero_si128())));
    return ~reduce(fold16(a, b));
}

static CLMUL_TARGET uint32_t
crc32_fold_clmul(uint32_t crc, const ibb_v16 *head, size_t n16,
                 const uint8_t *rest, size_t len)
{
    const __m128i *h = (const __m128i *) head;
    const uint8_t *start = rest, *end = rest + len;
    __m128i x, x1;
    size_t i;

    x = _mm_xor_si128(_mm_loadu_si128(&h[0]), _mm_cvtsi32_si128((int) ~crc));
    if (len > FOLD_REST_MAX || n16 < 2) {
        for (i = 1; i < n16; i++) {
            x = fold16(x, _mm_loadu_si128(&h[i]));
        }
        if (len > FOLD_REST_MAX) {
            return ibb_crc32(~reduce(x), rest, len);
        }
    } else {
        /* Two remainders, of the even and the odd blocks. */
        x1 = _mm_loadu_si128(&h[1]);
        for (i = 2; i + 2 <= n16; i += 2) {
            x = fold32(x, _mm_loadu_si128(&h[i]));
            x1 = fold32(x1, _mm_loadu_si128(&h[i + 1]));
        }
        if (i < n16) {
            /* An odd head: its last block pairs with the rest's first. */
            if (rest + 16 <= end) {
                x = fold32(x, _mm_loadu_si128(&h[i]));
                x1 = fold32(x1, _mm_loadu_si128((const __m128i *) rest));
                rest += 16;
            } else {
                return fold_tail(fold16(fold16(x, x1),
                                        _mm_loadu_si128(&h[i])),
                                 start, rest, end);
            }
        }
        for (; rest + 32 <= end; rest += 32) {
            x = fold32(x, _mm_loadu_si128((const __m128i *) rest));
            x1 = fold32(x1, _mm_loadu_si128((const __m128i *) (rest + 16)));
        }
        x = fold16(x, x1);
    }
    return fold_tail(x, start, rest, end);
}

/* AVX-512 with VPCLMULQDQ: four 16-byte lanes per instruction, as ISA-L
 * does, but with the head folded in rather than reduced first.  The
 * constants for a distance of D bits are x^(D+32) and x^(D-32) mod P, as
 * above. */
static const struct ibb_fold_wide_k crc32_wide_k = {
    .k2048 = { UINT64_C(0x11542778a), UINT64_C(0x1322d1430) },
    .k1536 = { UINT64_C(0x1821d8bc0), UINT64_C(0x12e958ac4) },
    .k1024 = { UINT64_C(0x1e88ef372), UINT64_C(0x14a7fe880) },
    .k512 = { UINT64_C(0x154442bd4), UINT64_C(0x1c6e41596) },
    .k384 = { UINT64_C(0x03db1ecdc), UINT64_C(0x174359406) },
    .k256 = { K_FOLD32_LO, K_FOLD32_HI },
    .k128 = { K_FOLD_LO, K_FOLD_HI },
};

/* The wide path also moves bytes across lanes (AVX-512 VBMI), which every
 * CPU with VPCLMULQDQ has. */
#define CRC32_WIDE_TARGET \
    __attribute__((target("avx512f,avx512bw,avx512vbmi,vpclmulqdq," \
                          "pclmul,sse4.1")))

/* 64 bytes of the message as if led by 'pad' zeros, from byte 'ofs' on
 * (0 or 64): zeros before 'pad', then the head (its bytes in 'h', 'first'
 * - 'pad' of them), then the rest (its first bytes in 'r').  Put together
 * in registers: built on the stack, the block would be loaded across
 * several stores, and such a load waits until they reach the cache, behind
 * everything before them. */
static inline CRC32_WIDE_TARGET __m512i
lead_block(__m512i h, __m512i r, size_t pad, size_t first, size_t ofs)
{
    const __m512i iota = _mm512_set_epi8(
        63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48,
        47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32,
        31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
        15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    /* Byte g of the message is h[g - pad] or, past 'first', r[g - first],
     * which is byte 64 + g - first of h and r together. */
    __m512i g = _mm512_add_epi8(iota, _mm512_set1_epi8((char) ofs));
    __m512i idx = _mm512_sub_epi8(g, _mm512_set1_epi8((char) pad));
    __mmask64 in_rest = (first <= ofs ? ~UINT64_C(0)
                         : first - ofs >= 64 ? 0
                         : ~UINT64_C(0) << (first - ofs));
    __mmask64 nonzero = pad <= ofs ? ~UINT64_C(0) : ~UINT64_C(0) << pad;

    idx = _mm512_mask_sub_epi8(idx, in_rest, g,
                               _mm512_set1_epi8((char) (first - 64)));
    return _mm512_maskz_permutex2var_epi8(nonzero, h, idx, r);
}

/* For a rest of WIDE_REST_MIN bytes or more.  The message is folded as
 * if it began with as many zero bytes as make its length a whole number
 * of 64-byte blocks: zeros in front leave a CRC register of 0 at 0, so the
 * value is the same, and the last block then ends the loop with no bytes
 * left over.  Taking them 16 bytes at a time after the loop would add a
 * chain of dependent multiplications (about 4 ns at 4 KiB); the zeros
 * only fill a block that is folded anyway. */
static CRC32_WIDE_TARGET uint32_t
crc32_fold_wide(uint32_t crc, const ibb_v16 *head, size_t n16,
                const uint8_t *rest, size_t len)
{
    const uint8_t *end = rest + len;
    size_t pad = (64 - (16 * n16 + len) % 64) % 64;
    size_t first = pad + 16 * n16;    /* Zeros and head: 16 to 127 bytes. */
    const __m128i *hv = (const __m128i *) head;
    __m512i h, r, x0;

    /* The head in its lanes (the register XORed into its first bytes),
     * each lane loaded as it was stored; the rest's first 64 bytes. */
    h = _mm512_castsi128_si512(
        _mm_xor_si128(_mm_loadu_si128(&hv[0]),
                      _mm_cvtsi32_si128((int) ~crc)));
    if (n16 > 1) {
        h = _mm512_inserti32x4(h, _mm_loadu_si128(&hv[1]), 1);
    }
    if (n16 > 2) {
        h = _mm512_inserti32x4(h, _mm_loadu_si128(&hv[2]), 2);
    }
    if (n16 > 3) {
        h = _mm512_inserti32x4(h, _mm_loadu_si128(&hv[3]), 3);
    }
    r = _mm512_loadu_si512(rest);
    x0 = lead_block(h, r, pad, first, 0);
    if (first > 64) {
        x0 = ibb_fold4(x0, ibb_fold_wide_k4(crc32_wide_k.k512),
                       lead_block(h, r, pad, first, 64));
    }
    rest += (first <= 64 ? 64 : 128) - first;
    return ~reduce(ibb_fold_wide(x0, &rest, end, &crc32_wide_k));
}

/* a * b * x^32 mod P, in zlib's representation (bit 31 is x^0).  The
 * carry-less product of the two 32-bit values has x^0 at bit 62; moved
 * up by 65 bits it is a 128-bit remainder whose first message bit is
 * x^0, which reduce() turns into the CRC register: product times x^32. */
static CLMUL_TARGET uint32_t
mulmod_x32(uint32_t a, uint32_t b)
{
    __m128i p = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int) a),
                                     _mm_cvtsi32_si128((int) b), 0x00);

    return reduce(_mm_slli_si128(_mm_slli_epi64(p, 1), 8));
}

/* Tables for a shift by l + 256h bytes (l, h < 256), each product of
 * mulmod_x32() bringing its own x^32: h = 0 takes one multiplication, by
 * shift_lo[l] = x^(8l - 32) (l >= 4); else two, by shift_x8[l] = x^(8l)
 * and shift_hi[h] = x^(2048h - 64).  All mod P, filled once from zlib at
 * load time. */
static uint32_t shift_x8[256];
static uint32_t shift_lo[256];
static uint32_t shift_hi[256];

static void __attribute__((constructor))
shift_init(void)
{
    for (unsigned int l = 0; l < 256; l++) {
        shift_x8[l] = crc32_combine_gen(l);
        shift_lo[l] = l >= 4 ? crc32_combine_gen(l - 4) : 0;
        shift_hi[l] = l ? crc32_combine_gen(256 * l - 8) : 0;
    }
}

static CLMUL_TARGET uint32_t
shift_clmul(uint32_t crc, size_t len)
{
    size_t lo = len & 0xff, hi = len >> 8;

    if (!hi) {
        return mulmod_x32(crc, shift_lo[lo]);
    }
    return mulmod_x32(mulmod_x32(crc, shift_x8[lo]), shift_hi[hi]);
}

/* Whether the CPU has PCLMULQDQ and SSE4.1, asked once at load time so
 * that each call only tests a flag. */
static bool have_clmul;
static bool can_wide;           /* The CPU has AVX-512F and VPCLMULQDQ. */
static bool have_wide;          /* ...and ibb_crc32_fold_wide() left it on. */

static void __attribute__((constructor))
have_clmul_init(void)
{
    __builtin_cpu_init();
    have_clmul = (__builtin_cpu_supports("pclmul")
                  && __builtin_cpu_supports("sse4.1"));
    can_wide = (have_clmul && __builtin_cpu_supports("avx512f")
                && __builtin_cpu_supports("avx512bw")
                && __builtin_cpu_supports("avx512vbmi")
                && __builtin_cpu_supports("vpclmulqdq"));
    have_wide = can_wide;
}
#else
static const bool have_clmul = false;
static const bool can_wide = false;
static bool have_wide;
#endif

/* ibb_crc32_fold() without PCLMULQDQ: apart, so that the common path
 * saves no registers for it. */
static uint32_t __attribute__((noinline))
crc32_fold_plain(uint32_t crc, const ibb_v16 *head, size_t n16,
                 const void *rest, size_t len)
{
    return ibb_crc32(ibb_crc32(crc, head, 16 * n16), rest, len);
}

uint32_t
ibb_crc32_fold(uint32_t crc, const ibb_v16 *head, size_t n16,
               const void *rest, size_t len)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (len >= WIDE_REST_MIN && have_wide) {
        return crc32_fold_wide(crc, head, n16, rest, len);
    }
    if (have_clmul) {
        return crc32_fold_clmul(crc, head, n16, rest, len);
    }
#endif
    return crc32_fold_plain(crc, head, n16, rest, len);
}

uint32_t
ibb_crc32_fold_shift(uint32_t crc, size_t len)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (have_clmul && len >= 4 && len <= 0xffff) {
        return shift_clmul(crc, len);
    }
#endif
    return ibb_crc32_shift(crc, len);
}

bool
ibb_crc32_fold_wide(bool on)
{
    have_wide = on && can_wide;
    return have_wide;
}

const char *
ibb_crc32_fold_impl(void)
{
    return (have_wide ? "vpclmul"
            : have_clmul ? "clmul"
            : "plain");
}
