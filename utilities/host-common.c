/* Code shared by ibsim-host and roce-host: see host-common.h. */
#include <config.h>

#include "host-common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ib-gid.h"
#include "ib-hdr.h"
#include "ibb-options.h"

const char *host_program_name;

void
host_fatal(int exit_code, const char *format, ...)
{
    va_list args;

    fprintf(stderr, "%s: ", host_program_name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(exit_code);
}

double
host_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
usage(bool roce)
{
    const char *p = host_program_name;

    if (roce) {
        printf("%s: RoCEv2 UD test host on a plain UDP/raw socket "
               "(port 4791)\n"
               "usage: %s [--ip=ADDR] [--dev=IFNAME] COMMAND [OPTIONS]\n",
               p, p);
    } else {
        printf("%s: IB UD test host on the simulated fabric\n"
               "usage: %s --fabric=SOCK [--gid=GID] [--lid=N] [--raw] "
               "COMMAND [OPTIONS]\n", p, p);
    }
    printf("\nCommands:\n"
           "  send --%s=%s --dqpn=N --qkey=K [--imm=N] [--count=N]\n"
           "       [--size=N | --payload=HEX]   send datagrams (to a "
           "multicast\n"
           "                                    %s: DestQP 0xFFFFFF)\n"
           "  recv [--count=N] [--timeout=S] [--json]   print received "
           "datagrams\n"
           "  join %s [recv options]          join a multicast group, "
           "then recv\n"
           "  pingpong                          answer pings "
           "(server)\n"
           "  pingpong --%s=%s --dqpn=N [--count=N]   ping, print "
           "latency\n"
           "  flood --%s=%s --dqpn=N [--count=N] [--size=N]   send "
           "as fast as\n"
           "                                    possible, print the "
           "rate\n%s",
           roce ? "dip" : "dgid", roce ? "ADDR" : "GID",
           roce ? "group" : "MGID", roce ? "GROUP" : "MGID",
           roce ? "dip" : "dgid", roce ? "ADDR" : "GID",
           roce ? "dip" : "dgid", roce ? "ADDR" : "GID",
           roce ? "" : "  replay PCAP [--delay=US]          send the IB "
                       "packets of a capture\n"
                       "                                    as they are "
                       "(use --raw)\n"
                       "  arp IP [--ip=ADDR] [--json]      resolve IPv4 "
                       "address IP as IPoIB\n"
                       "                                    does (ARP on "
                       "the broadcast group)\n"
                       "  mcgs [--dgid=MGID [--send-only]] [--json]\n"
                       "                                    list the SA's "
                       "multicast groups the\n"
                       "                                    port's "
                       "partition sees, members\n"
                       "                                    counted "
                       "without this port\n"
                       "                                    (which joins "
                       "MGID first)\n"
                       "  mcgs --follow [--count=N] [--timeout=S] "
                       "[--json]\n"
                       "       [--unsubscribe-after=N]      print the SA's "
                       "group created\n"
                       "                                    and deleted "
                       "notices (traps 66/67)\n");
    printf("\nOptions:\n");
    if (roce) {
        printf("  --ip=ADDR          source IPv4/IPv6 address (default: "
               "route lookup)\n"
               "  --dev=IFNAME       interface for multicast (default: "
               "route lookup)\n"
               "  --dip=ADDR         destination IP address or group\n");
    } else {
        printf("  --fabric=SOCK      ibsim-fabric socket (required)\n"
               "  --gid=GID          request this port GID (its low 64 "
               "bits are the GUID)\n"
               "  --lid=N            request this LID (default: assigned)\n"
               "  --raw              raw mode: receive everything for the "
               "LID\n"
               "                     (default strict: by QPN and Q_Key)\n"
               "  --reconnect=S      if the fabric goes away, retry for S "
               "seconds\n"
               "                     (default: exit with status 2)\n"
               "  --dgid=GID         destination GID or MGID\n"
               "  --dlid=N           destination LID (default: path query)"
               "\n"
               "  --dip=IP           destination IPv4 address, resolved "
               "through IPoIB\n"
               "                     ARP (its GID) and a path query (its "
               "LID)\n"
               "  --ip=ADDR          own IPoIB address, the sender of ARP "
               "requests\n"
               "                     (default 0.0.0.0)\n");
    }
    printf("  --qpn=N            own QPN (default 0x100)\n"
           "  --dqpn=N           destination QPN\n"
           "  --qkey=K           Q_Key (default 0x01234567)\n"
           "  --pkey=P           P_Key (default 0xffff)\n"
           "  --imm=N            send with immediate data N\n"
           "  --count=N          datagrams to send (default 1) or receive "
           "(default\n"
           "                     unlimited)\n"
           "  --size=N           payload size (default 64, at most 4096)\n"
           "  --payload=HEX      payload bytes\n"
           "  --timeout=S        recv: give up after S seconds (exit 1)\n"
           "  --delay=US         wait US microseconds per datagram (slow "
           "receiver)\n"
           "  --json             one JSON object per datagram\n"
           "  --send-only        join as a send-only member\n");
    if (!roce) {
        printf("  --groups=N         join: N groups, MGID and the N-1 that "
               "follow it\n"
               "  --follow           mcgs: subscribe to notices and print "
               "them\n"
               "  --unsubscribe-after=N  mcgs --follow: unsubscribe after N "
               "notices,\n"
               "                     print \"unsubscribed\", go on "
               "listening\n");
    }
    if (!roce) {
        printf("  --inject=KIND      send a bad packet: icrc, vcrc, length, "
               "lver, pkey,\n"
               "                     slid\n");
    }
    if (roce) {
        printf("  --tclass=N         IPv4 TOS or IPv6 traffic class, DSCP "
               "and ECN (0-255,\n"
               "                     default 0)\n"
               "  --hop-limit=N      IPv4 TTL or IPv6 hop limit (1-255, "
               "default 64; IPv6\n"
               "                     multicast: the kernel's, 1)\n"
               "  --flow-label=N     IPv6 flow label (0-0xfffff; default: "
               "the kernel's\n"
               "                     automatic label), leased from its "
               "flow label manager\n"
               "  --sl=N             refused: RoCE has no SL (a NIC maps a "
               "priority to PCP or\n"
               "                     DSCP); use --tclass\n");
    } else {
        printf("  --sl=N             LRH service level (0-15, default 0); "
               "VL 0 for all, as\n"
               "                     on a port with one data VL\n"
               "  --tclass=N         GRH traffic class (0-255, default 0)\n"
               "  --hop-limit=N      GRH hop limit (0-255, default 64)\n"
               "  --flow-label=N     GRH flow label (0-0xfffff, default 0)"
               "\n");
    }
    printf("  --fecn, --becn     set the BTH FECN or BECN bit (congestion "
           "notification)\n");
    printf("  -h, --help         display this help message\n"
           "\nExit status: 0 ok, 1 usage error or timeout, 2 %s error.\n",
           roce ? "network" : "fabric");
    exit(0);
}

static unsigned long long
parse_range(const char *name, const char *s, unsigned long long min,
            unsigned long long max)
{
    unsigned long long v;

    if (!ibb_parse_uint(s, max, &v) || v < min) {
        host_fatal(HOST_EXIT_USAGE, "--%s=%s: expected a number from %llu "
                   "to %llu", name, s, min, max);
    }
    return v;
}

static unsigned long long
parse_num(const char *name, const char *s, unsigned long long max)
{
    return parse_range(name, s, 0, max);
}

static double
parse_seconds(const char *name, const char *s)
{
    char *end;
    double v = strtod(s, &end);

    if (*end || end == s || v < 0 || v > 1e6) {
        host_fatal(HOST_EXIT_USAGE, "--%s=%s: expected seconds", name, s);
    }
    return v;
}

static void
parse_gid(const char *name, const char *s, uint8_t gid[16])
{
    if (ibb_gid_parse(s, gid)) {
        host_fatal(HOST_EXIT_USAGE, "--%s=%s: expected an IPv6-style GID or "
                   "an IP address", name, s);
    }
}

static void
parse_ipv4(const char *name, const char *s, uint8_t ip[16])
{
    if (ibb_gid_parse(s, ip) || !ibb_gid_is_v4mapped(ip) || strchr(s, ':')) {
        host_fatal(HOST_EXIT_USAGE, "--%s=%s: expected an IPv4 address "
                   "(IPoIB ARP is IPv4's)", name, s);
    }
}

static uint8_t *
parse_hex(const char *s, size_t *lenp)
{
    size_t n = strlen(s);
    uint8_t *buf;

    if (n % 2 || n / 2 > HOST_MAX_PAYLOAD) {
        host_fatal(HOST_EXIT_USAGE, "--payload: expected an even number of "
                   "hex digits, at most %d bytes", HOST_MAX_PAYLOAD);
    }
    buf = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int byte;

        if (sscanf(s + 2 * i, "%2x", &byte) != 1
            || !strchr("0123456789abcdefABCDEF", s[2 * i])
            || !strchr("0123456789abcdefABCDEF", s[2 * i + 1])) {
            host_fatal(HOST_EXIT_USAGE, "--payload: \"%s\" is not hex", s);
        }
        buf[i] = byte;
    }
    *lenp = n / 2;
    return buf;
}

