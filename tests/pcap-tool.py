#!/usr/bin/python3
"""Captures for the ibbridge-pcap tests (tests/pcap.at), built and checked
independently of ibbridge's C code: native IB packets field by field with
struct, ICRC with zlib's CRC-32 over the pseudo-packets of
shared/docs/ib-roce-wire-format.md section 2, VCRC with a bitwise CRC-16
(section 3), RoCEv2 headers with scapy, pcap/ERF files with struct.

  pcap-tool.py ib OUT.pcap [--linktype=erf|erfraw|eth|N] SPEC...
      writes native IB packets (ERF record type 21 by default)
  pcap-tool.py roce OUT.pcap SPEC...
      writes RoCEv2 Ethernet frames (link type 1)
  pcap-tool.py check-ib FILE.pcap
      one line per IB packet: lengths and whether ICRC/VCRC are right
  pcap-tool.py check-roce FILE.pcap
      one line per RoCEv2 frame: whether IP/UDP checksums and ICRC are right
  pcap-tool.py mutate IN.pcap OUT.pcap COUNT SEED
      writes COUNT random mutants of each record (robustness tests)
  pcap-tool.py cmp-ib A.pcap B.pcap
      compares IB packets pairwise except the fields a router changes
      (LRH VL/SL/DLID/SLID, GRH HopLmt, ICRC, VCRC)

A SPEC is "key=value,key=value,..."; numbers may be hex (0x...).  Keys
for IB: vl sl lver lnh dlid slid pktlen(override) tclass flow paylen
ipver nxthdr hop sgid dgid; for RoCEv2: src_mac dst_mac vlan sip dip tos
ttl fl sport dport proto udp_csum(1: compute, 0: zero, bad); for both: opcode se
tver pkey fecn dqpn psn qkey sqpn imm payload(hex) padcnt(override)
bad_icrc bad_vcrc truncate; ERF record: erf_type erf_ext (extension
headers) erf_pad (bytes after the packet); raw: hex of the whole packet.
"""
import ipaddress
import logging
import struct
import sys
import zlib

# scapy lists the host's interfaces on import and warns when one goes away
# meanwhile (parallel tests delete their veths); only errors matter here.
logging.getLogger("scapy").setLevel(logging.ERROR)

from scapy.all import Ether, IP, IPv6, UDP, Dot1Q, Raw, raw

# The script's own folder is on sys.path; no bytecode in the source tree.
sys.dont_write_bytecode = True
from roce_ref import icrc_roce  # noqa: E402

LINKTYPE_ETHERNET = 1
LINKTYPE_ERF = 197
LINKTYPE_INFINIBAND = 247
ERF_TYPE_INFINIBAND = 21
TS = 1700000000


def num(s):
    return int(s, 0)


def parse_spec(spec):
    d = {}
    if spec:
        for kv in spec.split(","):
            k, v = kv.split("=", 1)
            d[k] = v
    return d


def gid(s):
    return ipaddress.IPv6Address(s).packed


def vcrc(data):
    c = 0xffff
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xd008 if c & 1 else c >> 1
    return c ^ 0xffff


def icrc_ib(pkt):
    """ICRC of a native IB packet given from the LRH through the pad."""
    b = bytearray(pkt)
    lnh = b[1] & 3
    if lnh == 3:
        g = b[8:48]
        g[0] |= 0x0f
        g[1:4] = b"\xff\xff\xff"
        g[7] = 0xff
        rest = bytearray(b[48:])
        rest[4] = 0xff
        data = b"\xff" * 8 + bytes(g) + bytes(rest)
    else:
        b[0] |= 0xf0
        b[12] = 0xff
        data = bytes(b)
    return zlib.crc32(data) & 0xffffffff


