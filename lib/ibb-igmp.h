/*
 * IGMP (RFC 1112, RFC 2236, RFC 3376) and MLD (RFC 2710, RFC 3810) on the
 * wire: the reports and leaves a host sends, and the queries it parses.
 * The bridge's port is that host on the Ethernet side, for the groups it
 * bridges from IB (lib/ibb-igmp-host.h keeps the timers).
 *
 * The two protocols are treated as one with three levels: IGMPv1, IGMPv2
 * and MLDv1 (level 2), IGMPv3 and MLDv2 (level 3).
 *
 * IPv4, what the bridge sends (RFC 2236 2, RFC 3376 4.2, 4.2.13):
 *
 *   0      1      2      3      byte
 *   +------+------+------+------+
 *   | 0x46 | 0xc0 | total length|   IHL 6: the Router Alert option,
 *   +------+------+------+------+   TOS "internetwork control" as Linux
 *   |  id 0       | DF, offset 0|
 *   +------+------+------+------+
 *   | TTL 1| 2    | hdr checksum|   protocol 2: IGMP
 *   +------+------+------+------+
 *   | source (igmp-source)      |
 *   | destination               |   see below
 *   +------+------+------+------+
 *   | 0x94 | 0x04 | 0    | 0    |   Router Alert (RFC 2113)
 *   +------+------+------+------+
 *   | type | code | checksum    |   0x12 v1 report, 0x16 v2 report,
 *   +------+------+------+------+   0x17 v2 leave: then the group (4);
 *   ...                             0x22 v3 report: reserved (2),
 *                                   records (2), then records of
 *                                   type, aux len 0, sources (2) N,
 *                                   group (4), N sources (4 each).
 *
 *   v1/v2 report -> the group; v2 leave -> 224.0.0.2; v3 -> 224.0.0.22.
 *   The Ethernet destination is the IP one's multicast MAC (RFC 1112 6.4).
 *
 * IPv6: an IPv6 header (hop limit 1, next header 0) and a hop-by-hop
 * header with the Router Alert option (RFC 2711, value 0: MLD) and a PadN,
 * then ICMPv6: 131 MLDv1 report or 132 done (code, checksum, max delay
 * (2), reserved (2), group (16)), or 143 MLDv2 report (reserved (2),
 * records (2), then records of type, aux len 0, sources (2) N, group
 * (16), N sources (16 each)).  v1 report -> the group, done -> ff02::2,
 * v2 report -> ff02::16, from a link-local address (RFC 3810 5.2.13); MAC
 * 33:33 + the low 32 bits (RFC 2464 7).
 *
 * Reports and leaves of other hosts are parsed too (ibb_igmp_parse_report()),
 * for the router side: the groups RoCE hosts want (lib/ibb-mcast-listen.h).
 *
 * Queries, parsed: IGMP type 0x11, whose length says the version (RFC 3376
 * 7.1: 8 bytes with Max Resp Code 0: v1, 8 bytes: v2, 12 or more: v3,
 * anything else is ignored as malformed); ICMPv6 type 130 of 24 bytes
 * (MLDv1) or 28 or more (MLDv2).  Every IGMP and MLD message must have a
 * right checksum and TTL / hop limit 1; MLD a link-local source (RFC 3810
 * 5.1.14).  Router Alert is not required on receipt.
 */
#ifndef IBB_IGMP_H
#define IBB_IGMP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Levels: the protocol version in force for one address family. */
#define IBB_IGMP_V1 1           /* IGMPv1 (IPv4 only). */
#define IBB_IGMP_V2 2           /* IGMPv2, MLDv1. */
#define IBB_IGMP_V3 3           /* IGMPv3, MLDv2. */

/* Group record types (RFC 3376 4.2.12, RFC 3810 5.2.12). */
enum ibb_igmp_record_type {
    IBB_IGMP_IS_IN = 1,         /* MODE_IS_INCLUDE. */
    IBB_IGMP_IS_EX = 2,         /* MODE_IS_EXCLUDE: a current member. */
    IBB_IGMP_TO_IN = 3,         /* CHANGE_TO_INCLUDE_MODE: {} is a leave. */
    IBB_IGMP_TO_EX = 4,         /* CHANGE_TO_EXCLUDE_MODE: {} is a join. */
    IBB_IGMP_ALLOW = 5,         /* ALLOW_NEW_SOURCES. */
    IBB_IGMP_BLOCK = 6,         /* BLOCK_OLD_SOURCES. */
};

