//! Recurring schedules (issue 30) against a real server: an every-second
//! schedule runs once per tick, pausing holds and resuming catches up,
//! `-m` full is recorded as a skipped tick, `GET schedules` shows what is
//! scheduled. Ticks are read back from the event log (`GET events`).
//! Waits are on conditions (ticks in the log, the clock past an instant),
//! never a fixed sleep.

use std::collections::BTreeSet;

use scriptd::wire::{EventRow, EventsRequest};
use serde_json::{json, Value};

use crate::helpers::{eventually_async, eventually_ok, spawn_app, unix_now, Api};

/// Every event of the admin's log, oldest first.
pub async fn all_events(api: &Api) -> Vec<EventRow> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = api
            .events(&EventsRequest {
                after,
                limit: Some(1000),
                run: None,
            })
            .await;
        let page = page.typed().clone();
        if page.events.is_empty() {
            return out;
        }
        after = page.next;
        out.extend(page.events);
    }
}

/// The `ScheduleTicked` records of `name`, oldest first.
pub async fn ticks(api: &Api, name: &str) -> Vec<Value> {
    all_events(api)
        .await
        .into_iter()
        .filter(|e| e.kind == "ScheduleTicked" && e.data["name"] == name)
        .map(|e| e.data)
        .collect()
}

/// Waits until the wall clock has passed `instant` (a condition on time
/// itself, which is what a schedule waits for).
pub async fn clock_past(instant: i64) {
    eventually_async("the clock to pass the instant", || async move {
        unix_now() > instant
    })
    .await;
}

fn tick_of(record: &Value) -> i64 {
    record["tick"].as_i64().expect("tick is an integer")
}

#[actix_web::test]
async fn an_every_second_schedule_runs_once_per_tick_with_consecutive_ticks() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("-n -c=\"* * * * * *\" beat\n");

    // Act: five ticks go by.
    let api = &app.api;
    let records = eventually_ok_ticks(api, "beat", 5).await;

    // Assert: one record per second, each with its own run, no gap.
    let five = &records[..5];
    let instants: Vec<i64> = five.iter().map(tick_of).collect();
    for pair in instants.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "consecutive ticks: {instants:?}");
    }
    let runs: BTreeSet<String> = five
        .iter()
        .map(|r| {
            r["run"]
                .as_str()
                .expect("each tick queued a run")
                .to_owned()
        })
        .collect();
    assert_eq!(runs.len(), 5, "distinct runs: {five:?}");
    let run = runs.iter().next().expect("a run");
    let done = api.wait_done(run).await;
    assert_eq!(done["outcome"], "noexec");
    let its_tick = five
        .iter()
        .find(|r| r["run"] == run.as_str())
        .map(tick_of)
        .expect("its tick");
    assert_eq!(done["tick"], its_tick, "status carries the tick: {done}");
    let events = all_events(api).await;
    let queued = events
        .iter()
        .find(|e| e.kind == "RunQueued" && e.run.map(|r| r.to_string()).as_ref() == Some(run))
        .expect("its RunQueued is in the log");
    assert!(
        queued.data["origin"]["tick"].is_i64(),
        "the run carries its tick: {}",
        queued.data
    );
    let (code, history) = api.get("/scripts/v1/history?name=beat").await;
    assert_eq!(code, 200, "{history}");
    let rows = history["runs"].as_array().expect("history rows");
    let row = rows
        .iter()
        .find(|r| r["id"] == run.as_str())
        .unwrap_or_else(|| panic!("the run is in history: {history}"));
    assert_eq!(row["requested_by"], "schedule", "{row}");
    assert_eq!(row["tick"], its_tick, "{row}");
}

/// Waits until `name` has at least `n` tick records, and returns them.
async fn eventually_ok_ticks(api: &Api, name: &str, n: usize) -> Vec<Value> {
    wait_ticks(api, name, |found| found.len() >= n).await
}

/// Waits until `name`'s tick records satisfy `done`, and returns them.
pub async fn wait_ticks(api: &Api, name: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let done = &done;
    eventually_ok("the ticks to be recorded", || async move {
        let found = ticks(api, name).await;
        match done(&found) {
            true => Ok(found),
            false => Err(format!("{} records so far", found.len())),
        }
    })
    .await
}

