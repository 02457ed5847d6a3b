/*
 * IP multicast group <-> MGID and Ethernet MAC mappings.
 */
#include <config.h>

#include "ib-mcast.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "ib-gid.h"

int
ibb_mcast_ip_to_mgid(enum ibb_mgid_format format, const uint8_t ip[16],
                     uint16_t pkey, uint8_t scope, uint8_t mgid[16])
{
    bool v4 = ibb_gid_is_v4mapped(ip);

    if (!ibb_ip_is_multicast(ip) || scope > 15) {
        return EINVAL;
    }
    switch (format) {
    case IBB_MGID_IPOIB:
    case IBB_MGID_RDMA_CM:
        pkey |= 0x8000;
        memset(mgid, 0, 16);
        mgid[0] = 0xff;
        mgid[1] = 0x10 | scope;
        mgid[2] = v4 ? 0x40 : 0x60;
        mgid[3] = format == IBB_MGID_IPOIB ? 0x1b : 0x01;
        mgid[4] = pkey >> 8;
        mgid[5] = pkey;
        if (v4) {
            memcpy(mgid + 12, ip + 12, 4);
            mgid[12] &= 0x0f;
        } else {
            memcpy(mgid + 6, ip + 6, 10);
        }
        return 0;

    case IBB_MGID_ROCE:
        memcpy(mgid, ip, 16);
        return 0;

    default:
        return EINVAL;
    }
}

int
ibb_mcast_mgid_to_ipv4(const uint8_t mgid[16], uint8_t ip[16],
                       uint16_t *pkey)
{
    static const uint8_t zero[6];
    uint8_t v4[4];

    if (mgid[0] != 0xff || (mgid[1] & 0xf0) != 0x10 || mgid[2] != 0x40
        || (mgid[3] != 0x1b && mgid[3] != 0x01)
        || memcmp(mgid + 6, zero, 6) || mgid[12] & 0xf0) {
        return EINVAL;
    }
    v4[0] = 0xe0 | mgid[12];
    memcpy(v4 + 1, mgid + 13, 3);
    ibb_gid_from_ipv4(ip, v4);
    *pkey = ((mgid[4] << 8) | mgid[5]) | 0x8000;
    return 0;
}

int
ibb_mcast_ip_to_mac(const uint8_t ip[16], uint8_t mac[6])
{
    if (!ibb_ip_is_multicast(ip)) {
        return EINVAL;
    }
    if (ibb_gid_is_v4mapped(ip)) {
        mac[0] = 0x01;
        mac[1] = 0x00;
        mac[2] = 0x5e;
        mac[3] = ip[13] & 0x7f;
        mac[4] = ip[14];
        mac[5] = ip[15];
    } else {
        mac[0] = 0x33;
        mac[1] = 0x33;
        memcpy(mac + 2, ip + 12, 4);
    }
    return 0;
}

static const char *const format_names[] = {
    [IBB_MGID_IPOIB] = "ipoib",
    [IBB_MGID_RDMA_CM] = "rdma_cm",
    [IBB_MGID_ROCE] = "roce",
};

int
ibb_mgid_format_parse(const char *s, enum ibb_mgid_format *format)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0];
         i++) {
        if (!strcmp(s, format_names[i])) {
            *format = i;
            return 0;
        }
    }
    return EINVAL;
}

const char *
ibb_mgid_format_name(enum ibb_mgid_format format)
{
    return (unsigned) format < sizeof format_names / sizeof format_names[0]
           ? format_names[format] : "unknown";
}
