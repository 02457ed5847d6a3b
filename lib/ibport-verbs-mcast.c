/*
 * Multicast of the rdma-core port backend (lib/ibport-verbs.c): joins and
 * leaves through librdmacm, attachments of the groups to QPs, and the SA's
 * group table (not built).
 *
 *   - Multicast goes through librdmacm with AF_IB addresses (struct
 *     sockaddr_ib), so any MGID can be joined, not only those derived from
 *     IP addresses.  Compared with sending MCMemberRecords to the SA
 *     ourselves through libibumad, the kernel's ib_sa multicast module
 *     reference-counts memberships per port, shares them with IPoIB on the
 *     same node (a leave by one does not drop the other), re-joins by
 *     itself after SM changes, needs no access to the umad device, and
 *     rdma_cm reports results on a file descriptor.  Joins and leaves
 *     are asynchronous and paced by a join table (lib/ibb-join.h, as the
 *     sim port's): ibb_port_mcast_join() and _leave() queue them,
 *     ibb_port_run() posts at most opts.join_rate a second with at most
 *     IBB_JOIN_DEFAULT_INFLIGHT joins awaiting their rdma_cm event,
 *     completes them, and retries a failed one after 1 s, then twice as
 *     long each time up to 30 s.  The table keeps the states, the groups
 *     that changed (ibb_port_mcast_take_changed()) and its deadlines, so
 *     run() and next_wakeup() cost O(changes), not O(groups).
 *
 *   - Multicast attachments: an HCA attaches at most max_mcast_qp_attach
 *     groups to a QP (240 on a ConnectX), so full members attach to the
 *     main QP and then to extra UD QPs made as needed (same Q_Key and
 *     P_Key, on the SRQ and receive CQ of the group's receive queue, so
 *     what they receive is rebuilt exactly as on the main QP; with several
 *     queues, groups on queues other than 0 take extra QPs at once), at
 *     most VERBS_MAX_MCAST_QPS of
 *     them and max_total_mcast_qp_attach attachments in all; past that a
 *     join fails with the reason.  An extra QP is destroyed when its last
 *     group is left; attachments are not moved between QPs.  They never
 *     send, and callers cannot send on or destroy them.
 *
 *   - Multicast Q_Key: with RDMA_PS_UDP the kernel always joins with
 *     rdma_cm's Q_Key 0x01234567, whatever the group's creator chose, and
 *     the main QP receives the group's packets only if its own Q_Key
 *     matches.  So on an HCA the port's qkey option must be 0x01234567
 *     (the plugin refuses other values for verbs ports), and a join whose
 *     Q_Key differs from the main QP's fails with that reason.  Groups
 *     made by IPoIB carry IPoIB's own Q_Key and would need RDMA_PS_IPOIB
 *     (which takes the Q_Key from the SA's record); that is left for
 *     later.
 *
 *   - The SA's multicast group table and notices (ibb_port_mcg_*(), for
 *     mcast-follow=ib) are not built: they return ENOTSUP.  On an HCA
 *     they need the SA management class through libibumad, which
 *     rdma_cm does not offer: umad_open_port() on the HCA port (read and
 *     write access to /dev/infiniband/umadN), umad_register() for the SA
 *     class (0x03, version 2) with the Report method in the method mask so
 *     that unsolicited MADs reach us; an InformInfo Set (attribute 0x0003)
 *     to the SM LID from PortInfo, Subscribe = 1, IsGeneric = 1, TrapNumber
 *     66 and then 67, GID all zeros (every group), answered by a
 *     GetResp; then each Report(Notice) that arrives, whose DataDetails
 *     carry the MGID, must be answered with a ReportResp or the SA sends
 *     it again.  The table is a SubnAdmGetTable of MCMemberRecord
 *     (attribute 0x0038, empty component mask) whose GetTableResp comes in
 *     RMPP segments (umad_register with RMPP on, the kernel reassembles
 *     them); the records' JoinState says nothing of others' memberships, so
 *     member counts would need a second query per group (a GetTable with
 *     the MGID in the component mask lists every member's PortGID).  A
 *     client reregister event means the subscription is lost: InformInfo
 *     Set again and list again, as after ibb_port_reconnect() here.
 */
