# History first page and a filtered page, old layout (record in runs.info)
# against the compact one (record folded from the run's RunQueued and final
# event through the (stream, stream_seq) index and events_one_final).
# Fills both from the same synthetic runs; prints median ms of 50 calls.
import json, random, sqlite3, statistics, sys, time, uuid
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
FILL = "--no-fill" not in sys.argv  # query the files of an earlier run
random.seed(1)
old = sqlite3.connect("/tmp/h_old.db"); new = sqlite3.connect("/tmp/h_new.db")
for db in (old, new):
    db.execute("PRAGMA journal_mode=WAL")
if FILL: old.executescript("""
DROP TABLE IF EXISTS runs; DROP TABLE IF EXISTS events;
CREATE TABLE runs (id TEXT PRIMARY KEY, user_id INTEGER, name TEXT, state TEXT, outcome TEXT,
  finished REAL, forgotten INTEGER DEFAULT 0, requested_by TEXT, info TEXT);
CREATE INDEX runs_history ON runs (user_id, finished DESC, id DESC) WHERE state='done' AND forgotten=0;
CREATE INDEX runs_history_by_outcome ON runs (user_id, outcome, finished DESC, id DESC) WHERE state='done' AND forgotten=0;
""")
if FILL: new.executescript("""
DROP TABLE IF EXISTS runs; DROP TABLE IF EXISTS events;
CREATE TABLE events (seq INTEGER PRIMARY KEY, at REAL, user_id INTEGER, stream BLOB, stream_seq INTEGER,
  kind INTEGER, version INTEGER, data TEXT, UNIQUE (stream, stream_seq));
CREATE UNIQUE INDEX events_one_final ON events (stream) WHERE kind IN (4, 90);
CREATE TABLE runs (id BLOB PRIMARY KEY, user_id INTEGER, name TEXT, state INTEGER, outcome INTEGER,
  finished REAL, forgotten INTEGER DEFAULT 0, requested_by TEXT, info TEXT);
CREATE INDEX runs_history ON runs (user_id, finished DESC, id DESC) WHERE state=3 AND forgotten=0;
CREATE INDEX runs_history_by_outcome ON runs (user_id, outcome, finished DESC, id DESC) WHERE state=3 AND forgotten=0;
""")
seq = 0
for i in range(N if FILL else 0):
    rid = uuid.uuid4(); fin = 1.7e9 + i / 2; failed = random.random() < 0.02
    name = "s%d" % (i % 20); outcome = "failed" if failed else "success"
    rec = {"name": name, "queued": int(fin) - 5, "started": fin - 1.5, "finished": fin,
           "params": ["a", str(i)], "opts": {}, "first": "line one", "last": "done", "tasks": [],
           "removelog": False, "outcome": outcome, "exit_code": 1 if failed else 0, "signal": None,
           "duration": 1.5, "cpu_user": 0.01, "cpu_system": 0.0, "max_rss_kb": None, "error": None}
    old.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,0,'user:1',?)",
                (str(rid), 1, name, "done", outcome, fin, json.dumps(rec)))
    q = {"name": name, "queued": int(fin) - 5, "params": ["a", str(i)], "spec": {"command": ["x"]}}
    f = {"record": {"started": fin - 1.5, "finished": fin, "first": "line one", "last": "done",
                    "outcome": outcome, "exit_code": 1 if failed else 0, "duration": 1.5, "cpu_user": 0.01}}
    for sseq, kind, data in ((1, 1, q), (2, 2, {"started": fin - 1.5}), (3, 3, {"pgid": 1, "boot": "ab"}), (4, 4, f)):
        seq += 1
        new.execute("INSERT INTO events VALUES (?,?,?,?,?,?,1,?)", (seq, fin, 1, rid.bytes, sseq, kind, json.dumps(data)))
    new.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,0,NULL,NULL)", (rid.bytes, 1, name, 3, 2 if failed else 1, fin))
old.commit(); new.commit()
OLD = "SELECT id, info FROM runs WHERE state='done' AND forgotten=0 AND user_id=1 {f} ORDER BY finished DESC, id DESC LIMIT 51"
NEW = """SELECT r.id, q.data, e.data FROM runs r
  JOIN events q ON q.stream = r.id AND q.stream_seq = 1
  JOIN events e ON e.stream = r.id AND e.kind IN (4, 90)
  WHERE r.state=3 AND r.forgotten=0 AND r.user_id=1 {f} ORDER BY r.finished DESC, r.id DESC LIMIT 51"""
ONE = """SELECT r.id, e.data FROM runs r
  JOIN events e ON e.stream = r.id AND e.kind IN (4, 90)
  WHERE r.state=3 AND r.forgotten=0 AND r.user_id=1 {f} ORDER BY r.finished DESC, r.id DESC LIMIT 51"""
def bench(db, sql):
    times = []
    for _ in range(50):
        t = time.perf_counter(); rows = db.execute(sql).fetchall(); times.append(time.perf_counter() - t)
        assert len(rows) == 51, len(rows)
    return statistics.median(times) * 1000
for label, fo, fn in (("first page", "", ""), ("failed only", "AND outcome='failed'", "AND r.outcome=2")):
    print("%-12s old %.3f ms  compact, two joins %.3f ms, one join %.3f ms" % (
        label, bench(old, OLD.format(f=fo)), bench(new, NEW.format(f=fn)), bench(new, ONE.format(f=fn))))
print(new.execute("EXPLAIN QUERY PLAN " + NEW.format(f="")).fetchall())
