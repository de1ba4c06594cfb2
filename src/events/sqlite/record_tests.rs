//! A record split into `info` and the columns comes back whole; and a
//! database filled by the previous release (runs.info copies, events in
//! their full form: tests/fixtures/storage/previous-release.sql, made by
//! make-previous-release.sh beside it) reads back the same after this
//! release's migrations, through history, status and the event log, and
//! still after `admin prune` removed its events.

use crate::events::history::HistoryQuery;
use crate::events::types::{Event, RunRecord};
use crate::events::upcast;
use crate::ids::{RunId, UserId};

const USER: UserId = UserId(1);

fn fixture() -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/storage/previous-release.sql");
    std::fs::read_to_string(path).expect("the fixture")
}

/// What the previous release answered: its history order with each
/// record (from `info`), and its log decoded as it was stored.
fn previous(conn: &rusqlite::Connection) -> (Vec<(RunId, RunRecord)>, Vec<Event>) {
    let history = conn
        .prepare(
            "SELECT id, info FROM runs WHERE state = 'done' AND forgotten = 0 AND user_id = 1
             ORDER BY finished DESC, id DESC",
        )
        .expect("prepare")
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .expect("query")
        .map(|row| {
            let (id, info) = row.expect("row");
            let record = serde_json::from_str(&info).expect("a record");
            (RunId::parse(&id).expect("id"), record)
        })
        .collect();
    let events = conn
        .prepare("SELECT kind, version, data FROM events WHERE user_id = 1 ORDER BY seq")
        .expect("prepare")
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .expect("query")
        .map(|row| {
            let (kind, version, data) = row.expect("row");
            upcast::decode(&kind, version, &data).expect("an event")
        })
        .collect();
    (history, events)
}

/// The user's whole history, `limit` rows a page.
fn every_run(limit: u32) -> HistoryQuery {
    HistoryQuery {
        user: USER,
        name: None,
        outcome: None,
        since: None,
        until: None,
        before: None,
        limit,
    }
}

async fn history(readers: &super::super::Readers) -> Vec<(RunId, RunRecord)> {
    super::super::history::history(&readers.pool, &every_run(1000))
        .await
        .expect("history")
        .rows
        .into_iter()
        .map(|row| (row.id, row.record))
        .collect()
}

fn status(readers: &super::super::Readers, run: RunId) -> RunRecord {
    let row = readers
        .lookup
        .run(USER, run)
        .expect("lookup")
        .expect("a row");
    row.record.expect("a record")
}

#[tokio::test]
async fn a_database_of_the_previous_release_reads_back_the_same_after_migration() {
    // Arrange: the previous release's database, as its own answers saw it.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("scriptd.db");
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch(&fixture()).expect("load the dump");
    let (runs, events) = previous(&conn);
    drop(conn);
    assert!(
        runs.len() >= 9,
        "every ending is in the fixture: {}",
        runs.len()
    );

    // Act: this release opens (and migrates) it.
    let (mut writer, readers) = super::super::open(&path).await.expect("migrates");

    // Assert: no copy left, and every answer as before.
    let copies: i64 = writer
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM runs WHERE state = 'done'
               AND (json_extract(info, '$.finished') IS NOT NULL OR info LIKE '%null%')",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(
        copies, 0,
        "no done run's info repeats its columns or holds a null"
    );
    assert_eq!(history(&readers).await, runs);
    for (run, record) in &runs {
        assert_eq!(&status(&readers, *run), record, "status of {run}");
    }
    let log: Vec<Event> = super::super::query::events_after(&readers.pool, USER, 0, 10_000, None)
        .await
        .expect("events")
        .into_iter()
        .map(|stored| stored.event)
        .collect();
    assert_eq!(log, events);

    // A prune removes the events; the rows it keeps keep their records.
    let pruned =
        super::super::prune::prune_batch(writer.connection(), f64::MAX, false, 100).expect("prune");
    assert!(
        pruned.runs.len() + 1 >= runs.len(),
        "{} pruned",
        pruned.runs.len()
    );
    assert_eq!(history(&readers).await, runs, "after prune");
    for (run, record) in &runs {
        assert_eq!(
            &status(&readers, *run),
            record,
            "status of {run} after prune"
        );
    }
}

