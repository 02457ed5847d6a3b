#!/usr/bin/env python3
"""Sends a neighbour notification (RTM_NEWNEIGH or RTM_DELNEIGH) to the
rtnetlink neighbour group, as the kernel does when an entry changes, with
any link-layer address: an IPoIB neighbour's 20 bytes (flags and QPN, then
the GID) on an interface that is not IPoIB, which the kernel itself would
cut to the device's address length.  Needs CAP_NET_ADMIN.

    neigh-msg.py new|del IFNAME IP [LLADDR-HEX]
"""
import ipaddress
import socket
import struct
import sys

RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT = 0x80
RTMGRP_NEIGH = 0x4


def attr(kind, data):
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (-length % 4)


def main():
    op, ifname, ip = sys.argv[1:4]
    lladdr = bytes.fromhex(sys.argv[4]) if len(sys.argv) > 4 else b""
    addr = ipaddress.ip_address(ip)
    family = socket.AF_INET if addr.version == 4 else socket.AF_INET6
    nd = struct.pack("=BxxxiHBB", family, socket.if_nametoindex(ifname),
                     NUD_PERMANENT, 0, 0)
    body = nd + attr(NDA_DST, addr.packed)
    if lladdr:
        body += attr(NDA_LLADDR, lladdr)
    kind = RTM_NEWNEIGH if op == "new" else RTM_DELNEIGH
    msg = struct.pack("=IHHII", 16 + len(body), kind, 0, 1, 0) + body
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    s.sendto(msg, (0, RTMGRP_NEIGH))


if __name__ == "__main__":
    main()