void
host_parse_options(int argc, char *argv[], bool roce, struct host_opts *o)
{
    enum {
        OPT_FABRIC = 256, OPT_GID, OPT_LID, OPT_RAW, OPT_RECONNECT, OPT_IP,
        OPT_DEV, OPT_DGID, OPT_DLID, OPT_QPN, OPT_DQPN, OPT_QKEY, OPT_PKEY,
        OPT_IMM, OPT_COUNT, OPT_SIZE, OPT_PAYLOAD, OPT_TIMEOUT, OPT_JSON,
        OPT_DELAY, OPT_INJECT, OPT_SEND_ONLY, OPT_TCLASS, OPT_HOP_LIMIT,
        OPT_FLOW_LABEL, OPT_SL, OPT_FECN, OPT_BECN, OPT_IB_DIP,
        OPT_FOLLOW, OPT_UNSUB_AFTER, OPT_GROUPS,
    };
    static const struct option ib_options[] = {
        {"fabric", required_argument, NULL, OPT_FABRIC},
        {"gid", required_argument, NULL, OPT_GID},
        {"lid", required_argument, NULL, OPT_LID},
        {"raw", no_argument, NULL, OPT_RAW},
        {"reconnect", required_argument, NULL, OPT_RECONNECT},
        {"dgid", required_argument, NULL, OPT_DGID},
        {"dlid", required_argument, NULL, OPT_DLID},
        {"dip", required_argument, NULL, OPT_IB_DIP},
        {"ip", required_argument, NULL, OPT_IP},
        {"inject", required_argument, NULL, OPT_INJECT},
        {"follow", no_argument, NULL, OPT_FOLLOW},
        {"groups", required_argument, NULL, OPT_GROUPS},
        {"unsubscribe-after", required_argument, NULL, OPT_UNSUB_AFTER},
#define COMMON_OPTIONS                                              \
        {"qpn", required_argument, NULL, OPT_QPN},                  \
        {"dqpn", required_argument, NULL, OPT_DQPN},                \
        {"qkey", required_argument, NULL, OPT_QKEY},                \
        {"pkey", required_argument, NULL, OPT_PKEY},                \
        {"imm", required_argument, NULL, OPT_IMM},                  \
        {"count", required_argument, NULL, OPT_COUNT},              \
        {"size", required_argument, NULL, OPT_SIZE},                \
        {"payload", required_argument, NULL, OPT_PAYLOAD},          \
        {"timeout", required_argument, NULL, OPT_TIMEOUT},          \
        {"json", no_argument, NULL, OPT_JSON},                      \
        {"delay", required_argument, NULL, OPT_DELAY},              \
        {"send-only", no_argument, NULL, OPT_SEND_ONLY},            \
        {"tclass", required_argument, NULL, OPT_TCLASS},            \
        {"hop-limit", required_argument, NULL, OPT_HOP_LIMIT},      \
        {"flow-label", required_argument, NULL, OPT_FLOW_LABEL},    \
        {"sl", required_argument, NULL, OPT_SL},                    \
        {"fecn", no_argument, NULL, OPT_FECN},                      \
        {"becn", no_argument, NULL, OPT_BECN},                      \
        {"help", no_argument, NULL, 'h'},                           \
        {NULL, 0, NULL, 0}
        COMMON_OPTIONS
    };
    static const struct option roce_options[] = {
        {"ip", required_argument, NULL, OPT_IP},
        {"dev", required_argument, NULL, OPT_DEV},
        {"dip", required_argument, NULL, OPT_DGID},
        COMMON_OPTIONS
    };
    size_t payload_len = 0;

    host_program_name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
                                              : argv[0];
    memset(o, 0, sizeof *o);
    o->roce = roce;
    o->qpn = 0x100;
    o->qkey = 0x01234567;
    o->pkey = 0xffff;
    o->size = 64;
    o->tclass = o->hop_limit = o->flow_label = o->sl = -1;

    for (;;) {
        int c = getopt_long(argc, argv, "h", roce ? roce_options : ib_options,
                            NULL);

        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_FABRIC:
            o->fabric = optarg;
            break;
        case OPT_GID:
            parse_gid("gid", optarg, o->gid);
            o->has_gid = true;
            break;
        case OPT_LID:
            o->lid = parse_num("lid", optarg, 0xbfff);
            break;
        case OPT_RAW:
            o->raw = true;
            break;
        case OPT_RECONNECT:
            o->reconnect = parse_seconds("reconnect", optarg);
            break;
        case OPT_IP:
            o->ip = optarg;
            break;
        case OPT_DEV:
            o->dev = optarg;
            break;
        case OPT_DGID:
            parse_gid(roce ? "dip" : "dgid", optarg, o->dgid);
            o->has_dgid = true;
            break;
        case OPT_IB_DIP:
            parse_ipv4("dip", optarg, o->dip);
            o->has_dip = true;
            break;
        case OPT_DLID:
            o->dlid = parse_num("dlid", optarg, 0xffff);
            o->has_dlid = true;
            break;
        case OPT_QPN:
            o->qpn = parse_num("qpn", optarg, 0xffffff);
            break;
        case OPT_DQPN:
            o->dqpn = parse_num("dqpn", optarg, 0xffffff);
            o->has_dqpn = true;
            break;
        case OPT_QKEY:
            o->qkey = parse_num("qkey", optarg, 0xffffffff);
            break;
        case OPT_PKEY:
            o->pkey = parse_num("pkey", optarg, 0xffff);
            break;
        case OPT_IMM:
            o->imm = parse_num("imm", optarg, 0xffffffff);
            o->has_imm = true;
            break;
        case OPT_COUNT:
            o->count = parse_num("count", optarg, 1ULL << 40);
            o->has_count = true;
            break;
        case OPT_SIZE:
            o->size = parse_num("size", optarg, HOST_MAX_PAYLOAD);
            break;
        case OPT_PAYLOAD:
            free(o->payload);
            o->payload = parse_hex(optarg, &payload_len);
            o->size = payload_len;
            break;
        case OPT_TIMEOUT:
            o->timeout = parse_seconds("timeout", optarg);
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_DELAY:
            o->delay_us = parse_num("delay", optarg, 10000000);
            break;
        case OPT_INJECT:
            o->inject = optarg;
            break;
        case OPT_SEND_ONLY:
            o->send_only = true;
            break;
        case OPT_GROUPS:
            o->groups = parse_range("groups", optarg, 1, 16384);
            break;
        case OPT_FOLLOW:
            o->follow = true;
            break;
        case OPT_UNSUB_AFTER:
            o->unsub_after = parse_range("unsubscribe-after", optarg, 1,
                                         1ULL << 40);
            break;
        case OPT_TCLASS:
            o->tclass = parse_num("tclass", optarg, 0xff);
            break;
        case OPT_HOP_LIMIT:
            /* A host must not send an IP TTL of 0 (RFC 1122). */
            o->hop_limit = parse_range("hop-limit", optarg, roce, 0xff);
            break;
        case OPT_FLOW_LABEL:
            o->flow_label = parse_num("flow-label", optarg, 0xfffff);
            break;
        case OPT_SL:
            o->sl = parse_num("sl", optarg, 15);
            break;
        case OPT_FECN:
            o->fecn = true;
            break;
        case OPT_BECN:
            o->becn = true;
            break;
        case 'h':
            usage(roce);
            /* fall through */
        default:
            fprintf(stderr, "Try '%s --help' for more information.\n",
                    host_program_name);
            exit(HOST_EXIT_USAGE);
        }
    }

    if (optind >= argc) {
        host_fatal(HOST_EXIT_USAGE, "missing command (send, recv, join, "
                   "pingpong, flood); use --help for usage");
    }
    o->cmd = argv[optind++];
    if (!strcmp(o->cmd, "join")) {
        if (optind >= argc) {
            host_fatal(HOST_EXIT_USAGE, "join needs a %s argument",
                       roce ? "GROUP" : "MGID");
        }
        o->arg = argv[optind++];
    } else if (!roce && !strcmp(o->cmd, "replay")) {
        if (optind >= argc) {
            host_fatal(HOST_EXIT_USAGE, "replay needs a PCAP argument");
        }
        o->arg = argv[optind++];
    } else if (!roce && !strcmp(o->cmd, "arp")) {
        if (optind >= argc) {
            host_fatal(HOST_EXIT_USAGE, "arp needs an IPv4 address");
        }
        parse_ipv4("arp", argv[optind++], o->dip);
        o->has_dip = true;
    } else if (!roce && !strcmp(o->cmd, "mcgs")) {
        /* No argument. */
    } else if (strcmp(o->cmd, "arp") == 0 || strcmp(o->cmd, "mcgs") == 0) {
        host_fatal(HOST_EXIT_USAGE, "%s is for ibsim-host", o->cmd);
    } else if (strcmp(o->cmd, "send") && strcmp(o->cmd, "recv")
               && strcmp(o->cmd, "pingpong") && strcmp(o->cmd, "flood")) {
        host_fatal(HOST_EXIT_USAGE, "unknown command \"%s\" (expected send, "
                   "recv, join, pingpong, flood%s)", o->cmd,
                   roce ? "" : ", replay, arp or mcgs");
    }
    if (optind < argc) {
        host_fatal(HOST_EXIT_USAGE, "unexpected argument \"%s\"",
                   argv[optind]);
    }

    if (!roce && !o->fabric) {
        host_fatal(HOST_EXIT_USAGE, "--fabric=SOCK is required");
    }
    if (o->has_dip && o->has_dgid) {
        host_fatal(HOST_EXIT_USAGE, "--dip and --dgid: give one");
    }
    if (o->ip && !roce) {
        parse_ipv4("ip", o->ip, o->my_ip);
    }
    if (!strcmp(o->cmd, "send") || !strcmp(o->cmd, "flood")) {
        if (!o->has_dgid && !o->has_dip) {
            host_fatal(HOST_EXIT_USAGE, "%s needs --%s", o->cmd,
                       roce ? "dip" : "dgid or --dip");
        }
        if (!o->has_dqpn && !ibb_gid_is_multicast(o->dgid)
            && !(roce && ibb_ip_is_multicast(o->dgid))) {
            host_fatal(HOST_EXIT_USAGE, "%s needs --dqpn for a unicast "
                       "destination", o->cmd);
        }
        if (!o->has_count) {
            o->count = !strcmp(o->cmd, "send") ? 1 : 100000;
        }
    }
    if (!strcmp(o->cmd, "pingpong") && (o->has_dgid || o->has_dip)
        && !o->has_count) {
        o->count = 10;
    }
    if ((o->follow || o->unsub_after) && strcmp(o->cmd, "mcgs")) {
        host_fatal(HOST_EXIT_USAGE, "--follow and --unsubscribe-after are "
                   "for mcgs");
    }
    if (o->groups && strcmp(o->cmd, "join")) {
        host_fatal(HOST_EXIT_USAGE, "--groups is for join");
    }
    if (o->unsub_after && !o->follow) {
        host_fatal(HOST_EXIT_USAGE, "--unsubscribe-after needs --follow");
    }
    if (!strcmp(o->cmd, "mcgs") && !o->follow
        && (o->has_count || o->timeout)) {
        host_fatal(HOST_EXIT_USAGE, "mcgs: --count and --timeout need "
                   "--follow");
    }
    if (o->inject && roce) {
        host_fatal(HOST_EXIT_USAGE, "--inject is for ibsim-host");
    }
    if (o->sl >= 0 && roce) {
        host_fatal(HOST_EXIT_USAGE, "--sl: RoCE has no service level (a "
                   "NIC maps a priority to PCP or DSCP); use --tclass");
    }
}

