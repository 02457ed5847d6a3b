#!/usr/bin/env python3
"""A Linux host's multicast receiver: joins GROUP on interface IFNAME with
an ordinary UDP socket bound to the group (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP), so that the
kernel sends its own IGMP/MLD reports, prints one line per datagram
received on UDP port 4791 (the RoCEv2 payload: past the BTH and DETH, less
the pad and the ICRC, in hex), and leaves the group when it closes the socket (on
--count datagrams, --timeout seconds, or when the file --until exists).

usage: mcast-listen.py GROUP IFNAME [--count N] [--timeout S] [--until F]
"""
import argparse
import os
import select
import socket
import struct
import sys
import time

ROCE_PORT = 4791
BTH_DETH = 12 + 8
ICRC = 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("group")
    ap.add_argument("ifname")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--until")
    a = ap.parse_args()

    ifindex = socket.if_nametoindex(a.ifname)
    if ":" in a.group:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.group, ROCE_PORT, 0, ifindex))
        mreq = socket.inet_pton(socket.AF_INET6, a.group) + \
            struct.pack("@I", ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.group, ROCE_PORT))
        mreqn = socket.inet_aton(a.group) + socket.inet_aton("0.0.0.0") + \
            struct.pack("@i", ifindex)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    print("joined", a.group, flush=True)

    n = 0
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        if a.until and os.path.exists(a.until):
            break
        if a.count and n >= a.count:
            break
        r, _, _ = select.select([s], [], [], 0.1)
        if not r:
            continue
        data, src = s.recvfrom(65536)
        if len(data) < BTH_DETH + ICRC or not src[0]:
            continue
        n += 1
        pad = (data[1] >> 4) & 3        # BTH PadCnt.
        payload = data[BTH_DETH:len(data) - ICRC - pad]
        print("from %s payload=%s" % (src[0], payload.hex()), flush=True)
    s.close()                   # The kernel leaves the group.
    print("left", a.group, flush=True)
    return 0 if not a.count or n >= a.count else 1


if __name__ == "__main__":
    sys.exit(main())