/* What the host sends: a report or leave of level 1 to 3. */
enum ibb_igmp_msg_kind {
    IBB_IGMP_REPORT,            /* v1/v2 report, MLDv1 report. */
    IBB_IGMP_LEAVE,             /* v2 leave, MLDv1 done. */
    IBB_IGMP_V3_REPORT,         /* IGMPv3 or MLDv2 report of records. */
};

/* The addresses reports are sent from. */
struct ibb_igmp_source {
    uint8_t mac[6];             /* Ethernet source. */
    uint8_t ipv4[4];            /* IGMP's IPv4 source; 0.0.0.0 is allowed
                                 * (RFC 3376 4.2.13). */
    uint8_t ipv6[16];           /* MLD's source: link-local. */
};

/* A group record; 'group' and 'sources' in lib/ib-gid.h form (IPv4 as
 * ::ffff:a.b.c.d). */
struct ibb_igmp_record {
    enum ibb_igmp_record_type type;
    uint8_t group[16];
    const uint8_t (*sources)[16]; /* 'n_sources' source addresses. */
    size_t n_sources;
};

/* Header lengths: Ethernet, IPv4 with Router Alert, IPv6 with its
 * hop-by-hop header. */
#define IBB_IGMP_ETH_LEN 14
#define IBB_IGMP_IPV4_LEN 24
#define IBB_IGMP_IPV6_LEN (40 + 8)
#define IBB_IGMP_V3_HDR_LEN 8           /* Up to the first record. */
#define IBB_IGMP_V3_REC4_LEN 8          /* IGMPv3 record, no sources. */
#define IBB_IGMP_V3_REC6_LEN 20         /* MLDv2 record, no sources. */
#define IBB_IGMP_V3_SRC4_LEN 4          /* Per source, IGMPv3. */
#define IBB_IGMP_V3_SRC6_LEN 16         /* Per source, MLDv2. */

/* The largest frame built: an Ethernet MTU of 1500. */
#define IBB_IGMP_FRAME_MAX (14 + 1500)

/* How many records a v3 report of an Ethernet MTU of 1500 holds. */
#define IBB_IGMP_V3_MAX_RECORDS4 \
    ((1500 - IBB_IGMP_IPV4_LEN - IBB_IGMP_V3_HDR_LEN) / IBB_IGMP_V3_REC4_LEN)
#define IBB_IGMP_V3_MAX_RECORDS6 \
    ((1500 - IBB_IGMP_IPV6_LEN - IBB_IGMP_V3_HDR_LEN) / IBB_IGMP_V3_REC6_LEN)

/* How many sources one record of a v3 report of an Ethernet MTU of 1500
 * holds, alone in the report. */
#define IBB_IGMP_V3_MAX_SOURCES4                                        \
    ((1500 - IBB_IGMP_IPV4_LEN - IBB_IGMP_V3_HDR_LEN                    \
      - IBB_IGMP_V3_REC4_LEN) / IBB_IGMP_V3_SRC4_LEN)
#define IBB_IGMP_V3_MAX_SOURCES6                                        \
    ((1500 - IBB_IGMP_IPV6_LEN - IBB_IGMP_V3_HDR_LEN                    \
      - IBB_IGMP_V3_REC6_LEN) / IBB_IGMP_V3_SRC6_LEN)

/* The bytes a v3 record of 'n_sources' sources takes in an IGMPv3 ('ipv6'
 * false) or MLDv2 report, and the bytes of IP payload a v3 report may
 * hold after its header (an Ethernet MTU of 1500). */
size_t ibb_igmp_v3_record_len(bool ipv6, size_t n_sources);
#define IBB_IGMP_V3_ROOM4 (1500 - IBB_IGMP_IPV4_LEN - IBB_IGMP_V3_HDR_LEN)
#define IBB_IGMP_V3_ROOM6 (1500 - IBB_IGMP_IPV6_LEN - IBB_IGMP_V3_HDR_LEN)

/* Builds, into 'frame' (IBB_IGMP_FRAME_MAX bytes), a message of 'kind' for
 * the 'n' records 'recs' (one, whose type and sources are ignored, for a
 * v1/v2 report or leave; for a v3 report, records whose lengths add up to
 * at most IBB_IGMP_V3_ROOM4 or 6), all of one family (sources too), from
 * 'src'.  'level' is 1 or 2 for a report: it picks the
 * IGMPv1 or v2 type (IPv6 has only level 2).  Returns the frame's length
 * (at least 60), or 0 if the arguments do not make a message. */
