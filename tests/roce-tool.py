#!/usr/bin/python3
"""RoCEv2 frames for the end-to-end tests, built and checked independently
of ibbridge's C code (scapy for the headers, zlib's CRC-32 for the ICRC
over the pseudo-header of shared/docs/ib-roce-wire-format.md section 2).

  roce-tool.py frame --src-mac M --dst-mac M --sip IP --dip IP --dqpn N
                     [--sqpn N] [--qkey K] [--imm N] [--payload HEX]
                     [--tos T] [--ttl N] [--opcode N] [--bad-icrc]
                     [--truncate N]
      prints one frame as hex (for ovs-appctl netdev-dummy/receive)
  roce-tool.py check [--udp-csum] FILE.pcap
      prints one JSON object per frame: addresses, BTH/DETH fields,
      payload and whether its ICRC is right (icrc_ok); with --udp-csum
      also its UDP checksum (udp_csum): "zero", "ok" or "bad"
"""
import argparse
import ipaddress
import logging
import json
import struct
import sys

# scapy lists the host's interfaces on import and warns when one goes away
# meanwhile (parallel tests delete their veths); only errors matter here.
logging.getLogger("scapy").setLevel(logging.ERROR)

from scapy.all import Ether, IP, IPv6, UDP, Raw, rdpcap, raw
from scapy.layers.inet import in4_chksum
from scapy.layers.inet6 import in6_chksum

# The script's own folder is on sys.path; no bytecode in the source tree.
sys.dont_write_bytecode = True
from roce_ref import icrc_roce  # noqa: E402

ROCE_PORT = 4791


def build(args):
    v6 = ":" in args.sip
    payload = bytes.fromhex(args.payload)
    pad = (4 - len(payload) % 4) % 4
    opcode = args.opcode
    if opcode is None:
        opcode = 0x65 if args.imm is not None else 0x64
    bth = struct.pack("!BBHII", opcode, pad << 4, args.pkey, args.dqpn & 0xffffff,
                      1)
    deth = struct.pack("!II", args.qkey, args.sqpn & 0xffffff)
    imm = struct.pack("!I", args.imm) if args.imm is not None else b""
    transport = bth + deth + imm + payload + b"\0" * pad
    l4 = UDP(sport=0xc123, dport=ROCE_PORT, chksum=0)
    if v6:
        ip = IPv6(src=args.sip, dst=args.dip, tc=args.tos, hlim=args.ttl,
                  fl=0)
    else:
        ip = IP(src=args.sip, dst=args.dip, tos=args.tos, ttl=args.ttl,
                flags="DF", id=0)
    pkt = ip / l4 / Raw(transport + b"\0\0\0\0")
    wire = bytearray(raw(pkt))
    crc = icrc_roce(bytes(wire[:-4]), v6)
    if args.bad_icrc:
        crc ^= 0x1
    wire[-4:] = struct.pack("<I", crc)
    frame = raw(Ether(src=args.src_mac, dst=args.dst_mac,
                      type=0x86dd if v6 else 0x0800)) + bytes(wire)
    if args.truncate:
        frame = frame[:args.truncate]
    print(frame.hex())


def check(args):
    for p in rdpcap(args.file):
        out = {"src_mac": p[Ether].src, "dst_mac": p[Ether].dst}
        if IP in p:
            ip, v6 = p[IP], False
            out.update(sip=ip.src, dip=ip.dst, tos=ip.tos, ttl=ip.ttl)
        elif IPv6 in p:
            ip, v6 = p[IPv6], True
            out.update(sip=ip.src, dip=ip.dst, tos=ip.tc, ttl=ip.hlim,
                       flow=ip.fl)
        else:
            out["type"] = "%#06x" % p[Ether].type
            print(json.dumps(out))
            continue
        if UDP not in p or p[UDP].dport != ROCE_PORT:
            out["type"] = "not-roce"
            print(json.dumps(out))
            continue
        ipb = raw(ip)
        udp_len = p[UDP].len
        hdr = 40 if v6 else 20
        ipb = ipb[:hdr + udp_len]
        t = ipb[hdr + 8:]
        opcode, flags, pkey, dqpn, psn = struct.unpack("!BBHII", t[:12])
        qkey, sqpn = struct.unpack("!II", t[12:20])
        pad = (flags >> 4) & 3
        pos = 20
        imm = None
        if opcode == 0x65:
            imm = struct.unpack("!I", t[20:24])[0]
            pos = 24
        body = t[pos:-4]
        payload = body[:len(body) - pad]
        got = struct.unpack("<I", ipb[-4:])[0]
        out.update(sport=p[UDP].sport, dport=p[UDP].dport, opcode=opcode,
                   pkey=pkey, dqpn=dqpn & 0xffffff, qkey=qkey,
                   sqpn=sqpn & 0xffffff, imm=imm, payload=payload.hex(),
                   icrc_ok=(got == icrc_roce(ipb[:-4], v6)))
        if args.udp_csum:
            udp = bytearray(ipb[hdr:])
            stored = struct.unpack("!H", udp[6:8])[0]
            udp[6:8] = b"\0\0"
            want = (in6_chksum if v6 else in4_chksum)(17, ip, bytes(udp))
            if stored == 0:
                out["udp_csum"] = "zero"
            elif stored == (want or 0xffff):
                out["udp_csum"] = "ok"
            else:
                out["udp_csum"] = "bad"
        print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("frame")
    f.add_argument("--src-mac", required=True)
    f.add_argument("--dst-mac", required=True)
    f.add_argument("--sip", required=True)
    f.add_argument("--dip", required=True)
    f.add_argument("--dqpn", type=lambda s: int(s, 0), required=True)
    f.add_argument("--sqpn", type=lambda s: int(s, 0), default=0xabc)
    f.add_argument("--qkey", type=lambda s: int(s, 0), default=0x01234567)
    f.add_argument("--pkey", type=lambda s: int(s, 0), default=0xffff)
    f.add_argument("--imm", type=lambda s: int(s, 0))
    f.add_argument("--payload", default="68656c6c6f21")
    f.add_argument("--tos", type=lambda s: int(s, 0), default=0)
    f.add_argument("--ttl", type=int, default=64)
    f.add_argument("--opcode", type=lambda s: int(s, 0))
    f.add_argument("--bad-icrc", action="store_true")
    f.add_argument("--truncate", type=int, default=0)
    c = sub.add_parser("check")
    c.add_argument("--udp-csum", action="store_true")
    c.add_argument("file")
    args = ap.parse_args()
    if args.cmd == "frame":
        ipaddress.ip_address(args.sip)
        build(args)
    else:
        check(args)


if __name__ == "__main__":
    sys.exit(main())
