//! A schedule's run says so in every state (issue 30): `requested_by:
//! "schedule"` and `tick` (its due instant) in the queued and running
//! `status/ID`, in the monitor's queued and start pushes, and on each of
//! its events in `GET events`, not only once it is done.

use std::collections::HashMap;

use scriptd::wire::IdsOrCount;
use serde_json::{json, Value};

use crate::helpers::ws::{monitor, next_push, subscribe};
use crate::helpers::{eventually_ok, spawn_app, Api};
use crate::schedules::{all_events, ticks};

/// The ids of `name`'s runs in `GET status`: (running, queued).
async fn live_ids(api: &Api, name: &str) -> (Vec<String>, Vec<String>) {
    let list = api.status_all().await;
    let ids = |of: Option<&IdsOrCount>| match of {
        Some(IdsOrCount::Ids(ids)) => ids.iter().map(ToString::to_string).collect(),
        Some(IdsOrCount::Count(n)) => panic!("the owner sees ids, not a count of {n}"),
        None => Vec::new(),
    };
    (ids(list.running.get(name)), ids(list.queued.get(name)))
}

/// The tick each run of `name` was queued for, from its tick records.
async fn tick_by_run(api: &Api, name: &str) -> HashMap<String, i64> {
    ticks(api, name)
        .await
        .into_iter()
        .filter_map(|r| Some((r["run"].as_str()?.to_owned(), r["tick"].as_i64()?)))
        .collect()
}

fn assert_scheduled(shape: &Value, tick: i64, what: &str) {
    assert_eq!(shape["requested_by"], "schedule", "{what}: {shape}");
    assert_eq!(shape["tick"], tick, "{what}: {shape}");
}

#[actix_web::test]
async fn a_schedules_run_carries_requested_by_and_its_tick_while_queued_and_running() {
    // Arrange: a verbose monitor of every script, registered before
    // anything is scheduled, so it sees the first run queued and started.
    let app = spawn_app().await;
    let api = &app.api;
    let mut ws = app.ws().await;
    let mut request = monitor(7, "");
    request["verbose"] = json!(true);
    subscribe(&mut ws, request).await;

    // Act: every second, one run at a time, each sleeping past the test.
    app.exectab("-s=1 -m=3 -c=\"* * * * * *\" nap sleep 30\n");
    let (running, queued) = eventually_ok("a nap running and one queued", || async {
        match live_ids(api, "nap").await {
            (running, queued) if !running.is_empty() && !queued.is_empty() => {
                Ok((running[0].clone(), queued[0].clone()))
            }
            other => Err(format!("running, queued so far: {other:?}")),
        }
    })
    .await;
    let running_status = api.status(&running).await;
    let queued_status = api.status(&queued).await;
    let mut pushes = Vec::new();
    while !pushes
        .iter()
        .any(|p: &Value| p["id"] == running.as_str() && p["state"] == "running")
    {
        pushes.push(next_push(&mut ws).await);
    }

    // Assert: status/ID in both live states.
    let ticks = tick_by_run(api, "nap").await;
    let (running_tick, queued_tick) = (ticks[&running], ticks[&queued]);
    assert_eq!(running_status["state"], "running", "{running_status}");
    assert_scheduled(&running_status.json, running_tick, "running status");
    assert_eq!(queued_status["state"], "queued", "{queued_status}");
    assert_scheduled(&queued_status.json, queued_tick, "queued status");
    // The monitor: the run's queued push and its start push.
    for state in ["queued", "running"] {
        let push = pushes
            .iter()
            .find(|p| p["id"] == running.as_str() && p["state"] == state)
            .unwrap_or_else(|| panic!("a {state} push of {running}: {pushes:?}"));
        assert_scheduled(push, running_tick, &format!("{state} push"));
    }
    // The event log: the run's events that change its status say whose
    // it is (not the process's own, such as `RunSpawned`).
    let events = all_events(api).await;
    let shown: Vec<&str> = events
        .iter()
        .filter(|e| e.run.map(|r| r.to_string()).as_ref() == Some(&running))
        .filter(|e| ["RunQueued", "RunStarted", "RunProgress"].contains(&e.kind.as_str()))
        .map(|e| {
            assert_eq!(e.requested_by.as_deref(), Some("schedule"), "{e:?}");
            assert_eq!(e.tick, Some(running_tick), "{e:?}");
            e.kind.as_str()
        })
        .collect();
    assert!(
        shown.contains(&"RunQueued") && shown.contains(&"RunStarted"),
        "{shown:?}"
    );
    api.kill(&running).await;
}
