/*
 * The simulated fabric's subnet administrator for multicast: groups,
 * their listing and their notices.  See utilities/ibsim-sa.h and
 * lib/fabric-proto.h.
 */
#include <config.h>

#include "ibsim-sa.h"

#include <errno.h>
#include <string.h>

#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

#include "fabric-proto.h"
#include "ib-gid.h"
#include "ib-hdr.h"

/* SA counters: X(NAME, DESCRIPTION). */
#define SA_COUNTERS                                                     \
    X(join_refused, "joins refused: P_Key or Q_Key not the group's")    \
    X(mcg_lists, "MCG_LIST requests answered")                          \
    X(mcg_list_msgs, "MCG_LIST answer messages (segments) sent")        \
    X(mcg_notices, "MCG_NOTICE messages sent to subscribers")

static struct {
#define X(NAME, DESC) unsigned long long NAME;
    SA_COUNTERS
#undef X
} counters;

/* A port subscribed to traps 66 and 67. */
struct subscriber {
    struct ovs_list node;       /* In 'subscribers'. */
    struct ibsim_sa_port port;  /* Who, and its partition. */
};

static struct ovs_list groups = OVS_LIST_INITIALIZER(&groups);
static struct hmap groups_by_mgid = HMAP_INITIALIZER(&groups_by_mgid);
static struct hmap groups_by_mlid = HMAP_INITIALIZER(&groups_by_mlid);
static struct ovs_list subscribers = OVS_LIST_INITIALIZER(&subscribers);
static uint16_t next_mlid = IBB_LID_MCAST_MIN; /* Where assign_mlid()
                                                * looks first. */

static void
reply(const struct ibsim_sa_port *port, const struct ibb_fmsg_hdr *req,
      int status, const void *body, size_t len)
{
    ibsim_fabric_send(port->num, req->type, status, req->xid, body, len);
}

/* Whether a port in partition 'port_pkey' may see a group with P_Key
 * 'group_pkey': OpenSM's osm_physp_has_pkey() compares the low 15 bits,
 * whatever the membership type. */
static bool
sa_pkey_visible(uint16_t port_pkey, uint16_t group_pkey)
{
    return (port_pkey & 0x7fff) == (group_pkey & 0x7fff);
}

static struct ibsim_sa_group *
group_by_mgid(const uint8_t mgid[16])
{
    struct ibsim_sa_group *g;

    HMAP_FOR_EACH_WITH_HASH (g, mgid_node, hash_bytes(mgid, 16, 0),
                             &groups_by_mgid) {
        if (!memcmp(g->mgid, mgid, 16)) {
            return g;
        }
    }
    return NULL;
}

const struct ibsim_sa_group *
ibsim_sa_group_by_mgid(const uint8_t mgid[16])
{
    return group_by_mgid(mgid);
}

const struct ibsim_sa_group *
ibsim_sa_group_by_mlid(uint16_t mlid)
{
    struct ibsim_sa_group *g;

    HMAP_FOR_EACH_WITH_HASH (g, mlid_node, hash_int(mlid, 0),
                             &groups_by_mlid) {
        if (g->mlid == mlid) {
            return g;
        }
    }
    return NULL;
}

size_t
ibsim_sa_n_groups(void)
{
    return ovs_list_size(&groups);
}

/* Sends trap 'trap' for 'g' to every subscriber that may see it. */
static void
notify(const struct ibsim_sa_group *g, uint16_t trap)
{
    struct ibb_fmsg_mcg_notice n;
    struct subscriber *s;

    memset(&n, 0, sizeof n);
    n.trap = trap;
    memcpy(n.mgid, g->mgid, 16);
    LIST_FOR_EACH (s, node, &subscribers) {
        if (sa_pkey_visible(s->port.pkey, g->pkey)) {
            ibsim_fabric_send(s->port.num, IBB_FMSG_MCG_NOTICE, 0, 0, &n,
                              sizeof n);
            counters.mcg_notices++;
        }
    }
}

static void
group_remove_member(struct ibsim_sa_group *g, unsigned int port_num)
{
    for (size_t i = 0; i < g->n_members; i++) {
        if (g->members[i].port_num == port_num) {
            g->members[i] = g->members[--g->n_members];
            break;
        }
    }
    if (!g->n_members) {
        notify(g, IBB_FMCG_TRAP_DELETED);
        ovs_list_remove(&g->node);
        hmap_remove(&groups_by_mgid, &g->mgid_node);
        hmap_remove(&groups_by_mlid, &g->mlid_node);
        if (g->mlid < next_mlid) {
            next_mlid = g->mlid;
        }
        free(g->members);
        free(g);
    }
}

/* The lowest free MLID.  Every MLID below 'next_mlid' is taken, so the
 * search starts there and 16k groups take linear time, not quadratic. */
