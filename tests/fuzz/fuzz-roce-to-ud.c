/*
 * libFuzzer target: RoCEv2 frame -> IB packet (lib/roce-to-ud.c), with CRC
 * and checksum checks on and off, direct or through proxy QPs.
 *
 * Input: one selector byte (the configuration, fuzz_config()), then the
 * Ethernet frame.  Properties: a dropped frame's buffer is untouched; an
 * IB packet made is well formed with the right ICRC and VCRC (reference
 * code), its SGID is the bridge's (through a proxy) or the frame's source,
 * which follows the trust rules; its transport bytes are the frame's
 * (SrcQP the proxy's); converted back to RoCEv2 where the addresses allow,
 * it keeps opcode, P_Key, DestQP, Q_Key, SrcQP and payload.
 */
#include <config.h>

#include "fuzz-common.h"
#include "ibb-neigh.h"
#include "roce-to-ud.h"
#include "ud-to-roce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *env = fuzz_env();
    struct ibb_conv_config cfg, back;
    const struct ibb_host *h;
    struct ibb_buf buf;
    const uint8_t *p;
    uint8_t *pkt, sip[16], sip2[16];
    size_t tlen;

    if (size < 1 || size - 1 > 8192) {
        return 0;
    }
    fuzz_config(&cfg, data[0], env);
    data++;
    size--;

    /* The port asks the ARP/ND responder first, as netdev-ibbridge does. */
    {
        uint8_t reply[IBB_NEIGH_REPLY_MAX];
        size_t reply_len = 0;

        switch (ibb_neigh_answer(env->map, cfg.bridge_mac, data, size, reply,
                                 &reply_len)) {
        case IBB_NEIGH_ANSWERED_ARP:
        case IBB_NEIGH_ANSWERED_ND:
            FUZZ_CHECK(reply_len >= 60 && reply_len <= sizeof reply);
            return 0;
        case IBB_NEIGH_NOT_NEIGH:
            break;
        default:
            return 0;
        }
    }

    memset(env->buf, 0x5a, FUZZ_BUF_SIZE);
    memcpy(env->buf + IBB_CONV_HEADROOM, data, size);
    buf = (struct ibb_buf) { env->buf, FUZZ_BUF_SIZE, IBB_CONV_HEADROOM,
                             size, NULL };
    if (ibb_roce_to_ud(&cfg, env->map, &buf) != IBB_DROP_NONE) {
        struct ibb_proxy_endpoint ep;
        uint32_t qkey;

        FUZZ_CHECK(buf.ofs == IBB_CONV_HEADROOM && buf.len == size);
        FUZZ_CHECK(!memcmp(env->buf + IBB_CONV_HEADROOM, data, size));
        ibb_proxy_take_missing(env->proxies, &ep, &qkey);
        return 0;
    }
    p = ibb_buf_data(&buf);
    fuzz_check_ib_packet(p, buf.len);
    tlen = buf.len - 48 - 2;
    if (cfg.proxies) {
        FUZZ_CHECK(!memcmp(p + 8 + 8, cfg.bridge_gid, 16));
        FUZZ_CHECK(!memcmp(p + 48 + 12 + 5, "\x00\x02\x00", 3));
    } else {
        memcpy(sip, p + 8 + 8, 16);
        FUZZ_CHECK(!ibb_ip_is_bad_source(sip));
        FUZZ_CHECK(!ibb_gid_same_prefix(sip, cfg.bridge_gid)
                   || ibb_gid_is_v4mapped(sip));
        h = ibb_addr_map_find_ip(env->map, sip);
        FUZZ_CHECK(!h || !h->has_gid);
    }
    /* The frame's transport bytes (after Ethernet, an optional VLAN tag,
     * IPv4 or IPv6, UDP), but FECN/BECN and, via proxy, SrcQP. */
    {
        size_t l3 = 14 + ((data[12] << 8 | data[13]) == 0x8100 ? 4 : 0);
        const uint8_t *in = data + l3 + (data[l3] >> 4 == 4 ? 20 : 40) + 8;

        FUZZ_CHECK(!memcmp(p + 48, in, 4));
        FUZZ_CHECK(!memcmp(p + 48 + 5, in + 5, 12));
        if (!cfg.proxies) {
            FUZZ_CHECK(!memcmp(p + 48 + 17, in + 17, 3));
        }
        FUZZ_CHECK(!memcmp(p + 48 + 20, in + 20, tlen - 20 - 4));
    }

    /* And back to RoCEv2 (direct addressing, from a non-bridge GID). */
    if (cfg.proxies) {
        return 0;
    }
    pkt = malloc(buf.len);
    memcpy(pkt, p, buf.len);
    fuzz_config(&back, 0x03 | (data[-1] & 0x40), env);
    memset(env->buf, 0, FUZZ_BUF_SIZE);
    memcpy(env->buf + IBB_CONV_HEADROOM, pkt, buf.len);
    buf = (struct ibb_buf) { env->buf, FUZZ_BUF_SIZE, IBB_CONV_HEADROOM,
                             buf.len, NULL };
    if (ibb_ud_to_roce(&back, env->map, &buf) == IBB_DROP_NONE) {
        const uint8_t *f = ibb_buf_data(&buf);
        const uint8_t *fbth = f + buf.len - tlen;

        fuzz_check_roce_frame(f, buf.len, back.udp_csum, sip2);
        FUZZ_CHECK(!memcmp(fbth, pkt + 48, 4));
        FUZZ_CHECK(!memcmp(fbth + 5, pkt + 48 + 5, tlen - 5 - 4));
    }
    free(pkt);
    return 0;
}
