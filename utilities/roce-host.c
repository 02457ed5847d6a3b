/*
 * roce-host: a RoCEv2 UD endpoint without an RDMA device, for the Ethernet
 * side of the bridge (run it in a network namespace behind a veth).
 *
 * IPv4 sends go through a raw socket with IP_HDRINCL, so that every IP
 * field the ICRC covers (notably the IP ID and DF) is the one we computed
 * the ICRC with; receives come from a raw IPPROTO_UDP socket, which hands
 * over the IP header the ICRC check needs.  A UDP socket bound to 4791
 * (with a filter that drops everything) keeps the kernel from answering
 * with ICMP port unreachable and carries the multicast memberships.
 *
 * IPv6 uses the UDP socket itself: the ICRC covers no IPv6 field the
 * kernel picks on its own (traffic class, flow label and hop limit are
 * masked), so the pseudo-header is rebuilt exactly from the addresses
 * (IPV6_PKTINFO for the destination) and the UDP ports and length.
 * Socket options set the traffic class, hop limit and flow label of what
 * it sends, and ancillary data tells those of what it receives.
 *
 * Needs root (CAP_NET_RAW) for IPv4.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
/* After netinet/in.h: the flow label manager's request and options. */
#include <linux/in6.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-common.h"
#include "ib-gid.h"
#include "ib-hdr.h"
#include "ib-icrc.h"
#include "roce-hdr.h"

#define PKT_SIZE (IBB_IPV6_LEN + IBB_UDP_LEN + IBB_BTH_LEN + IBB_DETH_LEN \
                  + IBB_IMMDT_LEN + HOST_MAX_PAYLOAD + 3 + IBB_ICRC_LEN)

static struct host_opts o;
static bool v6;                 /* IPv6 (else IPv4). */
static uint8_t src_ip[16];      /* Own address, as a GID (v4-mapped). */
static unsigned int ifindex;    /* --dev. */
static int udp_fd = -1;         /* Bound to port 4791. */
static int raw_fd = -1;         /* IPv4: raw send and receive. */
static int raw_tx_fd = -1;      /* IPv4: IP_HDRINCL for sending. */
static uint16_t ip_id;          /* Next IPv4 ID. */
static uint8_t group[16];       /* join: the group. */
static bool joined;             /* join done: accept only 'group'. */
static bool rx_flow;            /* IPv6: the kernel reports flow labels. */

/* IPv4 TTL when --hop-limit does not give one.  (IPv4 sends write the
 * header themselves, IP_HDRINCL, so IP_TOS and IP_TTL would not apply.) */
#define DEFAULT_TTL 64

static void
to_sockaddr(const uint8_t ip[16], uint16_t port, struct sockaddr_storage *ss,
            socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, ip, 16);
        if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)
            || IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr)) {
            sin6->sin6_scope_id = ifindex;
        }
        *len = sizeof *sin6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, ip + 12, 4);
        *len = sizeof *sin;
    }
}

static void
net_fatal(const char *what)
{
    host_fatal(HOST_EXIT_FABRIC, "%s failed (%s)", what, strerror(errno));
}

/* Finds the source address the kernel would use towards 'dst'. */
static void
route_source(const uint8_t dst[16])
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

    to_sockaddr(dst, IBB_ROCE_V2_PORT, &ss, &len);
    if (fd < 0 || connect(fd, (struct sockaddr *) &ss, len) < 0) {
        host_fatal(HOST_EXIT_FABRIC, "no route to the destination (%s); "
                   "give --ip", strerror(errno));
    }
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *) &ss, &len);
    if (v6) {
        memcpy(src_ip, &((struct sockaddr_in6 *) &ss)->sin6_addr, 16);
    } else {
        ibb_gid_from_ipv4(src_ip,
                          (uint8_t *) &((struct sockaddr_in *) &ss)->sin_addr);
    }
    close(fd);
}