size_t
host_payload(const struct host_opts *o, uint8_t *buf, uint32_t seq)
{
    if (o->payload) {
        memcpy(buf, o->payload, o->size);
    } else {
        for (size_t i = 0; i < o->size; i++) {
            buf[i] = i;
        }
        /* The sequence number, so a receiver can see order and loss. */
        for (size_t i = 0; i < 4 && i < o->size; i++) {
            buf[i] = seq >> (24 - 8 * i);
        }
    }
    return o->size;
}

size_t
host_build_transport(uint8_t *p, const struct host_opts *o, uint32_t dqpn,
                     uint32_t psn, const uint8_t *payload, size_t len)
{
    struct ibb_bth *bth = (struct ibb_bth *) p;
    struct ibb_deth *deth = (struct ibb_deth *) (p + IBB_BTH_LEN);
    size_t ofs = IBB_BTH_LEN + IBB_DETH_LEN;
    uint8_t pad = ibb_pad_for_len(len);

    memset(p, 0, ofs);
    ibb_bth_set_opcode(bth, o->has_imm ? IBB_OP_UD_SEND_ONLY_WITH_IMM
                                       : IBB_OP_UD_SEND_ONLY);
    ibb_bth_set_se(bth, false);
    ibb_bth_set_pad(bth, pad);
    ibb_bth_set_pkey(bth, o->pkey);
    ibb_bth_set_qpn(bth, dqpn);
    ibb_bth_set_psn(bth, psn & 0xffffff);
    ibb_bth_set_fecn(bth, o->fecn);
    ibb_bth_set_becn(bth, o->becn);
    ibb_deth_set_qkey(deth, o->qkey);
    ibb_deth_set_sqpn(deth, o->qpn);
    if (o->has_imm) {
        ibb_immdt_set_imm((struct ibb_immdt *) (p + ofs), o->imm);
        ofs += IBB_IMMDT_LEN;
    }
    memcpy(p + ofs, payload, len);
    ofs += len;
    memset(p + ofs, 0, pad);
    return ofs + pad;
}

