/*
 * What the ibbridge netdev class (netdev-ibbridge.c) shares with the
 * files that do its other jobs (ibbridge-*.c: the IB port, the map,
 * groups, options, ovs-appctl commands...): the port's state and the
 * list of ports.  Private to vswitchd-plugin/.
 */
#ifndef NETDEV_IBBRIDGE_PRIVATE_H
#define NETDEV_IBBRIDGE_PRIVATE_H 1

#include "dp-packet.h"
#include "netdev-provider.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/thread.h"
#include "ovs-atomic.h"
#include "packets.h"
#include "smap.h"

#include "addr-map.h"
#include "ibb-drop.h"
#include "ibb-conv.h"
#include "ibb-file-stamp.h"
#include "ibb-options.h"
#include "ibport.h"

struct ibb_addr_map;
struct ibbridge_follow;
struct ibbridge_igmp;
struct ibb_kneigh;
struct ibb_proxy_table;
struct ibbridge_cluster_owners;

/* Another bridge node of the cluster (ibbridge-cluster.c), whose frames
 * and datagrams a port never takes for a host's. */
struct ibbridge_peer {
    struct eth_addr mac;                /* Its Ethernet MAC, or zero. */
    uint8_t gid[16];                    /* Its port GID, or zero. */
};

/* Most backend counters shown (lib/ibport.h ibb_port_counters()). */
#define IBBRIDGE_MAX_PORT_COUNTERS 64

/* Most receive queues (options:n_rxq), as lib/ibport-verbs-rxq.c has. */
#define IBBRIDGE_MAX_RXQ 16

