-- Run logs on PostgreSQL: the captured output of a run as chunks, each
-- keyed by the byte offset it starts at, so `GET log/ID` on any node can
-- read a log from any offset. Written at most every 100 ms per run; the
-- key serves reads and the deletes of retention and `-r` scripts.
CREATE TABLE run_log_chunks (
    run_id       TEXT   NOT NULL,
    start_offset BIGINT NOT NULL,
    data         BYTEA  NOT NULL,
    PRIMARY KEY (run_id, start_offset)
);
