/*
 * The router side of IGMP (RFC 3376 6) and MLD (RFC 3810 7) on the
 * Ethernet side, for mcast-follow=ethernet: which groups RoCE hosts want,
 * from the reports and leaves they send, so that the bridge joins those
 * groups on IB and leaves them when the last listener is gone.
 *
 * The bridge is not the querier (a switch or router is, or nobody); it
 * listens like a non-querier router with explicit tracking of members:
 *
 * - A report (v1/v2 report, MLDv1 report, or a v3 record IS_EX, TO_EX, or
 *   IS_IN/ALLOW/TO_IN with sources) makes its sender, by Ethernet source,
 *   a member for the Group Membership Interval (RV * QI + QRI, 260 s by
 *   default; RV, QI and QRI come from the last IGMPv3/MLDv2 query heard).
 * - A leave (v2 leave, MLDv1 done, TO_IN({}) or IS_IN({})) ends its
 *   sender's membership; BLOCK and ALLOW({}) change nothing (sources are
 *   not tracked: the bridge forwards a group whole).
 * - A group-specific query lowers the group's timers to the Last Member
 *   Query Time (its QRV times its Max Resp Time), as RFC 3376 6.6.1 asks of
 *   non-queriers, so members that suppressed their reports (v1/v2) keep the
 *   group by answering; unless its S flag says a member answered already.
 * - Without a querier on the segment hosts do not report again, and every
 *   membership ends after the Group Membership Interval: a querier (a
 *   switch's, a router's) is needed, as for snooping switches.
 * - A group without members stays wanted for the Last Member Query Time
 *   (2 s by default) after the last leave, for such answers, then goes.
 *
 * Only groups within the configured ranges are followed (by default every
 * group but link-local ones: 224.0.0.0/24, ff01::/16, ff02::/16), and at
 * most 'max_groups', IBB_LISTEN_MAX_MEMBERS hosts in a group and
 * IBB_LISTEN_MAX_ALL_MEMBERS in all.  Changes (a group now wanted, or no longer) are taken
 * in O(changes) with ibb_listen_take_change().  Times are milliseconds on
 * any monotonic clock, passed in as 'now'.
 */
#ifndef IBB_MCAST_LISTEN_H
#define IBB_MCAST_LISTEN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibb-igmp.h"
#include "ibb-options.h"

#define IBB_LISTEN_DEFAULT_MAX_GROUPS 65536
#define IBB_LISTEN_MAX_MEMBERS 256      /* Per group (a linear scan). */
#define IBB_LISTEN_MAX_ALL_MEMBERS 262144 /* In all groups: 4 MB. */
#define IBB_LISTEN_LMQI_MS 1000         /* Last Member Query Interval. */

struct ibb_listen_config {
    const struct ibb_gid_prefix *ranges; /* Groups that may be followed; */
    size_t n_ranges;                    /* none: all but link-local. */
    size_t max_groups;                  /* 0: the default. */
};

/* What the listener did, for the port's counters. */
struct ibb_listen_counters {
    uint64_t reports;           /* Reports and leaves taken. */
    uint64_t groups_added;      /* Groups that became wanted. */
    uint64_t groups_removed;    /* Groups no longer wanted. */
    uint64_t expired;           /* Memberships that timed out. */
    uint64_t filtered;          /* Records for groups out of range. */
    uint64_t full;              /* Records refused: max_groups or
                                 * IBB_LISTEN_MAX_MEMBERS reached. */
};

struct ibb_listen;

struct ibb_listen *ibb_listen_create(const struct ibb_listen_config *);
void ibb_listen_destroy(struct ibb_listen *);

/* Takes a new configuration: groups now out of range are no longer
 * wanted. */
void ibb_listen_configure(struct ibb_listen *,
                          const struct ibb_listen_config *);

/* True if 'cfg' lets 'group' (lib/ib-gid.h form) be followed. */
bool ibb_listen_in_range(const struct ibb_listen_config *cfg,
                         const uint8_t group[16]);

/* Takes report or leave 'r' (lib/ibb-igmp.h, its records not yet taken). */
void ibb_listen_report(struct ibb_listen *, struct ibb_igmp_report *r,
                       long long int now);

/* Takes query 'q' heard from the querier. */
void ibb_listen_query(struct ibb_listen *, const struct ibb_igmp_query *q,
                      long long int now);

/* Ends the memberships whose time is up; returns the next deadline
 * (LLONG_MAX: none).  ibb_listen_next() tells it without running. */
long long int ibb_listen_run(struct ibb_listen *, long long int now);
long long int ibb_listen_next(const struct ibb_listen *);

/* Takes one group whose state changed since it was last taken, into
 * 'group', with '*wanted' true if it is wanted now; false if none. */
bool ibb_listen_take_change(struct ibb_listen *, uint8_t group[16],
                            bool *wanted);
bool ibb_listen_has_changes(const struct ibb_listen *);

/* True if 'group' is wanted now. */
bool ibb_listen_wants(const struct ibb_listen *, const uint8_t group[16]);

/* Groups wanted now, and a visit of each: its number of members and when
 * the last one's membership ends. */
size_t ibb_listen_n_groups(const struct ibb_listen *);
typedef void ibb_listen_visit_cb(const uint8_t group[16], size_t n_members,
                                 long long int expires, void *aux);
void ibb_listen_foreach(const struct ibb_listen *, ibb_listen_visit_cb *,
                        void *aux);

const struct ibb_listen_counters *ibb_listen_counters(
    const struct ibb_listen *);

#endif /* ibb-mcast-listen.h */
