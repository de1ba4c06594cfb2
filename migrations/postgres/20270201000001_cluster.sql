-- Several nodes on one database (issue 17). `runs.node` names the node a
-- run was started on (set by RunStarted). `slots` holds one row per
-- (user, script): a start, a queueing under `-m` and a cancel lock it
-- (FOR UPDATE SKIP LOCKED) while they count the script's runs, so `-s`
-- and `-m` hold across every node.
ALTER TABLE runs ADD COLUMN node TEXT;

CREATE TABLE slots (
    user_id BIGINT NOT NULL,
    name    TEXT   NOT NULL,
    PRIMARY KEY (user_id, name)
);
INSERT INTO slots (user_id, name) SELECT DISTINCT user_id, name FROM runs;

