/*
 * IB port backend for an rdma-core HCA port ("verbs:DEV[:PORT]").
 *
 * The port is one HCA port seen through libibverbs.  An HCA never hands
 * whole packets to software, so this backend turns what it does hand over
 * back into the native IB packets (LRH .. VCRC) that the rest of ibbridge
 * converts, and turns such packets into UD sends:
 *
 *   - Receive: the port has one or more receive queues (opts.n_rxq), each
 *     an SRQ whose buffers (40 GRH bytes + 4096 payload bytes each, all in
 *     one MR) complete on a receive CQ with a completion channel; every
 *     QP is on one of them (lib/ibport-verbs-rxq.c).  Receiving rebuilds LRH,
 *     GRH, BTH, DETH and ImmDt from each work completion and the GRH the
 *     HCA scattered, copies the payload and leaves ICRC and VCRC zero: the
 *     HCA has checked them (the class sets hw_crcs).
 *
 *   - Send: a packet's DETH SrcQP picks the QP it is posted on (the main
 *     QP or a proxy QP made by qp_create), its LRH/GRH give an address
 *     handle (cached), its BTH DestQP and DETH Q_Key the remote QP and
 *     Q_Key.  The payload is copied into a slot of a registered send ring;
 *     the HCA builds the headers and CRCs itself (lib/ibport-verbs-tx.c;
 *     the ring and the QPs are made here).  Proxy QPs are real QPs:
 *     each stands on IB for one remote RoCE endpoint, so replies to it
 *     arrive on its QPN.  IBV_QP_CREATE_SOURCE_QPN (mlx5, the IPoIB
 *     enhanced offload, needs CAP_NET_RAW) would let one QP send with any
 *     SrcQP, but it is not portable and is not used.
 *
 *   - Multicast (joins through librdmacm, attachments to QPs, the Q_Key,
 *     the SA's group table): lib/ibport-verbs-mcast.c.
 *
 *   - HCA asynchronous events (port up/down, LID change, client
 *     reregister, fatal errors) are read by ibb_port_run(), which queues
 *     every group to join again (paced; each join first leaves the old
 *     one and detaches) when the port went down or the SM asks for it.
 *     ibb_port_ctl_fd() is an epoll fd over the async fd and the rdma_cm
 *     channel.  A QP whose send failed (an error completion leaves it in
 *     the error state, where every later send is flushed), or that got a
 *     QP error event (a multicast QP too), is taken through RESET back to
 *     RTS by ibb_port_run() or before the next send on it, keeping its
 *     attachments.  Errors that break the whole port (CQ or SRQ error,
 *     device fatal or removed, a fatal error on the main QP) make the
 *     needs_reopen op true: ibb_port_reconnect() then closes the device
 *     (leaving and detaching every group, destroying every QP) and opens
 *     it again, and the groups join again, paced.
 *
 *   - Drops and events inside the backend are counted and exported as
 *     named counters (ibb_port_counters(), VERBS_COUNTERS below).
 *
 * This file, lib/ibport-verbs-rxq.c (the receive queues),
 * lib/ibport-verbs-tx.c (sends) and lib/ibport-verbs-mcast.c (multicast)
 * are the only ones in lib/ that include rdma-core headers (through
 * lib/ibport-verbs-private.h).  They
 * use only the verbs and rdma_cm entry points that the HCA model
 * (utilities/ibsim-verbs.c) provides.
 */
#include <config.h>

#include "ibport-verbs-private.h"

int
verbs_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return errno;
    }
    return 0;
}

static uint16_t
mtu_bytes(enum ibv_mtu mtu)
{
    return mtu >= IBV_MTU_256 && mtu <= IBV_MTU_4096 ? 128 << mtu : 0;
}

static void
count_async_event(struct verbs_counters *c, enum ibv_event_type type)
{
    switch (type) {
    case IBV_EVENT_PORT_ACTIVE:
        c->ev_port_active++;
        break;
    case IBV_EVENT_PORT_ERR:
        c->ev_port_err++;
        break;
    case IBV_EVENT_LID_CHANGE:
        c->ev_lid_change++;
        break;
    case IBV_EVENT_PKEY_CHANGE:
        c->ev_pkey_change++;
        break;
    case IBV_EVENT_SM_CHANGE:
        c->ev_sm_change++;
        break;
    case IBV_EVENT_CLIENT_REREGISTER:
        c->ev_client_reregister++;
        break;
    case IBV_EVENT_GID_CHANGE:
        c->ev_gid_change++;
        break;
    case IBV_EVENT_CQ_ERR:
        c->ev_cq_err++;
        break;
    case IBV_EVENT_QP_FATAL:
        c->ev_qp_fatal++;
        break;
    case IBV_EVENT_QP_REQ_ERR:
        c->ev_qp_req_err++;
        break;
    case IBV_EVENT_QP_ACCESS_ERR:
        c->ev_qp_access_err++;
        break;
    case IBV_EVENT_SRQ_ERR:
        c->ev_srq_err++;
        break;
    case IBV_EVENT_SRQ_LIMIT_REACHED:
        c->ev_srq_limit_reached++;
        break;
    case IBV_EVENT_DEVICE_FATAL:
        c->ev_device_fatal++;
        break;
    default:
        c->ev_other++;
        break;
    }
}

static struct ibb_port *
verbs_alloc(void)
{
    struct ibb_port_verbs *vp = calloc(1, sizeof *vp);

    if (!vp) {
        return NULL;
    }
    vp->epoll_fd = -1;
    vp->recover_at = LLONG_MAX;
    return &vp->up;
}


static void
verbs_dealloc(struct ibb_port *port)
{
    struct ibb_port_verbs *vp = verbs_cast(port);

    verbs_free_groups(vp);
    ibb_join_table_destroy(vp->joins);
    free(vp);
}

/* ------------------------------------------------------------------ */
/* Device and port. */

/* If 'netdev' is a network interface of 'dev', stores its HCA port
 * (sysfs dev_port + 1) in '*portp' and returns true. */
