/*
 * IB port backends: one interface for the simulated fabric ("sim:PATH",
 * lib/ibport-sim.c) and, later, an rdma-core HCA port ("verbs:DEV:PORT").
 *
 * A port moves whole native IB packets, LRH through VCRC, in bursts of up
 * to IBB_PORT_BURST packets held in caller-provided buffers.  Receive and
 * send never block: they return EAGAIN when there is nothing to read or no
 * room to send, and the caller waits for ibb_port_fd() (readable for
 * receive, writable for send).  Control operations (join, path query,
 * aliases, QPs) are synchronous and may wait up to a few seconds for the
 * fabric's answer, except multicast joins and leaves where the backend
 * does them asynchronously (verbs; sim with 'async_joins').
 *
 * Errors: every function returns 0 or a positive errno value; a port keeps
 * a human-readable message for its last error (ibb_port_error()).  When the
 * fabric or HCA goes away, receive and send return ECONNRESET or EPIPE and
 * ibb_port_is_up() becomes false; ibb_port_reconnect() then tries to attach
 * again with the same LID and GUID and restores aliases, QPs and multicast
 * memberships.  Nothing here logs or keeps global state.
 */
#ifndef IBPORT_H
#define IBPORT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IBB_PORT_BURST 32       /* Most packets per recv/send call. */

struct ibb_port;

/* How a port receives. */
enum ibb_port_mode {
    IBB_PORT_STRICT,            /* By opened QPN and Q_Key, like an HCA. */
    IBB_PORT_RAW,               /* Everything for the LID and alias GIDs. */
};

/* Options for ibb_port_open(); zero-initialise, then set what you need. */
struct ibb_port_options {
    enum ibb_port_mode mode;    /* Receive mode. */
    uint64_t guid;              /* Requested port GUID, 0 = any. */
    uint16_t lid;               /* Requested LID, 0 = any. */
    uint16_t pkey;              /* Partition, 0 = default 0xFFFF. */
    const char *name;           /* Name shown by the fabric, may be NULL. */
    uint32_t qkey;              /* Q_Key of the port's own UD QP, which
                                 * receives multicast (verbs), 0 = default
                                 * IBB_DEFAULT_QKEY. */
    unsigned int gid_index;     /* GID table index of the SGID (verbs). */
    bool async_joins;           /* Sim: ibb_port_mcast_join() returns at
                                 * once, the join is paced and completed
                                 * by ibb_port_run() (see lib/ibb-join.h);
                                 * false: it waits for the answer.  Verbs
                                 * joins are always asynchronous. */
    unsigned int join_rate;     /* Async (sim and verbs): join and leave
                                 * requests per second toward the SA,
                                 * 0 = default (IBB_JOIN_DEFAULT_RATE). */
    unsigned int n_rxq;         /* Receive queues, 0 = 1.  Verbs only
                                 * (up to 16): QPs and groups spread over
                                 * them (lib/ibport-verbs-rxq.c). */
    bool busy_poll;             /* The caller polls the queues without
                                 * waiting on their fds (OVS PMD threads):
                                 * the backend need not arm them. */
};

/* Port states, as in PortInfo. */
enum ibb_port_state {
    IBB_PORT_DOWN = 1,
    IBB_PORT_ACTIVE = 4,
};

/* What ibb_port_query() reports. */
struct ibb_port_attr {
    enum ibb_port_state state;  /* IBB_PORT_ACTIVE while attached. */
    uint64_t guid;              /* Port GUID. */
    uint8_t gid[16];            /* Port GID (index 0). */
    uint16_t lid;               /* Port LID. */
    uint16_t sm_lid;            /* Subnet manager LID. */
    uint16_t mtu;               /* Active MTU in bytes. */
};

/* One packet buffer of a burst. */
struct ibb_port_buf {
    uint8_t *data;              /* Packet bytes, LRH first. */
    size_t size;                /* Capacity of 'data' (receive). */
    size_t len;                 /* Packet length, LRH through VCRC. */
};

