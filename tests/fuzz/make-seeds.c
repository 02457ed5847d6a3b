/*
 * Writes the seed corpora of the fuzz targets into DIR/<target>/: packets
 * and frames that convert under fuzz-common.h's map (direct, through a
 * proxy, multicast, without GRH), option values, maps and capture files,
 * each converter input with several configuration selector bytes.
 *
 * usage: make-seeds DIR
 */
#include <config.h>

#include <errno.h>
#include <sys/stat.h>

#include "fabric-proto.h"
#include "fuzz-common.h"
#include "ib-mcast.h"
#include "ibb-pcap.h"

static const char *dir;
static int n_seeds;

static void
put(const char *target, const void *data, size_t len)
{
    char name[512];
    FILE *f;

    snprintf(name, sizeof name, "%s/%s", dir, target);
    mkdir(name, 0755);
    snprintf(name, sizeof name, "%s/%s/seed-%03d", dir, target, n_seeds++);
    f = fopen(name, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
        fprintf(stderr, "make-seeds: %s: %s\n", name, strerror(errno));
        exit(1);
    }
}

/* Writes hex string 'hex' as a seed of 'target'. */
static void
put_hex(const char *target, const char *hex)
{
    uint8_t buf[256];
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n && i < sizeof buf; i++) {
        unsigned int b;

        if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
            fprintf(stderr, "make-seeds: bad hex seed\n");
            exit(1);
        }
        buf[i] = b;
    }
    put(target, buf, n < sizeof buf ? n : sizeof buf);
}

/* Writes 'pkt' once per selector, the selector byte first. */
static void
put_sel(const char *target, const uint8_t *pkt, size_t len)
{
    static const uint8_t sels[] = { 0x00, 0x07, 0x27, 0x4f, 0x97 };
    uint8_t buf[9000];

    for (size_t i = 0; i < sizeof sels; i++) {
        buf[0] = sels[i];
        memcpy(buf + 1, pkt, len);
        put(target, buf, len + 1);
    }
}

static void
tr(struct tp_tr *t, uint32_t dqpn, uint8_t op, size_t plen)
{
    memset(t, 0, sizeof *t);
    t->opcode = op;
    t->pkey = 0xffff;
    t->dqpn = dqpn;
    t->psn = 1;
    t->qkey = 0x11111111;
    t->sqpn = 0xabc;
    t->imm = 0xcafef00d;
    t->plen = plen;
    t->seed = 7;
}

static void
ib(const char *sgid, uint16_t slid, const char *dgid, uint16_t dlid,
   uint32_t dqpn, bool grh, uint8_t op, size_t plen)
{
    uint8_t pkt[9000];
    struct tp_ib b;

    memset(&b, 0, sizeof b);
    b.grh = grh;
    b.sl = 2;
    b.slid = slid;
    b.dlid = dlid;
    b.tclass = 0x68;
    b.flow = 0x12345;
    b.hop = 64;
    ibb_gid_parse(sgid, b.sgid);
    ibb_gid_parse(dgid, b.dgid);
    tr(&b.tr, dqpn, op, plen);
    put_sel("fuzz-ud-to-roce", pkt, tp_build_ib(&b, pkt));
}

static void
roce(bool v4, const char *sip, const char *dip, uint32_t dqpn, uint8_t op,
     size_t plen)
{
    uint8_t f[9000];
    struct tp_roce b;

    memset(&b, 0, sizeof b);
    memcpy(b.smac, "\x02\0\0\0\0\x02", 6);
    memcpy(b.dmac, "\x02\x1b\0\0\0\x01", 6);
    b.v4 = v4;
    b.tos = 0x68;
    b.flow = v4 ? 0 : 0x54321;
    b.ttl = 64;
    ibb_gid_parse(sip, b.sip);
    ibb_gid_parse(dip, b.dip);
    b.sport = 0xc123;
    b.udp_csum = true;
    tr(&b.tr, dqpn, op, plen);
    put_sel("fuzz-roce-to-ud", f, tp_build_roce(&b, f));
}

