//! The WebSocket monitor: push order and shapes, toggling, the empty name,
//! verbose pushes and lossless reconnect with `after`.

use serde_json::{json, Value};

use crate::helpers::ws::{
    assert_no_push_pending, assert_seq_increasing, call_quiet, monitor, next_push, of_run,
    pushes_until_done, states, subscribe,
};
use crate::helpers::{spawn_app, spawn_app_over, Scheme};

#[actix_web::test]
async fn a_monitor_gets_a_runs_start_push_before_its_finish_push_with_its_registration_sequence() {
    start_push_before_finish_push(Scheme::Plain).await;
}

#[actix_web::test]
async fn a_monitor_over_wss_gets_a_runs_start_push_before_its_finish_push() {
    start_push_before_finish_push(Scheme::Tls).await;
}

async fn start_push_before_finish_push(scheme: Scheme) {
    // Arrange
    let app = spawn_app_over(scheme, |_| {}).await;
    app.exectab("quick /bin/sh -c \"echo hi; exit 3\"\nother /bin/sh -c \"exit 0\"");
    let mut ws = app.ws().await;
    subscribe(&mut ws, monitor(7, "quick")).await;

    // Act
    let ignored = app.run(json!({"name": "other"})).await;
    app.wait_done(&ignored).await;
    let id = app.run(json!({"name": "quick"})).await;

    // Assert
    let start = next_push(&mut ws).await;
    assert_eq!(
        start["id"], id,
        "the first push is quick's, not other's: {start}"
    );
    assert_eq!(start["success"], true);
    assert_eq!(start["name"], "quick");
    assert_eq!(start["state"], "running");
    assert_eq!(start["task"], false);
    assert_eq!(start["api_sequence"], 7);
    let finish = next_push(&mut ws).await;
    assert_eq!(finish["id"], id);
    assert_eq!(finish["state"], "done");
    assert_eq!(finish["outcome"], "failed");
    assert_eq!(finish["exit_code"], 3);
    assert_eq!(finish["first"], "hi");
    assert_eq!(finish["api_sequence"], 7);
    assert!(finish["args"].is_object(), "owners see args: {finish}");
    assert!(finish["seq"].as_i64() > start["seq"].as_i64(), "seq grows");
    let status = app.wait_done(&id).await;
    assert_eq!(
        status["finished"], finish["finished"],
        "push matches status"
    );
    assert_no_push_pending(&mut ws, "after the finish push").await;
}

#[actix_web::test]
async fn a_monitor_toggled_off_gets_no_more_pushes() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("quick /bin/sh -c \"exit 0\"");
    let mut off = app.ws().await;
    subscribe(&mut off, monitor(1, "quick")).await;
    let reply = call_quiet(&mut off, monitor(2, "quick")).await;
    assert_eq!(
        reply,
        json!({"success": true, "name": "quick", "enabled": false, "api_sequence": 2})
    );
    let mut on = app.ws().await;
    subscribe(&mut on, monitor(3, "quick")).await;

    // Act
    let id = app.run(json!({"name": "quick"})).await;

    // Assert
    let pushes = pushes_until_done(&mut on, &id).await;
    assert_eq!(states(&of_run(&pushes, &id)), ["running", "done"]);
    assert_no_push_pending(&mut off, "the toggled-off socket").await;
}

#[actix_web::test]
async fn a_monitor_of_the_empty_name_gets_pushes_of_every_script() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("one /bin/sh -c \"exit 0\"\ntwo /bin/sh -c \"exit 0\"");
    let mut ws = app.ws().await;
    subscribe(&mut ws, monitor(5, "")).await;

    // Act
    let first = app.run(json!({"name": "one"})).await;
    app.wait_done(&first).await;
    let second = app.run(json!({"name": "two"})).await;

    // Assert
    let pushes = pushes_until_done(&mut ws, &second).await;
    assert_eq!(states(&of_run(&pushes, &first)), ["running", "done"]);
    assert_eq!(states(&of_run(&pushes, &second)), ["running", "done"]);
    assert_eq!(pushes.len(), 4, "only start and finish pushes: {pushes:?}");
    assert!(pushes.iter().all(|p| p["api_sequence"] == 5));
    assert_seq_increasing(&pushes, 0);
}

