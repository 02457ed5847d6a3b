/*
 * The bridge as the IB side's way to RoCE hosts: routes for the RoCE
 * hosts' GID prefixes (the subnet administrator answers path queries for
 * them with the bridge's LID) and answers to IPoIB ARP for their IPv4
 * addresses (lib/ibb-ipoib-arp.h).  Glue only: the decisions are lib/'s.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "ibbridge-cluster.h"
#include "netdev-ibbridge-private.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

#include "addr-map.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ib-ud-build.h"
#include "ibb-conv.h"
#include "ibb-ipoib-arp.h"

VLOG_DEFINE_THIS_MODULE(ibbridge_router);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* A raw port has no QPs of its own: it answers IPoIB ARP from this QPN,
 * which it receives like any other. */
#define IBBRIDGE_RAW_IPOIB_QPN 0x1b1b

/* How often a port tries again to route prefixes another bridge node
 * routes (the fabric drops a port's routes with the port). */
#define ROUTE_RETRY_MS 1000

/* The path MTU the routes give: what fits the Ethernet side. */
static uint16_t
route_mtu(const struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    return ibb_conv_ib_mtu_for_eth(dev->eth_mtu, dev->attr.mtu);
}

/* Routes the RoCE prefixes of 'cfg' to 'port'.  With several bridge nodes
 * a prefix may be another node's already: then '*pending' is set, and
 * ibbridge_router_run() tries again until that node's port goes. */
static int
add_routes(struct netdev_ibbridge *dev, struct ibb_port *port,
           const struct ibbridge_config *cfg, uint16_t mtu, bool *pending,
           char **errp)
    OVS_REQUIRES(dev->mutex)
{
    *pending = false;
    for (size_t i = 0; i < cfg->n_roce_prefixes; i++) {
        struct ibb_port_route r;
        int error;

        memcpy(r.prefix, cfg->roce_prefixes[i].prefix, 16);
        r.plen = cfg->roce_prefixes[i].plen;
        r.mtu = mtu;
        error = ibb_port_route_add(port, &r);
        if (error == EADDRINUSE && cfg->cluster) {
            *pending = true;
            continue;
        } else if ((error == EOPNOTSUPP || error == EADDRINUSE)
            && !cfg->roce_prefixes_set) {
            /* The default is only a convenience where the port can, and
             * where no other bridge routes it already. */
            VLOG_INFO("%s: default roce-prefixes not routed: %s",
                      netdev_get_name(&dev->up), ibb_port_error(port));
            continue;
        } else if (error) {
            char buf[IBB_GID_STRLEN];

            *errp = xasprintf("roce-prefixes %s/%u: %s",
                              ibb_gid_format(r.prefix, buf, sizeof buf),
                              r.plen, ibb_port_error(port));
            return error;
        }
    }
    return 0;
}

int
ibbridge_router_open(struct netdev_ibbridge *dev, struct ibb_port *port,
                     const struct ibbridge_config *cfg,
                     const struct ibb_port_attr *attr,
                     struct ibbridge_router *router, char **errp)
    OVS_REQUIRES(dev->mutex)
{
    uint16_t mlid;
    int error;

    memset(router, 0, sizeof *router);
    error = add_routes(dev, port, cfg,
                       ibb_conv_ib_mtu_for_eth(dev->eth_mtu, attr->mtu),
                       &router->routes_pending, errp);
    if (router->routes_pending) {
        VLOG_INFO("%s: roce-prefixes routed by another bridge node: taken "
                  "over if its port goes", netdev_get_name(&dev->up));
        router->next_route_try = time_msec() + ROUTE_RETRY_MS;
    }
    if (error || !cfg->ipoib_arp) {
        return error;
    }

    if (cfg->port_mode == IBB_PORT_RAW) {
        router->ipoib_qpn = IBBRIDGE_RAW_IPOIB_QPN;
    } else {
        error = ibb_port_qp_create(port, IBB_IPOIB_QKEY, &router->ipoib_qpn);
        if (error) {
            *errp = xasprintf("ipoib-arp: cannot create the IPoIB QP: %s",
                              ibb_port_error(port));
            return error;
        }
    }
    ibb_ipoib_bcast_mgid(cfg->pkey, router->bcast_mgid);
    error = ibb_port_mcast_join(port, router->bcast_mgid, IBB_MCAST_FULL,
                                IBB_IPOIB_QKEY, cfg->pkey, &mlid);
    if (error) {
        *errp = xasprintf("ipoib-arp: cannot join the IPoIB broadcast "
                          "group: %s", ibb_port_error(port));
        return error;
    }
    router->ipoib = true;
    return 0;
}