static uint16_t
assign_mlid(void)
{
    uint32_t n = IBB_LID_MCAST_MAX - IBB_LID_MCAST_MIN + 1;

    for (uint32_t i = next_mlid - IBB_LID_MCAST_MIN; i < n; i++) {
        uint32_t mlid = IBB_LID_MCAST_MIN + i;

        if (!ibsim_sa_group_by_mlid(mlid)) {
            next_mlid = mlid;
            return mlid;
        }
    }
    return 0;
}

static void
handle_mcast(const struct ibsim_sa_port *port, const struct ibb_fmsg_hdr *hdr,
             const struct ibb_fmsg_mcast *m)
{
    struct ibb_fmsg_mcast_reply mr;
    struct ibsim_sa_group *g = group_by_mgid(m->mgid);
    bool created = false;
    size_t i;

    memset(&mr, 0, sizeof mr);
    if (hdr->type == IBB_FMSG_MCAST_LEAVE) {
        if (!g) {
            reply(port, hdr, ENOENT, NULL, 0);
            return;
        }
        mr.mlid = g->mlid;
        mr.qkey = g->qkey;
        /* The answer first: a leaver that subscribed learns of the
         * deletion after its leave completed, as from a real SA. */
        reply(port, hdr, 0, &mr, sizeof mr);
        group_remove_member(g, port->num);
        return;
    }

    if (!ibb_gid_is_multicast(m->mgid)
        || !(m->join_state & (IBB_FMCAST_FULL | IBB_FMCAST_SEND_ONLY))) {
        reply(port, hdr, EINVAL, NULL, 0);
        return;
    }
    if (g && ((m->pkey && (m->pkey & 0x7fff) != (g->pkey & 0x7fff))
              || (m->qkey && m->qkey != g->qkey))) {
        /* An SA refuses a join whose P_Key or Q_Key is not the group's
         * (MCMemberRecord component mismatch). */
        counters.join_refused++;
        reply(port, hdr, EINVAL, NULL, 0);
        return;
    }
    if (!g) {
        uint16_t mlid = assign_mlid();

        if (!mlid) {
            reply(port, hdr, ENOSPC, NULL, 0);
            return;
        }
        g = xzalloc(sizeof *g);
        memcpy(g->mgid, m->mgid, 16);
        g->mlid = mlid;
        g->qkey = m->qkey;
        g->pkey = m->pkey ? m->pkey : IBB_DEF_PKEY;
        ovs_list_push_back(&groups, &g->node);
        hmap_insert(&groups_by_mgid, &g->mgid_node,
                    hash_bytes(g->mgid, 16, 0));
        hmap_insert(&groups_by_mlid, &g->mlid_node, hash_int(g->mlid, 0));
        created = true;
    }

    for (i = 0; i < g->n_members; i++) {
        if (g->members[i].port_num == port->num) {
            break;
        }
    }
    if (i == g->n_members) {
        g->members = xrealloc(g->members, (i + 1) * sizeof *g->members);
        g->members[i].port_num = port->num;
        g->n_members++;
    }
    g->members[i].join_state = m->join_state;
    mr.mlid = g->mlid;
    mr.qkey = g->qkey;
    reply(port, hdr, 0, &mr, sizeof mr);
    if (created) {
        notify(g, IBB_FMCG_TRAP_CREATED);
    }
}

/* Queues one message of an MCG_LIST answer. */
static void
list_send(const struct ibsim_sa_port *port, const struct ibb_fmsg_hdr *req,
          uint8_t *buf, uint32_t segment, size_t n_records, bool more)
{
    struct ibb_fmsg_mcg_list lh = {
        .flags = more ? IBB_FMCG_MORE : 0,
        .n_records = n_records,
        .segment = segment,
    };

    memcpy(buf, &lh, sizeof lh);
    reply(port, req, 0, buf,
          sizeof lh + n_records * sizeof(struct ibb_fmsg_mcg_record));
    counters.mcg_list_msgs++;
}

/* Answers MCG_LIST: every group 'port' may see, IBB_FMCG_RECORDS_PER_MSG
 * to a message, the messages one after the other (see fabric-proto.h). */
static void
handle_list(const struct ibsim_sa_port *port, const struct ibb_fmsg_hdr *hdr)
{
    uint8_t buf[sizeof(struct ibb_fmsg_mcg_list)
                + IBB_FMCG_RECORDS_PER_MSG
                  * sizeof(struct ibb_fmsg_mcg_record)];
    const struct ibsim_sa_group *g;
    uint32_t segment = 1;
    size_t n = 0;

    counters.mcg_lists++;
    LIST_FOR_EACH (g, node, &groups) {
        struct ibb_fmsg_mcg_record r;

        if (!sa_pkey_visible(port->pkey, g->pkey)) {
            continue;
        }
        if (n == IBB_FMCG_RECORDS_PER_MSG) {
            list_send(port, hdr, buf, segment++, n, true);
            n = 0;
        }
        memset(&r, 0, sizeof r);
        memcpy(r.mgid, g->mgid, 16);
        r.qkey = g->qkey;
        r.mlid = g->mlid;
        r.pkey = g->pkey;
        for (size_t i = 0; i < g->n_members; i++) {
            const struct ibsim_sa_member *m = &g->members[i];

            if (m->port_num == port->num) {
                continue;
            } else if (m->join_state & IBB_FMCAST_FULL) {
                r.n_full_others++;
            } else {
                r.n_send_only_others++;
            }
        }
        memcpy(buf + sizeof(struct ibb_fmsg_mcg_list) + n * sizeof r, &r,
               sizeof r);
        n++;
    }
    /* The last message, possibly with no record (an empty table). */
    list_send(port, hdr, buf, segment, n, false);
}