static void
open_sockets(void)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;

    udp_fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp_fd < 0) {
        net_fatal("UDP socket");
    }
    setsockopt(udp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6) {
        uint8_t any[16] = { 0 };

        setsockopt(udp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        setsockopt(udp_fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
        setsockopt(udp_fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
        setsockopt(udp_fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one,
                   sizeof one);
        /* The kernel leaves out an all-zero flow info, so only a socket
         * that asked knows that no cmsg means label 0. */
        rx_flow = !setsockopt(udp_fd, IPPROTO_IPV6, IPV6_FLOWINFO, &one,
                              sizeof one);
        to_sockaddr(any, IBB_ROCE_V2_PORT, &ss, &len);
    } else {
        uint8_t any[16];

        ibb_gid_from_ipv4(any, (const uint8_t[4]) { 0, 0, 0, 0 });
        to_sockaddr(any, IBB_ROCE_V2_PORT, &ss, &len);
    }
    if (bind(udp_fd, (struct sockaddr *) &ss, len) < 0) {
        net_fatal("bind to UDP port 4791");
    }
    if (ifindex && v6) {
        setsockopt(udp_fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex,
                   sizeof ifindex);
    }

    if (!v6) {
        /* The UDP socket only holds the port and the memberships: drop
         * everything it would queue, the raw socket reads the packets. */
        struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
        struct sock_fprog prog = { .len = 1, .filter = &drop_all };

        setsockopt(udp_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);

        raw_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
        raw_tx_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
        if (raw_fd < 0 || raw_tx_fd < 0) {
            host_fatal(HOST_EXIT_FABRIC, "raw socket failed (%s): IPv4 "
                       "RoCEv2 needs root or CAP_NET_RAW", strerror(errno));
        }
        if (ifindex) {
            struct ip_mreqn mr = { .imr_ifindex = ifindex };

            setsockopt(raw_tx_fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
                       sizeof mr);
        }
    }
}

/* Opens the IPv6 socket that sends from 'sport' (the source port the ICRC
 * used) to 'dst', with the header fields the command line asks for. */
static int
open_ipv6_sender(uint16_t sport, const uint8_t dst[16])
{
    struct sockaddr_storage from;
    socklen_t fromlen;
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    to_sockaddr(src_ip, sport, &from, &fromlen);
    if (fd < 0 || bind(fd, (struct sockaddr *) &from, fromlen) < 0) {
        net_fatal("bind of the IPv6 source port");
    }
    if (ifindex) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex,
                   sizeof ifindex);
    }
    if (o.tclass >= 0
        && setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &o.tclass,
                      sizeof o.tclass) < 0) {
        net_fatal("setsockopt(IPV6_TCLASS)");
    }
    if (o.hop_limit >= 0
        && (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &o.hop_limit,
                       sizeof o.hop_limit) < 0
            || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
                          &o.hop_limit, sizeof o.hop_limit) < 0)) {
        net_fatal("setsockopt(IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS)");
    }
    if (o.flow_label >= 0) {
        /* A socket sends a label only on a lease from the kernel's flow
         * label manager, and then takes it from sin6_flowinfo. */
        struct in6_flowlabel_req req = {
            .flr_label = htonl(o.flow_label),
            .flr_action = IPV6_FL_A_GET,
            .flr_share = IPV6_FL_S_ANY,
            .flr_flags = IPV6_FL_F_CREATE,
        };
        int one = 1, zero = 0;

        memcpy(&req.flr_dst, dst, 16);
        if (o.flow_label
            && setsockopt(fd, IPPROTO_IPV6, IPV6_FLOWLABEL_MGR, &req,
                          sizeof req) < 0) {
            host_fatal(errno == ERANGE ? HOST_EXIT_USAGE : HOST_EXIT_FABRIC,
                       "--flow-label=0x%x: lease from the flow label "
                       "manager failed (%s)%s", o.flow_label,
                       strerror(errno),
                       errno == ERANGE
                       ? "; labels from 0x80000 up are stateless while "
                         "sysctl net.ipv6.flowlabel_state_ranges is 1" : "");
        }
        /* Label 0 means "none": keep the kernel from picking one. */
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_FLOWINFO_SEND, &one,
                       sizeof one) < 0) {
            net_fatal("setsockopt(IPV6_FLOWINFO_SEND)");
        }
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, &zero,
                       sizeof zero) < 0) {
            net_fatal("setsockopt(IPV6_AUTOFLOWLABEL)");
        }
    }
    return fd;
}

/* Sends the transport part 'tp' of 'tlen' bytes (BTH .. pad, ICRC room
 * after it) to 'dst'. */
