/*
 * ibsim-fabric: a simulated InfiniBand subnet (one switch, its subnet
 * manager and subnet administrator) on a Unix SOCK_SEQPACKET socket.  Each
 * connection is one HCA port; the protocol is in lib/fabric-proto.h.
 *
 * Follows OVS daemon conventions (links OVS's library): --detach,
 * --pidfile, --log-file, -v, and a unixctl socket answering fabric/show,
 * fabric/ports, fabric/groups, fabric/counters and exit via ovs-appctl.
 *
 * This file is the switch (checks, forwarding, ports) and the SM (LIDs,
 * GUIDs); utilities/ibsim-fabric-port.c is the ports' I/O (batches, send
 * queues, held packets: flow control); utilities/ibsim-sa.c is the SA's
 * multicast part.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "command-line.h"
#include "daemon.h"
#include "fatal-signal.h"
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

#include "fabric-proto.h"
#include "ib-crc.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ibb-pcap.h"
#include "ibsim-fabric-port.h"
#include "ibsim-sa.h"

VLOG_DEFINE_THIS_MODULE(ibsim_fabric);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The switch's own LID, also the subnet manager's. */
#define SM_LID 1

/* GUIDs the fabric assigns: base plus LID. */
#define GUID_BASE 0x0002c90300000000ULL

/* QP1 is always open in strict mode, with the GSI Q_Key. */
#define GSI_QKEY 0x80010000

/* Counters: X(NAME, DESCRIPTION).  Drops first, then traffic. */
#define FABRIC_DROPS                                                    \
    X(too_short, "shorter than LRH+BTH+DETH+ICRC+VCRC")                 \
    X(bad_lver, "LRH LVer not 0")                                       \
    X(bad_lnh, "LRH LNH not IBA local/global")                          \
    X(bad_length, "LRH PktLen disagrees with message size")             \
    X(bad_vcrc, "bad VCRC")                                             \
    X(bad_header, "bad GRH or BTH (IPVer, NxtHdr, PayLen, TVer, pad)")  \
    X(bad_opcode, "opcode not UD SEND_ONLY[_WITH_IMMEDIATE]")           \
    X(mtu_exceeded, "payload larger than the MTU")                      \
    X(bad_slid, "SLID is not the sending port's LID")                   \
    X(pkey_violation, "P_Key not shared by sender and receiver")        \
    X(permissive_lid, "DLID is the permissive LID")                     \
    X(invalid_lid, "DLID is 0")                                         \
    X(unknown_lid, "no port has the DLID")                              \
    X(unknown_mlid, "no multicast group has the DLID")                  \
    X(bad_mcast_qpn, "multicast DLID without DestQP 0xFFFFFF")          \
    X(bad_icrc, "strict receiver: bad ICRC (switches forward it)")      \
    X(no_qp, "strict receiver has no such QP open")                     \
    X(bad_qkey, "strict receiver's Q_Key differs")                      \
    X(bad_dgid, "strict receiver's GID table lacks the DGID")           \
    X(bad_sgid, "strict sender's GID table lacks the SGID")             \
    X(bad_sqpn, "strict sender has no QP with the SrcQP open")          \
    X(dest_gone, "receiver detached while the packet waited")

#define FABRIC_TRAFFIC                                                  \
    X(rx_packets, "packets received from ports")                        \
    X(rx_control, "control requests received")                          \
    X(forwarded, "packets accepted and forwarded")                      \
    X(tx_unicast, "unicast copies queued to receivers")                 \
    X(tx_multicast, "multicast copies queued to receivers")             \
    X(mcast_no_receivers, "multicast packets no port received")         \
    X(backpressure, "times a sender waited for a full receiver queue")

struct counters {
#define X(NAME, DESC) unsigned long long NAME;
    FABRIC_DROPS
    FABRIC_TRAFFIC
#undef X
};

struct qp {
    uint32_t qpn;               /* QP number. */
    uint32_t qkey;              /* Its Q_Key. */
};

struct port {
    struct ovs_list node;       /* In 'ports'. */
    struct hmap_node lid_node;  /* In 'ports_by_lid' once attached. */
    struct ibsim_port_io io;    /* Connection, queue, batches, held. */
    unsigned int num;           /* Switch port number. */
    bool attached;              /* ATTACH done. */
    char name[32];              /* Name from ATTACH. */
    enum ibb_fmsg_mode mode;    /* Raw or strict. */
    uint64_t guid;              /* Port GUID. */
    uint8_t gid[16];            /* Port GID. */
    uint16_t lid;               /* Port LID. */
    uint16_t pkey;              /* Partition. */
    uint8_t (*aliases)[16];     /* Alias GIDs. */
    size_t n_aliases;           /* Number of 'aliases'. */
    struct qp *qps;             /* Open QPs (strict mode). */
    size_t n_qps;               /* Number of 'qps'. */
    struct ibb_fmsg_route *routes; /* GID prefixes it routes (SA only). */
    size_t n_routes;            /* Number of 'routes'. */
};

static char *socket_path;
static int listen_fd = -1;
static unsigned int mtu = 4096;
static size_t queue_len = 64;
static char *pcap_file;
static struct ibb_pcap_writer *pcap;
static char *unixctl_path;
static struct ovs_list ports = OVS_LIST_INITIALIZER(&ports);
static struct hmap ports_by_lid = HMAP_INITIALIZER(&ports_by_lid);
static unsigned int next_port_num = 1;
static struct counters counters;
static bool exiting;

OVS_NO_RETURN static void usage(void);
static void parse_options(int argc, char *argv[]);

/* ------------------------------------------------------------------ */
/* Lookups. */

