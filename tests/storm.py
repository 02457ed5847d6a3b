#!/usr/bin/python3
"""Storms of malformed packets with good ones among them, for the
robustness tests (tests/robustness.at), built independently of ibbridge's
C code with tests/pcap-tool.py's builders (struct, zlib and scapy).

  storm.py eth COUNT SEED FRAMES EXPECT
      RoCEv2 frames from RoCE host r1 (10.0.0.2, QPN 0xabc) toward IB
      host h1 (10.0.0.1, QPN 0x100), as tests/ibbridge-macros.at's
      IBB_BRIDGE_START sets them up: COUNT frames of each malformed kind
      and COUNT good ones, shuffled.  FRAMES gets 32 frames a line as hex, the
      arguments of one "ovs-appctl netdev-dummy/receive p1" call (a dummy
      port queues at most 100 frames and the datapath takes 32 a poll: more
      would be dropped silently).
  storm.py ib COUNT SEED BLID PREFIX EXPECT
      native IB packets from IB host h1 toward r1, to a raw bridge port
      with LID BLID: COUNT of each malformed kind and COUNT good ones,
      shuffled, as link-type-247 captures PREFIX-SLID.pcap, one for each
      sending port (SLID 10, 11, 12), for "ibsim-host --raw replay".

EXPECT gets one "counter=value" line per counter the storm must move,
sorted: the bridge's per-reason drop counters (rx_* for what the bridge
receives from IB, tx_* for what it would send to IB), "good=COUNT", and
for packets that no switch forwards, the fabric's own drop counters
("fabric.bad_lver=COUNT").  Every good packet carries a distinct payload,
"good" and its number.
"""
import importlib.util
import os
import random
import struct
import sys

sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location(
    "pcap_tool", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "pcap-tool.py"))
pt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pt)


def ipv4_csum(hdr):
    hdr = bytearray(hdr)
    hdr[10:12] = b"\0\0"
    return ~pt.inet_csum(bytes(hdr)) & 0xffff


def patch_ipv4(frame, fn):
    """Applies fn to the IPv4 header (a bytearray) of an Ethernet frame
    and fixes the header checksum, so that only fn's fault is seen."""
    f = bytearray(frame)
    ihl = (f[14] & 0xf) * 4
    hdr = bytearray(f[14:14 + ihl])
    hdr = fn(hdr)
    hdr[10:12] = struct.pack("!H", ipv4_csum(hdr))
    return bytes(f[:14] + hdr + f[14 + ihl:])


def with_options(hdr):
    # Four NOPs: IHL 6, total length 4 more.
    hdr = bytearray(hdr) + b"\x01\x01\x01\x01"
    hdr[0] = 0x46
    hdr[2:4] = struct.pack("!H", struct.unpack("!H", hdr[2:4])[0] + 4)
    return hdr


def set_field(ofs, value):
    def fn(hdr):
        hdr[ofs:ofs + len(value)] = value
        return hdr
    return fn


def patch(frame, ofs, value):
    f = bytearray(frame)
    f[ofs:ofs + len(value)] = value
    return bytes(f)


def udp_len_plus4(frame):
    f = bytearray(frame)
    n, = struct.unpack("!H", f[38:40])
    f[38:40] = struct.pack("!H", n + 4)
    return bytes(f)


R1_TO_H1 = {"src_mac": "02:00:00:00:00:02", "dst_mac": "02:1b:00:00:00:01",
            "sip": "10.0.0.2", "dip": "10.0.0.1", "dqpn": "0x100",
            "sqpn": "0xabc"}

# Reason: (spec changes, function of the built frame or None).
ETH_KINDS = {
    "tx_truncated": ({}, lambda f: f[:60]),
    "tx_eth_type": ({}, lambda f: patch(f, 12, b"\x88\xb5")),
    "tx_ip_version": ({}, lambda f: patch_ipv4(f, set_field(0, b"\x55"))),
    "tx_ipv4_options": ({}, lambda f: patch_ipv4(f, with_options)),
    "tx_ipv4_frag": ({}, lambda f: patch_ipv4(f, set_field(6, b"\x20\x00"))),
    "tx_ipv4_csum": ({}, lambda f: patch(f, 24, bytes([f[24] ^ 0xff]))),
    "tx_ip_len": ({}, lambda f: patch_ipv4(f, set_field(2, b"\x00\x14"))),
    "tx_ip_proto": ({"proto": "6"}, None),
    "tx_udp_port": ({"dport": "4792"}, None),
    "tx_udp_len": ({}, udp_len_plus4),
    "tx_bth_tver": ({"tver": "1"}, None),
    "tx_opcode": ({"opcode": "0x04"}, None),
    "tx_padcnt": ({"payload": "", "padcnt": "3"}, None),
    "tx_bad_icrc": ({"bad_icrc": "1"}, None),
    "tx_hop_limit": ({"ttl": "1"}, None),
    "tx_bad_src_addr": ({"sip": "224.0.0.5"}, None),
    "tx_spoofed_src": ({"sip": "10.0.0.3"}, None),
    "tx_bad_dst_addr": ({"sip": "fd00::2", "dip": "::ffff:10.0.0.1"}, None),
    "tx_pkey": ({"pkey": "0x8001"}, None),
    "tx_no_dst_gid": ({"dip": "10.0.0.99"}, None),
    "tx_no_group": ({"dip": "239.9.9.9", "dst_mac": "01:00:5e:09:09:09",
                     "dqpn": "0xffffff"}, None),
    "tx_too_big": ({"payload": "00" * 8200}, None),
}