/* Counters besides the per-reason drops. */
#define IBBRIDGE_CSTATS                                                     \
    IBBRIDGE_CSTAT(rx_port_errors)    /* recv() failed. */                  \
    IBBRIDGE_CSTAT(tx_backpressure)   /* Fabric stayed full: dropped. */    \
    IBBRIDGE_CSTAT(tx_port_down)      /* No port to send on: dropped. */    \
    IBBRIDGE_CSTAT(tx_not_eth)        /* Not an Ethernet frame. */          \
    IBBRIDGE_CSTAT(tx_proxy_limit)    /* No proxy QP: at max-proxies. */    \
    IBBRIDGE_CSTAT(tx_proxy_errors)   /* No proxy QP: the port refused. */  \
    IBBRIDGE_CSTAT(proxies_created)   /* Proxy QPs opened. */               \
    IBBRIDGE_CSTAT(proxies_expired)   /* Learned proxy QPs closed, idle. */ \
    IBBRIDGE_CSTAT(reconnects)        /* Times the port re-attached. */ \
    IBBRIDGE_CSTAT(arp_answered)      /* ARP requests for IB hosts. */      \
    IBBRIDGE_CSTAT(nd_answered)       /* Solicitations for IB hosts. */     \
    IBBRIDGE_CSTAT(tx_neigh_not_ib)   /* ARP/ND for no IB host's address. */\
    IBBRIDGE_CSTAT(tx_neigh_ignored)  /* ARP/ND asking nothing of us. */    \
    IBBRIDGE_CSTAT(tx_neigh_malformed) /* Bad ARP or ND. */                 \
    IBBRIDGE_CSTAT(neigh_overflow)    /* Answers dropped: queue full. */  \
    IBBRIDGE_CSTAT(macs_learned)      /* RoCE hosts' MACs learned. */       \
    IBBRIDGE_CSTAT(macs_expired)      /* Learned MACs aged out. */          \
    IBBRIDGE_CSTAT(learn_conflicts)   /* Not learned: the file says else. */\
    IBBRIDGE_CSTAT(learn_full)        /* Not learned: table full. */      \
    IBBRIDGE_CSTAT(announcements)     /* GARPs and NAs for IB hosts. */     \
    IBBRIDGE_CSTAT(kernel_updates)    /* Kernel neighbours taken or gone. */\
    IBBRIDGE_CSTAT(kernel_conflicts)  /* Kernel neighbours not taken. */ \
    IBBRIDGE_CSTAT(ipoib_arp_answered) /* IPoIB ARP for RoCE hosts. */     \
    IBBRIDGE_CSTAT(ipoib_arp_not_roce) /* IPoIB ARP for no RoCE host. */   \
    IBBRIDGE_CSTAT(ipoib_arp_ignored) /* IPoIB ARP asking nothing of us. */\
    IBBRIDGE_CSTAT(ipoib_arp_send_errors) /* Answers the port refused. */  \
    IBBRIDGE_CSTAT(ipoib_not_arp)     /* IPoIB datagrams, not bridged. */   \
    IBBRIDGE_CSTAT(ipoib_malformed)   /* Bad IPoIB datagrams or ARP. */ \
    IBBRIDGE_CSTAT(ipoib_arp_spoofed) /* IPoIB ARP for another's GID. */   \
    IBBRIDGE_CSTAT(ib_hosts_learned)  /* IB hosts from IPoIB ARP, kernel. */\
    IBBRIDGE_CSTAT(igmp_reports)      /* Unsolicited IGMP/MLD reports. */   \
    IBBRIDGE_CSTAT(igmp_answers)      /* Reports answering queries. */      \
    IBBRIDGE_CSTAT(igmp_leaves)       /* Leaves, dones, TO_IN({}). */       \
    IBBRIDGE_CSTAT(igmp_queries_answered) /* Queries for our groups. */     \
    IBBRIDGE_CSTAT(tx_igmp_not_ours)  /* IGMP/MLD asking nothing of us. */  \
    IBBRIDGE_CSTAT(tx_igmp_malformed) /* Bad IGMP or MLD. */                \
    IBBRIDGE_CSTAT(igmp_overflow)     /* Reports dropped: queue full. */   \
    IBBRIDGE_CSTAT(igmp_reports_heard) /* RoCE hosts' reports, leaves. */  \
    IBBRIDGE_CSTAT(follow_joins)      /* Groups joined, followed. */       \
    IBBRIDGE_CSTAT(follow_leaves)     /* Followed groups left. */          \
    IBBRIDGE_CSTAT(follow_filtered)   /* Not in mcast-follow-groups. */    \
    IBBRIDGE_CSTAT(follow_refused)    /* Table full, MGID of another. */    \
    IBBRIDGE_CSTAT(cluster_takeovers) /* Groups taken from other nodes */   \
    IBBRIDGE_CSTAT(cluster_handovers) /* Groups left to other nodes. */   \
    IBBRIDGE_CSTAT(tx_neigh_not_owner) /* ARP/ND another node answers. */ \
    IBBRIDGE_CSTAT(ipoib_arp_not_owner) /* IPoIB ARP another answers. */  \
    IBBRIDGE_CSTAT(tx_from_bridge)    /* Frames from another bridge node */ \
    IBBRIDGE_CSTAT(ipoib_arp_announced) /* RoCE hosts taken over, told. */ \
    IBBRIDGE_CSTAT(ipoib_from_bridge) /* IPoIB from another bridge node. */

struct ibbridge_cstats {
#define IBBRIDGE_CSTAT(NAME) uint64_t NAME;
    IBBRIDGE_CSTATS
#undef IBBRIDGE_CSTAT
};

/* Why the port joined a group. */
enum ibbridge_group_source {
    IBBRIDGE_GROUP_CONFIG,              /* "mcast-groups". */
    IBBRIDGE_GROUP_ETHERNET,            /* RoCE hosts' reports. */
    IBBRIDGE_GROUP_IB,                  /* IB hosts' groups, from the SA. */
};

#define IBBRIDGE_WANTED_BY(SOURCE) (1u << (SOURCE))

/* A multicast group the port joined, because of "mcast-groups" or
 * because it follows a side's membership (ibbridge-follow.c). */
