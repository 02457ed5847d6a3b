/*
 * Message protocol between ibsim-fabric and the ports attached to it.
 *
 * Transport: a Unix-domain SOCK_SEQPACKET socket.  Each connection is one
 * HCA port; each message is exactly one datagram.  Both ends run on the same
 * host, so integers in the fixed headers below are in host byte order; the
 * IB packet inside an IBB_FMSG_PACKET message is wire format (big-endian
 * headers, ICRC and VCRC as on the wire).
 *
 * Every message starts with struct ibb_fmsg_hdr:
 *
 *   type(2) | status(2) | xid(4) | body...
 *
 * Requests (port -> fabric) carry an 'xid' chosen by the port; the fabric
 * answers each request with one message of the same type and xid, with
 * 'status' 0 or a positive errno value, in the order the requests were
 * received.  The one exception is MCG_LIST, whose answer may take several
 * messages (as RMPP segments one SubnAdmGetTableResp): each has the
 * request's type and xid and all but the last carry IBB_FMCG_MORE; they
 * follow each other with no other reply between them, and the answer to
 * the next request comes after the last.  Packets flow both ways as
 * IBB_FMSG_PACKET with xid 0 and no reply, and so do MCG_NOTICE messages
 * (fabric -> port only).  Replies, notices and packets from the fabric
 * interleave on the socket, so a port that waits for a reply must keep
 * what else it reads meanwhile.
 *
 *   type          port -> fabric body         fabric -> port reply body
 *   ------------  --------------------------  ----------------------------
 *   ATTACH        ibb_fmsg_attach             ibb_fmsg_attach_reply
 *   PACKET        LRH .. VCRC                  (none; fabric -> port: LRH ..
 *                                              VCRC of a delivered packet)
 *   PATH_QUERY    ibb_fmsg_gid                ibb_fmsg_path_reply
 *   MCAST_JOIN    ibb_fmsg_mcast              ibb_fmsg_mcast_reply
 *   MCAST_LEAVE   ibb_fmsg_mcast              ibb_fmsg_mcast_reply
 *   ALIAS_ADD     ibb_fmsg_gid                (empty)
 *   ALIAS_DEL     ibb_fmsg_gid                (empty)
 *   QP_OPEN       ibb_fmsg_qp                 (empty)
 *   QP_CLOSE      ibb_fmsg_qp                 (empty)
 *   ROUTE_ADD     ibb_fmsg_route              (empty)
 *   ROUTE_DEL     ibb_fmsg_route              (empty)
 *   MCG_LIST      (empty)                     ibb_fmsg_mcg_list, then
 *                                              n_records ibb_fmsg_mcg_record,
 *                                              in one or more messages
 *   MCG_SUBSCRIBE ibb_fmsg_mcg_subscribe      (empty)
 *   MCG_NOTICE    (none; fabric -> port, xid  ibb_fmsg_mcg_notice
 *                 0, unsolicited)
 *
 * ATTACH must be the first message; the fabric closes a connection whose
 * first message is anything else.  It asks for a port GUID and a LID (0 =
 * let the fabric assign one; EADDRINUSE if taken) and the mode:
 *
 *   strict  the port receives a unicast packet only if its ICRC is right,
 *           its DestQP was opened with QP_OPEN, the packet's Q_Key equals
 *           that QP's Q_Key and its DGID (if it has a GRH) is the port GID
 *           or an alias, and a multicast packet only with a right ICRC, for
 *           groups it joined as a full member and with the group's Q_Key:
 *           what a real HCA delivers to its QPs.  It may send only from an
 *           opened QP (DETH SrcQP) and with its own GID or an alias as
 *           SGID, as an HCA stamps them.
 *   raw     the port receives every unicast packet whose DLID is its LID
 *           (so also those for its alias GIDs) and every multicast packet of
 *           the groups it joined, whatever the QPN, Q_Key and ICRC, and may
 *           send any SrcQP and SGID: what real HCAs offer only as a sniffer
 *           mode.  The bridge uses it only when asked (port-mode=raw).
 *
 * Like a real IB switch, the fabric checks each packet's VCRC (per link)
 * and headers, but not its ICRC (end to end): it forwards a packet with a
 * bad ICRC, and the receiving port decides, as above.  A strict receiver's
 * drop counts once per dropped copy in the fabric's drop.bad_icrc.
 *
 * The port GID is the default subnet prefix fe80::/64 followed by the GUID.
 * An alias GID (ALIAS_ADD) is another GID that PATH_QUERY resolves to this
 * port's LID.  PATH_QUERY with a multicast GID returns the group's MLID, or
 * ENOENT.
 *
 * A route (ROUTE_ADD) makes the port the router for a GID prefix that is
 * not the subnet's, as OpenSM's prefix routes (prefix_routes_file) name a
 * router port for a remote subnet: PATH_QUERY for a unicast GID that no
 * port owns resolves, by the longest matching prefix, to that port's LID,
 * with the path MTU the smaller of the fabric's and the route's.  One port
 * routes a prefix (another's ROUTE_ADD of it gets EADDRINUSE).  A route
 * changes only what the SA answers: a strict port still receives only for
 * its own GID and aliases, as an HCA does; a raw port receives everything
 * for its LID anyway.  MCAST_JOIN creates the group on the first join (with the Q_Key
 * and P_Key given) and returns its MLID, as an SA MCMemberRecord does; a
 * send-only member is not delivered to.
 *
 * The SA's multicast group table, as SubnAdmGetTable(MCMemberRecord) and
 * InformInfo for traps 66/67 give it on a real subnet: MCG_LIST returns
 * every group the asking port may see, oldest first, with its members
 * counted without the asking port itself (a bridge wants to know whether
 * anyone else is there).  MCG_SUBSCRIBE (on = 1) makes the SA send the port
 * an MCG_NOTICE, trap 66, when a group is created (its first join) and,
 * trap 67, when it is deleted (its last member left or detached), until
 * MCG_SUBSCRIBE with on = 0 or the port detaches.  A port's own joins and
 * leaves notify it too: the SA does not know why it joined.  As OpenSM
 * does (osm_physp_has_pkey()), a port sees in the table and is notified of
 * only groups whose P_Key is in its partition (same low 15 bits; full or
 * limited membership does not matter for SA queries).
 *
 * Flow control: the fabric queues at most a bounded number of packets per
 * receiving port and stops reading from a sender while a packet it sent
 * waits for room, so the sender's socket fills and its send() blocks or
 * fails with EAGAIN.  A valid packet is never dropped for lack of room.
 */