static void
pcap(uint32_t linktype, const uint8_t *pkt, size_t len)
{
    struct ibb_pcap_rec rec = { .ts_sec = 1 };
    struct ibb_pcap_writer *w;
    char name[512], err[128];
    size_t n;
    FILE *f;
    static uint8_t data[20000];

    snprintf(name, sizeof name, "%s/pcap.tmp", dir);
    if (ibb_pcap_writer_open(name, linktype, &w, err, sizeof err)
        || ibb_pcap_write(w, &rec, pkt, len)
        || ibb_pcap_write(w, &rec, pkt, len / 2)
        || ibb_pcap_writer_close(w)) {
        fprintf(stderr, "make-seeds: %s: %s\n", name, err);
        exit(1);
    }
    f = fopen(name, "rb");
    n = fread(data, 1, sizeof data, f);
    fclose(f);
    remove(name);
    put("fuzz-pcap", data, n);
}

/* Appends message 'type', 'xid' with 'len' bytes of 'body' to 'buf' at
 * '*ofs' in fuzz-mcg's format (2-byte little-endian length first). */
static void
mcg_msg(uint8_t *buf, size_t *ofs, uint16_t type, uint32_t xid,
        const void *body, size_t len)
{
    struct ibb_fmsg_hdr h = { .type = type, .xid = xid };
    size_t n = sizeof h + len;

    buf[(*ofs)++] = n;
    buf[(*ofs)++] = n >> 8;
    memcpy(buf + *ofs, &h, sizeof h);
    if (len) {
        memcpy(buf + *ofs + sizeof h, body, len);
    }
    *ofs += n;
}

/* fuzz-mcg: the subscription's answer (xid 1), a notice, a list answer in
 * two messages (xid 2), a lost connection, the new subscription's answer
 * (xid 3). */
static void
mcg_seeds(void)
{
    struct {
        struct ibb_fmsg_mcg_list lh;
        struct ibb_fmsg_mcg_record r[2];
    } list;
    struct ibb_fmsg_mcg_notice n;
    uint8_t buf[1024];
    size_t ofs = 0;

    memset(&n, 0, sizeof n);
    n.trap = IBB_FMCG_TRAP_CREATED;
    ibb_gid_parse("ff12:401b:ffff::1", n.mgid);
    memset(&list, 0, sizeof list);
    list.lh.flags = IBB_FMCG_MORE;
    list.lh.n_records = 2;
    list.lh.segment = 1;
    memcpy(list.r[0].mgid, n.mgid, 16);
    list.r[0].mlid = 0xc000;
    list.r[0].pkey = 0xffff;
    list.r[0].n_full_others = 1;
    memcpy(list.r[1].mgid, n.mgid, 16);
    list.r[1].mgid[15] = 2;
    list.r[1].mlid = 0xc001;

    mcg_msg(buf, &ofs, IBB_FMSG_MCG_SUBSCRIBE, 1, NULL, 0);
    put("fuzz-mcg", buf, ofs);
    mcg_msg(buf, &ofs, IBB_FMSG_MCG_NOTICE, 0, &n, sizeof n);
    put("fuzz-mcg", buf, ofs);
    mcg_msg(buf, &ofs, IBB_FMSG_MCG_LIST, 2, &list, sizeof list);
    list.lh.flags = 0;
    list.lh.segment = 2;
    mcg_msg(buf, &ofs, IBB_FMSG_MCG_LIST, 2, &list, sizeof list);
    put("fuzz-mcg", buf, ofs);
    buf[ofs++] = 0xff;
    buf[ofs++] = 0xff;
    mcg_msg(buf, &ofs, IBB_FMSG_MCG_SUBSCRIBE, 3, NULL, 0);
    put("fuzz-mcg", buf, ofs);
}