#include <config.h>

#include "ibport-verbs-private.h"

static void
count_cm_event(struct verbs_counters *c, enum rdma_cm_event_type type)
{
    switch (type) {
    case RDMA_CM_EVENT_MULTICAST_JOIN:
        c->cm_multicast_join++;
        break;
    case RDMA_CM_EVENT_MULTICAST_ERROR:
        c->cm_multicast_error++;
        break;
    case RDMA_CM_EVENT_UNREACHABLE:
        c->cm_unreachable++;
        break;
    case RDMA_CM_EVENT_ADDR_ERROR:
        c->cm_addr_error++;
        break;
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
        c->cm_device_removal++;
        break;
    case RDMA_CM_EVENT_ADDR_CHANGE:
        c->cm_addr_change++;
        break;
    default:
        c->cm_other++;
        break;
    }
}

static void
make_sib(struct sockaddr_ib *sib, uint16_t pkey, const uint8_t gid[16])
{
    memset(sib, 0, sizeof *sib);
    sib->sib_family = AF_IB;
    sib->sib_pkey = htons(pkey);
    memcpy(sib->sib_addr.sib_raw, gid, 16);
}

/* Formats a group's failure reason into 'why' (truncated to fit). */
static void set_why(char *why, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t size, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(why, size, format, args);
    va_end(args);
}

/* 'q' can take another group: it goes last, so that groups fill the QPs
 * that have long had room first, and the others may empty. */
static void
room_add(struct ibb_port_verbs *vp, struct verbs_qp *q)
{
    if (!q->has_room) {
        DL_APPEND2(vp->rxqs[q->rxq].mcast_room, q, room_prev, room_next);
        q->has_room = true;
    }
}

static void
room_del(struct ibb_port_verbs *vp, struct verbs_qp *q)
{
    if (q->has_room) {
        DL_DELETE2(vp->rxqs[q->rxq].mcast_room, q, room_prev, room_next);
        q->has_room = false;
    }
}

/* Destroys multicast QP 'q' once no group is attached to it.  (A QP with
 * a few groups left stays: attachments are not moved.) */
static void
mcast_qp_release(struct ibb_port_verbs *vp, struct verbs_qp *q)
{
    if (q->mcast_only && !q->n_attached && !verbs_free_qp(vp, q)) {
        vp->c.mcast_qps_destroyed++;
    }
}

/* Returns a QP of receive queue 'rxq' that can take another group: the
 * first with room, else a new multicast QP.  NULL at a limit or on error,
 * with the reason in 'why'. */
static struct verbs_qp *
mcast_qp_for_attach(struct ibb_port_verbs *vp, unsigned int rxq, char *why,
                    size_t why_size)
{
    struct verbs_qp *q;

    if (!vp->max_qp_attach
        || (vp->max_total_attach && vp->n_attached >= vp->max_total_attach)) {
        set_why(why, why_size, "%s allows %u multicast attachments in "
                 "all, and all are in use", vp->devname,
                 vp->max_qp_attach ? vp->max_total_attach : 0);
        return NULL;
    }
    if (vp->rxqs[rxq].mcast_room) {
        return vp->rxqs[rxq].mcast_room;
    }
    if (vp->n_mcast_qps >= VERBS_MAX_MCAST_QPS) {
        set_why(why, why_size, "the main QP and %d multicast QPs hold %u "
                 "groups each (the limit of %s)", VERBS_MAX_MCAST_QPS,
                 vp->max_qp_attach, vp->devname);
        return NULL;
    }
    if (verbs_create_qp(vp, vp->qkey, VERBS_MCAST_QP_SEND_WR, rxq, &q)) {
        set_why(why, why_size, "%s", ibb_port_error(&vp->up));
        return NULL;
    }
    q->mcast_only = true;
    vp->n_mcast_qps++;
    vp->c.mcast_qps_created++;
    room_add(vp, q);
    return q;
}

