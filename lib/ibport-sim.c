/* IB port backend for the simulated fabric (utilities/ibsim-fabric): one
 * SOCK_SEQPACKET connection per port, protocol in lib/fabric-proto.h.
 *
 * Multicast joins and leaves are synchronous (request, then wait for the
 * answer) unless the port was opened with 'async_joins': then they go
 * through a join table (lib/ibb-join.h) that paces them toward the SA,
 * and their answers are taken wherever the port reads the socket, since
 * they interleave with packets: sim_recv() (the datapath), sim_request()
 * (another control request) and sim_run(), which also sends what the
 * pacing allows and fails or retries joins on time.
 *
 * The SA's group table and notices (ibb_port_mcg_*()) work the same way:
 * lib/ibb-mcg.h keeps their state and parses their messages, which are
 * taken wherever the socket is read; sim_run() reads while an answer is
 * awaited and sends what ibb_mcg_next() asks for. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fabric-proto.h"
#include "ib-gid.h"
#include "ibb-join.h"
#include "ibb-mcg.h"
#include "ibport-provider.h"

/* How long a control request waits for the fabric's answer. */
#define SIM_REPLY_TIMEOUT_MS 5000

/* Most control messages sim_run() reads in one call, and most packets it
 * lets wait in the pending queue (beyond, the answers wait in the socket
 * for sim_recv()). */
#define SIM_RUN_MAX_MSGS 256
#define SIM_RUN_MAX_PENDING 1024

/* How soon to try again when the socket took no request. */
#define SIM_SEND_RETRY_MS 10

/* A packet read while waiting for a control reply. */
struct sim_pkt {
    struct sim_pkt *next;       /* Next in the pending queue. */
    size_t len;                 /* Length of 'data'. */
    uint8_t data[];             /* LRH .. VCRC. */
};

struct ibb_port_sim {
    struct ibb_port up;         /* Common state, must be first. */
    int fd;                     /* Connection to the fabric, -1 if down. */
    uint32_t next_xid;          /* Next request id. */
    struct ibb_port_attr attr;  /* From the ATTACH reply. */
    struct sim_pkt *head;       /* Pending packets, oldest first. */
    struct sim_pkt **tailp;     /* Where to link the next one. */
    size_t n_pending;           /* Packets in the pending queue. */
    struct ibb_join_table *joins; /* Async joins, NULL if synchronous. */
    bool send_blocked;          /* The socket took no join request. */
    struct ibb_mcg *mcg;        /* SA group table client, NULL until
                                 * first used. */
};

static void sim_mcg_pump(struct ibb_port_sim *);

static struct ibb_port_sim *
sim_cast(const struct ibb_port *port)
{
    return (struct ibb_port_sim *) port;
}

static struct ibb_port *
sim_alloc(void)
{
    struct ibb_port_sim *sim = calloc(1, sizeof *sim);

    if (!sim) {
        return NULL;
    }
    sim->fd = -1;
    sim->next_xid = 1;
    sim->tailp = &sim->head;
    return &sim->up;
}

static void
sim_flush_pending(struct ibb_port_sim *sim)
{
    while (sim->head) {
        struct sim_pkt *p = sim->head;

        sim->head = p->next;
        free(p);
    }
    sim->tailp = &sim->head;
    sim->n_pending = 0;
}

static void
sim_dealloc(struct ibb_port *port)
{
    struct ibb_port_sim *sim = sim_cast(port);

    sim_flush_pending(sim);
    ibb_join_table_destroy(sim->joins);
    ibb_mcg_destroy(sim->mcg);
    free(sim);
}

static void
sim_disconnect(struct ibb_port *port)
{
    struct ibb_port_sim *sim = sim_cast(port);

    if (sim->fd >= 0) {
        close(sim->fd);
        sim->fd = -1;
    }
    sim->attr.state = IBB_PORT_DOWN;
    if (sim->joins) {
        /* The fabric dropped the port's memberships with the connection;
         * they are joined again once it is back. */
        ibb_join_reset(sim->joins);
    }
    if (sim->mcg) {
        /* A list in progress ends; the subscription is made again. */
        ibb_mcg_reset(sim->mcg);
    }
    sim->send_blocked = false;
}