static bool
netdev_port(const struct ibv_device *dev, const char *netdev,
            unsigned int *portp)
{
    char path[PATH_MAX];
    unsigned int dev_port = 0;
    FILE *f;
    int n;

    if (!netdev[0] || strchr(netdev, '/') || !strcmp(netdev, "..")) {
        return false;
    }
    n = snprintf(path, sizeof path, "%s/device/net/%s", dev->ibdev_path,
                 netdev);
    if (n < 0 || n >= (int) sizeof path || access(path, F_OK)) {
        return false;
    }
    n = snprintf(path, sizeof path, "%s/device/net/%s/dev_port",
                 dev->ibdev_path, netdev);
    if (n > 0 && n < (int) sizeof path) {
        f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%u", &dev_port) != 1) {
                dev_port = 0;
            }
            fclose(f);
        }
    }
    *portp = dev_port + 1;
    return true;
}

/* True if the device string gave a port explicitly ("verbs:DEV:PORT"). */
static bool
port_is_explicit(const struct ibb_port *port)
{
    const char *rest = strchr(port->device, ':');

    return rest && strchr(rest + 1, ':') != NULL;
}

/* Finds the device named by port->spec.ibdev (an RDMA device or one of
 * its network interfaces) and opens it. */
static int
verbs_open_device(struct ibb_port_verbs *vp)
{
    struct ibb_port *port = &vp->up;
    const char *name = port->spec.ibdev;
    unsigned int port_num = port->spec.port;
    struct ibv_device **list, *dev = NULL;
    int n = 0;

    errno = 0;
    list = ibv_get_device_list(&n);
    if (!list) {
        int err = errno ? errno : ENODEV;

        return ibb_port_set_error(port, ENODEV, "%s: no RDMA device "
                                  "\"%s\": ibv_get_device_list failed "
                                  "(%s): is the RDMA stack (ib_uverbs) "
                                  "loaded?", port->device, name,
                                  strerror(err));
    }
    for (int i = 0; i < n && !dev; i++) {
        if (!strcmp(ibv_get_device_name(list[i]), name)) {
            dev = list[i];
        }
    }
    for (int i = 0; i < n && !dev; i++) {
        unsigned int p;

        if (netdev_port(list[i], name, &p)) {
            dev = list[i];
            if (!port_is_explicit(port)) {
                port_num = p;
            }
        }
    }
    if (!dev) {
        char *found;
        size_t len = 1;

        /* Every device, however many: the list is the hint. */
        for (int i = 0; i < n; i++) {
            len += strlen(ibv_get_device_name(list[i])) + 2;
        }
        found = malloc(len);
        if (found) {
            found[0] = '\0';
            for (int i = 0; i < n; i++) {
                if (i) {
                    strcat(found, ", ");
                }
                strcat(found, ibv_get_device_name(list[i]));
            }
        }
        ibv_free_device_list(list);
        ibb_port_set_error(port, ENODEV, "%s: no RDMA device or network "
                           "interface named \"%s\" (devices found: %s)",
                           port->device, name,
                           !n ? "none" : found ? found : "out of memory");
        free(found);
        return ENODEV;
    }

    snprintf(vp->devname, sizeof vp->devname, "%s",
             ibv_get_device_name(dev));
    vp->port_num = port_num;
    vp->ctx = ibv_open_device(dev);
    if (!vp->ctx) {
        int err = errno ? errno : ENODEV;

        ibv_free_device_list(list);
        return ibb_port_set_error(port, err, "%s: ibv_open_device %s "
                                  "failed (%s)", port->device, vp->devname,
                                  strerror(err));
    }
    ibv_free_device_list(list);
    return 0;
}

static void
verbs_close_device(struct ibb_port_verbs *vp)
{
    free(vp->pkeys);
    vp->pkeys = NULL;
    vp->n_pkeys = 0;
    if (vp->ctx) {
        ibv_close_device(vp->ctx);
        vp->ctx = NULL;
    }
}

/* Reads the P_Key table and finds opts.pkey in it (low 15 bits, full
 * membership preferred). */
static int
verbs_read_pkeys(struct ibb_port_verbs *vp, int tbl_len)
{
    struct ibb_port *port = &vp->up;
    uint16_t want = port->opts.pkey & 0x7fff;
    int found = -1;

    free(vp->pkeys);
    vp->n_pkeys = 0;
    vp->pkeys = calloc(tbl_len > 0 ? tbl_len : 1, sizeof *vp->pkeys);
    if (!vp->pkeys) {
        return ibb_port_set_error(port, ENOMEM, "%s: out of memory",
                                  port->device);
    }
    for (int i = 0; i < tbl_len; i++) {
        __be16 pkey;
        int err = ibv_query_pkey(vp->ctx, vp->port_num, i, &pkey);

        if (err) {
            err = err > 0 ? err : errno ? errno : EIO;
            return ibb_port_set_error(port, err, "%s: ibv_query_pkey %s "
                                      "port %u index %d failed (%s)",
                                      port->device, vp->devname,
                                      vp->port_num, i, strerror(err));
        }
        vp->pkeys[i] = ntohs(pkey);
        vp->n_pkeys = i + 1;
        if ((vp->pkeys[i] & 0x7fff) != want) {
            continue;
        }
        /* The first match, or a full member after a limited one. */
        if (found < 0 || ((vp->pkeys[i] & 0x8000)
                          && !(vp->pkeys[found] & 0x8000))) {
            found = i;
        }
    }
    if (found < 0) {
        return ibb_port_set_error(port, ENOENT, "%s: P_Key 0x%04x is not "
                                  "in the P_Key table of %s port %u (%d "
                                  "entries): ask the SM to add the port "
                                  "to that partition", port->device,
                                  port->opts.pkey, vp->devname,
                                  vp->port_num, tbl_len);
    }
    vp->pkey_index = found;
    return 0;
}

/* Queries the port: state, LID, MTU and the GID at opts.gid_index.  If
 * 'check' is true, any problem that keeps the port from working is an
 * error. */
