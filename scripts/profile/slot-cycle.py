#!/usr/bin/env python3
"""The wall-clock steps of one slot's cycle, from `perf script` output of
the tracepoints that scripts/profile/slot-cycle records (issue 28 item 1).

Each script child C is followed through: fork (its parent's clone), exec,
exit, and the server's wait4 that reaps it; the next child's fork closes
the cycle. Between C's reap and the next fork, the fsyncs of the server's
writer thread are the commit's share. Prints medians and p90 in µs."""
import re, statistics, sys

LINE = re.compile(r"^\s*(\S.*?)\s+(\d+)(?:/(\d+))?\s+\[\d+\]\s+([\d.]+):\s+(\S+):\s*(.*)$")
fork, exec_, exit_, reap = {}, {}, {}, {}
syncs = []  # (start, end)
open_sync = {}
for line in sys.stdin:
    m = LINE.match(line)
    if not m:
        continue
    comm, pid, tid, ts, ev, rest = m.groups()
    tid = tid or pid
    ts = float(ts)
    if ev == "sched:sched_process_fork":
        child = int(re.search(r"child_pid=(\d+)", rest).group(1))
        fork[child] = ts
    elif ev == "sched:sched_process_exec":
        if "/bin/true" in rest:
            exec_[int(re.search(r" pid=(\d+)", rest).group(1))] = ts
    elif ev == "sched:sched_process_exit":
        exit_[int(re.search(r" pid=(\d+)", rest).group(1))] = ts
    elif ev == "syscalls:sys_exit_wait4":
        ret = int(rest.split("0x")[-1], 16) if "0x" in rest else -1
        if ret > 0:
            reap.setdefault(ret, ts)
    elif ev in ("syscalls:sys_enter_fdatasync", "syscalls:sys_enter_fsync"):
        open_sync[tid] = ts
    elif ev in ("syscalls:sys_exit_fdatasync", "syscalls:sys_exit_fsync"):
        if tid in open_sync:
            syncs.append((open_sync.pop(tid), ts))

children = sorted((c for c in exec_ if c in fork and c in exit_ and c in reap), key=lambda c: fork[c])
steps = {k: [] for k in ("fork → exec", "exec → exit (the script)", "exit → reaped",
                         "reaped → next fork", "  of which fsync", "whole cycle")}
for c, nxt in zip(children, children[1:]):
    if fork[nxt] < reap[c]:
        continue  # overlapping slots: only a lone slot's chain is read
    steps["fork → exec"].append(exec_[c] - fork[c])
    steps["exec → exit (the script)"].append(exit_[c] - exec_[c])
    steps["exit → reaped"].append(reap[c] - exit_[c])
    steps["reaped → next fork"].append(fork[nxt] - reap[c])
    steps["  of which fsync"].append(sum(min(e, fork[nxt]) - max(s, reap[c])
                                         for s, e in syncs if e > reap[c] and s < fork[nxt]))
    steps["whole cycle"].append(fork[nxt] - fork[c])
n = len(steps["whole cycle"])
print(f"{n} cycles")
for k, v in steps.items():
    if v:
        v = sorted(v)
        print(f"{k:28} p50 {statistics.median(v)*1e6:8.0f} µs   p90 {v[int(len(v)*0.9)]*1e6:8.0f} µs")
