//! A database filled by the previous release (runs.info copies, events in
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

async fn history(readers: &super::super::Readers) -> Vec<(RunId, RunRecord)> {
    let query = HistoryQuery {
        user: USER,
        name: None,
        outcome: None,
        since: None,
        until: None,
        before: None,
        limit: 1000,
    };
    super::super::history::history(&readers.pool, &query)
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
    serde_json::from_str(&row.record.expect("a record")).expect("parses")
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
            "SELECT COUNT(*) FROM runs WHERE state = 'done' AND info <> ''",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(
        copies, 0,
        "every done run's record is read from its final event"
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
