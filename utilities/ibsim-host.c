/*
 * ibsim-host: an IB UD endpoint on the simulated fabric (ibsim-fabric), the
 * test and demo client of the IB side, in the manner of perftest's UD tests
 * and ibv_ud_pingpong.  Uses lib/ibport.h, as the bridge does.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host-common.h"
#include "ib-crc.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "ibb-pcap.h"
#include "ibport.h"
#include "ibsim-ipoib.h"

#define PKT_SIZE (IBB_LRH_LEN + IBB_GRH_LEN + IBB_BTH_LEN + IBB_DETH_LEN \
                  + IBB_IMMDT_LEN + HOST_MAX_PAYLOAD + 3 + IBB_ICRC_LEN \
                  + IBB_VCRC_LEN)

/* GRH HopLmt when --hop-limit does not give one. */
#define DEFAULT_HOP_LIMIT 64

static struct host_opts o;
static struct ibb_port *port;
static struct ibb_port_attr attr;
static bool joined;
static uint8_t joined_mgid[16];

/* Where packets go. */
struct dest {
    uint8_t dgid[16];           /* DGID. */
    uint16_t dlid;              /* DLID. */
    uint32_t dqpn;              /* DestQP. */
};

/* send and flood, and the pingpong client: the command line's
 * destination, from resolve_dest(). */
static struct dest dest;

/* The fabric went away: reconnect if --reconnect allows, else exit. */
static void
handle_loss(void)
{
    double deadline;

    fprintf(stderr, "%s: %s\n", host_program_name, ibb_port_error(port));
    if (o.reconnect <= 0) {
        host_fatal(HOST_EXIT_FABRIC, "fabric at %s is gone, exiting (use "
                   "--reconnect=S to wait for it)", o.fabric);
    }
    deadline = host_now() + o.reconnect;
    while (host_now() < deadline) {
        if (!ibb_port_reconnect(port)) {
            ibb_port_query(port, &attr);
            fprintf(stderr, "%s: reconnected to fabric at %s (LID %u)\n",
                    host_program_name, o.fabric, attr.lid);
            return;
        }
        usleep(100 * 1000);
    }
    host_fatal(HOST_EXIT_FABRIC, "fabric at %s did not come back within "
               "%g s: %s", o.fabric, o.reconnect, ibb_port_error(port));
}

static bool
is_loss(int err)
{
    return err == ECONNRESET || err == EPIPE || err == ENOTCONN;
}

/* Applies --inject to a finished packet. */
static void
inject(uint8_t *pkt, size_t *lenp)
{
    struct ibb_lrh *lrh = (struct ibb_lrh *) pkt;
    struct ibb_bth *bth = (struct ibb_bth *) (pkt + IBB_LRH_LEN
                                              + IBB_GRH_LEN);
    size_t len = *lenp;
    const char *k = o.inject;

    if (!strcmp(k, "icrc")) {
        pkt[len - IBB_VCRC_LEN - 1] ^= 0xff;
    } else if (!strcmp(k, "vcrc")) {
        pkt[len - 1] ^= 0xff;
        return;
    } else if (!strcmp(k, "length")) {
        ibb_lrh_set_pktlen(lrh, ibb_lrh_pktlen(lrh) + 1);
    } else if (!strcmp(k, "lver")) {
        ibb_lrh_set_lver(lrh, 1);
    } else if (!strcmp(k, "slid")) {
        ibb_lrh_set_slid(lrh, ibb_lrh_slid(lrh) + 1000);
    } else if (!strcmp(k, "pkey")) {
        ibb_bth_set_pkey(bth, 0x8123);
        ibb_icrc_ib_generate(pkt, len - IBB_VCRC_LEN);
    } else {
        host_fatal(HOST_EXIT_USAGE, "--inject=%s: expected icrc, vcrc, "
                   "length, lver, slid or pkey", k);
    }
    /* Keep the VCRC right so that only the injected fault is seen. */
    ibb_vcrc_put(pkt + len - IBB_VCRC_LEN,
                 ibb_vcrc16(0, pkt, len - IBB_VCRC_LEN));
}

/* Builds a whole IB packet (LRH, GRH, transport, ICRC, VCRC) in 'pkt' and
 * returns its length. */
