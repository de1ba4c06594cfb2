//! History page latency with 1M finished runs in the database: the first
//! page, a deep page through a cursor, and filtered pages, each the median
//! of repeated calls of the same query the endpoint runs.
//!
//! Run: `cargo bench --bench history` (prints the machine and the figures).
//! Under `cargo test` it does nothing, so CI does not spend time on it.

use std::time::{Duration, Instant};

use scriptd::events::history::{Cursor, HistoryQuery};
use scriptd::events::store;
use scriptd::events::types::Outcome;
use scriptd::ids::{RunId, ScriptName, UserId};

const RUNS: i64 = 1_000_000;
const REPEAT: usize = 50;
/// `finished` of run i is BASE + i/2, so pairs tie and the id decides.
const BASE: f64 = 1_700_000_000.0;

/// Shared with the load generator, which prints machines the same way.
#[allow(dead_code)]
#[path = "../src/bin/scriptd-bench/machine.rs"]
mod machine;

/// One statement in one transaction: 1M finished runs, 90% of user 1,
/// 20 script names, 2% failed, 5% forgotten, each with a real RunRecord.
const FILL: &str = "
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
INSERT INTO runs (id, user_id, name, state, outcome, queued, started, finished, duration,
                  exit_code, requested_by, requested_from, forgotten, info)
SELECT id, user_id, name, 'done', outcome, CAST(finished AS INTEGER) - 5, finished - 1.5,
       finished, 1.5, CASE outcome WHEN 'failed' THEN 1 ELSE 0 END,
       'user:' || user_id, '127.0.0.1', forgotten,
       json_object('name', name, 'queued', CAST(finished AS INTEGER) - 5,
                   'started', finished - 1.5, 'finished', finished,
                   'params', json_array('a', CAST(i AS TEXT)), 'opts', json_object(),
                   'first', 'line one', 'last', 'done', 'tasks', json_array(),
                   'removelog', json('false'), 'outcome', outcome,
                   'exit_code', CASE outcome WHEN 'failed' THEN 1 ELSE 0 END,
                   'signal', NULL, 'duration', 1.5, 'cpu_user', 0.01,
                   'cpu_system', 0.01, 'max_rss_kb', 2048, 'error', NULL)
FROM (SELECT i,
             printf('%08x-0000-7000-8000-%012x', i, i) AS id,
             CASE WHEN i % 10 = 0 THEN 2 ELSE 1 END AS user_id,
             'script' || (i % 20) AS name,
             CASE WHEN i % 50 = 7 THEN 'failed' ELSE 'success' END AS outcome,
             ?2 + (i / 2) AS finished,
             CASE WHEN i % 20 = 3 THEN 1 ELSE 0 END AS forgotten
      FROM n)";

fn query(adjust: impl FnOnce(&mut HistoryQuery)) -> HistoryQuery {
    let mut q = HistoryQuery {
        user: UserId(1),
        name: None,
        outcome: None,
        since: None,
        until: None,
        before: None,
        limit: 100,
    };
    adjust(&mut q);
    q
}

async fn median(readers: &scriptd::events::Readers, q: &HistoryQuery) -> (Duration, usize) {
    let mut times = Vec::with_capacity(REPEAT);
    let mut rows = 0;
    for _ in 0..REPEAT {
        let start = Instant::now();
        let page = readers.history(q).await.expect("history page");
        times.push(start.elapsed());
        rows = page.rows.len();
    }
    times.sort();
    (times[REPEAT / 2], rows)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!(
        "machine: {} (load {})",
        machine::describe(),
        machine::load()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let mut db = store::open(&store::Location::Sqlite(dir.path().join("bench.db")))
            .await
            .expect("db");
        let start = Instant::now();
        let store::Writer::Sqlite(writer) = &mut db.writer else {
            unreachable!("a SQLite location")
        };
        writer
            .connection()
            .execute(FILL, (RUNS, BASE))
            .expect("fill");
        println!(
            "inserted {RUNS} finished runs (with all history indexes) in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        let deep = 200_000_i64; // i = 200000: about 80% of the way down
        let cursor = Cursor {
            finished: BASE + (deep / 2) as f64,
            id: RunId::parse(&format!("{deep:08x}-0000-7000-8000-{deep:012x}")).expect("id"),
        };
        let name = ScriptName::parse("script7").expect("name");
        let mid = (BASE + (RUNS / 4) as f64) as i64;
        let cases = [
            ("first page", query(|_| {})),
            (
                "deep page (cursor ~80% down)",
                query(|q| q.before = Some(cursor)),
            ),
            (
                "name filter, first page",
                query(|q| q.name = Some(name.clone())),
            ),
            (
                "name filter, deep page",
                query(|q| {
                    q.name = Some(name.clone());
                    q.before = Some(cursor);
                }),
            ),
            (
                "outcome=failed (2%)",
                query(|q| q.outcome = Some(Outcome::Failed)),
            ),
            (
                "name + outcome=failed",
                query(|q| {
                    q.name = Some(name.clone());
                    q.outcome = Some(Outcome::Failed);
                }),
            ),
            (
                "since/until window",
                query(|q| {
                    q.since = Some(mid);
                    q.until = Some(mid + 3600);
                }),
            ),
            ("limit 1000", query(|q| q.limit = 1000)),
        ];
        for (what, q) in &cases {
            let (time, rows) = median(&db.readers, q).await;
            println!(
                "{what:<32} {rows:>5} rows  median {:>8.3} ms  (of {REPEAT})",
                time.as_secs_f64() * 1000.0
            );
        }
    });
}
