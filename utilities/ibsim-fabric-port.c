/*
 * ibsim-fabric's port I/O: batched receive and send, send queues and held
 * packets.  See ibsim-fabric-port.h for the rules.
 */
#include <config.h>

#include "ibsim-fabric-port.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "util.h"

#include "fabric-proto.h"

VLOG_DEFINE_THIS_MODULE(ibsim_fabric_port);

/* A message waiting to be sent to a port. */
struct ibsim_port_msg {
    struct ovs_list node;       /* In port's 'txq'. */
    bool is_packet;             /* Counts against the queue bound. */
    size_t len;                 /* Length of 'data'. */
    uint8_t data[];             /* Header and body. */
};

/* Messages read in one go, handed out in order. */
struct ibsim_port_rx {
    size_t len[IBSIM_PORT_BURST]; /* Their lengths. */
    size_t n;                   /* Messages read. */
    size_t next;                /* First not yet handed out. */
    bool eof;                   /* The peer closed after 'n' messages. */
    int error;                  /* Or recv() failed after them: errno. */
    uint8_t buf[IBSIM_PORT_BURST][IBB_FABRIC_MAX_MSG]; /* Their data. */
};

/* Packets for one receiver, sent in one go.  They point into a sender's
 * receive batch, so the batch is sent before that is reused
 * (ibsim_port_flush_batches()). */
struct ibsim_port_tx {
    struct ovs_list dirty_node; /* In 'dirty_ports' while 'n' > 0. */
    struct ibsim_port_io *io;   /* The receiver. */
    struct iovec iov[IBSIM_PORT_BURST]; /* One message each. */
    size_t n;                   /* Packets in 'iov'. */
};

static size_t queue_len = 64;
static struct ibsim_port_io *(*port_lookup)(unsigned int num);
static unsigned long long *dest_gone;

/* Ports with packets in their send batch. */
static struct ovs_list dirty_ports = OVS_LIST_INITIALIZER(&dirty_ports);

/* The header of every forwarded packet. */
static const struct ibb_fmsg_hdr packet_hdr = { .type = IBB_FMSG_PACKET };

void
ibsim_port_module_init(size_t queue_len_,
                       struct ibsim_port_io *(*lookup)(unsigned int),
                       unsigned long long *dest_gone_)
{
    queue_len = queue_len_;
    port_lookup = lookup;
    dest_gone = dest_gone_;
}

void
ibsim_port_init(struct ibsim_port_io *io, int fd, unsigned int num,
                const char *name)
{
    memset(io, 0, sizeof *io);
    io->fd = fd;
    io->num = num;
    io->name = name;
    ovs_list_init(&io->txq);
}

void
ibsim_port_destroy(struct ibsim_port_io *io)
{
    struct ibsim_port_msg *m;

    LIST_FOR_EACH_POP (m, node, &io->txq) {
        free(m);
    }
    if (io->tx && io->tx->n) {
        ovs_list_remove(&io->tx->dirty_node);
    }
    close(io->fd);
    free(io->held);
    free(io->held_dests);
    free(io->rx);
    free(io->tx);
}

/* ------------------------------------------------------------------ */
/* Queues. */

static struct ibsim_port_msg *
msg_create(uint16_t type, uint16_t status, uint32_t xid, const void *body,
           size_t body_len)
{
    struct ibb_fmsg_hdr hdr = { .type = type, .status = status, .xid = xid };
    struct ibsim_port_msg *m = xmalloc(sizeof *m + sizeof hdr + body_len);

    m->is_packet = type == IBB_FMSG_PACKET;
    m->len = sizeof hdr + body_len;
    memcpy(m->data, &hdr, sizeof hdr);
    if (body_len) {
        memcpy(m->data + sizeof hdr, body, body_len);
    }
    return m;
}

static void
push(struct ibsim_port_io *io, struct ibsim_port_msg *m)
{
    ovs_list_push_back(&io->txq, &m->node);
    if (m->is_packet) {
        io->n_queued++;
    }
}

static bool
has_room(const struct ibsim_port_io *io)
{
    return io->n_queued < queue_len;
}

/* Sends one message without waiting.  Returns true if it went; a full
 * socket returns false, and any other error also marks the port dead.
 *
 * Batches go out with one send() per message rather than sendmmsg(), and
 * come in with recv() rather than recvmmsg(): on Debian 12's kernel the
 * per-message msghdr and iovec copies of the *mmsg() calls cost as much
 * as the system calls they save (bench-fabric, 64 B: 10% more CPU per
 * packet).  Batching pays off in the main loop's work per packet. */
