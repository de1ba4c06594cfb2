-- Retention removes schedules' tick records older than its cutoff, oldest
-- first (each schedule's latest stays: catch-up reads it).
CREATE INDEX events_ticks_by_time ON events (at) WHERE kind = 'ScheduleTicked';
