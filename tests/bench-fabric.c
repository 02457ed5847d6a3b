/*
 * bench-fabric: packets per second through ibsim-fabric (one sender port,
 * one receiver port, lib/ibport bursts of 32) at 64-byte and 4 KiB
 * payloads, beside a baseline measured in the same run: the same messages
 * relayed by a plain echo process over a SOCK_SEQPACKET socketpair.
 * Prints numbers only; nothing here asserts on time.
 *
 * The two alternate for --rounds rounds and each shows its best round:
 * other load on the machine slows a round down, it never speeds one up,
 * and alternating spreads it over both rather than over one.
 *
 * usage: bench-fabric [--fabric-program=PATH] [--count=N] [--rounds=N]
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ib-crc.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ibb-options.h"
#include "ibport.h"

#define HDRS (IBB_LRH_LEN + IBB_GRH_LEN + IBB_BTH_LEN + IBB_DETH_LEN)
#define TRAILER (IBB_ICRC_LEN + IBB_VCRC_LEN)
#define MAX_PKT (HDRS + 4096 + TRAILER)

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Builds a UD SEND_ONLY packet from 'src' to 'dst' with 'size' bytes. */
static size_t
build(uint8_t *pkt, const struct ibb_port_attr *src,
      const struct ibb_port_attr *dst, size_t size)
{
    struct ibb_lrh *lrh = (struct ibb_lrh *) pkt;
    struct ibb_grh *grh = (struct ibb_grh *) (pkt + IBB_LRH_LEN);
    struct ibb_bth *bth = (struct ibb_bth *) (pkt + IBB_LRH_LEN
                                              + IBB_GRH_LEN);
    struct ibb_deth *deth = (struct ibb_deth *) (pkt + IBB_LRH_LEN
                                                 + IBB_GRH_LEN
                                                 + IBB_BTH_LEN);
    size_t len = HDRS + size + TRAILER;     /* 'size' is a multiple of 4. */

    memset(pkt, 0, len);
    ibb_lrh_set_lnh(lrh, IBB_LNH_GLOBAL);
    ibb_lrh_set_dlid(lrh, dst->lid);
    ibb_lrh_set_slid(lrh, src->lid);
    ibb_lrh_set_pktlen(lrh, (len - IBB_VCRC_LEN) / 4);
    ibb_grh_set_ipver(grh, IBB_GRH_IPVER);
    ibb_grh_set_paylen(grh, len - IBB_LRH_LEN - IBB_GRH_LEN - IBB_VCRC_LEN);
    ibb_grh_set_nxthdr(grh, IBB_GRH_NXTHDR);
    ibb_grh_set_hoplmt(grh, 64);
    memcpy(grh->sgid, src->gid, 16);
    memcpy(grh->dgid, dst->gid, 16);
    ibb_bth_set_opcode(bth, IBB_OP_UD_SEND_ONLY);
    ibb_bth_set_pkey(bth, IBB_DEF_PKEY);
    ibb_bth_set_qpn(bth, 0x100);
    ibb_deth_set_qkey(deth, IBB_DEFAULT_QKEY);
    ibb_deth_set_sqpn(deth, 0x100);
    ibb_icrc_ib_generate(pkt, len - IBB_VCRC_LEN);
    ibb_vcrc_put(pkt + len - IBB_VCRC_LEN,
                 ibb_vcrc16(0, pkt, len - IBB_VCRC_LEN));
    return len;
}

/* Sends 'count' copies of 'pkt' from 'tx' and receives them on 'rx'.
 * Returns packets per second, or -1. */