/* Attaches a QP of the port to 'g' with 'mlid', on the receive queue the
 * group hashes to.  Returns 0, or a positive errno with the reason in
 * 'why'. */
static int
group_attach(struct ibb_port_verbs *vp, struct verbs_group *g,
             uint16_t mlid, char *why, size_t why_size)
{
    struct verbs_qp *q = mcast_qp_for_attach(vp,
                                             verbs_rxq_for_group(vp, g->mgid),
                                             why, why_size);
    union ibv_gid mgid;
    int err;

    if (!q) {
        vp->c.mcast_attach_full++;
        return ENOSPC;
    }
    memcpy(mgid.raw, g->mgid, 16);
    err = ibv_attach_mcast(q->qp, &mgid, mlid);
    if (err) {
        set_why(why, why_size, "ibv_attach_mcast QP 0x%06x with MLID "
                 "0x%04x failed (%s)", q->qpn, mlid, strerror(err));
        mcast_qp_release(vp, q);
        return err;
    }
    g->attach_qp = q;
    g->attach_mlid = mlid;
    q->n_attached++;
    vp->n_attached++;
    if (q->n_attached >= vp->max_qp_attach) {
        room_del(vp, q);
    }
    return 0;
}

static void
group_detach(struct ibb_port_verbs *vp, struct verbs_group *g)
{
    struct verbs_qp *q = g->attach_qp;
    union ibv_gid mgid;

    if (!q) {
        return;
    }
    memcpy(mgid.raw, g->mgid, 16);
    ibv_detach_mcast(q->qp, &mgid, g->attach_mlid);
    g->attach_qp = NULL;
    q->n_attached--;
    vp->n_attached--;
    room_add(vp, q);
    mcast_qp_release(vp, q);
}

/* Leaves 'g' on the fabric and detaches it, keeping the entry. */
static void
group_stop(struct ibb_port_verbs *vp, struct verbs_group *g)
{
    struct sockaddr_ib mc;

    group_detach(vp, g);
    if (g->id) {
        if (g->join_posted) {
            make_sib(&mc, g->pkey, g->mgid);
            rdma_leave_multicast(g->id, (struct sockaddr *) &mc);
        }
        rdma_destroy_id(g->id);
        g->id = NULL;
    }
    g->join_posted = false;
}

/* Posts the join of 'g' (stopped by group_stop()) with its 'join' and
 * 'pkey'.  Returns 0 or a positive errno with the port error set. */
static int
group_start(struct ibb_port_verbs *vp, struct verbs_group *g)
{
    struct ibb_port *port = &vp->up;
    struct rdma_cm_join_mc_attr_ex mattr;
    struct sockaddr_ib src, mc;
    char mgid_s[IBB_GID_STRLEN];
    int err;

    ibb_gid_format(g->mgid, mgid_s, sizeof mgid_s);
    errno = 0;
    if (rdma_create_id(vp->cm_channel, &g->id, g, RDMA_PS_UDP)) {
        err = errno ? errno : ENOMEM;
        g->id = NULL;
        return ibb_port_set_error(port, err, "%s: rdma_create_id for group "
                                  "%s failed (%s)", port->device, mgid_s,
                                  strerror(err));
    }
    make_sib(&src, g->pkey, vp->gid);
    errno = 0;
    if (rdma_bind_addr(g->id, (struct sockaddr *) &src)) {
        err = errno ? errno : EINVAL;
        rdma_destroy_id(g->id);
        g->id = NULL;
        return ibb_port_set_error(port, err, "%s: rdma_bind_addr to the "
                                  "port GID with P_Key 0x%04x for group %s "
                                  "failed (%s)", port->device, g->pkey,
                                  mgid_s, strerror(err));
    }
    make_sib(&mc, g->pkey, g->mgid);
    memset(&mattr, 0, sizeof mattr);
    mattr.comp_mask = (RDMA_CM_JOIN_MC_ATTR_ADDRESS
                       | RDMA_CM_JOIN_MC_ATTR_JOIN_FLAGS);
    mattr.join_flags = (g->join == IBB_MCAST_SEND_ONLY
                        ? RDMA_MC_JOIN_FLAG_SENDONLY_FULLMEMBER
                        : RDMA_MC_JOIN_FLAG_FULLMEMBER);
    mattr.addr = (struct sockaddr *) &mc;
    errno = 0;
    if (rdma_join_multicast_ex(g->id, &mattr, g)) {
        err = errno ? errno : EINVAL;
        rdma_destroy_id(g->id);
        g->id = NULL;
        return ibb_port_set_error(port, err, "%s: rdma_join_multicast_ex %s "
                                  "failed (%s)", port->device, mgid_s,
                                  strerror(err));
    }
    g->join_posted = true;
    return 0;
}