static size_t
build_packet(uint8_t *pkt, const struct dest *d, uint32_t psn,
             const uint8_t *payload, size_t len)
{
    struct ibb_lrh *lrh = (struct ibb_lrh *) pkt;
    struct ibb_grh *grh = (struct ibb_grh *) (pkt + IBB_LRH_LEN);
    size_t ofs = IBB_LRH_LEN + IBB_GRH_LEN;
    size_t tlen, total;

    tlen = host_build_transport(pkt + ofs, &o, d->dqpn, psn, payload, len);
    total = ofs + tlen + IBB_ICRC_LEN + IBB_VCRC_LEN;

    memset(pkt, 0, ofs);
    /* VL 0: the SL2VL table of a port with one data VL maps every SL
     * there, and VL 15 is for subnet management only. */
    ibb_lrh_set_vl(lrh, 0);
    ibb_lrh_set_sl(lrh, o.sl >= 0 ? o.sl : 0);
    ibb_lrh_set_lnh(lrh, IBB_LNH_GLOBAL);
    ibb_lrh_set_dlid(lrh, d->dlid);
    ibb_lrh_set_slid(lrh, attr.lid);
    ibb_lrh_set_pktlen(lrh, (total - IBB_VCRC_LEN) / 4);
    ibb_grh_set_ipver(grh, IBB_GRH_IPVER);
    ibb_grh_set_tclass(grh, o.tclass >= 0 ? o.tclass : 0);
    ibb_grh_set_flow(grh, o.flow_label >= 0 ? o.flow_label : 0);
    ibb_grh_set_paylen(grh, tlen + IBB_ICRC_LEN);
    ibb_grh_set_nxthdr(grh, IBB_GRH_NXTHDR);
    ibb_grh_set_hoplmt(grh, o.hop_limit >= 0 ? o.hop_limit
                                             : DEFAULT_HOP_LIMIT);
    memcpy(grh->sgid, attr.gid, 16);
    memcpy(grh->dgid, d->dgid, 16);

    ibb_icrc_ib_generate(pkt, total - IBB_VCRC_LEN);
    ibb_vcrc_put(pkt + total - IBB_VCRC_LEN,
                 ibb_vcrc16(0, pkt, total - IBB_VCRC_LEN));
    if (o.inject) {
        inject(pkt, &total);
    }
    return total;
}

/* Parses a received packet into 'm'.  Returns 0 or EINVAL. */
static int
parse_packet(const uint8_t *pkt, size_t len, struct host_msg *m)
{
    const struct ibb_lrh *lrh = (const struct ibb_lrh *) pkt;
    size_t ofs = IBB_LRH_LEN;

    host_msg_init(m);
    if (len < IBB_LRH_LEN + IBB_VCRC_LEN) {
        return EINVAL;
    }
    m->slid = ibb_lrh_slid(lrh);
    m->dlid = ibb_lrh_dlid(lrh);
    m->sl = ibb_lrh_sl(lrh);
    if (ibb_lrh_lnh(lrh) == IBB_LNH_GLOBAL) {
        const struct ibb_grh *grh = (const struct ibb_grh *) (pkt + ofs);

        if (len < ofs + IBB_GRH_LEN) {
            return EINVAL;
        }
        memcpy(m->sgid, grh->sgid, 16);
        memcpy(m->dgid, grh->dgid, 16);
        m->tclass = ibb_grh_tclass(grh);
        m->hop_limit = ibb_grh_hoplmt(grh);
        m->flow_label = ibb_grh_flow(grh);
        ofs += IBB_GRH_LEN;
    }
    m->icrc_ok = !ibb_icrc_ib_check(pkt, len - IBB_VCRC_LEN);
    return host_parse_transport(pkt + ofs, len - ofs - IBB_VCRC_LEN, m);
}

/* Sends one packet, waiting while the fabric back-pressures. */
static void
send_packet(uint8_t *pkt, size_t len)
{
    struct ibb_port_buf buf = { .data = pkt, .size = len, .len = len };

    for (;;) {
        size_t n;
        int err = ibb_port_send(port, &buf, 1, &n);

        if (!err) {
            return;
        } else if (err == EAGAIN) {
            struct pollfd pfd = { .fd = ibb_port_fd(port), .events = POLLOUT };

            poll(&pfd, 1, 1000);
        } else if (is_loss(err)) {
            handle_loss();
        } else {
            host_fatal(HOST_EXIT_FABRIC, "send failed: %s",
                       ibb_port_error(port));
        }
    }
}

/* Receives one packet into 'pkt', waiting until 'deadline' (0 = forever).
 * Returns its length, or 0 on timeout. */
