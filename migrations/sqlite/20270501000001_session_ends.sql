-- Sign-in sessions (issue 32): a session ends once. Its end may be
-- recorded by sign-out, the expiry sweep, a config reload, the next start
-- of the server that held it, or a cluster's rescuer; whichever comes
-- first wins and the database refuses any later one.
CREATE UNIQUE INDEX events_one_session_end ON events (json_extract(data, '$.session'))
    WHERE kind = 'SessionEnded';
-- The sessions still open are read at every start: the started ones
-- without an end, found without a walk of the whole log.
CREATE INDEX events_sessions_started ON events (seq) WHERE kind = 'SessionStarted';