static void
group_free(struct ibb_port_verbs *vp, struct verbs_group *g)
{
    group_stop(vp, g);
    HASH_DEL(vp->groups, g);
    free(g);
}

/* Frees 'g' if the join table is done with it (left, or given up), and
 * returns true if so. */
static bool
group_gc(struct ibb_port_verbs *vp, struct verbs_group *g)
{
    struct ibb_mcast_status st;

    if (ibb_join_status(vp->joins, g->mgid, &st) == ENOENT) {
        group_free(vp, g);
        return true;
    }
    return false;
}

/* Queues a join for every group, as the port went down or must join
 * again (the SM asked, the LID or GID changed) or the device is closed
 * ('stop').  verbs_pump_joins() sends the joins, paced, while the port is
 * ACTIVE; each leaves the group's old join and attachment first, so that
 * a port event costs no rdma_cm or verbs call per group here.  Closing
 * the device leaves and detaches every group now.  Groups being left are
 * done with. */
void
verbs_requeue_groups(struct ibb_port_verbs *vp, bool stop)
{
    struct verbs_group *g, *next;

    if (!vp->joins) {
        return;
    }
    if (stop) {
        HASH_ITER(hh, vp->groups, g, next) {
            group_stop(vp, g);
        }
    }
    ibb_join_reset(vp->joins);
    HASH_ITER(hh, vp->groups, g, next) {
        group_gc(vp, g);
    }
    vp->changed = true;
}

void
verbs_destroy_groups(struct ibb_port_verbs *vp)
{
    verbs_requeue_groups(vp, true);
}

/* Frees every group (closing the port). */
void
verbs_free_groups(struct ibb_port_verbs *vp)
{
    struct verbs_group *g, *next;

    HASH_ITER(hh, vp->groups, g, next) {
        group_free(vp, g);
    }
}

/* Posts the joins and leaves of the join table that the pacing allows
 * now.  A join is answered by its rdma_cm event (verbs_handle_cm_events()); a
 * leave is done at once (rdma_leave_multicast() does not wait for the
 * SA), so it is answered here.  A join retried leaves the old one
 * first. */
void
verbs_pump_joins(struct ibb_port_verbs *vp)
{
    struct ibb_join_request req;
    long long now;

    if (!vp->joins || !vp->ctx || vp->fatal || !vp->active
        || !vp->cm_channel) {
        return;
    }
    now = ibb_port_now_ms();
    ibb_join_run(vp->joins, now);
    while (ibb_join_next(vp->joins, now, &req)) {
        struct verbs_group *g = find_group(vp, req.mgid);
        uint32_t xid = vp->next_xid++;

        ibb_join_sent(vp->joins, now, xid);
        if (!g) {
            /* Every entry of the table has its group: not reached. */
            ibb_join_fail(vp->joins, now, xid, ENOENT, "no such group");
            continue;
        }
        group_stop(vp, g);
        if (req.op == IBB_JOIN_OP_LEAVE) {
            ibb_join_reply(vp->joins, now, xid, 0, 0);
        } else {
            int err;

            g->join = req.join;
            g->pkey = req.pkey;
            g->xid = xid;
            err = group_start(vp, g);
            if (err) {
                ibb_join_fail(vp->joins, now, xid, err,
                              ibb_port_error(&vp->up));
            }
        }
        group_gc(vp, g);
    }
}

