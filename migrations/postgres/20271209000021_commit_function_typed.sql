-- The group commit function again, with typed arrays (issue 29). The
-- first `scriptd_commit` (…_commit_function.sql) took its steps as JSON
-- and unpacked them with `jsonb_to_recordset`, which the planner takes
-- for 100 rows: each `UPDATE runs … FROM` it fed became a hash join over
-- a sequential scan of `runs`, 1.1 ms a step and growing with the table,
-- and the inserts went one statement per segment (BENCHMARKS.md, "Where
-- the commit function's time goes"). Here every column travels as an
-- array of its own type (binary protocol), `unnest` of a parameter is
-- planned as a few rows (index lookups), the claims are checked inline,
-- and all the events that are kept go in with one `INSERT` at the end.
--
-- A schedule's tick already recorded (by another node, or an earlier
-- attempt) refuses its own group only, as a claim does ('tick_taken'),
-- checked under the commit lock: the rest of the batch commits in the
-- same call, where a broken `events_one_tick` used to fail the call and
-- send the batch group by group down the multi-statement path.
--
-- This is an overload: the 14-argument `scriptd_commit` and its
-- `scriptd_claim` stay for nodes not yet upgraded, and go in a later
-- migration.

-- One group commit. The events are `p_users` … `p_data`, in batch order,
-- each in segment `p_event_segs` (a run of groups without claims, or one
-- group with claims or a tick); a segment whose claim is refused is
-- skipped whole. Steps are `p_ops` in order, each of segment `p_segs`,
-- over the rows `p_froms`..`p_tos` (1-based) of its own kind's arrays:
-- `c_` claims (their group `c_groups`), `q_` queued runs, `s_` starts,
-- `x_` run ids (dropped stdin, forgotten runs), `f_` finished runs, `k_`
-- kills, `r_` retries. `o_` rows are the outbox, written last. Answers
-- each event's `seq` (NULL when its group was refused) and each group's
-- refusal (NULL when appended). A unique rule broken anywhere fails the
-- whole call: the writer redoes the batch group by group.
CREATE OR REPLACE FUNCTION scriptd_commit(
    p_writer TEXT, p_commit_no BIGINT, p_node TEXT, p_epoch BIGINT, p_at DOUBLE PRECISION,
    p_groups INT,
    p_users BIGINT[], p_streams TEXT[], p_kinds TEXT[], p_versions BIGINT[], p_data TEXT[],
    p_event_segs INT[],
    p_ops TEXT[], p_segs INT[], p_froms INT[], p_tos INT[],
    c_groups INT[], c_users BIGINT[], c_names TEXT[], c_runs TEXT[], c_expects TEXT[],
    c_lims BIGINT[],
    q_ids TEXT[], q_users BIGINT[], q_names TEXT[], q_queued BIGINT[], q_by TEXT[],
    q_from TEXT[], q_info INT[], q_stdin INT[], p_blobs BYTEA[],
    s_ids TEXT[], s_started DOUBLE PRECISION[], s_nodes TEXT[],
    x_ids TEXT[],
    f_ids TEXT[], f_outcomes TEXT[], f_started DOUBLE PRECISION[],
    f_finished DOUBLE PRECISION[], f_durations DOUBLE PRECISION[], f_run_users TEXT[],
    f_run_groups TEXT[], f_exit_codes INT[], f_signals INT[], f_infos TEXT[],
    f_cancelled_by TEXT[], f_cancelled_from TEXT[],
    k_ids TEXT[], k_by TEXT[], k_from TEXT[],
    r_ids TEXT[], r_due BIGINT[], r_attempts INT[], r_ended TEXT[],
    o_users BIGINT[], o_scripts TEXT[], o_runs TEXT[], o_kinds TEXT[], o_events INT[],
    o_bits BIGINT[],
    OUT o_seqs BIGINT[], OUT o_refused TEXT[])
-- Generic plans, of index lookups only. With custom plans (the default)
-- the planner saw each step's rows, costed the generic plan (`unnest`
-- taken for 10 rows) above them, and planned every statement of every
-- step again: 0.2 ms for a finish step against 0.12 ms to run it. A
-- generic plan is made once per connection, when `runs` may still be
-- empty: left free, it chose to scan `runs` whole (1 ms a step once it
-- held a few thousand rows). Every statement here finds its rows by an
-- index (primary keys, `events_one_tick`, the partial indexes of `runs`).
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    v_skip INT := -1;
    v_skipped INT[] := '{}';
    v_ticks TEXT[] := '{}';
    v_new_ticks TEXT[];
    v_refusal TEXT;
    v_state TEXT;
    v_seqs BIGINT[];
    v_from INT;
    v_to INT;
    v_kept INT := 1;
