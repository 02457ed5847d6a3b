/*
 * Neighbour responder: the bridge answers, on the Ethernet side, ARP
 * requests (RFC 826) and IPv6 neighbour solicitations (RFC 4861) for the
 * IP addresses of IB hosts with its own MAC, as a proxy-ARP router does
 * for hosts behind it.  RoCE hosts then reach IB hosts with their normal
 * stacks, with no static neighbour entries.
 *
 * The responder only answers what OpenFlow delivers to the ibbridge port;
 * which requests reach it (all, none, some VLANs) stays OpenFlow's choice.
 * It answers only for hosts the address map gives a GID (IB hosts), never
 * for RoCE hosts, whose own stacks answer.
 *
 * ARP: Ethernet/IPv4 requests (htype 1, ptype 0x0800, op 1) whose target
 * is an IB host's IPv4 address get a reply from the bridge MAC to the
 * sender's hardware address.  Gratuitous ARP (sender IP = target IP) is
 * not answered; ARP probes (sender IP 0.0.0.0, RFC 5227) are.
 * ND: neighbour solicitations (ICMPv6 type 135, hop limit 255, valid
 * checksum and options) whose target is an IB host's IPv6 address get a
 * neighbour advertisement with the bridge MAC as target link-layer address,
 * Solicited set, Router clear and Override clear (RFC 4861 7.2.8, a proxy's
 * advertisement), to the solicitation's source or, for duplicate address
 * detection (source ::), to all nodes (ff02::1) without Solicited.
 * An 802.1Q tag on a request is kept on its answer.
 */
#ifndef IBB_NEIGH_H
#define IBB_NEIGH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibb_addr_map;

/* The largest answer: Ethernet, 802.1Q, IPv6, NA with one option. */
#define IBB_NEIGH_REPLY_MAX (14 + 4 + 40 + 24 + 8)

enum ibb_neigh_result {
    IBB_NEIGH_NOT_NEIGH,        /* Not ARP or IPv6 ND: for the converter. */
    IBB_NEIGH_ANSWERED_ARP,     /* ARP request answered: see 'reply'. */
    IBB_NEIGH_ANSWERED_ND,      /* Solicitation answered: see 'reply'. */
    IBB_NEIGH_NOT_IB_HOST,      /* A request for an address no IB host has. */
    IBB_NEIGH_NOT_OWNER,        /* For an IB host another bridge node
                                 * answers for (ibb_neigh_answer_for()). */
    IBB_NEIGH_IGNORED,          /* ARP or ND that asks nothing of us (a
                                 * reply, a gratuitous ARP, a router
                                 * solicitation...). */
    IBB_NEIGH_MALFORMED,        /* Bad ARP or ND (lengths, hop limit,
                                 * checksum, options). */
};

/* Looks at the Ethernet frame 'frame' of 'len' bytes.  If it is an ARP
 * request or neighbour solicitation for an IB host in 'map', writes the
 * answer, from 'mac', into 'reply' (IBB_NEIGH_REPLY_MAX bytes) and its
 * length into '*reply_len'. */
enum ibb_neigh_result ibb_neigh_answer(const struct ibb_addr_map *map,
                                       const uint8_t mac[6],
                                       const uint8_t *frame, size_t len,
                                       uint8_t *reply, size_t *reply_len);

/* The same, for one of several bridge nodes on one Ethernet segment: it
 * answers only for the IB hosts 'mine' (if nonnull) accepts, and returns
 * IBB_NEIGH_NOT_OWNER for the others, which another node answers for. */
enum ibb_neigh_result ibb_neigh_answer_for(
    const struct ibb_addr_map *map, const uint8_t mac[6],
    bool (*mine)(const uint8_t ip[16]), const uint8_t *frame, size_t len,
    uint8_t *reply, size_t *reply_len);

/* The sender of ARP or ND frame 'frame' ('len' bytes), which the bridge
 * learns from (a RoCE host's own word on its MAC): the sender of an
 * Ethernet/IPv4 ARP request, reply or announcement (not a probe, from
 * 0.0.0.0), or the source of a neighbour solicitation with a source
 * link-layer address option, when that hardware address is the frame's
 * Ethernet source.  Call it for frames ibb_neigh_answer() did not find
 * malformed.  Returns true and fills 'ip' and 'mac', or returns false. */
bool ibb_neigh_sender(const uint8_t *frame, size_t len, uint8_t ip[16],
                      uint8_t mac[6]);

/* Announcements, for IB hosts as they appear: a gratuitous ARP (a request
 * from and for 'ip', RFC 5227 "ARP announcement", to broadcast) for an
 * IPv4 address, or an unsolicited neighbour advertisement to all nodes
 * (Override set, so that caches holding another address for 'ip' take
 * the bridge's) for an IPv6 one, from 'mac'.  Writes the frame into
 * 'frame' (IBB_NEIGH_REPLY_MAX bytes) and returns its length. */
size_t ibb_neigh_announce(const uint8_t mac[6], const uint8_t ip[16],
                          uint8_t *frame);

#endif /* ibb-neigh.h */
