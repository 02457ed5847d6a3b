/*
 * Multicast mappings: IP group <-> MGID, IP group -> Ethernet MAC.
 *
 * Reference: shared/docs/ib-roce-wire-format.md section 5.  IP groups use
 * the 16-byte form of lib/ib-gid.h (IPv4 as ::ffff:a.b.c.d).
 *
 * MGID formats (S = scope nibble, PPPP = P_Key with the full-member bit
 * 0x8000 forced, as IPoIB's broadcast address has it):
 *
 *   IBB_MGID_IPOIB     IPv4  ff1S:401b:PPPP:0000:0000:0000:gggg:gggg
 *                            (g = low 28 bits of the group; linux
 *                            ip_ib_mc_map)
 *                      IPv6  ff1S:601b:PPPP: + group bytes 6-15
 *                            (ipv6_ib_mc_map)
 *   IBB_MGID_RDMA_CM   as IPoIB with 0x4001 / 0x6001 (rdma_cm RDMA_PS_UDP
 *                      on an IB link, cma_set_mgid)
 *   IBB_MGID_ROCE      IPv4  ::ffff:a.b.c.d; IPv6 the group itself
 *                      (cma_iboe_set_mgid, RoCEv2 GID)
 *
 * The IPoIB and rdma_cm formats keep only part of an IPv4/IPv6 group, so an
 * MGID maps back to a group only through the group table of the address map
 * (lib/addr-map.h).
 *
 * Ethernet: IPv4 01:00:5e + low 23 bits; IPv6 33:33 + low 32 bits.
 */
#ifndef IB_MCAST_H
#define IB_MCAST_H 1

#include <stdint.h>

enum ibb_mgid_format {
    IBB_MGID_IPOIB,             /* ff1S:401b / ff1S:601b. */
    IBB_MGID_RDMA_CM,           /* ff1S:4001 / ff1S:6001. */
    IBB_MGID_ROCE,              /* ::ffff:a.b.c.d / the IPv6 group. */
};

/* Default scope nibble: link-local. */
#define IBB_MCAST_SCOPE_LINK 2

/* Computes the MGID of IP multicast group 'ip' in 'format'.  Returns 0, or
 * EINVAL if 'ip' is not multicast, 'scope' > 15 or 'format' unknown. */
int ibb_mcast_ip_to_mgid(enum ibb_mgid_format format, const uint8_t ip[16],
                         uint16_t pkey, uint8_t scope, uint8_t mgid[16]);

/* The reverse for the formats that keep a whole IPv4 group: an IPoIB or
 * rdma_cm MGID of an IPv4 group (ff1S:401b:PKEY::0GGG:GGGG or
 * ff1S:4001:..., the group's low 28 bits; IPv4 groups are 224/4, so
 * nothing is lost) gives the group in 'ip' and the P_Key (with the full
 * membership bit) in '*pkey'.  Returns 0, or EINVAL for any other MGID
 * (IPv6 formats keep only 80 of the group's 128 bits). */
int ibb_mcast_mgid_to_ipv4(const uint8_t mgid[16], uint8_t ip[16],
                           uint16_t *pkey);

/* Computes the Ethernet MAC of IP multicast group 'ip'.  Returns 0 or
 * EINVAL if 'ip' is not multicast. */
int ibb_mcast_ip_to_mac(const uint8_t ip[16], uint8_t mac[6]);

/* Parses "ipoib", "rdma_cm" or "roce".  Returns 0 or EINVAL. */
int ibb_mgid_format_parse(const char *s, enum ibb_mgid_format *format);
const char *ibb_mgid_format_name(enum ibb_mgid_format format);

#endif /* ib-mcast.h */