static struct port *
port_by_lid(uint16_t lid)
{
    struct port *port;

    HMAP_FOR_EACH_WITH_HASH (port, lid_node, hash_int(lid, 0),
                             &ports_by_lid) {
        if (port->lid == lid) {
            return port;
        }
    }
    return NULL;
}

static struct port *
port_by_num(unsigned int num)
{
    struct port *port;

    LIST_FOR_EACH (port, node, &ports) {
        if (port->num == num) {
            return port->io.dead ? NULL : port;
        }
    }
    return NULL;
}

static bool
port_has_gid(const struct port *port, const uint8_t gid[16])
{
    if (!memcmp(port->gid, gid, 16)) {
        return true;
    }
    for (size_t i = 0; i < port->n_aliases; i++) {
        if (!memcmp(port->aliases[i], gid, 16)) {
            return true;
        }
    }
    return false;
}

static struct port *
port_by_gid(const uint8_t gid[16])
{
    struct port *port;

    LIST_FOR_EACH (port, node, &ports) {
        if (port->attached && !port->io.dead && port_has_gid(port, gid)) {
            return port;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Sending to ports. */

static void
reply(struct port *port, const struct ibb_fmsg_hdr *req, int status,
      const void *body, size_t body_len)
{
    ibsim_port_enqueue(&port->io, req->type, status, req->xid, body,
                       body_len);
}

void
ibsim_fabric_send(unsigned int port_num, uint16_t type, uint16_t status,
                  uint32_t xid, const void *body, size_t body_len)
{
    struct port *port = port_by_num(port_num);

    if (port) {
        ibsim_port_enqueue(&port->io, type, status, xid, body, body_len);
    }
}

/* The name of switch port 'num', for fabric/groups. */
static const char *
port_name(unsigned int num)
{
    const struct port *port = port_by_num(num);

    return port ? port->name : NULL;
}

/* The I/O of live switch port 'num', for ibsim-fabric-port.c. */
static struct ibsim_port_io *
port_io_by_num(unsigned int num)
{
    struct port *port = port_by_num(num);

    return port ? &port->io : NULL;
}

/* ------------------------------------------------------------------ */
/* pcap: LINKTYPE_ERF with ERF record type 21 (InfiniBand), as Mellanox
 * ibdump writes; tshark dissects it as InfiniBand. */

static void
pcap_open(void)
{
    char err[PATH_MAX + 256];   /* Names the file. */

    if (ibb_pcap_writer_open(pcap_file, IBB_PCAP_LINKTYPE_ERF, &pcap, err,
                             sizeof err)) {
        ovs_fatal(0, "%s", err);
    }
    /* The file header goes out now: with --detach, a header still in the
     * stdio buffer would be written by both processes of the fork. */
    ibb_pcap_writer_flush(pcap);
}

static void
pcap_write(const uint8_t *pkt, size_t len)
{
    struct ibb_pcap_rec rec = { .len = len, .wire_len = len };
    struct timeval tv;

    gettimeofday(&tv, NULL);
    rec.ts_sec = tv.tv_sec;
    rec.ts_nsec = tv.tv_usec * 1000;
    if (ibb_pcap_write(pcap, &rec, pkt, len)) {
        VLOG_WARN_RL(&rl, "%s: write failed, capture incomplete",
                     pcap_file);
    }
}

/* ------------------------------------------------------------------ */
/* Forwarding. */

/* Whether a packet's ICRC is right.  A switch checks the VCRC, which
 * covers one link, but not the ICRC, which covers the packet end to end: a
 * bad ICRC does not stop forwarding.  The receiving HCA checks it (see
 * check_strict()); a raw port, a sniffer, receives the packet as it is.
 * So the ICRC is computed only when a strict receiver first asks. */
struct packet_icrc {
    const uint8_t *pkt;         /* The packet, from the LRH. */
    size_t len;                 /* Its length through the ICRC. */
    int ok;                     /* 1 right, 0 wrong, -1 not computed. */
};

static bool
packet_icrc_ok(struct packet_icrc *pi)
{
    if (pi->ok < 0) {
        /* check_packet() made sure the headers it needs are there, so
         * this returns 0 or EBADMSG. */
        pi->ok = !ibb_icrc_ib_check(pi->pkt, pi->len);
    }
    return pi->ok;
}

/* Checks that the packet is a well-formed UD packet, as a switch does.
 * Returns a pointer to the drop counter to bump, or NULL if the packet is
 * good; stores the BTH offset. */
static unsigned long long *
check_packet(const struct port *src, const uint8_t *pkt, size_t len,
             size_t *bth_ofs)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;
    const struct ibb_bth *bth;
    size_t hdr_len, payload;
    uint8_t op;

    if (len < IBB_LRH_LEN + IBB_BTH_LEN + IBB_DETH_LEN + IBB_ICRC_LEN
              + IBB_VCRC_LEN) {
        return &counters.too_short;
    }
    if (ibb_lrh_lver(lrh)) {
        return &counters.bad_lver;
    }
    if (ibb_lrh_lnh(lrh) != IBB_LNH_LOCAL
        && ibb_lrh_lnh(lrh) != IBB_LNH_GLOBAL) {
        return &counters.bad_lnh;
    }
    if (ibb_lrh_pktlen(lrh) * 4 + IBB_VCRC_LEN != len) {
        return &counters.bad_length;
    }
    if (ibb_vcrc16(0, pkt, len - IBB_VCRC_LEN)
        != ibb_vcrc_get(pkt + len - IBB_VCRC_LEN)) {
        return &counters.bad_vcrc;
    }

    *bth_ofs = IBB_LRH_LEN;
    if (ibb_lrh_lnh(lrh) == IBB_LNH_GLOBAL) {
        const struct ibb_grh *grh;

        if (len < IBB_LRH_LEN + IBB_GRH_LEN + IBB_BTH_LEN + IBB_DETH_LEN
                  + IBB_ICRC_LEN + IBB_VCRC_LEN) {
            return &counters.too_short;
        }
        grh = (const struct ibb_grh *) (pkt + IBB_LRH_LEN);
        if (ibb_grh_ipver(grh) != IBB_GRH_IPVER
            || ibb_grh_nxthdr(grh) != IBB_GRH_NXTHDR
            || ibb_grh_paylen(grh) != len - IBB_LRH_LEN - IBB_GRH_LEN
                                      - IBB_VCRC_LEN) {
            return &counters.bad_header;
        }
        *bth_ofs += IBB_GRH_LEN;
    }

    /* The length checks above leave room for the BTH and the ICRC, and
     * LNH is local or global: the ICRC can be computed (packet_icrc_ok()).
     */

    bth = (const struct ibb_bth *) (pkt + *bth_ofs);
    op = ibb_bth_opcode(bth);
    if (op != IBB_OP_UD_SEND_ONLY && op != IBB_OP_UD_SEND_ONLY_WITH_IMM) {
        return &counters.bad_opcode;
    }
    hdr_len = *bth_ofs + IBB_BTH_LEN + IBB_DETH_LEN
              + (op == IBB_OP_UD_SEND_ONLY_WITH_IMM ? IBB_IMMDT_LEN : 0);
    if (ibb_bth_tver(bth)
        || len < hdr_len + IBB_ICRC_LEN + IBB_VCRC_LEN + ibb_bth_pad(bth)) {
        return &counters.bad_header;
    }
    payload = len - hdr_len - IBB_ICRC_LEN - IBB_VCRC_LEN - ibb_bth_pad(bth);
    if (payload > mtu) {
        return &counters.mtu_exceeded;
    }
    if (ibb_lrh_slid(lrh) != src->lid) {
        return &counters.bad_slid;
    }
    if (!ibb_pkey_match(ibb_bth_pkey(bth), src->pkey)) {
        return &counters.pkey_violation;
    }
    return NULL;
}

static bool
port_has_qp(const struct port *port, uint32_t qpn)
{
    for (size_t i = 0; i < port->n_qps; i++) {
        if (port->qps[i].qpn == qpn) {
            return true;
        }
    }
    return qpn == 1;
}

/* A strict port is an HCA: it stamps its own QPN as SrcQP and an SGID of
 * its GID table; nothing else can leave it. */
static unsigned long long *
check_strict_sender(const struct port *src, const uint8_t *pkt,
                    const struct ibb_deth *deth)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;

    if (src->mode != IBB_FMODE_STRICT) {
        return NULL;
    }
    if (ibb_lrh_lnh(lrh) == IBB_LNH_GLOBAL) {
        const struct ibb_grh *grh = (const struct ibb_grh *)
                                    (pkt + IBB_LRH_LEN);

        if (!port_has_gid(src, grh->sgid)) {
            return &counters.bad_sgid;
        }
    }
    if (!port_has_qp(src, ibb_deth_sqpn(deth))) {
        return &counters.bad_sqpn;
    }
    return NULL;
}

/* A strict port is an HCA: it drops a packet with a bad ICRC, and delivers
 * a unicast packet only to an open QP with its Q_Key and for a GID of its
 * table.  Returns the drop counter to bump, or NULL to deliver. */
static unsigned long long *
check_strict(const struct port *dst, const uint8_t *pkt,
             struct packet_icrc *icrc, uint32_t dqpn, uint32_t qkey)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;

    if (dst->mode != IBB_FMODE_STRICT) {
        return NULL;
    }
    if (!packet_icrc_ok(icrc)) {
        return &counters.bad_icrc;
    }
    if (ibb_lrh_lnh(lrh) == IBB_LNH_GLOBAL
        && !port_has_gid(dst, ((const struct ibb_grh *)
                               (pkt + IBB_LRH_LEN))->dgid)) {
        return &counters.bad_dgid;
    }
    if (dqpn == 1) {
        return qkey == GSI_QKEY ? NULL : &counters.bad_qkey;
    }
    for (size_t i = 0; i < dst->n_qps; i++) {
        if (dst->qps[i].qpn == dqpn) {
            return dst->qps[i].qkey == qkey ? NULL : &counters.bad_qkey;
        }
    }
    return &counters.no_qp;
}

