-- Audit facts of each run, kept in the runs read model so that a history
-- page needs no event reads and the facts outlive `admin prune`, which
-- deletes the events of old runs but keeps their rows.
-- `*_by` is `user:<id>` or `guest:<id>`, like `requested_by`; `*_from` is
-- the peer address of the request when it was known.
ALTER TABLE runs ADD COLUMN requested_from TEXT;
ALTER TABLE runs ADD COLUMN cancelled_by   TEXT;
ALTER TABLE runs ADD COLUMN cancelled_from TEXT;
ALTER TABLE runs ADD COLUMN killed_by      TEXT;
ALTER TABLE runs ADD COLUMN killed_from    TEXT;

-- Backfill runs recorded before these columns existed, from the log.
UPDATE runs SET requested_from = (
    SELECT json_extract(e.data, '$.origin.addr') FROM events e
    WHERE e.stream = runs.id AND e.kind = 'RunQueued'
);
UPDATE runs SET (cancelled_by, cancelled_from) = (
    SELECT COALESCE('guest:' || json_extract(e.data, '$.origin.guest'), 'user:' || e.user_id),
           json_extract(e.data, '$.origin.addr')
    FROM events e WHERE e.stream = runs.id AND e.kind = 'RunCancelled'
) WHERE outcome = 'cancelled';
-- The first kill request counts, as the projection keeps it.
UPDATE runs SET (killed_by, killed_from) = (
    SELECT COALESCE('guest:' || json_extract(e.data, '$.origin.guest'), 'user:' || e.user_id),
           json_extract(e.data, '$.origin.addr')
    FROM events e WHERE e.stream = runs.id AND e.kind = 'RunKillRequested'
    ORDER BY e.seq LIMIT 1
);
