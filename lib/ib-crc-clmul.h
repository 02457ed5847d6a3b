/*
 * The InfiniBand VCRC's two implementations, for lib/ib-crc.c's dispatch,
 * the unit tests and the benchmarks.  Others call ibb_vcrc16().
 */
#ifndef IB_CRC_CLMUL_H
#define IB_CRC_CLMUL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Both compute ibb_vcrc16() (lib/ib-crc.h), with the same chaining. */

/* Slicing-by-8 tables: any CPU. */
uint16_t ibb_vcrc16_table(uint16_t crc, const void *buf, size_t len);

/* Carry-less multiplication folding (x86-64 PCLMULQDQ).  Call it only
 * where ibb_vcrc16_clmul_usable() is true. */
uint16_t ibb_vcrc16_clmul(uint16_t crc, const void *buf, size_t len);
bool ibb_vcrc16_clmul_usable(void);

/* The same with AVX-512 VPCLMULQDQ, four lanes per instruction (inputs
 * under 64 bytes go to ibb_vcrc16_clmul()).  Call it only where
 * ibb_vcrc16_vpclmul_usable(). */
uint16_t ibb_vcrc16_vpclmul(uint16_t crc, const void *buf, size_t len);
bool ibb_vcrc16_vpclmul_usable(void);

/* One constant the folding uses: x**exp mod P, where P is the VCRC
 * polynomial, in the reflected form of the table code (bit j holds the
 * coefficient of x**(15 - j)).  tests/test-crc.c recomputes each. */
struct ibb_vcrc_fold_const {
    unsigned int exp;           /* Power of x. */
    uint16_t value;             /* x**exp mod P, reflected. */
};
extern const struct ibb_vcrc_fold_const ibb_vcrc_fold_consts[];
extern const size_t ibb_vcrc_n_fold_consts;

#endif /* ib-crc-clmul.h */