BEGIN
    -- events::postgres::writer::COMMIT_LOCK; every statement below reads
    -- afresh (a VOLATILE function), so it sees every commit the lock waited for.
    PERFORM pg_advisory_xact_lock(32478965368124516);
    IF p_node IS NOT NULL THEN
        PERFORM scriptd_lease_check(p_node, p_epoch);
    END IF;
    -- events::postgres::follow::CHANNEL; sent at commit.
    PERFORM pg_notify('scriptd_events', p_writer);
    o_refused := array_fill(NULL::TEXT, ARRAY[p_groups]);
    FOR i IN 1 .. coalesce(array_length(p_ops, 1), 0) LOOP
        CONTINUE WHEN p_segs[i] = v_skip;
        v_from := p_froms[i];
        v_to := p_tos[i];
        CASE p_ops[i]
        WHEN 'claim' THEN
            -- `events::expect::Expect::check`'s rules, under the lock of
            -- each script's `slots` row (made on first use); then the ticks.
            v_refusal := NULL;
            v_new_ticks := '{}';
            FOR c IN v_from .. v_to LOOP
                IF c_expects[c] = 'tick' THEN
                    IF c_runs[c] = ANY (v_ticks || v_new_ticks) OR EXISTS (
                            SELECT 1 FROM events e
                            WHERE e.kind = 'ScheduleTicked' AND e.stream = c_runs[c]) THEN
                        v_refusal := 'tick_taken';
                        EXIT;
                    END IF;
                    v_new_ticks := v_new_ticks || c_runs[c];
                    CONTINUE;
                END IF;
                PERFORM 1 FROM slots s WHERE s.user_id = c_users[c] AND s.name = c_names[c]
                    FOR UPDATE SKIP LOCKED;
                IF NOT FOUND THEN
                    IF EXISTS (SELECT 1 FROM slots s
                               WHERE s.user_id = c_users[c] AND s.name = c_names[c]) THEN
                        v_refusal := 'slot_busy';
                        EXIT;
                    END IF;
                    INSERT INTO slots (user_id, name) VALUES (c_users[c], c_names[c])
                        ON CONFLICT DO NOTHING;
                    PERFORM 1 FROM slots s WHERE s.user_id = c_users[c] AND s.name = c_names[c]
                        FOR UPDATE SKIP LOCKED;
                    IF NOT FOUND THEN
                        v_refusal := 'slot_busy';
                        EXIT;
                    END IF;
                END IF;
                v_state := (SELECT r.state FROM runs r WHERE r.id = c_runs[c]);
                IF c_expects[c] IN ('start', 'queued') AND v_state IS DISTINCT FROM 'queued' THEN
                    v_refusal := CASE WHEN v_state = 'running' THEN 'not_queued_running'
                                      ELSE 'not_queued' END;
                    EXIT;
                END IF;
                IF c_expects[c] = 'start' AND (SELECT count(*) FROM runs r
                        WHERE r.user_id = c_users[c] AND r.name = c_names[c]
                          AND r.state = 'running') >= c_lims[c] THEN
                    v_refusal := 'slots_full';
                    EXIT;
                END IF;
                IF c_expects[c] = 'room' AND (SELECT count(*) FROM runs r
                        WHERE r.user_id = c_users[c] AND r.name = c_names[c]
                          AND r.state <> 'done') >= c_lims[c] THEN
                    v_refusal := 'queue_full';
                    EXIT;
                END IF;
                IF c_expects[c] = 'running' AND v_state IS DISTINCT FROM 'running' THEN
                    v_refusal := 'not_running';
                    EXIT;
                END IF;
            END LOOP;
            IF v_refusal IS NOT NULL THEN
                o_refused[c_groups[v_from]] := v_refusal;
                v_skip := p_segs[i];
                v_skipped := v_skipped || v_skip;
            ELSE
                v_ticks := v_ticks || v_new_ticks;
            END IF;
        WHEN 'queue' THEN
            WITH r AS (
                SELECT * FROM UNNEST(q_ids[v_from:v_to], q_users[v_from:v_to],
                    q_names[v_from:v_to], q_queued[v_from:v_to], q_by[v_from:v_to],
                    q_from[v_from:v_to], q_info[v_from:v_to], q_stdin[v_from:v_to])
                    AS x(id, user_id, name, queued, requested_by, requested_from, info, stdin)),
            stdin AS (
                INSERT INTO run_stdin (run_id, data)
                SELECT r.id, p_blobs[r.stdin] FROM r WHERE r.stdin IS NOT NULL)
            INSERT INTO runs (id, user_id, name, state, queued, requested_by, requested_from, info)
            SELECT r.id, r.user_id, r.name, 'queued', r.queued, r.requested_by, r.requested_from,
                   p_data[r.info]
            FROM r;
        WHEN 'start' THEN
            UPDATE runs r SET state = 'running', started = x.started, node = x.node
            FROM UNNEST(s_ids[v_from:v_to], s_started[v_from:v_to], s_nodes[v_from:v_to])
                 AS x(id, started, node)
            WHERE r.id = x.id;
        WHEN 'drop_stdin' THEN
            DELETE FROM run_stdin WHERE run_id = ANY (x_ids[v_from:v_to]);
        WHEN 'finish' THEN
            -- A cancel records who cancelled; other endings leave those columns.
            WITH done AS (
                UPDATE runs r SET state = 'done', outcome = x.outcome, started = x.started,
                    finished = x.finished, duration = x.duration, run_user = x.run_user,
                    run_group = x.run_group, exit_code = x.exit_code, signal = x.signal,
                    info = x.info,
                    cancelled_by = COALESCE(x.cancelled_by, r.cancelled_by),
                    cancelled_from = CASE WHEN x.cancelled_by IS NULL THEN r.cancelled_from
                                          ELSE x.cancelled_from END
                FROM UNNEST(f_ids[v_from:v_to], f_outcomes[v_from:v_to],
                            f_started[v_from:v_to], f_finished[v_from:v_to],
                            f_durations[v_from:v_to], f_run_users[v_from:v_to],
                            f_run_groups[v_from:v_to], f_exit_codes[v_from:v_to],
                            f_signals[v_from:v_to], f_infos[v_from:v_to],
                            f_cancelled_by[v_from:v_to], f_cancelled_from[v_from:v_to])
                     AS x(id, outcome, started, finished, duration, run_user, run_group,
                          exit_code, signal, info, cancelled_by, cancelled_from)
                WHERE r.id = x.id
                RETURNING r.id)
            DELETE FROM run_stdin WHERE run_id IN (SELECT done.id FROM done);
        WHEN 'kill' THEN
            -- The first request is the one that stopped the run.
            UPDATE runs r SET killed_by = x.killed_by, killed_from = x.killed_from
            FROM UNNEST(k_ids[v_from:v_to], k_by[v_from:v_to], k_from[v_from:v_to])
                 AS x(id, killed_by, killed_from)
            WHERE r.id = x.id AND r.killed_by IS NULL;
        WHEN 'forget' THEN
            UPDATE runs SET forgotten = true WHERE id = ANY (x_ids[v_from:v_to]);
        WHEN 'retry' THEN
            UPDATE runs r SET state = 'queued', queued = x.due, started = NULL, node = NULL,
                attempt = x.attempt,
                attempts = COALESCE(r.attempts, '[]'::jsonb) || jsonb_build_array(x.ended::jsonb)
            FROM UNNEST(r_ids[v_from:v_to], r_due[v_from:v_to], r_attempts[v_from:v_to],
                        r_ended[v_from:v_to]) AS x(id, due, attempt, ended)
            WHERE r.id = x.id;
        END CASE;
    END LOOP;
    -- The kept events in one statement, in batch order (they take their
    -- `seq` in it); each stream's numbers go on from its last one. No step
    -- above reads `events` but the tick check, which `v_ticks` completes.
    WITH ins AS (
        INSERT INTO events (at, user_id, stream, stream_seq, kind, version, data)
        SELECT p_at, u.user_id, u.stream,
               COALESCE((SELECT max(e.stream_seq) FROM events e WHERE e.stream = u.stream), 0)
                 + row_number() OVER (PARTITION BY u.stream ORDER BY u.ord),
               u.kind, u.version, u.data::jsonb
        FROM UNNEST(p_users, p_streams, p_kinds, p_versions, p_data, p_event_segs)
             WITH ORDINALITY AS u(user_id, stream, kind, version, data, seg, ord)
        WHERE u.seg <> ALL (v_skipped)
        ORDER BY u.ord
        RETURNING seq)
    SELECT coalesce(array_agg(ins.seq ORDER BY ins.seq), '{}') INTO v_seqs FROM ins;
    IF cardinality(v_skipped) = 0 THEN
        o_seqs := v_seqs;
    ELSE
        o_seqs := array_fill(NULL::BIGINT, ARRAY[cardinality(p_users)]);
        FOR e IN 1 .. cardinality(p_users) LOOP
            IF p_event_segs[e] <> ALL (v_skipped) THEN
                o_seqs[e] := v_seqs[v_kept];
                v_kept := v_kept + 1;
            END IF;
        END LOOP;
    END IF;
    IF cardinality(o_users) > 0 THEN
        -- Events of refused groups have no `seq`, so no delivery.
        INSERT INTO hook_deliveries (id, hook_id, user_id, script, run_id, kind, event,
            version, created, due)
        SELECT gen_random_uuid()::text, h.id, h.user_id, x.script, x.run_id, x.kind,
               e.data::text, e.version, p_at, p_at
        FROM UNNEST(o_users, o_scripts, o_runs, o_kinds, o_events, o_bits)
             AS x(user_id, script, run_id, kind, event, bit)
        JOIN hooks h ON h.user_id = x.user_id AND h.paused IS NULL
             AND (h.triggers & x.bit) <> 0 AND (h.script IS NULL OR h.script = x.script)
        JOIN events e ON e.seq = o_seqs[x.event];
    END IF;
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