static size_t
recv_packet(uint8_t *pkt, double deadline)
{
    for (;;) {
        struct ibb_port_buf buf = { .data = pkt, .size = PKT_SIZE };
        size_t n;
        int err = ibb_port_recv(port, &buf, 1, &n);

        if (!err) {
            return buf.len;
        } else if (err == EAGAIN) {
            struct pollfd pfd = { .fd = ibb_port_fd(port), .events = POLLIN };
            int ms = 1000;

            if (deadline) {
                double left = deadline - host_now();

                if (left <= 0) {
                    return 0;
                }
                ms = left * 1000 + 1 < 1000 ? left * 1000 + 1 : 1000;
            }
            poll(&pfd, 1, ms);
        } else if (is_loss(err)) {
            handle_loss();
        } else {
            fprintf(stderr, "%s: receive failed: %s\n", host_program_name,
                    ibb_port_error(port));
        }
    }
}

/* Resolves IPv4 'ip' through IPoIB ARP, or exits. */
static void
resolve_ip(const uint8_t ip[16], struct ibsim_ipoib_answer *answer)
{
    char s[IBB_GID_STRLEN];
    int err;

    err = ibsim_ipoib_resolve(port, &attr, o.pkey, o.my_ip, ip, answer);
    if (err == ETIMEDOUT) {
        host_fatal(HOST_EXIT_USAGE, "no IPoIB ARP answer for %s",
                   ibb_ip_format(ip, s, sizeof s));
    } else if (err) {
        host_fatal(HOST_EXIT_FABRIC, "IPoIB ARP for %s failed: %s",
                   ibb_ip_format(ip, s, sizeof s), ibb_port_error(port));
    }
}

static void
resolve_dest(struct dest *d)
{
    int err;

    if (o.has_dip) {
        struct ibsim_ipoib_answer answer;

        /* As rdma_cm does: the address gives the GID, the SA the path. */
        resolve_ip(o.dip, &answer);
        memcpy(o.dgid, answer.hw.gid, 16);
    }
    memcpy(d->dgid, o.dgid, 16);
    d->dqpn = o.dqpn;
    if (ibb_gid_is_multicast(o.dgid)) {
        d->dqpn = IBB_MULTICAST_QPN;
    }
    if (o.has_dlid) {
        d->dlid = o.dlid;
        return;
    }
    if (ibb_gid_is_multicast(o.dgid)) {
        /* A sender joins as a send-only member to learn the MLID, as an
         * HCA's user would through the SA. */
        err = ibb_port_mcast_join(port, o.dgid, IBB_MCAST_SEND_ONLY, o.qkey,
                                  o.pkey, &d->dlid);
        if (!err) {
            joined = true;
            memcpy(joined_mgid, o.dgid, 16);
        }
    } else {
        err = ibb_port_path_query(port, o.dgid, &d->dlid);
    }
    if (err) {
        char gid[IBB_GID_STRLEN];

        host_fatal(err == ENOENT ? HOST_EXIT_USAGE : HOST_EXIT_FABRIC,
                   "no path to %s: %s", ibb_gid_format(o.dgid, gid,
                                                       sizeof gid),
                   err == ENOENT ? "no such GID on the fabric"
                                 : ibb_port_error(port));
    }
}

/* host_io's send(). */
static void
ib_send(const struct host_msg *to, uint32_t psn, const uint8_t *payload,
        size_t len)
{
    static uint8_t pkt[PKT_SIZE];
    const struct dest *d = &dest;
    struct dest reply;

    if (to) {
        memcpy(reply.dgid, to->sgid, 16);
        reply.dlid = to->slid;
        reply.dqpn = to->sqpn;
        d = &reply;
    }
    send_packet(pkt, build_packet(pkt, d, psn, payload, len));
}

/* host_io's recv(). */
static int
ib_recv(struct host_msg *m, double deadline)
{
    static uint8_t pkt[PKT_SIZE];
    size_t len = recv_packet(pkt, deadline);

    if (!len) {
        return ETIMEDOUT;
    }
    return parse_packet(pkt, len, m) ? EINVAL : 0;
}

static const struct host_io io = { .send = ib_send, .recv = ib_recv };

