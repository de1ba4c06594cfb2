# History latency on the real schema (issue 28 item 4). Takes a database
# the server filled (any layout: its schema and one finished run are the
# template), clones that run N times into a new file with fresh ids,
# times, 20 script names and 2 % failures, and times the statement of
# src/events/sqlite/history.rs for each filter: median ms of 50 calls,
# fetching the rows (Python's sqlite3, JSON not parsed).
#   history_bench.py SERVER.db OUT.db N [info|final-event|columns] [--no-fill]
import random, sqlite3, statistics, sys, time, uuid
src, out, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
FILL = "--no-fill" not in sys.argv
random.seed(1)
if FILL:
    import os
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(out + suffix):
            os.remove(out + suffix)
    s = sqlite3.connect(src); d = sqlite3.connect(out)
    d.execute("PRAGMA journal_mode=WAL")
    for (sql,) in s.execute("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"):
        d.execute(sql)
    rid = s.execute("SELECT id FROM runs WHERE state = 'done' ORDER BY rowid DESC LIMIT 1").fetchone()[0]
    cols = [r[1] for r in s.execute("PRAGMA table_info(runs)")]
    run = dict(zip(cols, s.execute("SELECT * FROM runs WHERE id = ?", (rid,)).fetchone()))
    ecols = [r[1] for r in s.execute("PRAGMA table_info(events)") if r[1] != "seq"]
    events = [dict(zip(ecols, r)) for r in s.execute(
        "SELECT %s FROM events WHERE stream = ? ORDER BY seq" % ",".join(ecols), (rid,))]
    text_id = isinstance(rid, str)
    for i in range(N):
        new = uuid.uuid4(); fin = 1.7e9 + i / 2; failed = random.random() < 0.02
        nid = str(new) if text_id else new.bytes
        r = dict(run, id=nid, name="s%d" % (i % 20), finished=fin,
                 outcome="failed" if failed else "success")
        if r.get("info"):
            r["info"] = r["info"].replace(str(rid), str(new))
        d.execute("INSERT INTO runs (%s) VALUES (%s)" % (",".join(r), ",".join("?" * len(r))), list(r.values()))
        for e in events:
            e = dict(e, stream=nid, at=fin, data=e["data"].replace(str(rid), str(new)))
            d.execute("INSERT INTO events (%s) VALUES (%s)" % (",".join(e), ",".join("?" * len(e))), list(e.values()))
    d.commit(); d.execute("PRAGMA wal_checkpoint(TRUNCATE)"); d.close()
db = sqlite3.connect(out)
AUDIT = "requested_by, requested_from, cancelled_by, cancelled_from, killed_by, killed_from"
STATEMENTS = {
    # main before issue 28 item 4: the whole record in runs.info
    "info": "SELECT id, info, " + AUDIT + " FROM runs r",
    # the record read from the final event (one join on events_one_final)
    "final-event": """SELECT r.id, r.info, r.""" + AUDIT.replace(", ", ", r.") + """, e.kind, e.version,
         e.stream, e.data FROM runs r LEFT JOIN events e ON e.stream = r.id
         AND e.kind IN ('RunFinished', 'RunCancelled', 'RunStartFailed', 'RunInterrupted')""",
    # this branch: info less the columns, the columns read beside it
    "columns": "SELECT id, info, outcome, started, finished, duration, run_user, run_group, "
               "exit_code, signal, " + AUDIT + " FROM runs r",
}
which = next((a for a in sys.argv[4:] if not a.startswith("--")), "info")
HISTORY = STATEMENTS[which] + """ WHERE r.state = 'done' AND r.forgotten = 0 AND r.user_id = 1 {f}
         ORDER BY r.finished DESC, r.id DESC LIMIT 51"""
mid = 1.7e9 + N / 4
FILTERS = [("first page", ""), ("name", "AND name = 's3'"), ("outcome failed", "AND outcome = 'failed'"),
           ("name + failed", "AND name = 's3' AND outcome = 'failed'"),
           ("since/until", "AND finished >= %d AND finished < %d" % (mid - 3600, mid)),
           ("before (page 2)", "AND (finished, id) < (%f, 'z')" % mid)]
def bench(sql):
    times = []
    for _ in range(50):
        t = time.perf_counter(); rows = db.execute(sql).fetchall(); times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, len(rows)
for label, f in FILTERS:
    ms, n = bench(HISTORY.format(f=f))
    plan = " / ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + HISTORY.format(f=f)))
    print("| %s | %.3f ms | %d rows | %s |" % (label, ms, n, plan))
