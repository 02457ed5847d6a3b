/*
 * bench-joins: time to join 1,000 and 10,000 multicast groups on the
 * simulated fabric, and memory per group, the bridge's way (asynchronous
 * joins through lib/ibb-join, paced at the default rate and unpaced)
 * beside a baseline measured in the same run: a plain client joining the
 * same number of groups one after the other, each waiting for its answer
 * (the synchronous lib/ibport-sim join, as ibsim-host does).  Each run
 * uses a fresh port and fresh MGIDs; closing the port drops its groups.
 * Prints numbers only; nothing here asserts on time.
 *
 * usage: bench-joins [--fabric-program=PATH]
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr-map.h"
#include "ib-gid.h"
#include "ib-mcast.h"
#include "ibb-join.h"
#include "ibb-options.h"
#include "ibport.h"

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

#ifdef __SANITIZE_ADDRESS__
/* From <sanitizer/allocator_interface.h>, which not every compiler
 * installs. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Heap bytes in use: AddressSanitizer's count when it replaces malloc
 * (mallinfo2() then sees nothing), else glibc's. */
static size_t
heap_used(void)
{
#ifdef __SANITIZE_ADDRESS__
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

/* The MGID of the 'i'th group of run 'run': 239.R.x.y in IPoIB form. */
static void
group_mgid(int run, int i, uint8_t mgid[16])
{
    uint8_t ip[16] = { [10] = 0xff, [11] = 0xff, [12] = 239 };

    ip[13] = run;
    ip[14] = i / 250;
    ip[15] = i % 250 + 1;
    ibb_mcast_ip_to_mgid(IBB_MGID_IPOIB, ip, IBB_DEFAULT_PKEY,
                         IBB_MCAST_SCOPE_LINK, mgid);
}

static struct ibb_port *
open_port(const char *dev, bool async, unsigned int rate)
{
    struct ibb_port_options po = {
        .mode = IBB_PORT_STRICT,
        .async_joins = async,
        .join_rate = rate,
    };
    struct ibb_port *port;
    char *error;

    if (ibb_port_open(dev, &po, &port, &error)) {
        fprintf(stderr, "bench-joins: %s\n", error);
        free(error);
        return NULL;
    }
    return port;
}

/* Joins 'n' groups of run 'run' on a fresh port; returns the seconds
 * until all were joined (-1 on error) and the heap bytes per group the
 * port held in '*bytes'. */
static double
run_joins(const char *dev, int run, int n, bool async, unsigned int rate,
          double *bytes)
{
    struct ibb_port *port = open_port(dev, async, rate);
    size_t heap0;
    double t0, t;
    int joined = 0;

    if (!port) {
        return -1;
    }
    heap0 = heap_used();
    t0 = now();
    for (int i = 0; i < n; i++) {
        uint8_t mgid[16];
        uint16_t mlid;

        group_mgid(run, i, mgid);
        if (ibb_port_mcast_join(port, mgid, IBB_MCAST_FULL,
                                IBB_DEFAULT_QKEY, 0, &mlid)) {
            fprintf(stderr, "bench-joins: join failed: %s\n",
                    ibb_port_error(port));
            ibb_port_close(port);
            return -1;
        }
        joined += !async;
    }
    *bytes = (double) (heap_used() - heap0) / n;
    while (joined < n) {
        struct pollfd pfd = { .fd = ibb_port_fd(port), .events = POLLIN };
        long long wake = ibb_port_next_wakeup(port);
        long long left = wake == LLONG_MAX ? 1000 : wake - ibb_port_now_ms();
        struct ibb_mcast_status st;
        uint8_t mgid[16];

        if (left > 0) {
            poll(&pfd, 1, left > 1000 ? 1000 : left);
        }
        ibb_port_run(port);
        while (ibb_port_mcast_take_changed(port, mgid, &st)) {
            if (st.state == IBB_MCAST_JOINED) {
                joined++;
            } else if (st.state == IBB_MCAST_FAILED) {
                fprintf(stderr, "bench-joins: join failed: %s\n", st.why);
                ibb_port_close(port);
                return -1;
            }
        }
        if (now() - t0 > 120) {
            fprintf(stderr, "bench-joins: %d of %d joined after 120 s\n",
                    joined, n);
            ibb_port_close(port);
            return -1;
        }
    }
    t = now() - t0;
    ibb_port_close(port);
    /* Let the fabric drop the port and its groups. */
    usleep(200 * 1000);
    return t;
}

/* Heap bytes per group of the address map's group entries (the plugin
 * records each joined group there, with its counters). */
static double
map_bytes_per_group(int n)
{
    struct ibb_addr_map *map;
    size_t heap0 = heap_used();
    double b;

    map = ibb_addr_map_create();
    for (int i = 0; i < n; i++) {
        struct ibb_group g = { .format = IBB_MGID_IPOIB,
                               .pkey = IBB_DEFAULT_PKEY,
                               .scope = IBB_MCAST_SCOPE_LINK };

        g.ip[10] = g.ip[11] = 0xff;
        g.ip[12] = 239;
        g.ip[14] = i / 250;
        g.ip[15] = i % 250 + 1;
        ibb_addr_map_add_group(map, &g);
    }
    b = (double) (heap_used() - heap0) / n;
    ibb_addr_map_destroy(map);
    return b;
}

int
main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"fabric-program", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *program = "utilities/ibsim-fabric";
    static const int counts[] = { 1000, 10000 };
    char sock[64], dev[80], ctl[80];
    struct ibb_port *probe = NULL;
    pid_t fabric;
    int run = 1;
    int c;

    while ((c = getopt_long(argc, argv, "f:h", options, NULL)) != -1) {
        switch (c) {
        case 'f':
            program = optarg;
            break;
        default:
            printf("usage: %s [--fabric-program=PATH (default %s)]\n",
                   argv[0], program);
            return c == 'h' ? 0 : 1;
        }
    }

    snprintf(sock, sizeof sock, "/tmp/bench-joins.%ld.sock", (long) getpid());
    snprintf(dev, sizeof dev, "sim:%s", sock);
    snprintf(ctl, sizeof ctl, "--unixctl=/tmp/bench-joins.%ld.ctl",
             (long) getpid());
    fabric = fork();
    if (!fabric) {
        execl(program, program, "-vconsole:off", ctl, sock, (char *) NULL);
        fprintf(stderr, "bench-joins: exec %s failed (%s)\n", program,
                strerror(errno));
        _exit(127);
    }
    for (int i = 0; i < 100 && !probe; i++) {
        char *error;

        usleep(50 * 1000);
        if (ibb_port_open(dev, NULL, &probe, &error)) {
            free(error);
        }
    }
    if (!probe) {
        fprintf(stderr, "bench-joins: could not attach to %s started by "
                "%s\n", sock, program);
        kill(fabric, SIGTERM);
        return 1;
    }
    ibb_port_close(probe);

    printf("%-7s %-30s %10s %10s %9s %12s\n", "groups", "joins by",
           "seconds", "joins/s", "vs plain", "port B/group");
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        int n = counts[i];
        double base_b, b;
        double base = run_joins(dev, run++, n, false, 0, &base_b);
        struct {
            const char *what;
            unsigned int rate;
        } modes[] = {
            { "bridge, unpaced (100000/s)", IBB_JOIN_MAX_RATE },
            { "bridge, default rate 1000/s", 0 },
        };

        if (base < 0) {
            kill(fabric, SIGTERM);
            return 1;
        }
        printf("%-7d %-30s %10.3f %10.0f %9s %12.0f\n", n,
               "plain client, one at a time", base, n / base, "1.00",
               base_b);
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            double t = run_joins(dev, run++, n, true, modes[m].rate, &b);
            char ratio[16];

            if (t < 0) {
                kill(fabric, SIGTERM);
                return 1;
            }
            snprintf(ratio, sizeof ratio, "%.2f", t / base);
            printf("%-7d %-30s %10.3f %10.0f %9s %12.0f\n", n,
                   modes[m].what, t, n / t, ratio, b);
        }
    }
    printf("address map group entry (plugin side, with counters): %.0f "
           "B/group; join table entry: %zu B\n", map_bytes_per_group(10000),
           ibb_join_entry_size());
    kill(fabric, SIGTERM);
    waitpid(fabric, NULL, 0);
    return 0;
}