static int
verbs_query_port(struct ibb_port_verbs *vp, bool check)
{
    struct ibb_port *port = &vp->up;
    struct ibv_port_attr pattr;
    union ibv_gid gid;
    int err;

    memset(&pattr, 0, sizeof pattr);
    err = ibv_query_port(vp->ctx, vp->port_num, &pattr);
    if (err) {
        err = err > 0 ? err : errno ? errno : EIO;
        return ibb_port_set_error(port, err, "%s: ibv_query_port %s port "
                                  "%u failed (%s)", port->device,
                                  vp->devname, vp->port_num, strerror(err));
    }
    vp->active = pattr.state == IBV_PORT_ACTIVE;
    vp->lid = pattr.lid;
    vp->lmc = pattr.lmc;
    vp->sm_lid = pattr.sm_lid;
    vp->mtu = mtu_bytes(pattr.active_mtu);
    vp->gid_tbl_len = pattr.gid_tbl_len;
    if (check && !vp->active) {
        return ibb_port_set_error(port, ENETDOWN, "%s: %s port %u is %s, "
                                  "not ACTIVE (is the cable in and a "
                                  "subnet manager running?)", port->device,
                                  vp->devname, vp->port_num,
                                  ibv_port_state_str(pattr.state));
    }
    if (check && pattr.link_layer != IBV_LINK_LAYER_INFINIBAND) {
        return ibb_port_set_error(port, EPROTONOSUPPORT, "%s: %s port %u "
                                  "has link layer %s, not InfiniBand",
                                  port->device, vp->devname, vp->port_num,
                                  pattr.link_layer == IBV_LINK_LAYER_ETHERNET
                                  ? "Ethernet" : "unspecified");
    }
    if (port->opts.gid_index >= (unsigned int) pattr.gid_tbl_len) {
        return ibb_port_set_error(port, EINVAL, "%s: GID index %u out of "
                                  "range (%s port %u has %d GIDs)",
                                  port->device, port->opts.gid_index,
                                  vp->devname, vp->port_num,
                                  pattr.gid_tbl_len);
    }
    err = ibv_query_gid(vp->ctx, vp->port_num, port->opts.gid_index, &gid);
    if (err) {
        err = err > 0 ? err : errno ? errno : EIO;
        return ibb_port_set_error(port, err, "%s: ibv_query_gid %s port %u "
                                  "index %u failed (%s)", port->device,
                                  vp->devname, vp->port_num,
                                  port->opts.gid_index, strerror(err));
    }
    if (ibb_gid_is_zero(gid.raw)) {
        return ibb_port_set_error(port, EADDRNOTAVAIL, "%s: GID index %u "
                                  "of %s port %u is empty", port->device,
                                  port->opts.gid_index, vp->devname,
                                  vp->port_num);
    }
    memcpy(vp->gid, gid.raw, 16);
    return verbs_read_pkeys(vp, pattr.pkey_tbl_len);
}

/* Opens the device and checks the port. */
static int
verbs_open(struct ibb_port_verbs *vp)
{
    struct ibb_port *port = &vp->up;
    struct ibv_device_attr dattr;
    int err;

    err = verbs_open_device(vp);
    if (err) {
        return err;
    }
    memset(&dattr, 0, sizeof dattr);
    err = ibv_query_device(vp->ctx, &dattr);
    if (err) {
        err = err > 0 ? err : errno ? errno : EIO;
        ibb_port_set_error(port, err, "%s: ibv_query_device %s failed (%s)",
                           port->device, vp->devname, strerror(err));
        goto err_close;
    }
    if (vp->port_num < 1 || vp->port_num > dattr.phys_port_cnt) {
        err = ibb_port_set_error(port, ERANGE, "%s: %s has no port %u "
                                 "(ports 1 to %u)", port->device,
                                 vp->devname, vp->port_num,
                                 dattr.phys_port_cnt);
        goto err_close;
    }
    /* A device without attachments (none should be) fails full joins
     * with that reason. */
    vp->max_qp_attach = dattr.max_mcast_qp_attach > 0
                        ? dattr.max_mcast_qp_attach : 0;
    vp->max_total_attach = dattr.max_total_mcast_qp_attach > 0
                           ? dattr.max_total_mcast_qp_attach : 0;
    err = verbs_query_port(vp, true);
    if (err) {
        goto err_close;
    }
    return 0;

err_close:
    verbs_close_device(vp);
    return err;
}

/* ------------------------------------------------------------------ */
/* Queues and buffers. */

static void
verbs_destroy_queues(struct ibb_port_verbs *vp)
{
    if (vp->send_mr) {
        ibv_dereg_mr(vp->send_mr);
        vp->send_mr = NULL;
    }
    free(vp->send_bufs);
    vp->send_bufs = NULL;
    verbs_rxqs_destroy(vp);
    if (vp->send_cq) {
        ibv_destroy_cq(vp->send_cq);
        vp->send_cq = NULL;
    }
    if (vp->pd) {
        ibv_dealloc_pd(vp->pd);
        vp->pd = NULL;
    }
}

/* Sets an error for failed call 'what' and returns its errno. */
int
verbs_call_failed(struct ibb_port_verbs *vp, const char *what)
{
    int err = errno ? errno : ENOMEM;

    return ibb_port_set_error(&vp->up, err, "%s: %s on %s failed (%s)",
                              vp->up.device, what, vp->devname,
                              strerror(err));
}

/* Allocates 'size' zeroed, page-aligned bytes in '*bufp' and registers
 * them for local writes in '*mrp'.  On error sets the port's message
 * (naming 'what') and returns it; what was made stays for
 * verbs_destroy_queues(). */
int
verbs_alloc_registered(struct ibb_port_verbs *vp, size_t size,
                       uint8_t **bufp, struct ibv_mr **mrp, const char *what)
{
    char call[64];

    if (posix_memalign((void **) bufp, 4096, size)) {
        *bufp = NULL;
        return ibb_port_set_error(&vp->up, ENOMEM, "%s: out of memory for "
                                  "%s", vp->up.device, what);
    }
    memset(*bufp, 0, size);
    errno = 0;
    *mrp = ibv_reg_mr(vp->pd, *bufp, size, IBV_ACCESS_LOCAL_WRITE);
    if (!*mrp) {
        snprintf(call, sizeof call, "ibv_reg_mr (%s)", what);
        return verbs_call_failed(vp, call);
    }
    return 0;
}

