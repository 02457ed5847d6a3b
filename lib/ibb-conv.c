/*
 * Converter settings.
 */
#include <config.h>

#include "ibb-conv.h"

#include <string.h>

#include "ib-hdr.h"
#include "roce-hdr.h"

void
ibb_conv_config_init(struct ibb_conv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (int dscp = 0; dscp < 64; dscp++) {
        cfg->sl_map[dscp] = dscp >> 3;
    }
    memset(cfg->dscp_map, IBB_DSCP_KEEP, sizeof cfg->dscp_map);
    cfg->no_grh_hop_limit = 64;
    cfg->check_ib_icrc = true;
    cfg->check_vcrc = true;
    cfg->gen_ib_crcs = true;
    cfg->check_roce_icrc = true;
    cfg->udp_csum = IBB_UDP_CSUM_ALL;
    cfg->check_udp_csum = false;
}

const char *
ibb_udp_csum_name(enum ibb_udp_csum mode)
{
    switch (mode) {
    case IBB_UDP_CSUM_ALL:
        return "all";
    case IBB_UDP_CSUM_IPV6:
        return "ipv6";
    case IBB_UDP_CSUM_NONE:
        return "none";
    }
    return "?";
}

bool
ibb_udp_csum_from_string(const char *s, enum ibb_udp_csum *mode)
{
    static const enum ibb_udp_csum modes[] = {
        IBB_UDP_CSUM_ALL, IBB_UDP_CSUM_IPV6, IBB_UDP_CSUM_NONE,
    };

    for (size_t i = 0; s && i < sizeof modes / sizeof modes[0]; i++) {
        if (!strcmp(s, ibb_udp_csum_name(modes[i]))) {
            *mode = modes[i];
            return true;
        }
    }
    return false;
}

enum ibb_drop
ibb_conv_check_pkey(const struct ibb_conv_config *cfg, const uint8_t *bth)
{
    return (!cfg->pkey
            || ibb_pkey_match(ibb_bth_pkey((const struct ibb_bth *) bth),
                              cfg->pkey)
            ? IBB_DROP_NONE : IBB_DROP_PKEY);
}

enum ibb_drop
ibb_conv_check_transport(const uint8_t *bth_, size_t len)
{
    const struct ibb_bth *bth = (const struct ibb_bth *) bth_;
    const struct ibb_opcode_info *op;

    if (len < IBB_BTH_LEN + IBB_ICRC_LEN) {
        return IBB_DROP_TRUNCATED;
    }
    if (ibb_bth_tver(bth)) {
        return IBB_DROP_BTH_TVER;
    }
    if (!ibb_opcode_is_bridged(ibb_bth_opcode(bth))) {
        return IBB_DROP_OPCODE;
    }
    op = &ibb_opcode[ibb_bth_opcode(bth)];
    if (len < (size_t) op->length + IBB_ICRC_LEN) {
        return IBB_DROP_TRUNCATED;
    }
    if (len & 3 || ibb_bth_pad(bth) > len - op->length - IBB_ICRC_LEN) {
        return IBB_DROP_PADCNT;
    }
    return IBB_DROP_NONE;
}

size_t
ibb_conv_payload_len(const uint8_t *bth_, size_t len)
{
    const struct ibb_bth *bth = (const struct ibb_bth *) bth_;

    return (len - ibb_opcode[ibb_bth_opcode(bth)].length - IBB_ICRC_LEN
            - ibb_bth_pad(bth));
}

uint16_t
ibb_conv_ib_mtu_for_eth(unsigned int eth_mtu, uint16_t port_mtu)
{
    /* IPv6 + UDP + BTH + DETH + ImmDt + ICRC, and pad up to 3 bytes. */
    const unsigned int overhead = IBB_IPV6_LEN + IBB_UDP_LEN + IBB_BTH_LEN
                                  + IBB_DETH_LEN + IBB_IMMDT_LEN
                                  + IBB_ICRC_LEN + 3;
    uint16_t mtu;

    for (mtu = 4096; mtu > 256; mtu /= 2) {
        if (mtu <= port_mtu && (!eth_mtu || mtu + overhead <= eth_mtu)) {
            break;
        }
    }
    return mtu;
}