struct ibbridge_group {
    struct hmap_node node;              /* In 'group_index', by MGID. */
    enum ibbridge_group_source source;  /* Shown; one of 'wanted_by'. */
    uint8_t wanted_by;                  /* IBBRIDGE_WANTED_BY() of every
                                         * source that wants it: left when
                                         * none does. */
    struct ibb_mcast_group_spec spec;   /* As configured. */
    uint8_t mgid[16];                   /* MGID derived from 'spec'. */
    uint16_t mlid;                      /* MLID the fabric gave. */
    bool added_to_map;                  /* The port put it in the map (the
                                         * map file does not list it). */
    bool standby;                       /* Another bridge node's to forward
                                         * (ibbridge-cluster.h): not
                                         * joined. */
};

/* The IB side's router role (ibbridge-router.c). */
struct ibbridge_router {
    bool ipoib;                         /* Answering IPoIB ARP. */
    uint32_t ipoib_qpn;                 /* Its IPoIB QP. */
    uint8_t bcast_mgid[16];             /* IPoIB broadcast group. */
    bool routes_pending;                /* A prefix another node routes. */
    long long int next_route_try;       /* When to try again. */
};

/* The options, parsed and checked before any of them is applied, so that a
 * rejected configuration leaves the port as it was. */
struct ibbridge_config {
    struct ibb_device_spec device;
    char *device_str;
    uint16_t pkey;
    uint32_t qkey;
    struct eth_addr mac;
    bool mac_configured;
    unsigned int gid_index;
    unsigned int join_rate;             /* mcast-join-rate, 0: default. */
    unsigned int n_rxq;                 /* Receive queues (verbs). */
    enum ibb_mgid_format mgid_format;
    struct ibb_mcast_group_spec *groups;
    size_t n_groups;
    uint8_t sl_map[64];
    uint8_t dscp_map[16];
    char *map_file;
    bool icrc_check;
    enum ibb_udp_csum udp_csum;         /* Toward Ethernet. */
    bool udp_csum_check;                /* Of nonzero ones from it. */
    enum ibb_port_mode port_mode;
    size_t max_proxies;
    unsigned int proxy_idle_s;          /* 0: learned proxies stay. */
    unsigned int mac_aging_s;           /* 0: no MAC learning. */
    bool announce;                      /* GARP/NA for IB hosts. */
    char *neigh_interfaces;             /* Kernel neighbours to follow. */
    struct ibb_gid_prefix *roce_prefixes; /* Routed to the port on IB. */
    size_t n_roce_prefixes;
    bool roce_prefixes_set;             /* Given, not the default. */
    bool ipoib_arp;                     /* Answer IPoIB ARP. */
    bool igmp;                          /* Ethernet-side IGMP and MLD. */
    int igmp_version;                   /* 1 to 3. */
    int mld_version;                    /* 1 or 2. */
    uint8_t igmp_source[4];             /* IPv4 source of IGMP. */
    uint8_t mld_source[16];             /* Link-local source of MLD. */
    bool follow_ethernet;               /* mcast-follow: RoCE hosts' */
    bool follow_ib;                     /* IGMP/MLD, IB hosts' groups. */
    struct ibb_gid_prefix *follow_ranges; /* mcast-follow-groups; none: */
    size_t n_follow_ranges;             /* all but link-local. */
    char *cluster;                      /* Shared-state remotes, or NULL. */
    unsigned int cluster_probe_ms;      /* Inactivity probe, 0: none. */
    unsigned int cluster_dead_ms;       /* Silent this long: node dead. */
};

struct netdev_ibbridge {
    struct netdev up;

    /* In 'ibbridge_list'. */
    struct ovs_list list_node OVS_GUARDED_BY(ibbridge_list_mutex);

    /* Protects all members below.  Take it with ibbridge_lock(). */
    struct ovs_mutex mutex;
    struct atomic_count lock_waiters;   /* Threads in ibbridge_lock(). */

