-- Retries (`-R`): a run keeps its id across attempts. Between attempts
-- its row is `queued` again (due at `queued`), `attempt` is the attempt
-- it is on (1-based) and `attempts` the JSON array of the ended ones.
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN attempts JSONB;
-- An attempt ends once: a second `RunRetrying` for the same attempt of a
-- run (a replayed commit, a restart that decides again, a rescuer racing
-- a node) is refused, so its next attempt is queued exactly once.
CREATE UNIQUE INDEX events_one_retry ON events (stream, ((data->>'attempt')::bigint))
    WHERE kind = 'RunRetrying';