/* Takes control message 'hdr' with 'len' bytes of body at 'body', read
 * outside sim_request(): the answer to an async join or leave, an SA group
 * list answer or notice, else a stale answer to a request that timed
 * out. */
static void
sim_take_reply(struct ibb_port_sim *sim, const struct ibb_fmsg_hdr *hdr,
               const uint8_t *body, size_t len)
{
    struct ibb_fmsg_mcast_reply mr;

    if (sim->mcg && ibb_mcg_take_msg(sim->mcg, hdr, body, len)) {
        return;
    }
    if (!sim->joins || (hdr->type != IBB_FMSG_MCAST_JOIN
                        && hdr->type != IBB_FMSG_MCAST_LEAVE)) {
        return;
    }
    memset(&mr, 0, sizeof mr);
    memcpy(&mr, body, len < sizeof mr ? len : sizeof mr);
    ibb_join_reply(sim->joins, ibb_port_now_ms(), hdr->xid, hdr->status,
                   hdr->status ? 0 : mr.mlid);
}

/* Marks the port down after the fabric went away. */
static int
sim_lost(struct ibb_port_sim *sim, int error, const char *what)
{
    sim_disconnect(&sim->up);
    return ibb_port_set_error(&sim->up, error, "%s: lost connection to the "
                              "fabric (%s: %s)", sim->up.device, what,
                              error == ECONNRESET && !strcmp(what, "recv")
                              ? "fabric closed the connection"
                              : strerror(error));
}

static bool
sim_is_up(const struct ibb_port *port)
{
    return sim_cast(port)->fd >= 0;
}

static int
sim_get_fd(const struct ibb_port *port)
{
    return sim_cast(port)->fd;
}

static bool
sim_has_pending(const struct ibb_port *port)
{
    return sim_cast(port)->head != NULL;
}

static int
sim_wait(struct ibb_port_sim *sim, short events, long long deadline)
{
    struct pollfd pfd = { .fd = sim->fd, .events = events };
    long long left = deadline - ibb_port_now_ms();
    int n;

    if (left < 0) {
        left = 0;
    }
    n = poll(&pfd, 1, left);
    if (n < 0) {
        return errno == EINTR ? 0 : errno;
    }
    return n ? 0 : ETIMEDOUT;
}

static void
sim_queue_packet(struct ibb_port_sim *sim, const uint8_t *data, size_t len)
{
    struct sim_pkt *p = malloc(sizeof *p + len);

    if (p) {
        p->next = NULL;
        p->len = len;
        memcpy(p->data, data, len);
        *sim->tailp = p;
        sim->tailp = &p->next;
        sim->n_pending++;
    }
}

/* Sends request 'type' with 'body' and waits for its reply, whose body is
 * copied into 'reply' (up to 'reply_len' bytes).  Packets that arrive
 * meanwhile are queued for sim_recv().  Returns 0 or a positive errno: the
 * reply's status, or a transport error. */
static int
sim_request(struct ibb_port_sim *sim, uint16_t type, const void *body,
            size_t body_len, void *reply, size_t reply_len)
{
    long long deadline = ibb_port_now_ms() + SIM_REPLY_TIMEOUT_MS;
    uint8_t msg[IBB_FABRIC_MAX_MSG];
    struct ibb_fmsg_hdr hdr;
    uint32_t xid;
    ssize_t n;
    int err;

    if (sim->fd < 0) {
        return ibb_port_set_error(&sim->up, ENOTCONN, "%s: not attached to "
                                  "the fabric", sim->up.device);
    }

    xid = sim->next_xid++;
    memset(&hdr, 0, sizeof hdr);
    hdr.type = type;
    hdr.xid = xid;
    memcpy(msg, &hdr, sizeof hdr);
    memcpy(msg + sizeof hdr, body, body_len);
    for (;;) {
        n = send(sim->fd, msg, sizeof hdr + body_len,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            err = sim_wait(sim, POLLOUT, deadline);
            if (err) {
                return ibb_port_set_error(&sim->up, err, "%s: fabric did "
                                          "not take request %u (%s)",
                                          sim->up.device, type,
                                          strerror(err));
            }
        } else {
            return sim_lost(sim, errno, "send");
        }
    }

    for (;;) {
        struct ibb_fmsg_hdr rh;

        n = recv(sim->fd, msg, sizeof msg, MSG_DONTWAIT);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                return sim_lost(sim, errno, "recv");
            }
            err = sim_wait(sim, POLLIN, deadline);
            if (err) {
                return ibb_port_set_error(&sim->up, err, "%s: no answer from "
                                          "the fabric to request %u (%s)",
                                          sim->up.device, type,
                                          strerror(err));
            }
            continue;
        } else if (n == 0) {
            return sim_lost(sim, ECONNRESET, "recv");
        } else if ((size_t) n < sizeof rh) {
            continue;
        }

        memcpy(&rh, msg, sizeof rh);
        if (rh.type == IBB_FMSG_PACKET) {
            sim_queue_packet(sim, msg + sizeof rh, n - sizeof rh);
        } else if (rh.xid != xid || rh.type != type) {
            sim_take_reply(sim, &rh, msg + sizeof rh, n - sizeof rh);
        } else {
            size_t got = n - sizeof rh;

            if (reply) {
                memset(reply, 0, reply_len);
                memcpy(reply, msg + sizeof rh,
                       got < reply_len ? got : reply_len);
            }
            return rh.status;
        }
    }
}

