#!/usr/bin/python3
"""The measuring half of tests/bench-appctl: ovs-appctl answer times while
a port's multicast joins are under way, and the same calls idle.

  bench-appctl.py --ctl=SOCKET --port=PORT --group=G [--per-round=N]
                  [--procs-per-round=N] [--goal-ms=MS] -- START-COMMAND...

Runs START-COMMAND (the ovs-vsctl command that adds the port with its
groups), then rounds of calls, each round being --per-round times the two
calls "version" and "ibbridge/mcast/show PORT G" over the unixctl socket
(JSON-RPC, a new connection per call, as ovs-appctl makes), then
--procs-per-round times the same two calls by an ovs-appctl process.
Each call is timed with a monotonic clock from before connect (or fork) to
the whole answer read (or the process's exit): a process call includes
ovs-appctl's start-up, which the idle figure includes too.

Before the first round and after each, "ibbridge/mcast/show PORT" says
how many groups are joined: rounds run while some are still joining, and
a round counts as "during joins" if they still were after it.  That call
lists every group (a reply of about 1.3 MB for 10,000): it is timed too,
as the last kind of call, "(all groups)".  The join time is from
START-COMMAND to the first such call that finds every group joined; its
resolution is one round and its status call.  Then as many rounds run
with every group joined: the baseline, in the same run, of the same
shape.
"""
import argparse
import json
import re
import socket
import subprocess
import sys
import time

STATUS_RE = re.compile(r": (\d+) groups from mcast-groups: (\d+) joined, "
                       r"(\d+) joining, (\d+) failed")


def call(path, method, params):
    """One unixctl call on a new connection; returns (seconds, result)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        s.sendall(json.dumps({"method": method, "params": params,
                              "id": 0}).encode())
        buf = b""
        dec = json.JSONDecoder()
        while True:
            data = s.recv(1 << 16)
            if not data:
                raise RuntimeError("%s: connection closed" % method)
            buf += data
            if not buf.rstrip().endswith(b"}"):
                continue        # Not all of it yet (a reply is an object).
            try:
                reply, _ = dec.raw_decode(buf.decode())
                break
            except ValueError:
                continue
    finally:
        s.close()
    dt = time.monotonic() - t0
    if reply.get("error") is not None:
        raise RuntimeError("%s: %s" % (method, reply["error"]))
    return dt, reply["result"]


def call_process(target, args):
    """One ovs-appctl process; returns its time in seconds."""
    t0 = time.monotonic()
    subprocess.run(["ovs-appctl", "-t", target, "--timeout=30"] + args,
                   check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def status(path, port):
    """(groups, joined, joining, failed) from ibbridge/mcast/show PORT, and
    the call's time."""
    dt, text = call(path, "ibbridge/mcast/show", [port])
    m = STATUS_RE.search(text.split("\n", 1)[0])
    if not m:
        raise RuntimeError("cannot read: %s" % text.split("\n", 1)[0])
    return tuple(int(x) for x in m.groups()), dt


def quantile(xs, q):
    """Nearest-rank quantile of sorted 'xs'."""
    i = max(0, min(len(xs) - 1, int(-(-q * len(xs) // 1)) - 1))
    return xs[i]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ctl", required=True)
    p.add_argument("--port", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--per-round", type=int, default=20)
    p.add_argument("--procs-per-round", type=int, default=3)
    p.add_argument("--goal-ms", type=float, default=100)
    p.add_argument("start", nargs="+")
    a = p.parse_args()

    show = ["ibbridge/mcast/show", [a.port, a.group]]
    kinds = [("version", "socket", ["version", []]),
             ("mcast/show %s %s" % (a.port, a.group), "socket", show),
             ("version", "ovs-appctl", ["version"]),
             ("mcast/show %s %s" % (a.port, a.group), "ovs-appctl",
              show[:1] + show[1]),
             ("mcast/show %s (all groups)" % a.port, "socket", None)]
    target = a.ctl

    def one_round(samples):
        for _ in range(a.per_round):
            for i in (0, 1):
                samples[i].append(call(a.ctl, *kinds[i][2])[0])
        for _ in range(a.procs_per_round):
            for i in (2, 3):
                samples[i].append(call_process(target, kinds[i][2]))

    t0 = time.monotonic()
    subprocess.run(a.start, check=True, stdout=subprocess.DEVNULL)
    during = [[] for _ in kinds]
    n_rounds = 0
    gap_s = 0.0                 # The longest time between status calls.
    last = t0
    while True:
        now = time.monotonic()
        gap_s = max(gap_s, now - last)
        last = now
        st, _ = status(a.ctl, a.port)
        if st[3]:
            sys.exit("bench-appctl: %d groups failed to join" % st[3])
        if st[1] == st[0] and st[0]:
            join_s = time.monotonic() - t0
            break
        if time.monotonic() - t0 > 300:
            sys.exit("bench-appctl: %d of %d groups joined after 300 s"
                     % (st[1], st[0]))
        trial = [[] for _ in kinds]
        one_round(trial)
        st, dt = status(a.ctl, a.port)
        trial[4].append(dt)
        if st[1] < st[0]:
            for s, t in zip(during, trial):
                s.extend(t)
            n_rounds += 1
    n_groups = st[0]
    if not n_rounds:
        sys.exit("bench-appctl: the joins ended before a round did")

    idle = [[] for _ in kinds]
    for _ in range(n_rounds):
        one_round(idle)
        idle[4].append(status(a.ctl, a.port)[1])

    print("bench-appctl: ovs-appctl answer times (ms) while %s joins %d "
          "groups, beside the same calls idle (all joined), same run"
          % (a.port, n_groups))
    print("join time of the %d groups: %.2f s from add-port (resolution "
          "%.0f ms: a round of calls)" % (n_groups, join_s, gap_s * 1000))
    fmt = "%-11s %-29s %-6s %5s %8s %8s %8s"
    print(fmt % ("client", "call", "phase", "n", "median", "p99", "max"))
    worst = 0.0
    for k, (name, client, _) in enumerate(kinds):
        figs = {}
        for phase, samples in (("joins", during[k]), ("idle", idle[k])):
            xs = sorted(x * 1000 for x in samples)
            figs[phase] = (quantile(xs, 0.5), quantile(xs, 0.99), xs[-1])
            print(fmt % (client, name, phase, len(xs),
                         "%.3f" % figs[phase][0], "%.3f" % figs[phase][1],
                         "%.3f" % figs[phase][2]))
        print(fmt % (client, name, "ratio", "",
                     *("%.2f" % (j / i if i else float("inf"))
                       for j, i in zip(figs["joins"], figs["idle"]))))
        if client == "ovs-appctl":
            worst = max(worst, figs["joins"][2])
    print("(ratio: during joins / idle; n: calls of each kind in %d rounds "
          "of each phase)" % n_rounds)
    print("goal (issue 12), ovs-appctl answers within %.0f ms during the "
          "joins: max %.1f ms -> %s" % (a.goal_ms, worst,
                                        "met" if worst <= a.goal_ms
                                        else "NOT met"))


if __name__ == "__main__":
    main()
