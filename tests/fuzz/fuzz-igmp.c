/*
 * libFuzzer target: IGMP and MLD (lib/ibb-igmp.h, lib/ibb-igmp-host.h).
 * Properties: no crash or leak; a parsed query is consistent (version 1
 * to 3, MLD from v2 on, a zero or multicast group of its own family);
 * taken by a host that is a member of a few groups, it makes the host
 * send only messages that parse back as good IGMP or MLD (not malformed,
 * not queries) and fit an Ethernet MTU, and its timers come to an end.
 * A parsed report or leave gives records of known types for multicast
 * groups of its family; a listener (lib/ibb-mcast-listen.h) that takes it
 * wants only groups within its ranges, and forgets them all once their
 * timers run out.
 */
#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ib-gid.h"
#include "ibb-igmp.h"
#include "ibb-igmp-host.h"
#include "ibb-mcast-listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(COND) do { if (!(COND)) { abort(); } } while (0)

static void
check_sent(const uint8_t *frame, size_t len, enum ibb_igmp_sent what,
           void *n_)
{
    struct ibb_igmp_query q;
    size_t *n = n_;

    (void) what;
    CHECK(len >= 60 && len <= IBB_IGMP_FRAME_MAX);
    CHECK(ibb_igmp_parse(frame, len, &q) == IBB_IGMP_OTHER);
    *n += 1;
}

static void
check_report(struct ibb_igmp_report *r)
{
    struct ibb_listen_config cfg = { 0 };
    struct ibb_igmp_report copy = *r;
    struct ibb_igmp_record rec;
    struct ibb_listen *l;
    unsigned int n_sources;
    size_t n = 0;
    uint8_t group[16];
    bool wanted;

    CHECK(r->level >= 1 && r->level <= 3);
    while (ibb_igmp_report_next(&copy, &rec, &n_sources)) {
        CHECK(rec.type >= IBB_IGMP_IS_IN && rec.type <= IBB_IGMP_BLOCK);
        CHECK(ibb_ip_is_multicast(rec.group));
        CHECK(ibb_gid_is_v4mapped(rec.group) == !r->ipv6);
        n++;
    }
    CHECK(n == r->n_records);

    l = ibb_listen_create(&cfg);
    CHECK(l);
    ibb_listen_report(l, r, 1000);
    while (ibb_listen_take_change(l, group, &wanted)) {
        CHECK(wanted && ibb_listen_in_range(&cfg, group));
    }
    CHECK(ibb_listen_n_groups(l) <= n);
    ibb_listen_run(l, ibb_listen_next(l));
    CHECK(ibb_listen_n_groups(l) == 0);
    CHECK(ibb_listen_next(l) == LLONG_MAX);
    ibb_listen_destroy(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const groups[] = { "239.1.1.1", "239.2.2.2",
                                          "ff0e::1:2" };
    struct ibb_igmp_host_config cfg;
    struct ibb_igmp_host *h;
    struct ibb_igmp_query q;
    long long int t;
    uint8_t g[16];
    struct ibb_igmp_report r;
    size_t n = 0;

    if (ibb_igmp_parse_report(data, size, &r) == IBB_IGMP_MEMBERSHIP) {
        check_report(&r);
        return 0;
    }
    if (ibb_igmp_parse(data, size, &q) != IBB_IGMP_QUERY) {
        return 0;
    }
    CHECK(q.level >= 1 && q.level <= 3);
    CHECK(!q.ipv6 || q.level >= 2);
    CHECK(ibb_ip_is_unspecified(q.group)
          || (ibb_ip_is_multicast(q.group)
              && ibb_gid_is_v4mapped(q.group) == !q.ipv6));

    memset(&cfg, 0, sizeof cfg);
    cfg.igmp_level = 3;
    cfg.mld_level = 3;
    memcpy(cfg.src.mac, "\x02\x1b\x00\x00\x00\x01", 6);
    ibb_igmp_link_local(cfg.src.mac, cfg.src.ipv6);
    h = ibb_igmp_host_create(&cfg, size);
    CHECK(h);
    ibb_igmp_host_begin_update(h);
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        CHECK(!ibb_gid_parse(groups[i], g));
        CHECK(!ibb_igmp_host_want(h, g, 0));
    }
    if (!ibb_ip_is_unspecified(q.group)) {
        CHECK(!ibb_igmp_host_want(h, q.group, 0));
    }
    ibb_igmp_host_end_update(h, 0);
    ibb_igmp_host_run(h, 0, check_sent, &n);
    CHECK(n == 2);
    CHECK(ibb_igmp_host_query(h, &q, 500));
    /* Again while its answer is pending: a group-and-source query's
     * sources add up (each once), a group query's answer stays one. */
    CHECK(ibb_igmp_host_query(h, &q, 501));

    /* Everything goes within the longest Max Resp Time and the Older
     * Version Querier Present Timeout, in a bounded number of steps. */
    for (int i = 0; i < 64 && (t = ibb_igmp_host_next(h)) != LLONG_MAX;
         i++) {
        CHECK(t >= 0);
        ibb_igmp_host_run(h, t, check_sent, &n);
    }
    CHECK(ibb_igmp_host_next(h) == LLONG_MAX);
    ibb_igmp_host_destroy(h);
    return 0;
}