#ifndef FABRIC_PROTO_H
#define FABRIC_PROTO_H 1

#include <stdint.h>

/* Largest IB packet: LRH + GRH + BTH + DETH + ImmDt + 4096 + ICRC + VCRC,
 * rounded up. */
#define IBB_FABRIC_MAX_PACKET 4352

/* Largest message: header plus the largest packet. */
#define IBB_FABRIC_MAX_MSG (IBB_FABRIC_MAX_PACKET + 64)

/* Protocol version carried in ATTACH. */
#define IBB_FABRIC_VERSION 1

enum ibb_fmsg_type {
    IBB_FMSG_ATTACH = 1,
    IBB_FMSG_PACKET = 2,
    IBB_FMSG_PATH_QUERY = 3,
    IBB_FMSG_MCAST_JOIN = 4,
    IBB_FMSG_MCAST_LEAVE = 5,
    IBB_FMSG_ALIAS_ADD = 6,
    IBB_FMSG_ALIAS_DEL = 7,
    IBB_FMSG_QP_OPEN = 8,
    IBB_FMSG_QP_CLOSE = 9,
    IBB_FMSG_ROUTE_ADD = 10,
    IBB_FMSG_ROUTE_DEL = 11,
    IBB_FMSG_MCG_LIST = 12,
    IBB_FMSG_MCG_SUBSCRIBE = 13,
    IBB_FMSG_MCG_NOTICE = 14,
};

struct ibb_fmsg_hdr {
    uint16_t type;              /* enum ibb_fmsg_type. */
    uint16_t status;            /* Replies: 0 or a positive errno. */
    uint32_t xid;               /* Request id, copied into the reply. */
};
_Static_assert(sizeof(struct ibb_fmsg_hdr) == 8, "fabric header size");

/* Port modes (ATTACH). */
enum ibb_fmsg_mode {
    IBB_FMODE_STRICT = 0,       /* Deliver by QPN and Q_Key, like an HCA. */
    IBB_FMODE_RAW = 1,          /* Deliver everything for the LID. */
};

struct ibb_fmsg_attach {
    uint32_t version;           /* IBB_FABRIC_VERSION. */
    uint32_t mode;              /* enum ibb_fmsg_mode. */
    uint64_t guid;              /* Port GUID, 0 = assigned by the fabric. */
    uint16_t lid;               /* LID, 0 = assigned by the fabric. */
    uint16_t pkey;              /* Partition the port belongs to. */
    char name[32];              /* Name for fabric/ports, NUL-terminated. */
};

