/*
 * Settings and buffer shared by the two converters (lib/ud-to-roce.h,
 * lib/roce-to-ud.h).
 */
#ifndef IBB_CONV_H
#define IBB_CONV_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibb-drop.h"

struct ibb_group;

struct ibb_proxy_table;
struct ibb_flow_cache;

/* Room the converters need around a packet: IB -> RoCEv2/IPv6 grows the
 * headers by up to 54 bytes (an 8-byte LRH without GRH -> 62), RoCEv2/IPv4
 * -> IB by 6 (42 -> 48) and adds the 2-byte VCRC at the end. */
#define IBB_CONV_HEADROOM 56
#define IBB_CONV_TAILROOM 2

/* dscp_map[] entry: the DSCP comes from the GRH traffic class. */
#define IBB_DSCP_KEEP 0xff

/* Which RoCEv2 frames IB -> RoCEv2 gives a UDP checksum; the others carry
 * 0.  The RoCEv2 annex (IBA Vol 1 Annex A17) lets a sender leave it 0,
 * since the ICRC covers the packet, and HCAs do; but a Linux UDP socket
 * drops a zero checksum over IPv6 (RFC 8200) unless it sets
 * UDP_NO_CHECK6_RX, while IPv4 accepts 0 as "none". */
enum ibb_udp_csum {
    IBB_UDP_CSUM_ALL,           /* IPv4 and IPv6 (the default). */
    IBB_UDP_CSUM_IPV6,          /* IPv6 only; 0 over IPv4. */
    IBB_UDP_CSUM_NONE,          /* Never: always 0, as HCAs send. */
};

/* "all", "ipv6" or "none". */
const char *ibb_udp_csum_name(enum ibb_udp_csum);

/* Parses "all", "ipv6" or "none" into '*mode'.  Returns false if 's' is
 * none of them. */
bool ibb_udp_csum_from_string(const char *s, enum ibb_udp_csum *mode);

struct ibb_conv_config {
    uint8_t bridge_mac[6];      /* Ethernet source of RoCEv2 frames. */
    uint16_t bridge_lid;        /* SLID of the IB packets the bridge
                                 * sends. */
    uint8_t bridge_gid[16];     /* The bridge port's GID.  Its upper 64
                                 * bits are the IB subnet prefix: a GID
                                 * with this prefix is native and converts
                                 * to an IP only through the map. */
    uint8_t sl_map[64];         /* LRH SL for each IP DSCP value. */
    uint8_t dscp_map[16];       /* IP DSCP for each LRH SL, or
                                 * IBB_DSCP_KEEP to keep the GRH's traffic
                                 * class (IB -> RoCEv2). */
    uint8_t no_grh_hop_limit;   /* TTL/hop limit for IB packets without a
                                 * GRH (default 64). */
    bool check_ib_icrc;         /* Drop IB packets with a bad ICRC
                                 * (default true). */
    bool check_vcrc;            /* Drop IB packets with a bad VCRC
                                 * (default true). */
    bool gen_ib_crcs;           /* Write the ICRC and VCRC of IB packets
                                 * (default true); false leaves them 0 for
                                 * an HCA that computes them. */
    bool check_roce_icrc;       /* Drop RoCEv2 frames with a bad ICRC
                                 * (default true). */
    enum ibb_udp_csum udp_csum; /* Which RoCEv2 frames get a UDP checksum
                                 * (default IBB_UDP_CSUM_ALL). */
    bool check_udp_csum;        /* Drop RoCEv2 frames whose nonzero UDP
                                 * checksum is wrong (default false: the
                                 * ICRC already covers the payload). */
    uint16_t pkey;              /* The port's P_Key: only datagrams of its
                                 * partition cross, either way (0, the
                                 * default: no check). */
    uint16_t eth_mtu;           /* Largest IP packet toward Ethernet, as an
                                 * interface MTU (0, the default: no
                                 * check); larger ones are eth_mtu drops. */
    uint16_t ib_mtu;            /* Largest IB payload toward IB, the port's
                                 * MTU (0, the default: no check); larger
                                 * ones are ib_mtu drops. */
    struct ibb_proxy_table *proxies;  /* Unicast through proxy QPs
                                 * (lib/ibb-proxy.h), as on an HCA, or
                                 * NULL (default) for direct addressing:
                                 * IB hosts send to a RoCE host's own QPN
                                 * and IP-derived GID (raw-mode ports). */
    struct ibb_flow_cache *flows; /* Where both converters keep what they
                                 * resolved for recent flows
                                 * (lib/ibb-flow-cache.h), or NULL
                                 * (default) to look every packet up. */
};

/* Fills 'cfg' with the defaults above, a zero MAC, LID and GID (callers
 * set those), an SL map of SL = DSCP >> 3 (class selector) and a DSCP map
 * that keeps every traffic class. */
void ibb_conv_config_init(struct ibb_conv_config *cfg);

/* A packet in a buffer, with room around it ('ofs' + 'len' <= 'size').
 * The converters move 'ofs' and change 'len'; 'base' and 'size' do not
 * change. */
struct ibb_buf {
    uint8_t *base;              /* Start of the buffer. */
    size_t size;                /* Bytes at 'base'. */
    size_t ofs;                 /* Offset of the packet's first byte. */
    size_t len;                 /* Packet length. */
    const struct ibb_group *group; /* Set by the converters: the map's
                                 * entry of the multicast group the packet
                                 * went to, else NULL. */
};

static inline uint8_t *
ibb_buf_data(const struct ibb_buf *b)
{
    return b->base + b->ofs;
}

/* Checks the transport headers at 'bth', 'len' bytes from the BTH through
 * the ICRC: TVer, opcode (UD SEND only), room for DETH/ImmDt and ICRC, and
 * PadCnt.  Both converters use it.  Returns IBB_DROP_NONE or a reason. */
enum ibb_drop ibb_conv_check_transport(const uint8_t *bth, size_t len);

/* The payload length (what an IB MTU bounds) of transport part 'bth' of
 * 'len' bytes (BTH through ICRC) that ibb_conv_check_transport() passed. */
size_t ibb_conv_payload_len(const uint8_t *bth, size_t len);

/* The largest IB MTU (256..4096, at most 'port_mtu') whose datagrams,
 * carried as RoCEv2 over IPv6 with immediate data, fit an Ethernet MTU of
 * 'eth_mtu' (L3 bytes; 0 = no limit): the path MTU the bridge gives IB
 * hosts for RoCE hosts.  256 if even that does not fit. */
uint16_t ibb_conv_ib_mtu_for_eth(unsigned int eth_mtu, uint16_t port_mtu);

/* Checks that the BTH P_Key at 'bth' may talk to cfg->pkey (same
 * partition, not both limited members).  Returns IBB_DROP_NONE or
 * IBB_DROP_PKEY. */
enum ibb_drop ibb_conv_check_pkey(const struct ibb_conv_config *cfg,
                                  const uint8_t *bth);

#endif /* ibb-conv.h */