/* Completes the join of 'g': checks the Q_Key, attaches a QP for a full
 * member (unless it is being left). */
static void
join_done(struct ibb_port_verbs *vp, struct verbs_group *g,
          const struct rdma_ud_param *ud)
{
    long long now = ibb_port_now_ms();
    uint16_t mlid = ud->ah_attr.dlid;
    struct ibb_mcast_status st;
    char why[128];
    int err = 0;

    if (ibb_join_status(vp->joins, g->mgid, &st)) {
        return;
    }
    if (ud->qkey != vp->qkey) {
        /* With RDMA_PS_UDP the kernel joins with rdma_cm's Q_Key
         * 0x01234567; the port's QPs would not receive the group's
         * packets (see the comment at the top of this file). */
        set_why(why, sizeof why, "group Q_Key 0x%08x (rdma_cm's) differs "
                 "from the port's Q_Key 0x%08x", ud->qkey, vp->qkey);
        err = EINVAL;
    } else if (g->join == IBB_MCAST_FULL && st.state != IBB_MCAST_LEAVING
               && !g->attach_qp) {
        err = group_attach(vp, g, mlid, why, sizeof why);
    }
    if (err) {
        ibb_join_fail(vp->joins, now, g->xid, err, why);
    } else if (!ibb_join_reply(vp->joins, now, g->xid, 0, mlid)) {
        /* The join had timed out: its retry joins again. */
        group_detach(vp, g);
    }
    group_gc(vp, g);
}

/* Handles every waiting rdma_cm event. */
void
verbs_handle_cm_events(struct ibb_port_verbs *vp)
{
    struct rdma_cm_event *event;

    if (!vp->cm_channel) {
        return;
    }
    while (!rdma_get_cm_event(vp->cm_channel, &event)) {
        enum rdma_cm_event_type type = event->event;
        struct rdma_ud_param ud = event->param.ud;
        struct rdma_cm_id *id = event->id;
        int status = event->status;
        struct verbs_group *g;
        char why[128];

        /* Ack first: a later rdma_destroy_id() waits for it. */
        rdma_ack_cm_event(event);
        count_cm_event(&vp->c, type);

        if (type == RDMA_CM_EVENT_DEVICE_REMOVAL) {
            /* Whichever id it came on: the device is gone. */
            vp->fatal = true;
            vp->changed = true;
            ibb_port_set_error(&vp->up, ENODEV, "%s: device %s was "
                               "removed", vp->up.device, vp->devname);
            continue;
        }

        /* An event is only read for an id that exists, and ids are
         * destroyed together with their group, so the context is live;
         * but a retry may have replaced the id since. */
        g = id ? id->context : NULL;
        if (!g || g->id != id) {
            continue;
        }
        switch (type) {
        case RDMA_CM_EVENT_MULTICAST_JOIN:
            join_done(vp, g, &ud);
            break;
        case RDMA_CM_EVENT_MULTICAST_ERROR:
        case RDMA_CM_EVENT_UNREACHABLE:
        case RDMA_CM_EVENT_ADDR_ERROR:
            if (status < 0) {
                set_why(why, sizeof why, "%s (%s)", rdma_event_str(type),
                         strerror(-status));
            } else {
                set_why(why, sizeof why, "%s (status %d)",
                         rdma_event_str(type), status);
            }
            /* The answer to the join in flight, or the end of a joined
             * membership (-ENETRESET with a port event, which may have
             * queued every group already).  The retry leaves the old
             * join first. */
            if (!ibb_join_fail(vp->joins, ibb_port_now_ms(), g->xid,
                               status < 0 ? -status : EIO, why)) {
                ibb_join_lost(vp->joins, ibb_port_now_ms(), g->mgid,
                              status < 0 ? -status : EIO, why);
            }
            group_gc(vp, g);
            break;
        default:
            break;
        }
    }
}

