/*
 * libFuzzer target: IB packet -> RoCEv2 (lib/ud-to-roce.c), with CRC and
 * checksum checks on and off, direct or through proxy QPs.
 *
 * Input: one selector byte (the configuration, fuzz_config()), then the IB
 * packet.  Properties: a dropped packet's buffer is untouched; a converted
 * frame is well formed with right checksums and ICRC (reference code) and
 * follows the trust rules; its transport header and payload are the
 * packet's (DestQP the endpoint's through a proxy); converted back to IB,
 * where the addresses allow, it keeps opcode, P_Key, DestQP, Q_Key,
 * SrcQP, payload and a multicast DGID.
 */
#include <config.h>

#include "fuzz-common.h"
#include "roce-to-ud.h"
#include "ud-to-roce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_back(struct fuzz_env *env, uint8_t sel, const uint8_t *frame,
           size_t flen, size_t tlen, const uint8_t *ib_in)
{
    const uint8_t *fbth = frame + flen - tlen;
    struct ibb_conv_config back;
    struct ibb_buf b;
    const uint8_t *p;

    fuzz_config(&back, 0x07 | (sel & 0x40), env);
    memset(env->buf, 0, FUZZ_BUF_SIZE);
    memcpy(env->buf + IBB_CONV_HEADROOM, frame, flen);
    b = (struct ibb_buf) { env->buf, FUZZ_BUF_SIZE, IBB_CONV_HEADROOM, flen,
                           NULL };
    if (ibb_roce_to_ud(&back, env->map, &b) != IBB_DROP_NONE) {
        return;
    }
    p = ibb_buf_data(&b);
    fuzz_check_ib_packet(p, b.len);
    FUZZ_CHECK(b.len == 48 + tlen + 2);
    /* BTH but FECN/BECN, DETH, ImmDt, payload and pad: the frame's. */
    FUZZ_CHECK(!memcmp(p + 48, fbth, 4));
    FUZZ_CHECK(!memcmp(p + 48 + 5, fbth + 5, tlen - 5 - 4));
    if ((ib_in[1] & 3) == 3 && ibb_gid_is_multicast(ib_in + 8 + 24)) {
        FUZZ_CHECK(!memcmp(p + 8 + 24, ib_in + 8 + 24, 16));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *env = fuzz_env();
    struct ibb_conv_config cfg;
    const uint8_t *bth_in, *fbth;
    uint8_t sip[16], *frame;
    struct ibb_buf buf;
    size_t tlen, bth_ofs;
    uint8_t sel;

    if (size < 1 || size - 1 > 8192) {
        return 0;
    }
    sel = data[0];
    fuzz_config(&cfg, sel, env);
    data++;
    size--;

    memset(env->buf, 0xa5, FUZZ_BUF_SIZE);
    memcpy(env->buf + IBB_CONV_HEADROOM, data, size);
    buf = (struct ibb_buf) { env->buf, FUZZ_BUF_SIZE, IBB_CONV_HEADROOM,
                             size, NULL };
    if (ibb_ud_to_roce(&cfg, env->map, &buf) != IBB_DROP_NONE) {
        FUZZ_CHECK(buf.ofs == IBB_CONV_HEADROOM && buf.len == size);
        FUZZ_CHECK(!memcmp(env->buf + IBB_CONV_HEADROOM, data, size));
        return 0;
    }
    FUZZ_CHECK(buf.ofs + buf.len <= buf.size);
    fuzz_check_roce_frame(ibb_buf_data(&buf), buf.len, cfg.udp_csum, sip);
    fuzz_check_roce_source(env->map, sip);

    /* Transport bytes as they came, but FECN/BECN and, through a proxy,
     * DestQP. */
    bth_ofs = (data[1] & 3) == 3 ? 48 : 8;
    bth_in = data + bth_ofs;
    tlen = (size_t) ((data[4] & 7) << 8 | data[5]) * 4 - bth_ofs;
    fbth = ibb_buf_data(&buf) + buf.len - tlen;
    FUZZ_CHECK(!memcmp(fbth, bth_in, 4));
    FUZZ_CHECK(!memcmp(fbth + 8, bth_in + 8, tlen - 8 - 4));
    if (cfg.proxies && memcmp(bth_in + 5, "\xff\xff\xff", 3)) {
        FUZZ_CHECK(!memcmp(bth_in + 5, "\x00\x02\x00", 3));
        FUZZ_CHECK(!memcmp(fbth + 5, "\x00\x01\x23", 3));
    } else {
        FUZZ_CHECK(!memcmp(fbth + 5, bth_in + 5, 3));
    }

    frame = malloc(buf.len);
    memcpy(frame, ibb_buf_data(&buf), buf.len);
    check_back(env, sel, frame, buf.len, tlen, data);
    free(frame);
    return 0;
}
