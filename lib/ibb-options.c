#include <config.h>
#include "ibb-options.h"

#include "ib-gid.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns a malloc()ed string, or aborts if memory is exhausted (as OVS's
 * xasprintf() does: an option error is no reason to fail more softly). */
char *
ibb_xasprintf(const char *format, ...)
{
    va_list args;
    char *s;

    va_start(args, format);
    if (vasprintf(&s, format, args) < 0) {
        abort();
    }
    va_end(args);
    return s;
}

/* Parses all of 's' as a decimal or 0x-prefixed hexadecimal number no
 * larger than 'max'.  Unlike a bare strtoull(), rejects signs, blanks,
 * trailing garbage, a second "0x" prefix ("0x0x5") and overflow. */
bool
ibb_parse_uint(const char *s, unsigned long long max,
               unsigned long long *valuep)
{
    unsigned long long value;
    const char *p;
    char *end;
    int base = 10;

    if (!s || !isdigit((unsigned char) s[0])) {
        return false;
    }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }

    /* strtoull() itself would skip blanks, take a sign and, in base 16,
     * skip another "0x", so only hand it a string of digits. */
    if (!s[0]) {
        return false;
    }
    for (p = s; *p; p++) {
        if (base == 16
            ? !isxdigit((unsigned char) *p)
            : !isdigit((unsigned char) *p)) {
            return false;
        }
    }
    errno = 0;
    value = strtoull(s, &end, base);
    if (errno || *end || value > max) {
        return false;
    }
    *valuep = value;
    return true;
}

static int
parse_sim_device(const char *path, struct ibb_device_spec *spec, char **errp)
{
    if (!path[0]) {
        *errp = ibb_xasprintf("device \"sim:\" needs the path of the fabric "
                              "socket (sim:PATH)");
        return EINVAL;
    }
    spec->kind = IBB_DEVICE_SIM;
    spec->path = strdup(path);
    return spec->path ? 0 : ENOMEM;
}

static int
parse_verbs_device(const char *value, const char *rest,
                   struct ibb_device_spec *spec, char **errp)
{
    const char *colon = strchr(rest, ':');
    size_t len = colon ? (size_t) (colon - rest) : strlen(rest);
    unsigned long long port = IBB_VERBS_DEFAULT_PORT;
    size_t i;

    if (!len || len > 63) {
        goto bad;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = rest[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.') {
            goto bad;
        }
    }
    if (colon && (!ibb_parse_uint(colon + 1, 255, &port) || !port)) {
        *errp = ibb_xasprintf("device \"%s\": port must be a number from "
                              "1 to 255", value);
        return EINVAL;
    }
    spec->kind = IBB_DEVICE_VERBS;
    spec->ibdev = strndup(rest, len);
    spec->port = port;
    return spec->ibdev ? 0 : ENOMEM;

bad:
    *errp = ibb_xasprintf("device \"%s\": expected verbs:DEV[:PORT] with an "
                          "RDMA device name such as mlx5_0", value);
    return EINVAL;
}

/* Parses the "device" option: "sim:PATH" (a simulated fabric's socket) or
 * "verbs:DEV[:PORT]" (port PORT, default 1, of RDMA device DEV). */
int
ibb_parse_device(const char *value, struct ibb_device_spec *spec,
                 char **errp)
{
    memset(spec, 0, sizeof *spec);
    *errp = NULL;
    if (!value || !value[0]) {
        *errp = ibb_xasprintf("missing device option (device=sim:PATH or "
                              "device=verbs:DEV[:PORT])");
        return EINVAL;
    }
    if (!strncmp(value, "sim:", 4)) {
        return parse_sim_device(value + 4, spec, errp);
    } else if (!strncmp(value, "verbs:", 6)) {
        return parse_verbs_device(value, value + 6, spec, errp);
    }
    *errp = ibb_xasprintf("device \"%s\": unknown kind (expected sim:PATH "
                          "or verbs:DEV[:PORT])", value);
    return EINVAL;
}

void
ibb_device_spec_destroy(struct ibb_device_spec *spec)
{
    if (spec) {
        free(spec->path);
        free(spec->ibdev);
        memset(spec, 0, sizeof *spec);
    }
}

/* Returns the canonical text of 'spec', malloc()ed. */
char *
ibb_device_spec_to_string(const struct ibb_device_spec *spec)
{
    return (spec->kind == IBB_DEVICE_SIM
            ? ibb_xasprintf("sim:%s", spec->path)
            : ibb_xasprintf("verbs:%s:%u", spec->ibdev, spec->port));
}

/* Parses a P_Key.  Its low 15 bits name the partition and may not be 0
 * (0x0000 and 0x8000 are the invalid P_Keys); bit 15 is full membership. */
