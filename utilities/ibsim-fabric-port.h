/*
 * ibsim-fabric's port I/O: what one connection (one HCA port) reads and
 * is sent, apart from what the fabric decides about it.
 *
 *   - Receiving: ibsim_port_receive() reads up to IBSIM_PORT_BURST
 *     messages at once; ibsim_port_next() hands them out one by one.
 *     Messages read past a packet that got held stay pending in the port
 *     until it is released, so batching loses nothing and keeps their
 *     order.
 *
 *   - Sending a forwarded packet: if the receiver has nothing queued, the
 *     message joins the receiver's send batch, which points into the
 *     sender's receive buffer (no copy) and goes out in one go in
 *     ibsim_port_flush_batches().  A batch never holds more packets
 *     than the receiver's queue has room for, so whatever its socket does
 *     not take moves to the queue, exactly as a refused sendmsg() of each
 *     packet would have.
 *
 *   - Queueing: control replies, and packets the socket did not take, wait
 *     in the port's queue; at most 'queue_len' packets.  A packet that
 *     finds a receiver's queue full is "held" at its sender, which is then
 *     not read until every receiver has taken it (back-pressure).
 */
#ifndef IBSIM_FABRIC_PORT_H
#define IBSIM_FABRIC_PORT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/list.h"

/* Most messages read from one port per main-loop iteration. */
#define IBSIM_PORT_BURST 32

struct ibsim_port_rx;
struct ibsim_port_tx;
struct ibsim_port_msg;

/* One port's I/O state, embedded in the fabric's port. */
struct ibsim_port_io {
    int fd;                     /* Connection. */
    unsigned int num;           /* Switch port number. */
    const char *name;           /* The port's name, for logs. */
    bool dead;                  /* Connection failed, close soon. */

    struct ovs_list txq;        /* "struct ibsim_port_msg"s to send. */
    size_t n_queued;            /* Packets in 'txq'. */
    struct ibsim_port_tx *tx;   /* Send batch, or NULL before first use. */
    struct ibsim_port_rx *rx;   /* Receive batch, or NULL before first. */

    /* A packet from this port that waits for room at some receivers: the
     * fabric reads nothing more from this port meanwhile. */
    struct ibsim_port_msg *held; /* The packet, or NULL. */
    unsigned int *held_dests;   /* Port numbers still to deliver to. */
    size_t n_held_dests;        /* Number of 'held_dests'. */

    unsigned long long rx_packets, tx_packets; /* Packets from and to. */
};

/* How the module finds a live port by number (NULL if none or dead), and
 * the counter it bumps for a packet whose receiver went away. */
void ibsim_port_module_init(size_t queue_len,
                            struct ibsim_port_io *(*lookup)(unsigned int),
                            unsigned long long *dest_gone);

void ibsim_port_init(struct ibsim_port_io *, int fd, unsigned int num,
                     const char *name);
void ibsim_port_destroy(struct ibsim_port_io *);

/* Receiving. */
void ibsim_port_receive(struct ibsim_port_io *);
uint8_t *ibsim_port_next(struct ibsim_port_io *, size_t *len);

/* Sending. */
void ibsim_port_enqueue(struct ibsim_port_io *, uint16_t type,
                        uint16_t status, uint32_t xid, const void *body,
                        size_t body_len);
bool ibsim_port_send_packet(struct ibsim_port_io *, uint8_t *msg,
                            size_t len);
bool ibsim_port_hold(struct ibsim_port_io *src, const uint8_t *pkt,
                     size_t len, const unsigned int *dests, size_t n_dests);
void ibsim_port_flush_batches(void);
bool ibsim_port_flush(struct ibsim_port_io *);
bool ibsim_port_retry_held(struct ibsim_port_io *);

void ibsim_port_wait(struct ibsim_port_io *);

#endif /* ibsim-fabric-port.h */
