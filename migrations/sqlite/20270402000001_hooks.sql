-- Webhooks (issue 31). `hooks` is the projection of HookCreated,
-- HookDeleted and HookPaused; `triggers` is the bit set of its `on` list
-- (see src/hook/trigger.rs). The secret is kept in clear: the server
-- signs with it.
CREATE TABLE hooks (
    id        TEXT    PRIMARY KEY,
    user_id   INTEGER NOT NULL,
    url       TEXT    NOT NULL,
    triggers  INTEGER NOT NULL,
    script    TEXT,
    format    TEXT    NOT NULL,
    secret    TEXT    NOT NULL,
    created   INTEGER NOT NULL,
    paused    INTEGER,
    paused_reason TEXT
);
CREATE INDEX hooks_by_user ON hooks (user_id);

-- The transactional outbox: one row per (hook, event), written in the
-- commit of the event itself. `event` is the event's JSON; `state` is
-- pending, delivered, failed (given up) or folded (into `folded_into`,
-- by the flood limit). A row being sent is claimed until `claimed_until`.
CREATE TABLE hook_deliveries (
    id            TEXT    PRIMARY KEY,
    hook_id       TEXT    NOT NULL,
    user_id       INTEGER NOT NULL,
    script        TEXT    NOT NULL,
    run_id        TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    created       REAL    NOT NULL,
    due           REAL    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    first_sent    REAL,
    last_attempt  REAL,
    last_status   INTEGER,
    last_error    TEXT,
    folded        INTEGER NOT NULL DEFAULT 0,
    folded_into   TEXT,
    claimed_by    TEXT,
    claimed_until REAL
);
CREATE INDEX hook_deliveries_due ON hook_deliveries (due) WHERE state = 'pending';
-- hook/deliveries, of one hook or of every hook of a user.
CREATE INDEX hook_deliveries_by_hook ON hook_deliveries (hook_id, created);
CREATE INDEX hook_deliveries_by_user ON hook_deliveries (user_id, created);
-- The flood limit: a hook and script's last first send, and the first
-- sends waiting to be folded.
CREATE INDEX hook_deliveries_sent ON hook_deliveries (hook_id, script, first_sent);
CREATE INDEX hook_deliveries_waiting ON hook_deliveries (hook_id, script)
    WHERE state = 'pending';
