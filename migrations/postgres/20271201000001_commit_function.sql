-- One round trip per group commit (issue 29). A writer sends the whole
-- commit as one call of `scriptd_commit`, in autocommit: the call's
-- implicit transaction takes the commit lock, checks the node's lease,
-- checks the claims, inserts the events, applies the read model, writes
-- the hook outbox and notifies, and commits before the answer goes back.
-- The commit lock is therefore never held while the database waits on
-- the client: a node paused (SIGSTOP) after sending the call stalls no
-- one. The writer computes every read-model change in Rust, as before
-- (`events::projection`), and sends them as `steps`: this function only
-- runs them in order. Account and hook changes, and the redo of a batch
-- that broke a unique rule, keep the multi-statement path (writer.rs).

-- The answer of each writer's last call, written in the call's own
-- transaction: a writer whose answer was lost (the connection dropped)
-- reads it back on a new connection to learn whether the call landed and
-- which `seq` numbers its events took (see `events/postgres/doubt.rs`).
CREATE TABLE IF NOT EXISTS commit_answers (
    writer    TEXT             PRIMARY KEY,
    commit_no BIGINT           NOT NULL,
    seqs      BIGINT[]         NOT NULL,
    refused   TEXT[]           NOT NULL,
    at        DOUBLE PRECISION NOT NULL
);

-- A claim group's checks (`events::expect::Expect::check`, the same rules)
-- under the lock of each script's `slots` row (made on first use): the
-- refusal's code, or NULL when every check holds.
CREATE OR REPLACE FUNCTION scriptd_claim(p_checks JSONB) RETURNS TEXT
LANGUAGE plpgsql AS $$
DECLARE
    c RECORD;
    v_state TEXT;
BEGIN
    FOR c IN SELECT * FROM jsonb_to_recordset(p_checks)
             AS x(user_id BIGINT, name TEXT, run TEXT, expect TEXT, lim BIGINT)
    LOOP
        PERFORM 1 FROM slots s WHERE s.user_id = c.user_id AND s.name = c.name
            FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            IF EXISTS (SELECT 1 FROM slots s WHERE s.user_id = c.user_id AND s.name = c.name) THEN
                RETURN 'slot_busy';
            END IF;
            INSERT INTO slots (user_id, name) VALUES (c.user_id, c.name) ON CONFLICT DO NOTHING;
            PERFORM 1 FROM slots s WHERE s.user_id = c.user_id AND s.name = c.name
                FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                RETURN 'slot_busy';
            END IF;
        END IF;
        v_state := (SELECT r.state FROM runs r WHERE r.id = c.run);
        IF c.expect IN ('start', 'queued') AND v_state IS DISTINCT FROM 'queued' THEN
            RETURN CASE WHEN v_state = 'running' THEN 'not_queued_running' ELSE 'not_queued' END;
        END IF;
        IF c.expect = 'start' AND (SELECT count(*) FROM runs r
                WHERE r.user_id = c.user_id AND r.name = c.name AND r.state = 'running') >= c.lim THEN
            RETURN 'slots_full';
        END IF;
        IF c.expect = 'room' AND (SELECT count(*) FROM runs r
                WHERE r.user_id = c.user_id AND r.name = c.name AND r.state <> 'done') >= c.lim THEN
            RETURN 'queue_full';
        END IF;
        IF c.expect = 'running' AND v_state IS DISTINCT FROM 'running' THEN
            RETURN 'not_running';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- One group commit. `p_users` … `p_data` are the events in batch order;
-- `p_steps` (JSON text) the steps in order, each of one segment (`seg`: a
-- run of groups without claims, or one group with claims); a segment
-- whose claim is refused is skipped whole. `p_texts` and `p_blobs` carry
-- the long values the steps point at by index (final records, stdin).
-- Answers each event's `seq` (NULL when its group was refused) and each
-- group's refusal (NULL when appended). A unique rule broken anywhere
-- (`events_one_final`, `events_one_tick`, `events_one_retry`, a run id
-- used twice) fails the whole call: the writer then redoes the batch
-- group by group on the multi-statement path, which maps each error.
CREATE OR REPLACE FUNCTION scriptd_commit(
    p_writer TEXT, p_commit_no BIGINT, p_node TEXT, p_epoch BIGINT, p_at DOUBLE PRECISION,
    p_groups INT, p_users BIGINT[], p_streams TEXT[], p_kinds TEXT[], p_versions BIGINT[],
    p_data TEXT[], p_steps TEXT, p_texts TEXT[], p_blobs BYTEA[],
    OUT o_seqs BIGINT[], OUT o_refused TEXT[])
