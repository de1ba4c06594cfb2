-- Sign-in sessions (issue 32): a session ends once. Its end may be
-- recorded by sign-out, the expiry sweep, a config reload, the next start
-- of the node that held it, or the rescuer of a lost node; whichever
-- comes first wins and the database refuses any later one.
CREATE UNIQUE INDEX events_one_session_end ON events ((data->>'session'))
    WHERE kind = 'SessionEnded';
-- The sessions still open are read at every start and by the rescuer:
-- the started ones without an end, found without a walk of the whole log.
CREATE INDEX events_sessions_started ON events (seq) WHERE kind = 'SessionStarted';
