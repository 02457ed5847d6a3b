/*
 * bench-map: address map lookups at 1k, 100k and 1M hosts, in one run.
 *
 * Each map holds half IB hosts (GID, IPv4 and, while the 48k unicast LIDs
 * last, a LID) and half RoCE hosts (IPv4, IPv6, MAC).  For each size it
 * prints ns per lookup by IP (one by one and in batches of
 * IBB_ADDR_MAP_BATCH), GID, LID and MAC, for addresses picked in random
 * order over the whole map, and for IPs not in the map (each lookup reads
 * a field of the host it finds, as a converter would); then the bytes
 * the map allocates per host, all of them and beyond the 56 key bytes
 * (GID, IPv4 and IPv6 as 16 bytes each, MAC, LID) each record holds.  The
 * last lines give each lookup's time at the largest size over the
 * smallest.  Nothing is asserted but the lookups' results.
 *
 * Usage: bench-map [MAX-HOSTS]   (default 1000000)
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr-map.h"

#define ROUND_LOOKUPS 200000    /* Lookups per round. */
#define N_ROUNDS 15             /* Rounds per case: the fastest counts. */
#define KEY_BYTES 56            /* Key bytes in each record. */
#define N_SIZES 3

enum bench_case {
    CASE_IP,
    CASE_IP_BATCH,
    CASE_GID,
    CASE_LID,
    CASE_MAC,
    CASE_MISS,
    CASE_MISS_BATCH,
    N_CASES
};

static const char *const case_names[N_CASES] = {
    "find_ip", "ip x32", "find_gid", "find_lid", "find_mac", "miss",
    "miss x32",
};

/* The lookups of one case: 'n' keys, in the order they are looked up. */
struct keys {
    uint8_t (*addr)[16];        /* IPs or GIDs. */
    uint8_t (*mac)[6];          /* MACs. */
    uint16_t *lid;              /* LIDs. */
    size_t n;                   /* Number of keys. */
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

/* What the lookups read from the hosts they find goes here, so that a map
 * that returns a host without reading it pays for the read all the
 * same. */
static volatile unsigned int sink;

static uint64_t
rand64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p) {
        fprintf(stderr, "bench-map: out of memory\n");
        exit(1);
    }
    return p;
}

static void
ipv4(uint32_t a, uint8_t ip[16])
{
    memset(ip, 0, 10);
    ip[10] = ip[11] = 0xff;
    ip[12] = a >> 24;
    ip[13] = a >> 16;
    ip[14] = a >> 8;
    ip[15] = a;
}

/* Host 'i': even ones are IB hosts, odd ones RoCE hosts. */
static void
make_host(uint32_t i, struct ibb_host *h)
{
    memset(h, 0, sizeof *h);
    h->has_ipv4 = true;
    ipv4(0x0a000000 + i, h->ipv4);
    if (i % 2 == 0) {
        static const uint8_t prefix[8] = { 0xfe, 0x80 };
        uint64_t guid = 0x0002c90300000000ULL + i;

        h->has_gid = true;
        memcpy(h->gid, prefix, 8);
        for (int b = 0; b < 8; b++) {
            h->gid[15 - b] = guid >> (8 * b);
        }
        h->lid = i / 2 + 1 < 0xc000 ? i / 2 + 1 : 0;
        h->qpn = 0x48 + i % 1024;
    } else {
        h->has_ipv6 = true;
        h->ipv6[0] = 0xfd;
        for (int b = 0; b < 4; b++) {
            h->ipv6[15 - b] = i >> (8 * b);
        }
        h->has_mac = true;
        h->mac[0] = 0x02;
        for (int b = 0; b < 4; b++) {
            h->mac[5 - b] = i >> (8 * b);
        }
    }
}

static void
shuffle(void *base, size_t n, size_t size)
{
    char tmp[16];
    char *p = base;

    for (size_t i = n; i > 1; i--) {
        size_t j = rand64() % i;

        memcpy(tmp, p + (i - 1) * size, size);
        memcpy(p + (i - 1) * size, p + j * size, size);
        memcpy(p + j * size, tmp, size);
    }
}