static void
drop(struct port *src, unsigned long long *counter, const char *why)
{
    (*counter)++;
    VLOG_DBG_RL(&rl, "port %u (%s): dropped packet: %s", src->num, src->name,
                why);
}

/* Handles a packet from 'src'; may hold it there.  Rewrites 'msg''s
 * header for forwarding. */
static void
handle_packet(struct port *src, uint8_t *msg, size_t msg_len)
{
    const uint8_t *pkt = msg + sizeof(struct ibb_fmsg_hdr);
    size_t len = msg_len - sizeof(struct ibb_fmsg_hdr);
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;
    const struct ibb_bth *bth;
    const struct ibb_deth *deth;
    unsigned long long *bad;
    unsigned int one_dest;
    unsigned int *dests = &one_dest;
    size_t n_dests = 0;
    size_t bth_ofs = 0;
    struct packet_icrc icrc = { .pkt = pkt, .len = len - IBB_VCRC_LEN,
                                .ok = -1 };
    uint16_t dlid;

    counters.rx_packets++;
    src->io.rx_packets++;
    bad = check_packet(src, pkt, len, &bth_ofs);
    if (bad) {
        drop(src, bad, "failed check");
        return;
    }
    bth = (const struct ibb_bth *) (pkt + bth_ofs);
    deth = (const struct ibb_deth *) (pkt + bth_ofs + IBB_BTH_LEN);
    bad = check_strict_sender(src, pkt, deth);
    if (bad) {
        drop(src, bad, "strict sender's SGID/SrcQP");
        return;
    }

    dlid = ibb_lrh_dlid(lrh);
    if (dlid == IBB_LID_PERMISSIVE) {
        drop(src, &counters.permissive_lid, "permissive DLID");
        return;
    } else if (!dlid) {
        drop(src, &counters.invalid_lid, "DLID 0");
        return;
    }

    if (dlid >= IBB_LID_MCAST_MIN) {
        const struct ibsim_sa_group *g = ibsim_sa_group_by_mlid(dlid);

        if (!g) {
            drop(src, &counters.unknown_mlid, "unknown MLID");
            return;
        }
        if (ibb_bth_qpn(bth) != IBB_MULTICAST_QPN) {
            drop(src, &counters.bad_mcast_qpn, "multicast DestQP");
            return;
        }
        dests = xmalloc((g->n_members + 1) * sizeof *dests);
        for (size_t i = 0; i < g->n_members; i++) {
            struct port *dst = port_by_num(g->members[i].port_num);

            if (!dst || dst == src
                || !(g->members[i].join_state & IBB_FMCAST_FULL)) {
                continue;
            }
            if (!ibb_pkey_match(ibb_bth_pkey(bth), dst->pkey)) {
                counters.pkey_violation++;
                continue;
            }
            /* Each strict member drops its own copy of a packet with a
             * bad ICRC: one count per dropped copy. */
            if (dst->mode == IBB_FMODE_STRICT && !packet_icrc_ok(&icrc)) {
                counters.bad_icrc++;
                continue;
            }
            if (dst->mode == IBB_FMODE_STRICT
                && ibb_deth_qkey(deth) != g->qkey) {
                counters.bad_qkey++;
                continue;
            }
            dests[n_dests++] = dst->num;
        }
        counters.forwarded++;
        counters.tx_multicast += n_dests;
        if (!n_dests) {
            counters.mcast_no_receivers++;
        }
    } else {
        struct port *dst = port_by_lid(dlid);

        if (!dst || dst->io.dead) {
            drop(src, &counters.unknown_lid, "unknown DLID");
            return;
        }
        if (!ibb_pkey_match(ibb_bth_pkey(bth), dst->pkey)) {
            drop(src, &counters.pkey_violation, "receiver P_Key");
            return;
        }
        bad = check_strict(dst, pkt, &icrc, ibb_bth_qpn(bth),
                           ibb_deth_qkey(deth));
        if (bad) {
            drop(src, bad, "strict receiver's ICRC/GID/QPN/Q_Key");
            return;
        }
        dests[n_dests++] = dst->num;
        counters.forwarded++;
        counters.tx_unicast++;
    }

    if (pcap) {
        pcap_write(pkt, len);
    }

    /* Receivers with nothing queued get it at once, from here; the rest
     * get a copy, held until each has room. */
    for (size_t i = 0; i < n_dests; ) {
        struct port *dst = port_by_num(dests[i]);

        if (dst && ibsim_port_send_packet(&dst->io, msg, msg_len)) {
            dests[i] = dests[--n_dests];
        } else {
            i++;
        }
    }
    if (n_dests && ibsim_port_hold(&src->io, pkt, len, dests, n_dests)) {
        counters.backpressure++;
    }
    if (dests != &one_dest) {
        free(dests);
    }
}

