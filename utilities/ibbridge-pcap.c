/*
 * ibbridge-pcap: convert packet captures between native InfiniBand UD and
 * RoCEv2 with the bridge's own converters (lib/ud-to-roce.h,
 * lib/roce-to-ud.h), to see and debug conversions offline.
 *
 *   ibbridge-pcap to-roce IN.pcap OUT.pcap   IB (ERF or raw) -> Ethernet
 *   ibbridge-pcap to-ib IN.pcap OUT.pcap     Ethernet -> IB (ERF)
 *
 * Plain C on lib/libibbridge.la only.  See utilities/ibbridge-pcap.1.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr-map.h"
#include "ib-gid.h"
#include "ibb-conv.h"
#include "ibb-drop.h"
#include "ibb-flow-cache.h"
#include "ibb-options.h"
#include "ibb-pcap.h"
#include "ibb-version.h"
#include "roce-to-ud.h"
#include "ud-to-roce.h"

#define PROGRAM "ibbridge-pcap"

#define DEFAULT_BRIDGE_MAC "02:00:00:00:00:01"
#define DEFAULT_BRIDGE_LID 1
#define DEFAULT_BRIDGE_GID "fe80::1"

enum command {
    CMD_TO_ROCE,                /* IB -> RoCEv2. */
    CMD_TO_IB,                  /* RoCEv2 -> IB. */
};

/* What the command line asks for. */
struct options {
    enum command command;       /* to-roce or to-ib. */
    const char *command_name;   /* Its name, as typed. */
    const char *in_file;        /* Input pcap. */
    const char *out_file;       /* Output pcap. */
    const char *map_file;       /* JSON address map, or NULL. */
    struct ibb_conv_config conv; /* Converter settings. */
    bool json;                  /* Summary as JSON. */
    bool verbose;               /* One line per packet on stderr. */
};

/* Counts for the summary. */
struct summary {
    unsigned long long n_read;      /* Records read. */
    unsigned long long n_converted; /* Converted and written. */
    unsigned long long n_dropped;   /* Refused by the converter. */
    unsigned long long n_skipped;   /* ERF records that are not IB. */
    unsigned long long drops[IBB_DROP_N_REASONS]; /* Per reason. */
};

static void
usage(void)
{
    printf("%s: convert captures between InfiniBand UD and RoCEv2 with "
           "the\nibbridge converters\n"
           "usage: %s to-roce IN.pcap OUT.pcap [OPTIONS]\n"
           "       %s to-ib IN.pcap OUT.pcap [OPTIONS]\n"
           "\nCommands:\n"
           "  to-roce   native IB packets (pcap link type 197 ERF with "
           "record type 21,\n"
           "            or 247 raw InfiniBand) to RoCEv2 Ethernet frames "
           "(link type 1)\n"
           "  to-ib     RoCEv2 Ethernet frames (link type 1) to native IB "
           "packets\n"
           "            (link type 197 ERF, record type 21, as ibdump "
           "writes)\n"
           "\nOptions:\n"
           "  -m, --map=FILE          JSON address map (see the man page; "
           "default: empty)\n"
           "  -M, --bridge-mac=MAC    Ethernet source of RoCEv2 frames "
           "(default %s)\n"
           "  -l, --bridge-lid=N      SLID of IB packets (default %d)\n"
           "  -g, --bridge-gid=GID    bridge port GID; its upper 64 bits "
           "are the IB\n"
           "                          subnet prefix (default %s)\n"
           "  -s, --sl-map=DSCP:SL,...  IB SL per IP DSCP (default SL = "
           "DSCP >> 3)\n"
           "  -H, --no-grh-hop-limit=N  TTL/hop limit for IB packets "
           "without a GRH\n"
           "                          (default 64)\n"
           "  --no-icrc-check         convert packets whose incoming ICRC is "
           "bad\n"
           "                          (default: drop them)\n"
           "  --no-vcrc-check         convert IB packets whose VCRC is bad "
           "(default: drop)\n"
           "  --no-ib-crcs            to-ib: leave ICRC and VCRC zero, as "
           "for an HCA that\n"
           "                          computes them (default: compute "
           "them)\n"
           "  --udp-csum=MODE         to-roce: which frames get a UDP "
           "checksum: all,\n"
           "                          ipv6 (0 over IPv4) or none (0, as "
           "HCAs send)\n"
           "                          (default all)\n"
           "  --no-ipv4-udp-csum      same as --udp-csum=ipv6\n"
           "  --udp-csum-check        to-ib: drop frames with a bad nonzero "
           "UDP checksum\n"
           "                          (default: the ICRC covers the "
           "payload)\n"
           "  -j, --json              print the summary as JSON\n"
           "  -v, --verbose           print one line per packet on stderr\n"
           "  -h, --help              print this help and exit\n"
           "  -V, --version           print the version and exit\n"
           "\nPrints a summary: packets read, converted and dropped per "
           "reason.\n"
           "Exit status: 0 converted (even if packets were dropped), 1 "
           "error.\n",
           PROGRAM, PROGRAM, PROGRAM, DEFAULT_BRIDGE_MAC, DEFAULT_BRIDGE_LID,
           DEFAULT_BRIDGE_GID);
}

