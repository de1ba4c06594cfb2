-- Issue 28 item 4: a finished run's record is read from its final event
-- (events_one_final), no longer from a copy in `runs.info`, which was a
-- third of the bytes of a finished run. `info` becomes '' (the column
-- stays NOT NULL) wherever the final event is still in the log; rows
-- whose events `admin prune` removed keep their record there. The space
-- comes back to the file with `admin vacuum` (incremental auto-vacuum).
-- Run ids are unchanged here; the events written from now on are in the
-- compact form (src/events/compact.rs), older ones are read as they are.
UPDATE runs SET info = ''
 WHERE state = 'done'
   AND EXISTS (SELECT 1 FROM events e
                WHERE e.stream = runs.id
                  AND e.kind IN ('RunFinished', 'RunCancelled', 'RunStartFailed', 'RunInterrupted'));
