/*
 * CRC-32 (the ICRC's, lib/ib-crc.h, zlib's convention) over a head built
 * in registers followed by bytes in memory, in one pass.
 *
 * A converter builds the masked head of a packet's ICRC input (the ones,
 * the IP and UDP headers, the BTH) apart from the packet, and the rest
 * lies in the packet.  Two calls of ibb_crc32() each pay a final reduction;
 * with carry-less multiplication (PCLMULQDQ) the head is folded straight
 * into the pass over the rest, and a short packet pays one reduction.
 * Where the CPU has AVX-512 VPCLMULQDQ and VBMI, a rest of a 64-byte block
 * or more is folded four lanes per instruction (as fast as ISA-L at 4 KiB)
 * with the head; without them a long rest goes to ISA-L or zlib, seeded
 * with the head's CRC.
 * Without PCLMULQDQ at run time the same value comes from ibb_crc32().
 * The same multiplication also moves a CRC past zeros, for combining.
 */
#ifndef IBB_CRC_FOLD_H
#define IBB_CRC_FOLD_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 16 bytes as one value (a GCC/Clang vector type: no CPU-specific code),
 * so that a head is built and stored in whole 16-byte pieces: loads that
 * straddle several narrower stores would wait for them to reach the
 * cache. */
typedef uint8_t ibb_v16 __attribute__((vector_size(16)));

/* Returns the CRC-32 continuing 'crc' over the 'n16' 16-byte blocks at
 * 'head' (1 <= 'n16' <= 4) and then the 'len' bytes at 'rest'. */
uint32_t ibb_crc32_fold(uint32_t crc, const ibb_v16 *head, size_t n16,
                        const void *rest, size_t len);

/* ibb_crc32_shift() (lib/ib-crc.h), the CRC 'crc' moved past 'len' zero
 * bytes, with two carry-less multiplications where zlib's multiplication
 * modulo P loops over bits. */
uint32_t ibb_crc32_fold_shift(uint32_t crc, size_t len);

/* Whether ibb_crc32_fold() uses AVX-512 VPCLMULQDQ for long rests here
 * ("vpclmul"), PCLMULQDQ with ISA-L or zlib for them ("clmul"), or no
 * carry-less multiplication ("plain"), for benchmarks. */
const char *ibb_crc32_fold_impl(void);

/* Turns the VPCLMULQDQ code off (false) or back on where the CPU has it,
 * so that tests and benchmarks reach the other code on such a CPU too.
 * Returns whether it is now on.  Not thread-safe: call it before
 * converting. */
bool ibb_crc32_fold_wide(bool on);

#endif /* ibb-crc-fold.h */