int
host_parse_transport(const uint8_t *p, size_t len, struct host_msg *m)
{
    const struct ibb_bth *bth = (const struct ibb_bth *) p;
    const struct ibb_deth *deth;
    size_t hdr_len = IBB_BTH_LEN + IBB_DETH_LEN;
    uint8_t op, pad;

    if (len < hdr_len + IBB_ICRC_LEN) {
        return EINVAL;
    }
    op = ibb_bth_opcode(bth);
    if (op != IBB_OP_UD_SEND_ONLY && op != IBB_OP_UD_SEND_ONLY_WITH_IMM) {
        return EINVAL;
    }
    deth = (const struct ibb_deth *) (p + IBB_BTH_LEN);
    m->has_imm = op == IBB_OP_UD_SEND_ONLY_WITH_IMM;
    if (m->has_imm) {
        if (len < hdr_len + IBB_IMMDT_LEN + IBB_ICRC_LEN) {
            return EINVAL;
        }
        m->imm = ibb_immdt_imm((const struct ibb_immdt *) (p + hdr_len));
        hdr_len += IBB_IMMDT_LEN;
    }
    pad = ibb_bth_pad(bth);
    if (len < hdr_len + pad + IBB_ICRC_LEN) {
        return EINVAL;
    }
    m->dqpn = ibb_bth_qpn(bth);
    m->pkey = ibb_bth_pkey(bth);
    m->psn = ibb_bth_psn(bth);
    m->fecn = ibb_bth_fecn(bth);
    m->becn = ibb_bth_becn(bth);
    m->qkey = ibb_deth_qkey(deth);
    m->sqpn = ibb_deth_sqpn(deth);
    m->payload = p + hdr_len;
    m->len = len - hdr_len - pad - IBB_ICRC_LEN;
    return 0;
}