/* Multicast join states (JoinState bits of an MCMemberRecord). */
enum ibb_mcast_join {
    IBB_MCAST_FULL = 0x1,       /* Full member: sends and receives. */
    IBB_MCAST_SEND_ONLY = 0x4,  /* Send-only non-member. */
};

/* Opens the port named by 'device' ("sim:PATH" or "verbs:DEV[:PORT]", see
 * lib/ibb-options.h).  On success stores the port in '*portp' and returns
 * 0.  On failure returns a positive errno value and, if 'errp' is nonnull,
 * a malloc()ed message in '*errp' (the caller frees it). */
int ibb_port_open(const char *device, const struct ibb_port_options *,
                  struct ibb_port **portp, char **errp);
void ibb_port_close(struct ibb_port *);

/* The device string the port was opened with. */
const char *ibb_port_device(const struct ibb_port *);

/* Message for the last error, "" if none. */
const char *ibb_port_error(const struct ibb_port *);

/* File descriptor to poll: readable when ibb_port_recv() may return
 * packets, writable when ibb_port_send() may take more.  -1 while down.
 * It may change after ibb_port_reconnect(). */
int ibb_port_fd(const struct ibb_port *);

/* True if ibb_port_recv() has packets without reading the fd (packets
 * read while waiting for a control reply): poll with zero timeout. */
bool ibb_port_has_pending(const struct ibb_port *);

bool ibb_port_is_up(const struct ibb_port *);

/* Receives up to 'n' (at most IBB_PORT_BURST) packets into 'bufs' and sets
 * '*n_recv'.  Returns 0 if at least one packet was received, EAGAIN if none
 * was waiting, ECONNRESET if the fabric went away, or another errno.  A
 * packet longer than its buffer's 'size' is dropped with EMSGSIZE. */
int ibb_port_recv(struct ibb_port *, struct ibb_port_buf bufs[], size_t n,
                  size_t *n_recv);

/* Sends up to 'n' (at most IBB_PORT_BURST) packets and sets '*n_sent' to
 * how many went out, in order.  Returns 0 if all were sent, EAGAIN if the
 * fabric is back-pressuring (retry the rest when the fd is writable), EPIPE
 * if the fabric went away, or another errno. */
int ibb_port_send(struct ibb_port *, const struct ibb_port_buf bufs[],
                  size_t n, size_t *n_sent);

/* Receive queues.  A port has ibb_port_n_rxq() of them (opts.n_rxq, or 1);
 * ibb_port_recv(), ibb_port_fd() and ibb_port_has_pending() are those of
 * queue 0.  Several threads may each poll their own queue, taking turns:
 * calls on one port must never overlap (nothing here locks). */
unsigned int ibb_port_n_rxq(const struct ibb_port *);
int ibb_port_recv_queue(struct ibb_port *, unsigned int qid,
                        struct ibb_port_buf bufs[], size_t n,
                        size_t *n_recv);
int ibb_port_queue_fd(const struct ibb_port *, unsigned int qid);
bool ibb_port_queue_has_pending(const struct ibb_port *, unsigned int qid);

int ibb_port_query(struct ibb_port *, struct ibb_port_attr *);

/* Resolves 'gid' to a DLID (unicast: the LID of the port that owns the GID
 * or alias; multicast: the group's MLID).  ENOENT if unknown. */
int ibb_port_path_query(struct ibb_port *, const uint8_t gid[16],
                        uint16_t *lid);

/* Joins 'mgid' ('join' is IBB_MCAST_*) and stores the MLID in '*mlid'. */
int ibb_port_mcast_join(struct ibb_port *, const uint8_t mgid[16],
                        enum ibb_mcast_join join, uint32_t qkey,
                        uint16_t pkey, uint16_t *mlid);
int ibb_port_mcast_leave(struct ibb_port *, const uint8_t mgid[16]);

/* Makes the port stand for 'gid' too (raw mode receives for it). */
int ibb_port_alias_add(struct ibb_port *, const uint8_t gid[16]);
int ibb_port_alias_del(struct ibb_port *, const uint8_t gid[16]);