static int
sim_connect(struct ibb_port *port)
{
    struct ibb_port_sim *sim = sim_cast(port);
    struct ibb_fmsg_attach_reply reply;
    struct ibb_fmsg_attach attach;
    struct sockaddr_un sun;
    int err;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(port->spec.path) >= sizeof sun.sun_path) {
        return ibb_port_set_error(port, ENAMETOOLONG, "%s: socket path too "
                                  "long", port->device);
    }
    strcpy(sun.sun_path, port->spec.path);

    if (port->opts.async_joins && !sim->joins) {
        struct ibb_join_params jp = { .rate = port->opts.join_rate };

        sim->joins = ibb_join_table_create(&jp);
        if (!sim->joins) {
            return ibb_port_set_error(port, ENOMEM, "%s: out of memory",
                                      port->device);
        }
    }
    sim_flush_pending(sim);
    sim->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
                     0);
    if (sim->fd < 0) {
        return ibb_port_set_error(port, errno, "%s: socket failed (%s)",
                                  port->device, strerror(errno));
    }
    if (connect(sim->fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        err = errno;
        sim_disconnect(port);
        return ibb_port_set_error(port, err, "%s: connect to the fabric "
                                  "socket failed (%s)%s", port->device,
                                  strerror(err),
                                  err == ENOENT || err == ECONNREFUSED
                                  ? ": is ibsim-fabric running?" : "");
    }

    memset(&attach, 0, sizeof attach);
    attach.version = IBB_FABRIC_VERSION;
    attach.mode = port->opts.mode == IBB_PORT_RAW ? IBB_FMODE_RAW
                                                  : IBB_FMODE_STRICT;
    attach.guid = port->opts.guid;
    attach.lid = port->opts.lid;
    attach.pkey = port->opts.pkey;
    if (port->opts.name) {
        strncpy(attach.name, port->opts.name, sizeof attach.name - 1);
    }
    err = sim_request(sim, IBB_FMSG_ATTACH, &attach, sizeof attach,
                      &reply, sizeof reply);
    if (err) {
        if (sim->fd >= 0) {
            sim_disconnect(port);
            ibb_port_set_error(port, err, "%s: fabric refused attach with "
                               "GUID 0x%016llx LID %u (%s)", port->device,
                               (unsigned long long) attach.guid, attach.lid,
                               strerror(err));
        }
        return err;
    }

    sim->attr.state = IBB_PORT_ACTIVE;
    sim->attr.guid = reply.guid;
    memcpy(sim->attr.gid, reply.gid, 16);
    sim->attr.lid = reply.lid;
    sim->attr.sm_lid = reply.sm_lid;
    sim->attr.mtu = reply.mtu;

    /* Reconnect with the same identity. */
    port->opts.guid = reply.guid;
    port->opts.lid = reply.lid;
    ibb_port_clear_error(port);
    if (sim->mcg) {
        /* Subscribe again. */
        sim_mcg_pump(sim);
    }
    return 0;
}