int
ibb_parse_pkey(const char *value, uint16_t *pkey, char **errp)
{
    unsigned long long v;

    *errp = NULL;
    if (!ibb_parse_uint(value, 0xffff, &v) || !(v & 0x7fff)) {
        *errp = ibb_xasprintf("pkey \"%s\": expected a P_Key from 0x0001 to "
                              "0xffff other than 0x8000", value ? value : "");
        return EINVAL;
    }
    *pkey = v;
    return 0;
}

/* Parses a Q_Key: any 32-bit value. */
int
ibb_parse_qkey(const char *value, uint32_t *qkey, char **errp)
{
    unsigned long long v;

    *errp = NULL;
    if (!ibb_parse_uint(value, 0xffffffffULL, &v)) {
        *errp = ibb_xasprintf("qkey \"%s\": expected a 32-bit Q_Key such as "
                              "0x01234567", value ? value : "");
        return EINVAL;
    }
    *qkey = v;
    return 0;
}

/* True if 's' is exactly "xx:xx:xx:xx:xx:xx" with hex digits x. */
static bool
is_mac_syntax(const char *s)
{
    if (!s || strlen(s) != 17) {
        return false;
    }
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char) s[i])) {
            return false;
        }
    }
    return true;
}

/* Parses the MAC the bridge shows for IB hosts: six colon-separated hex
 * bytes, unicast and not all zeros. */
int
ibb_parse_mac(const char *value, uint8_t mac[6], char **errp)
{
    unsigned int b[6];
    int i;

    *errp = NULL;
    if (!is_mac_syntax(value)
        || sscanf(value, "%2x:%2x:%2x:%2x:%2x:%2x",
                  &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
        *errp = ibb_xasprintf("mac \"%s\": expected an Ethernet address "
                              "like 02:00:00:00:00:01", value ? value : "");
        return EINVAL;
    }
    if (b[0] & 1) {
        *errp = ibb_xasprintf("mac \"%s\": must be a unicast address "
                              "(low bit of the first byte clear)", value);
        return EINVAL;
    }
    if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5])) {
        *errp = ibb_xasprintf("mac \"%s\": must not be all zeros", value);
        return EINVAL;
    }
    for (i = 0; i < 6; i++) {
        mac[i] = b[i];
    }
    return 0;
}

/* Parses an MGID format name: "ipoib", "rdma_cm" or "roce". */
int
ibb_parse_mgid_format(const char *value, enum ibb_mgid_format *format,
                      char **errp)
{
    *errp = NULL;
    if (!value || ibb_mgid_format_parse(value, format)) {
        *errp = ibb_xasprintf("mgid-format \"%s\": expected ipoib, rdma_cm "
                              "or roce", value ? value : "");
        return EINVAL;
    }
    return 0;
}

/* Parses one "GROUP[/FORMAT][/full|/send-only]" entry of 'len' bytes. */
static int
parse_mcast_group(const char *entry, size_t len,
                  enum ibb_mgid_format default_format,
                  struct ibb_mcast_group_spec *spec, char **errp)
{
    char *copy = strndup(entry, len);
    char *save = NULL;
    char *field;
    int error = 0;
    int i = 0;

    if (!copy) {
        return ENOMEM;
    }
    memset(spec, 0, sizeof *spec);
    spec->format = default_format;
    for (field = strtok_r(copy, "/", &save); field && !error;
         field = strtok_r(NULL, "/", &save), i++) {
        enum ibb_mgid_format format;

        if (i == 0) {
            if (ibb_gid_parse(field, spec->ip)
                || !ibb_ip_is_multicast(spec->ip)) {
                *errp = ibb_xasprintf("mcast-groups \"%s\": \"%s\" is not "
                                      "an IPv4 or IPv6 multicast group",
                                      copy, field);
                error = EINVAL;
            }
        } else if (!strcmp(field, "full")) {
            spec->send_only = false;
        } else if (!strcmp(field, "send-only")) {
            spec->send_only = true;
        } else if (!ibb_mgid_format_parse(field, &format)) {
            spec->format = format;
        } else {
            *errp = ibb_xasprintf("mcast-groups: unknown \"%s\" after a "
                                  "group (expected ipoib, rdma_cm, roce, full "
                                  "or send-only)", field);
            error = EINVAL;
        }
    }
    if (!error && i == 0) {
        *errp = ibb_xasprintf("mcast-groups: empty entry (expected "
                              "GROUP[/FORMAT][/full|send-only],...)");
        error = EINVAL;
    }
    free(copy);
    return error;
}

/* Parses the "mcast-groups" option: a comma-separated list of
 * "GROUP[/FORMAT][/full|send-only]", where GROUP is an IPv4 or IPv6
 * multicast group, FORMAT its MGID format ('default_format' if absent) and
 * the join full (default) or send-only.  An empty string is no group.  On
 * success the caller frees '*groupsp'. */
