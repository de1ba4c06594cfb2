-- The event log is the source of truth; every other table is a projection of
-- it (users, guests, runs) or a short-lived side table (run_stdin).
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    at         REAL    NOT NULL,
    user_id    INTEGER NOT NULL,
    stream     TEXT    NOT NULL,
    stream_seq INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    UNIQUE (stream, stream_seq)
);
CREATE INDEX events_by_user ON events (user_id, seq);

CREATE TABLE users (
    id       INTEGER PRIMARY KEY,
    name     TEXT    NOT NULL UNIQUE,
    key_hash TEXT    NOT NULL UNIQUE,
    guests   INTEGER NOT NULL,
    created  INTEGER NOT NULL
);

CREATE TABLE guests (
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE,
    script      TEXT    NOT NULL,
    can_run     INTEGER NOT NULL,
    can_cancel  INTEGER NOT NULL,
    can_status  INTEGER NOT NULL,
    can_monitor INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL
);
CREATE INDEX guests_by_user ON guests (user_id, created);

-- One row per run; `info` holds the queued request or the final record.
CREATE TABLE runs (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    outcome      TEXT,
    queued       INTEGER NOT NULL,
    started      REAL,
    finished     REAL,
    duration     REAL,
    run_user     TEXT,
    run_group    TEXT,
    exit_code    INTEGER,
    signal       INTEGER,
    requested_by TEXT    NOT NULL,
    forgotten    INTEGER NOT NULL DEFAULT 0,
    info         TEXT    NOT NULL
);
CREATE INDEX runs_unfinished ON runs (state) WHERE state <> 'done';
CREATE INDEX runs_history ON runs (user_id, finished DESC, id DESC) WHERE state = 'done';

CREATE TABLE run_stdin (
    run_id TEXT PRIMARY KEY,
    data   BLOB NOT NULL
);
