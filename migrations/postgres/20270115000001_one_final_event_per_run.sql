-- A run has one final event: the first one appended wins and the database
-- refuses any later one. A writer whose COMMIT answer was lost (the
-- connection dropped after the server committed) retries its append and is
-- refused here instead of ending the run twice; in a cluster, a late end
-- from a node that lost its lease is refused the same way.
CREATE UNIQUE INDEX events_one_final ON events (stream)
    WHERE kind IN ('RunFinished', 'RunCancelled', 'RunStartFailed', 'RunInterrupted');
