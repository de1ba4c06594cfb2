//! One retention batch on SQLite, in one IMMEDIATE transaction (see
//! [`crate::events::prune`]): finished runs, then schedules' old tick
//! records (never a schedule's latest).

use rusqlite::{params, Connection, TransactionBehavior};

use crate::events::error::StoreError;
use crate::events::prune::Pruned;
use crate::ids::{RunId, UserId};

/// One batch: up to `limit` runs finished before `before` (UNIX seconds),
/// in one transaction. With `all`, rows kept by earlier prunes go first,
/// then the events and rows of runs not pruned yet.
pub fn prune_batch(
    conn: &mut Connection,
    before: f64,
    all: bool,
    limit: usize,
) -> Result<Pruned, StoreError> {
    // IMMEDIATE: a read that later turns into a write fails at once with
    // SQLITE_BUSY when another connection commits in between; taking the
    // write lock first makes it wait (busy_timeout) like any other writer.
    let limit = limit.max(1);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut pruned = Pruned::default();
    if all {
        pruned.rows = tx
            .prepare_cached(
                "DELETE FROM runs WHERE id IN (SELECT id FROM runs
                   WHERE state = 'done' AND pruned = 1 AND finished < ?1
                   ORDER BY finished LIMIT ?2)",
            )?
            .execute(params![before, limit as i64])? as u64;
    }
    let stale = pruned.rows as usize;
    let left = limit.saturating_sub(stale);
    // The run holding the newest event is left for a later pass: `seq` is
    // a rowid, and deleting the highest one would let the next append
    // reuse its number, which a monitor resuming with `after` has seen.
    let mut chosen: Vec<(i64, String)> = Vec::new();
    {
        let mut select = tx.prepare_cached(
            "SELECT user_id, id FROM runs
             WHERE state = 'done' AND pruned = 0 AND finished < ?1
               AND id IS NOT (SELECT stream FROM events ORDER BY seq DESC LIMIT 1)
             ORDER BY finished LIMIT ?2",
        )?;
        let mut rows = select.query(params![before, left as i64])?;
        while let Some(row) = rows.next()? {
            chosen.push((row.get(0)?, row.get(1)?));
        }
    }
    for (user, id) in &chosen {
        pruned.events += tx
            .prepare_cached("DELETE FROM events WHERE stream = ?")?
            .execute([id])? as u64;
        if all {
            pruned.rows += tx
                .prepare_cached("DELETE FROM runs WHERE id = ?")?
                .execute([id])? as u64;
        } else {
            tx.prepare_cached("UPDATE runs SET pruned = 1 WHERE id = ?")?
                .execute([id])?;
        }
        if let Some(run) = RunId::parse(id) {
            pruned.runs.push((UserId(*user), run));
        }
    }
    let ticks = tx
        .prepare_cached(PRUNE_TICKS)?
        .execute(params![before, (limit * TICKS_PER_RUN) as i64])? as u64;
    pruned.events += ticks;
    tx.commit()?;
    pruned.more = stale + chosen.len() >= limit || ticks >= (limit * TICKS_PER_RUN) as u64;
    Ok(pruned)
}

/// Tick records a batch removes per run it may remove: they are single
/// small rows, and an every-second schedule records 86,400 a day.
const TICKS_PER_RUN: usize = 16;