static bool
send_buf(struct ibsim_port_io *io, const void *data, size_t len)
{
    if (send(io->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
        return true;
    }
    if (errno != EAGAIN && errno != EINTR) {
        VLOG_INFO("port %u (%s): send failed (%s), detaching",
                  io->num, io->name, ovs_strerror(errno));
        io->dead = true;
    }
    return false;
}

/* Sends 'io''s send batch.  What the socket does not take goes to the
 * queue, which was empty and has room for all of it (see
 * ibsim_port_send_packet()); if the port failed, it is counted as gone. */
static void
tx_flush(struct ibsim_port_io *io)
{
    struct ibsim_port_tx *tx = io->tx;
    size_t done = 0;

    if (!tx || !tx->n) {
        return;
    }
    while (done < tx->n
           && send_buf(io, tx->iov[done].iov_base, tx->iov[done].iov_len)) {
        done++;
        io->tx_packets++;
    }
    for (; done < tx->n; done++) {
        if (io->dead) {
            (*dest_gone)++;
        } else {
            size_t len = tx->iov[done].iov_len;
            struct ibsim_port_msg *m = xmalloc(sizeof *m + len);

            m->is_packet = true;
            m->len = len;
            memcpy(m->data, tx->iov[done].iov_base, len);
            push(io, m);
        }
    }
    tx->n = 0;
    ovs_list_remove(&tx->dirty_node);
}

void
ibsim_port_flush_batches(void)
{
    struct ibsim_port_tx *tx;

    LIST_FOR_EACH_SAFE (tx, dirty_node, &dirty_ports) {
        tx_flush(tx->io);
    }
}

void
ibsim_port_enqueue(struct ibsim_port_io *io, uint16_t type, uint16_t status,
                   uint32_t xid, const void *body, size_t body_len)
{
    /* Batched packets went before this message. */
    tx_flush(io);
    push(io, msg_create(type, status, xid, body, body_len));
}

/* Sends what the port's socket takes of its queue.  Returns true if
 * anything went. */
bool
ibsim_port_flush(struct ibsim_port_io *io)
{
    bool progress = false;

    tx_flush(io);
    while (!io->dead && !ovs_list_is_empty(&io->txq)) {
        struct ibsim_port_msg *m = CONTAINER_OF(ovs_list_front(&io->txq),
                                                struct ibsim_port_msg, node);

        if (!send_buf(io, m->data, m->len)) {
            break;
        }
        ovs_list_remove(&m->node);
        if (m->is_packet) {
            io->n_queued--;
            io->tx_packets++;
        }
        free(m);
        progress = true;
    }
    return progress;
}

/* ------------------------------------------------------------------ */
/* Forwarded packets. */

/* Takes received PACKET message 'msg' for 'dst' into its send batch if
 * nothing is queued before it, which saves a copy and a system call per
 * packet.  Its header becomes the one the fabric sends (status and xid
 * 0), so that the message goes out as it is, in one piece.  Returns true
 * if taken. */
bool
ibsim_port_send_packet(struct ibsim_port_io *dst, uint8_t *msg,
                       size_t len)
{
    struct ibsim_port_tx *tx;

    if (dst->dead || !ovs_list_is_empty(&dst->txq)) {
        return false;
    }
    if (!dst->tx) {
        dst->tx = xzalloc(sizeof *dst->tx);
        dst->tx->io = dst;
    }
    tx = dst->tx;
    /* No more than the (empty) queue could take if the socket refuses. */
    if (tx->n >= MIN(IBSIM_PORT_BURST, queue_len)) {
        tx_flush(dst);
        if (dst->dead || !ovs_list_is_empty(&dst->txq)) {
            return false;
        }
    }
    if (!tx->n) {
        ovs_list_push_back(&dirty_ports, &tx->dirty_node);
    }
    memcpy(msg, &packet_hdr, sizeof packet_hdr);
    tx->iov[tx->n].iov_base = msg;
    tx->iov[tx->n].iov_len = len;
    tx->n++;
    return true;
}

/* Sends the held message to 'dst' at once if nothing is queued before it.
 * Returns true if it went. */
static bool
send_now(struct ibsim_port_io *dst, const struct ibsim_port_msg *m)
{
    tx_flush(dst);
    if (dst->dead || !ovs_list_is_empty(&dst->txq)
        || !send_buf(dst, m->data, m->len)) {
        return false;
    }
    dst->tx_packets++;
    return true;
}

/* Tries to deliver 'io''s held packet to its remaining receivers.
 * Returns true if any copy was sent or queued or the packet was
 * released. */
bool
ibsim_port_retry_held(struct ibsim_port_io *io)
{
    bool progress = false;
    size_t i = 0;

    if (!io->held) {
        return false;
    }
    while (i < io->n_held_dests) {
        struct ibsim_port_io *dst = port_lookup(io->held_dests[i]);

        if (!dst) {
            (*dest_gone)++;
        } else if (send_now(dst, io->held)) {
            /* Sent without a copy. */
        } else if (has_room(dst)) {
            struct ibsim_port_msg *m = io->held;

            if (io->n_held_dests == 1) {
                io->held = NULL;        /* The last receiver takes it. */
            } else {
                m = xmemdup(m, sizeof *m + m->len);
            }
            push(dst, m);
        } else {
            i++;
            continue;
        }
        io->held_dests[i] = io->held_dests[--io->n_held_dests];
        progress = true;
    }
    if (!io->n_held_dests) {
        free(io->held);
        io->held = NULL;
        free(io->held_dests);
        io->held_dests = NULL;
        progress = true;
    }
    return progress;
}

/* Holds a copy of packet 'pkt' at its sender 'src' for receivers 'dests'
 * (port numbers), which did not take it at once, and delivers what it can.
 * Returns true if it is still held: 'src' is back-pressured. */
bool
ibsim_port_hold(struct ibsim_port_io *src, const uint8_t *pkt, size_t len,
                const unsigned int *dests, size_t n_dests)
{
    src->held = msg_create(IBB_FMSG_PACKET, 0, 0, pkt, len);
    src->held_dests = xmemdup(dests, n_dests * sizeof *dests);
    src->n_held_dests = n_dests;
    ibsim_port_retry_held(src);
    return src->held != NULL;
}

/* ------------------------------------------------------------------ */
/* Receiving. */

/* Reads a batch of messages from 'io' unless some are still pending from
 * the last one or 'io' is held. */
void
ibsim_port_receive(struct ibsim_port_io *io)
{
    struct ibsim_port_rx *rx = io->rx;

    if (io->dead || io->held) {
        return;
    }
    if (!rx) {
        rx = io->rx = xzalloc(sizeof *rx);
    }
    if (rx->next < rx->n || rx->eof || rx->error) {
        return;
    }
    rx->n = rx->next = 0;
    while (rx->n < IBSIM_PORT_BURST) {
        ssize_t n = recv(io->fd, rx->buf[rx->n], sizeof rx->buf[rx->n],
                         MSG_DONTWAIT);

        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                rx->error = errno;
            }
            break;
        } else if (!n) {
            rx->eof = true;
            break;
        }
        rx->len[rx->n++] = n;
    }
}