/* Creates the PD, the send CQ and send slots, and the receive queues with
 * their buffers posted. */
static int
verbs_create_queues(struct ibb_port_verbs *vp)
{
    size_t send_size;
    int err;

    errno = 0;
    vp->pd = ibv_alloc_pd(vp->ctx);
    if (!vp->pd) {
        return verbs_call_failed(vp, "ibv_alloc_pd");
    }

    errno = 0;
    vp->send_cq = ibv_create_cq(vp->ctx, 2 * VERBS_N_SEND_SLOTS, vp, NULL,
                                0);
    if (!vp->send_cq) {
        err = verbs_call_failed(vp, "ibv_create_cq (send)");
        goto error;
    }

    send_size = (size_t) VERBS_N_SEND_SLOTS * VERBS_SEND_SLOT_SIZE;
    err = verbs_alloc_registered(vp, send_size, &vp->send_bufs,
                                 &vp->send_mr, "send buffers");
    if (err) {
        goto error;
    }
    for (unsigned int i = 0; i < VERBS_N_SEND_SLOTS; i++) {
        vp->free_slots[i] = VERBS_N_SEND_SLOTS - 1 - i;
        vp->slot_busy[i] = false;
        vp->slot_ah[i] = NULL;
    }
    vp->n_free_slots = VERBS_N_SEND_SLOTS;

    err = verbs_rxqs_create(vp);
    if (err) {
        goto error;
    }
    return 0;

error:
    /* verbs_destroy_queues() takes what was made so far. */
    verbs_destroy_queues(vp);
    return err;
}

/* ------------------------------------------------------------------ */
/* QPs. */

/* Moves a new UD QP through INIT and RTR to RTS. */
static int
verbs_qp_to_rts(struct ibb_port_verbs *vp, struct ibv_qp *qp, uint32_t qkey)
{
    struct ibv_qp_attr attr;
    int err;

    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_INIT;
    attr.pkey_index = vp->pkey_index;
    attr.port_num = vp->port_num;
    attr.qkey = qkey;
    err = ibv_modify_qp(qp, &attr, (IBV_QP_STATE | IBV_QP_PKEY_INDEX
                                    | IBV_QP_PORT | IBV_QP_QKEY));
    if (err) {
        return ibb_port_set_error(&vp->up, err, "%s: ibv_modify_qp QP "
                                  "0x%06x to INIT failed (%s)",
                                  vp->up.device, qp->qp_num, strerror(err));
    }

    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_RTR;
    err = ibv_modify_qp(qp, &attr, IBV_QP_STATE);
    if (err) {
        return ibb_port_set_error(&vp->up, err, "%s: ibv_modify_qp QP "
                                  "0x%06x to RTR failed (%s)",
                                  vp->up.device, qp->qp_num, strerror(err));
    }

    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_RTS;
    attr.sq_psn = 0;
    err = ibv_modify_qp(qp, &attr, IBV_QP_STATE | IBV_QP_SQ_PSN);
    if (err) {
        return ibb_port_set_error(&vp->up, err, "%s: ibv_modify_qp QP "
                                  "0x%06x to RTS failed (%s)",
                                  vp->up.device, qp->qp_num, strerror(err));
    }
    return 0;
}

/* Creates a UD QP on the SRQ and receive CQ of receive queue 'rxq' and
 * the send CQ, brings it to RTS and adds it to 'qps'. */
int
verbs_create_qp(struct ibb_port_verbs *vp, uint32_t qkey,
                unsigned int send_wr, unsigned int rxq,
                struct verbs_qp **qpp)
{
    struct ibv_qp_init_attr_ex attr;
    struct verbs_qp *q;
    struct ibv_qp *qp;
    bool oom = false;
    int err;

    if (vp->n_qps >= IBB_VERBS_MAX_QPS) {
        return ibb_port_set_error(&vp->up, ENOSPC, "%s: limit of %d QPs "
                                  "per port reached", vp->up.device,
                                  IBB_VERBS_MAX_QPS);
    }

    memset(&attr, 0, sizeof attr);
    attr.qp_context = vp;
    attr.send_cq = vp->send_cq;
    attr.recv_cq = vp->rxqs[rxq].cq;
    attr.srq = vp->rxqs[rxq].srq;
    attr.cap.max_send_wr = send_wr;
    attr.cap.max_send_sge = 1;
    attr.qp_type = IBV_QPT_UD;
    attr.sq_sig_all = 0;
    attr.pd = vp->pd;
    /* Keep IBV_QP_INIT_ATTR_CREATE_FLAGS even with no flag: with the PD
     * bit alone, ibv_create_qp_ex() falls back to ibv_create_qp(). */
    attr.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_CREATE_FLAGS;
    attr.create_flags = (vp->no_block_lb ? 0
                         : IBV_QP_CREATE_BLOCK_SELF_MCAST_LB);
    errno = 0;
    qp = ibv_create_qp_ex(vp->ctx, &attr);
    if (!qp && !vp->no_block_lb && (errno == EOPNOTSUPP || errno == EINVAL
                                    || errno == ENOTSUP)) {
        /* Our own multicast may then loop back: verbs_recv() drops it. */
        vp->no_block_lb = true;
        attr.create_flags = 0;
        errno = 0;
        qp = ibv_create_qp_ex(vp->ctx, &attr);
    }
    if (!qp) {
        return verbs_call_failed(vp, "ibv_create_qp_ex (UD)");
    }

    err = verbs_qp_to_rts(vp, qp, qkey);
    if (err) {
        ibv_destroy_qp(qp);
        return err;
    }

    q = calloc(1, sizeof *q);
    if (!q) {
        ibv_destroy_qp(qp);
        return ibb_port_set_error(&vp->up, ENOMEM, "%s: out of memory",
                                  vp->up.device);
    }
    q->qpn = qp->qp_num;
    q->qkey = qkey;
    q->pkey_index = vp->pkey_index;
    q->qp = qp;
    q->rxq = rxq;
    HASH_ADD(hh, vp->qps, qpn, sizeof q->qpn, q);
    if (oom) {
        ibv_destroy_qp(qp);
        free(q);
        return ibb_port_set_error(&vp->up, ENOMEM, "%s: out of memory",
                                  vp->up.device);
    }
    vp->n_qps++;
    *qpp = q;
    return 0;
}