void
host_msg_init(struct host_msg *m)
{
    memset(m, 0, sizeof *m);
    m->slid = m->dlid = -1;
    m->sl = m->tclass = m->hop_limit = m->flow_label = -1;
}

/* Prints JSON member 'name' with value 'v', or null if 'v' is -1. */
static void
print_json_int(const char *name, int v)
{
    if (v >= 0) {
        printf(",\"%s\":%d", name, v);
    } else {
        printf(",\"%s\":null", name);
    }
}

void
host_print_msg(const struct host_opts *o, const struct host_msg *m)
{
    char sgid[IBB_GID_STRLEN], dgid[IBB_GID_STRLEN];

    ibb_gid_format(m->sgid, sgid, sizeof sgid);
    ibb_gid_format(m->dgid, dgid, sizeof dgid);
    if (o->json) {
        printf("{\"sgid\":\"%s\",\"dgid\":\"%s\",", sgid, dgid);
        if (m->slid >= 0) {
            printf("\"slid\":%d,\"dlid\":%d,", m->slid, m->dlid);
        } else {
            printf("\"slid\":null,\"dlid\":null,");
        }
        printf("\"sqpn\":%u,\"dqpn\":%u,\"qkey\":%u,\"pkey\":%u,"
               "\"psn\":%u,", m->sqpn, m->dqpn, m->qkey, m->pkey, m->psn);
        if (m->has_imm) {
            printf("\"imm\":%u,", m->imm);
        } else {
            printf("\"imm\":null,");
        }
        printf("\"len\":%zu,\"payload\":\"", m->len);
        for (size_t i = 0; i < m->len; i++) {
            printf("%02x", m->payload[i]);
        }
        /* Keys added later go last: tests cut lines by field number. */
        printf("\",\"icrc_ok\":%s", m->icrc_ok ? "true" : "false");
        print_json_int("sl", m->sl);
        print_json_int("tclass", m->tclass);
        print_json_int("hop_limit", m->hop_limit);
        print_json_int("flow_label", m->flow_label);
        printf(",\"fecn\":%s,\"becn\":%s}\n", m->fecn ? "true" : "false",
               m->becn ? "true" : "false");
    } else {
        printf("%s -> %s", sgid, dgid);
        if (m->slid >= 0) {
            printf(" slid=%d dlid=%d", m->slid, m->dlid);
        }
        printf(" sqpn=0x%x dqpn=0x%x qkey=0x%08x pkey=0x%04x len=%zu",
               m->sqpn, m->dqpn, m->qkey, m->pkey, m->len);
        if (m->has_imm) {
            printf(" imm=0x%08x", m->imm);
        }
        if (m->sl >= 0) {
            printf(" sl=%d", m->sl);
        }
        if (m->tclass >= 0) {
            printf(" tclass=0x%02x", m->tclass);
        }
        if (m->hop_limit >= 0) {
            printf(" hop_limit=%d", m->hop_limit);
        }
        if (m->flow_label >= 0) {
            printf(" flow_label=0x%05x", m->flow_label);
        }
        printf("%s%s icrc=%s\n", m->fecn ? " fecn" : "",
               m->becn ? " becn" : "", m->icrc_ok ? "ok" : "BAD");
    }
    fflush(stdout);
}

