/*
 * Reasons the converters refuse a packet.
 *
 * The converters (lib/ud-to-roce.h, lib/roce-to-ud.h) return one of these;
 * IBB_DROP_NONE (0) means the packet was converted.  Callers count drops per
 * reason: IBB_DROP_REASONS is an X-macro, so a counter table can be built
 * from the same list as the names, e.g.
 *
 *   #define X(ENUM, NAME, DESC) uint64_t NAME;
 *   struct drop_counters { IBB_DROP_REASONS };
 *   #undef X
 *
 * X(ENUM, NAME, DESCRIPTION): NAME is a short identifier usable as a
 * statistics key, DESCRIPTION a human-readable sentence fragment.
 */
#ifndef IBB_DROP_H
#define IBB_DROP_H 1

#define IBB_DROP_REASONS                                                    \
    X(NONE, "ok", "converted")                                              \
    X(TRUNCATED, "truncated", "packet shorter than its headers")            \
    X(NO_ROOM, "no_room", "buffer lacks headroom or tailroom")              \
    X(TOO_BIG, "too_big", "packet too long for an IB LRH")                  \
    /* Native IB. */                                                        \
    X(LRH_LVER, "lrh_lver", "LRH link version not 0")                       \
    X(LNH_RAW, "lnh_raw", "LRH LNH is raw")                                 \
    X(LNH_IP, "lnh_ip", "LRH LNH is IP non-IBA")                            \
    X(LRH_PKTLEN, "lrh_pktlen", "LRH PktLen disagrees with packet size")    \
    X(NO_GRH_UNMAPPED, "no_grh_unmapped",                                   \
      "no GRH and LIDs not in the address map")                             \
    X(GRH_IPVER, "grh_ipver", "GRH IPVer not 6")                            \
    X(GRH_NXTHDR, "grh_nxthdr", "GRH NxtHdr not 0x1B")                      \
    X(GRH_PAYLEN, "grh_paylen", "GRH PayLen disagrees with LRH PktLen")     \
    X(BAD_VCRC, "bad_vcrc", "bad VCRC")                                     \
    /* Transport, both directions. */                                       \
    X(BTH_TVER, "bth_tver", "BTH TVer not 0")                               \
    X(OPCODE, "opcode", "opcode not UD SEND_ONLY[_WITH_IMMEDIATE]")         \
    X(PADCNT, "padcnt", "PadCnt larger than the payload")                   \
    X(BAD_ICRC, "bad_icrc", "bad ICRC")                                     \
    X(HOP_LIMIT, "hop_limit", "hop limit exceeded")                         \
    /* Addressing. */                                                       \
    X(BAD_SRC_ADDR, "bad_src_addr",                                         \
      "source address no host may have")                                    \
    X(BAD_DST_ADDR, "bad_dst_addr", "IPv4-mapped destination in IPv6")      \
    X(SPOOFED_SRC, "spoofed_src", "source address of the other side")       \
    X(SRC_MISMATCH, "src_mismatch", "SLID and SGID disagree with the map")  \
    X(PKEY, "pkey", "P_Key not of the port's partition")                    \
    X(NO_SRC_IP, "no_src_ip", "no IP address for source GID")               \
    X(NO_DST_IP, "no_dst_ip", "no IP address for destination GID")          \
    X(NO_FAMILY, "no_family", "source and destination IP families differ")  \
    X(NO_DST_MAC, "no_dst_mac", "no MAC address for destination IP")        \
    X(NO_DST_GID, "no_dst_gid", "no IB GID and LID for destination IP")     \
    X(NO_GROUP, "no_group", "multicast group not in the address map")       \
    X(GROUP_JOINING, "group_joining", "multicast group not joined yet")     \
    X(NOT_OWNER, "not_owner", "another bridge node forwards the group")     \
    X(NO_PROXY, "no_proxy", "no proxy QP for the DestQP or the source")    \
    X(ETH_MTU, "eth_mtu", "frame larger than the Ethernet MTU")            \
    X(IB_MTU, "ib_mtu", "payload larger than the IB MTU")                  \
    /* Ethernet, IP, UDP. */                                                \
    X(ETH_TYPE, "eth_type", "EtherType not IPv4 or IPv6")                   \
    X(IP_VERSION, "ip_version", "IP version disagrees with EtherType")      \
    X(IPV4_OPTIONS, "ipv4_options", "IPv4 header with options")             \
    X(IPV4_FRAG, "ipv4_frag", "IPv4 fragment")                              \
    X(IPV4_CSUM, "ipv4_csum", "bad IPv4 header checksum")                   \
    X(IP_LEN, "ip_len", "IP length disagrees with frame size")              \
    X(IP_PROTO, "ip_proto", "IP protocol not UDP")                          \
    X(UDP_PORT, "udp_port", "UDP destination port not 4791")                \
    X(UDP_LEN, "udp_len", "UDP length disagrees with IP length")            \
    X(UDP_CSUM, "udp_csum", "bad UDP checksum")

enum ibb_drop {
#define X(ENUM, NAME, DESC) IBB_DROP_##ENUM,
    IBB_DROP_REASONS
#undef X
    IBB_DROP_N_REASONS
};

/* Returns the short name of 'reason' ("bad_icrc"), or "unknown". */
const char *ibb_drop_name(enum ibb_drop reason);

/* Returns the description of 'reason' ("bad ICRC"), or "unknown". */
const char *ibb_drop_desc(enum ibb_drop reason);

#endif /* ibb-drop.h */