static int
cmd_recv(void)
{
    static uint8_t pkt[PKT_SIZE];
    double deadline = o.timeout ? host_now() + o.timeout : 0;
    unsigned long long n = 0;
    double start = 0;

    while (!o.count || n < o.count) {
        struct host_msg m;
        size_t len = recv_packet(pkt, deadline);

        if (!len) {
            break;
        }
        if (!n) {
            start = host_now();
        }
        if (parse_packet(pkt, len, &m)) {
            fprintf(stderr, "%s: malformed %zu-byte packet\n",
                    host_program_name, len);
            continue;
        }
        n++;
        host_print_msg(&o, &m);
        if (o.delay_us) {
            usleep(o.delay_us);
        }
    }
    if (joined) {
        ibb_port_mcast_leave(port, joined_mgid);
    }
    if (n > 1) {
        double t = host_now() - start;

        fprintf(stderr, "%s: received %llu packets in %.3f s (%.0f pkt/s)\n",
                host_program_name, n, t, t > 0 ? (n - 1) / t : 0);
    }
    return host_recv_result(&o, n);
}

/* Sends every IB packet of a capture (link type 247, or ERF records of
 * type InfiniBand) exactly as it is, bad ones included: the fabric's
 * switches judge them, as they would a misbehaving HCA's. */
static int
cmd_replay(void)
{
    static uint8_t pkt[IBB_PCAP_MAX_RECORD];
    struct ibb_pcap_reader *r;
    unsigned long long n = 0, skipped = 0;
    char err[PATH_MAX + 256];   /* Names the file. */
    int error;

    error = ibb_pcap_reader_open(o.arg, &r, err, sizeof err);
    if (error) {
        host_fatal(HOST_EXIT_USAGE, "%s: %s", o.arg, err);
    }
    if (!ibb_pcap_reader_is_ib(r, err, sizeof err)) {
        host_fatal(HOST_EXIT_USAGE, "%s: %s", o.arg, err);
    }
    for (;;) {
        struct ibb_pcap_rec rec;

        error = ibb_pcap_read_ib(r, &rec, pkt, sizeof pkt, &skipped, err,
                                 sizeof err);
        if (error == EOF) {
            break;
        } else if (error) {
            host_fatal(HOST_EXIT_USAGE, "%s: %s", o.arg, err);
        }
        send_packet(pkt, rec.len);
        n++;
        if (o.delay_us) {
            usleep(o.delay_us);
        }
    }
    ibb_pcap_reader_close(r);
    fprintf(stderr, "%s: replayed %llu packets", host_program_name, n);
    if (skipped) {
        fprintf(stderr, ", skipped %llu records not InfiniBand", skipped);
    }
    fputc('\n', stderr);
    return 0;
}

static int
cmd_join(void)
{
    uint8_t mgid[16];
    uint16_t mlid;
    char buf[IBB_GID_STRLEN];

    if (ibb_gid_parse(o.arg, mgid) || !ibb_gid_is_multicast(mgid)) {
        host_fatal(HOST_EXIT_USAGE, "join: \"%s\" is not a multicast GID",
                   o.arg);
    }
    memcpy(joined_mgid, mgid, 16);
    for (unsigned int i = 0; i < (o.groups ? o.groups : 1); i++) {
        if (ibb_port_mcast_join(port, mgid, o.send_only ? IBB_MCAST_SEND_ONLY
                                                        : IBB_MCAST_FULL,
                                o.qkey, o.pkey, &mlid)) {
            host_fatal(HOST_EXIT_FABRIC, "join %s failed: %s",
                       ibb_gid_format(mgid, buf, sizeof buf),
                       ibb_port_error(port));
        }
        joined = true;
        fprintf(stderr, "%s: joined %s, MLID 0x%04x\n", host_program_name,
                ibb_gid_format(mgid, buf, sizeof buf), mlid);
        /* --groups: the next MGID (the low 16 bits count). */
        if (!++mgid[15]) {
            mgid[14]++;
        }
    }
    return cmd_recv();
}

static int
cmd_arp(void)
{
    struct ibsim_ipoib_answer answer;
    char ip[IBB_GID_STRLEN], gid[IBB_GID_STRLEN];

    resolve_ip(o.dip, &answer);
    ibb_ip_format(o.dip, ip, sizeof ip);
    ibb_gid_format(answer.hw.gid, gid, sizeof gid);
    if (o.json) {
        printf("{\"ip\":\"%s\",\"qpn\":%"PRIu32",\"gid\":\"%s\","
               "\"flags\":%u,\"slid\":%u}\n", ip, answer.hw.qpn, gid,
               answer.hw.flags, answer.slid);
    } else {
        printf("%s is at QPN 0x%06"PRIx32" GID %s (from LID %u)\n", ip,
               answer.hw.qpn, gid, answer.slid);
    }
    return 0;
}