/* A GID prefix off the IB subnet that the port is the router for: the
 * subnet administrator resolves path queries for GIDs under it to the
 * port's LID (see lib/fabric-proto.h), with 'mtu' as the path MTU. */
struct ibb_port_route {
    uint8_t prefix[16];         /* Bits past 'plen' zero. */
    uint8_t plen;               /* 1..128. */
    uint16_t mtu;               /* IB MTU past the router: 256..4096. */
};

/* Adds or (again) updates a route, or deletes one.  EOPNOTSUPP where the
 * backend cannot tell the subnet manager (verbs: see README.rst). */
int ibb_port_route_add(struct ibb_port *, const struct ibb_port_route *);
int ibb_port_route_del(struct ibb_port *, const struct ibb_port_route *);

/* Strict mode: receive unicast for 'qpn' when the Q_Key is 'qkey'. */
int ibb_port_qp_open(struct ibb_port *, uint32_t qpn, uint32_t qkey);
int ibb_port_qp_close(struct ibb_port *, uint32_t qpn);

/* QPs the port creates and numbers itself, as an HCA does: a UD QP that
 * receives unicast for its QPN when the Q_Key is 'qkey', and whose QPN
 * the port stamps as DETH SrcQP on what ibb_port_send() sends with that
 * SrcQP.  Sim ports (strict mode) pick a free QPN and open it on the
 * fabric; verbs ports create a real UD QP (see lib/ibport-verbs.c). */
int ibb_port_qp_create(struct ibb_port *, uint32_t qkey, uint32_t *qpn);
int ibb_port_qp_destroy(struct ibb_port *, uint32_t qpn);

/* True if the hardware checks and makes the ICRC and VCRC: received
 * packets carry zeros there (already checked), and packets to send need
 * none. */
bool ibb_port_hw_crcs(const struct ibb_port *);

/* Multicast membership as the port sees it.  Backends whose joins are
 * asynchronous (verbs) return 0 from ibb_port_mcast_join() with '*mlid' 0
 * and the group JOINING; ibb_port_run() completes it. */
enum ibb_mcast_state {
    IBB_MCAST_JOINING,
    IBB_MCAST_JOINED,
    IBB_MCAST_FAILED,
    IBB_MCAST_LEAVING,          /* Left, until the SA answered. */
};

struct ibb_mcast_status {
    enum ibb_mcast_state state;
    uint16_t mlid;              /* When JOINED. */
    char why[128];              /* When FAILED: the reason. */
};

/* ENOENT if the port has no such membership. */
int ibb_port_mcast_status(struct ibb_port *, const uint8_t mgid[16],
                          struct ibb_mcast_status *);

/* Backends that track which memberships changed (verbs, sim with async
 * joins):
 * takes one whose status changed since it was last taken, into 'mgid' and
 * '*st', and returns true; false when there is none.  For the others
 * ibb_port_mcast_tracks_changes() is false: look at every group after
 * ibb_port_run() returned true. */
bool ibb_port_mcast_tracks_changes(const struct ibb_port *);
bool ibb_port_mcast_take_changed(struct ibb_port *, uint8_t mgid[16],
                                 struct ibb_mcast_status *);
const char *ibb_mcast_state_name(enum ibb_mcast_state);

/* Control events (HCA async events, join completions, SA group events):
 * ibb_port_run() handles what is waiting, without blocking, and returns
 * true if the port's state (up/down, LID, group states) changed or
 * ibb_port_mcg_take_event() has events.  Poll
 * ibb_port_ctl_fd() (readable) to know when to call it; -1 if the backend
 * has none. */
bool ibb_port_run(struct ibb_port *);
int ibb_port_ctl_fd(const struct ibb_port *);

/* The SA's multicast group table (SubnAdmGetTable of MCMemberRecord) and
 * its group created/deleted notices (traps 66 and 67, subscribed to with
 * an InformInfo Set), for a bridge that follows the groups IB hosts make.
 * Both are asynchronous: the calls below return at once, the answers
 * arrive as events.  The port reads them where it reads the fabric
 * (ibb_port_recv(), and ibb_port_run() while an answer is awaited); while
 * events wait, ibb_port_run() returns true and ibb_port_next_wakeup()
 * returns 0, so a caller that polls ibb_port_fd() for receive and honours
 * the wakeup takes them in time.  Events beyond a bound are dropped and
 * counted ("mcg_events_dropped" in ibb_port_counters()), as are malformed
 * answers ("mcg_bad_msgs").  Backends without SA access return ENOTSUP. */
