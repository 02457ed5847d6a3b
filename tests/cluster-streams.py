#!/usr/bin/env python3
"""Counts the datagram streams that test hosts received.

usage: cluster-streams.py [--by-dst] FILE...

Each FILE holds the JSON lines that ibsim-host or roce-host print with
--json, one datagram each.  A stream is a (source GID, destination GID)
pair, or with --by-dst the destination alone (an IB host sees a RoCE
host's datagrams come from whichever bridge node converted them); its
sender numbers its datagrams (the PSN, also the payload's first four
bytes).  For each stream, in order, prints

  SGID > DGID: N received, D duplicated, L lost in G gaps (longest: M)

(SGID "*" with --by-dst)
where a gap is a run of PSNs missing between the first and the last one
received.  Lines that are not JSON (a capture cut short) are skipped.
"""

import json
import sys


def main(args):
    by_dst = args[:1] == ["--by-dst"]
    paths = args[1:] if by_dst else args
    streams = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                key = ("*" if by_dst else d["sgid"], d["dgid"])
                streams.setdefault(key, []).append(d["psn"])
    for (sgid, dgid), psns in sorted(streams.items()):
        seen = set()
        dup = 0
        for p in psns:
            if p in seen:
                dup += 1
            seen.add(p)
        order = sorted(seen)
        lost = gaps = longest = 0
        for a, b in zip(order, order[1:]):
            if b - a > 1:
                gaps += 1
                lost += b - a - 1
                longest = max(longest, b - a - 1)
        print("%s > %s: %d received, %d duplicated, %d lost in %d gaps "
              "(longest: %d)" % (sgid, dgid, len(psns), dup, lost, gaps,
                                 longest))


if __name__ == "__main__":
    main(sys.argv[1:])