int
host_cmd_send(const struct host_opts *o, const struct host_io *io,
              bool flood)
{
    uint8_t payload[HOST_MAX_PAYLOAD];
    double start = host_now();

    for (unsigned long long i = 0; i < o->count; i++) {
        size_t plen = host_payload(o, payload, i);

        io->send(NULL, i, payload, plen);
        if (o->delay_us) {
            usleep(o->delay_us);
        }
    }
    if (flood) {
        double t = host_now() - start;

        printf("flood: sent %llu packets of %zu bytes in %.3f s: %.0f pkt/s, "
               "%.1f Mbit/s\n", o->count, o->size, t, o->count / t,
               o->count * o->size * 8 / t / 1e6);
    } else {
        printf("sent %llu\n", o->count);
    }
    return 0;
}

int
host_cmd_pingpong(const struct host_opts *o, const struct host_io *io)
{
    uint8_t payload[HOST_MAX_PAYLOAD];
    double min = 1e9, max = 0, sum = 0;
    unsigned long long lost = 0;
    struct host_msg m;

    if (!o->has_dgid) {
        /* Server: echo every datagram to its sender. */
        unsigned long long n = 0;

        while (!o->has_count || n < o->count) {
            int error = io->recv(&m, o->timeout ? host_now() + o->timeout
                                                : 0);

            if (error == ETIMEDOUT) {
                break;
            } else if (error) {
                continue;
            }
            memcpy(payload, m.payload, m.len);
            io->send(&m, m.psn, payload, m.len);
            n++;
        }
        return 0;
    }

    for (unsigned long long i = 0; i < o->count; i++) {
        size_t plen = host_payload(o, payload, i);
        double t0 = host_now(), rtt;
        int error;

        io->send(NULL, i, payload, plen);
        do {
            error = io->recv(&m, t0 + (o->timeout ? o->timeout : 1.0));
        } while (error == EINVAL || (!error && m.psn != i));
        if (error) {
            lost++;
            continue;
        }
        rtt = (host_now() - t0) * 1e6;
        min = rtt < min ? rtt : min;
        max = rtt > max ? rtt : max;
        sum += rtt;
    }
    if (o->count > lost) {
        printf("pingpong: %llu pings, %llu lost, rtt min/avg/max = "
               "%.1f/%.1f/%.1f us\n", o->count, lost, min,
               sum / (o->count - lost), max);
    } else {
        printf("pingpong: %llu pings, all lost\n", o->count);
    }
    return lost ? HOST_EXIT_USAGE : 0;
}

int
host_recv_result(const struct host_opts *o, unsigned long long n)
{
    if (o->count && n < o->count) {
        fprintf(stderr, "%s: timed out after %g s: received %llu of %llu\n",
                host_program_name, o->timeout, n, o->count);
        return HOST_EXIT_USAGE;
    }
    return 0;
}