static void __attribute__((format(printf, 1, 2), noreturn))
fatal(const char *format, ...)
{
    va_list args;

    fprintf(stderr, "%s: ", PROGRAM);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

static void
parse_options(int argc, char *argv[], struct options *o)
{
    enum {
        OPT_NO_ICRC_CHECK = UCHAR_MAX + 1,
        OPT_NO_VCRC_CHECK,
        OPT_NO_IB_CRCS,
        OPT_NO_IPV4_UDP_CSUM,
        OPT_UDP_CSUM,
        OPT_UDP_CSUM_CHECK,
    };
    static const struct option long_options[] = {
        {"map", required_argument, NULL, 'm'},
        {"bridge-mac", required_argument, NULL, 'M'},
        {"bridge-lid", required_argument, NULL, 'l'},
        {"bridge-gid", required_argument, NULL, 'g'},
        {"sl-map", required_argument, NULL, 's'},
        {"no-grh-hop-limit", required_argument, NULL, 'H'},
        {"no-icrc-check", no_argument, NULL, OPT_NO_ICRC_CHECK},
        {"no-vcrc-check", no_argument, NULL, OPT_NO_VCRC_CHECK},
        {"no-ib-crcs", no_argument, NULL, OPT_NO_IB_CRCS},
        {"no-ipv4-udp-csum", no_argument, NULL, OPT_NO_IPV4_UDP_CSUM},
        {"udp-csum", required_argument, NULL, OPT_UDP_CSUM},
        {"udp-csum-check", no_argument, NULL, OPT_UDP_CSUM_CHECK},
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *mac = DEFAULT_BRIDGE_MAC;
    const char *gid = DEFAULT_BRIDGE_GID;
    unsigned long long value;
    char *err;

    memset(o, 0, sizeof *o);
    ibb_conv_config_init(&o->conv);
    o->conv.bridge_lid = DEFAULT_BRIDGE_LID;

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":m:M:l:g:s:H:jvhV", long_options,
                            NULL);

        if (c == -1) {
            break;
        }
        switch (c) {
        case 'm':
            o->map_file = optarg;
            break;
        case 'M':
            mac = optarg;
            break;
        case 'l':
            if (!ibb_parse_uint(optarg, 0xbfff, &value) || !value) {
                fatal("--bridge-lid=%s: expected a unicast LID from 1 to "
                      "0xbfff", optarg);
            }
            o->conv.bridge_lid = value;
            break;
        case 'g':
            gid = optarg;
            break;
        case 's':
            if (ibb_parse_sl_map(optarg, o->conv.sl_map, &err)) {
                fatal("--sl-map: %s", err);
            }
            break;
        case 'H':
            if (!ibb_parse_uint(optarg, 255, &value) || !value) {
                fatal("--no-grh-hop-limit=%s: expected a number from 1 to "
                      "255", optarg);
            }
            o->conv.no_grh_hop_limit = value;
            break;
        case OPT_NO_ICRC_CHECK:
            o->conv.check_ib_icrc = false;
            o->conv.check_roce_icrc = false;
            break;
        case OPT_NO_VCRC_CHECK:
            o->conv.check_vcrc = false;
            break;
        case OPT_NO_IB_CRCS:
            o->conv.gen_ib_crcs = false;
            break;
        case OPT_NO_IPV4_UDP_CSUM:
            o->conv.udp_csum = IBB_UDP_CSUM_IPV6;
            break;
        case OPT_UDP_CSUM:
            if (ibb_parse_udp_csum(optarg, &o->conv.udp_csum, &err)) {
                fatal("--%s", err);
            }
            break;
        case OPT_UDP_CSUM_CHECK:
            o->conv.check_udp_csum = true;
            break;
        case 'j':
            o->json = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage();
            exit(0);
        case 'V':
            printf("%s (ibbridge) %s\n", PROGRAM, IBB_VERSION);
            exit(0);
        case ':':
            fatal("option %s needs a value (use --help for usage)",
                  argv[optind - 1]);
        case '?':
        default:
            if (!strncmp(argv[optind - 1], "--", 2)) {
                if (optopt) {
                    fatal("option %s takes no value (use --help for usage)",
                          argv[optind - 1]);
                }
                fatal("unknown option %s (use --help for usage)",
                      argv[optind - 1]);
            }
            fatal("unknown option -%c (use --help for usage)", optopt);
        }
    }

    if (ibb_parse_mac(mac, o->conv.bridge_mac, &err)) {
        fatal("--bridge-mac: %s", err);
    }
    if (ibb_gid_parse(gid, o->conv.bridge_gid)
        || ibb_gid_is_multicast(o->conv.bridge_gid)
        || ibb_gid_is_zero(o->conv.bridge_gid)) {
        fatal("--bridge-gid=%s: expected a unicast GID such as %s", gid,
              DEFAULT_BRIDGE_GID);
    }

    if (argc - optind != 3) {
        fatal("expected a command, an input and an output file, got %d "
              "argument%s (use --help for usage)", argc - optind,
              argc - optind == 1 ? "" : "s");
    }
    o->command_name = argv[optind];
    if (!strcmp(o->command_name, "to-roce")) {
        o->command = CMD_TO_ROCE;
    } else if (!strcmp(o->command_name, "to-ib")) {
        o->command = CMD_TO_IB;
    } else {
        fatal("unknown command \"%s\" (expected to-roce or to-ib)",
              o->command_name);
    }
    o->in_file = argv[optind + 1];
    o->out_file = argv[optind + 2];
}