void
ibbridge_router_mtu_changed(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    char *err = NULL;

    if (dev->port && add_routes(dev, dev->port, &dev->cfg, route_mtu(dev),
                                &dev->router.routes_pending, &err)) {
        VLOG_WARN_RL(&rl, "%s: %s", netdev_get_name(&dev->up), err);
        free(err);
    }
}

void
ibbridge_router_run(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    char *err = NULL;

    if (!dev->port || !dev->router.routes_pending
        || time_msec() < dev->router.next_route_try) {
        return;
    }
    if (add_routes(dev, dev->port, &dev->cfg, route_mtu(dev),
                   &dev->router.routes_pending, &err)) {
        VLOG_WARN_RL(&rl, "%s: %s", netdev_get_name(&dev->up), err);
        free(err);
    } else if (!dev->router.routes_pending) {
        VLOG_INFO("%s: roce-prefixes: routed by this bridge node now",
                  netdev_get_name(&dev->up));
    }
    dev->router.next_route_try = time_msec() + ROUTE_RETRY_MS;
}

void
ibbridge_router_wait(struct netdev_ibbridge *dev)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->port && dev->router.routes_pending) {
        poll_timer_wait_until(dev->router.next_route_try);
    }
}

/* True if the datagram at 'pkt' is for IPoIB: to the IPoIB QP, or to the
 * broadcast group (any EtherType: IPoIB's IP traffic is not bridged). */
static bool
is_ipoib(const struct ibbridge_router *router, const uint8_t *pkt,
         size_t len, size_t *bth_ofs)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;
    const struct ibb_grh *grh = (const struct ibb_grh *) (lrh + 1);
    const struct ibb_bth *bth;
    size_t ofs = IBB_LRH_LEN;

    if (len < IBB_LRH_LEN + IBB_GRH_LEN + IBB_BTH_LEN) {
        return false;
    }
    if (ibb_lrh_lnh(lrh) == IBB_LNH_GLOBAL) {
        ofs += IBB_GRH_LEN;
    }
    bth = (const struct ibb_bth *) (pkt + ofs);
    *bth_ofs = ofs;
    if (ibb_bth_qpn(bth) == IBB_MULTICAST_QPN) {
        return (ofs > IBB_LRH_LEN
                && !memcmp(grh->dgid, router->bcast_mgid, 16));
    }
    /* A raw port receives every QPN: a RoCE host's own QPN may be the
     * IPoIB QP's number, so the Q_Key decides. */
    return (ibb_bth_qpn(bth) == router->ipoib_qpn
            && len >= ofs + IBB_BTH_LEN + IBB_DETH_LEN
            && ibb_deth_qkey((const struct ibb_deth *) (bth + 1))
               == IBB_IPOIB_QKEY);
}

/* Sends IPoIB ARP 'arp' from the IPoIB QP to 'dqpn' at 'dgid' ('dlid',
 * service level 'sl'); returns 0 or an errno. */
static int
send_arp(struct netdev_ibbridge *dev, uint16_t dlid, uint8_t sl,
         const uint8_t dgid[16], uint32_t dqpn,
         const struct ibb_ipoib_arp *arp)
    OVS_REQUIRES(dev->mutex)
{
    uint8_t payload[IBB_IPOIB_ARP_LEN];
    uint8_t pkt[IBB_UD_BUILD_SIZE(IBB_IPOIB_ARP_LEN)];
    struct ibb_ud_hdrs h;
    struct ibb_port_buf buf;
    size_t n_sent = 0;

    memset(&h, 0, sizeof h);
    h.slid = dev->attr.lid;
    h.dlid = dlid;
    h.sl = sl;
    memcpy(h.sgid, dev->attr.gid, 16);
    memcpy(h.dgid, dgid, 16);
    h.hop_limit = 1;            /* IPoIB's link is the subnet. */
    h.pkey = dev->cfg.pkey;
    h.dqpn = dqpn;
    h.sqpn = dev->router.ipoib_qpn;
    h.qkey = IBB_IPOIB_QKEY;

    ibb_ipoib_arp_write(arp, payload);
    buf.data = pkt;
    buf.size = sizeof pkt;
    buf.len = ibb_ud_build(pkt, &h, payload, sizeof payload);
    if (ibb_port_send(dev->port, &buf, 1, &n_sent) || n_sent != 1) {
        dev->cstats.ipoib_arp_send_errors++;
        return EIO;
    }
    return 0;
}