/* ------------------------------------------------------------------ */
/* Control requests. */

static uint16_t
assign_lid(void)
{
    for (uint16_t lid = SM_LID + 1; lid < IBB_LID_MCAST_MIN; lid++) {
        if (!port_by_lid(lid)) {
            return lid;
        }
    }
    return 0;
}

static bool
guid_in_use(uint64_t guid)
{
    struct port *port;

    LIST_FOR_EACH (port, node, &ports) {
        if (port->attached && !port->io.dead && port->guid == guid) {
            return true;
        }
    }
    return false;
}

static void
handle_attach(struct port *port, const struct ibb_fmsg_hdr *hdr,
              const uint8_t *body, size_t len)
{
    struct ibb_fmsg_attach_reply ar;
    struct ibb_fmsg_attach a;
    char gidbuf[IBB_GID_STRLEN];
    uint16_t lid;
    uint64_t guid;

    memset(&a, 0, sizeof a);
    memcpy(&a, body, MIN(len, sizeof a));
    a.name[sizeof a.name - 1] = '\0';
    if (port->attached || a.version != IBB_FABRIC_VERSION
        || a.mode > IBB_FMODE_RAW) {
        reply(port, hdr, EINVAL, NULL, 0);
        return;
    }

    lid = a.lid;
    if (lid == SM_LID || lid >= IBB_LID_MCAST_MIN
        || (lid && port_by_lid(lid))) {
        VLOG_WARN_RL(&rl, "port %u (%s): LID %u refused", port->num, a.name,
                     lid);
        reply(port, hdr, EADDRINUSE, NULL, 0);
        return;
    } else if (!lid) {
        lid = assign_lid();
        if (!lid) {
            reply(port, hdr, ENOSPC, NULL, 0);
            return;
        }
    }
    guid = a.guid;
    if (guid && guid_in_use(guid)) {
        VLOG_WARN_RL(&rl, "port %u (%s): GUID 0x%016"PRIx64" in use",
                     port->num, a.name, guid);
        reply(port, hdr, EADDRINUSE, NULL, 0);
        return;
    } else if (!guid) {
        for (guid = GUID_BASE + lid; guid_in_use(guid); guid += 0x10000) {
            continue;
        }
    }

    port->attached = true;
    port->mode = a.mode;
    port->lid = lid;
    port->guid = guid;
    port->pkey = a.pkey ? a.pkey : IBB_DEF_PKEY;
    memset(port->gid, 0, 16);
    port->gid[0] = 0xfe;
    port->gid[1] = 0x80;
    for (int i = 0; i < 8; i++) {
        port->gid[8 + i] = guid >> (56 - 8 * i);
    }
    snprintf(port->name, sizeof port->name, "%s",
             a.name[0] ? a.name : "port");
    hmap_insert(&ports_by_lid, &port->lid_node, hash_int(lid, 0));

    memset(&ar, 0, sizeof ar);
    ar.guid = guid;
    memcpy(ar.gid, port->gid, 16);
    ar.lid = lid;
    ar.sm_lid = SM_LID;
    ar.mtu = mtu;
    ar.port_num = port->num;
    reply(port, hdr, 0, &ar, sizeof ar);
    VLOG_INFO("port %u (%s): attached, LID %u, GID %s, %s mode", port->num,
              port->name, lid, ibb_gid_format(port->gid, gidbuf,
                                              sizeof gidbuf),
              port->mode == IBB_FMODE_RAW ? "raw" : "strict");
}