/* Waits until 'deadline' (0 = forever) for the next SA group event into
 * 'ev'.  Answers and notices come on the socket with packets, so this reads
 * (and drops) packets meanwhile.  Returns 0 or ETIMEDOUT. */
static int
mcg_next_event(struct ibb_mcg_event *ev, double deadline)
{
    static uint8_t pkt[PKT_SIZE];

    for (;;) {
        struct ibb_port_buf buf = { .data = pkt, .size = PKT_SIZE };
        struct pollfd pfd;
        long long wake;
        size_t n;
        int ms = 1000;
        int err;

        ibb_port_run(port);
        if (ibb_port_mcg_take_event(port, ev)) {
            return 0;
        }
        err = ibb_port_recv(port, &buf, 1, &n);
        if (!err) {
            continue;
        } else if (is_loss(err)) {
            handle_loss();
            continue;
        } else if (err != EAGAIN) {
            fprintf(stderr, "%s: receive failed: %s\n", host_program_name,
                    ibb_port_error(port));
        }
        if (ibb_port_mcg_take_event(port, ev)) {
            return 0;
        }

        if (deadline) {
            double left = deadline - host_now();

            if (left <= 0) {
                return ETIMEDOUT;
            }
            if (left * 1000 + 1 < ms) {
                ms = left * 1000 + 1;
            }
        }
        wake = ibb_port_next_wakeup(port);
        if (wake != LLONG_MAX) {
            long long left = wake - ibb_port_now_ms();

            ms = left <= 0 ? 0 : left < ms ? left : ms;
        }
        pfd.fd = ibb_port_fd(port);
        pfd.events = POLLIN;
        poll(&pfd, 1, ms);
    }
}

static void
print_mcg_record(const struct ibb_mcg_record *r)
{
    char mgid[IBB_GID_STRLEN];

    ibb_gid_format(r->mgid, mgid, sizeof mgid);
    if (o.json) {
        printf("{\"mgid\":\"%s\",\"mlid\":%u,\"qkey\":%"PRIu32","
               "\"pkey\":%u,\"full\":%"PRIu32",\"send_only\":%"PRIu32"}\n",
               mgid, r->mlid, r->qkey, r->pkey, r->n_full_others,
               r->n_send_only_others);
    } else {
        printf("%s mlid=0x%04x qkey=0x%08"PRIx32" pkey=0x%04x full=%"PRIu32
               " send_only=%"PRIu32"\n", mgid, r->mlid, r->qkey, r->pkey,
               r->n_full_others, r->n_send_only_others);
    }
    fflush(stdout);
}

static void
print_mcg_notice(const struct ibb_mcg_event *ev)
{
    char mgid[IBB_GID_STRLEN];

    ibb_gid_format(ev->rec.mgid, mgid, sizeof mgid);
    if (o.json) {
        printf("{\"event\":\"%s\",\"mgid\":\"%s\"}\n",
               ibb_mcg_event_name(ev->type), mgid);
    } else {
        printf("%s %s\n", ibb_mcg_event_name(ev->type), mgid);
    }
    fflush(stdout);
}

/* "mcgs": the SA's group table, as saquery -g prints it, members counted
 * without this port. */
static int
cmd_mcgs_list(void)
{
    unsigned long long n = 0;
    struct ibb_mcg_event ev;
    uint16_t mlid;

    if (o.has_dgid) {
        /* To see itself counted out of the group's members. */
        if (!ibb_gid_is_multicast(o.dgid)
            || ibb_port_mcast_join(port, o.dgid,
                                   o.send_only ? IBB_MCAST_SEND_ONLY
                                               : IBB_MCAST_FULL,
                                   o.qkey, o.pkey, &mlid)) {
            host_fatal(HOST_EXIT_USAGE, "mcgs: --dgid must be a multicast "
                       "group to join: %s", ibb_port_error(port));
        }
    }
    if (ibb_port_mcg_list(port)) {
        host_fatal(HOST_EXIT_FABRIC, "mcgs: %s", ibb_port_error(port));
    }
    for (;;) {
        mcg_next_event(&ev, 0);
        if (ev.type == IBB_MCG_LISTED) {
            print_mcg_record(&ev.rec);
            n++;
        } else if (ev.type == IBB_MCG_LIST_DONE) {
            if (ev.error) {
                host_fatal(HOST_EXIT_FABRIC, "mcgs: the group list failed "
                           "(%s)", strerror(ev.error));
            }
            break;
        }
    }
    fprintf(stderr, "%s: %llu groups\n", host_program_name, n);
    return 0;
}

