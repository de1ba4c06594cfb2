#!/usr/bin/env python3
"""Groups `perf report --children --sort sym` lines into the stages of a
run (issue 28 item 1). A stage's share is the largest inclusive share of
the symbols that mark it, since its symbols nest."""
import re, sys
STAGES = [
    ("HTTP: accept, parse, reply", r"actix_http::h1::dispatcher|actix_server::worker"),
    ("run request handler", r"scriptd::http::runs::"),
    ("queue actor", r"scriptd::actors::queue::"),
    ("commit (writer thread)", r"scriptd::events::sqlite::writer::"),
    ("status files", r"status_file::write_batch"),
    ("spawn (launch, clone, exec)", r"scriptd::actors::process::launch::"),
    ("run actor (start, output, end)", r"scriptd::actors::run::"),
    ("pipes (output reader)", r"OutputReader|scriptd::actors::process::output::"),
    ("exit (pidfd, wait4)", r"scriptd::actors::process::exit::"),
    ("per-run cgroup (mkdir, rmdir)", r"RunCgroup::create|RunCgroup.*remove|cgroup::run::"),
    ("VmHWM sampling (/proc/PID/status)", r"memory::status_hwm"),
    ("monitor pushes", r"scriptd::actors::monitor::"),
    ("SQLite itself", r"^sqlite3"),
    ("kernel: fork/clone", r"copy_process|kernel_clone"),
    ("kernel: fsync", r"fsync|jbd2|ext4_sync"),
]
best = {name: 0.0 for name, _ in STAGES}
line = re.compile(r"^\s+([\d.]+)%\s+([\d.]+)%\s+\[[.k]\]\s+(.*)$")
for text in open(sys.argv[1]):
    m = line.match(text)
    if not m:
        continue
    children, sym = float(m.group(1)), m.group(3).strip()
    for name, pattern in STAGES:
        if re.search(pattern, sym):
            best[name] = max(best[name], children)
for name, _ in STAGES:
    print(f"  {name:34} {best[name]:5.1f} %")