static int
sim_recv(struct ibb_port *port, struct ibb_port_buf bufs[], size_t n,
         size_t *n_recv)
{
    struct ibb_port_sim *sim = sim_cast(port);
    struct mmsghdr msgs[IBB_PORT_BURST];
    struct iovec iovs[IBB_PORT_BURST][2];
    struct ibb_fmsg_hdr hdrs[IBB_PORT_BURST];
    size_t done = 0;
    int err = 0;

    /* Packets that arrived during a control request come first. */
    while (sim->head && done < n) {
        struct sim_pkt *p = sim->head;

        sim->head = p->next;
        sim->n_pending--;
        if (!sim->head) {
            sim->tailp = &sim->head;
        }
        if (p->len <= bufs[done].size) {
            memcpy(bufs[done].data, p->data, p->len);
            bufs[done++].len = p->len;
        } else {
            err = ibb_port_set_error(port, EMSGSIZE, "%s: %zu-byte packet "
                                     "exceeds buffer", port->device, p->len);
        }
        free(p);
    }
    if (done == n || sim->fd < 0) {
        *n_recv = done;
        return done ? 0 : sim->fd < 0 ? ECONNRESET : err;
    }

    while (done < n) {
        size_t want = n - done;
        int got;

        memset(msgs, 0, want * sizeof msgs[0]);
        for (size_t i = 0; i < want; i++) {
            iovs[i][0].iov_base = &hdrs[i];
            iovs[i][0].iov_len = sizeof hdrs[i];
            iovs[i][1].iov_base = bufs[done + i].data;
            iovs[i][1].iov_len = bufs[done + i].size;
            msgs[i].msg_hdr.msg_iov = iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 2;
        }
        got = recvmmsg(sim->fd, msgs, want, MSG_DONTWAIT, NULL);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            } else if (errno != EAGAIN) {
                int e = errno;

                if (done) {
                    break;
                }
                *n_recv = 0;
                return sim_lost(sim, e, "recv");
            }
            break;
        }

        size_t kept = 0;
        bool eof = false;
        for (int i = 0; i < got; i++) {
            size_t len = msgs[i].msg_len;

            if (len == 0) {
                eof = true;
                break;
            }
            if (len < sizeof hdrs[i]) {
                continue;
            }
            if (hdrs[i].type != IBB_FMSG_PACKET) {
                /* An async join's answer, or a stale one. */
                sim_take_reply(sim, &hdrs[i], bufs[done + i].data,
                               len - sizeof hdrs[i]);
                continue;
            }
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                err = ibb_port_set_error(port, EMSGSIZE, "%s: %zu-byte "
                                         "packet exceeds buffer",
                                         port->device,
                                         len - sizeof hdrs[i]);
                continue;
            }
            if (kept != (size_t) i) {
                memcpy(bufs[done + kept].data, bufs[done + i].data,
                       len - sizeof hdrs[i]);
            }
            bufs[done + kept].len = len - sizeof hdrs[i];
            kept++;
        }
        done += kept;
        if (eof) {
            if (!done) {
                *n_recv = 0;
                return sim_lost(sim, ECONNRESET, "recv");
            }
            /* Report the loss on the next call. */
            break;
        }
        if ((size_t) got < want) {
            break;
        }
    }

    *n_recv = done;
    return done ? 0 : err ? err : EAGAIN;
}

static int
sim_send(struct ibb_port *port, const struct ibb_port_buf bufs[], size_t n,
         size_t *n_sent)
{
    struct ibb_port_sim *sim = sim_cast(port);
    struct mmsghdr msgs[IBB_PORT_BURST];
    struct iovec iovs[IBB_PORT_BURST][2];
    struct ibb_fmsg_hdr hdr;
    size_t done = 0;

    if (sim->fd < 0) {
        return ibb_port_set_error(port, EPIPE, "%s: not attached to the "
                                  "fabric", port->device);
    }

    memset(&hdr, 0, sizeof hdr);
    hdr.type = IBB_FMSG_PACKET;
    memset(msgs, 0, n * sizeof msgs[0]);
    for (size_t i = 0; i < n; i++) {
        iovs[i][0].iov_base = &hdr;
        iovs[i][0].iov_len = sizeof hdr;
        iovs[i][1].iov_base = bufs[i].data;
        iovs[i][1].iov_len = bufs[i].len;
        msgs[i].msg_hdr.msg_iov = iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 2;
    }
    while (done < n) {
        int got = sendmmsg(sim->fd, msgs + done, n - done,
                           MSG_DONTWAIT | MSG_NOSIGNAL);

        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            *n_sent = done;
            if (errno == EAGAIN) {
                return EAGAIN;
            } else if (errno == EMSGSIZE) {
                return ibb_port_set_error(port, EMSGSIZE, "%s: %zu-byte "
                                          "packet too big for the fabric",
                                          port->device, bufs[done].len);
            }
            return sim_lost(sim, errno == ECONNRESET ? EPIPE : errno,
                            "send");
        }
        done += got;
    }
    *n_sent = done;
    return 0;
}

