/*
 * libFuzzer target: every option parser (lib/ibb-options.h) on the same
 * input string.  Properties: no crash or leak; a value taken is in range,
 * and an error always comes with a message.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "ibb-options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(COND) do { if (!(COND)) { abort(); } } while (0)

/* An error needs a message; success needs none. */
static void
check_err(int error, char *err)
{
    CHECK(!error == !err);
    free(err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    struct ibb_device_spec dev;
    struct ibb_mcast_group_spec *groups;
    enum ibb_mgid_format fmt;
    enum ibb_udp_csum udp_csum;
    uint8_t mac[6], sl_map[64], dscp_map[16];
    unsigned long long u;
    unsigned int index;
    size_t n_groups;
    uint16_t pkey;
    uint32_t qkey;
    char *err;
    bool b;
    int error;

    memcpy(s, data, size);
    s[size] = '\0';

    err = NULL;
    error = ibb_parse_device(s, &dev, &err);
    if (!error) {
        char *str = ibb_device_spec_to_string(&dev);

        CHECK(dev.kind != IBB_DEVICE_VERBS || (dev.port >= 1
                                               && dev.port <= 255));
        free(str);
        ibb_device_spec_destroy(&dev);
    }
    check_err(error, err);

    err = NULL;
    error = ibb_parse_pkey(s, &pkey, &err);
    CHECK(error || (pkey && pkey != 0x8000));
    check_err(error, err);

    err = NULL;
    check_err(ibb_parse_qkey(s, &qkey, &err), err);

    err = NULL;
    error = ibb_parse_mac(s, mac, &err);
    CHECK(error || !(mac[0] & 1));
    check_err(error, err);

    err = NULL;
    check_err(ibb_parse_mgid_format(s, &fmt, &err), err);

    err = NULL;
    groups = NULL;
    error = ibb_parse_mcast_groups(s, IBB_MGID_IPOIB, &groups, &n_groups,
                                   &err);
    if (!error) {
        for (size_t i = 0; i < n_groups; i++) {
            free(ibb_mcast_group_spec_to_string(&groups[i]));
        }
    }
    free(groups);
    check_err(error, err);

    err = NULL;
    memset(sl_map, 0, sizeof sl_map);
    error = ibb_parse_sl_map(s, sl_map, &err);
    for (int i = 0; !error && i < 64; i++) {
        CHECK(sl_map[i] < 16);
    }
    check_err(error, err);

    err = NULL;
    memset(dscp_map, 0xff, sizeof dscp_map);
    error = ibb_parse_dscp_map(s, dscp_map, &err);
    for (int i = 0; !error && i < 16; i++) {
        CHECK(dscp_map[i] < 64 || dscp_map[i] == 0xff);
    }
    check_err(error, err);

    err = NULL;
    check_err(ibb_parse_bool("x", s, &b, &err), err);

    err = NULL;
    error = ibb_parse_udp_csum(s, &udp_csum, &err);
    CHECK(error || !strcmp(ibb_udp_csum_name(udp_csum), s));
    check_err(error, err);

    err = NULL;
    error = ibb_parse_gid_index(s, &index, &err);
    CHECK(error || index <= 255);
    check_err(error, err);

    CHECK(!ibb_parse_uint(s, 1000, &u) || u <= 1000);
    free(s);
    return 0;
}