struct ibb_fmsg_attach_reply {
    uint64_t guid;              /* Port GUID. */
    uint8_t gid[16];            /* Port GID: fe80::/64 + GUID. */
    uint16_t lid;               /* Port LID. */
    uint16_t sm_lid;            /* LID of the subnet manager. */
    uint16_t mtu;               /* Fabric MTU in bytes (256..4096). */
    uint16_t port_num;          /* Switch port number. */
};

struct ibb_fmsg_gid {
    uint8_t gid[16];            /* GID to resolve, add or remove. */
};

struct ibb_fmsg_path_reply {
    uint16_t lid;               /* DLID to use: port LID or group MLID. */
    uint16_t mtu;               /* Path MTU in bytes. */
};

/* Multicast join states, as the JoinState bits of an MCMemberRecord. */
#define IBB_FMCAST_FULL 0x1
#define IBB_FMCAST_SEND_ONLY 0x4

struct ibb_fmsg_mcast {
    uint8_t mgid[16];           /* Multicast GID. */
    uint32_t qkey;              /* Group Q_Key (join). */
    uint16_t pkey;              /* Group P_Key (join). */
    uint8_t join_state;         /* IBB_FMCAST_* (join). */
    uint8_t pad;                /* Zero. */
};

struct ibb_fmsg_mcast_reply {
    uint16_t mlid;              /* Group MLID. */
    uint16_t pad;               /* Zero. */
    uint32_t qkey;              /* Group Q_Key. */
};

struct ibb_fmsg_qp {
    uint32_t qpn;               /* QP number (24 bits). */
    uint32_t qkey;              /* Q_Key checked on receive. */
};

struct ibb_fmsg_route {
    uint8_t prefix[16];         /* GID prefix; bits past 'plen' zero. */
    uint8_t plen;               /* Prefix length in bits, 1..128. */
    uint8_t pad;                /* Zero. */
    uint16_t mtu;               /* Largest IB MTU past the router, bytes
                                 * (256..4096). */
};

/* One message of an MCG_LIST answer: this header, then 'n_records'
 * struct ibb_fmsg_mcg_record. */
struct ibb_fmsg_mcg_list {
    uint16_t flags;             /* IBB_FMCG_*. */
    uint16_t n_records;         /* Records that follow, at most
                                 * IBB_FMCG_RECORDS_PER_MSG. */
    uint32_t segment;           /* 1 for the first message, then +1, as
                                 * an RMPP SegmentNumber. */
};
#define IBB_FMCG_MORE 0x1       /* More messages of this answer follow. */

/* A multicast group as an MCMemberRecord of a GetTable shows it, with its
 * members counted as the asking port needs them. */
struct ibb_fmsg_mcg_record {
    uint8_t mgid[16];           /* Multicast GID. */
    uint32_t qkey;              /* Group Q_Key. */
    uint16_t mlid;              /* Group MLID. */
    uint16_t pkey;              /* Group P_Key. */
    uint32_t n_full_others;     /* Full members but the asking port. */
    uint32_t n_send_only_others; /* Send-only members but the asking
                                  * port. */
};
_Static_assert(sizeof(struct ibb_fmsg_mcg_record) == 32, "record size");

/* Largest body of an MCG_LIST answer message.  Ports read messages from
 * the fabric into their packet buffers (a notice or an answer may come
 * where a packet was expected), which hold at least an MTU-2048 packet:
 * an answer must fit there whole. */
#define IBB_FMCG_MAX_BODY 2048

/* Records in one answer message: 63. */
#define IBB_FMCG_RECORDS_PER_MSG                                        \
    ((IBB_FMCG_MAX_BODY - sizeof(struct ibb_fmsg_mcg_list))             \
     / sizeof(struct ibb_fmsg_mcg_record))

struct ibb_fmsg_mcg_subscribe {
    uint8_t on;                 /* 1: send notices (InformInfo Subscribe);
                                 * 0: stop. */
    uint8_t pad[3];             /* Zero. */
};

/* Trap numbers of the SA's multicast group notices (IBA 14.2.5.1). */
#define IBB_FMCG_TRAP_CREATED 66
#define IBB_FMCG_TRAP_DELETED 67

struct ibb_fmsg_mcg_notice {
    uint16_t trap;              /* IBB_FMCG_TRAP_*. */
    uint16_t pad;               /* Zero. */
    uint8_t mgid[16];           /* The group (the Notice's GIDAddr). */
};

#endif /* fabric-proto.h */