def transport(d):
    """BTH DETH [ImmDt] payload pad, from a spec."""
    payload = bytes.fromhex(d.get("payload", "68656c6c6f21"))
    pad = (4 - len(payload) % 4) % 4
    padcnt = num(d.get("padcnt", str(pad)))
    imm = d.get("imm")
    opcode = num(d.get("opcode", "0x65" if imm is not None else "0x64"))
    flags = ((num(d.get("se", "0")) << 7) | (padcnt << 4)
             | num(d.get("tver", "0")))
    bth = (struct.pack("!BBHB", opcode, flags, num(d.get("pkey", "0xffff")),
                       num(d.get("fecn", "0")) << 7)
           + struct.pack("!I", num(d.get("dqpn", "0x123")))[1:]
           + struct.pack("!I", num(d.get("psn", "1")) & 0xffffff))
    deth = struct.pack("!II", num(d.get("qkey", "0x01234567")),
                       num(d.get("sqpn", "0xabc")) & 0xffffff)
    if imm is not None:
        deth += struct.pack("!I", num(imm))
    return bth + deth + payload + b"\0" * pad


def build_ib(d):
    if "raw" in d:
        return bytes.fromhex(d["raw"])
    lnh = num(d.get("lnh", "3"))
    t = transport(d)
    L = len(t) + 4
    grh = b""
    if lnh == 3:
        vtf = ((num(d.get("ipver", "6")) << 28)
               | (num(d.get("tclass", "0")) << 20) | num(d.get("flow", "0")))
        grh = (struct.pack("!IHBB", vtf, num(d.get("paylen", str(L))),
                           num(d.get("nxthdr", "0x1b")),
                           num(d.get("hop", "64")))
               + gid(d.get("sgid", "fe80::2:c903:a:b"))
               + gid(d.get("dgid", "::ffff:10.0.0.2")))
    pktlen = num(d.get("pktlen", str((8 + len(grh) + L) // 4)))
    lrh = struct.pack("!BBHHH",
                      (num(d.get("vl", "0")) << 4) | num(d.get("lver", "0")),
                      (num(d.get("sl", "0")) << 4) | lnh,
                      num(d.get("dlid", "1")), pktlen,
                      num(d.get("slid", "5")))
    pkt = lrh + grh + t
    c = icrc_ib(pkt) ^ (1 if "bad_icrc" in d else 0)
    pkt += struct.pack("<I", c)
    v = vcrc(pkt) ^ (1 if "bad_vcrc" in d else 0)
    pkt += struct.pack("<H", v)
    if "truncate" in d:
        pkt = pkt[:num(d["truncate"])]
    return pkt


def build_roce(d):
    if "raw" in d:
        return bytes.fromhex(d["raw"])
    sip = d.get("sip", "10.0.0.2")
    dip = d.get("dip", "10.0.0.1")
    v6 = ":" in sip
    t = transport(d)
    l4 = UDP(sport=num(d.get("sport", "0xc123")),
             dport=num(d.get("dport", "4791")), chksum=0)
    if v6:
        ip = IPv6(src=sip, dst=dip, tc=num(d.get("tos", "0")),
                  hlim=num(d.get("ttl", "64")), fl=num(d.get("fl", "0")))
    else:
        ip = IP(src=sip, dst=dip, tos=num(d.get("tos", "0")),
                ttl=num(d.get("ttl", "64")), flags="DF", id=0,
                proto=num(d.get("proto", "17")))
    wire = bytearray(raw(ip / l4 / Raw(t + b"\0\0\0\0")))
    c = icrc_roce(bytes(wire[:-4]), v6) ^ (1 if "bad_icrc" in d else 0)
    wire[-4:] = struct.pack("<I", c)
    if d.get("udp_csum", "0") in ("1", "bad"):
        # Let scapy compute the UDP checksum over the final bytes.
        p = (IPv6 if v6 else IP)(bytes(wire))
        del p[UDP].chksum
        wire = bytearray(raw(p))
        if d["udp_csum"] == "bad":
            hdr = 40 if v6 else 20
            wire[hdr + 7] ^= 1
    eth = Ether(src=d.get("src_mac", "02:00:00:00:00:02"),
                dst=d.get("dst_mac", "02:00:00:00:00:01"))
    if "vlan" in d:
        eth = eth / Dot1Q(vlan=num(d["vlan"]),
                          type=0x86dd if v6 else 0x0800)
    else:
        eth.type = 0x86dd if v6 else 0x0800
    frame = raw(eth) + bytes(wire)
    if "truncate" in d:
        frame = frame[:num(d["truncate"])]
    return frame


def write_pcap(path, linktype, records):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535,
                            linktype))
        for n, data in enumerate(records):
            f.write(struct.pack("<IIII", TS + n, n * 1000, len(data),
                                len(data)))
            f.write(data)


def erf_record(pkt, d, n):
    ext = num(d.get("erf_ext", "0"))
    pad = num(d.get("erf_pad", "0"))
    etype = num(d.get("erf_type", str(ERF_TYPE_INFINIBAND)))
    exts = b""
    for i in range(ext):
        more = 0x80 if i < ext - 1 else 0
        # Host ID extension header (type 0x0e), as DAG cards write.
        exts += bytes([more | 0x0e, 0]) + struct.pack("!HI", 0, i + 1)
    rlen = 16 + len(exts) + len(pkt) + pad
    ts = ((TS + n) << 32) | ((n * 1000 << 32) // 1000000)
    hdr = (struct.pack("<Q", ts)
           + bytes([etype | (0x80 if ext else 0), 0x04])
           + struct.pack("!HHH", rlen, 0, len(pkt)))
    return hdr + exts + pkt + b"\0" * pad


def cmd_ib(path, args):
    linktype = "erf"
    if args and args[0].startswith("--linktype="):
        linktype = args.pop(0).split("=", 1)[1]
    recs = []
    for n, spec in enumerate(args):
        d = parse_spec(spec)
        pkt = build_ib(d)
        if linktype == "erf":
            recs.append(erf_record(pkt, d, n))
        elif linktype == "erfraw":
            recs.append(pkt)            # 'raw' is the whole ERF record.
        else:
            recs.append(pkt)
    types = {"erf": LINKTYPE_ERF, "erfraw": LINKTYPE_ERF,
             "eth": LINKTYPE_ETHERNET}
    write_pcap(path, types.get(linktype) or int(linktype), recs)


def cmd_roce(path, args):
    write_pcap(path, LINKTYPE_ETHERNET,
               [build_roce(parse_spec(s)) for s in args])


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack("<I", data[:4])
    assert magic == 0xa1b2c3d4, "bad magic"
    linktype, = struct.unpack("<I", data[20:24])
    pos = 24
    out = []
    while pos < len(data):
        _, _, incl, orig = struct.unpack("<IIII", data[pos:pos + 16])
        pos += 16
        out.append(data[pos:pos + incl])
        assert len(out[-1]) == incl, "truncated"
        pos += incl
    return linktype, out


def ib_packets(path):
    linktype, recs = read_pcap(path)
    pkts = []
    for r in recs:
        if linktype == LINKTYPE_ERF:
            etype = r[8] & 0x7f
            assert etype == ERF_TYPE_INFINIBAND, "ERF type %d" % etype
            assert not r[8] & 0x80, "extension header"
            rlen, _, wlen = struct.unpack("!HHH", r[10:16])
            assert rlen == len(r), "rlen %d, record %d" % (rlen, len(r))
            assert wlen == len(r) - 16, "wlen"
            r = r[16:]
        pkts.append(r)
    return pkts


def cmd_check_ib(path):
    for n, p in enumerate(ib_packets(path), 1):
        lnh = p[1] & 3
        pktlen = struct.unpack("!H", p[4:6])[0] & 0x7ff
        out = ["%d:" % n, "len=%d" % len(p),
               "pktlen=%s" % ("ok" if pktlen * 4 + 2 == len(p) else "bad")]
        if lnh == 3:
            paylen = struct.unpack("!H", p[12:14])[0]
            out.append("paylen=%s" % ("ok" if paylen == len(p) - 50
                                      else "bad"))
        icrc = struct.unpack("<I", p[-6:-2])[0]
        out.append("icrc=%s" % ("ok" if icrc == icrc_ib(p[:-6]) else
                                "zero" if icrc == 0 else "bad"))
        v = struct.unpack("<H", p[-2:])[0]
        out.append("vcrc=%s" % ("ok" if v == vcrc(p[:-2]) else
                                "zero" if v == 0 else "bad"))
        print(" ".join(out))


def inet_csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def cmd_check_roce(path):
    linktype, frames = read_pcap(path)
    assert linktype == LINKTYPE_ETHERNET
    for n, f in enumerate(frames, 1):
        etype, = struct.unpack("!H", f[12:14])
        off = 14
        if etype == 0x8100:
            etype, = struct.unpack("!H", f[16:18])
            off = 18
        v6 = etype == 0x86dd
        ip = f[off:]
        out = ["%d:" % n, "len=%d" % len(f)]
        if v6:
            plen, = struct.unpack("!H", ip[4:6])
            hdr = 40
            ip = ip[:40 + plen]
            src, dst = ip[8:24], ip[24:40]
            pseudo = src + dst + struct.pack("!IxxxB", plen, 17)
        else:
            tot, = struct.unpack("!H", ip[2:4])
            hdr = 20
            ip = ip[:tot]
            out.append("ipcsum=%s" % ("ok" if inet_csum(ip[:20]) == 0xffff
                                      else "bad"))
            src, dst = ip[12:16], ip[16:20]
            pseudo = src + dst + struct.pack("!xBH", 17, tot - 20)
        udp = ip[hdr:]
        ulen, ucsum = struct.unpack("!HH", udp[4:8])
        out.append("udplen=%s" % ("ok" if ulen == len(udp) else "bad"))
        if ucsum == 0:
            out.append("udpcsum=zero")
        else:
            out.append("udpcsum=%s" % ("ok" if inet_csum(pseudo + udp)
                                       == 0xffff else "bad"))
        icrc = struct.unpack("<I", ip[-4:])[0]
        out.append("icrc=%s" % ("ok" if icrc == icrc_roce(ip[:-4], v6)
                                else "bad"))
        print(" ".join(out))


def cmd_cmp_ib(a, b):
    pa, pb = ib_packets(a), ib_packets(b)
    if len(pa) != len(pb):
        print("%d packets vs %d" % (len(pa), len(pb)))
        return 1
    rc = 0
    for n, (x, y) in enumerate(zip(pa, pb), 1):
        def mask(p):
            p = bytearray(p)
            p[0] = p[0] & 0x0f              # VL
            p[1] = p[1] & 0x0f              # SL
            p[2:4] = b"\0\0"                # DLID
            p[6:8] = b"\0\0"                # SLID
            if p[1] & 3 == 3:
                p[15] = 0                   # HopLmt
            p[-6:] = b"\0" * 6              # ICRC, VCRC
            return bytes(p)
        if mask(x) == mask(y):
            print("%d: same" % n)
        else:
            print("%d: differ\n  %s\n  %s" % (n, x.hex(), y.hex()))
            rc = 1
    return rc


def cmd_mutate(src, dst, count, seed):
    """Writes 'count' mutants of each record of 'src' (same link type):
    bit flips, byte changes in the headers, truncations and extensions,
    for robustness tests."""
    import random
    rnd = random.Random(seed)
    linktype, recs = read_pcap(src)
    out = []
    for r in recs:
        for _ in range(count):
            m = bytearray(r)
            for _ in range(rnd.randint(1, 4)):
                what = rnd.randrange(4)
                if what == 0 and m:
                    i = rnd.randrange(len(m))
                    m[i] ^= 1 << rnd.randrange(8)
                elif what == 1 and m:
                    i = rnd.randrange(min(len(m), 80))
                    m[i] = rnd.randrange(256)
                elif what == 2:
                    del m[rnd.randrange(len(m) + 1):]
                else:
                    m += bytes(rnd.randrange(256)
                               for _ in range(rnd.randrange(1, 9)))
            out.append(bytes(m))
    write_pcap(dst, linktype, out)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    opts = [a for a in args if a.startswith("--")]
    args = [a for a in args if not a.startswith("--")]
    if cmd == "mutate":
        cmd_mutate(args[0], args[1], int(args[2]), int(args[3]))
        return 0
    if cmd == "ib":
        cmd_ib(args[0], opts + args[1:])
    elif cmd == "roce":
        cmd_roce(args[0], args[1:])
    elif cmd == "check-ib":
        cmd_check_ib(args[0])
    elif cmd == "check-roce":
        cmd_check_roce(args[0])
    elif cmd == "cmp-ib":
        return cmd_cmp_ib(args[0], args[1])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