static void
send_roce(const uint8_t dst[16], uint32_t dqpn, uint8_t *tp, size_t tlen)
{
    uint16_t sport = ibb_roce_flow_to_sport(ibb_roce_calc_flow(o.qpn, dqpn));
    static uint8_t pkt[PKT_SIZE];
    struct sockaddr_storage ss;
    struct ibb_udp *udp;
    size_t iplen = v6 ? IBB_IPV6_LEN : IBB_IPV4_LEN;
    size_t len = iplen + IBB_UDP_LEN + tlen + IBB_ICRC_LEN;
    socklen_t sslen;
    ssize_t n;

    /* The IP and UDP headers the receiver will see. */
    memset(pkt, 0, iplen + IBB_UDP_LEN);
    if (v6) {
        struct ibb_ipv6 *ip6 = (struct ibb_ipv6 *) pkt;

        /* The kernel writes these; the ICRC masks the fields anyway. */
        ibb_ipv6_set_vtf(ip6, 6, o.tclass >= 0 ? o.tclass : 0,
                         o.flow_label >= 0 ? o.flow_label : 0);
        ibb_ipv6_set_plen(ip6, len - IBB_IPV6_LEN);
        ibb_ipv6_set_nexthdr(ip6, IBB_IPPROTO_UDP);
        ibb_ipv6_set_hlim(ip6, o.hop_limit >= 0 ? o.hop_limit : 64);
        memcpy(ip6->saddr, src_ip, 16);
        memcpy(ip6->daddr, dst, 16);
    } else {
        struct ibb_ipv4 *ip = (struct ibb_ipv4 *) pkt;

        ibb_ipv4_set_ver_ihl(ip, 4, 5);
        ibb_ipv4_set_tos(ip, o.tclass >= 0 ? o.tclass : 0);
        ibb_ipv4_set_tot_len(ip, len);
        if (!++ip_id) {
            ip_id = 1;          /* The kernel would replace an ID of 0. */
        }
        ibb_ipv4_set_id(ip, ip_id);
        ibb_ipv4_set_frag(ip, IBB_IPV4_DF);
        ibb_ipv4_set_ttl(ip, o.hop_limit >= 0 ? o.hop_limit : DEFAULT_TTL);
        ibb_ipv4_set_proto(ip, IBB_IPPROTO_UDP);
        memcpy(ip->saddr, src_ip + 12, 4);
        memcpy(ip->daddr, dst + 12, 4);
    }
    udp = (struct ibb_udp *) (pkt + iplen);
    ibb_udp_set_sport(udp, sport);
    ibb_udp_set_dport(udp, IBB_ROCE_V2_PORT);
    ibb_udp_set_len(udp, len - iplen);
    memcpy(pkt + iplen + IBB_UDP_LEN, tp, tlen);
    ibb_icrc_roce_generate(pkt, len);

    to_sockaddr(dst, v6 ? IBB_ROCE_V2_PORT : 0, &ss, &sslen);
    if (v6 && o.flow_label >= 0) {
        ((struct sockaddr_in6 *) &ss)->sin6_flowinfo = htonl(o.flow_label);
    }
    for (;;) {
        if (v6) {
            if (raw_tx_fd < 0) {
                /* A second socket with the source port the ICRC used. */
                raw_tx_fd = open_ipv6_sender(sport, dst);
            }
            n = sendto(raw_tx_fd, pkt + iplen + IBB_UDP_LEN,
                       len - iplen - IBB_UDP_LEN, 0,
                       (struct sockaddr *) &ss, sslen);
        } else {
            n = sendto(raw_tx_fd, pkt, len, 0, (struct sockaddr *) &ss,
                       sslen);
        }
        if (n >= 0) {
            return;
        } else if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
            usleep(100);
        } else {
            net_fatal("sendto");
        }
    }
}

/* Returns true if a packet to 'dst' is for this host's command: the
 * group after a join, else unicast (to --ip if given).  The raw socket
 * sees every UDP packet the host accepts, whichever socket it is for. */
static bool
wanted(const uint8_t dst[16])
{
    if (joined) {
        return !memcmp(dst, group, 16);
    }
    return !ibb_ip_is_multicast(dst) && (!o.ip || !memcmp(dst, src_ip, 16));
}

/* Receives one RoCEv2 packet and parses it into 'm' (whose payload points
 * into a static buffer).  Returns false on timeout. */
