-- scriptd on PostgreSQL: the same tables as on SQLite (migrations/sqlite),
-- in their current shape. The event log is the source of truth; users,
-- guests and runs are projections of it, run_stdin a short-lived side table.
-- Run and guest ids compare byte-wise (COLLATE "C") so that ordered reads
-- (history pages, id prefixes) come out exactly as on SQLite.
CREATE TABLE events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         DOUBLE PRECISION NOT NULL,
    user_id    BIGINT           NOT NULL,
    stream     TEXT COLLATE "C" NOT NULL,
    stream_seq BIGINT           NOT NULL,
    kind       TEXT             NOT NULL,
    version    BIGINT           NOT NULL,
    data       JSONB            NOT NULL,
    UNIQUE (stream, stream_seq)
);
-- The events API and monitors' replays: one user's events by seq.
CREATE INDEX events_by_user ON events (user_id, seq);
-- Servers watch the log's end for revoked keys.
CREATE INDEX events_account_changes ON events (seq)
    WHERE kind IN ('UserRemoved', 'ApiKeyRotated', 'GuestDeleted');
CREATE INDEX events_users_created ON events (user_id) WHERE kind = 'UserCreated';

CREATE TABLE users (
    id       BIGINT  PRIMARY KEY,
    name     TEXT    NOT NULL UNIQUE,
    key_hash TEXT    NOT NULL UNIQUE,
    guests   BOOLEAN NOT NULL,
    created  BIGINT  NOT NULL
);

CREATE TABLE guests (
    id          TEXT COLLATE "C" PRIMARY KEY,
    user_id     BIGINT  NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE,
    script      TEXT    NOT NULL,
    can_run     BOOLEAN NOT NULL,
    can_cancel  BOOLEAN NOT NULL,
    can_status  BOOLEAN NOT NULL,
    can_monitor BOOLEAN NOT NULL,
    created     BIGINT  NOT NULL,
    expires     BIGINT  NOT NULL
);
CREATE INDEX guests_by_user ON guests (user_id, created);

-- One row per run; `info` holds the queued request or the final record,
-- as the exact JSON text SQLite keeps.
CREATE TABLE runs (
    id             TEXT COLLATE "C" PRIMARY KEY,
    user_id        BIGINT           NOT NULL,
    name           TEXT             NOT NULL,
    state          TEXT             NOT NULL,
    outcome        TEXT,
    queued         BIGINT           NOT NULL,
    started        DOUBLE PRECISION,
    finished       DOUBLE PRECISION,
    duration       DOUBLE PRECISION,
    run_user       TEXT,
    run_group      TEXT,
    exit_code      INTEGER,
    signal         INTEGER,
    requested_by   TEXT             NOT NULL,
    requested_from TEXT,
    cancelled_by   TEXT,
    cancelled_from TEXT,
    killed_by      TEXT,
    killed_from    TEXT,
    forgotten      BOOLEAN          NOT NULL DEFAULT false,
    pruned         BOOLEAN          NOT NULL DEFAULT false,
    info           TEXT             NOT NULL
);
-- Startup replay and queue rebuilds read the unfinished runs only.
CREATE INDEX runs_unfinished ON runs (user_id, name) WHERE state <> 'done';
-- History pages: one ordered range scan per filter combination, as on SQLite.
CREATE INDEX runs_history ON runs (user_id, finished DESC, id DESC)
    WHERE state = 'done' AND NOT forgotten;
CREATE INDEX runs_history_by_name ON runs (user_id, name, finished DESC, id DESC)
    WHERE state = 'done' AND NOT forgotten;
CREATE INDEX runs_history_by_outcome ON runs (user_id, outcome, finished DESC, id DESC)
    WHERE state = 'done' AND NOT forgotten;
CREATE INDEX runs_history_by_name_outcome
    ON runs (user_id, name, outcome, finished DESC, id DESC)
    WHERE state = 'done' AND NOT forgotten;
-- The per-user queue quota.
CREATE INDEX runs_queued_by_user ON runs (user_id) WHERE state = 'queued';
-- Retention walks the oldest finished runs not yet pruned.
CREATE INDEX runs_retention ON runs (pruned, finished) WHERE state = 'done';

CREATE TABLE run_stdin (
    run_id TEXT COLLATE "C" PRIMARY KEY,
    data   BYTEA NOT NULL
);