/// Tick records made before `?1`, oldest first, except each schedule's
/// latest (a newer record of the same schedule must exist): catch-up
/// after a restart or a resume reads the latest, so it is never removed,
/// however old. Nor is the log's newest event (see `prune_batch`).
const PRUNE_TICKS: &str = "DELETE FROM events WHERE seq IN (
       SELECT t.seq FROM events t
        WHERE t.kind = 'ScheduleTicked' AND t.at < ?1
          AND t.seq < (SELECT MAX(seq) FROM events)
          AND EXISTS (SELECT 1 FROM events n
                       WHERE n.kind = 'ScheduleTicked' AND n.stream > t.stream
                         AND n.stream < substr(t.stream, 1, length(t.stream) - 13) || '0')
        ORDER BY t.at LIMIT ?2)";

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;

    /// A migrated database with finished runs (finished at `times`, two
    /// events each, in that order) and one queued run; answers their ids.
    async fn with_runs(dir: &std::path::Path, times: &[f64]) -> (Connection, Vec<String>, String) {
        let path = dir.join("t.db");
        drop(crate::events::sqlite::open(&path).await.expect("db"));
        let conn = Connection::open(&path).expect("open");
        let mut ids = Vec::new();
        let add = |id: &str, state: &str, finished: Option<f64>| {
            conn.execute(
                "INSERT INTO runs (id, user_id, name, state, queued, finished, requested_by, info)
                 VALUES (?1, 1, 'x', ?2, 0, ?3, 'user:1', '{}')",
                params![id, state, finished],
            )
            .expect("run row");
        };
        for at in times {
            let id = RunId::new().to_string();
            add(&id, "done", Some(*at));
            for n in 1..=2 {
                event(&conn, &id, n);
            }
            ids.push(id);
        }
        let queued = RunId::new().to_string();
        add(&queued, "queued", None);
        event(&conn, &queued, 1);
        (conn, ids, queued)
    }

    fn event(conn: &Connection, stream: &str, n: i64) {
        conn.execute(
            "INSERT INTO events (at, user_id, stream, stream_seq, kind, version, data)
             VALUES (0, 1, ?1, ?2, 'RunQueued', 1, '{}')",
            params![stream, n],
        )
        .expect("event");
    }

    fn count(conn: &Connection, sql: &str, id: &str) -> i64 {
        conn.query_row(sql, [id], |row| row.get(0)).expect("count")
    }

    #[tokio::test]
    async fn batches_take_the_oldest_runs_and_never_the_newest_events_run() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut conn, ids, queued) = with_runs(dir.path(), &[10.0, 11.0, 12.0, 13.0, 50.0]).await;
        // The oldest run now also holds the newest event of the log.
        event(&conn, &ids[0], 3);

        let first = prune_batch(&mut conn, 20.0, false, 2).expect("batch");
        assert_eq!(first.runs.len(), 2, "{first:?}");
        assert!(first.more, "a full batch asks for more");
        assert_eq!(first.runs[0].1.to_string(), ids[1], "oldest prunable first");
        let second = prune_batch(&mut conn, 20.0, false, 2).expect("batch");
        assert_eq!((second.runs.len(), second.more), (1, false), "{second:?}");
        assert_eq!(second.runs[0].1.to_string(), ids[3]);

        let events = "SELECT COUNT(*) FROM events WHERE stream = ?";
        let pruned = "SELECT pruned FROM runs WHERE id = ?";
        assert_eq!(count(&conn, events, &ids[0]), 3, "newest event's run kept");
        for id in &ids[1..4] {
            assert_eq!(count(&conn, events, id), 0, "{id} pruned");
            assert_eq!(count(&conn, pruned, id), 1, "{id} marked");
        }
        assert_eq!(
            count(&conn, events, &ids[4]),
            2,
            "finished after the cutoff"
        );
        assert_eq!(count(&conn, events, &queued), 1, "unfinished run untouched");

        // Once a newer event exists, a later pass takes that run too.
        event(&conn, &queued, 2);
        let third = prune_batch(&mut conn, 20.0, false, 10).expect("batch");
        assert_eq!(third.runs.len(), 1, "{third:?}");
        assert_eq!(third.runs[0].1.to_string(), ids[0]);
    }

    #[tokio::test]
    async fn all_removes_rows_kept_by_earlier_prunes_and_the_rest() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut conn, ids, queued) = with_runs(dir.path(), &[10.0, 11.0, 12.0]).await;
        event(&conn, &queued, 2);
        let kept = prune_batch(&mut conn, 10.5, false, 10).expect("batch");
        assert_eq!((kept.runs.len(), kept.rows), (1, 0));

        let all = prune_batch(&mut conn, 20.0, true, 10).expect("batch");
        assert_eq!(
            (all.rows, all.events, all.runs.len(), all.more),
            (3, 4, 2, false)
        );
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM runs", [], |row| row.get(0))
            .expect("rows");
        assert_eq!(rows, 1, "only the queued run's row is left");
        assert_eq!(
            count(&conn, "SELECT COUNT(*) FROM runs WHERE id = ?", &queued),
            1
        );
        assert!(ids.iter().all(|id| count(
            &conn,
            "SELECT COUNT(*) FROM events WHERE stream = ?",
            id
        ) == 0));
    }

    fn tick(conn: &Connection, name: &str, tick: i64, at: f64) {
        conn.execute(
            "INSERT INTO events (at, user_id, stream, stream_seq, kind, version, data)
             VALUES (?1, 1, ?2, 1, 'ScheduleTicked', 1, '{}')",
            params![at, format!("tick/1/{name}/{tick:012}")],
        )
        .expect("tick");
    }

    fn ticks_of(conn: &Connection, name: &str) -> Vec<String> {
        let mut select = conn
            .prepare("SELECT stream FROM events WHERE kind = 'ScheduleTicked' AND stream LIKE ?1 ORDER BY stream")
            .expect("select");
        let rows = select
            .query_map([format!("tick/1/{name}/%")], |row| row.get(0))
            .expect("ticks");
        rows.collect::<Result<_, _>>().expect("rows")
    }

    #[tokio::test]
    async fn old_tick_records_go_but_each_schedules_latest_stays() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut conn, _, _) = with_runs(dir.path(), &[]).await;
        // `beat` ticked at 10..=14, `beat-b` (sorting next to it) at 10
        // and 11, `yearly` once, long ago; `fresh` after the cutoff.
        for t in 10..=14 {
            tick(&conn, "beat", t, t as f64);
        }
        tick(&conn, "beat-b", 10, 10.0);
        tick(&conn, "beat-b", 11, 11.0);
        tick(&conn, "yearly", 1, 1.0);
        tick(&conn, "fresh", 30, 30.0);
        tick(&conn, "fresh", 31, 31.0);

        let mut total = 0;
        loop {
            let batch = prune_batch(&mut conn, 20.0, false, 1).expect("batch");
            total += batch.events;
            if !batch.more {
                break;
            }
        }

        assert_eq!(total, 5, "4 of beat's and 1 of beat-b's");
        let name = |n: &str, t: i64| format!("tick/1/{n}/{t:012}");
        assert_eq!(
            ticks_of(&conn, "beat"),
            vec![name("beat", 14)],
            "latest stays"
        );
        assert_eq!(ticks_of(&conn, "beat-b"), vec![name("beat-b", 11)]);
        assert_eq!(
            ticks_of(&conn, "yearly"),
            vec![name("yearly", 1)],
            "however old"
        );
        assert_eq!(ticks_of(&conn, "fresh").len(), 2, "after the cutoff");
    }
}