static void
handle_alias(struct port *port, const struct ibb_fmsg_hdr *hdr,
             const uint8_t gid[16])
{
    struct port *owner = port_by_gid(gid);

    if (hdr->type == IBB_FMSG_ALIAS_ADD) {
        if (owner == port) {
            reply(port, hdr, 0, NULL, 0);
        } else if (owner || ibb_gid_is_multicast(gid)) {
            reply(port, hdr, owner ? EADDRINUSE : EINVAL, NULL, 0);
        } else {
            port->aliases = xrealloc(port->aliases,
                                     (port->n_aliases + 1) * 16);
            memcpy(port->aliases[port->n_aliases++], gid, 16);
            reply(port, hdr, 0, NULL, 0);
        }
        return;
    }

    for (size_t i = 0; i < port->n_aliases; i++) {
        if (!memcmp(port->aliases[i], gid, 16)) {
            memcpy(port->aliases[i], port->aliases[--port->n_aliases], 16);
            reply(port, hdr, 0, NULL, 0);
            return;
        }
    }
    reply(port, hdr, ENOENT, NULL, 0);
}

static void
handle_qp(struct port *port, const struct ibb_fmsg_hdr *hdr,
          const struct ibb_fmsg_qp *q)
{
    size_t i;

    if (!q->qpn || q->qpn >= IBB_MULTICAST_QPN) {
        reply(port, hdr, EINVAL, NULL, 0);
        return;
    }
    for (i = 0; i < port->n_qps; i++) {
        if (port->qps[i].qpn == q->qpn) {
            break;
        }
    }
    if (hdr->type == IBB_FMSG_QP_OPEN) {
        if (i == port->n_qps) {
            port->qps = xrealloc(port->qps, (i + 1) * sizeof *port->qps);
            port->n_qps++;
        }
        port->qps[i].qpn = q->qpn;
        port->qps[i].qkey = q->qkey;
        reply(port, hdr, 0, NULL, 0);
    } else if (i < port->n_qps) {
        port->qps[i] = port->qps[--port->n_qps];
        reply(port, hdr, 0, NULL, 0);
    } else {
        reply(port, hdr, ENOENT, NULL, 0);
    }
}

/* True if 'prefix' has no bit set past its first 'plen'. */
static bool
prefix_is_clean(const uint8_t prefix[16], unsigned int plen)
{
    for (unsigned int bit = plen; bit < 128; bit++) {
        if (prefix[bit / 8] & (0x80 >> (bit % 8))) {
            return false;
        }
    }
    return true;
}

/* The route with the longest prefix that holds 'gid', and its port. */
static const struct ibb_fmsg_route *
route_lookup(const uint8_t gid[16], struct port **portp)
{
    const struct ibb_fmsg_route *best = NULL;
    struct port *port;

    *portp = NULL;
    LIST_FOR_EACH (port, node, &ports) {
        if (!port->attached || port->io.dead) {
            continue;
        }
        for (size_t i = 0; i < port->n_routes; i++) {
            const struct ibb_fmsg_route *r = &port->routes[i];

            if ((!best || r->plen > best->plen)
                && ibb_gid_in_prefix(gid, r->prefix, r->plen)) {
                best = r;
                *portp = port;
            }
        }
    }
    return best;
}

/* The port that routes exactly prefix 'r', if any. */
static struct port *
route_owner(const struct ibb_fmsg_route *r)
{
    struct port *port;

    LIST_FOR_EACH (port, node, &ports) {
        if (!port->attached || port->io.dead) {
            continue;
        }
        for (size_t i = 0; i < port->n_routes; i++) {
            if (port->routes[i].plen == r->plen
                && !memcmp(port->routes[i].prefix, r->prefix, 16)) {
                return port;
            }
        }
    }
    return NULL;
}