static int
compare_ips(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

int
ibb_parse_mcast_groups(const char *value,
                       enum ibb_mgid_format default_format,
                       struct ibb_mcast_group_spec **groupsp,
                       size_t *n_groupsp, char **errp)
{
    struct ibb_mcast_group_spec *groups = NULL;
    size_t n = 0, allocated = 0;
    const char *p = value ? value : "";
    uint8_t (*ips)[16];

    *errp = NULL;
    *groupsp = NULL;
    *n_groupsp = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        int error;

        if (n == allocated) {
            struct ibb_mcast_group_spec *g;

            allocated = allocated ? 2 * allocated : 16;
            g = realloc(groups, allocated * sizeof *groups);
            if (!g) {
                free(groups);
                return ENOMEM;
            }
            groups = g;
        }
        error = parse_mcast_group(p, len, default_format, &groups[n], errp);
        if (error) {
            free(groups);
            return error;
        }
        n++;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) {
                *errp = ibb_xasprintf("mcast-groups: trailing comma");
                free(groups);
                return EINVAL;
            }
        }
    }

    /* Duplicates, in O(n log n): 10,000 groups are a normal list. */
    ips = n ? malloc(n * sizeof *ips) : NULL;
    if (n && !ips) {
        free(groups);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(ips[i], groups[i].ip, 16);
    }
    if (n > 1) {
        qsort(ips, n, sizeof *ips, compare_ips);
    }
    for (size_t i = 1; i < n; i++) {
        if (!memcmp(ips[i - 1], ips[i], 16)) {
            char buf[IBB_GID_STRLEN];

            *errp = ibb_xasprintf("mcast-groups: group %s listed twice",
                                  ibb_gid_format(ips[i], buf, sizeof buf));
            free(ips);
            free(groups);
            return EINVAL;
        }
    }
    free(ips);
    *groupsp = groups;
    *n_groupsp = n;
    return 0;
}

/* Returns "GROUP/FORMAT/JOIN" for 'spec', malloc()ed. */
char *
ibb_mcast_group_spec_to_string(const struct ibb_mcast_group_spec *spec)
{
    char buf[IBB_GID_STRLEN];
    uint8_t v4[4];
    const char *ip = buf;

    if (ibb_gid_to_ipv4(spec->ip, v4)) {
        snprintf(buf, sizeof buf, "%u.%u.%u.%u", v4[0], v4[1], v4[2], v4[3]);
    } else {
        ip = ibb_gid_format(spec->ip, buf, sizeof buf);
    }
    return ibb_xasprintf("%s/%s/%s", ip, ibb_mgid_format_name(spec->format),
                         spec->send_only ? "send-only" : "full");
}

/* Parses 'value', comma-separated "KEY:VALUE" pairs with KEY 0..'max_key'
 * and VALUE 0..'max_value', each KEY at most once, into 'table' (which holds
 * the defaults on entry).  'name', 'key' and 'val' name the option and the
 * two sides in messages; 'example' shows a good value. */
static int
parse_pairs(const char *name, const char *key, const char *val,
            int max_key, int max_value, const char *example,
            const char *value, uint8_t table[], char **errp)
{
    bool seen[64] = { false };
    const char *p = value ? value : "";

    *errp = NULL;
    while (*p) {
        size_t len = strcspn(p, ",");
        unsigned long long k, v;
        char pair[32];
        char *colon;

        if (len >= sizeof pair) {
            goto bad;
        }
        memcpy(pair, p, len);
        pair[len] = '\0';
        colon = strchr(pair, ':');
        if (!colon) {
            goto bad;
        }
        *colon = '\0';
        if (!ibb_parse_uint(pair, max_key, &k)
            || !ibb_parse_uint(colon + 1, max_value, &v)) {
            goto bad;
        }
        if (seen[k]) {
            *errp = ibb_xasprintf("%s: %s %llu mapped twice", name, key, k);
            return EINVAL;
        }
        seen[k] = true;
        table[k] = v;
        p += len;
        if (*p == ',' && *++p == '\0') {
            goto bad;
        }
    }
    return 0;

bad:
    *errp = ibb_xasprintf("%s \"%s\": expected %s:%s pairs separated by "
                          "commas, %s 0-%d and %s 0-%d (e.g. %s)", name, value,
                          key, val, key, max_key, val, max_value, example);
    return EINVAL;
}

/* Parses the "sl-map" option into 'sl_map', which holds the defaults on
 * entry: comma-separated "DSCP:SL" pairs, DSCP 0..63 and SL 0..15, each
 * DSCP at most once. */
int
ibb_parse_sl_map(const char *value, uint8_t sl_map[64], char **errp)
{
    return parse_pairs("sl-map", "DSCP", "SL", 63, 15, "46:5,0:0", value,
                       sl_map, errp);
}