/* Removes 'q' from 'qps' and frees it (its QP must be destroyed). */
static void
verbs_forget_qp(struct ibb_port_verbs *vp, struct verbs_qp *q)
{
    HASH_DEL(vp->qps, q);
    vp->n_qps--;
    if (q->has_room) {
        DL_DELETE2(vp->rxqs[q->rxq].mcast_room, q, room_prev, room_next);
    }
    if (q == vp->main_qp) {
        vp->main_qp = NULL;
    } else if (q->mcast_only) {
        vp->n_mcast_qps--;
    } else {
        vp->rxqs[q->rxq].n_proxies--;
    }
    vp->n_attached -= q->n_attached;
    free(q);
}

/* Destroys the QP of 'q' and forgets it.  If ibv_destroy_qp() fails, the
 * QP still exists and may still use its send slots, so 'q' stays as it is
 * and the error is returned. */
int
verbs_free_qp(struct ibb_port_verbs *vp, struct verbs_qp *q)
{
    int err = ibv_destroy_qp(q->qp);

    if (err) {
        err = err > 0 ? err : errno ? errno : EIO;
        return ibb_port_set_error(&vp->up, err, "%s: ibv_destroy_qp QP "
                                  "0x%06x failed (%s)", vp->up.device,
                                  q->qpn, strerror(err));
    }
    verbs_forget_qp(vp, q);
    return 0;
}

static void
verbs_destroy_qps(struct ibb_port_verbs *vp)
{
    struct verbs_qp *q, *next;

    HASH_ITER(hh, vp->qps, q, next) {
        if (verbs_free_qp(vp, q)) {
            /* Only on disconnect: closing the device right after releases
             * what is left of the QP, so forget it anyway. */
            verbs_forget_qp(vp, q);
        }
    }
    vp->recover_at = LLONG_MAX;
}

static int
verbs_qp_create(struct ibb_port *port, uint32_t qkey, uint32_t *qpn)
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    struct verbs_qp *q;
    int err;

    if (!vp->ctx) {
        return ibb_port_set_error(port, ENOTCONN, "%s: not connected",
                                  port->device);
    }
    if (vp->n_qps + VERBS_MAX_MCAST_QPS - vp->n_mcast_qps
        >= IBB_VERBS_MAX_QPS) {
        /* What is left is kept for multicast QPs. */
        return ibb_port_set_error(port, ENOSPC, "%s: limit of %d proxy "
                                  "QPs per port reached", port->device,
                                  IBB_VERBS_MAX_QPS - VERBS_MAX_MCAST_QPS
                                  - 1);
    }
    err = verbs_create_qp(vp, qkey, VERBS_PROXY_QP_SEND_WR,
                          verbs_rxq_for_proxy(vp), &q);
    if (!err) {
        vp->rxqs[q->rxq].n_proxies++;
        *qpn = q->qpn;
    }
    return err;
}

/* Returns free slots of completed sends to the ring. */
static int
verbs_qp_destroy(struct ibb_port *port, uint32_t qpn)
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    struct verbs_qp *q = find_qp(vp, qpn);
    int err;

    if (!q) {
        return ibb_port_set_error(port, ENOENT, "%s: no QP 0x%06x",
                                  port->device, qpn);
    }
    if (q == vp->main_qp || q->mcast_only) {
        return ibb_port_set_error(port, EINVAL, "%s: QP 0x%06x is the "
                                  "port's %s QP, which stays while the "
                                  "port needs it", port->device, qpn,
                                  q == vp->main_qp ? "main" : "multicast");
    }
    verbs_reap_sends(vp);
    err = verbs_free_qp(vp, q);
    if (err) {
        /* The QP is still there, its sends possibly in flight: keep their
         * slots. */
        return err;
    }
    /* Completions of sends still in flight on the QP may have been
     * discarded with it (mlx5 cleans them from the CQ): the HCA is done
     * with those slots.  A late completion no longer matches its slot's
     * sequence number and is ignored. */
    verbs_reap_sends(vp);
    verbs_release_qp_slots(vp, qpn);
    return 0;
}

/* Marks 'q' as in the error state, for verbs_recover_qp(), and asks for
 * a recovery pass as soon as possible. */
void
verbs_mark_qp_broken(struct ibb_port_verbs *vp, struct verbs_qp *q)
{
    q->broken = true;
    vp->recover_at = 0;
}

/* Brings 'q' back from the error state (after a send error completion or
 * a QP error event): RESET, then INIT, RTR and RTS again with its Q_Key.
 * RESET discards the sends the QP still had, without completions, so
 * their slots (and AH references) are taken back here; a late completion
 * no longer matches its slot's sequence number.  Multicast attachments
 * belong to the QP, not to its state, and stay. */
static int
verbs_recover_qp(struct ibb_port_verbs *vp, struct verbs_qp *q)
{
    struct ibv_qp_attr attr;
    int err;

    verbs_reap_sends(vp);
    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_RESET;
    err = ibv_modify_qp(q->qp, &attr, IBV_QP_STATE);
    if (err) {
        ibb_port_set_error(&vp->up, err, "%s: ibv_modify_qp QP 0x%06x to "
                           "RESET failed (%s)", vp->up.device, q->qpn,
                           strerror(err));
    } else {
        verbs_reap_sends(vp);
        verbs_release_qp_slots(vp, q->qpn);
        /* With the P_Key index of now: the table may have changed. */
        err = verbs_qp_to_rts(vp, q->qp, q->qkey);
    }
    if (err) {
        vp->c.qp_recovery_errors++;
        return err;
    }
    q->pkey_index = vp->pkey_index;
    q->broken = false;
    vp->c.qp_recoveries++;
    return 0;
}

/* Tries to recover every broken QP, and to post receive buffers that
 * could not be posted, if it is time to. */