int
verbs_mcast_join(struct ibb_port *port, const struct ibb_port_group *pg,
                 uint16_t *mlid)
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    struct ibb_mcast_status st;
    struct verbs_group *g;
    bool oom = false;
    bool created = false;
    int err;

    *mlid = 0;
    if (!vp->cm_channel || !vp->joins) {
        return ibb_port_set_error(port, ENOTCONN, "%s: not connected",
                                  port->device);
    }
    if (pg->join != IBB_MCAST_FULL && pg->join != IBB_MCAST_SEND_ONLY) {
        return ibb_port_set_error(port, EINVAL, "%s: unsupported join "
                                  "state 0x%x (full or send-only)",
                                  port->device, pg->join);
    }
    if (!ibb_gid_is_multicast(pg->mgid)) {
        char s[IBB_GID_STRLEN];

        return ibb_port_set_error(port, EINVAL, "%s: %s is not a multicast "
                                  "GID", port->device,
                                  ibb_gid_format(pg->mgid, s, sizeof s));
    }

    g = find_group(vp, pg->mgid);
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g) {
            return ibb_port_set_error(port, ENOMEM, "%s: out of memory",
                                      port->device);
        }
        memcpy(g->mgid, pg->mgid, 16);
        HASH_ADD(hh, vp->groups, mgid, 16, g);
        if (oom) {
            free(g);
            return ibb_port_set_error(port, ENOMEM, "%s: out of memory",
                                      port->device);
        }
        created = true;
    }
    err = ibb_join_add(vp->joins, pg->mgid, pg->join, pg->qkey, pg->pkey);
    if (err) {
        if (created) {
            HASH_DEL(vp->groups, g);
            free(g);
        }
        return ibb_port_set_error(port, err, "%s: out of memory",
                                  port->device);
    }
    verbs_pump_joins(vp);
    if (!ibb_join_status(vp->joins, pg->mgid, &st)
        && st.state == IBB_MCAST_JOINED) {
        *mlid = st.mlid;
    }
    return 0;
}

int
verbs_mcast_leave(struct ibb_port *port, const uint8_t mgid[16])
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    struct verbs_group *g = find_group(vp, mgid);

    if (!g || !vp->joins) {
        char s[IBB_GID_STRLEN];

        return ibb_port_set_error(port, ENOENT, "%s: not a member of %s",
                                  port->device,
                                  ibb_gid_format(mgid, s, sizeof s));
    }
    /* Shown as leaving until verbs_pump_joins() leaves it, paced. */
    ibb_join_remove(vp->joins, mgid);
    if (!group_gc(vp, g)) {
        verbs_pump_joins(vp);
    }
    return 0;
}

int
verbs_mcast_status(struct ibb_port *port, const uint8_t mgid[16],
                   struct ibb_mcast_status *st)
{
    struct ibb_port_verbs *vp = verbs_cast(port);

    return vp->joins ? ibb_join_status(vp->joins, mgid, st) : ENOENT;
}

bool
verbs_mcast_take_changed(struct ibb_port *port, uint8_t mgid[16],
                         struct ibb_mcast_status *st)
{
    struct ibb_port_verbs *vp = verbs_cast(port);

    return vp->joins && ibb_join_take_changed(vp->joins, mgid, st);
}

/* See the header comment: the SA's group table needs libibumad. */
static int
verbs_mcg_unsupported(struct ibb_port *port)
{
    return ibb_port_set_error(port, ENOTSUP, "%s: mcast-follow=ib needs umad "
                              "access to the SA: not built", port->device);
}

int
verbs_mcg_subscribe(struct ibb_port *port, bool on)
{
    return verbs_mcg_unsupported(port);
}

int
verbs_mcg_list(struct ibb_port *port)
{
    return verbs_mcg_unsupported(port);
}

