/*
 * Folding four 16-byte lanes per instruction with AVX-512 VPCLMULQDQ, the
 * loop that the VCRC (lib/ib-crc-clmul.c) and the ICRC's CRC-32
 * (lib/ibb-crc-fold.c) share: the two polynomials differ only in their
 * constants and in how the first block and the last bytes are taken.
 * x86-64 with GCC or clang only: include it inside such a guard.
 */
#ifndef IBB_FOLD_WIDE_H
#define IBB_FOLD_WIDE_H 1

#include <immintrin.h>
#include <stdint.h>

#define IBB_WIDE_TARGET \
    __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.1")))

/* One polynomial's constants, each a pair (for a lane's low 64 bits, for
 * its high 64 bits) that carries a 16-byte lane the given number of bits
 * further: by four 64-byte blocks, by three, two and one, and, to merge
 * the four lanes of the last block, by 384, 256 and 128 bits. */
struct ibb_fold_wide_k {
    uint64_t k2048[2], k1536[2], k1024[2], k512[2];
    uint64_t k384[2], k256[2], k128[2];
};

static inline IBB_WIDE_TARGET __m512i
ibb_fold_wide_k4(const uint64_t k[2])
{
    return _mm512_set_epi64(k[1], k[0], k[1], k[0], k[1], k[0], k[1], k[0]);
}

/* Each lane of 'x' carried over the distance 'k' stands for, XORed with
 * 'next'. */
static inline IBB_WIDE_TARGET __m512i
ibb_fold4(__m512i x, __m512i k, __m512i next)
{
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                     _mm512_clmulepi64_epi128(x, k, 0x11),
                                     next, 0x96);
}

/* Folds the whole 64-byte blocks from '*pp' to 'end' into 'x0', the
 * first block's four lanes, and returns those lanes merged into one 128-bit
 * remainder.  Leaves '*pp' at the fewer than 64 bytes after them. */
static inline IBB_WIDE_TARGET __m128i
ibb_fold_wide(__m512i x0, const uint8_t **pp, const uint8_t *end,
              const struct ibb_fold_wide_k *k)
{
    const __m512i k512 = ibb_fold_wide_k4(k->k512);
    const uint8_t *p = *pp;

    if (end - p >= 192) {
        /* Four accumulators 64 bytes apart, 256 bytes a round: sixteen
         * chains, enough to keep the multiplier busy for its latency. */
        const __m512i k2048 = ibb_fold_wide_k4(k->k2048);
        __m512i x1 = _mm512_loadu_si512(p);
        __m512i x2 = _mm512_loadu_si512(p + 64);
        __m512i x3 = _mm512_loadu_si512(p + 128);

        for (p += 192; end - p >= 256; p += 256) {
            x0 = ibb_fold4(x0, k2048, _mm512_loadu_si512(p));
            x1 = ibb_fold4(x1, k2048, _mm512_loadu_si512(p + 64));
            x2 = ibb_fold4(x2, k2048, _mm512_loadu_si512(p + 128));
            x3 = ibb_fold4(x3, k2048, _mm512_loadu_si512(p + 192));
        }
        x0 = ibb_fold4(x0, ibb_fold_wide_k4(k->k1536),
                       ibb_fold4(x1, ibb_fold_wide_k4(k->k1024),
                                 ibb_fold4(x2, k512, x3)));
    }
    for (; end - p >= 64; p += 64) {
        x0 = ibb_fold4(x0, k512, _mm512_loadu_si512(p));
    }
    *pp = p;

    /* The four lanes into one: the first three carried 384, 256 and 128
     * bits, the last as it is. */
    x0 = _mm512_mask_blend_epi64(
        0xc0, ibb_fold4(x0, _mm512_set_epi64(0, 0, k->k128[1], k->k128[0],
                                             k->k256[1], k->k256[0],
                                             k->k384[1], k->k384[0]),
                        _mm512_setzero_si512()),
        x0);
    return _mm_xor_si128(_mm_xor_si128(_mm512_extracti32x4_epi32(x0, 0),
                                       _mm512_extracti32x4_epi32(x0, 1)),
                         _mm_xor_si128(_mm512_extracti32x4_epi32(x0, 2),
                                       _mm512_extracti32x4_epi32(x0, 3)));
}

#endif /* ibb-fold-wide.h */
