-- The per-user queue quota counts a user's queued runs on every run request.
CREATE INDEX runs_queued_by_user ON runs (user_id) WHERE state = 'queued';
