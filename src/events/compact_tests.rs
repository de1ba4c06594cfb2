//! The compact stored form gives back every event exactly: each golden
//! payload round-trips, and a SQLite log read back in either form (the
//! compact one and the full one an older release wrote) gives the same
//! events.

use serde_json::Value;

use super::*;
use crate::events::types::NewEvent;
use crate::ids::UserId;

fn golden_events() -> Vec<(String, Event)> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let payloads: Vec<Value> = serde_json::from_str(&text).expect("array");
        for (i, payload) in payloads.into_iter().enumerate() {
            let what = format!("{}[{i}]", path.display());
            let event: Event = serde_json::from_value(payload).expect(&what);
            out.push((what, event));
        }
    }
    assert!(out.len() > 20, "the fixtures hold every kind");
    out
}

#[test]
fn every_golden_event_round_trips_through_the_compact_form() {
    for (what, event) in golden_events() {
        let stream = NewEvent::new(UserId(1), event.clone()).stream();
        let stored = encode(&event, &stream).expect("encode");
        let full = serde_json::to_string(&event).expect("full");
        assert!(!stored.starts_with(FULL_PREFIX), "{what}: {stored}");
        assert!(stored.len() < full.len(), "{what}: {stored} vs {full}");
        let back: Event =
            decode(event.kind(), event.version(), Some(&stream), &stored).expect(&what);
        assert_eq!(back, event, "{what}: {stored}");
        // The full form (every row written before) reads as it is.
        let old: Event = decode(event.kind(), event.version(), Some(&stream), &full).expect(&what);
        assert_eq!(old, event, "{what}");
        assert!(matches!(
            restore(event.kind(), Some(&stream), &full),
            Cow::Borrowed(_)
        ));
    }
}

#[test]
fn a_finished_run_leaves_out_the_rows_fields_and_the_defaults() {
    let finished = golden_events()
        .into_iter()
        .find(|(_, e)| e.kind() == "RunFinished")
        .expect("a RunFinished fixture")
        .1;
    let stream = finished.run_id().expect("a run").to_string();
    let stored = encode(&finished, &stream).expect("encode");
    for absent in ["\"kind\"", "\"run\"", ":null", "\"removelog\":false"] {
        assert!(!stored.contains(absent), "{absent} in {stored}");
    }
}

#[test]
fn an_event_whose_run_is_not_its_stream_keeps_its_full_form() {
    let (_, event) = golden_events()
        .into_iter()
        .find(|(_, e)| e.kind() == "RunStarted")
        .expect("a RunStarted fixture");
    let other = crate::ids::RunId::new().to_string();
    let stored = encode(&event, &other).expect("encode");
    assert!(stored.starts_with(FULL_PREFIX), "{stored}");
    let back: Event = decode("RunStarted", 1, Some(&other), &stored).expect("decode");
    assert_eq!(back, event);
}

#[test]
fn an_empty_compact_object_gets_its_fields_back() {
    let run = crate::ids::RunId::new();
    let forgotten = Event::RunForgotten { run };
    let stored = encode(&forgotten, &run.to_string()).expect("encode");
    assert_eq!(stored, "{}");
    let back: Event = decode("RunForgotten", 1, Some(&run.to_string()), &stored).expect("decode");
    assert_eq!(back, forgotten);
}

/// The events of user 1 as the store's reader returns them.
async fn read_back(readers: &crate::events::sqlite::Readers) -> Vec<Event> {
    crate::events::sqlite::query::events_after(&readers.pool, UserId(1), 0, 10_000, None)
        .await
        .expect("read")
        .into_iter()
        .map(|stored| stored.event)
        .collect()
}

#[tokio::test]
async fn a_log_in_the_old_full_form_reads_back_as_the_same_events() {
    // Arrange: every golden event appended (the store refuses a few, such
    // as a second final event of one run: those are left out).
    let dir = tempfile::tempdir().expect("dir");
    let (mut writer, readers) = crate::events::sqlite::open(&dir.path().join("t.db"))
        .await
        .expect("db");
    let groups: Vec<Vec<NewEvent>> = golden_events()
        .into_iter()
        .map(|(_, e)| vec![NewEvent::new(UserId(1), e)])
        .collect();
    let results = writer.commit(&groups).expect("commit");
    let appended: Vec<Event> = results
        .into_iter()
        .flatten()
        .flatten()
        .map(|stored| stored.event)
        .collect();
    assert!(appended.len() > 20, "{} appended", appended.len());

    // Act and assert: the compact rows read back as the events appended.
    let conn = writer.connection();
    let full: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE data LIKE '{\"kind\":%'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(full, 0, "every row was written compact");
    assert_eq!(read_back(&readers).await, appended);

    // The rows rewritten as an older release stored them (the serde form,
    // tag first) read back the same.
    let rows: Vec<(i64, String, i64, String, String)> = conn
        .prepare("SELECT seq, kind, version, stream, data FROM events")
        .expect("prepare")
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (seq, kind, version, stream, data) in rows {
        let event: Event = decode(&kind, version, Some(&stream), &data).expect("decode");
        let old = serde_json::to_string(&event).expect("full");
        conn.execute(
            "UPDATE events SET data = ? WHERE seq = ?",
            rusqlite::params![old, seq],
        )
        .expect("rewrite");
    }
    assert_eq!(read_back(&readers).await, appended);
}

/// What the compact form adds to the writer thread per event: the full
/// form is serialized for the read model and the outbox anyway, the
/// compact one on top. Not a test: `cargo test --release --lib
/// compact_encode_cost -- --ignored --nocapture`.
#[test]
#[ignore]
fn compact_encode_cost() {
    for kind in ["RunQueued", "RunStarted", "RunSpawned", "RunFinished"] {
        let (_, event) = golden_events()
            .into_iter()
            .find(|(_, e)| e.kind() == kind)
            .expect("a fixture");
        let stream = event.run_id().expect("a run").to_string();
        let rounds = 100_000;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(
                serde_json::to_string(std::hint::black_box(&event)).expect("full"),
            );
        }
        let full = t.elapsed().as_secs_f64() / rounds as f64 * 1e6;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(encode(std::hint::black_box(&event), &stream).expect("compact"));
        }
        let compact = t.elapsed().as_secs_f64() / rounds as f64 * 1e6;
        println!("| {kind} | {full:.2} µs | {compact:.2} µs |");
    }
}