/* Returns the next message read from 'io', storing its length in '*len',
 * or NULL if none is pending or 'io' is held or dead. */
uint8_t *
ibsim_port_next(struct ibsim_port_io *io, size_t *len)
{
    struct ibsim_port_rx *rx = io->rx;

    if (!rx || io->dead || io->held) {
        return NULL;
    }
    if (rx->next < rx->n) {
        *len = rx->len[rx->next];
        return rx->buf[rx->next++];
    }
    /* The end of the connection comes after the messages before it. */
    if (rx->error) {
        VLOG_INFO("port %u (%s): recv failed (%s), detaching",
                  io->num, io->name, ovs_strerror(rx->error));
        io->dead = true;
    } else if (rx->eof) {
        VLOG_INFO("port %u (%s): disconnected", io->num, io->name);
        io->dead = true;
    }
    return NULL;
}

void
ibsim_port_wait(struct ibsim_port_io *io)
{
    short events = io->held ? 0 : POLLIN;

    if (!ovs_list_is_empty(&io->txq)) {
        events |= POLLOUT;
    }
    if (events) {
        poll_fd_wait(io->fd, events);
    }
    /* Messages read before the port was held wait in memory, not in the
     * socket. */
    if (!io->held && io->rx
        && (io->rx->next < io->rx->n || io->rx->eof || io->rx->error)) {
        poll_immediate_wake();
    }
}