static double
run_fabric(struct ibb_port *tx, struct ibb_port *rx, uint8_t *pkt,
           size_t len, long count)
{
    static uint8_t rxbuf[IBB_PORT_BURST][MAX_PKT];
    struct ibb_port_buf txb[IBB_PORT_BURST], rxb[IBB_PORT_BURST];
    long sent = 0, got = 0;
    double t0 = now();

    for (int i = 0; i < IBB_PORT_BURST; i++) {
        txb[i].data = pkt;
        txb[i].len = len;
        rxb[i].data = rxbuf[i];
        rxb[i].size = MAX_PKT;
    }
    while (got < count) {
        size_t n;
        int err;

        if (sent < count) {
            size_t want = count - sent < IBB_PORT_BURST ? count - sent
                                                        : IBB_PORT_BURST;

            err = ibb_port_send(tx, txb, want, &n);
            sent += n;
            if (err && err != EAGAIN) {
                fprintf(stderr, "bench-fabric: send: %s\n",
                        ibb_port_error(tx));
                return -1;
            }
        }
        err = ibb_port_recv(rx, rxb, IBB_PORT_BURST, &n);
        got += n;
        if (err == EAGAIN) {
            struct pollfd pfd[2] = {
                { .fd = ibb_port_fd(rx), .events = POLLIN },
                { .fd = ibb_port_fd(tx), .events = POLLOUT },
            };

            poll(pfd, sent < count ? 2 : 1, 1000);
        } else if (err) {
            fprintf(stderr, "bench-fabric: recv: %s\n", ibb_port_error(rx));
            return -1;
        }
    }
    return count / (now() - t0);
}

/* CPU seconds (user and system) that process 'pid' has used, from
 * /proc/PID/stat, or -1. */
static double
proc_cpu(pid_t pid)
{
    unsigned long long utime, stime;
    char path[64], buf[1024];
    const char *p;
    size_t n;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long) pid);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields 14 and 15, counted after the command name's ')'. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%llu %llu", &utime, &stime) != 2) {
        return -1;
    }
    return (double) (utime + stime) / sysconf(_SC_CLK_TCK);
}

/* The baseline: the same messages through an echo process.  Stores the
 * echo process's CPU seconds in '*cpu'. */
static double
run_echo(uint8_t *pkt, size_t len, long count, double *cpu)
{
    static uint8_t buf[MAX_PKT + 64];
    long sent = 0, got = 0;
    int sv[2];
    pid_t pid;
    double t0;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) {
        perror("bench-fabric: socketpair");
        return -1;
    }
    pid = fork();
    if (!pid) {
        ssize_t n;

        close(sv[0]);
        while ((n = recv(sv[1], buf, sizeof buf, 0)) > 0) {
            if (send(sv[1], buf, n, 0) < 0) {
                break;
            }
        }
        _exit(0);
    }
    close(sv[1]);
    t0 = now();
    while (got < count) {
        struct pollfd pfd = { .fd = sv[0],
                              .events = POLLIN | (sent < count ? POLLOUT
                                                               : 0) };

        poll(&pfd, 1, 1000);
        while (sent < count
               && send(sv[0], pkt, len, MSG_DONTWAIT) == (ssize_t) len) {
            sent++;
        }
        while (recv(sv[0], buf, sizeof buf, MSG_DONTWAIT) > 0) {
            got++;
        }
    }
    double pps = count / (now() - t0);
    struct rusage ru;

    close(sv[0]);
    if (wait4(pid, NULL, 0, &ru) < 0) {
        return -1;
    }
    *cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return pps;
}

