/*
 * GID parsing, formatting and classification.
 */
#include <config.h>

#include "ib-gid.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
ibb_gid_parse(const char *s, uint8_t gid[16])
{
    uint8_t v4[4];

    if (inet_pton(AF_INET6, s, gid) == 1) {
        return 0;
    }
    if (inet_pton(AF_INET, s, v4) == 1) {
        ibb_gid_from_ipv4(gid, v4);
        return 0;
    }
    return EINVAL;
}

char *
ibb_gid_format(const uint8_t gid[16], char *buf, size_t size)
{
    if (!inet_ntop(AF_INET6, gid, buf, size) && size) {
        buf[0] = '\0';
    }
    return buf;
}






bool
ibb_gid_to_ipv4(const uint8_t gid[16], uint8_t ipv4[4])
{
    if (!ibb_gid_is_v4mapped(gid)) {
        return false;
    }
    memcpy(ipv4, gid + 12, 4);
    return true;
}


bool
ibb_ip_is_unspecified(const uint8_t ip[16])
{
    static const uint8_t zero4[4];

    return ibb_gid_is_zero(ip)
           || (ibb_gid_is_v4mapped(ip) && !memcmp(ip + 12, zero4, 4));
}


char *
ibb_ip_format(const uint8_t ip[16], char *buf, size_t size)
{
    if (ibb_gid_is_v4mapped(ip)) {
        snprintf(buf, size, "%u.%u.%u.%u", ip[12], ip[13], ip[14], ip[15]);
        return buf;
    }
    return ibb_gid_format(ip, buf, size);
}

bool
ibb_gid_in_prefix(const uint8_t gid[16], const uint8_t prefix[16],
                  unsigned int plen)
{
    unsigned int bytes = plen / 8, bits = plen % 8;

    return (!memcmp(gid, prefix, bytes)
            && (!bits
                || !((gid[bytes] ^ prefix[bytes]) & (0xff00 >> bits))));
}

int
ibb_gid_parse_prefix(const char *s, uint8_t prefix[16], unsigned int *plen)
{
    const char *slash = strchr(s, '/');
    char addr[IBB_GID_STRLEN];
    unsigned long len;
    char *end;

    if (!slash || slash == s || (size_t) (slash - s) >= sizeof addr
        || !isdigit((unsigned char) slash[1])) {
        return EINVAL;
    }
    memcpy(addr, s, slash - s);
    addr[slash - s] = '\0';
    errno = 0;
    len = strtoul(slash + 1, &end, 10);
    if (*end || errno || ibb_gid_parse(addr, prefix)) {
        return EINVAL;
    }
    if (!strchr(addr, ':')) {
        /* A dotted IPv4 network counts its length from the IPv4 part. */
        if (len > 32) {
            return EINVAL;
        }
        len += 96;
    }
    if (!len || len > 128) {
        return EINVAL;
    }
    for (unsigned int bit = len; bit < 128; bit++) {
        if (prefix[bit / 8] & (0x80 >> (bit % 8))) {
            return EINVAL;
        }
    }
    *plen = len;
    return 0;
}
