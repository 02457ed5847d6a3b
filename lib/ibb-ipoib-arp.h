/*
 * IPoIB ARP (RFC 4391 section 9): how IB hosts' IP stacks, and so
 * rdma_cm's address resolution, find RoCE hosts through the bridge.
 *
 * An IPoIB host resolves an IPv4 address with an ARP request sent to its
 * partition's broadcast group (MGID ff12:401b:PKEY::ffff:ffff, Q_Key
 * IBB_IPOIB_QKEY); the answer is a unicast datagram to the QPN in the
 * request's sender hardware address.  A hardware address is 20 bytes:
 * flags (1), QPN (3) and GID (16).  Every IPoIB datagram starts with a
 * 4-byte header: the EtherType and two reserved bytes.
 *
 * The bridge joins the broadcast group with a QP of that Q_Key (its IPoIB
 * QP) and answers requests for the IPv4 addresses of RoCE hosts in its
 * address map with that QPN and a GID that reaches it: its own GID, or the
 * RoCE host's GID (::ffff:a.b.c.d), which the subnet administrator
 * resolves to the bridge's LID through a route (lib/ibport.h
 * ibb_port_route_add()), where the port receives such DGIDs (raw mode).
 * It never answers for IB hosts, whose own IPoIB stacks answer.
 */
#ifndef IBB_IPOIB_ARP_H
#define IBB_IPOIB_ARP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibb_addr_map;

/* IPoIB's Q_Key, as subnet managers set it for the broadcast group. */
#define IBB_IPOIB_QKEY 0x00000b1b

/* IPoIB header (4) + ARP for IPoIB (8 + 2 * (20 + 4)). */
#define IBB_IPOIB_ARP_LEN 60

enum ibb_ipoib_arp_op {
    IBB_IPOIB_ARP_REQUEST = 1,
    IBB_IPOIB_ARP_REPLY = 2,
};

/* An IPoIB hardware address. */
struct ibb_ipoib_hwaddr {
    uint8_t flags;              /* Bit 0x80: connected mode offered. */
    uint32_t qpn;               /* 24 bits. */
    uint8_t gid[16];
};

struct ibb_ipoib_arp {
    enum ibb_ipoib_arp_op op;
    struct ibb_ipoib_hwaddr sha; /* Sender. */
    uint8_t spa[16];            /* Sender IPv4, as ::ffff:a.b.c.d. */
    struct ibb_ipoib_hwaddr tha; /* Target (zero in a request). */
    uint8_t tpa[16];            /* Target IPv4, as ::ffff:a.b.c.d. */
};

/* Length of an IPoIB hardware address (and of an IPoIB neighbour's
 * link-layer address in the kernel). */
#define IBB_IPOIB_HWADDR_LEN 20

/* Reads an IPoIB hardware address from its 20 bytes at 'p'. */
void ibb_ipoib_hwaddr_parse(const uint8_t *p, struct ibb_ipoib_hwaddr *);

/* The MGID of partition 'pkey''s IPoIB broadcast group (the full-member
 * bit forced, link-local scope). */
void ibb_ipoib_bcast_mgid(uint16_t pkey, uint8_t mgid[16]);

/* Parses an IPoIB datagram's payload.  Returns 0; ENOENT if it is not ARP
 * (another EtherType); EINVAL if it is ARP but not IPv4-over-IB ARP of
 * the right lengths, or an operation other than request and reply. */
int ibb_ipoib_arp_parse(const uint8_t *payload, size_t len,
                        struct ibb_ipoib_arp *);

/* Writes 'arp' as an IPoIB datagram's payload (IBB_IPOIB_ARP_LEN bytes). */
void ibb_ipoib_arp_write(const struct ibb_ipoib_arp *, uint8_t *payload);

/* What the bridge answers with. */
struct ibb_ipoib_arp_self {
    uint32_t qpn;               /* Its IPoIB QP. */
    uint8_t gid[16];            /* Its port GID. */
    bool host_gids;             /* Answer with the RoCE host's GID. */
};

enum ibb_ipoib_arp_result {
    IBB_IPOIB_ARP_ANSWERED,     /* A request for a RoCE host: '*reply'. */
    IBB_IPOIB_ARP_NOT_ROCE,     /* A request for an address no RoCE host
                                 * of the map has. */
    IBB_IPOIB_ARP_IGNORED,      /* A reply or gratuitous ARP: nothing to
                                 * answer. */
};

/* Decides about request 'req' (parsed): for the IPv4 address of a RoCE
 * host in 'map' (one without a GID), fills '*reply' with the answer from
 * 'self' to the sender. */
enum ibb_ipoib_arp_result ibb_ipoib_arp_answer(
    const struct ibb_addr_map *, const struct ibb_ipoib_arp_self *,
    const struct ibb_ipoib_arp *req, struct ibb_ipoib_arp *reply);

/* Fills '*arp' with the bridge's announcement that it now stands for RoCE
 * host 'ip' (an IPv4-mapped address): a gratuitous request (RFC 5227
 * "ARP announcement": sender and target address both 'ip'), to go to the
 * broadcast group, so that IB hosts' IPoIB neighbours of 'ip' move to
 * 'self' (another bridge node had it). */
void ibb_ipoib_arp_announce(const struct ibb_ipoib_arp_self *,
                            const uint8_t ip[16], struct ibb_ipoib_arp *);

#endif /* ibb-ipoib-arp.h */
