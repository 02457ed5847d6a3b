/*
 * IPoIB ARP for ibsim-host (see the header).
 */
#include <config.h>

#include "ibsim-ipoib.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "host-common.h"
#include "ib-hdr.h"
#include "ib-ud-build.h"
#include "ibport.h"

#define PKT_SIZE 512

/* True if 'pkt' is an ARP reply to 'qpn' from 'ip'; fills '*answer'. */
static bool
is_answer(const uint8_t *pkt, size_t len, uint32_t qpn, const uint8_t ip[16],
          struct ibsim_ipoib_answer *answer)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;
    const struct ibb_bth *bth;
    struct ibb_ipoib_arp arp;
    size_t ofs = IBB_LRH_LEN;

    if (len < IBB_LRH_LEN + IBB_GRH_LEN) {
        return false;
    }
    if (ibb_lrh_lnh(lrh) == IBB_LNH_GLOBAL) {
        ofs += IBB_GRH_LEN;
    }
    bth = (const struct ibb_bth *) (pkt + ofs);
    ofs += IBB_BTH_LEN + IBB_DETH_LEN;
    if (len < ofs + IBB_ICRC_LEN + IBB_VCRC_LEN
        || ibb_bth_qpn(bth) != qpn
        || ibb_ipoib_arp_parse(pkt + ofs, len - ofs - IBB_ICRC_LEN
                               - IBB_VCRC_LEN, &arp)
        || arp.op != IBB_IPOIB_ARP_REPLY || memcmp(arp.spa, ip, 16)) {
        return false;
    }
    answer->hw = arp.sha;
    answer->slid = ibb_lrh_slid(lrh);
    return true;
}

/* Waits up to 'timeout' seconds for the answer. */
static int
wait_answer(struct ibb_port *port, uint32_t qpn, const uint8_t ip[16],
            double timeout, struct ibsim_ipoib_answer *answer)
{
    double deadline = host_now() + timeout;
    uint8_t pkt[PKT_SIZE];

    for (;;) {
        struct ibb_port_buf buf = { .data = pkt, .size = sizeof pkt };
        struct pollfd pfd = { .fd = ibb_port_fd(port), .events = POLLIN };
        double left = deadline - host_now();
        size_t n;
        int err;

        err = ibb_port_recv(port, &buf, 1, &n);
        if (!err) {
            if (is_answer(pkt, buf.len, qpn, ip, answer)) {
                return 0;
            }
            continue;
        } else if (err != EAGAIN && err != EMSGSIZE) {
            return err;
        }
        if (left <= 0) {
            return ETIMEDOUT;
        }
        poll(&pfd, 1, left * 1000 + 1);
    }
}

int
ibsim_ipoib_resolve(struct ibb_port *port, const struct ibb_port_attr *attr,
                    uint16_t pkey, const uint8_t my_ip[16],
                    const uint8_t ip[16], struct ibsim_ipoib_answer *answer)
{
    uint8_t payload[IBB_IPOIB_ARP_LEN];
    uint8_t pkt[IBB_UD_BUILD_SIZE(IBB_IPOIB_ARP_LEN)];
    struct ibb_ipoib_arp req;
    struct ibb_ud_hdrs h;
    uint8_t mgid[16];
    uint16_t mlid;
    bool created;
    uint32_t qpn;
    int err;

    err = ibb_port_qp_create(port, IBB_IPOIB_QKEY, &qpn);
    created = !err;
    if (err == EOPNOTSUPP) {
        /* A raw port receives for any QPN: pick IPoIB's usual one. */
        qpn = 0x48;
    } else if (err) {
        return err;
    }
    ibb_ipoib_bcast_mgid(pkey, mgid);
    err = ibb_port_mcast_join(port, mgid, IBB_MCAST_FULL, IBB_IPOIB_QKEY,
                              pkey, &mlid);
    if (err) {
        goto out;
    }

    memset(&req, 0, sizeof req);
    req.op = IBB_IPOIB_ARP_REQUEST;
    req.sha.qpn = qpn;
    memcpy(req.sha.gid, attr->gid, 16);
    memcpy(req.spa, my_ip, 16);
    memcpy(req.tpa, ip, 16);
    ibb_ipoib_arp_write(&req, payload);

    memset(&h, 0, sizeof h);
    h.slid = attr->lid;
    h.dlid = mlid;
    memcpy(h.sgid, attr->gid, 16);
    memcpy(h.dgid, mgid, 16);
    h.hop_limit = 1;
    h.pkey = pkey;
    h.dqpn = IBB_MULTICAST_QPN;
    h.sqpn = qpn;
    h.qkey = IBB_IPOIB_QKEY;

    err = ETIMEDOUT;
    for (int try = 0; try < 3 && err == ETIMEDOUT; try++) {
        struct ibb_port_buf buf = { .data = pkt, .size = sizeof pkt };
        size_t n;

        h.psn = try;
        buf.len = ibb_ud_build(pkt, &h, payload, sizeof payload);
        err = ibb_port_send(port, &buf, 1, &n);
        if (!err) {
            err = wait_answer(port, qpn, ip, 1.0, answer);
        }
    }
    ibb_port_mcast_leave(port, mgid);
out:
    if (created) {
        ibb_port_qp_destroy(port, qpn);
    }
    return err;
}