static bool
recv_roce(struct host_msg *m, double deadline)
{
    static uint8_t pkt[PKT_SIZE];

    for (;;) {
        struct pollfd pfd = { .fd = v6 ? udp_fd : raw_fd, .events = POLLIN };
        int ms = -1;
        ssize_t n;

        if (deadline) {
            double left = deadline - host_now();

            if (left <= 0) {
                return false;
            }
            ms = left * 1000 + 1;
        }
        if (poll(&pfd, 1, ms) <= 0) {
            continue;
        }

        host_msg_init(m);
        if (v6) {
            uint8_t *data = pkt + IBB_IPV6_LEN + IBB_UDP_LEN;
            union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))
                            + 2 * CMSG_SPACE(sizeof(int))
                            + CMSG_SPACE(sizeof(uint32_t))];
            } cbuf;
            struct sockaddr_in6 from;
            struct iovec iov = { data, sizeof pkt - IBB_IPV6_LEN
                                       - IBB_UDP_LEN };
            struct msghdr msg = {
                .msg_name = &from, .msg_namelen = sizeof from,
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf,
            };
            struct ibb_ipv6 *ip6 = (struct ibb_ipv6 *) pkt;
            struct ibb_udp *udp = (struct ibb_udp *) (pkt + IBB_IPV6_LEN);
            struct cmsghdr *c;

            n = recvmsg(udp_fd, &msg, MSG_DONTWAIT);
            if (n < 0) {
                continue;
            }
            /* Rebuild the headers the ICRC covers. */
            memset(pkt, 0, IBB_IPV6_LEN + IBB_UDP_LEN);
            ibb_ipv6_set_vtf(ip6, 6, 0, 0);
            ibb_ipv6_set_plen(ip6, IBB_UDP_LEN + n);
            ibb_ipv6_set_nexthdr(ip6, IBB_IPPROTO_UDP);
            memcpy(ip6->saddr, &from.sin6_addr, 16);
            m->flow_label = rx_flow ? 0 : -1;
            for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != IPPROTO_IPV6) {
                    continue;
                }
                if (c->cmsg_type == IPV6_PKTINFO) {
                    struct in6_pktinfo pi;

                    memcpy(&pi, CMSG_DATA(c), sizeof pi);
                    memcpy(ip6->daddr, &pi.ipi6_addr, 16);
                } else if (c->cmsg_type == IPV6_TCLASS) {
                    memcpy(&m->tclass, CMSG_DATA(c), sizeof m->tclass);
                } else if (c->cmsg_type == IPV6_HOPLIMIT) {
                    memcpy(&m->hop_limit, CMSG_DATA(c), sizeof m->hop_limit);
                } else if (c->cmsg_type == IPV6_FLOWINFO) {
                    uint32_t fi;

                    memcpy(&fi, CMSG_DATA(c), sizeof fi);
                    m->flow_label = ntohl(fi) & IPV6_FLOWINFO_FLOWLABEL;
                }
            }
            ibb_udp_set_sport(udp, ntohs(from.sin6_port));
            ibb_udp_set_dport(udp, IBB_ROCE_V2_PORT);
            ibb_udp_set_len(udp, IBB_UDP_LEN + n);
            memcpy(m->sgid, ip6->saddr, 16);
            memcpy(m->dgid, ip6->daddr, 16);
            m->icrc_ok = !ibb_icrc_roce_check(pkt, IBB_IPV6_LEN + IBB_UDP_LEN
                                                   + n);
            if (wanted(m->dgid) && !host_parse_transport(data, n, m)) {
                return true;
            }
        } else {
            const struct ibb_ipv4 *ip = (const struct ibb_ipv4 *) pkt;
            const struct ibb_udp *udp;

            n = recv(raw_fd, pkt, sizeof pkt, MSG_DONTWAIT);
            if (n < IBB_IPV4_LEN + IBB_UDP_LEN || ibb_ipv4_ihl(ip) != 5
                || ibb_ipv4_proto(ip) != IBB_IPPROTO_UDP) {
                continue;
            }
            udp = (const struct ibb_udp *) (pkt + IBB_IPV4_LEN);
            if (ibb_udp_dport(udp) != IBB_ROCE_V2_PORT) {
                continue;
            }
            ibb_gid_from_ipv4(m->sgid, ip->saddr);
            ibb_gid_from_ipv4(m->dgid, ip->daddr);
            m->tclass = ibb_ipv4_tos(ip);
            m->hop_limit = ibb_ipv4_ttl(ip);
            m->icrc_ok = !ibb_icrc_roce_check(pkt, n);
            if (wanted(m->dgid)
                && !host_parse_transport(pkt + IBB_IPV4_LEN + IBB_UDP_LEN,
                                      n - IBB_IPV4_LEN - IBB_UDP_LEN, m)) {
                return true;
            }
        }
    }
}

