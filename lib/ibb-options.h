/*
 * Parsing and validation of the ibbridge port options.
 *
 * Plain C, so that the netdev (vswitchd-plugin/) and the tools in
 * utilities/ share one reading of each option and one error text.  Each
 * parser returns 0 on success, or EINVAL and a malloc()ed message in
 * '*errp' that names the option and says what a good value looks like.
 */
#ifndef IBB_OPTIONS_H
#define IBB_OPTIONS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ib-mcast.h"
#include "ibb-conv.h"

/* Which backend an IB port is opened with. */
enum ibb_device_kind {
    IBB_DEVICE_SIM,             /* "sim:PATH": simulated fabric socket. */
    IBB_DEVICE_VERBS,           /* "verbs:DEV[:PORT]": an HCA port. */
};

/* A parsed "device" option. */
struct ibb_device_spec {
    enum ibb_device_kind kind;  /* Backend. */
    char *path;                 /* IBB_DEVICE_SIM: fabric socket path. */
    char *ibdev;                /* IBB_DEVICE_VERBS: device, e.g. mlx5_0. */
    unsigned int port;          /* IBB_DEVICE_VERBS: port, 1 by default. */
};

/* The defaults a port uses for an option that is not set. */
#define IBB_DEFAULT_PKEY 0xffff         /* Default partition, full member. */
#define IBB_DEFAULT_QKEY 0x01234567     /* rdma_cm's UDP port space Q_Key. */
#define IBB_VERBS_DEFAULT_PORT 1

int ibb_parse_device(const char *value, struct ibb_device_spec *,
                     char **errp);
void ibb_device_spec_destroy(struct ibb_device_spec *);
char *ibb_device_spec_to_string(const struct ibb_device_spec *);

int ibb_parse_pkey(const char *value, uint16_t *pkey, char **errp);
int ibb_parse_qkey(const char *value, uint32_t *qkey, char **errp);
int ibb_parse_mac(const char *value, uint8_t mac[6], char **errp);

/* One entry of the "mcast-groups" option: an IP multicast group whose IB
 * multicast group (MGID in 'format') the port joins at start. */
struct ibb_mcast_group_spec {
    uint8_t ip[16];                 /* IP group, IPv4 as ::ffff:a.b.c.d. */
    enum ibb_mgid_format format;    /* How the MGID derives from 'ip'. */
    bool send_only;                 /* Send-only non-member, not full. */
};

int ibb_parse_mgid_format(const char *value, enum ibb_mgid_format *,
                          char **errp);
int ibb_parse_mcast_groups(const char *value,
                           enum ibb_mgid_format default_format,
                           struct ibb_mcast_group_spec **groupsp,
                           size_t *n_groupsp, char **errp);
char *ibb_mcast_group_spec_to_string(const struct ibb_mcast_group_spec *);
/* One entry of "roce-prefixes": a GID prefix of RoCE hosts that the port
 * routes for on the IB side (lib/ibport.h ibb_port_route_add()). */
struct ibb_gid_prefix {
    uint8_t prefix[16];
    unsigned int plen;
};

/* The default: every IPv4 RoCE host's GID, ::ffff:0.0.0.0/96. */
#define IBB_DEFAULT_ROCE_PREFIXES "::ffff:0.0.0.0/96"

/* Parses a comma-separated list of prefixes (lib/ib-gid.h
 * ibb_gid_parse_prefix()); "" gives none.  At most 16. */
int ibb_parse_roce_prefixes(const char *value,
                            struct ibb_gid_prefix **prefixesp,
                            size_t *np, char **errp);

/* Parses "mcast-follow-groups": a comma-separated list of multicast
 * ranges, IPv4 (239.1.0.0/16) or IPv6 (ff15::/16); "" gives none.  At
 * most 16. */
int ibb_parse_mcast_ranges(const char *value, struct ibb_gid_prefix **rangesp,
                           size_t *np, char **errp);

int ibb_parse_sl_map(const char *value, uint8_t sl_map[64], char **errp);
int ibb_parse_dscp_map(const char *value, uint8_t dscp_map[16],
                       char **errp);
int ibb_parse_bool(const char *name, const char *value, bool *,
                   char **errp);
/* Parses "udp-csum": all, ipv6 or none (lib/ibb-conv.h). */
int ibb_parse_udp_csum(const char *value, enum ibb_udp_csum *mode,
                       char **errp);
int ibb_parse_gid_index(const char *value, unsigned int *index,
                        char **errp);

bool ibb_parse_uint(const char *s, unsigned long long max,
                    unsigned long long *valuep);
char *ibb_xasprintf(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

#endif /* ibb-options.h */