    struct smap options OVS_GUARDED;            /* As last accepted. */
    struct ibbridge_config cfg OVS_GUARDED;     /* Parsed 'options'. */
    bool configured OVS_GUARDED;                /* 'cfg' is valid. */
    enum netdev_flags flags OVS_GUARDED;        /* NETDEV_UP etc. */

    /* The IB port and what the converters need. */
    struct ibb_port *port OVS_GUARDED;          /* NULL until configured. */
    struct ibb_port_attr attr OVS_GUARDED;      /* Last ibb_port_query(). */
    struct ibb_addr_map *map OVS_GUARDED;       /* Hosts and groups. */
    struct ibb_file_stamp map_stamp OVS_GUARDED; /* The map file as read. */
    long long int next_map_check OVS_GUARDED;   /* When to look at it. */
    char *map_error OVS_GUARDED;                /* Why it did not reload. */
    size_t map_file_hosts OVS_GUARDED;          /* Hosts from the file. */
    size_t map_file_groups OVS_GUARDED;         /* Groups from the file. */
    long long int next_learn_sweep OVS_GUARDED; /* When to age MACs out. */
    struct ibb_conv_config conv OVS_GUARDED;    /* Converter settings. */
    struct ibb_flow_cache *flows OVS_GUARDED;   /* Converters' flow cache
                                                 * (lib/ibb-flow-cache.h);
                                                 * NULL if memory was
                                                 * short. */
    struct ibb_proxy_table *proxies OVS_GUARDED; /* Strict mode: proxy QPs
                                                 * of RoCE endpoints. */
    struct ibbridge_router router OVS_GUARDED;  /* Routes, IPoIB ARP. */
    struct ibbridge_group *groups OVS_GUARDED;  /* Joined groups. */
    size_t n_groups OVS_GUARDED;
    struct hmap group_index OVS_GUARDED;        /* 'groups' by MGID. */
    struct ibbridge_group *leaving OVS_GUARDED; /* Removed from mcast-groups,
                                                 * the SA has not answered
                                                 * the leave yet. */
    size_t n_leaving OVS_GUARDED;
    bool carrier OVS_GUARDED;                   /* Port attached. */
    int eth_mtu OVS_GUARDED;                    /* mtu_request, 0 if none. */
    long long int next_reconnect OVS_GUARDED;   /* When to try again. */
    long long int next_proxy_sweep OVS_GUARDED; /* When to expire proxies. */
    struct ibb_kneigh *kneigh OVS_GUARDED;      /* neigh-interfaces. */
    struct dp_packet **announce OVS_GUARDED;    /* GARPs and NAs to send, */
    size_t n_announce OVS_GUARDED;              /* the last first. */
    struct seq *neigh_seq;                      /* Changes when an answer is
                                                 * queued. */
    struct dp_packet_batch neigh_answers OVS_GUARDED; /* ARP/ND answers
                                                 * (lib/ibb-neigh.h) that
                                                 * the port receives next. */
    struct ibbridge_igmp *igmp OVS_GUARDED;     /* IGMP/MLD host, NULL if
                                                 * off (ibbridge-igmp.c). */
    struct ibbridge_follow *follow OVS_GUARDED; /* mcast-follow, NULL if
                                                 * off (ibbridge-follow.c). */
    uint64_t open_seq OVS_GUARDED;              /* Ports opened: followed
                                                 * groups are joined anew. */
    uint64_t cluster_seqno OVS_GUARDED;         /* Ownership last applied, */
    const struct ibb_addr_map *cluster_map OVS_GUARDED; /* to this map. */
    struct ibbridge_cluster_owners *owners OVS_GUARDED; /* As applied. */
    struct ibbridge_peer *peers OVS_GUARDED;    /* The other bridge nodes. */
    size_t n_peers OVS_GUARDED;

    /* Statistics. */
    struct netdev_stats stats OVS_GUARDED;
    uint64_t rx_drops[IBB_DROP_N_REASONS] OVS_GUARDED;
    uint64_t tx_drops[IBB_DROP_N_REASONS] OVS_GUARDED;
    struct ibbridge_cstats cstats OVS_GUARDED;
};

