/*
 * Building one UD SEND datagram as it goes on the IB wire, for the
 * datagrams the bridge makes itself (answers to IPoIB ARP) and the test
 * hosts' requests.
 */
#ifndef IB_UD_BUILD_H
#define IB_UD_BUILD_H 1

#include <stddef.h>
#include <stdint.h>

struct ibb_ud_hdrs {
    uint16_t slid, dlid;
    uint8_t sl;                 /* 0..15. */
    uint8_t sgid[16], dgid[16]; /* GRH, always present. */
    uint8_t tclass;
    uint32_t flow;              /* 20 bits. */
    uint8_t hop_limit;
    uint16_t pkey;
    uint32_t dqpn, sqpn, qkey;
    uint32_t psn;
};

/* Room a datagram with 'len' bytes of payload needs: LRH, GRH, BTH, DETH,
 * payload, pad, ICRC, VCRC. */
#define IBB_UD_BUILD_SIZE(LEN) (8 + 40 + 12 + 8 + (LEN) + 3 + 4 + 2)

/* Writes the datagram, with a right ICRC and VCRC, into 'pkt'
 * (IBB_UD_BUILD_SIZE('len') bytes) and returns its length, VCRC
 * included. */
size_t ibb_ud_build(uint8_t *pkt, const struct ibb_ud_hdrs *,
                    const uint8_t *payload, size_t len);

#endif /* ib-ud-build.h */
