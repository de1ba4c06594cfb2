-- Claims count the running runs of one script at every start: a small
-- index of the running runs only, so the count does not walk a deep queue.
CREATE INDEX runs_running ON runs (user_id, name) WHERE state = 'running';