#[actix_web::test]
async fn get_schedules_shows_expression_zone_mode_next_instants_and_last_tick() {
    let app = spawn_app().await;
    app.exectab(
        "-n -c=\"* * * * * *\" -C=all every\n\
         -n -c=@daily -z=Europe/Berlin nightly\n\
         -n plain\n",
    );
    let api = &app.api;
    eventually_ok_ticks(api, "every", 1).await;

    let (code, reply) = api.get("/scripts/v1/schedules").await;

    assert_eq!(code, 200, "{reply}");
    let list = reply["schedules"].as_array().expect("schedules");
    let names: Vec<&str> = list.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        ["every", "nightly"],
        "only scheduled scripts: {reply}"
    );
    let every = &list[0];
    assert_eq!(every["cron"], "* * * * * *");
    assert_eq!(every["zone"], "UTC", "the server's default zone");
    assert_eq!(every["catch_up"], "all");
    assert_eq!(every["paused"], false);
    let next: Vec<i64> = serde_json::from_value(every["next"].clone()).expect("next");
    assert_eq!(next.len(), 3, "{every}");
    assert!(
        next[0] >= unix_now() - 1 && next[1] == next[0] + 1,
        "{next:?}"
    );
    assert!(every["last"]["tick"].is_i64(), "{every}");
    assert!(every["last"]["id"].is_string(), "{every}");
    let nightly = &list[1];
    assert_eq!(nightly["zone"], "Europe/Berlin");
    assert_eq!(nightly["catch_up"], "once", "the default mode");
    assert_eq!(nightly["last"], Value::Null, "never ticked");
}

#[actix_web::test]
async fn a_paused_schedule_starts_nothing_and_resuming_records_the_missed_ticks() {
    // Arrange: skip mode, so the resumed schedule records the ticks missed
    // while paused without starting them.
    let app = spawn_app().await;
    app.exectab("-n -c=\"* * * * * *\" -C=skip beat\n");
    let api = &app.api;
    eventually_ok_ticks(api, "beat", 1).await;

    // Act: pause, let three seconds pass, resume.
    let (code, reply) = api.post("/scripts/v1/schedule/pause/beat", json!({})).await;
    assert_eq!((code, &reply["success"]), (200, &json!(true)), "{reply}");
    let paused_at = unix_now();
    let before = ticks(api, "beat").await.len();
    let (_, shown) = api.get("/scripts/v1/schedules").await;
    assert_eq!(shown["schedules"][0]["paused"], true, "{shown}");
    clock_past(paused_at + 3).await;
    let during = ticks(api, "beat").await;
    let (code, reply) = api
        .post("/scripts/v1/schedule/resume/beat", json!({}))
        .await;
    assert_eq!((code, &reply["success"]), (200, &json!(true)), "{reply}");

    // Assert: nothing ticked while paused (a tick already firing when the
    // pause came may land), then one record for the missed ticks, then
    // ticks again.
    assert!(during.len() <= before + 1, "paused: {during:?}");
    let records = eventually_ok_ticks(api, "beat", during.len() + 2).await;
    let summary = records
        .iter()
        .find(|r| r["skipped"] == "paused")
        .unwrap_or_else(|| panic!("the missed ticks are recorded: {records:?}"));
    assert!(
        summary["run"].is_null(),
        "skip mode starts nothing: {summary}"
    );
    assert!(
        summary["missed"]["count"].as_u64().expect("count") >= 2,
        "{summary}"
    );
    let after = records.last().expect("a tick after resuming");
    assert!(after["run"].is_string(), "ticking again: {after}");
}

#[actix_web::test]
async fn pausing_a_script_without_a_schedule_or_as_a_guest_is_refused() {
    let app = spawn_app().await;
    app.exectab("-n plain\n-n -c=@hourly hourly\n");
    let api = &app.api;
    eventually_async("the timer to read the exectab", || async {
        let (_, reply) = api.get("/scripts/v1/schedules").await;
        reply["schedules"].as_array().is_some_and(|s| s.len() == 1)
    })
    .await;
    let (code, reply) = api
        .post("/scripts/v1/schedule/pause/plain", json!({}))
        .await;
    assert_eq!(reply["errorcode"], "invalid_name", "{code} {reply}");
    let (_, guest_key) = api
        .create_guest("hourly", [true, true, true, true], unix_now() + 3600)
        .await;
    let (_, reply) = api
        .call_with(
            "POST",
            "/scripts/v1/schedule/pause/hourly",
            Some(&guest_key),
            Some(json!({})),
        )
        .await;
    assert_eq!(reply["errorcode"], "access_denied", "owner only: {reply}");
    let (code, reply) = api
        .call_with("GET", "/scripts/v1/schedules", Some(&guest_key), None)
        .await;
    assert_eq!(code, 200, "a guest with status sees its script: {reply}");
    assert_eq!(reply["schedules"][0]["name"], "hourly");
}

