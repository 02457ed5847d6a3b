/*
 * Internet checksum.
 */
#include <config.h>

#include "ibb-csum.h"

#include <stdbool.h>
#include <string.h>

#include "ib-gid.h"
#include "ibb-bytes.h"

#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <emmintrin.h>

/* The block sums below add the data as little-endian 32-bit words zero-
 * extended into 64-bit lanes: no carries to track.  Summing byte-swapped
 * words gives the byte swap of the sum (RFC 1071, 2(B)), so the folded sum
 * of the lanes 'a' is swapped back here. */
static uint32_t
fold_lanes(__m128i a)
{
    uint64_t lanes[2], s;

    _mm_storeu_si128((__m128i *) lanes, a);
    s = (lanes[0] & 0xffffffff) + (lanes[0] >> 32)
        + (lanes[1] & 0xffffffff) + (lanes[1] >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint32_t) ((s & 0xff) << 8 | s >> 8);
}

/* The sum of the 16-byte blocks at 'p', '*lenp' bytes of which a multiple
 * of 16 is taken (and subtracted from '*lenp'), folded to 16 bits, as big-
 * endian words would give it.  SSE2 (every x86-64): 16 bytes per step on
 * two independent accumulators. */
static uint32_t
csum_add_sse2(const uint8_t *p, size_t *lenp)
{
    const __m128i lo32 = _mm_set_epi32(0, -1, 0, -1);
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    size_t len = *lenp;

    /* Each lane gains less than 2**32 a step: no overflow under 2**36
     * bytes.  AND and shift rather than unpacks, which would all queue
     * for the one shuffle port. */
    for (; len >= 32; p += 32, len -= 32) {
        __m128i x = _mm_loadu_si128((const __m128i *) p);
        __m128i y = _mm_loadu_si128((const __m128i *) (p + 16));

        a0 = _mm_add_epi64(a0, _mm_and_si128(x, lo32));
        a1 = _mm_add_epi64(a1, _mm_srli_epi64(x, 32));
        a2 = _mm_add_epi64(a2, _mm_and_si128(y, lo32));
        a3 = _mm_add_epi64(a3, _mm_srli_epi64(y, 32));
    }
    if (len >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *) p);

        a0 = _mm_add_epi64(a0, _mm_and_si128(x, lo32));
        a1 = _mm_add_epi64(a1, _mm_srli_epi64(x, 32));
        len -= 16;
    }
    *lenp = len;
    return fold_lanes(_mm_add_epi64(_mm_add_epi64(a0, a1),
                                    _mm_add_epi64(a2, a3)));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CSUM_AVX2 1
#include <immintrin.h>

/* Whether the CPU has AVX2, asked once at load time. */
static bool have_avx2;

static void __attribute__((constructor))
have_avx2_init(void)
{
    __builtin_cpu_init();
    have_avx2 = __builtin_cpu_supports("avx2");
}

/* csum_add_sse2() 64 bytes a step, where the CPU has AVX2: twice the
 * bytes per instruction, so a 4 KiB UDP checksum over IPv6 costs less
 * than the CRC beside it.  Leaves fewer than 64 bytes. */
static __attribute__((target("avx2"))) uint32_t
csum_add_avx2(const uint8_t *p, size_t *lenp)
{
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffff);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t len = *lenp;

    for (; len >= 64; p += 64, len -= 64) {
        __m256i x = _mm256_loadu_si256((const __m256i *) p);
        __m256i y = _mm256_loadu_si256((const __m256i *) (p + 32));

        a0 = _mm256_add_epi64(a0, _mm256_and_si256(x, lo32));
        a1 = _mm256_add_epi64(a1, _mm256_srli_epi64(x, 32));
        a2 = _mm256_add_epi64(a2, _mm256_and_si256(y, lo32));
        a3 = _mm256_add_epi64(a3, _mm256_srli_epi64(y, 32));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1),
                          _mm256_add_epi64(a2, a3));
    *lenp = len;
    return fold_lanes(_mm_add_epi64(_mm256_castsi256_si128(a0),
                                    _mm256_extracti128_si256(a0, 1)));
}
#endif
#endif

uint32_t
ibb_csum_add(uint32_t sum, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t acc = sum;

#ifdef CSUM_AVX2
    if (len >= 128 && have_avx2) {
        size_t rest = len;

        acc += csum_add_avx2(p, &rest);
        p += len - rest;
        len = rest;
    }
#endif
#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len >= 64) {
        size_t rest = len;

        acc += csum_add_sse2(p, &rest);
        p += len - rest;
        len = rest;
    }
#endif
    /* 8 bytes per step into a 64-bit accumulator: the carries out of each
     * 32-bit half are kept in the upper bits and folded at the end. */
    while (len >= 8) {
        acc += ibb_get_be32(p);
        acc += ibb_get_be32(p + 4);
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        acc += ibb_get_be16(p);
        p += 2;
        len -= 2;
    }
    if (len) {
        acc += (uint32_t) p[0] << 8;
    }
    acc = (acc & 0xffffffff) + (acc >> 32);
    acc = (acc & 0xffffffff) + (acc >> 32);
    return (uint32_t) acc;
}

const char *
ibb_csum_impl(void)
{
#ifdef CSUM_AVX2
    if (have_avx2) {
        return "avx2";
    }
#endif
#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "sse2";
#else
    return "plain";
#endif
}

uint16_t
ibb_csum_udp(const uint8_t src[16], const uint8_t dst[16],
             const uint8_t *udp, size_t len)
{
    uint8_t pseudo[40];
    size_t plen;
    uint32_t sum;
    uint16_t csum;

    if (ibb_gid_is_v4mapped(src)) {
        memcpy(pseudo, src + 12, 4);
        memcpy(pseudo + 4, dst + 12, 4);
        pseudo[8] = 0;
        pseudo[9] = 17;
        ibb_put_be16(pseudo + 10, (uint16_t) len);
        plen = 12;
    } else {
        memcpy(pseudo, src, 16);
        memcpy(pseudo + 16, dst, 16);
        ibb_put_be32(pseudo + 32, (uint32_t) len);
        ibb_put_be32(pseudo + 36, 17);
        plen = 40;
    }
    sum = ibb_csum_add(0, pseudo, plen);
    sum = ibb_csum_add(sum, udp, 6);
    sum = ibb_csum_add(sum, udp + 8, len - 8);
    csum = ibb_csum_finish(sum);
    return csum ? csum : 0xffff;
}

uint16_t
ibb_csum_icmp6(const uint8_t src[16], const uint8_t dst[16],
               const uint8_t *msg, size_t len)
{
    uint8_t tail[8] = { 0 };
    uint32_t sum;

    tail[0] = len >> 24;
    tail[1] = len >> 16;
    tail[2] = len >> 8;
    tail[3] = len;
    tail[7] = 58;               /* IPPROTO_ICMPV6 */
    sum = ibb_csum_add(0, src, 16);
    sum = ibb_csum_add(sum, dst, 16);
    sum = ibb_csum_add(sum, tail, 8);
    return ibb_csum_finish(ibb_csum_add(sum, msg, len));
}
