/*
 * IPoIB address resolution for ibsim-host: an ARP request on the
 * partition's broadcast group and the answer, as an IPoIB stack (and so
 * rdma_cm's rdma_resolve_addr()) resolves an IPv4 address on IB.
 */
#ifndef IBSIM_IPOIB_H
#define IBSIM_IPOIB_H 1

#include <stdint.h>

#include "ibb-ipoib-arp.h"

struct ibb_port;
struct ibb_port_attr;

struct ibsim_ipoib_answer {
    struct ibb_ipoib_hwaddr hw;     /* The answer's sender address. */
    uint16_t slid;                  /* The LID it came from. */
};

/* Resolves IPv4 address 'ip' (as ::ffff:a.b.c.d) from 'my_ip' on 'port'
 * (whose attributes are 'attr', in partition 'pkey'): joins the broadcast
 * group, opens an IPoIB QP, asks up to three times, a second apart, and
 * leaves again.  Returns 0 with the answer in '*answer', ETIMEDOUT if
 * nobody answered, or the port's error (ibb_port_error()). */
int ibsim_ipoib_resolve(struct ibb_port *port,
                        const struct ibb_port_attr *attr, uint16_t pkey,
                        const uint8_t my_ip[16], const uint8_t ip[16],
                        struct ibsim_ipoib_answer *answer);

#endif /* ibsim-ipoib.h */