#[test]
fn every_golden_record_comes_back_from_its_residual_and_columns() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    let mut seen = 0;
    for kind in [
        "RunFinished",
        "RunCancelled",
        "RunStartFailed",
        "RunInterrupted",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{kind}.v1.json"))).expect("fixture");
        let payloads: Vec<serde_json::Value> = serde_json::from_str(&text).expect("array");
        for payload in payloads {
            let record: RunRecord =
                serde_json::from_value(payload["record"].clone()).expect("record");
            let whole = serde_json::to_value(&record).expect("json");
            let columns: Vec<serde_json::Value> = super::IN_COLUMNS
                .iter()
                .map(|key| whole[*key].clone())
                .collect();
            let info = super::residual(&whole.to_string()).expect("residual");
            let kept: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&info).expect("an object");
            for key in super::IN_COLUMNS {
                assert!(!kept.contains_key(key), "{key} in {info}");
            }
            assert_eq!(
                super::full(&info, columns).expect("full"),
                record,
                "{kind}: {info}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 4, "{seen} records");
}

/// The history read in Rust, the way each layout's code reads it: the
/// statement, sqlx's row decoding (the audit columns by name, as
/// `history` does) and the record's JSON. Not a test: run on the files
/// `scripts/layout-prototype/history_bench.py` fills (hb_before.db: main's
/// layout; hb_after.db: the record read from the final event; hb_afterB.db:
/// this layout) with `SCRIPTD_HISTORY_BENCH=/tmp cargo test --lib
/// history_read_cost -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn history_read_cost() {
    use sqlx::sqlite::SqliteRow;
    use sqlx::Row;
    #[derive(serde::Deserialize)]
    struct Final {
        #[allow(dead_code)]
        record: RunRecord,
    }
    fn audit(row: &SqliteRow) {
        let id: String = row.get("id");
        assert!(RunId::parse(&id).is_some());
        for column in [
            "requested_by",
            "requested_from",
            "cancelled_by",
            "cancelled_from",
        ] {
            let _: Option<String> = row.get(column);
        }
        let _: (Option<String>, Option<String>) = (row.get("killed_by"), row.get("killed_from"));
    }
    fn whole(row: &SqliteRow) {
        audit(row);
        let _: RunRecord = serde_json::from_str(row.get::<&str, _>("info")).expect("record");
    }
    fn joined(row: &SqliteRow) {
        audit(row);
        let (kind, stream, data): (&str, &str, &str) =
            (row.get("fk"), row.get("fs"), row.get("fd"));
        let _: Final =
            crate::events::compact::decode(kind, row.get("fv"), Some(stream), data).expect("final");
    }
    fn split(row: &SqliteRow) {
        audit(row);
        let columns = crate::events::row::run::split_columns(row, 2).expect("columns");
        let _ = super::full(row.get::<&str, _>("info"), columns).expect("record");
    }
    let dir = std::env::var("SCRIPTD_HISTORY_BENCH").expect("SCRIPTD_HISTORY_BENCH");
    let audit_columns = "r.id, r.requested_by, r.requested_from, r.cancelled_by, r.cancelled_from,
        r.killed_by, r.killed_from";
    let tail = "WHERE r.state = 'done' AND r.forgotten = 0 AND r.user_id = 1 {f}
                ORDER BY r.finished DESC, r.id DESC LIMIT 51";
    type Read = fn(&SqliteRow);
    let layouts: [(&str, String, Read); 3] = [
        (
            "hb_before.db",
            format!("SELECT {audit_columns}, r.info FROM runs r"),
            whole,
        ),
        (
            "hb_after.db",
            format!(
                "SELECT {audit_columns}, e.kind AS fk, e.version AS fv, e.stream AS fs,
                    e.data AS fd FROM runs r LEFT JOIN events e ON e.stream = r.id
                 AND e.kind IN ('RunFinished', 'RunCancelled', 'RunStartFailed', 'RunInterrupted')"
            ),
            joined,
        ),
        (
            "hb_afterB.db",
            // `history`'s own order: its columns are read by place.
            "SELECT r.id, r.info, r.outcome, r.started, r.finished, r.duration, r.run_user,
                r.run_group, r.exit_code, r.signal, r.requested_by, r.requested_from,
                r.cancelled_by, r.cancelled_from, r.killed_by, r.killed_from FROM runs r"
                .to_owned(),
            split,
        ),
    ];
    let filters = [
        ("first page", ""),
        ("name", "AND r.name = 's3'"),
        ("outcome failed", "AND r.outcome = 'failed'"),
        (
            "name + failed",
            "AND r.name = 's3' AND r.outcome = 'failed'",
        ),
    ];
    for (label, f) in filters {
        let mut line = format!("| {label} |");
        for (file, select, read) in &layouts {
            let path = std::path::Path::new(&dir).join(file);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(path)
                        .read_only(true),
                )
                .await
                .expect("open");
            let sql = format!("{select} {}", tail.replace("{f}", f));
            let mut times = Vec::new();
            for _ in 0..200 {
                let t = std::time::Instant::now();
                let rows = sqlx::query(&sql).fetch_all(&pool).await.expect("rows");
                rows.iter().for_each(read);
                assert_eq!(rows.len(), 51);
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            line.push_str(&format!(" {:.3} ms |", times[times.len() / 2] * 1000.0));
        }
        println!("{line}");
    }
}

