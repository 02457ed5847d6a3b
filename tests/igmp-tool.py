#!/usr/bin/python3
"""IGMP and MLD messages for the tests, built with scapy, independently of
ibbridge's C code.

  igmp-tool.py query4 [--version 1|2|3] [--group G] [--mrc N] [--ttl N]
                      [--src IP] [--sources IP,...] [--qrv N] [--qqic N]
                      [--bad-csum] [--length N]
      an IGMP query (general unless --group), as hex
  igmp-tool.py query6 [--version 1|2] [--group G] [--mrc N] [--hlim N]
                      [--src IP] [--sources IP,...] [--bad-csum] [--length N]
      an MLD query, as hex
  igmp-tool.py report4 --group G / report6 --group G
      another host's IGMPv2 report / MLDv1 report, as hex

--length N cuts the IGMP or MLD message to N bytes (fixing the IP lengths
and the checksum, unless --bad-csum); --bad-csum spoils the checksum.
"""
import argparse
import ipaddress
import logging
import struct
import sys

logging.getLogger("scapy").setLevel(logging.ERROR)

from scapy.all import Ether, IP, IPv6, raw
from scapy.layers.inet6 import (IPv6ExtHdrHopByHop, RouterAlert,
                                ICMPv6MLQuery, ICMPv6MLQuery2,
                                ICMPv6MLReport)
from scapy.contrib.igmp import IGMP
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mq
from scapy.utils import checksum
from scapy.layers.inet6 import in6_chksum

HOST_MAC = "02:00:00:00:00:02"


def mac4(ip):
    b = ipaddress.IPv4Address(ip).packed
    return "01:00:5e:%02x:%02x:%02x" % (b[1] & 0x7f, b[2], b[3])


def mac6(ip):
    b = ipaddress.IPv6Address(ip).packed
    return "33:33:" + ":".join("%02x" % x for x in b[12:])


def ipv4_frame(args, msg):
    """Ethernet/IPv4 (Router Alert) around IGMP bytes 'msg'."""
    if args.length is not None:
        msg = msg[:args.length] + b"\0" * max(0, args.length - len(msg))
    msg = msg[:2] + b"\0\0" + msg[4:]
    csum = checksum(msg)
    if args.bad_csum:
        csum ^= 0x5555
    msg = msg[:2] + struct.pack("!H", csum) + msg[4:]
    dst = args.group if args.group and args.version != 1 else "224.0.0.1"
    ip = IP(src=args.src, dst=dst, ttl=args.ttl, proto=2, tos=0xc0,
            options=[b"\x94\x04\x00\x00"])
    return raw(Ether(src=HOST_MAC, dst=mac4(dst)) / ip / msg)


def query4(args):
    group = args.group or "0.0.0.0"
    if args.version == 3:
        q = IGMPv3(type=0x11, mrcode=args.mrc) / IGMPv3mq(
            gaddr=group, qrv=args.qrv, qqic=args.qqic,
            srcaddrs=args.sources.split(",") if args.sources else [])
        msg = raw(q)
    else:
        mrc = 0 if args.version == 1 else args.mrc
        msg = struct.pack("!BBH4s", 0x11, mrc, 0,
                          ipaddress.IPv4Address(group).packed)
    return ipv4_frame(args, msg)


def report4(args):
    msg = struct.pack("!BBH4s", 0x16, 0, 0,
                      ipaddress.IPv4Address(args.group).packed)
    return ipv4_frame(args, msg)


def ipv6_frame(args, icmp, dst):
    """Ethernet/IPv6/hop-by-hop (Router Alert) around ICMPv6 bytes."""
    if args.length is not None:
        icmp = icmp[:args.length] + b"\0" * max(0, args.length - len(icmp))
    icmp = icmp[:2] + b"\0\0" + icmp[4:]
    csum = in6_chksum(58, IPv6(src=args.src, dst=dst), icmp)
    if args.bad_csum:
        csum ^= 0x5555
    icmp = icmp[:2] + struct.pack("!H", csum) + icmp[4:]
    frame = (Ether(src=HOST_MAC, dst=mac6(dst))
             / IPv6(src=args.src, dst=dst, hlim=args.hlim)
             / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)], nh=58)
             / icmp)
    return raw(frame)


def query6(args):
    group = args.group or "::"
    dst = args.group or "ff02::1"
    if args.version == 2:
        q = ICMPv6MLQuery2(mladdr=group, mrd=args.mrc,
                           sources=(args.sources.split(",") if args.sources
                                    else []))
    else:
        q = ICMPv6MLQuery(mladdr=group, mrd=args.mrc)
    return ipv6_frame(args, raw(q), dst)


def report6(args):
    return ipv6_frame(args, raw(ICMPv6MLReport(mladdr=args.group)),
                      args.group)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["query4", "query6", "report4",
                                    "report6"])
    p.add_argument("--version", type=int)
    p.add_argument("--group")
    p.add_argument("--mrc", type=int)
    p.add_argument("--ttl", type=int, default=1)
    p.add_argument("--hlim", type=int, default=1)
    p.add_argument("--src")
    p.add_argument("--sources")
    p.add_argument("--qrv", type=int, default=2)
    p.add_argument("--qqic", type=int, default=125)
    p.add_argument("--bad-csum", action="store_true")
    p.add_argument("--length", type=int)
    args = p.parse_args()
    if args.kind.endswith("4"):
        args.mrc = 10 if args.mrc is None else args.mrc     # 1 s
        args.version = args.version or 3
        args.src = args.src or "10.0.0.254"
    else:
        args.mrc = 1000 if args.mrc is None else args.mrc   # 1 s
        args.version = args.version or 2
        args.src = args.src or "fe80::1"
    frame = {"query4": query4, "query6": query6, "report4": report4,
             "report6": report6}[args.kind](args)
    sys.stdout.write(frame.hex() + "\n")


if __name__ == "__main__":
    main()
