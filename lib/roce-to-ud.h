/*
 * RoCEv2 -> IB UD: turn a RoCEv2 Ethernet frame into a native IB packet for
 * the fabric, in place.
 *
 * Input: 'buf' holds Eth [802.1Q] IPv4/IPv6 UDP BTH DETH [ImmDt] payload pad
 * ICRC [Ethernet padding] (no FCS), with IBB_CONV_HEADROOM bytes before it
 * and IBB_CONV_TAILROOM after it.  Output: LRH GRH BTH DETH [ImmDt] payload
 * pad ICRC VCRC in the same buffer, transport headers and payload untouched
 * (except BTH FECN, see below); 'buf->ofs' and 'buf->len' are updated.  On
 * a drop the buffer is not modified.
 *
 * Checks, in order, each with its own reason (lib/ibb-drop.h): Ethernet
 * type (one 802.1Q tag allowed), IP version, IPv4 options, fragments and
 * header checksum, IP lengths, protocol, UDP port and length, BTH TVer,
 * opcode, PadCnt, UDP checksum (cfg->check_udp_csum, nonzero checksums
 * only), RoCEv2 ICRC (cfg->check_roce_icrc), TTL, addresses.
 *
 * Mapping:
 *  - GRH SGID = the source IP's GID (::ffff:a.b.c.d or the IPv6 address),
 *    or with proxy QPs (cfg->proxies) the bridge's GID, and DETH SrcQP
 *    the endpoint's proxy QPN.
 *  - Sources (the Ethernet side speaks only for itself): an address no
 *    host may have (0/8, 127/8, 224/3, ::, ::1, ff00::/8) or an
 *    IPv4-mapped one in an IPv6 header is bad_src_addr (an IPv4-mapped
 *    destination there, bad_dst_addr); one with the IB subnet prefix (the
 *    bridge GID's upper 64 bits) or that the map gives to an IB host is
 *    spoofed_src.
 *  - Unicast destination: the map's host for the IP gives DGID (its GID)
 *    and DLID (its LID); both are needed.
 *  - Multicast destination: the map's group for the IP gives DGID (its
 *    MGID, in the group's format) and DLID (its MLID).
 *  - LRH: VL 0, LVer 0, SL = cfg->sl_map[DSCP], LNH 3 (GRH), SLID =
 *    cfg->bridge_lid, PktLen from the length.
 *  - GRH: TClass = IPv4 TOS / IPv6 traffic class, FlowLabel = IPv6 flow
 *    label (0 for IPv4), HopLmt = TTL/hop limit - 1 (TTL 0 or 1 is
 *    dropped), PayLen, NxtHdr 0x1B.
 *  - IP ECN CE sets BTH FECN (the ICRC masks it).
 *  - IB ICRC and VCRC computed if cfg->gen_ib_crcs, the ICRC from the same
 *    CRC pass over BTH..pad that checks the RoCEv2 ICRC.
 */
#ifndef ROCE_TO_UD_H
#define ROCE_TO_UD_H 1

#include "ibb-conv.h"
#include "ibb-drop.h"

struct ibb_addr_map;

enum ibb_drop ibb_roce_to_ud(const struct ibb_conv_config *cfg,
                             const struct ibb_addr_map *map,
                             struct ibb_buf *buf);

/* Reads the source IP (lib/ib-gid.h form) and source MAC of the Ethernet
 * frame 'frame' of 'len' bytes, before ibb_roce_to_ud() converts it in
 * place.  Reads offsets only, without checking the frame: what it stores
 * is meaningful only if ibb_roce_to_ud() then accepts the frame.  Returns
 * false if the frame cannot be a RoCEv2 frame (too short, not IP). */
bool ibb_roce_source(const uint8_t *frame, size_t len, uint8_t ip[16],
                     uint8_t mac[6]);

#endif /* roce-to-ud.h */