static int
sim_query(struct ibb_port *port, struct ibb_port_attr *attr)
{
    struct ibb_port_sim *sim = sim_cast(port);

    *attr = sim->attr;
    if (sim->fd < 0) {
        attr->state = IBB_PORT_DOWN;
    }
    return 0;
}

static int
sim_check(struct ibb_port_sim *sim, int err, const char *what)
{
    if (err && sim->fd >= 0) {
        ibb_port_set_error(&sim->up, err, "%s: %s failed (%s)",
                           sim->up.device, what, strerror(err));
    }
    return err;
}

static int
sim_path_query(struct ibb_port *port, const uint8_t gid[16], uint16_t *lid)
{
    struct ibb_port_sim *sim = sim_cast(port);
    struct ibb_fmsg_path_reply reply;
    struct ibb_fmsg_gid q;
    int err;

    memcpy(q.gid, gid, 16);
    err = sim_request(sim, IBB_FMSG_PATH_QUERY, &q, sizeof q,
                      &reply, sizeof reply);
    if (!err) {
        *lid = reply.lid;
    }
    return sim_check(sim, err, "path query");
}

static int
sim_mcast(struct ibb_port_sim *sim, uint16_t type,
          const struct ibb_port_group *g, const uint8_t mgid[16],
          uint16_t *mlid)
{
    struct ibb_fmsg_mcast_reply reply;
    struct ibb_fmsg_mcast m;
    int err;

    memset(&m, 0, sizeof m);
    memcpy(m.mgid, mgid, 16);
    if (g) {
        m.qkey = g->qkey;
        m.pkey = g->pkey;
        m.join_state = g->join;
    }
    err = sim_request(sim, type, &m, sizeof m, &reply, sizeof reply);
    if (!err && mlid) {
        *mlid = reply.mlid;
    }
    return sim_check(sim, err, type == IBB_FMSG_MCAST_JOIN
                               ? "multicast join" : "multicast leave");
}

/* Sends the requests of the join table that the pacing allows now, until
 * the socket is full. */
static void
sim_pump(struct ibb_port_sim *sim)
{
    long long now = ibb_port_now_ms();
    struct ibb_join_request req;

    sim->send_blocked = false;
    ibb_join_run(sim->joins, now);
    while (sim->fd >= 0 && ibb_join_next(sim->joins, now, &req)) {
        uint8_t msg[sizeof(struct ibb_fmsg_hdr)
                    + sizeof(struct ibb_fmsg_mcast)];
        struct ibb_fmsg_hdr hdr;
        struct ibb_fmsg_mcast m;
        ssize_t n;

        memset(&hdr, 0, sizeof hdr);
        hdr.type = (req.op == IBB_JOIN_OP_JOIN ? IBB_FMSG_MCAST_JOIN
                    : IBB_FMSG_MCAST_LEAVE);
        hdr.xid = sim->next_xid;
        memset(&m, 0, sizeof m);
        memcpy(m.mgid, req.mgid, 16);
        if (req.op == IBB_JOIN_OP_JOIN) {
            m.qkey = req.qkey;
            m.pkey = req.pkey;
            m.join_state = req.join;
        }
        memcpy(msg, &hdr, sizeof hdr);
        memcpy(msg + sizeof hdr, &m, sizeof m);
        n = send(sim->fd, msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                sim->send_blocked = true;
            } else {
                /* The receive path reports the loss. */
                sim->send_blocked = true;
            }
            return;
        }
        sim->next_xid++;
        ibb_join_sent(sim->joins, now, hdr.xid);
    }
}