static struct subscriber *
subscriber_find(unsigned int port_num)
{
    struct subscriber *s;

    LIST_FOR_EACH (s, node, &subscribers) {
        if (s->port.num == port_num) {
            return s;
        }
    }
    return NULL;
}

static void
handle_subscribe(const struct ibsim_sa_port *port,
                 const struct ibb_fmsg_hdr *hdr,
                 const struct ibb_fmsg_mcg_subscribe *sub)
{
    struct subscriber *s = subscriber_find(port->num);

    if (sub->on > 1) {
        reply(port, hdr, EINVAL, NULL, 0);
        return;
    }
    if (sub->on && !s) {
        s = xzalloc(sizeof *s);
        s->port = *port;
        ovs_list_push_back(&subscribers, &s->node);
    } else if (!sub->on && s) {
        ovs_list_remove(&s->node);
        free(s);
    }
    /* Subscribing twice, or unsubscribing a port that is not, is no
     * error: InformInfo Set is idempotent. */
    reply(port, hdr, 0, NULL, 0);
}

bool
ibsim_sa_handles(uint16_t type)
{
    return (type == IBB_FMSG_MCAST_JOIN || type == IBB_FMSG_MCAST_LEAVE
            || type == IBB_FMSG_MCG_LIST || type == IBB_FMSG_MCG_SUBSCRIBE);
}

void
ibsim_sa_handle(const struct ibsim_sa_port *port,
                const struct ibb_fmsg_hdr *hdr, const uint8_t *body,
                size_t len)
{
    switch (hdr->type) {
    case IBB_FMSG_MCAST_JOIN:
    case IBB_FMSG_MCAST_LEAVE: {
        struct ibb_fmsg_mcast m;

        if (len < sizeof m) {
            reply(port, hdr, EINVAL, NULL, 0);
        } else {
            memcpy(&m, body, sizeof m);
            handle_mcast(port, hdr, &m);
        }
        break;
    }

    case IBB_FMSG_MCG_LIST:
        handle_list(port, hdr);
        break;

    case IBB_FMSG_MCG_SUBSCRIBE: {
        struct ibb_fmsg_mcg_subscribe sub;

        if (len < sizeof sub) {
            reply(port, hdr, EINVAL, NULL, 0);
        } else {
            memcpy(&sub, body, sizeof sub);
            handle_subscribe(port, hdr, &sub);
        }
        break;
    }

    default:
        reply(port, hdr, EOPNOTSUPP, NULL, 0);
        break;
    }
}

void
ibsim_sa_port_gone(unsigned int port_num)
{
    struct subscriber *s = subscriber_find(port_num);
    struct ibsim_sa_group *g;

    if (s) {
        ovs_list_remove(&s->node);
        free(s);
    }
    LIST_FOR_EACH_SAFE (g, node, &groups) {
        group_remove_member(g, port_num);
    }
}

void
ibsim_sa_format_groups(struct ds *s, const char *(*port_name)(unsigned int))
{
    char gidbuf[IBB_GID_STRLEN];
    const struct ibsim_sa_group *g;

    LIST_FOR_EACH (g, node, &groups) {
        ds_put_format(s, "%s mlid=0x%04x qkey=0x%08x pkey=0x%04x:",
                      ibb_gid_format(g->mgid, gidbuf, sizeof gidbuf),
                      g->mlid, g->qkey, g->pkey);
        for (size_t i = 0; i < g->n_members; i++) {
            const char *name = port_name(g->members[i].port_num);

            ds_put_format(s, " %s(%s)", name ? name : "?",
                          g->members[i].join_state & IBB_FMCAST_FULL
                          ? "full" : "send-only");
        }
        ds_put_char(s, '\n');
    }
}

void
ibsim_sa_format_show(struct ds *s)
{
    ds_put_format(s, "mcg_subscribers: %zu\n", ovs_list_size(&subscribers));
    ds_put_format(s, "mcg_notices_sent: %llu\n", counters.mcg_notices);
}

void
ibsim_sa_format_counters(struct ds *s)
{
#define X(NAME, DESC) ds_put_format(s, "%s: %llu\n", #NAME, counters.NAME);
    SA_COUNTERS
#undef X
}