size_t ibb_igmp_build(const struct ibb_igmp_source *src, int level,
                      enum ibb_igmp_msg_kind kind,
                      const struct ibb_igmp_record *recs, size_t n,
                      uint8_t *frame);

/* A parsed query. */
struct ibb_igmp_query {
    bool ipv6;                  /* MLD, not IGMP. */
    int level;                  /* The querier's version: 1 to 3. */
    uint8_t group[16];          /* Zero for a general query. */
    unsigned int max_resp_ms;   /* Max Resp Time (v1: 10 s). */
    unsigned int qrv;           /* Querier's Robustness Variable; 0 if
                                 * none (v1, v2). */
    unsigned int qqi_s;         /* Querier's Query Interval; 0 if none. */
    bool suppress;              /* v3 S flag: routers keep their timers
                                 * (RFC 3376 4.1.5). */
    unsigned int n_sources;     /* Sources of a group-and-source query, */
    const uint8_t *sources;     /* as on the wire (4 or 16 bytes each),
                                 * in the frame parsed: valid as long as
                                 * it is.  ibb_igmp_query_source() reads
                                 * them. */
};

enum ibb_igmp_parse_result {
    IBB_IGMP_NOT_IGMP,          /* Neither IGMP nor MLD. */
    IBB_IGMP_QUERY,             /* A query: see '*query'. */
    IBB_IGMP_OTHER,             /* IGMP or MLD but no query: another host's
                                 * report or leave, another IGMP type. */
    IBB_IGMP_MALFORMED,         /* IGMP or MLD with bad lengths, checksum,
                                 * TTL or hop limit, source... */
    IBB_IGMP_MEMBERSHIP,        /* ibb_igmp_parse_report(): a report or
                                 * leave. */
};

/* Parses the Ethernet frame 'frame' of 'len' bytes (an 802.1Q tag is
 * skipped). */
enum ibb_igmp_parse_result ibb_igmp_parse(const uint8_t *frame, size_t len,
                                          struct ibb_igmp_query *query);

/* A parsed report or leave of another host: v1/v2 messages read as one
 * record (a report as IS_EX({}), a leave or done as TO_IN({})), v3 ones as
 * their records, taken with ibb_igmp_report_next(). */
struct ibb_igmp_report {
    bool ipv6;                  /* MLD, not IGMP. */
    int level;                  /* The reporter's version: 1 to 3. */
    uint8_t source[16];         /* Its IP source (lib/ib-gid.h form). */
    uint8_t mac[6];             /* Its Ethernet source. */
    size_t n_records;           /* Group records. */

    /* Private. */
    size_t next;                /* Records taken. */
    const uint8_t *recs;        /* Next v3 record, NULL for v1/v2. */
    struct ibb_igmp_record single; /* The record of a v1/v2 message. */
};

/* Parses the Ethernet frame 'frame' of 'len' bytes as a report or leave:
 * returns IBB_IGMP_MEMBERSHIP with '*r' filled in (every record checked:
 * in bounds, of a known type, for a multicast group), IBB_IGMP_OTHER for
 * other IGMP or MLD (queries), or as ibb_igmp_parse().  The frame must
 * stay as it is while its records are taken. */
enum ibb_igmp_parse_result ibb_igmp_parse_report(const uint8_t *frame,
                                                 size_t len,
                                                 struct ibb_igmp_report *r);

/* Takes the next record of 'r' into '*rec' (without its sources), its
 * number of sources into '*n_sources'; false when there is none left. */
bool ibb_igmp_report_next(struct ibb_igmp_report *r,
                          struct ibb_igmp_record *rec,
                          unsigned int *n_sources);

/* Source 'i' (below q->n_sources) of query 'q', into 'ip' in lib/ib-gid.h
 * form. */
void ibb_igmp_query_source(const struct ibb_igmp_query *q, size_t i,
                           uint8_t ip[16]);

/* The link-local address (fe80::/64 with the modified EUI-64 interface
 * identifier, RFC 4291 2.5.1) of MAC 'mac'. */
void ibb_igmp_link_local(const uint8_t mac[6], uint8_t ip[16]);

#endif /* ibb-igmp.h */
