/*
 * Several bridge nodes on one IB fabric and one Ethernet segment, sharing
 * state in the "ibbridge" database on a clustered ovsdb-server (Raft).
 * Each node has a row in table Node, which it alone writes while it holds
 * the OVSDB lock "ibbridge_node_NAME"; its heartbeat there tells the others
 * it is alive.  Which node forwards which group or host follows from the
 * live nodes by lib/ibb-shares.h.  Without options:cluster on any port,
 * there is one node and it owns everything.
 *
 * ibbridge-db.c owns the connection and calls in here; the ports ask
 * ibbridge_cluster_owns() (from any thread).  Everything else is for the
 * main thread only.
 */
#ifndef IBBRIDGE_CLUSTER_H
#define IBBRIDGE_CLUSTER_H 1

#include <stdbool.h>
#include <stdint.h>

struct ds;
struct netdev_ibbridge;
struct ovsdb_idl;
struct ovsdb_idl_txn;

/* The ports' options:cluster (the first port that has it, by name), or
 * NULL: the remote the ibbridge database is on. */
char *ibbridge_cluster_wanted_remote(void);

/* A connection 'idl' to 'remote' for node 'node' was made: takes the lock
 * and sets the probe interval if 'remote' is the cluster's. */
void ibbridge_cluster_attach(struct ovsdb_idl *idl, const char *remote,
                             const char *node);
/* The connection is gone (the remote changed). */
void ibbridge_cluster_detach(void);

/* A port has options:cluster ('on'), or none has: while one has and this
 * node has no view of the cluster, it owns nothing. */
void ibbridge_cluster_expect(bool on);

/* After ovsdb_idl_run(): follows the other nodes' heartbeats. */
void ibbridge_cluster_run(void);
/* Is this node's row due for writing, and may it be written now? */
bool ibbridge_cluster_write_due(void);
/* Adds this node's row (heartbeat, view, shares) to 'txn'. */
void ibbridge_cluster_write(struct ovsdb_idl_txn *txn);
/* The transaction with the heartbeat ended, 'committed' or not. */
void ibbridge_cluster_beat_done(bool committed);
/* Whether transactions may be made at all: without a cluster, yes; with
 * one, once this node holds its lock. */
bool ibbridge_cluster_may_write(void);
void ibbridge_cluster_wait(void);

/* Is the group or host with IP address 'ip' (IPv4-mapped or IPv6) this
 * node's to forward?  Always true when no port has options:cluster;
 * false while one has and this node has no view yet.  Any thread. */
bool ibbridge_cluster_owns(const uint8_t ip[16]);

/* Who owned what at one time, for telling what a node gained since. */
struct ibbridge_cluster_owners *ibbridge_cluster_owners_get(void);
bool ibbridge_cluster_owners_has(const struct ibbridge_cluster_owners *,
                                 const uint8_t ip[16]);
void ibbridge_cluster_owners_free(struct ibbridge_cluster_owners *);

/* Is 'ip' this node's now and was it not under 'before' (null: always)? */
bool ibbridge_cluster_gained(const struct ibbridge_cluster_owners *before,
                             const uint8_t ip[16]);

/* Applies what changed to port 'dev' (its run()): joins and leaves its
 * groups, announces the hosts taken over, and gives it the other nodes'
 * MACs and GIDs, whose frames and IPoIB ARP it never takes for hosts'. */
void ibbridge_cluster_port_run(struct netdev_ibbridge *dev);

void ibbridge_cluster_unixctl_register(void);

#endif /* ibbridge-cluster.h */