static void
handle_route(struct port *port, const struct ibb_fmsg_hdr *hdr,
             const struct ibb_fmsg_route *r)
{
    size_t i;

    for (i = 0; i < port->n_routes; i++) {
        if (port->routes[i].plen == r->plen
            && !memcmp(port->routes[i].prefix, r->prefix, 16)) {
            break;
        }
    }
    if (hdr->type == IBB_FMSG_ROUTE_DEL) {
        if (i == port->n_routes) {
            reply(port, hdr, ENOENT, NULL, 0);
            return;
        }
        port->routes[i] = port->routes[--port->n_routes];
        reply(port, hdr, 0, NULL, 0);
        return;
    }

    /* A prefix must be a unicast one with no bits past its length, and
     * must not hold the subnet's own GIDs (the port's prefix), which are
     * ports'. */
    if (!r->plen || r->plen > 128 || ibb_gid_is_multicast(r->prefix)
        || !prefix_is_clean(r->prefix, r->plen)
        || ibb_gid_in_prefix(port->gid, r->prefix, MIN(r->plen, 64))
        || r->mtu < 256 || r->mtu > 4096) {
        reply(port, hdr, EINVAL, NULL, 0);
        return;
    }
    if (route_owner(r) && route_owner(r) != port) {
        /* One router per prefix, as in OpenSM's prefix routes. */
        reply(port, hdr, EADDRINUSE, NULL, 0);
        return;
    }
    if (i == port->n_routes) {
        port->routes = xrealloc(port->routes,
                                (port->n_routes + 1) * sizeof *port->routes);
        port->n_routes++;
    }
    port->routes[i] = *r;
    reply(port, hdr, 0, NULL, 0);
}

static void
handle_path_query(struct port *port, const struct ibb_fmsg_hdr *hdr,
                  const uint8_t gid[16])
{
    struct ibb_fmsg_path_reply pr;

    memset(&pr, 0, sizeof pr);
    pr.mtu = mtu;
    if (ibb_gid_is_multicast(gid)) {
        const struct ibsim_sa_group *g = ibsim_sa_group_by_mgid(gid);

        if (g) {
            pr.lid = g->mlid;
        }
    } else {
        struct port *owner = port_by_gid(gid);

        if (owner) {
            pr.lid = owner->lid;
        } else {
            const struct ibb_fmsg_route *r = route_lookup(gid, &owner);

            if (r) {
                /* Off the subnet: the path leads to its router. */
                pr.lid = owner->lid;
                pr.mtu = MIN(pr.mtu, r->mtu);
            }
        }
    }
    reply(port, hdr, pr.lid ? 0 : ENOENT, &pr, sizeof pr);
}

static void
handle_message(struct port *port, uint8_t *msg, size_t len)
{
    struct ibb_fmsg_hdr hdr;
    const uint8_t *body = msg + sizeof hdr;
    size_t body_len = len - sizeof hdr;

    if (len < sizeof hdr) {
        port->io.dead = true;
        return;
    }
    memcpy(&hdr, msg, sizeof hdr);
    if (!port->attached && hdr.type != IBB_FMSG_ATTACH) {
        VLOG_WARN_RL(&rl, "port %u: message %u before ATTACH, closing",
                     port->num, hdr.type);
        port->io.dead = true;
        return;
    }
    if (hdr.type != IBB_FMSG_PACKET) {
        counters.rx_control++;
    }

    switch (hdr.type) {
    case IBB_FMSG_ATTACH:
        handle_attach(port, &hdr, body, body_len);
        break;

    case IBB_FMSG_PACKET:
        handle_packet(port, msg, len);
        break;

    case IBB_FMSG_PATH_QUERY:
    case IBB_FMSG_ALIAS_ADD:
    case IBB_FMSG_ALIAS_DEL:
        if (body_len < sizeof(struct ibb_fmsg_gid)) {
            reply(port, &hdr, EINVAL, NULL, 0);
        } else if (hdr.type == IBB_FMSG_PATH_QUERY) {
            handle_path_query(port, &hdr, body);
        } else {
            handle_alias(port, &hdr, body);
        }
        break;

    case IBB_FMSG_MCAST_JOIN:
    case IBB_FMSG_MCAST_LEAVE:
    case IBB_FMSG_MCG_LIST:
    case IBB_FMSG_MCG_SUBSCRIBE: {
        struct ibsim_sa_port sp = { .num = port->num, .pkey = port->pkey };

        ibsim_sa_handle(&sp, &hdr, body, body_len);
        break;
    }

    case IBB_FMSG_QP_OPEN:
    case IBB_FMSG_QP_CLOSE: {
        struct ibb_fmsg_qp q;

        if (body_len < sizeof q) {
            reply(port, &hdr, EINVAL, NULL, 0);
        } else {
            memcpy(&q, body, sizeof q);
            handle_qp(port, &hdr, &q);
        }
        break;
    }

    case IBB_FMSG_ROUTE_ADD:
    case IBB_FMSG_ROUTE_DEL: {
        struct ibb_fmsg_route r;

        if (body_len < sizeof r) {
            reply(port, &hdr, EINVAL, NULL, 0);
        } else {
            memcpy(&r, body, sizeof r);
            handle_route(port, &hdr, &r);
        }
        break;
    }

    default:
        reply(port, &hdr, EOPNOTSUPP, NULL, 0);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Ports. */

/* Handles what 'port' sent, a batch at a time, until it is held.  Returns
 * how many messages that was. */
static size_t
port_read(struct port *port)
{
    size_t n = 0;
    uint8_t *msg;
    size_t len;

    ibsim_port_receive(&port->io);
    while ((msg = ibsim_port_next(&port->io, &len))) {
        handle_message(port, msg, len);
        n++;
    }
    /* The batches point into this port's receive buffer. */
    ibsim_port_flush_batches();
    return n;
}

static void
port_destroy(struct port *port)
{
    if (port->attached) {
        ibsim_sa_port_gone(port->num);
        hmap_remove(&ports_by_lid, &port->lid_node);
    }
    ovs_list_remove(&port->node);
    ibsim_port_destroy(&port->io);
    free(port->aliases);
    free(port->routes);
    free(port->qps);
    free(port);
}

static void
accept_ports(void)
{
    struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };

    /* A failed accept4() costs a socket's allocation: ask poll() first,
     * since the main loop runs once per batch of packets. */
    if (poll(&pfd, 1, 0) <= 0) {
        return;
    }
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct port *port;

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                VLOG_WARN_RL(&rl, "%s: accept failed (%s)", socket_path,
                             ovs_strerror(errno));
            }
            return;
        }
        port = xzalloc(sizeof *port);
        port->num = next_port_num++;
        snprintf(port->name, sizeof port->name, "port%u", port->num);
        ibsim_port_init(&port->io, fd, port->num, port->name);
        ovs_list_push_back(&ports, &port->node);
    }
}