static void
recover_qps(struct ibb_port_verbs *vp)
{
    struct verbs_qp *q, *next;
    long long now = ibb_port_now_ms();

    if (now < vp->recover_at) {
        return;
    }
    vp->recover_at = LLONG_MAX;
    HASH_ITER(hh, vp->qps, q, next) {
        if (q->broken && verbs_recover_qp(vp, q)) {
            vp->recover_at = now + VERBS_RECOVER_RETRY_MS;
        }
    }
    verbs_rxqs_retry_reposts(vp);
}

/* True if 'q' can take a send: not broken, or recovered now.  After a
 * failed recovery, sends are dropped until the next try is due. */
bool
verbs_qp_usable(struct ibb_port_verbs *vp, struct verbs_qp *q)
{
    long long now;

    if (!q->broken) {
        return true;
    }
    now = ibb_port_now_ms();
    if (now < vp->recover_at) {
        return false;
    }
    if (verbs_recover_qp(vp, q)) {
        vp->recover_at = now + VERBS_RECOVER_RETRY_MS;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Events and connection. */

static void
verbs_close_events(struct ibb_port_verbs *vp)
{
    if (vp->epoll_fd >= 0) {
        close(vp->epoll_fd);
        vp->epoll_fd = -1;
    }
    if (vp->cm_channel) {
        rdma_destroy_event_channel(vp->cm_channel);
        vp->cm_channel = NULL;
    }
}

/* Sets up the async fd, the rdma_cm channel and the epoll fd over both. */
static int
verbs_open_events(struct ibb_port_verbs *vp)
{
    struct ibb_port *port = &vp->up;
    struct epoll_event ev;
    int err;

    err = verbs_set_nonblock(vp->ctx->async_fd);
    if (err) {
        return ibb_port_set_error(port, err, "%s: making the async event "
                                  "fd of %s non-blocking failed (%s)",
                                  port->device, vp->devname, strerror(err));
    }

    errno = 0;
    vp->cm_channel = rdma_create_event_channel();
    if (!vp->cm_channel) {
        err = errno ? errno : ENODEV;
        return ibb_port_set_error(port, err, "%s: "
                                  "rdma_create_event_channel failed (%s): "
                                  "is rdma_ucm loaded?", port->device,
                                  strerror(err));
    }
    err = verbs_set_nonblock(vp->cm_channel->fd);
    if (err) {
        ibb_port_set_error(port, err, "%s: making the rdma_cm channel "
                           "non-blocking failed (%s)", port->device,
                           strerror(err));
        goto err_channel;
    }

    vp->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (vp->epoll_fd < 0) {
        err = errno;
        ibb_port_set_error(port, err, "%s: epoll_create1 failed (%s)",
                           port->device, strerror(err));
        goto err_channel;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = vp->ctx->async_fd;
    if (epoll_ctl(vp->epoll_fd, EPOLL_CTL_ADD, vp->ctx->async_fd, &ev)) {
        err = errno;
        ibb_port_set_error(port, err, "%s: epoll_ctl (async fd) failed "
                           "(%s)", port->device, strerror(err));
        goto err_epoll;
    }
    ev.data.fd = vp->cm_channel->fd;
    if (epoll_ctl(vp->epoll_fd, EPOLL_CTL_ADD, vp->cm_channel->fd, &ev)) {
        err = errno;
        ibb_port_set_error(port, err, "%s: epoll_ctl (rdma_cm channel) "
                           "failed (%s)", port->device, strerror(err));
        goto err_epoll;
    }
    return 0;

err_epoll:
    close(vp->epoll_fd);
    vp->epoll_fd = -1;
err_channel:
    rdma_destroy_event_channel(vp->cm_channel);
    vp->cm_channel = NULL;
    return err;
}

static int
verbs_connect(struct ibb_port *port)
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    int err;

    /* Start from a clean slate: after a fatal error lib/ibport.c calls
     * disconnect() and then connect() on the same port, and nothing of the
     * old device may leak into the new one.  (Counters stay: they count
     * over the port's whole life.) */
    vp->qkey = port->opts.qkey ? port->opts.qkey : IBB_DEFAULT_QKEY;
    vp->fatal = false;
    vp->active = false;
    vp->no_block_lb = false;
    verbs_rxqs_reset(vp);
    vp->n_free_slots = 0;
    vp->recover_at = LLONG_MAX;
    vp->lid = vp->sm_lid = vp->mtu = 0;
    vp->lmc = 0;
    vp->pkey_index = 0;
    if (!vp->joins) {
        struct ibb_join_params jp = { .rate = port->opts.join_rate };

        vp->joins = ibb_join_table_create(&jp);
        if (!vp->joins) {
            return ibb_port_set_error(port, ENOMEM, "%s: out of memory",
                                      port->device);
        }
    }

    err = verbs_open(vp);
    if (err) {
        return err;
    }
    err = verbs_create_queues(vp);
    if (err) {
        goto err_close;
    }
    err = verbs_create_qp(vp, vp->qkey, VERBS_MAIN_QP_SEND_WR, 0,
                          &vp->main_qp);
    if (err) {
        goto err_queues;
    }
    if (vp->max_qp_attach) {
        /* Groups attach to the main QP first. */
        DL_APPEND2(vp->rxqs[0].mcast_room, vp->main_qp, room_prev,
                   room_next);
        vp->main_qp->has_room = true;
    }
    err = verbs_open_events(vp);
    if (err) {
        goto err_qps;
    }
    err = verbs_rxqs_arm(vp);
    if (err) {
        goto err_events;
    }
    ibb_port_clear_error(port);
    return 0;

err_events:
    verbs_close_events(vp);
err_qps:
    verbs_destroy_qps(vp);
err_queues:
    verbs_destroy_queues(vp);
err_close:
    verbs_close_device(vp);
    return err;
}

static void
verbs_disconnect(struct ibb_port *port)
{
    struct ibb_port_verbs *vp = verbs_cast(port);

    /* The groups stay, to be joined again after a reconnect. */
    verbs_destroy_groups(vp);
    verbs_close_events(vp);
    verbs_destroy_qps(vp);
    verbs_flush_ahs(vp);
    verbs_destroy_queues(vp);
    verbs_close_device(vp);
    vp->active = false;
    verbs_rxqs_reset(vp);
    vp->n_free_slots = 0;
    vp->n_qps = 0;
    vp->main_qp = NULL;
    vp->n_mcast_qps = 0;
    vp->n_attached = 0;
    vp->recover_at = LLONG_MAX;
}

static bool
verbs_is_up(const struct ibb_port *port)
{
    const struct ibb_port_verbs *vp = verbs_cast(port);

    return vp->ctx && vp->active && !vp->fatal;
}

/* Queue 0 for the single-queue calls of lib/ibport.h. */
static int
verbs_get_fd(const struct ibb_port *port)
{
    return verbs_queue_fd(port, 0);
}

static bool
verbs_has_pending(const struct ibb_port *port)
{
    return verbs_queue_has_pending(port, 0);
}

static int
verbs_recv(struct ibb_port *port, struct ibb_port_buf bufs[], size_t n,
           size_t *n_recv)
{
    return verbs_recv_queue(port, 0, bufs, n, n_recv);
}

static int
verbs_ctl_fd(const struct ibb_port *port)
{
    return verbs_cast(port)->epoll_fd;
}

/* True after a fatal event (CQ or SRQ error, device fatal or removed, a
 * fatal error on the main QP), or if a reopen failed half-way: only
 * closing and opening the device again can bring the port back. */
static bool
verbs_needs_reopen(const struct ibb_port *port)
{
    const struct ibb_port_verbs *vp = verbs_cast(port);

    return vp->fatal || !vp->ctx;
}

/* ------------------------------------------------------------------ */
/* Query and unsupported operations. */

static int
verbs_query(struct ibb_port *port, struct ibb_port_attr *attr)
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    struct ibv_port_attr pattr;
    union ibv_gid gid;
    int err;

    if (!vp->ctx) {
        attr->state = IBB_PORT_DOWN;
        return ibb_port_set_error(port, ENOTCONN, "%s: not connected",
                                  port->device);
    }
    memset(&pattr, 0, sizeof pattr);
    err = ibv_query_port(vp->ctx, vp->port_num, &pattr);
    if (err) {
        err = err > 0 ? err : errno ? errno : EIO;
        return ibb_port_set_error(port, err, "%s: ibv_query_port %s port "
                                  "%u failed (%s)", port->device,
                                  vp->devname, vp->port_num, strerror(err));
    }
    err = ibv_query_gid(vp->ctx, vp->port_num, port->opts.gid_index, &gid);
    if (err) {
        err = err > 0 ? err : errno ? errno : EIO;
        return ibb_port_set_error(port, err, "%s: ibv_query_gid %s port %u "
                                  "index %u failed (%s)", port->device,
                                  vp->devname, vp->port_num,
                                  port->opts.gid_index, strerror(err));
    }
    vp->lid = pattr.lid;
    vp->lmc = pattr.lmc;
    vp->sm_lid = pattr.sm_lid;
    vp->mtu = mtu_bytes(pattr.active_mtu);

    attr->state = (pattr.state == IBV_PORT_ACTIVE && !vp->fatal
                   ? IBB_PORT_ACTIVE : IBB_PORT_DOWN);
    attr->lid = pattr.lid;
    attr->sm_lid = pattr.sm_lid;
    attr->mtu = vp->mtu;
    memcpy(attr->gid, gid.raw, 16);
    attr->guid = 0;
    for (int i = 8; i < 16; i++) {
        attr->guid = (attr->guid << 8) | gid.raw[i];
    }
    return 0;
}

static int
verbs_path_query(struct ibb_port *port, const uint8_t gid[16],
                 uint16_t *lid)
{
    return ibb_port_set_error(port, EOPNOTSUPP, "%s: path queries are not "
                              "supported on an HCA port: path records "
                              "come from the SA (use the address map)",
                              port->device);
}

static int
verbs_alias(struct ibb_port *port, const uint8_t gid[16], bool add)
{
    return ibb_port_set_error(port, EOPNOTSUPP, "%s: alias GIDs are not "
                              "supported on an HCA port: its GID table is "
                              "set by the SM", port->device);
}

static int
verbs_qp(struct ibb_port *port, uint32_t qpn, uint32_t qkey, bool open)
{
    return ibb_port_set_error(port, EOPNOTSUPP, "%s: cannot open QP "
                              "0x%06x by number on an HCA port: the HCA "
                              "numbers its own QPs (use qp_create)",
                              port->device, qpn);
}

/* ------------------------------------------------------------------ */
/* HCA asynchronous events. */

/* Re-reads the port after an event; rejoins if 'rejoin' or the GID
 * changed. */
static void
port_changed(struct ibb_port_verbs *vp, bool rejoin)
{
    uint8_t old_gid[16];
    bool was_active = vp->active;

    memcpy(old_gid, vp->gid, 16);
    if (verbs_query_port(vp, false)) {
        /* The message stays in the port's error text. */
        vp->active = false;
    }
    vp->changed = true;
    if (vp->active
        && (rejoin || !was_active || memcmp(old_gid, vp->gid, 16))) {
        verbs_requeue_groups(vp, false);
    }
}

/* Marks the port dead after fatal event 'type': only a reopen helps. */
static void
port_fatal(struct ibb_port_verbs *vp, enum ibv_event_type type)
{
    vp->fatal = true;
    vp->changed = true;
    ibb_port_set_error(&vp->up, EIO, "%s: %s reported %s: the port must be "
                       "reopened", vp->up.device, vp->devname,
                       ibv_event_type_str(type));
}

static void
handle_async_events(struct ibb_port_verbs *vp)
{
    struct ibv_async_event event;

    if (!vp->ctx) {
        return;
    }
    while (!ibv_get_async_event(vp->ctx, &event)) {
        enum ibv_event_type type = event.event_type;
        struct verbs_qp *q = NULL;
        int port_num = -1;

        switch (type) {
        case IBV_EVENT_PORT_ACTIVE:
        case IBV_EVENT_PORT_ERR:
        case IBV_EVENT_LID_CHANGE:
        case IBV_EVENT_PKEY_CHANGE:
        case IBV_EVENT_SM_CHANGE:
        case IBV_EVENT_CLIENT_REREGISTER:
        case IBV_EVENT_GID_CHANGE:
            port_num = event.element.port_num;
            break;
        case IBV_EVENT_QP_FATAL:
        case IBV_EVENT_QP_REQ_ERR:
        case IBV_EVENT_QP_ACCESS_ERR:
            /* Read the QP before the ack: only unacked, it cannot go. */
            q = find_qp(vp, event.element.qp->qp_num);
            break;
        default:
            break;
        }
        ibv_ack_async_event(&event);
        count_async_event(&vp->c, type);

        switch (type) {
        case IBV_EVENT_PORT_ERR:
            if (port_num == vp->port_num) {
                /* The memberships end with the port (the kernel reports
                 * -ENETRESET): every group shows as joining until the
                 * port is back and verbs_pump_joins() joined it again. */
                vp->active = false;
                verbs_requeue_groups(vp, false);
            }
            break;
        case IBV_EVENT_PORT_ACTIVE:
        case IBV_EVENT_LID_CHANGE:
        case IBV_EVENT_CLIENT_REREGISTER:
            if (port_num == vp->port_num) {
                port_changed(vp, true);
            }
            break;
        case IBV_EVENT_SM_CHANGE:
        case IBV_EVENT_GID_CHANGE:
        case IBV_EVENT_PKEY_CHANGE:
            if (port_num == vp->port_num) {
                port_changed(vp, false);
            }
            break;
        case IBV_EVENT_QP_FATAL:
        case IBV_EVENT_QP_REQ_ERR:
        case IBV_EVENT_QP_ACCESS_ERR:
            /* The QP is in the error state.  A proxy or multicast QP (or
             * the main QP after a request or access error) comes back
             * through RESET, its attachments kept; a fatal error on the
             * main QP needs the port reopened. */
            if (q && type == IBV_EVENT_QP_FATAL && q == vp->main_qp) {
                port_fatal(vp, type);
            } else if (q) {
                verbs_mark_qp_broken(vp, q);
            }
            break;
        case IBV_EVENT_CQ_ERR:
        case IBV_EVENT_SRQ_ERR:
        case IBV_EVENT_DEVICE_FATAL:
            port_fatal(vp, type);
            break;
        default:
            break;
        }
    }
}

static bool
verbs_run(struct ibb_port *port)
{
    struct ibb_port_verbs *vp = verbs_cast(port);
    bool changed;

    verbs_handle_cm_events(vp);
    handle_async_events(vp);
    if (vp->ctx && !vp->fatal) {
        recover_qps(vp);
        verbs_pump_joins(vp);
    }
    /* Group states changed stay in the join table until taken
     * (verbs_mcast_take_changed()). */
    changed = vp->changed || (vp->joins && ibb_join_has_changed(vp->joins));
    vp->changed = false;
    return changed;
}

/* When run() next has work: at once if a change waits to be reported
 * (made outside run(), so the ctl fd will not wake the caller), else the
 * earliest QP recovery or join table deadline (a paced request, a
 * timeout, a retry), which the table keeps without a scan. */
static long long
verbs_next_wakeup(const struct ibb_port *port)
{
    const struct ibb_port_verbs *vp = verbs_cast(port);
    long long when;

    if (vp->changed || (vp->joins && ibb_join_has_changed(vp->joins))) {
        return 0;
    } else if (!vp->ctx || vp->fatal) {
        return LLONG_MAX;
    }
    when = vp->recover_at;
    if (vp->joins && vp->active && vp->cm_channel) {
        long long j = ibb_join_next_deadline(vp->joins, ibb_port_now_ms());

        if (j < when) {
            when = j;
        }
    }
    return when;
}

/* Exports every counter of VERBS_COUNTERS, in that order, then the
 * receive queues' packet counts. */
static size_t
verbs_counters(const struct ibb_port *port, struct ibb_port_counter *out,
               size_t max)
{
    const struct ibb_port_verbs *vp = verbs_cast(port);
    static const char *const names[] = {
#define VERBS_COUNTER(NAME) #NAME,
        VERBS_COUNTERS
#undef VERBS_COUNTER
    };
    struct verbs_counters c = vp->c;

    if (vp->joins) {
        /* The join table counts its own (it lives as long as the port). */
        c.join_retries = ibb_join_counters(vp->joins)->join_retries;
        c.join_timeouts = ibb_join_counters(vp->joins)->join_timeouts;
    }
    const uint64_t values[] = {
#define VERBS_COUNTER(NAME) c.NAME,
        VERBS_COUNTERS
#undef VERBS_COUNTER
    };
    size_t n = sizeof names / sizeof names[0];

    for (size_t i = 0; i < n && i < max; i++) {
        out[i].name = names[i];
        out[i].value = values[i];
    }
    return n + verbs_rxq_counters(vp, max > n ? out + n : NULL,
                                  max > n ? max - n : 0);
}

const struct ibb_port_class ibb_port_verbs_class = {
    .type = "verbs",
    .alloc = verbs_alloc,
    .dealloc = verbs_dealloc,
    .connect = verbs_connect,
    .disconnect = verbs_disconnect,
    .is_up = verbs_is_up,
    .get_fd = verbs_get_fd,
    .has_pending = verbs_has_pending,
    .recv = verbs_recv,
    .n_rxq = verbs_n_rxq,
    .recv_queue = verbs_recv_queue,
    .queue_fd = verbs_queue_fd,
    .queue_has_pending = verbs_queue_has_pending,
    .send = verbs_send,
    .query = verbs_query,
    .path_query = verbs_path_query,
    .mcast_join = verbs_mcast_join,
    .mcast_leave = verbs_mcast_leave,
    .alias = verbs_alias,
    .qp = verbs_qp,
    .qp_create = verbs_qp_create,
    .qp_destroy = verbs_qp_destroy,
    .hw_crcs = true,
    .mcast_status = verbs_mcast_status,
    .mcast_take_changed = verbs_mcast_take_changed,
    .async_joins = true,
    .run = verbs_run,
    .ctl_fd = verbs_ctl_fd,
    .counters = verbs_counters,
    .next_wakeup = verbs_next_wakeup,
    .needs_reopen = verbs_needs_reopen,
    .mcg_subscribe = verbs_mcg_subscribe,
    .mcg_list = verbs_mcg_list,
};