/* Every ibbridge netdev, for ibbridge/show and for reconnecting; lock
 * order: the list's mutex, then a port's. */
extern struct ovs_mutex ibbridge_list_mutex;
extern struct ovs_list ibbridge_list OVS_GUARDED_BY(ibbridge_list_mutex);

/* Appends the membership state of 'g': "joined", "joining" or "failed
 * (REASON)". */
void netdev_ibbridge_format_group_state(const struct netdev_ibbridge *dev,
                                        const struct ibbridge_group *g,
                                        struct ds *s)
    OVS_REQUIRES(dev->mutex);

/* Multicast groups at scale (ibbridge-mcast.c). */

/* The most groups status:mcast_groups lists one by one; beyond, it gives
 * counts by state (ibbridge/mcast/show lists them all). */
#define IBBRIDGE_STATUS_MAX_GROUPS 64

/* Indexes dev->groups by MGID in dev->group_index (after they changed). */
void ibbridge_mcast_index(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* The group of "mcast-groups" with 'mgid', or NULL. */
struct ibbridge_group *ibbridge_mcast_find(const struct netdev_ibbridge *dev,
                                           const uint8_t mgid[16])
    OVS_REQUIRES(dev->mutex);

/* True if options 'a' and 'b' differ at most in "mcast-groups" and the
 * cluster options. */
bool ibbridge_mcast_only_groups_differ(const struct smap *a,
                                       const struct smap *b);

/* Applies a change of "mcast-groups" alone ('cfg' is the new
 * configuration) to the open port: joins the groups added, leaves those
 * gone, and keeps the others as they are (membership, MLID, counters), so
 * that editing a list of 10,000 groups does not rejoin them all.  Returns
 * 0, or a positive errno with a message in '*errp' and nothing changed. */
int ibbridge_mcast_update(struct netdev_ibbridge *dev,
                          const struct ibbridge_config *cfg, char **errp)
    OVS_REQUIRES(dev->mutex);

/* Membership that follows a side (ibbridge-follow.c): a group a side wants
 * now or no longer wants. */
struct ibbridge_follow_change {
    uint8_t ip[16];                     /* The IP group. */
    uint8_t mgid[16];                   /* IB: the MGID the SA has. */
    bool want;
};

/* Joins (full member) or leaves the groups of 'changes' for 'source' in
 * one pass, the last change of a group winning: a group joined already,
 * for any reason, stays as it is and is wanted by one more source; a
 * group is left when no source (mcast-groups, a followed side) wants it
 * any more. */
void ibbridge_mcast_follow(struct netdev_ibbridge *dev,
                           enum ibbridge_group_source source,
                           const struct ibbridge_follow_change *changes,
                           size_t n)
    OVS_REQUIRES(dev->mutex);

/* 'source' wants no group any more (the port stopped following it):
 * leaves those no other source wants. */
void ibbridge_mcast_unfollow(struct netdev_ibbridge *dev,
                             enum ibbridge_group_source source)
    OVS_REQUIRES(dev->mutex);

/* The IP group of 'mgid': the map's, or an IPv4 group's IPoIB or rdma_cm
 * MGID with the port's P_Key.  False if there is none. */
bool ibbridge_mcast_mgid_ip(const struct netdev_ibbridge *dev,
                            const uint8_t mgid[16], uint8_t ip[16])
    OVS_REQUIRES(dev->mutex);

const char *ibbridge_group_source_name(enum ibbridge_group_source);

/* Several bridge nodes: joins the groups this node now owns and leaves
 * those another node does, and marks every group of the map as its owner
 * says (ibbridge-cluster.c calls it after ownership or the map changed). */
void ibbridge_mcast_follow_cluster(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* mcast-follow (ibbridge-follow.c). */

/* Follows the options and applies the membership changes (run()). */
void ibbridge_follow_run(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
void ibbridge_follow_wait(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
/* Takes a frame sent to the port if it is a RoCE host's IGMP/MLD report or
 * leave that the port follows, and returns true; else false. */
bool ibbridge_follow_report(struct netdev_ibbridge *dev,
                            const struct dp_packet *pkt)
    OVS_REQUIRES(dev->mutex);
struct ibb_igmp_query;
/* Takes a query heard on the Ethernet side, for the listener's timers. */
void ibbridge_follow_query(struct netdev_ibbridge *dev,
                           const struct ibb_igmp_query *q)
    OVS_REQUIRES(dev->mutex);
void ibbridge_follow_status(const struct netdev_ibbridge *dev,
                            struct smap *smap)
    OVS_REQUIRES(dev->mutex);
void ibbridge_follow_destroy(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Forgets the groups of dev->leaving that the port has left. */
void ibbridge_mcast_prune_leaving(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Takes the membership changes the port tracks (sim with async joins) into
 * the groups and the map: O(changes).  Returns false if the port does not
 * track them (the caller then looks at every group). */
bool ibbridge_mcast_take_changes(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Records that group 'g' (the map's, as the converters give it) carried
 * a packet of 'bytes' bytes, IB to Ethernet ('rx') or back. */
static inline void
ibbridge_mcast_count(struct netdev_ibbridge *dev, const struct ibb_group *g,
                     bool rx, size_t bytes)
    OVS_REQUIRES(dev->mutex)
{
    if (g) {
        struct ibb_group_stats *st = ibb_addr_map_group_stats(dev->map, g);

        if (rx) {
            st->rx_packets++;
            st->rx_bytes += bytes;
        } else {
            st->tx_packets++;
            st->tx_bytes += bytes;
        }
    }
}

/* status:mcast_groups. */
void ibbridge_mcast_format_status(const struct netdev_ibbridge *dev,
                                  struct ds *s)
    OVS_REQUIRES(dev->mutex);

/* Registers ibbridge/mcast/show (ibbridge-mcast.c). */
void ibbridge_mcast_unixctl_register(void);

/* The IB side's router role (ibbridge-router.c). */

/* Adds the routes of cfg->roce_prefixes on 'port' (about to become
 * dev->port) and, with "ipoib-arp", opens the IPoIB QP and joins the
 * broadcast group, into '*router'.  Returns 0 or a positive errno with a
 * message in '*errp'. */
int ibbridge_router_open(struct netdev_ibbridge *dev, struct ibb_port *port,
                         const struct ibbridge_config *cfg,
                         const struct ibb_port_attr *attr,
                         struct ibbridge_router *router, char **errp)
    OVS_REQUIRES(dev->mutex);

/* Gives the routes the path MTU that fits the new Ethernet MTU. */
void ibbridge_router_mtu_changed(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Takes a received IB datagram that is IPoIB's (ARP is answered, the rest
 * counted) and returns true, or returns false for any other. */
/* Several bridge nodes: routes the prefixes another node routed, once it
 * no longer does (run() and wait()). */
void ibbridge_router_run(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
void ibbridge_router_wait(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Several bridge nodes, after ownership changed: announces on the IPoIB
 * broadcast group the RoCE hosts this node answers IPoIB ARP for now and
 * did not under 'before' (all if it is null). */
void ibbridge_router_announce(struct netdev_ibbridge *dev,
                              const struct ibbridge_cluster_owners *before)
    OVS_REQUIRES(dev->mutex);
bool ibbridge_router_rx(struct netdev_ibbridge *dev, const uint8_t *pkt,
                        size_t len)
    OVS_REQUIRES(dev->mutex);

/* The IB port behind the netdev (ibbridge-port.c). */

/* Opens the IB port of 'cfg', loads its map and joins its groups, and on
 * success replaces what 'dev' had.  Returns 0 or a positive errno with a
 * message in '*errp'. */
int ibbridge_port_open(struct netdev_ibbridge *dev,
                       const struct ibbridge_config *cfg, char **errp)
    OVS_REQUIRES(dev->mutex);

/* Frees what the port holds: the IB port, the map and the groups (leaving
 * them on the fabric).  Counters stay. */
void ibbridge_port_close(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Fills dev->conv, the converter settings, from the options and the
 * port. */
void ibbridge_port_update_conv(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Marks the port down after 'error' from the backend, so that
 * ibbridge_port_reconnect() attaches it again. */
void ibbridge_port_lost(struct netdev_ibbridge *dev, int error)
    OVS_REQUIRES(dev->mutex);

/* From run(): attaches a lost port again (at most once a second), takes
 * in what an HCA reports, and closes idle learned proxy QPs. */
void ibbridge_port_reconnect(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
void ibbridge_port_events(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
void ibbridge_port_expire_proxies(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Options (ibbridge-config.c). */

/* Parses and checks the options 'args' of port 'name' into '*cfg'.
 * Returns 0, or a positive errno with a message in '*errp' (to free). */
int ibbridge_config_parse(const char *name, const struct smap *args,
                          struct ibbridge_config *cfg, char **errp);
void ibbridge_config_destroy(struct ibbridge_config *);

/* A locally administered MAC derived from port name 'name', the same
 * across restarts, for a port without "mac". */
struct eth_addr ibbridge_default_mac(const char *name);

/* Default time after which a MAC learned from RoCE traffic is forgotten
 * (OVS's own MAC learning default). */
#define IBBRIDGE_MAC_AGING_S 300

/* How often the map file is looked at for changes. */
#define IBBRIDGE_MAP_CHECK_MS 1000

/* The port's address map and Ethernet-side address resolution
 * (ibbridge-addr.c). */

/* Loads the address map named in 'cfg' (an empty map if none), and the
 * file's stamp as it was before reading it into '*stamp'. */
int ibbridge_map_load(const struct ibbridge_config *cfg,
                      struct ibb_addr_map **mapp,
                      struct ibb_file_stamp *stamp, char **errp);

/* Records joined group 'g' in 'map', which does not have its IP. */
int ibbridge_map_add_joined_group(struct ibb_addr_map *map,
                                  const struct ibbridge_group *g,
                                  uint16_t pkey);

/* Reloads the map file if it changed (run() calls it). */
void ibbridge_map_check(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Ages out learned MACs, once a second (run() calls it). */
void ibbridge_map_expire_learned(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* With the announce option, queues a gratuitous ARP or unsolicited NA for
 * every address of every IB host in the map (after a (re)load); the port
 * receives them next.  Without, or to drop what is queued, see cancel. */
void ibbridge_map_announce(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
/* Several bridge nodes, after ownership changed: announces the IB hosts
 * this node answers for now and did not under 'before' (all if it is
 * null), whatever "announce" says. */
void ibbridge_map_announce_owned(struct netdev_ibbridge *dev,
                                 const struct ibbridge_cluster_owners *before)
    OVS_REQUIRES(dev->mutex);
void ibbridge_map_announce_cancel(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Takes what changed in the kernel neighbour tables of neigh-interfaces
 * into the map (run() calls it). */
void ibbridge_map_follow_kernel(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Learns that RoCE host 'ip' has MAC 'mac', from an accepted frame. */
void ibbridge_map_learn(struct netdev_ibbridge *dev, const uint8_t ip[16],
                        const uint8_t mac[6])
    OVS_REQUIRES(dev->mutex);

/* Learns that IB host 'gid' (LID 'lid', IPoIB QPN 'qpn', 0 if not known)
 * has address 'ip', from an IPoIB ARP (IBB_HOST_ARP) or an IPoIB kernel
 * neighbour (IBB_HOST_KERNEL).  Returns 0 or what
 * ibb_addr_map_learn_ib() returned (counted and logged). */
int ibbridge_map_learn_ib(struct netdev_ibbridge *dev, const uint8_t ip[16],
                           const uint8_t gid[16], uint16_t lid,
                           uint32_t qpn, enum ibb_host_source)
    OVS_REQUIRES(dev->mutex);

/* The source of an IB datagram, read before the converter overwrites it,
 * so that a learned IB host's traffic keeps its entry. */
struct ibbridge_ib_source {
    bool valid;
    uint8_t sgid[16];
    uint16_t slid;
};

void ibbridge_ib_source_get(const struct netdev_ibbridge *dev,
                            const uint8_t *pkt, size_t len,
                            struct ibbridge_ib_source *)
    OVS_REQUIRES(dev->mutex);

/* The datagram crossed: its source was seen. */
void ibbridge_ib_source_seen(struct netdev_ibbridge *dev,
                             const struct ibbridge_ib_source *)
    OVS_REQUIRES(dev->mutex);

/* Answers an ARP request or neighbour solicitation for an IB host, or
 * counts the ARP/ND it does not answer.  Returns false if 'pkt' is
 * neither, for the converter. */
bool ibbridge_answer_neigh(struct netdev_ibbridge *dev,
                           const struct dp_packet *pkt)
    OVS_REQUIRES(dev->mutex);

/* Ethernet-side IGMP and MLD (ibbridge-igmp.c): the port reports the
 * groups it bridges from IB, answers queries and leaves groups that go. */

/* Follows the options and the groups, and sends what is due (run()). */
void ibbridge_igmp_run(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
/* Wakes run() when something is due (wait()). */
void ibbridge_igmp_wait(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
/* Takes a frame sent to the port if it is IGMP or MLD (a query is
 * answered, the rest counted) and returns true, or returns false. */
bool ibbridge_igmp_input(struct netdev_ibbridge *dev,
                         const struct dp_packet *pkt)
    OVS_REQUIRES(dev->mutex);
/* Moves queued reports into 'batch' while it has room (the port receives
 * them as from IB); returns true if some are still queued. */
bool ibbridge_igmp_drain(struct netdev_ibbridge *dev,
                         struct dp_packet_batch *batch)
    OVS_REQUIRES(dev->mutex);
bool ibbridge_igmp_pending(const struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);
/* Adds igmp_groups (groups reported), igmp_version and mld_version (in
 * force, following the queriers) to the port's status. */
void ibbridge_igmp_status(struct netdev_ibbridge *dev, struct smap *smap)
    OVS_REQUIRES(dev->mutex);
void ibbridge_igmp_destroy(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex);

/* Registers the ibbridge/map/ ovs-appctl commands (ibbridge-addr.c). */
void ibbridge_map_unixctl_register(void);

/* Calls 'cb' for ibbridge port 'name', or for every port if 'name' is
 * NULL, with the port's mutex held.  Returns false if there is no port
 * 'name' (ibbridge-unixctl.c). */
bool ibbridge_for_each_port(const char *name,
                            void (*cb)(struct netdev_ibbridge *, void *aux),
                            void *aux);

/* Finds ibbridge port 'name'; on success returns it with its mutex held
 * (ibbridge-unixctl.c). */
struct netdev_ibbridge *ibbridge_lock_port(const char *name);

/* Takes dev->mutex, from any thread but a PMD thread receiving from the
 * port.  Those spin for the mutex instead of sleeping on it (a futex sleep
 * and wake-up per burst cost more than the burst: netdev-ibbridge.c's
 * rxq_recv), and step aside while a thread waits here, so that busy
 * receive queues never starve the main thread. */
static inline void
ibbridge_lock(struct netdev_ibbridge *dev)
    OVS_ACQUIRES(dev->mutex)
{
    atomic_count_inc(&dev->lock_waiters);
    ovs_mutex_lock(&dev->mutex);
    atomic_count_dec(&dev->lock_waiters);
}

/* Registers the ibbridge/ ovs-appctl commands (ibbridge-unixctl.c). */
void ibbridge_unixctl_register(void);

#endif /* netdev-ibbridge-private.h */
