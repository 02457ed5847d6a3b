/*
 * The host side of IGMP (RFC 2236, RFC 3376) and MLD (RFC 2710, RFC 3810)
 * for a set of groups: what the bridge's port says, on the Ethernet side,
 * about the groups it bridges from IB, so that snooping switches forward
 * those groups' RoCE traffic to it.  Messages are built by lib/ibb-igmp.h.
 *
 * - A group that appears is reported at once and then [Robustness
 *   Variable] - 1 more times at random intervals within the Unsolicited
 *   Report Interval (1 s for IGMPv3/MLDv2, 10 s for IGMPv2/MLDv1): an
 *   IGMPv3/MLDv2 TO_EX({}) record, or a v1/v2 report.
 * - A group that goes is left: TO_IN({}) as many times (IGMPv3/MLDv2),
 *   one IGMPv2 leave or MLDv1 done, nothing under IGMPv1.
 * - Queries are answered after a random delay up to their Max Resp Time
 *   (RFC 3376 5.2, RFC 3810 6.2 and 6.3).  Under v3: a general query with
 *   one report of IS_EX({}) records for every group (rule 2), and an
 *   earlier pending general answer covers any query (rule 1).  The state
 *   of each group is EXCLUDE({}) (the bridge wants every source), so a
 *   group query is answered IS_EX({}) and a group-and-source query
 *   IS_IN(the sources asked about) (the table of RFC 3376 5.2 and RFC 3810
 *   6.3).  While a group's answer is
 *   pending (rules 3 to 5), the sources of further group-and-source
 *   queries add up in its pending source list, a group query makes it a
 *   group answer for good, and it goes at the earlier of the two times;
 *   a general answer going first also answers it, IS_EX({}).  A source
 *   list past IBB_IGMP_MAX_PENDING_SOURCES (or out of memory) turns into
 *   a group answer, which covers every source too.  An IS_IN record too
 *   big for one report is split (RFC 3376 4.2.16).  Under v1/v2, a
 *   report per group, each with its own delay (a running timer is only
 *   shortened); a group-and-source query is a group query there.
 * - The version in force per family is the lowest of the configured one
 *   and that of the queriers heard within the Older Version Querier
 *   Present Timeout (RV * QI + the query's QRI, RFC 3376 8.12, RFC 3810
 *   9.12); going down cancels pending responses and retransmissions
 *   (RFC 3376 7.2.1).  The Robustness Variable and Query Interval come
 *   from the last IGMPv3/MLDv2 query (QRV, QQIC), else 2 and 125 s.
 *
 * A run sends what is due within 10 ms of its time too, so that
 * thousands of groups' answers go in hundreds of runs, not thousands.
 *
 * Times are milliseconds on any monotonic clock, passed in as 'now';
 * functions that schedule return or keep the next deadline
 * (ibb_igmp_host_next()), so tests drive the timers without sleeping.
 * Random delays come from a generator seeded at creation.
 */
#ifndef IBB_IGMP_HOST_H
#define IBB_IGMP_HOST_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibb-igmp.h"

struct ibb_igmp_host;

struct ibb_igmp_host_config {
    int igmp_level;             /* Highest IGMP version: 1 to 3. */
    int mld_level;              /* Highest MLD: 2 (MLDv1) or 3 (MLDv2). */
    struct ibb_igmp_source src; /* Addresses messages come from. */
};

/* Defaults of RFC 3376 8 and RFC 3810 9. */
#define IBB_IGMP_ROBUSTNESS 2
#define IBB_IGMP_QUERY_INTERVAL_S 125
#define IBB_IGMP_V3_UNSOLICITED_MS 1000
#define IBB_IGMP_V2_UNSOLICITED_MS 10000

/* The most sources a group's pending answer keeps (see above). */
#define IBB_IGMP_MAX_PENDING_SOURCES 1024

/* What a frame handed to the emit callback is. */
enum ibb_igmp_sent {
    IBB_IGMP_SENT_REPORT,       /* Unsolicited report of a new group. */
    IBB_IGMP_SENT_ANSWER,       /* Report answering a query. */
    IBB_IGMP_SENT_LEAVE,        /* Leave, done or TO_IN({}) report. */
};

typedef void ibb_igmp_emit_cb(const uint8_t *frame, size_t len,
                              enum ibb_igmp_sent, void *aux);

/* Returns a host with no groups, or NULL if out of memory. */
struct ibb_igmp_host *ibb_igmp_host_create(
    const struct ibb_igmp_host_config *, uint32_t seed);
void ibb_igmp_host_destroy(struct ibb_igmp_host *);
void ibb_igmp_host_configure(struct ibb_igmp_host *,
                             const struct ibb_igmp_host_config *);

/* Sets the groups: ibb_igmp_host_want() for each group wanted now (lib/
 * ib-gid.h form, multicast), between begin and end; end starts leaving
 * those not wanted.  want() returns 0, EINVAL (not multicast) or ENOMEM. */
void ibb_igmp_host_begin_update(struct ibb_igmp_host *);
int ibb_igmp_host_want(struct ibb_igmp_host *, const uint8_t group[16],
                       long long int now);
void ibb_igmp_host_end_update(struct ibb_igmp_host *, long long int now);

/* Takes query 'q' (lib/ibb-igmp.h).  Returns true if it will be answered
 * (it asks about a group the host is a member of, or is a general query
 * and the host has a group of its family), false if it is not for us. */
bool ibb_igmp_host_query(struct ibb_igmp_host *,
                         const struct ibb_igmp_query *q, long long int now);

/* Sends, through 'emit', every message due at 'now'; returns the next
 * deadline (LLONG_MAX: none). */
long long int ibb_igmp_host_run(struct ibb_igmp_host *, long long int now,
                                ibb_igmp_emit_cb *emit, void *aux);

/* The next deadline, possibly early (call run then). */
long long int ibb_igmp_host_next(const struct ibb_igmp_host *);

/* The version in force for IPv4 ('ipv6' false) or IPv6: 1 to 3. */
int ibb_igmp_host_level(const struct ibb_igmp_host *, bool ipv6,
                        long long int now);

/* Groups wanted (not those still being left). */
size_t ibb_igmp_host_n_groups(const struct ibb_igmp_host *);

#endif /* ibb-igmp-host.h */