/* "mcgs --follow": the SA's trap 66 and 67 notices, one line each. */
static int
cmd_mcgs_follow(void)
{
    double deadline = o.timeout ? host_now() + o.timeout : 0;
    unsigned long long n = 0;
    struct ibb_mcg_event ev;

    if (ibb_port_mcg_subscribe(port, true)) {
        host_fatal(HOST_EXIT_FABRIC, "mcgs: %s", ibb_port_error(port));
    }
    while (!o.count || n < o.count) {
        if (mcg_next_event(&ev, deadline)) {
            break;
        }
        switch (ev.type) {
        case IBB_MCG_CREATED:
        case IBB_MCG_DELETED:
            print_mcg_notice(&ev);
            if (++n == o.unsub_after) {
                if (ibb_port_mcg_subscribe(port, false)) {
                    host_fatal(HOST_EXIT_FABRIC, "mcgs: %s",
                               ibb_port_error(port));
                }
                printf("unsubscribed\n");
                fflush(stdout);
            }
            break;
        case IBB_MCG_RESUBSCRIBED:
            fprintf(stderr, "%s: subscribed again after the reconnect\n",
                    host_program_name);
            break;
        case IBB_MCG_SUBSCRIBE_FAILED:
            host_fatal(HOST_EXIT_FABRIC, "mcgs: the SA refused the "
                       "subscription (%s)", strerror(ev.error));
        case IBB_MCG_LISTED:
        case IBB_MCG_LIST_DONE:
            break;
        }
    }
    return host_recv_result(&o, n);
}

int
main(int argc, char *argv[])
{
    struct ibb_port_options popts;
    char *device, *error;
    int err, rc;

    host_parse_options(argc, argv, false, &o);

    memset(&popts, 0, sizeof popts);
    popts.mode = o.raw ? IBB_PORT_RAW : IBB_PORT_STRICT;
    popts.lid = o.lid;
    popts.pkey = o.pkey;
    popts.name = "ibsim-host";
    if (o.has_gid) {
        for (int i = 0; i < 8; i++) {
            popts.guid = (popts.guid << 8) | o.gid[8 + i];
        }
    }
    device = malloc(strlen(o.fabric) + 5);
    sprintf(device, "sim:%s", o.fabric);
    /* A LID or GUID asked for may still be held for a port that just
     * left (the fabric sees a close a moment later, as an SM takes a sweep
     * to notice a port gone): try again for up to two seconds. */
    for (int tries = 0; ; tries++) {
        err = ibb_port_open(device, &popts, &port, &error);
        if (err != EADDRINUSE || tries >= 40) {
            break;
        }
        free(error);
        usleep(50 * 1000);
    }
    if (err) {
        host_fatal(HOST_EXIT_FABRIC, "%s", error);
    }
    free(device);
    ibb_port_query(port, &attr);
    if (o.has_gid && memcmp(attr.gid, o.gid, 16)) {
        host_fatal(HOST_EXIT_USAGE, "--gid: the fabric's subnet prefix is "
                   "fe80::/64, the GID must be in it");
    }
    if (!o.raw && ibb_port_qp_open(port, o.qpn, o.qkey)) {
        host_fatal(HOST_EXIT_FABRIC, "%s", ibb_port_error(port));
    }

    if (!strcmp(o.cmd, "send") || !strcmp(o.cmd, "flood")) {
        resolve_dest(&dest);
        rc = host_cmd_send(&o, &io, !strcmp(o.cmd, "flood"));
    } else if (!strcmp(o.cmd, "recv")) {
        rc = cmd_recv();
    } else if (!strcmp(o.cmd, "join")) {
        rc = cmd_join();
    } else if (!strcmp(o.cmd, "replay")) {
        rc = cmd_replay();
    } else if (!strcmp(o.cmd, "arp")) {
        rc = cmd_arp();
    } else if (!strcmp(o.cmd, "mcgs")) {
        rc = o.follow ? cmd_mcgs_follow() : cmd_mcgs_list();
    } else {
        if (o.has_dgid || o.has_dip) {
            resolve_dest(&dest);
        }
        rc = host_cmd_pingpong(&o, &io);
    }
    ibb_port_close(port);
    free(o.payload);
    return rc;
}