static void
open_listener(void)
{
    struct sockaddr_un sun;
    int fd;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(socket_path) >= sizeof sun.sun_path) {
        ovs_fatal(0, "%s: socket path too long", socket_path);
    }
    strcpy(sun.sun_path, socket_path);

    /* A stale socket from a fabric that died is replaced, a live one is
     * not. */
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ovs_fatal(errno, "socket failed");
    }
    if (!connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        ovs_fatal(0, "%s: another fabric is already listening there",
                  socket_path);
    }
    close(fd);
    unlink(socket_path);

    listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       0);
    if (listen_fd < 0) {
        ovs_fatal(errno, "socket failed");
    }
    if (bind(listen_fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        ovs_fatal(errno, "%s: bind failed", socket_path);
    }
    if (listen(listen_fd, 64) < 0) {
        ovs_fatal(errno, "%s: listen failed", socket_path);
    }
    fatal_signal_add_file_to_unlink(socket_path);
}

/* ------------------------------------------------------------------ */
/* unixctl. */

static void
fabric_show(struct unixctl_conn *conn, int argc OVS_UNUSED,
            const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t n_ports = 0, n_groups = ibsim_sa_n_groups();
    struct port *port;

    LIST_FOR_EACH (port, node, &ports) {
        n_ports += port->attached && !port->io.dead;
    }
    ds_put_format(&s, "socket: %s\n", socket_path);
    ds_put_format(&s, "sm_lid: %d\n", SM_LID);
    ds_put_format(&s, "mtu: %u\n", mtu);
    ds_put_format(&s, "queue_len: %zu\n", queue_len);
    ds_put_format(&s, "ports: %zu\n", n_ports);
    ds_put_format(&s, "groups: %zu\n", n_groups);
    ds_put_format(&s, "pcap: %s\n", pcap_file ? pcap_file : "(none)");
    ibsim_sa_format_show(&s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
fabric_ports(struct unixctl_conn *conn, int argc OVS_UNUSED,
             const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    char gidbuf[IBB_GID_STRLEN];
    struct port *port;

    LIST_FOR_EACH (port, node, &ports) {
        if (!port->attached || port->io.dead) {
            continue;
        }
        ds_put_format(&s, "port %u: name=%s lid=%u guid=0x%016"PRIx64
                      " gid=%s mode=%s pkey=0x%04x rx=%llu tx=%llu"
                      " queued=%zu held=%s\n", port->num, port->name,
                      port->lid, port->guid,
                      ibb_gid_format(port->gid, gidbuf, sizeof gidbuf),
                      port->mode == IBB_FMODE_RAW ? "raw" : "strict",
                      port->pkey, port->io.rx_packets, port->io.tx_packets,
                      port->io.n_queued, port->io.held ? "yes" : "no");
        for (size_t i = 0; i < port->n_aliases; i++) {
            ds_put_format(&s, "  alias %s\n",
                          ibb_gid_format(port->aliases[i], gidbuf,
                                         sizeof gidbuf));
        }
        for (size_t i = 0; i < port->n_qps; i++) {
            ds_put_format(&s, "  qp %u qkey=0x%08x\n", port->qps[i].qpn,
                          port->qps[i].qkey);
        }
        for (size_t i = 0; i < port->n_routes; i++) {
            ds_put_format(&s, "  route %s/%u mtu=%u\n",
                          ibb_gid_format(port->routes[i].prefix, gidbuf,
                                         sizeof gidbuf),
                          port->routes[i].plen, port->routes[i].mtu);
        }
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
fabric_groups(struct unixctl_conn *conn, int argc OVS_UNUSED,
              const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ibsim_sa_format_groups(&s, port_name);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
fabric_counters(struct unixctl_conn *conn, int argc OVS_UNUSED,
                const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;

#define X(NAME, DESC) ds_put_format(&s, "%s: %llu\n", #NAME, counters.NAME);
    FABRIC_TRAFFIC
#undef X
    ibsim_sa_format_counters(&s);
#define X(NAME, DESC) \
    ds_put_format(&s, "drop.%s: %llu\n", #NAME, counters.NAME);
    FABRIC_DROPS
#undef X
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
fabric_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
            const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    exiting = true;
    unixctl_command_reply(conn, NULL);
}

/* ------------------------------------------------------------------ */

/* How often the main loop takes new ports and unixctl connections at the
 * most while packets flow (see main()). */
#define HOUSEKEEPING_MS 10

int
main(int argc, char *argv[])
{
    struct unixctl_server *unixctl;
    long long int next_housekeeping = 0;
    bool busy = false, housekeeping;
    int retval;

    ovs_cmdl_proctitle_init(argc, argv);
    set_program_name(argv[0]);
    parse_options(argc, argv);
    fatal_ignore_sigpipe();

    ibsim_port_module_init(queue_len, port_io_by_num, &counters.dest_gone);
    open_listener();
    if (pcap_file) {
        pcap_open();
    }

    daemonize_start(false);
    retval = unixctl_server_create(unixctl_path, &unixctl);
    if (retval) {
        exit(EXIT_FAILURE);
    }
    unixctl_command_register("fabric/show", "", 0, 0, fabric_show, NULL);
    unixctl_command_register("fabric/ports", "", 0, 0, fabric_ports, NULL);
    unixctl_command_register("fabric/groups", "", 0, 0, fabric_groups,
                             NULL);
    unixctl_command_register("fabric/counters", "", 0, 0, fabric_counters,
                             NULL);
    unixctl_command_register("exit", "", 0, 0, fabric_exit, NULL);
    daemonize_complete();
    VLOG_INFO("listening on %s, MTU %u, queue length %zu", socket_path, mtu,
              queue_len);

    while (!exiting) {
        struct port *port;
        bool progress;

        /* While packets flow, the loop runs once per batch of them: new
         * ports and unixctl connections are then taken every
         * HOUSEKEEPING_MS rather than each time, which saves a poll() and
         * unixctl's failing accept() per batch of 32 (bench-fabric, 64 B:
         * 1400-1550 ns of the fabric's CPU time a packet, 1550-1600
         * before). */
        housekeeping = !busy || time_msec() >= next_housekeeping;
        if (housekeeping) {
            accept_ports();
            unixctl_server_run(unixctl);
            next_housekeeping = time_msec() + HOUSEKEEPING_MS;
        }

        busy = false;
        LIST_FOR_EACH (port, node, &ports) {
            busy |= port_read(port) > 0;
        }
        do {
            progress = false;
            LIST_FOR_EACH (port, node, &ports) {
                progress |= ibsim_port_flush(&port->io);
            }
            LIST_FOR_EACH (port, node, &ports) {
                progress |= ibsim_port_retry_held(&port->io);
            }
        } while (progress);

        LIST_FOR_EACH_SAFE (port, node, &ports) {
            if (port->io.dead) {
                port_destroy(port);
            }
        }
        /* Receivers may have gone: senders held for them move on. */
        LIST_FOR_EACH (port, node, &ports) {
            if (ibsim_port_retry_held(&port->io)) {
                poll_immediate_wake();
            }
        }
        if (pcap) {
            ibb_pcap_writer_flush(pcap);
        }

        if (busy) {
            /* More packets may have come meanwhile: read again before
             * asking poll() (and, through OVS's poll loop, getrusage())
             * whether any did.  The loop comes to poll_block() once a
             * round reads nothing; signals are handled here until then. */
            fatal_signal_run();
            continue;
        }
        poll_fd_wait(listen_fd, POLLIN);
        LIST_FOR_EACH (port, node, &ports) {
            ibsim_port_wait(&port->io);
        }
        unixctl_server_wait(unixctl);
        if (exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    if (pcap) {
        ibb_pcap_writer_close(pcap);
    }
    unixctl_server_destroy(unixctl);
    return 0;
}

static void
parse_options(int argc, char *argv[])
{
    enum {
        OPT_MTU = UCHAR_MAX + 1,
        OPT_QUEUE_LEN,
        OPT_PCAP,
        OPT_UNIXCTL,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"mtu", required_argument, NULL, OPT_MTU},
        {"queue-len", required_argument, NULL, OPT_QUEUE_LEN},
        {"pcap", required_argument, NULL, OPT_PCAP},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);
    char *end;
    long v;

    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);

        if (c == -1) {
            break;
        }

        switch (c) {
        case OPT_MTU:
            v = strtol(optarg, &end, 10);
            if (*end || (v != 256 && v != 512 && v != 1024 && v != 2048
                         && v != 4096)) {
                ovs_fatal(0, "--mtu=%s: must be 256, 512, 1024, 2048 or 4096",
                          optarg);
            }
            mtu = v;
            break;

        case OPT_QUEUE_LEN:
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 65536) {
                ovs_fatal(0, "--queue-len=%s: must be a number from 1 to "
                          "65536", optarg);
            }
            queue_len = v;
            break;

        case OPT_PCAP:
            pcap_file = optarg;
            break;

        case OPT_UNIXCTL:
            unixctl_path = optarg;
            break;

        case 'h':
            usage();

        case 'V':
            ovs_print_version(0, 0);
            exit(EXIT_SUCCESS);

        VLOG_OPTION_HANDLERS
        DAEMON_OPTION_HANDLERS

        case '?':
            exit(EXIT_FAILURE);

        default:
            abort();
        }
    }
    free(short_options);

    if (argc - optind != 1) {
        ovs_fatal(0, "exactly one argument required (the fabric socket "
                  "path); use --help for usage");
    }
    socket_path = xstrdup(argv[optind]);
}

static void
usage(void)
{
    printf("%s: simulated InfiniBand fabric (switch, SM and SA)\n"
           "usage: %s [OPTIONS] SOCKET\n"
           "\nPorts (ibsim-host, the ibbridge netdev with device=sim:SOCKET)\n"
           "attach to the SOCK_SEQPACKET Unix socket SOCKET.\n"
           "\nFabric options:\n"
           "  --mtu=N                 MTU: 256, 512, 1024, 2048 or 4096 "
           "(default 4096)\n"
           "  --queue-len=N           packets queued per receiving port "
           "before\n"
           "                          senders are back-pressured "
           "(default 64)\n"
           "  --pcap=FILE             record forwarded packets (pcap, ERF "
           "type 21)\n"
           "  --unixctl=SOCKET        override default control socket name\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n",
           program_name, program_name);
    daemon_usage();
    vlog_usage();
    printf("\nControl (ovs-appctl -t ibsim-fabric): fabric/show, "
           "fabric/ports,\nfabric/groups, fabric/counters, exit.\n");
    exit(EXIT_SUCCESS);
}