/* Parses the "dscp-map" option into 'dscp_map', which holds the defaults on
 * entry: comma-separated "SL:DSCP" pairs, SL 0..15 and DSCP 0..63, each SL
 * at most once. */
int
ibb_parse_dscp_map(const char *value, uint8_t dscp_map[16], char **errp)
{
    return parse_pairs("dscp-map", "SL", "DSCP", 15, 63, "5:46,0:0", value,
                       dscp_map, errp);
}

/* Parses a boolean option 'name': "true" or "false". */
int
ibb_parse_bool(const char *name, const char *value, bool *b, char **errp)
{
    *errp = NULL;
    if (value && !strcmp(value, "true")) {
        *b = true;
    } else if (value && !strcmp(value, "false")) {
        *b = false;
    } else {
        *errp = ibb_xasprintf("%s \"%s\": expected true or false", name,
                              value ? value : "");
        return EINVAL;
    }
    return 0;
}

int
ibb_parse_udp_csum(const char *value, enum ibb_udp_csum *mode, char **errp)
{
    *errp = NULL;
    if (!ibb_udp_csum_from_string(value, mode)) {
        *errp = ibb_xasprintf("udp-csum \"%s\": expected all, ipv6 or none",
                              value ? value : "");
        return EINVAL;
    }
    return 0;
}

/* Parses "gid-index": the port's GID table index, 0..255. */
int
ibb_parse_gid_index(const char *value, unsigned int *index, char **errp)
{
    unsigned long long v;

    *errp = NULL;
    if (!ibb_parse_uint(value, 255, &v)) {
        *errp = ibb_xasprintf("gid-index \"%s\": expected a number from 0 "
                              "to 255", value ? value : "");
        return EINVAL;
    }
    *index = v;
    return 0;
}

/* True if every address with prefix 'p' is an IP multicast group. */
static bool
prefix_is_mcast_range(const struct ibb_gid_prefix *p)
{
    if (ibb_gid_is_v4mapped(p->prefix)) {
        return p->plen >= 96 + 4 && (p->prefix[12] & 0xf0) == 0xe0;
    }
    return p->plen >= 8 && p->prefix[0] == 0xff;
}

/* Parses a list of unicast prefixes ('mcast' false) or of multicast
 * ranges, the value of option 'option'. */
static int
parse_prefix_list(const char *option, bool mcast, const char *value,
                  struct ibb_gid_prefix **prefixesp, size_t *np, char **errp)
{
    struct ibb_gid_prefix *prefixes = calloc(16, sizeof *prefixes);
    const char *p = value;
    size_t n = 0;

    *errp = NULL;
    *prefixesp = NULL;
    *np = 0;
    if (!prefixes) {
        return ENOMEM;
    }
    while (*p) {
        size_t len = strcspn(p, ",");
        char item[64];

        if (n == 16) {
            *errp = ibb_xasprintf("%s: more than 16 prefixes", option);
            goto error;
        }
        if (len >= sizeof item) {
            *errp = ibb_xasprintf("%s: \"%.*s...\": too long", option,
                                  20, p);
            goto error;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (ibb_gid_parse_prefix(item, prefixes[n].prefix, &prefixes[n].plen)
            || (mcast ? !prefix_is_mcast_range(&prefixes[n])
                      : ibb_gid_is_multicast(prefixes[n].prefix))) {
            *errp = (mcast
                     ? ibb_xasprintf("%s: \"%s\": expected a multicast "
                                     "range such as 239.1.0.0/16 or "
                                     "ff15::/16, with no bits set past its "
                                     "length", option, item)
                     : ibb_xasprintf("%s: \"%s\": expected a unicast GID "
                                     "prefix such as fd00::/64 or an IPv4 "
                                     "network such as 10.0.0.0/24, with no "
                                     "bits set past its length", option,
                                     item));
            goto error;
        }
        n++;
        p += strcspn(p, ",");
        if (*p == ',' && !*++p) {
            *errp = ibb_xasprintf("%s: trailing comma", option);
            goto error;
        }
    }
    *prefixesp = prefixes;
    *np = n;
    return 0;

error:
    free(prefixes);
    return EINVAL;
}

int
ibb_parse_roce_prefixes(const char *value, struct ibb_gid_prefix **prefixesp,
                        size_t *np, char **errp)
{
    return parse_prefix_list("roce-prefixes", false, value, prefixesp, np,
                             errp);
}

int
ibb_parse_mcast_ranges(const char *value, struct ibb_gid_prefix **rangesp,
                       size_t *np, char **errp)
{
    return parse_prefix_list("mcast-follow-groups", true, value, rangesp, np,
                             errp);
}