/* Fills 'keys[c]' for the hosts 0..n-1 of make_host(). */
static void
make_keys(size_t n, struct keys keys[N_CASES])
{
    struct keys *ip = &keys[CASE_IP], *gid = &keys[CASE_GID],
        *lid = &keys[CASE_LID], *mac = &keys[CASE_MAC],
        *miss = &keys[CASE_MISS];

    memset(keys, 0, N_CASES * sizeof *keys);
    ip->addr = xcalloc(n + n / 2 + 1, 16);
    gid->addr = xcalloc(n / 2 + 1, 16);
    lid->lid = xcalloc(n / 2 + 1, sizeof *lid->lid);
    mac->mac = xcalloc(n / 2 + 1, 6);
    miss->addr = xcalloc(n, 16);
    for (size_t i = 0; i < n; i++) {
        struct ibb_host h;

        make_host(i, &h);
        memcpy(ip->addr[ip->n++], h.ipv4, 16);
        if (h.has_ipv6) {
            memcpy(ip->addr[ip->n++], h.ipv6, 16);
        }
        if (h.has_gid) {
            memcpy(gid->addr[gid->n++], h.gid, 16);
        }
        if (h.lid) {
            lid->lid[lid->n++] = h.lid;
        }
        if (h.has_mac) {
            memcpy(mac->mac[mac->n++], h.mac, 6);
        }
        ipv4(0x0b000000 + rand64() % 0x1000000, miss->addr[miss->n++]);
    }
    shuffle(ip->addr, ip->n, 16);
    shuffle(gid->addr, gid->n, 16);
    shuffle(lid->lid, lid->n, sizeof *lid->lid);
    shuffle(mac->mac, mac->n, 6);
    keys[CASE_IP_BATCH] = *ip;
    keys[CASE_MISS_BATCH] = *miss;
}

static void
free_keys(struct keys keys[N_CASES])
{
    free(keys[CASE_IP].addr);
    free(keys[CASE_GID].addr);
    free(keys[CASE_LID].lid);
    free(keys[CASE_MAC].mac);
    free(keys[CASE_MISS].addr);
}

/* Reads host 'h' as a caller would (its LID and MAC) into '*sum';
 * returns whether there is one. */
static inline size_t
use_host(const struct ibb_host *h, unsigned int *sum)
{
    if (!h) {
        return 0;
    }
    *sum += h->lid + h->mac[5];
    return 1;
}

/* Looks up keys 'start' to 'end' - 1 of 'k'; returns how many were
 * found. */
static size_t
run_range(const struct ibb_addr_map *map, enum bench_case c,
          const struct keys *k, size_t start, size_t end)
{
    unsigned int sum = 0;
    size_t found = 0;

    switch (c) {
    case CASE_IP:
    case CASE_MISS:
        for (size_t i = start; i < end; i++) {
            found += use_host(ibb_addr_map_find_ip(map, k->addr[i]), &sum);
        }
        break;
    case CASE_IP_BATCH:
    case CASE_MISS_BATCH:
        for (size_t i = start; i < end; i += IBB_ADDR_MAP_BATCH) {
            const struct ibb_host *hosts[IBB_ADDR_MAP_BATCH];
            const uint8_t *ips[IBB_ADDR_MAP_BATCH];
            size_t n = (end - i < IBB_ADDR_MAP_BATCH
                        ? end - i : IBB_ADDR_MAP_BATCH);

            for (size_t j = 0; j < n; j++) {
                ips[j] = k->addr[i + j];
            }
            ibb_addr_map_find_ip_batch(map, ips, n, hosts);
            for (size_t j = 0; j < n; j++) {
                found += use_host(hosts[j], &sum);
            }
        }
        break;
    case CASE_GID:
        for (size_t i = start; i < end; i++) {
            found += use_host(ibb_addr_map_find_gid(map, k->addr[i]),
                              &sum);
        }
        break;
    case CASE_LID:
        for (size_t i = start; i < end; i++) {
            found += use_host(ibb_addr_map_find_lid(map, k->lid[i]), &sum);
        }
        break;
    case CASE_MAC:
        for (size_t i = start; i < end; i++) {
            found += use_host(ibb_addr_map_find_mac(map, k->mac[i]), &sum);
        }
        break;
    case N_CASES:
    default:
        abort();
    }
    sink += sum;
    return found;
}