#[actix_web::test]
async fn a_verbose_monitor_also_gets_queued_progress_and_cancelled_pushes() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("steps /bin/sh -c \"echo '[1/2] A'; echo '[2/2] B'\"\nhold /bin/sleep @@1");
    let mut verbose = app.ws().await;
    let mut request = monitor(1, "");
    request["verbose"] = json!(true);
    subscribe(&mut verbose, request).await;
    let mut plain = app.ws().await;
    subscribe(&mut plain, monitor(2, "")).await;

    // Act: one hold runs, a second waits and is cancelled, then the first is
    // killed and a script with two progress steps runs.
    let holding = app.run(json!({"name": "hold", "args": [30]})).await;
    app.wait_status(&holding, "hold running", |s| s["state"] == "running")
        .await;
    let waiting = app.run(json!({"name": "hold", "args": [30]})).await;
    app.cancel(&waiting).await;
    app.kill(&holding).await;
    app.wait_done(&holding).await;
    let steps = app.run(json!({"name": "steps"})).await;

    // Assert
    let all = pushes_until_done(&mut verbose, &steps).await;
    assert_seq_increasing(&all, 0);
    assert_eq!(
        states(&of_run(&all, &holding)),
        ["queued", "running", "done"]
    );
    let cancelled = of_run(&all, &waiting);
    assert_eq!(states(&cancelled), ["queued", "done"]);
    assert_eq!(cancelled[1]["outcome"], "cancelled");
    let stepped = of_run(&all, &steps);
    let shape = states(&stepped);
    assert_eq!(
        shape.first().map(String::as_str),
        Some("queued"),
        "{stepped:?}"
    );
    assert_eq!(
        shape.last().map(String::as_str),
        Some("done"),
        "{stepped:?}"
    );
    let running: Vec<&&Value> = stepped.iter().filter(|p| p["state"] == "running").collect();
    assert!(
        running.len() >= 2,
        "a start push and a progress push: {stepped:?}"
    );
    assert_eq!(running[0]["task"], false, "the start push has no task yet");
    let progress = running.last().expect("a progress push");
    assert_eq!(
        progress["task"], "B",
        "the last progress push shows the last task"
    );
    assert_eq!(progress["tasknum"], 1);
    assert_eq!(progress["maxtasks"], 2);

    let plain_pushes = pushes_until_done(&mut plain, &steps).await;
    assert_eq!(
        states(&of_run(&plain_pushes, &holding)),
        ["running", "done"]
    );
    assert!(
        of_run(&plain_pushes, &waiting).is_empty(),
        "no cancelled push without verbose"
    );
    let plain_steps = of_run(&plain_pushes, &steps);
    assert_eq!(states(&plain_steps), ["running", "done"]);
    assert_eq!(plain_steps[0]["task"], false);
}

#[actix_web::test]
async fn a_monitor_reconnecting_with_after_gets_every_missed_push_once_in_order_then_live_ones() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("quick /bin/sh -c \"exit 0\"");
    let mut first = app.ws().await;
    subscribe(&mut first, monitor(1, "quick")).await;
    let seen = app.run(json!({"name": "quick"})).await;
    let pushes = pushes_until_done(&mut first, &seen).await;
    let last_seq = pushes.last().expect("finish push")["seq"]
        .as_i64()
        .expect("seq");
    drop(first);
    let mut missed = Vec::new();
    for _ in 0..5 {
        let id = app.run(json!({"name": "quick"})).await;
        app.wait_done(&id).await;
        missed.push(id);
    }

    // Act
    let mut ws = app.ws().await;
    let mut request = monitor(9, "quick");
    request["after"] = json!(last_seq);
    let mut replayed = Vec::new();
    let reply = ws.call(request, &mut replayed).await;
    assert_eq!(
        reply,
        json!({"success": true, "name": "quick", "enabled": true, "api_sequence": 9})
    );
    while replayed.iter().filter(|p| p["state"] == "done").count() < missed.len() {
        replayed.push(next_push(&mut ws).await);
    }
    let live = app.run(json!({"name": "quick"})).await;
    let live_pushes = pushes_until_done(&mut ws, &live).await;

    // Assert
    let finished: Vec<&Value> = replayed.iter().filter(|p| p["state"] == "done").collect();
    let finished_ids: Vec<&str> = finished
        .iter()
        .map(|p| p["id"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        finished_ids, missed,
        "every missed finish push once, in order"
    );
    for id in &missed {
        assert_eq!(
            states(&of_run(&replayed, id)),
            ["running", "done"],
            "run {id}"
        );
    }
    assert_eq!(
        replayed.len(),
        2 * missed.len(),
        "nothing else replayed: {replayed:?}"
    );
    assert!(
        of_run(&replayed, &seen).is_empty(),
        "nothing at or before `after`"
    );
    assert!(replayed.iter().all(|p| p["api_sequence"] == 9));
    assert_eq!(
        states(&live_pushes.iter().collect::<Vec<_>>()),
        ["running", "done"]
    );
    assert_eq!(live_pushes[0]["id"], live);
    let mut all = replayed.clone();
    all.extend(live_pushes);
    assert_seq_increasing(&all, last_seq);
    assert_no_push_pending(&mut ws, "after the live push").await;
}