static void
send_reply(struct netdev_ibbridge *dev, const uint8_t *req_pkt,
           const struct ibb_ipoib_arp *reply)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) req_pkt;

    if (!send_arp(dev, ibb_lrh_slid(lrh), ibb_lrh_sl(lrh), reply->tha.gid,
                  reply->tha.qpn, reply)) {
        dev->cstats.ipoib_arp_answered++;
    }
}

/* Checks that the sender of IPoIB ARP 'arp' (a request or a reply), which
 * came in datagram 'pkt' (BTH at 'ofs'), speaks for itself: its hardware
 * address is the GID the datagram came from, a GID of the IB subnet, and
 * its address one a host may have.  Then learns it.  Returns false for a
 * sender that does not (nothing is answered to it). */
static bool
check_and_learn_sender(struct netdev_ibbridge *dev, const uint8_t *pkt,
                       size_t ofs, const struct ibb_ipoib_arp *arp)
    OVS_REQUIRES(dev->mutex)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;
    const struct ibb_grh *grh = (const struct ibb_grh *) (lrh + 1);

    if (ofs > IBB_LRH_LEN) {
        /* The port (an HCA) stamped the SGID: it must be the sender's. */
        if (memcmp(grh->sgid, arp->sha.gid, 16)) {
            return false;
        }
    } else {
        /* Without a GRH only the SLID vouches for the sender: a GID the
         * map knows must have that LID. */
        const struct ibb_host *h = ibb_addr_map_find_gid(dev->map,
                                                         arp->sha.gid);

        if (h && h->lid != ibb_lrh_slid(lrh)) {
            return false;
        }
    }
    if (!ibb_gid_same_prefix(arp->sha.gid, dev->attr.gid)
        || (!ibb_ip_is_unspecified(arp->spa)
            && ibb_ip_is_bad_source(arp->spa))) {
        /* (A probe, from 0.0.0.0, is answered but teaches nothing.) */
        return false;
    }
    if (dev->cfg.mac_aging_s && !ibb_ip_is_unspecified(arp->spa)) {
        ibbridge_map_learn_ib(dev, arp->spa, arp->sha.gid,
                              ibb_lrh_slid(lrh), arp->sha.qpn, IBB_HOST_ARP);
    }
    return true;
}

static bool
from_peer_bridge(const struct netdev_ibbridge *dev,
                 const struct ibb_ipoib_arp *arp)
    OVS_REQUIRES(dev->mutex)
{
    for (size_t i = 0; i < dev->n_peers; i++) {
        if (!memcmp(arp->sha.gid, dev->peers[i].gid, 16)) {
            return true;
        }
    }
    return false;
}

static void
self_of(const struct netdev_ibbridge *dev, struct ibb_ipoib_arp_self *self)
    OVS_REQUIRES(dev->mutex)
{
    self->qpn = dev->router.ipoib_qpn;
    memcpy(self->gid, dev->attr.gid, 16);
    self->host_gids = dev->cfg.port_mode == IBB_PORT_RAW;
}

struct announce_ctx {
    struct netdev_ibbridge *dev;
    struct ibb_ipoib_arp_self self;
    uint16_t mlid;
    const struct ibbridge_cluster_owners *before;
};