struct ibb_mcg_record {
    uint8_t mgid[16];           /* Multicast GID. */
    uint16_t mlid;              /* Group MLID (LISTED only). */
    uint16_t pkey;              /* Group P_Key (LISTED only). */
    uint32_t qkey;              /* Group Q_Key (LISTED only). */
    uint32_t n_full_others;     /* Full members but this port (LISTED). */
    uint32_t n_send_only_others; /* Send-only members but this port
                                  * (LISTED). */
};

enum ibb_mcg_event_type {
    IBB_MCG_CREATED,            /* Trap 66: a group was created (mgid). */
    IBB_MCG_DELETED,            /* Trap 67: a group was deleted (mgid). */
    IBB_MCG_LISTED,             /* One group of a list (rec). */
    IBB_MCG_LIST_DONE,          /* The list ended: 'error' 0 if complete,
                                 * else why not (ECONNRESET, EBADMSG, the
                                 * SA's status). */
    IBB_MCG_RESUBSCRIBED,       /* After a reconnect, the subscription is
                                 * back; notices were missed meanwhile, so
                                 * list again. */
    IBB_MCG_SUBSCRIBE_FAILED,   /* The SA refused the subscription
                                 * ('error'); it is off. */
};

struct ibb_mcg_event {
    enum ibb_mcg_event_type type;
    struct ibb_mcg_record rec;  /* CREATED/DELETED: mgid only. */
    int error;                  /* LIST_DONE, SUBSCRIBE_FAILED. */
};

/* Turns notices of traps 66 and 67 on or off.  The subscription is kept
 * across ibb_port_reconnect() (made again once the port is back, then
 * IBB_MCG_RESUBSCRIBED). */
int ibb_port_mcg_subscribe(struct ibb_port *, bool on);

/* Starts a list of the groups the port may see: IBB_MCG_LISTED events,
 * then IBB_MCG_LIST_DONE.  Asked again while one is in progress, another
 * follows it. */
int ibb_port_mcg_list(struct ibb_port *);

/* Takes the oldest waiting event; false if none. */
bool ibb_port_mcg_take_event(struct ibb_port *, struct ibb_mcg_event *);

const char *ibb_mcg_event_name(enum ibb_mcg_event_type);

/* A backend's own counter (events, drops inside the backend). */
struct ibb_port_counter {
    const char *name;           /* Static string, a statistics key. */
    uint64_t value;
};

/* Fills up to 'max' counters into 'out' and returns how many the backend
 * has (which may exceed 'max'). */
size_t ibb_port_counters(const struct ibb_port *, struct ibb_port_counter *out,
                         size_t max);

/* When ibb_port_run() next has timed work to do (a join retry, say), on
 * the ibb_port_now_ms() clock, or LLONG_MAX. */
long long ibb_port_next_wakeup(const struct ibb_port *);

/* CLOCK_MONOTONIC in milliseconds: the clock of the backends' timeouts and
 * of ibb_port_next_wakeup() (the same as OVS's time_msec()). */
long long ibb_port_now_ms(void);

/* True once after ibb_port_reconnect() had to open the device anew (after
 * a fatal error): every QP made by ibb_port_qp_create() is gone, and the
 * caller must create again what it needs. */
bool ibb_port_take_qps_lost(struct ibb_port *);

/* Re-attaches a port that went down, with the same GUID and LID, and
 * restores its aliases, QPs and multicast memberships.  Returns 0 if the
 * port is up afterwards (also if it already was), else a positive errno
 * (e.g. ENOENT or ECONNREFUSED while the fabric is not running). */
int ibb_port_reconnect(struct ibb_port *);

#endif /* ibport.h */
