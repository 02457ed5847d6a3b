"""Reference RoCEv2 ICRC for the test tools (tests/roce-tool.py and
tests/pcap-tool.py), computed independently of ibbridge's C code: zlib's
CRC-32 over the pseudo-packet of shared/docs/ib-roce-wire-format.md
section 2."""
import zlib


def icrc_roce(ip_and_rest, v6):
    """ICRC of a RoCEv2 packet given from its IP header through the pad:
    8 bytes of 0xff, then the IP/UDP/BTH headers with the variant fields
    masked to ones, then the rest as is."""
    b = bytearray(ip_and_rest)
    if v6:
        b[0] |= 0x0f
        b[1:4] = b"\xff\xff\xff"
        b[7] = 0xff
        udp = 40
    else:
        b[1] = 0xff
        b[8] = 0xff
        b[10:12] = b"\xff\xff"
        udp = 20
    b[udp + 6:udp + 8] = b"\xff\xff"
    b[udp + 8 + 4] = 0xff
    return zlib.crc32(b"\xff" * 8 + bytes(b)) & 0xffffffff