/* Sends the SA group requests that ibb_mcg_next() asks for, until the
 * socket is full. */
static void
sim_mcg_pump(struct ibb_port_sim *sim)
{
    enum ibb_mcg_request req;

    while (sim->fd >= 0
           && (req = ibb_mcg_next(sim->mcg)) != IBB_MCG_REQ_NONE) {
        uint8_t msg[sizeof(struct ibb_fmsg_hdr)
                    + sizeof(struct ibb_fmsg_mcg_subscribe)];
        struct ibb_fmsg_mcg_subscribe sub;
        struct ibb_fmsg_hdr hdr;
        size_t len = sizeof hdr;

        memset(&hdr, 0, sizeof hdr);
        hdr.type = (req == IBB_MCG_REQ_LIST ? IBB_FMSG_MCG_LIST
                    : IBB_FMSG_MCG_SUBSCRIBE);
        hdr.xid = sim->next_xid;
        memcpy(msg, &hdr, sizeof hdr);
        if (req != IBB_MCG_REQ_LIST) {
            memset(&sub, 0, sizeof sub);
            sub.on = req == IBB_MCG_REQ_SUBSCRIBE;
            memcpy(msg + len, &sub, sizeof sub);
            len += sizeof sub;
        }
        if (send(sim->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            /* Full, or the fabric went away (the receive path reports
             * the loss): try again later. */
            sim->send_blocked = true;
            return;
        }
        sim->next_xid++;
        ibb_mcg_sent(sim->mcg, req, hdr.xid);
    }
}

static int
sim_mcg_init(struct ibb_port_sim *sim)
{
    if (!sim->mcg) {
        sim->mcg = ibb_mcg_create(0);
        if (!sim->mcg) {
            return ibb_port_set_error(&sim->up, ENOMEM, "%s: out of memory",
                                      sim->up.device);
        }
    }
    return 0;
}

static int
sim_mcg_subscribe(struct ibb_port *port, bool on)
{
    struct ibb_port_sim *sim = sim_cast(port);
    int err = sim_mcg_init(sim);

    if (!err) {
        /* While down, the wish is kept and sent on reconnect. */
        ibb_mcg_want_subscribed(sim->mcg, on);
        sim_mcg_pump(sim);
    }
    return err;
}

static int
sim_mcg_list(struct ibb_port *port)
{
    struct ibb_port_sim *sim = sim_cast(port);
    int err = sim_mcg_init(sim);

    if (err) {
        return err;
    } else if (sim->fd < 0) {
        return ibb_port_set_error(port, ENOTCONN, "%s: not attached to the "
                                  "fabric", port->device);
    }
    ibb_mcg_want_list(sim->mcg);
    sim_mcg_pump(sim);
    return 0;
}

static bool
sim_mcg_take_event(struct ibb_port *port, struct ibb_mcg_event *ev)
{
    struct ibb_port_sim *sim = sim_cast(port);

    return sim->mcg && ibb_mcg_take_event(sim->mcg, ev);
}

static int
sim_mcast_join(struct ibb_port *port, const struct ibb_port_group *g,
               uint16_t *mlid)
{
    struct ibb_port_sim *sim = sim_cast(port);
    struct ibb_mcast_status st;
    char s[40];
    int err;

    if (!sim->joins) {
        return sim_mcast(sim, IBB_FMSG_MCAST_JOIN, g, g->mgid, mlid);
    }
    if (!ibb_gid_is_multicast(g->mgid)) {
        return ibb_port_set_error(port, EINVAL, "%s: not a multicast GID",
                                  port->device);
    }
    if (g->join != IBB_MCAST_FULL && g->join != IBB_MCAST_SEND_ONLY) {
        snprintf(s, sizeof s, "0x%x", g->join);
        return ibb_port_set_error(port, EINVAL, "%s: unsupported join "
                                  "state %s (full or send-only)",
                                  port->device, s);
    }
    err = ibb_join_add(sim->joins, g->mgid, g->join, g->qkey, g->pkey);
    if (err) {
        return ibb_port_set_error(port, err, "%s: out of memory",
                                  port->device);
    }
    sim_pump(sim);
    *mlid = (!ibb_join_status(sim->joins, g->mgid, &st)
             && st.state == IBB_MCAST_JOINED ? st.mlid : 0);
    return 0;
}

static int
sim_mcast_leave(struct ibb_port *port, const uint8_t mgid[16])
{
    struct ibb_port_sim *sim = sim_cast(port);

    if (!sim->joins) {
        return sim_mcast(sim, IBB_FMSG_MCAST_LEAVE, NULL, mgid, NULL);
    }
    if (ibb_join_remove(sim->joins, mgid)) {
        return ibb_port_set_error(port, ENOENT, "%s: not a member of that "
                                  "group", port->device);
    }
    sim_pump(sim);
    return 0;
}

static int
sim_mcast_status(struct ibb_port *port, const uint8_t mgid[16],
                 struct ibb_mcast_status *st)
{
    struct ibb_port_sim *sim = sim_cast(port);

    if (sim->joins) {
        return ibb_join_status(sim->joins, mgid, st);
    }
    /* Synchronous: a membership exists only once joined (ibport.c). */
    return EOPNOTSUPP;
}

static bool
sim_mcast_take_changed(struct ibb_port *port, uint8_t mgid[16],
                       struct ibb_mcast_status *st)
{
    struct ibb_port_sim *sim = sim_cast(port);

    return sim->joins && ibb_join_take_changed(sim->joins, mgid, st);
}

/* True while the answer to an async request is awaited. */
static bool
sim_awaits_answer(const struct ibb_port_sim *sim)
{
    return ((sim->joins && ibb_join_busy(sim->joins))
            || (sim->mcg && ibb_mcg_busy(sim->mcg)));
}

/* Reads the answers of async joins and SA group requests (queueing the
 * packets read meanwhile for sim_recv()) while some are awaited, then
 * sends what the pacing allows.  Returns true if a membership changed or
 * SA group events wait. */
static bool
sim_run(struct ibb_port *port)
{
    struct ibb_port_sim *sim = sim_cast(port);

    if (!sim->joins && !sim->mcg) {
        return false;
    }
    for (int i = 0; (i < SIM_RUN_MAX_MSGS && sim->fd >= 0
                     && sim->n_pending < SIM_RUN_MAX_PENDING
                     && sim_awaits_answer(sim)); i++) {
        uint8_t msg[IBB_FABRIC_MAX_MSG];
        struct ibb_fmsg_hdr rh;
        ssize_t n;

        n = recv(sim->fd, msg, sizeof msg, MSG_DONTWAIT);
        if (n <= 0) {
            /* Nothing more, or the fabric went away: sim_recv() reports
             * a loss, as it does without joins. */
            break;
        } else if ((size_t) n < sizeof rh) {
            continue;
        }
        memcpy(&rh, msg, sizeof rh);
        if (rh.type == IBB_FMSG_PACKET) {
            sim_queue_packet(sim, msg + sizeof rh, n - sizeof rh);
        } else {
            sim_take_reply(sim, &rh, msg + sizeof rh, n - sizeof rh);
        }
    }
    sim->send_blocked = false;
    if (sim->joins) {
        sim_pump(sim);
    }
    if (sim->mcg) {
        sim_mcg_pump(sim);
    }
    return ((sim->joins && ibb_join_has_changed(sim->joins))
            || (sim->mcg && ibb_mcg_has_events(sim->mcg)));
}

static long long
sim_next_wakeup(const struct ibb_port *port)
{
    const struct ibb_port_sim *sim = sim_cast(port);
    long long now, when;
    bool blocked = sim->send_blocked;

    if ((sim->joins && ibb_join_has_changed(sim->joins))
        || (sim->mcg && ibb_mcg_has_events(sim->mcg))) {
        return 0;
    } else if (sim->fd < 0) {
        /* Nothing can be sent until the caller reconnects, which has a
         * timer of its own: a paced join due now would wake it at once,
         * again and again, for as long as the fabric is away. */
        return LLONG_MAX;
    }
    now = ibb_port_now_ms();
    when = sim->joins ? ibb_join_next_deadline(sim->joins, now) : LLONG_MAX;
    if (sim->mcg && ibb_mcg_next(sim->mcg) != IBB_MCG_REQ_NONE) {
        /* A request waits for room in the socket. */
        blocked = true;
    }
    if (blocked) {
        /* Nothing goes out until the fabric drains the socket: a join
         * due now would wake the caller at once, again and again.  (A
         * request's timeout due sooner waits as long, a few ms.) */
        when = now + SIM_SEND_RETRY_MS;
    }
    return when;
}

/* The join table's counters, for async joins, and the SA group client's,
 * once used. */
static size_t
sim_counters(const struct ibb_port *port, struct ibb_port_counter *out,
             size_t max)
{
    const struct ibb_port_sim *sim = sim_cast(port);
    struct ibb_port_counter all[5];
    size_t n = 0;

    if (sim->joins) {
        const struct ibb_join_counters *c = ibb_join_counters(sim->joins);

        all[n++] = (struct ibb_port_counter) { "join_retries",
                                               c->join_retries };
        all[n++] = (struct ibb_port_counter) { "join_timeouts",
                                               c->join_timeouts };
    }
    if (sim->mcg) {
        const struct ibb_mcg_counters *c = ibb_mcg_counters(sim->mcg);

        all[n++] = (struct ibb_port_counter) { "mcg_notices", c->notices };
        all[n++] = (struct ibb_port_counter) { "mcg_bad_msgs",
                                               c->bad_msgs };
        all[n++] = (struct ibb_port_counter) { "mcg_events_dropped",
                                               c->events_dropped };
    }
    for (size_t i = 0; i < max && i < n; i++) {
        out[i] = all[i];
    }
    return n;
}

static int
sim_alias(struct ibb_port *port, const uint8_t gid[16], bool add)
{
    struct ibb_port_sim *sim = sim_cast(port);
    struct ibb_fmsg_gid q;

    memcpy(q.gid, gid, 16);
    return sim_check(sim, sim_request(sim, add ? IBB_FMSG_ALIAS_ADD
                                               : IBB_FMSG_ALIAS_DEL,
                                      &q, sizeof q, NULL, 0),
                     add ? "alias add" : "alias delete");
}

static int
sim_route(struct ibb_port *port, const struct ibb_port_route *r, bool add)
{
    struct ibb_port_sim *sim = sim_cast(port);
    struct ibb_fmsg_route q;

    memset(&q, 0, sizeof q);
    memcpy(q.prefix, r->prefix, 16);
    q.plen = r->plen;
    q.mtu = r->mtu;
    return sim_check(sim, sim_request(sim, add ? IBB_FMSG_ROUTE_ADD
                                               : IBB_FMSG_ROUTE_DEL,
                                      &q, sizeof q, NULL, 0),
                     add ? "route add" : "route delete");
}

static int
sim_qp(struct ibb_port *port, uint32_t qpn, uint32_t qkey, bool open)
{
    struct ibb_port_sim *sim = sim_cast(port);
    struct ibb_fmsg_qp q = { .qpn = qpn, .qkey = qkey };

    return sim_check(sim, sim_request(sim, open ? IBB_FMSG_QP_OPEN
                                                : IBB_FMSG_QP_CLOSE,
                                      &q, sizeof q, NULL, 0),
                     open ? "QP open" : "QP close");
}

const struct ibb_port_class ibb_port_sim_class = {
    .type = "sim",
    .alloc = sim_alloc,
    .dealloc = sim_dealloc,
    .connect = sim_connect,
    .disconnect = sim_disconnect,
    .is_up = sim_is_up,
    .get_fd = sim_get_fd,
    .has_pending = sim_has_pending,
    .recv = sim_recv,
    .send = sim_send,
    .query = sim_query,
    .path_query = sim_path_query,
    .mcast_join = sim_mcast_join,
    .mcast_leave = sim_mcast_leave,
    .alias = sim_alias,
    .qp = sim_qp,
    .route = sim_route,
    .mcast_status = sim_mcast_status,
    .mcast_take_changed = sim_mcast_take_changed,
    .run = sim_run,
    .counters = sim_counters,
    .next_wakeup = sim_next_wakeup,
    .mcg_subscribe = sim_mcg_subscribe,
    .mcg_list = sim_mcg_list,
    .mcg_take_event = sim_mcg_take_event,
};
