-- History pages (GET /scripts/v1/history) read finished, not forgotten runs
-- of one user newest first by (finished, id), optionally of one name or one
-- outcome. Each index below serves one filter with an ordered range scan
-- that stops after `limit` rows, so a page costs the same with 1M runs as
-- with 100. since/until/before are ranges on the same (finished, id) key.
-- Forgotten (-r) runs are left out of the indexes: they never show.
DROP INDEX IF EXISTS runs_history;
CREATE INDEX runs_history ON runs (user_id, finished DESC, id DESC)
    WHERE state = 'done' AND forgotten = 0;
CREATE INDEX runs_history_by_name ON runs (user_id, name, finished DESC, id DESC)
    WHERE state = 'done' AND forgotten = 0;
CREATE INDEX runs_history_by_outcome ON runs (user_id, outcome, finished DESC, id DESC)
    WHERE state = 'done' AND forgotten = 0;
-- Both filters at once: without this the planner walks one of the two
-- indexes above and skips rows of the other value, unbounded when the
-- combination is rare.
CREATE INDEX runs_history_by_name_outcome ON runs (user_id, name, outcome, finished DESC, id DESC)
    WHERE state = 'done' AND forgotten = 0;
