//! Schedules across a crash: the server is killed with SIGKILL while an
//! every-second schedule ticks, stays down for a few ticks, and comes
//! back. For each `-C` mode the missed ticks are recorded once, started
//! as the mode says, and the ticks recorded before, during and after the
//! outage cover every second exactly once (no gap, no double).

use serde_json::Value;

use crate::helpers::child::{Fixture, Server};
use crate::helpers::unix_now;
use crate::schedules::{clock_past, ticks, wait_ticks};

/// The seconds each record stands for: its tick, up to `missed.last`.
fn covered(record: &Value) -> (i64, i64) {
    let tick = record["tick"].as_i64().expect("tick");
    let last = record["missed"]["last"].as_i64().unwrap_or(tick);
    (tick, last)
}

/// The records cover consecutive seconds, each once, in log order.
pub fn assert_contiguous(records: &[Value]) {
    let mut spans: Vec<(i64, i64)> = records.iter().map(covered).collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert_eq!(
            pair[1].0,
            pair[0].1 + 1,
            "no gap and no double between {:?} and {:?}: {records:#?}",
            pair[0],
            pair[1]
        );
    }
}

/// Runs the crash scenario for `mode`; returns every record of `beat`.
async fn crash_and_restart(mode: &str) -> Vec<Value> {
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "0").await;
    fixture.exectab(&format!("-n -c=\"* * * * * *\" -C={mode} beat\n"));
    crate::helpers::eventually_async("two ticks before the crash", || async {
        ticks(&server, "beat").await.len() >= 2
    })
    .await;

    server.kill9();
    let down = unix_now();
    clock_past(down + 3).await;
    let server = Server::start(&fixture.storage, "2", "0").await;
    let back = unix_now();
    let records = wait_ticks(&server, "beat", |found| {
        found.iter().any(|r| r["tick"].as_i64() > Some(back + 1))
    })
    .await;
    let _ = server.terminate().await;
    assert_contiguous(&records);
    records
}

#[actix_web::test]
async fn skip_records_the_missed_ticks_and_starts_none_of_them() {
    let records = crash_and_restart("skip").await;
    let summary = records
        .iter()
        .find(|r| r["skipped"] == "missed")
        .unwrap_or_else(|| panic!("the missed ticks are recorded: {records:#?}"));
    assert!(summary["run"].is_null(), "{summary}");
    assert!(summary["missed"]["count"].as_u64() >= Some(2), "{summary}");
}

#[actix_web::test]
async fn once_starts_one_run_for_all_the_missed_ticks() {
    let records = crash_and_restart("once").await;
    let summaries: Vec<&Value> = records.iter().filter(|r| r["missed"].is_object()).collect();
    assert_eq!(summaries.len(), 1, "{records:#?}");
    assert!(summaries[0]["run"].is_string(), "one run: {}", summaries[0]);
    assert!(summaries[0]["missed"]["count"].as_u64() >= Some(2));
}

#[actix_web::test]
async fn all_starts_one_run_per_missed_tick() {
    let records = crash_and_restart("all").await;
    assert!(
        records
            .iter()
            .all(|r| r["run"].is_string() && r["missed"].is_null()),
        "each tick its own run: {records:#?}"
    );
}