static void
join_group(const uint8_t group[16])
{
    int err;

    if (v6) {
        struct ipv6_mreq mr;

        memcpy(&mr.ipv6mr_multiaddr, group, 16);
        mr.ipv6mr_interface = ifindex;
        err = setsockopt(udp_fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr,
                         sizeof mr);
    } else {
        struct ip_mreqn mr;

        memset(&mr, 0, sizeof mr);
        memcpy(&mr.imr_multiaddr, group + 12, 4);
        mr.imr_ifindex = ifindex;
        err = setsockopt(udp_fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
                         sizeof mr);
    }
    if (err < 0) {
        host_fatal(HOST_EXIT_FABRIC, "join %s failed (%s)", o.arg,
                   strerror(errno));
    }
}

static uint32_t
dest_qpn(const uint8_t dst[16])
{
    return ibb_ip_is_multicast(dst) ? IBB_MULTICAST_QPN : o.dqpn;
}

/* host_io's send(). */
static void
roce_send(const struct host_msg *to, uint32_t psn, const uint8_t *payload,
          size_t len)
{
    static uint8_t tp[PKT_SIZE];
    const uint8_t *dst = to ? to->sgid : o.dgid;
    uint32_t dqpn = to ? to->sqpn : dest_qpn(o.dgid);
    size_t tlen = host_build_transport(tp, &o, dqpn, psn, payload, len);

    send_roce(dst, dqpn, tp, tlen);
}

/* host_io's recv(). */
static int
roce_recv(struct host_msg *m, double deadline)
{
    return recv_roce(m, deadline) ? 0 : ETIMEDOUT;
}

static const struct host_io io = { .send = roce_send, .recv = roce_recv };

static int
cmd_recv(void)
{
    double deadline = o.timeout ? host_now() + o.timeout : 0;
    unsigned long long n = 0;

    while (!o.count || n < o.count) {
        struct host_msg m;

        if (!recv_roce(&m, deadline)) {
            break;
        }
        n++;
        host_print_msg(&o, &m);
        if (o.delay_us) {
            usleep(o.delay_us);
        }
    }
    return host_recv_result(&o, n);
}

int
main(int argc, char *argv[])
{

    host_parse_options(argc, argv, true, &o);

    if (o.dev) {
        ifindex = if_nametoindex(o.dev);
        if (!ifindex) {
            host_fatal(HOST_EXIT_USAGE, "--dev=%s: no such interface",
                       o.dev);
        }
    }
    if (o.arg && ibb_gid_parse(o.arg, group)) {
        host_fatal(HOST_EXIT_USAGE, "join: \"%s\" is not an IP address",
                   o.arg);
    }
    if (o.arg && !ibb_ip_is_multicast(group)) {
        host_fatal(HOST_EXIT_USAGE, "join: %s is not a multicast group",
                   o.arg);
    }

    if (o.ip) {
        if (ibb_gid_parse(o.ip, src_ip)) {
            host_fatal(HOST_EXIT_USAGE, "--ip=%s: not an IP address", o.ip);
        }
        v6 = !ibb_gid_is_v4mapped(src_ip);
    } else if (o.has_dgid) {
        v6 = !ibb_gid_is_v4mapped(o.dgid);
        route_source(o.dgid);
    } else if (o.arg) {
        v6 = !ibb_gid_is_v4mapped(group);
    }
    if (o.has_dgid && v6 != !ibb_gid_is_v4mapped(o.dgid)) {
        host_fatal(HOST_EXIT_USAGE, "--ip and --dip are of different "
                   "address families");
    }
    if (o.flow_label >= 0 && !v6) {
        host_fatal(HOST_EXIT_USAGE, "--flow-label: IPv4 has no flow label");
    }
    open_sockets();

    if (!strcmp(o.cmd, "send") || !strcmp(o.cmd, "flood")) {
        return host_cmd_send(&o, &io, !strcmp(o.cmd, "flood"));
    } else if (!strcmp(o.cmd, "recv")) {
        return cmd_recv();
    } else if (!strcmp(o.cmd, "join")) {
        join_group(group);
        joined = true;
        fprintf(stderr, "%s: joined %s\n", host_program_name, o.arg);
        return cmd_recv();
    }
    return host_cmd_pingpong(&o, &io);
}
