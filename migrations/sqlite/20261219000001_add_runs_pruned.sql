-- Online retention (issue 19) prunes a little at a time. A finished run
-- whose events were pruned but whose history row stays is marked, so each
-- batch finds the oldest runs still to prune with one range scan of this
-- index instead of walking every row pruned before.
ALTER TABLE runs ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_retention ON runs (pruned, finished) WHERE state = 'done';
