-- A schedule's tick is decided once: its record (committed together with
-- the run it queues, or saying why it started none) lives in a stream of
-- its own, `tick/<user>/<name>/<instant>`, and the database refuses a
-- second one. A restart, a replayed commit, or another node of a cluster
-- that races for the same tick is refused here instead of doubling it.
-- The index also finds a schedule's latest tick (streams sort by time).
CREATE UNIQUE INDEX events_one_tick ON events (stream) WHERE kind = 'ScheduleTicked';
-- Pauses and resumes, read at start and by every node's timer.
CREATE INDEX events_schedule_switches ON events (seq)
    WHERE kind IN ('SchedulePaused', 'ScheduleResumed');
