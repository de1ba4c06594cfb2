//! What a schedule leaves behind (issue 30): a scheduled run says who
//! started it (`requested_by: "schedule"`) and which tick (`tick`) in
//! status, history (HTTP and `scriptd history`) and the event log; and
//! retention removes old tick records but never a schedule's latest,
//! which catch-up starts from.

use serde_json::{json, Value};

use crate::helpers::cli::{output, scriptd};
use crate::helpers::{spawn_app, unix_now};
use crate::schedules::{all_events, clock_past, ticks, wait_ticks};
use crate::schedules_restart::assert_contiguous;

fn tick_of(record: &Value) -> i64 {
    record["tick"].as_i64().expect("tick is an integer")
}

#[actix_web::test]
async fn a_scheduled_run_names_the_schedule_and_its_tick_in_status_history_and_the_log() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("-n -c=\"* * * * * *\" beat\n");
    let api = &app.api;

    // Act: one tick starts a run, which ends.
    let records = wait_ticks(api, "beat", |found| {
        found.iter().any(|r| r["run"].is_string())
    })
    .await;
    let record = records
        .iter()
        .find(|r| r["run"].is_string())
        .expect("a started tick");
    let (run, tick) = (record["run"].as_str().expect("id"), tick_of(record));
    api.wait_done(run).await;

    // Assert: status, history over HTTP and the CLI, and the log.
    let (_, status) = api.get(&format!("/scripts/v1/status/{run}")).await;
    assert_eq!(status["tick"], tick, "status: {status}");
    assert_eq!(status["requested_by"], "schedule", "status: {status}");
    let (_, history) = api.get("/scripts/v1/history?name=beat").await;
    let row = history["runs"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["id"] == run))
        .unwrap_or_else(|| panic!("the run is in history: {history}"))
        .clone();
    assert_eq!(
        (&row["requested_by"], &row["tick"]),
        (&json!("schedule"), &json!(tick)),
        "{row}"
    );
    let cli = output(scriptd(&app, &["history", "--name", "beat"])).await;
    assert_eq!(cli.code(), 0, "{cli}");
    // The table shows a run by its last 12 hex digits.
    let short = &run[run.len() - 12..];
    let line = cli
        .stdout
        .lines()
        .find(|l| l.starts_with(short))
        .unwrap_or_else(|| panic!("the run is listed: {cli}"));
    assert!(line.contains("schedule (due "), "{line}");
    let cli_json = output(scriptd(&app, &["history", "--name", "beat", "--json"])).await;
    let listed = cli_json
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["id"] == run)
        .unwrap_or_else(|| panic!("the run is in --json: {cli_json}"));
    assert_eq!(listed["tick"], tick, "{listed}");
    let queued = all_events(api)
        .await
        .into_iter()
        .find(|e| e.kind == "RunQueued" && e.run.map(|r| r.to_string()).as_deref() == Some(run))
        .expect("its RunQueued is in the log");
    assert_eq!(queued.data["origin"]["tick"], tick, "{}", queued.data);
}

#[actix_web::test]
async fn retention_removes_old_tick_records_but_keeps_the_latest_that_catch_up_starts_from() {
    // Arrange: an every-second schedule with -C=all ticks a few times,
    // then is paused.
    let app = spawn_app().await;
    app.exectab("-n -c=\"* * * * * *\" -C=all beat\n");
    let api = &app.api;
    wait_ticks(api, "beat", |found| found.len() >= 3).await;
    let (code, reply) = api.post("/scripts/v1/schedule/pause/beat", json!({})).await;
    assert_eq!(code, 200, "{reply}");
    let paused_at = unix_now();
    // A tick already firing when the pause came may still land.
    clock_past(paused_at + 1).await;
    let kept = ticks(api, "beat").await;
    let latest = kept.iter().map(tick_of).max().expect("ticks");

    // Act: prune everything recorded until now, as `admin prune` does
    // next to the live server.
    let config = app.config();
    let mut db = scriptd::events::store::open(&config.database())
        .await
        .expect("open the database");
    let report = scriptd::retention::prune(&mut db, &config, scriptd::clock::now() + 1.0, false)
        .await
        .expect("prune");
    drop(db);
    let left = ticks(api, "beat").await;

    // Resume a few seconds later: -C=all starts each tick missed while
    // paused, counted from the latest record.
    clock_past(paused_at + 3).await;
    let (code, reply) = api
        .post("/scripts/v1/schedule/resume/beat", json!({}))
        .await;
    assert_eq!(code, 200, "{reply}");
    let resumed = unix_now();
    let after = wait_ticks(api, "beat", |found| {
        found.iter().any(|r| r["tick"].as_i64() > Some(resumed + 1))
    })
    .await;

    // Assert
    assert!(
        report.events >= kept.len() as u64 - 1,
        "{report} for {kept:?}"
    );
    assert_eq!(left.len(), 1, "only the latest record stays: {left:?}");
    assert_eq!(tick_of(&left[0]), latest, "{left:?}");
    assert_contiguous(&after);
    let first = after.iter().map(tick_of).min();
    assert_eq!(first, Some(latest), "catch-up from it: {after:?}");
}