int
main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"fabric-program", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'c'},
        {"rounds", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *program = "utilities/ibsim-fabric";
    static const size_t sizes[] = { 64, 4096 };
    struct ibb_port_options po = { .mode = IBB_PORT_RAW };
    struct ibb_port_attr a_attr, b_attr;
    struct ibb_port *a = NULL, *b = NULL;
    unsigned long long v;
    char sock[64], dev[80], ctl[80];
    long count = 200000;
    long rounds = 5;
    char *error;
    pid_t fabric;
    int c;

    while ((c = getopt_long(argc, argv, "f:c:r:h", options, NULL)) != -1) {
        switch (c) {
        case 'f':
            program = optarg;
            break;
        case 'c':
            if (!ibb_parse_uint(optarg, 100000000, &v) || !v) {
                fprintf(stderr, "bench-fabric: --count=%s: expected a "
                        "positive number\n", optarg);
                return 1;
            }
            count = v;
            break;
        case 'r':
            if (!ibb_parse_uint(optarg, 1000, &v) || !v) {
                fprintf(stderr, "bench-fabric: --rounds=%s: expected a "
                        "number from 1 to 1000\n", optarg);
                return 1;
            }
            rounds = v;
            break;
        default:
            printf("usage: %s [--fabric-program=PATH (default %s)] "
                   "[--count=N (default %ld)] [--rounds=N (default %ld)]\n",
                   argv[0], program, count, rounds);
            return c == 'h' ? 0 : 1;
        }
    }

    snprintf(sock, sizeof sock, "/tmp/bench-fabric.%ld.sock", (long) getpid());
    snprintf(dev, sizeof dev, "sim:%s", sock);
    snprintf(ctl, sizeof ctl, "--unixctl=/tmp/bench-fabric.%ld.ctl",
             (long) getpid());
    fabric = fork();
    if (!fabric) {
        execl(program, program, "-vconsole:off", ctl, sock, (char *) NULL);
        fprintf(stderr, "bench-fabric: exec %s failed (%s)\n", program,
                strerror(errno));
        _exit(127);
    }
    for (int i = 0; i < 100 && (!a || !b); i++) {
        usleep(50 * 1000);
        if (!a && ibb_port_open(dev, &po, &a, &error)) {
            free(error);
            continue;
        }
        if (!b && ibb_port_open(dev, &po, &b, &error)) {
            free(error);
        }
    }
    if (!a || !b) {
        fprintf(stderr, "bench-fabric: could not attach to %s started by "
                "%s\n", sock, program);
        kill(fabric, SIGTERM);
        return 1;
    }
    ibb_port_query(a, &a_attr);
    ibb_port_query(b, &b_attr);

    /* Throughput depends on what else the machine runs; the CPU time the
     * relay itself spends a packet (the fabric's, the echo process's) much
     * less, so both are printed, each the lowest of the rounds. */
    printf("best of %ld rounds, fabric and echo alternating\n", rounds);
    printf("%-8s %14s %14s %8s %16s %16s %10s\n", "payload", "fabric pkt/s",
           "echo pkt/s", "ratio", "fabric CPU ns", "echo CPU ns",
           "CPU ratio");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        static uint8_t pkt[MAX_PKT];
        size_t len = build(pkt, &a_attr, &b_attr, sizes[i]);
        long n = sizes[i] > 1024 ? count / 4 : count;
        double f = 0, e = 0, fcpu = 1e30, ecpu = 1e30;

        for (long r = 0; r < rounds; r++) {
            double fcpu0 = proc_cpu(fabric);
            double f_r = run_fabric(a, b, pkt, len, n);
            double fcpu_r = proc_cpu(fabric) - fcpu0;
            double ecpu_r = 0;
            double e_r = run_echo(pkt, len, n, &ecpu_r);

            if (f_r < 0 || e_r < 0 || fcpu0 < 0) {
                kill(fabric, SIGTERM);
                return 1;
            }
            f = f_r > f ? f_r : f;
            e = e_r > e ? e_r : e;
            fcpu = fcpu_r < fcpu ? fcpu_r : fcpu;
            ecpu = ecpu_r < ecpu ? ecpu_r : ecpu;
        }
        printf("%-8zu %14.0f %14.0f %8.2f %16.0f %16.0f %10.2f\n",
               sizes[i], f, e, f / e, fcpu / n * 1e9, ecpu / n * 1e9,
               fcpu > 0 ? ecpu / fcpu : 0);
    }
    ibb_port_close(a);
    ibb_port_close(b);
    kill(fabric, SIGTERM);
    waitpid(fabric, NULL, 0);
    return 0;
}