H1 = {"sgid": "fe80::2:c903:a:b", "slid": "10",
      "dgid": "::ffff:10.0.0.2", "dqpn": "0x123", "qkey": "0x1",
      "sqpn": "0x100"}

# (Counter, spec).  The fabric checks that the SLID is the sender's LID, so
# the packets are sent from three ports: LID 10 (h1), 11 (h2's LID, the
# map's for another GID) and 12 (in no map).
IB_KINDS = [
    ("rx_bad_icrc", {"bad_icrc": "1"}),
    ("rx_hop_limit", {"hop": "1"}),
    ("rx_bad_src_addr", {"sgid": "::ffff:0.0.0.0"}),
    ("rx_spoofed_src", {"sgid": "::ffff:10.0.0.4"}),
    ("rx_src_mismatch", {"slid": "11"}),
    ("rx_no_src_ip", {"sgid": "fe80::2:c903:a:99", "slid": "12"}),
    ("rx_no_dst_ip", {"dgid": "fe80::2:c903:a:77"}),
    ("rx_no_dst_mac", {"dgid": "::ffff:10.0.0.77"}),
    ("rx_no_grh_unmapped", {"lnh": "2", "slid": "12"}),
    # No switch forwards these (and an HCA would drop a bad BTH): the
    # fabric counts them.
    ("fabric.bad_lver", {"lver": "1"}),
    ("fabric.bad_vcrc", {"bad_vcrc": "1"}),
    ("fabric.bad_length", {"pktlen": "9"}),
    ("fabric.bad_header", {"nxthdr": "0x11"}),
    ("fabric.bad_header", {"tver": "1"}),
    ("fabric.bad_header", {"padcnt": "3", "payload": ""}),
    ("fabric.bad_opcode", {"opcode": "0x04"}),
]

def payload(n):
    return ("good%d" % n).encode().hex()


def storm_eth(count, rng):
    frames = []
    for n in range(count):
        frames.append(pt.build_roce(dict(R1_TO_H1, payload=payload(n))))
    # Ten variants of each malformed kind, taken in turn (scapy is slow).
    for kind, (spec, fn) in ETH_KINDS.items():
        variants = []
        for n in range(min(count, 10)):
            d = dict(R1_TO_H1, payload="%08x" % n)
            d.update(spec)
            f = pt.build_roce(d)
            variants.append(fn(f) if fn else f)
        frames += [variants[n % len(variants)] for n in range(count)]
    rng.shuffle(frames)
    return frames, dict({k: count for k in ETH_KINDS}, good=count)


def storm_ib(count, rng, blid):
    """Returns the packets by SLID, and the counts expected."""
    pkts = {}
    expect = {"good": count}
    base = dict(H1, dlid=str(blid))
    for n in range(count):
        pkts.setdefault(10, []).append(
            pt.build_ib(dict(base, payload=payload(n))))
        for kind, spec in IB_KINDS:
            d = dict(base, payload="%08x" % n)
            d.update(spec)
            pkts.setdefault(int(d["slid"]), []).append(pt.build_ib(d))
            expect[kind] = expect.get(kind, 0) + 1
    for p in pkts.values():
        rng.shuffle(p)
    return pkts, expect


def write_expect(path, expect):
    with open(path, "w") as f:
        for k in sorted(expect):
            f.write("%s=%d\n" % (k, expect[k]))


def main():
    args = sys.argv[1:]
    if len(args) == 5 and args[0] == "eth":
        frames, expect = storm_eth(int(args[1]), random.Random(args[2]))
        with open(args[3], "w") as f:
            for i in range(0, len(frames), 32):
                f.write(" ".join(x.hex() for x in frames[i:i + 32]) + "\n")
        write_expect(args[4], expect)
    elif len(args) == 6 and args[0] == "ib":
        pkts, expect = storm_ib(int(args[1]), random.Random(args[2]),
                                int(args[3]))
        for slid, p in pkts.items():
            pt.write_pcap("%s-%d.pcap" % (args[4], slid),
                          pt.LINKTYPE_INFINIBAND, p)
        write_expect(args[5], expect)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