#[actix_web::test]
async fn a_tick_that_finds_the_queue_full_is_recorded_as_skipped() {
    // Arrange: -m=1 and a run that outlasts the test's ticks.
    let app = spawn_app().await;
    app.exectab("-m=1 -c=\"* * * * * *\" slow sleep 30\n");
    let api = &app.api;

    // Act: the first tick's run holds the queue; later ticks find it full.
    let found = wait_ticks(api, "slow", |found| {
        found.iter().any(|r| r["skipped"] == "queue_full")
    })
    .await;

    // Assert: one run started, every other tick says why it did not.
    let started: Vec<&Value> = found.iter().filter(|r| r["run"].is_string()).collect();
    assert_eq!(started.len(), 1, "{found:?}");
    let id = started[0]["run"].as_str().expect("id");
    for record in found.iter().filter(|r| r["run"].is_null()) {
        assert_eq!(record["skipped"], "queue_full", "{record}");
    }
    api.kill(id).await;
}

#[actix_web::test]
async fn exectab_check_names_file_line_and_why_for_bad_schedules() {
    use crate::helpers::cli::{bare, output};
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("exectab.txt");
    std::fs::write(
        &file,
        "-n -c=\"*/5 * * * *\" -z=Europe/Berlin good\n\
         -n -c=\"99 * * * *\" badcron\n\
         -n -c=@daily -z=Atlantis/Capital badzone\n\
         -c=@hourly needsargs /bin/echo @@1\n",
    )
    .expect("write");

    let checked = output(bare(&["exectab", "check", file.to_str().expect("path")])).await;

    assert_eq!(checked.code(), 1, "{checked}");
    let name = file.display().to_string();
    for (line, why) in [
        (2, "bad cron expression"),
        (3, "unknown time zone 'Atlantis/Capital'"),
        (4, "cannot be scheduled"),
    ] {
        let found = checked
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("{name}:{line}: ")) && l.contains(why));
        assert!(found, "line {line} says {why:?}: {checked}");
    }
    assert!(
        checked.stdout.contains("1 script(s), 3 problem(s)"),
        "{checked}"
    );
}

#[actix_web::test]
async fn the_cli_lists_schedules_and_pauses_and_resumes_them() {
    use crate::helpers::cli::{output, scriptd};
    let app = spawn_app().await;
    app.exectab("-n -c=@hourly -z=Europe/Berlin hourly\n");
    let api = &app.api;
    eventually_async("the timer to read the exectab", || async {
        let (_, reply) = api.get("/scripts/v1/schedules").await;
        reply["schedules"].as_array().is_some_and(|s| s.len() == 1)
    })
    .await;

    let listed = output(scriptd(&app, &["schedules"])).await;
    let paused = output(scriptd(&app, &["schedule", "pause", "hourly"])).await;
    let listed_paused = output(scriptd(&app, &["schedules", "--json"])).await;
    let resumed = output(scriptd(&app, &["schedule", "resume", "hourly"])).await;
    let unknown = output(scriptd(&app, &["schedule", "pause", "nosuch"])).await;

    assert_eq!(listed.code(), 0, "{listed}");
    let row = listed.stdout.lines().nth(1).unwrap_or_default().to_owned();
    assert!(row.starts_with("hourly"), "{listed}");
    assert!(row.contains("@hourly (Europe/Berlin, -C=once)"), "{listed}");
    assert!(row.contains("(in "), "the next start from now: {listed}");
    assert_eq!(paused.code(), 0, "{paused}");
    assert!(
        paused.stdout.contains("paused the schedule of hourly"),
        "{paused}"
    );
    assert_eq!(
        listed_paused.json()["schedules"][0]["paused"],
        true,
        "{listed_paused}"
    );
    assert_eq!(resumed.code(), 0, "{resumed}");
    let (_, reply) = api.get("/scripts/v1/schedules").await;
    assert_eq!(reply["schedules"][0]["paused"], false, "{reply}");
    assert_ne!(unknown.code(), 0, "{unknown}");
}