/* Checks that the input's link type suits the command. */
static void
check_linktype(const struct options *o, uint32_t linktype)
{
    const char *name = ibb_pcap_linktype_name(linktype);
    bool ok;

    if (o->command == CMD_TO_ROCE) {
        ok = (linktype == IBB_PCAP_LINKTYPE_ERF
              || linktype == IBB_PCAP_LINKTYPE_INFINIBAND);
    } else {
        ok = linktype == IBB_PCAP_LINKTYPE_ETHERNET;
    }
    if (!ok) {
        fatal("%s: link type %"PRIu32"%s%s%s is not what %s reads (%s)",
              o->in_file, linktype, name ? " (" : "", name ? name : "",
              name ? ")" : "", o->command_name,
              o->command == CMD_TO_ROCE
              ? "197 ERF or 247 InfiniBand" : "1 Ethernet");
    }
}

/* Fails if 'a' and 'b' name the same existing file: writing the output
 * would destroy the input. */
static void
check_not_same_file(const char *in, const char *out)
{
    struct stat si, so;

    if (!stat(in, &si) && !stat(out, &so)
        && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
        fatal("%s: input and output are the same file", out);
    }
}

static void
print_summary(const struct options *o, const struct summary *s)
{
    if (o->json) {
        bool first = true;

        printf("{\"command\": \"%s\", \"read\": %llu, \"converted\": %llu, "
               "\"dropped\": %llu, \"skipped\": %llu, \"drops\": {",
               o->command_name, s->n_read, s->n_converted, s->n_dropped,
               s->n_skipped);
        for (int i = 1; i < IBB_DROP_N_REASONS; i++) {
            if (s->drops[i]) {
                printf("%s\"%s\": %llu", first ? "" : ", ",
                       ibb_drop_name(i), s->drops[i]);
                first = false;
            }
        }
        printf("}}\n");
        return;
    }

    printf("%s: %s -> %s\n", o->command_name, o->in_file, o->out_file);
    printf("packets read: %llu\n", s->n_read);
    printf("converted:    %llu\n", s->n_converted);
    printf("dropped:      %llu\n", s->n_dropped);
    for (int i = 1; i < IBB_DROP_N_REASONS; i++) {
        if (s->drops[i]) {
            printf("  %-16s %llu  (%s)\n", ibb_drop_name(i), s->drops[i],
                   ibb_drop_desc(i));
        }
    }
    if (s->n_skipped) {
        printf("skipped:      %llu  (ERF records not of type %d, "
               "InfiniBand)\n", s->n_skipped, IBB_ERF_TYPE_INFINIBAND);
    }
}