/// The store's own history read (`history::history`: statement, row
/// mapping and record), on the previous-release fixture migrated and its
/// finished runs cloned to 20,000 (20 names). Not a test: `cargo test
/// --release --lib history_page_cost -- --ignored --nocapture`; prints the
/// median and lowest of 300 calls per filter, 50-row pages.
#[tokio::test]
#[ignore]
async fn history_page_cost() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("scriptd.db");
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch(&fixture()).expect("load the dump");
    drop(conn);
    let (_writer, readers) = super::super::open(&path).await.expect("migrates");
    let conn = rusqlite::Connection::open(&path).expect("open");
    let templates: Vec<String> = conn
        .prepare("SELECT id FROM runs WHERE state = 'done' AND forgotten = 0 AND user_id = 1")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids");
    conn.execute_batch("BEGIN").expect("begin");
    for i in 0..20_000usize {
        conn.execute(
            "INSERT INTO runs (id, user_id, name, state, outcome, queued, started, finished,
                duration, run_user, run_group, exit_code, signal, requested_by, requested_from,
                cancelled_by, cancelled_from, killed_by, killed_from, forgotten, info)
             SELECT ?1, user_id, ?2, state, outcome, queued, started, ?3, duration, run_user,
                run_group, exit_code, signal, requested_by, requested_from, cancelled_by,
                cancelled_from, killed_by, killed_from, forgotten, info
             FROM runs WHERE id = ?4",
            rusqlite::params![
                RunId::new().to_string(),
                // Every template under every name, so each filter finds rows.
                format!("s{}", (i / templates.len()) % 20),
                1.7e9 + i as f64 / 2.0,
                templates[i % templates.len()],
            ],
        )
        .expect("clone");
    }
    conn.execute_batch("COMMIT").expect("commit");
    let base = every_run(50);
    let first = super::super::history::history(&readers.pool, &base)
        .await
        .expect("history");
    let name = crate::ids::ScriptName::parse("s3").expect("name");
    let failed = Some(crate::events::types::Outcome::Failed);
    let cases = [
        ("first page", base.clone()),
        (
            "name",
            HistoryQuery {
                name: Some(name.clone()),
                ..base.clone()
            },
        ),
        (
            "outcome failed",
            HistoryQuery {
                outcome: failed,
                ..base.clone()
            },
        ),
        (
            "name + failed",
            HistoryQuery {
                name: Some(name),
                outcome: failed,
                ..base.clone()
            },
        ),
        (
            "before (page 2)",
            HistoryQuery {
                before: first.rows.last().map(|row| row.cursor()),
                ..base.clone()
            },
        ),
    ];
    for (label, query) in cases {
        let mut times = Vec::new();
        for _ in 0..300 {
            let t = std::time::Instant::now();
            let page = super::super::history::history(&readers.pool, &query)
                .await
                .expect("history");
            times.push(t.elapsed().as_secs_f64());
            assert!(!page.rows.is_empty(), "{label}");
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {label} | {:.3} ms | {:.3} ms |",
            times[times.len() / 2] * 1000.0,
            times[0] * 1000.0
        );
    }
}