/* Returns ns per lookup of case 'c', after checking one untimed pass over
 * all its keys: the fastest of N_ROUNDS rounds of ROUND_LOOKUPS lookups
 * each (going on through the keys where the last one stopped), since other
 * processes on a shared machine only ever slow a round down. */
static double
time_case(const struct ibb_addr_map *map, enum bench_case c,
          const struct keys *k)
{
    bool miss = c == CASE_MISS || c == CASE_MISS_BATCH;
    size_t found = run_range(map, c, k, 0, k->n);
    double best = 1e9;
    size_t next = 0;

    if (found != (miss ? 0 : k->n)) {
        fprintf(stderr, "bench-map: %s: %zu of %zu keys found\n",
                case_names[c], found, k->n);
        exit(1);
    }
    for (int r = 0; r < N_ROUNDS; r++) {
        double t0 = now(), ns;
        size_t n = 0;

        while (n < ROUND_LOOKUPS) {
            size_t end = (k->n - next < ROUND_LOOKUPS - n
                          ? k->n : next + (ROUND_LOOKUPS - n));

            found += run_range(map, c, k, next, end);
            n += end - next;
            next = end == k->n ? 0 : end;
        }
        ns = (now() - t0) * 1e9 / ROUND_LOOKUPS;
        best = ns < best ? ns : best;
    }
    return best;
}

int
main(int argc, char *argv[])
{
    size_t sizes[N_SIZES] = { 1000, 100000, 1000000 };
    double ns[N_SIZES][N_CASES];

    if (argc > 1) {
        char *end;
        long n = strtol(argv[1], &end, 10);

        if (*end || n < 1000 || n > 100000000) {
            fprintf(stderr, "bench-map: bad MAX-HOSTS \"%s\"\n", argv[1]);
            return 1;
        }
        sizes[N_SIZES - 1] = n;
    }

    printf("# bench-map: ns per lookup, keys in random order over the "
           "whole map; x32 = batches of %d\n", IBB_ADDR_MAP_BATCH);
    printf("%8s %8s", "hosts", "add");
    for (int c = 0; c < N_CASES; c++) {
        printf(" %8s", case_names[c]);
    }
    printf(" %9s %9s\n", "B/host", "-keys");

    for (int s = 0; s < N_SIZES; s++) {
        struct ibb_addr_map *map = ibb_addr_map_create();
        struct keys keys[N_CASES];
        double t0, t_add, bytes;

        if (!map) {
            fprintf(stderr, "bench-map: out of memory\n");
            return 1;
        }
        make_keys(sizes[s], keys);
        t0 = now();
        for (size_t i = 0; i < sizes[s]; i++) {
            struct ibb_host h;
            int error;

            make_host(i, &h);
            error = ibb_addr_map_add_host(map, &h);
            if (error) {
                fprintf(stderr, "bench-map: host %zu: %s\n", i,
                        strerror(error));
                return 1;
            }
        }
        t_add = (now() - t0) * 1e9 / sizes[s];
        bytes = (double) ibb_addr_map_bytes(map) / sizes[s];

        printf("%8zu %8.1f", sizes[s], t_add);
        fflush(stdout);
        for (int c = 0; c < N_CASES; c++) {
            ns[s][c] = time_case(map, c, &keys[c]);
            printf(" %8.1f", ns[s][c]);
            fflush(stdout);
        }
        printf(" %9.1f %9.1f\n", bytes, bytes - KEY_BYTES);
        free_keys(keys);
        ibb_addr_map_destroy(map);
    }

    printf("%8s %8s", "ratio", "");
    for (int c = 0; c < N_CASES; c++) {
        printf(" %7.2fx", ns[N_SIZES - 1][c] / ns[0][c]);
    }
    printf("   (%zu hosts over %zu)\n", sizes[N_SIZES - 1], sizes[0]);
    return 0;
}