int
main(int argc, char *argv[])
{
    struct ibb_pcap_reader *reader = NULL;
    struct ibb_pcap_writer *writer = NULL;
    struct ibb_addr_map *map;
    struct summary s;
    struct options o;
    uint8_t *scratch;
    char err[PATH_MAX + 512];   /* Names the files. */
    int error;

    parse_options(argc, argv, &o);
    memset(&s, 0, sizeof s);

    map = ibb_addr_map_create();
    if (!map) {
        fatal("could not create the address map (out of memory)");
    }
    if (o.map_file
        && ibb_addr_map_load_json_file(map, o.map_file, err, sizeof err)) {
        fatal("could not load address map: %s", err);
    }
    /* As a port converts: what a flow resolved is kept for its next
     * packets. */
    o.conv.flows = ibb_flow_cache_create();
    if (!o.conv.flows) {
        fatal("out of memory");
    }

    error = ibb_pcap_reader_open(o.in_file, &reader, err, sizeof err);
    if (error) {
        fatal("%s: %s", o.in_file, err);
    }
    check_linktype(&o, ibb_pcap_reader_linktype(reader));
    check_not_same_file(o.in_file, o.out_file);
    error = ibb_pcap_writer_open(o.out_file,
                                 o.command == CMD_TO_ROCE
                                 ? IBB_PCAP_LINKTYPE_ETHERNET
                                 : IBB_PCAP_LINKTYPE_ERF,
                                 &writer, err, sizeof err);
    if (error) {
        fatal("%s: %s", o.out_file, err);
    }

    scratch = malloc(IBB_PCAP_MAX_RECORD);
    if (!scratch) {
        fatal("out of memory");
    }
    for (;;) {
        struct ibb_pcap_rec rec;
        enum ibb_drop reason;
        struct ibb_buf b;

        error = ibb_pcap_read(reader, &rec, scratch, IBB_PCAP_MAX_RECORD,
                              err, sizeof err);
        if (error == EOF) {
            break;
        } else if (error) {
            ibb_pcap_writer_close(writer);
            fatal("%s: %s", o.in_file, err);
        }
        s.n_read++;
        if (rec.erf_type >= 0 && rec.erf_type != IBB_ERF_TYPE_INFINIBAND) {
            s.n_skipped++;
            if (o.verbose) {
                fprintf(stderr, "%s: record %llu: skipped: ERF type %d\n",
                        PROGRAM, s.n_read, rec.erf_type);
            }
            continue;
        }

        /* Each packet in a buffer of its own, exactly as large as the
         * converters need, so that a sanitizer catches any overrun. */
        b.size = IBB_CONV_HEADROOM + rec.len + IBB_CONV_TAILROOM;
        b.base = malloc(b.size);
        if (!b.base) {
            fatal("out of memory");
        }
        b.ofs = IBB_CONV_HEADROOM;
        b.len = rec.len;
        memcpy(b.base + b.ofs, scratch, rec.len);

        reason = (o.command == CMD_TO_ROCE
                  ? ibb_ud_to_roce(&o.conv, map, &b)
                  : ibb_roce_to_ud(&o.conv, map, &b));
        if (reason == IBB_DROP_NONE) {
            if (o.verbose) {
                fprintf(stderr, "%s: record %llu: converted, %"PRIu32" -> "
                        "%zu bytes\n", PROGRAM, s.n_read, rec.len, b.len);
            }
            error = ibb_pcap_write(writer, &rec, ibb_buf_data(&b), b.len);
            if (error) {
                fatal("%s: write failed (%s)", o.out_file, strerror(error));
            }
            s.n_converted++;
        } else {
            if (o.verbose) {
                fprintf(stderr, "%s: record %llu: dropped: %s (%s)\n",
                        PROGRAM, s.n_read, ibb_drop_name(reason),
                        ibb_drop_desc(reason));
            }
            s.n_dropped++;
            s.drops[reason < IBB_DROP_N_REASONS ? reason : 0]++;
        }
        free(b.base);
    }
    free(scratch);
    ibb_pcap_reader_close(reader);
    error = ibb_pcap_writer_close(writer);
    if (error) {
        fatal("%s: write failed (%s)", o.out_file, strerror(error));
    }
    ibb_flow_cache_destroy(o.conv.flows);
    ibb_addr_map_destroy(map);

    print_summary(&o, &s);
    return 0;
}