LANGUAGE plpgsql AS $$
DECLARE
    v_step JSONB;
    v_seg INT;
    v_skip INT := -1;
    v_refusal TEXT;
    v_seqs BIGINT[];
    v_from INT;
    v_to INT;
BEGIN
    -- events::postgres::writer::COMMIT_LOCK; every statement below reads
    -- afresh (a VOLATILE function), so it sees every commit the lock waited for.
    PERFORM pg_advisory_xact_lock(32478965368124516);
    IF p_node IS NOT NULL THEN
        PERFORM scriptd_lease_check(p_node, p_epoch);
    END IF;
    -- events::postgres::follow::CHANNEL; sent at commit.
    PERFORM pg_notify('scriptd_events', p_writer);
    o_seqs := '{}';
    o_refused := array_fill(NULL::TEXT, ARRAY[p_groups]);
    FOR v_step IN SELECT s.value FROM jsonb_array_elements(p_steps::jsonb) WITH ORDINALITY AS s
                  ORDER BY s.ordinality
    LOOP
        v_seg := (v_step->>'seg')::INT;
        IF v_seg = v_skip THEN
            IF v_step->>'op' = 'insert' THEN
                o_seqs := o_seqs || array_fill(NULL::BIGINT,
                    ARRAY[(v_step->>'to')::INT - (v_step->>'from')::INT + 1]);
            END IF;
            CONTINUE;
        END IF;
        CASE v_step->>'op'
        WHEN 'claim' THEN
            v_refusal := scriptd_claim(v_step->'checks');
            IF v_refusal IS NOT NULL THEN
                o_refused[(v_step->>'group')::INT] := v_refusal;
                v_skip := v_seg;
            END IF;
        WHEN 'insert' THEN
            v_from := (v_step->>'from')::INT;
            v_to := (v_step->>'to')::INT;
            -- Each stream's numbers go on from its last one; rows go in
            -- (and take their `seq`) in batch order.
            WITH ins AS (
                INSERT INTO events (at, user_id, stream, stream_seq, kind, version, data)
                SELECT p_at, u.user_id, u.stream,
                       COALESCE((SELECT max(e.stream_seq) FROM events e WHERE e.stream = u.stream), 0)
                         + row_number() OVER (PARTITION BY u.stream ORDER BY u.ord),
                       u.kind, u.version, u.data::jsonb
                FROM UNNEST(p_users[v_from:v_to], p_streams[v_from:v_to], p_kinds[v_from:v_to],
                            p_versions[v_from:v_to], p_data[v_from:v_to])
                     WITH ORDINALITY AS u(user_id, stream, kind, version, data, ord)
                ORDER BY u.ord
                RETURNING seq)
            SELECT array_agg(ins.seq ORDER BY ins.seq) INTO v_seqs FROM ins;
            o_seqs := o_seqs || v_seqs;
        WHEN 'queue' THEN
            WITH r AS (
                SELECT * FROM jsonb_to_recordset(v_step->'rows')
                    AS x(id TEXT, user_id BIGINT, name TEXT, queued BIGINT, requested_by TEXT,
                         requested_from TEXT, info INT, stdin INT)),
            stdin AS (
                INSERT INTO run_stdin (run_id, data)
                SELECT r.id, p_blobs[r.stdin] FROM r WHERE r.stdin IS NOT NULL)
            INSERT INTO runs (id, user_id, name, state, queued, requested_by, requested_from, info)
            SELECT r.id, r.user_id, r.name, 'queued', r.queued, r.requested_by, r.requested_from,
                   p_data[r.info]
            FROM r;
        WHEN 'start' THEN
            UPDATE runs r SET state = 'running', started = x.started, node = x.node
            FROM jsonb_to_recordset(v_step->'rows') AS x(id TEXT, started DOUBLE PRECISION, node TEXT)
            WHERE r.id = x.id;
        WHEN 'drop_stdin' THEN
            DELETE FROM run_stdin
            WHERE run_id = ANY (ARRAY(SELECT jsonb_array_elements_text(v_step->'ids')));
        WHEN 'finish' THEN
            -- A cancel records who cancelled; other endings leave those columns.
            WITH done AS (
                UPDATE runs r SET state = 'done', outcome = x.outcome, started = x.started,
                    finished = x.finished, duration = x.duration, run_user = x.run_user,
                    run_group = x.run_group, exit_code = x.exit_code, signal = x.signal,
                    info = p_texts[x.info],
                    cancelled_by = COALESCE(x.cancelled_by, r.cancelled_by),
                    cancelled_from = CASE WHEN x.cancelled_by IS NULL THEN r.cancelled_from
                                          ELSE x.cancelled_from END
                FROM jsonb_to_recordset(v_step->'rows')
                     AS x(id TEXT, outcome TEXT, started DOUBLE PRECISION,
                          finished DOUBLE PRECISION, duration DOUBLE PRECISION, run_user TEXT,
                          run_group TEXT, exit_code INT, signal INT, info INT,
                          cancelled_by TEXT, cancelled_from TEXT)
                WHERE r.id = x.id
                RETURNING r.id)
            DELETE FROM run_stdin WHERE run_id IN (SELECT done.id FROM done);
        WHEN 'kill' THEN
            -- The first request is the one that stopped the run.
            UPDATE runs r SET killed_by = x.killed_by, killed_from = x.killed_from
            FROM jsonb_to_recordset(v_step->'rows') AS x(id TEXT, killed_by TEXT, killed_from TEXT)
            WHERE r.id = x.id AND r.killed_by IS NULL;
        WHEN 'forget' THEN
            UPDATE runs SET forgotten = true
            WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(v_step->'ids')));
        WHEN 'retry' THEN
            UPDATE runs r SET state = 'queued', queued = x.due, started = NULL, node = NULL,
                attempt = x.attempt,
                attempts = COALESCE(r.attempts, '[]'::jsonb) || jsonb_build_array(p_texts[x.ended]::jsonb)
            FROM jsonb_to_recordset(v_step->'rows') AS x(id TEXT, due BIGINT, attempt INT, ended INT)
            WHERE r.id = x.id;
        WHEN 'outbox' THEN
            -- Events of refused groups have no `seq`, so no delivery.
            INSERT INTO hook_deliveries (id, hook_id, user_id, script, run_id, kind, event,
                version, created, due)
            SELECT gen_random_uuid()::text, h.id, h.user_id, x.script, x.run_id, x.kind,
                   e.data::text, e.version, p_at, p_at
            FROM jsonb_to_recordset(v_step->'rows')
                 AS x(user_id BIGINT, script TEXT, run_id TEXT, kind TEXT, event INT, bit BIGINT)
            JOIN hooks h ON h.user_id = x.user_id AND h.paused IS NULL
                 AND (h.triggers & x.bit) <> 0 AND (h.script IS NULL OR h.script = x.script)
            JOIN events e ON e.seq = o_seqs[x.event];
        END CASE;
    END LOOP;
    INSERT INTO commit_answers (writer, commit_no, seqs, refused, at)
    VALUES (p_writer, p_commit_no, o_seqs, o_refused, p_at)
    ON CONFLICT (writer) DO UPDATE
        SET commit_no = EXCLUDED.commit_no, seqs = EXCLUDED.seqs,
            refused = EXCLUDED.refused, at = EXCLUDED.at;
    -- A writer's first call clears the answers of writers gone for a day.
    IF p_commit_no = 1 THEN
        DELETE FROM commit_answers WHERE at < p_at - 86400 AND writer <> p_writer;
    END IF;
END
$$;

-- A writer's last answer, read under the commit lock (a VOLATILE
-- function reads after taking it, so no commit is then in flight).
CREATE OR REPLACE FUNCTION scriptd_commit_answer(p_writer TEXT)
RETURNS TABLE (commit_no BIGINT, seqs BIGINT[], refused TEXT[])
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(32478965368124516);
    RETURN QUERY SELECT a.commit_no, a.seqs, a.refused FROM commit_answers a
        WHERE a.writer = p_writer;
END
$$;