int
main(int argc, char *argv[])
{
    static const char *const options[] = {
        "sim:/run/ibsim/fabric.sock", "verbs:mlx5_0:1", "verbs:ib0",
        "0x7fff", "0xffff", "0x01234567", "02:1b:00:00:00:01",
        "239.1.1.1,239.2.2.2/rdma_cm/send-only,ff0e::1:2/roce",
        "ipoib", "26:5,46:7,0:0", "0:46,5:26", "true", "false", "3",
    };
    uint8_t mgid[16], ip[16], pkt[9000];
    struct tp_ib b;

    if (argc != 2) {
        fprintf(stderr, "usage: make-seeds DIR\n");
        return 1;
    }
    dir = argv[1];
    mkdir(dir, 0755);

    /* IB -> RoCEv2: A to R over IPv4 and IPv6, to host X, through proxy
     * 0x200 at the bridge's GID, to each group, and without GRH. */
    ib("fe80::2:c903:a:b", 5, "::ffff:10.0.0.2", 1, 0x123, true, 0x64, 6);
    ib("fe80::2:c903:a:b", 5, "fd00::2", 1, 0x123, true, 0x65, 4096);
    ib("::ffff:10.9.9.9", 9, "fe80::2:c903:a:c", 1, 0x123, true, 0x64, 13);
    ib("fe80::2:c903:a:b", 5, "fe80::2:c903:0:1", 1, 0x200, true, 0x65, 0);
    ibb_gid_parse("239.1.1.1", ip);
    ibb_mcast_ip_to_mgid(IBB_MGID_IPOIB, ip, 0xffff, 2, mgid);
    {
        char s[64];

        ib("fe80::2:c903:a:b", 5, ibb_gid_format(mgid, s, sizeof s),
           0xc001, 0xffffff, true, 0x64, 100);
    }
    ib("fe80::2:c903:a:b", 5, "::", 7, 0x123, false, 0x64, 5);

    /* RoCEv2 -> IB: R to A, R to X, an unknown host to X, to a group. */
    roce(true, "10.0.0.2", "10.0.0.1", 0x100, 0x64, 6);
    roce(false, "fd00::2", "fd00::1", 0x100, 0x65, 1000);
    roce(true, "10.9.9.9", "10.0.1.6", 0x100, 0x64, 0);
    roce(true, "10.0.0.2", "239.1.1.1", 0xffffff, 0x64, 64);
    roce(false, "fd00::2", "ff0e::1:2", 0xffffff, 0x65, 3);

    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        put("fuzz-options", options[i], strlen(options[i]));
    }
    mcg_seeds();
    /* IGMP and MLD queries (tests/igmp-tool.py): IGMPv3 general, IGMPv2
     * group, IGMPv1, IGMPv3 group and sources, MLDv2 general, MLDv1
     * group. */
    put_hex("fuzz-igmp", "01005e000001020000000002080046c0002400010000010239"
            "140a0000fee0000001940400001164ec1e00000000027d0000");
    put_hex("fuzz-igmp", "01005e010101020000000002080046c0002000010000010229"
            "170a0000feef010101940400001132fecaef010101");
    put_hex("fuzz-igmp", "01005e000001020000000002080046c0002000010000010239"
            "180a0000fee0000001940400001100eeff00000000");
    put_hex("fuzz-igmp", "01005e010101020000000002080046c0002c000100000102290b"
            "0a0000feef0101019404000011c8e4f1ef010101033c00020a0101010a0101"
            "02");
    put_hex("fuzz-igmp", "33330000000102000000000286dd6000000000240001fe800000"
            "000000000000000000000001ff0200000000000000000000000000013a0005"
            "02000001008200785307d0000000000000000000000000000000000000000000"
            "00");
    put_hex("fuzz-igmp", "33330001000202000000000286dd6000000000200001fe800000"
            "000000000000000000000001ff0e00000000000000000000000100023a0005"
            "020000010082007b2b05dc0000ff0e0000000000000000000000010002");

    put("fuzz-map", fuzz_map_json, strlen(fuzz_map_json));
    put("fuzz-map", "{\"hosts\": [{\"gid\": \"fe80::1\", \"lid\": 3}]}", 41);

    memset(&b, 0, sizeof b);
    b.grh = true;
    b.slid = 5;
    b.dlid = 1;
    b.hop = 64;
    ibb_gid_parse("fe80::2:c903:a:b", b.sgid);
    ibb_gid_parse("::ffff:10.0.0.2", b.dgid);
    tr(&b.tr, 0x123, 0x64, 32);
    pcap(IBB_PCAP_LINKTYPE_ERF, pkt, tp_build_ib(&b, pkt));
    pcap(IBB_PCAP_LINKTYPE_INFINIBAND, pkt, tp_build_ib(&b, pkt));
    {
        struct tp_roce r;

        memset(&r, 0, sizeof r);
        r.v4 = true;
        r.ttl = 64;
        ibb_gid_parse("10.0.0.2", r.sip);
        ibb_gid_parse("10.0.0.1", r.dip);
        tr(&r.tr, 0x100, 0x64, 32);
        pcap(IBB_PCAP_LINKTYPE_ETHERNET, pkt, tp_build_roce(&r, pkt));
    }
    printf("%d seeds in %s\n", n_seeds, dir);
    return 0;
}
