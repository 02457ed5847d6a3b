/*
 * IB UD -> RoCEv2: turn a native IB packet from the fabric into a RoCEv2
 * Ethernet frame, in place.
 *
 * Input: 'buf' holds LRH [GRH] BTH DETH [ImmDt] payload pad ICRC VCRC, with
 * at least IBB_CONV_HEADROOM bytes before it.  Output: Eth IPv4/IPv6 UDP
 * BTH DETH [ImmDt] payload pad ICRC (no FCS) in the same buffer, the
 * transport headers and payload untouched where they were; 'buf->ofs' and
 * 'buf->len' are updated.  On a drop the buffer is not modified.
 *
 * Checks, in order, each with its own reason (lib/ibb-drop.h): length, LRH
 * LVer and LNH, PktLen against the buffer, VCRC (cfg->check_vcrc), GRH
 * IPVer, NxtHdr and PayLen, BTH TVer, opcode, PadCnt, ICRC
 * (cfg->check_ib_icrc), hop limit, addresses.
 *
 * Mapping:
 *  - Addresses: an IPv4-mapped GID gives its IPv4 address directly; a GID
 *    found in the map gives the host's IPv4/IPv6 addresses; a GID with the
 *    bridge's subnet prefix that is not in the map has no IP (dropped);
 *    any other GID is an IPv6 address.  A multicast DGID is looked up in the
 *    map's groups.  IPv4 is used when both ends have an IPv4 address, else
 *    IPv6 when both have one, else the packet is dropped (no_family).
 *    Packets without a GRH are converted only if the map knows both the
 *    SLID and the DLID (an alias LID of the bridge for the RoCE host).
 *  - TClass -> IPv4 TOS / IPv6 traffic class, except that the DSCP comes
 *    from cfg->dscp_map[LRH SL] where that is not IBB_DSCP_KEEP; BTH FECN
 *    sets ECN to CE if the class is ECN-capable (ECT(0) or ECT(1)) and
 *    leaves a Not-ECT class alone (RFC 3168 reserves CE for ECN-capable
 *    transports).
 *  - Sources (the IB side speaks only for itself): an SGID that is the
 *    bridge's own GID or stands for a RoCE host's address in the map is
 *    spoofed_src; one the map knows with another LID than the SLID is
 *    src_mismatch; one whose IP no host may have (0/8, 127/8, 224/3, ::,
 *    ::1, ff00::/8) is bad_src_addr.
 *  - HopLmt -> TTL/hop limit, decremented as a router does: a packet
 *    arriving with HopLmt 0 or 1 would leave with 0 or less and is dropped
 *    (hop_limit).  Without a GRH the TTL is cfg->no_grh_hop_limit.
 *  - FlowLabel -> IPv6 flow label, and UDP source port by
 *    rdma_flow_label_to_udp_sport(); a zero flow label is first derived
 *    from the QPNs (rdma_calc_flow_label(SrcQP, DestQP)), so a flow keeps
 *    its port.
 *  - IPv4: IHL 5, DF, ID 0 (RFC 6864: atomic datagram).
 *  - UDP checksum: as cfg->udp_csum says (over IPv4 and IPv6 by
 *    default), else 0.
 *  - Ethernet: source cfg->bridge_mac; destination the host's MAC from the
 *    map, or the group's multicast MAC.
 *  - RoCEv2 ICRC computed fresh, sharing one CRC pass over BTH..pad with the
 *    check of the IB ICRC.
 */
#ifndef UD_TO_ROCE_H
#define UD_TO_ROCE_H 1

#include "ibb-conv.h"
#include "ibb-drop.h"

struct ibb_addr_map;

enum ibb_drop ibb_ud_to_roce(const struct ibb_conv_config *cfg,
                             const struct ibb_addr_map *map,
                             struct ibb_buf *buf);

#endif /* ud-to-roce.h */
