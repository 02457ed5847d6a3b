/*
 * The simulated fabric's subnet administrator for multicast: the group
 * table (MCAST_JOIN, MCAST_LEAVE), its listing (MCG_LIST) and the
 * create/delete notices to subscribers (MCG_SUBSCRIBE, MCG_NOTICE); the
 * messages are in lib/fabric-proto.h.  ibsim-fabric.c forwards packets by
 * this table and passes the SA its requests; the SA answers through
 * ibsim_fabric_send(), which ibsim-fabric.c provides.
 */
#ifndef IBSIM_SA_H
#define IBSIM_SA_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/hmap.h"
#include "openvswitch/list.h"

struct ds;
struct ibb_fmsg_hdr;

struct ibsim_sa_member {
    unsigned int port_num;      /* Member port. */
    uint8_t join_state;         /* IBB_FMCAST_*. */
};

struct ibsim_sa_group {
    struct ovs_list node;       /* In the SA's list, oldest first. */
    struct hmap_node mgid_node; /* By MGID. */
    struct hmap_node mlid_node; /* By MLID. */
    uint8_t mgid[16];           /* Multicast GID. */
    uint16_t mlid;              /* Multicast LID. */
    uint32_t qkey;              /* Q_Key. */
    uint16_t pkey;              /* P_Key. */
    struct ibsim_sa_member *members; /* Members. */
    size_t n_members;           /* Number of 'members'. */
};

/* The port that sent a request, as the SA needs to know it. */
struct ibsim_sa_port {
    unsigned int num;           /* Switch port number. */
    uint16_t pkey;              /* Its partition. */
};

/* True for the message types ibsim_sa_handle() answers. */
bool ibsim_sa_handles(uint16_t type);

/* Answers request 'hdr' with 'len' bytes of body at 'body' from 'port'. */
void ibsim_sa_handle(const struct ibsim_sa_port *port,
                     const struct ibb_fmsg_hdr *hdr, const uint8_t *body,
                     size_t len);

/* Forgets a port that detached: its subscription, then its memberships
 * (so that groups it was the last member of are deleted, and notified). */
void ibsim_sa_port_gone(unsigned int port_num);

const struct ibsim_sa_group *ibsim_sa_group_by_mgid(const uint8_t mgid[16]);
const struct ibsim_sa_group *ibsim_sa_group_by_mlid(uint16_t mlid);
size_t ibsim_sa_n_groups(void);

/* fabric/groups: one line per group.  'port_name' names a member port. */
void ibsim_sa_format_groups(struct ds *,
                            const char *(*port_name)(unsigned int num));

/* fabric/show's SA lines, and fabric/counters' SA counters. */
void ibsim_sa_format_show(struct ds *);
void ibsim_sa_format_counters(struct ds *);

/* Provided by ibsim-fabric.c: queues a message for port 'port_num' (does
 * nothing if it is gone). */
void ibsim_fabric_send(unsigned int port_num, uint16_t type, uint16_t status,
                       uint32_t xid, const void *body, size_t body_len);

#endif /* ibsim-sa.h */
