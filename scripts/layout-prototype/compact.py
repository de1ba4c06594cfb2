# Prototype of a compact SQLite layout for issue 28 item 4: converts a
# database filled by the current release (copy.db) into the proposed
# layout and leaves proto.db for `dbstat`. Not shipped code: evidence for
# the design, reproducible with the commands in BENCHMARKS.md.
import json, sqlite3, sys, uuid
src, dst = sys.argv[1], sys.argv[2]
KINDS = {}
def kind_id(k):
    return KINDS.setdefault(k, len(KINDS) + 1)
DEFAULTS = {"first": "", "last": "", "tasks": [], "removelog": False, "signal": None,
            "max_rss_kb": None, "error": None, "cpu_system": 0.0, "noexec": False,
            "forget": False, "stdin_len": 0, "exit_code": None, "cpu_user": None}
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if not (k in DEFAULTS and x == DEFAULTS[k])}
    return v
s = sqlite3.connect(src); d = sqlite3.connect(dst)
d.executescript("""
CREATE TABLE events (seq INTEGER PRIMARY KEY, at REAL NOT NULL, user_id INTEGER NOT NULL,
  stream BLOB NOT NULL, stream_seq INTEGER NOT NULL, kind INTEGER NOT NULL,
  version INTEGER NOT NULL, data TEXT NOT NULL, UNIQUE (stream, stream_seq));
CREATE INDEX events_by_user ON events (user_id, seq);
CREATE UNIQUE INDEX events_one_final ON events (stream) WHERE kind IN (4, 90, 91, 92);
CREATE TABLE runs (id BLOB PRIMARY KEY, user_id INTEGER NOT NULL, name TEXT NOT NULL,
  state INTEGER NOT NULL, outcome INTEGER, queued INTEGER NOT NULL, started REAL,
  finished REAL, duration REAL, run_user TEXT, run_group TEXT, exit_code INTEGER,
  signal INTEGER, requested_by TEXT, forgotten INTEGER NOT NULL DEFAULT 0, info TEXT,
  requested_from TEXT, cancelled_by TEXT, cancelled_from TEXT, killed_by TEXT,
  killed_from TEXT, pruned INTEGER NOT NULL DEFAULT 0, attempt INTEGER NOT NULL DEFAULT 1,
  attempts TEXT);
CREATE INDEX runs_history ON runs (user_id, finished DESC, id DESC) WHERE state = 3 AND forgotten = 0;
CREATE INDEX runs_history_by_name ON runs (user_id, name, finished DESC, id DESC) WHERE state = 3 AND forgotten = 0;
CREATE INDEX runs_history_by_outcome ON runs (user_id, outcome, finished DESC, id DESC) WHERE state = 3 AND forgotten = 0;
CREATE INDEX runs_history_by_name_outcome ON runs (user_id, name, outcome, finished DESC, id DESC) WHERE state = 3 AND forgotten = 0;
CREATE INDEX runs_retention ON runs (pruned, finished) WHERE state = 3;
""")
for k in ["RunQueued", "RunStarted", "RunSpawned", "RunFinished"]:
    kind_id(k)
OUT = {"success": 1, "failed": 2}
for seq, at, user, stream, sseq, kind, ver, data in s.execute(
        "SELECT seq, at, user_id, stream, stream_seq, kind, version, data FROM events WHERE stream LIKE '%-%-%'"):
    v = json.loads(data)
    v.pop("kind", None); v.pop("run", None)
    if kind != "RunQueued":
        v.pop("name", None)          # RunQueued names the script once
    if kind == "RunSpawned":
        v["boot"] = v["boot"][:8]    # a short boot tag: equality is all replay needs
    if kind == "RunFinished":
        r = v["record"]
        for f in ("name", "queued", "params", "opts"):  # RunQueued holds them
            r.pop(f, None)
    v = strip(v)
    d.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?)",
              (seq, at, user, uuid.UUID(stream).bytes, sseq, kind_id(kind), ver,
               json.dumps(v, separators=(",", ":"))))
for row in s.execute("SELECT id, user_id, name, outcome, queued, started, finished, duration, exit_code, signal, requested_by, requested_from FROM runs"):
    (rid, user, name, outcome, queued, started, finished, duration, code, sig, by, frm) = row
    # A finished run's record is its final event's: no `info` copy.
    d.execute("""INSERT INTO runs (id, user_id, name, state, outcome, queued, started, finished,
      duration, exit_code, signal, requested_by, requested_from, info)
      VALUES (?,?,?,3,?,?,?,?,?,?,?,?,?,NULL)""",
              (uuid.UUID(rid).bytes, user, name, OUT.get(outcome, 9), queued, started,
               finished, duration, code, sig, None if by == "user:" + str(user) else by, frm))
d.commit(); d.execute("VACUUM"); d.close()