static void
announce_roce_host(const struct ibb_host *h,
                   enum ibb_host_source source OVS_UNUSED,
                   long long int last_seen OVS_UNUSED, void *ctx_)
{
    struct announce_ctx *ctx = ctx_;
    struct netdev_ibbridge *dev = ctx->dev;
    struct ibb_ipoib_arp arp;

    if (!h->has_gid && h->has_ipv4
        && ibbridge_cluster_gained(ctx->before, h->ipv4)) {
        ibb_ipoib_arp_announce(&ctx->self, h->ipv4, &arp);
        if (!send_arp(dev, ctx->mlid, 0, dev->router.bcast_mgid, 0xffffff,
                      &arp)) {
            dev->cstats.ipoib_arp_announced++;
        }
    }
}

void
ibbridge_router_announce(struct netdev_ibbridge *dev,
                         const struct ibbridge_cluster_owners *before)
    OVS_REQUIRES(dev->mutex)
{
    struct announce_ctx ctx = { .dev = dev, .before = before };
    struct ibb_mcast_status st;

    if (!dev->port || !dev->map || !dev->router.ipoib
        || ibb_port_mcast_status(dev->port, dev->router.bcast_mgid, &st)
        || st.state != IBB_MCAST_JOINED) {
        return;
    }
    self_of(dev, &ctx.self);
    ctx.mlid = st.mlid;
    ibb_addr_map_foreach_host(dev->map, announce_roce_host, &ctx);
}

bool
ibbridge_router_rx(struct netdev_ibbridge *dev, const uint8_t *pkt,
                   size_t len)
    OVS_REQUIRES(dev->mutex)
{
    struct ibb_ipoib_arp_self self;
    struct ibb_ipoib_arp req, reply;
    size_t ofs, tlen;
    int error;

    if (!dev->router.ipoib || !is_ipoib(&dev->router, pkt, len, &ofs)) {
        return false;
    }

    /* The payload: past BTH and DETH, before the pad and ICRC.  The
     * converter's checks that apply: transport, P_Key and the ICRC (which
     * an HCA or a strict port checked already; a raw one did not). */
    tlen = len - ofs - IBB_VCRC_LEN;
    if (ibb_conv_check_transport(pkt + ofs, tlen)
        || ibb_conv_check_pkey(&dev->conv, pkt + ofs)
        || ibb_bth_opcode((const struct ibb_bth *) (pkt + ofs))
           != IBB_OP_UD_SEND_ONLY
        || (dev->conv.check_ib_icrc
            && ibb_icrc_ib_check(pkt, len - IBB_VCRC_LEN))) {
        dev->cstats.ipoib_malformed++;
        return true;
    }
    if (ibb_deth_qkey((const struct ibb_deth *) (pkt + ofs + IBB_BTH_LEN))
        != IBB_IPOIB_QKEY) {
        /* What an HCA's IPoIB QP would not take (a raw port takes all). */
        dev->cstats.ipoib_malformed++;
        return true;
    }
    error = ibb_ipoib_arp_parse(pkt + ofs + IBB_BTH_LEN + IBB_DETH_LEN,
                                ibb_conv_payload_len(pkt + ofs, tlen), &req);
    if (error) {
        if (error == ENOENT) {
            dev->cstats.ipoib_not_arp++;
        } else {
            dev->cstats.ipoib_malformed++;
        }
        return true;
    }

    if (from_peer_bridge(dev, &req)) {
        /* Another bridge node's announcement or answer: not a host's. */
        dev->cstats.ipoib_from_bridge++;
        return true;
    }
    if (!check_and_learn_sender(dev, pkt, ofs, &req)) {
        dev->cstats.ipoib_arp_spoofed++;
        return true;
    }
    self_of(dev, &self);
    switch (ibb_ipoib_arp_answer(dev->map, &self, &req, &reply)) {
    case IBB_IPOIB_ARP_ANSWERED:
        if (!ibbridge_cluster_owns(reply.spa)) {
            /* Another bridge node answers for this RoCE host. */
            dev->cstats.ipoib_arp_not_owner++;
            break;
        }
        send_reply(dev, pkt, &reply);
        break;
    case IBB_IPOIB_ARP_NOT_ROCE:
        dev->cstats.ipoib_arp_not_roce++;
        break;
    case IBB_IPOIB_ARP_IGNORED:
        dev->cstats.ipoib_arp_ignored++;
        break;
    }
    return true;
}
