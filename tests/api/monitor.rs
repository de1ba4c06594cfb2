//! The WebSocket API and the monitor hub: push order and shapes, toggling,
//! verbose pushes, guest rights, envelope errors, per-message key checks,
//! lossless reconnect with `after`, slow readers and many sockets.

use std::time::Instant;

use awc::ws::{Frame, Message};
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, WsClient, DEADLINE};

/// A monitor (un)registration request.
fn monitor(sequence: i64, name: &str) -> Value {
    json!({
        "api_method": "GET",
        "api_path": "/scripts/v1/monitor",
        "api_sequence": sequence,
        "name": name,
    })
}

/// Sends `request` and returns its reply; panics if a push came first.
async fn call_quiet(ws: &mut WsClient, request: Value) -> Value {
    let mut pushes = Vec::new();
    let reply = ws.call(request, &mut pushes).await;
    assert!(
        pushes.is_empty(),
        "no push expected before the reply, got {pushes:?}"
    );
    reply
}

/// Registers a monitor and checks the reply shape exactly.
async fn subscribe(ws: &mut WsClient, request: Value) {
    let sequence = request["api_sequence"].clone();
    let name = request["name"].clone();
    let reply = call_quiet(ws, request).await;
    assert_eq!(
        reply,
        json!({"success": true, "name": name, "enabled": true, "api_sequence": sequence}),
        "monitor registration reply"
    );
}

/// Proves nothing was pushed to `ws` before now: a request sent now must be
/// answered before any push. Pushes the hub already handed to the session
/// are in its mailbox before this request arrives, so they would come first.
async fn assert_no_push_pending(ws: &mut WsClient, what: &str) {
    let request =
        json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 424242});
    let mut pushes = Vec::new();
    let reply = ws.call(request, &mut pushes).await;
    assert_eq!(reply["success"], true, "status reply: {reply}");
    assert!(pushes.is_empty(), "{what}: unexpected pushes {pushes:?}");
}

/// The next message, which must be a push (has `seq`).
async fn next_push(ws: &mut WsClient) -> Value {
    let push = ws.recv().await.expect("socket open");
    assert!(push["seq"].is_i64(), "a push with an integer seq: {push}");
    push
}

/// Receives pushes until the `done` push of run `id`; returns all of them.
async fn pushes_until_done(ws: &mut WsClient, id: &str) -> Vec<Value> {
    let mut pushes = Vec::new();
    loop {
        let push = next_push(ws).await;
        let done = push["id"] == id && push["state"] == "done";
        pushes.push(push);
        if done {
            return pushes;
        }
    }
}

fn of_run<'a>(pushes: &'a [Value], id: &str) -> Vec<&'a Value> {
    pushes.iter().filter(|p| p["id"] == id).collect()
}

fn states(pushes: &[&Value]) -> Vec<String> {
    pushes
        .iter()
        .map(|p| p["state"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn assert_seq_increasing(pushes: &[Value], after: i64) {
    let mut last = after;
    for push in pushes {
        let seq = push["seq"].as_i64().expect("integer seq");
        assert!(seq > last, "seq {seq} must exceed {last}: {pushes:?}");
        last = seq;
    }
}

/// A guest of the admin for `script` with the given monitor right.
async fn create_guest(
    app: &TestApp,
    script: &str,
    monitor: bool,
    status: bool,
) -> (String, String) {
    let expires = unix_now() + 3600;
    let (code, reply) = app
        .post(
            "/scripts/v1/guest/create",
            json!({"name": script, "run": false, "cancel": false, "status": status,
                   "monitor": monitor, "expires": expires}),
        )
        .await;
    assert_eq!(code, 200, "guest created: {reply}");
    let id = reply["id"].as_str().expect("guest id").to_owned();
    let key = reply["info"]["apikey"]
        .as_str()
        .expect("guest apikey")
        .to_owned();
    (id, key)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after epoch")
        .as_secs() as i64
}

#[actix_web::test]
async fn a_monitor_gets_a_runs_start_push_before_its_finish_push_with_its_registration_sequence() {
    // Arrange
    let app = spawn_app().await;
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
    let (code, reply) = app
        .post(&format!("/scripts/v1/cancel/{waiting}"), json!({}))
        .await;
    assert_eq!(code, 200, "cancelled: {reply}");
    let (code, reply) = app
        .post(&format!("/scripts/v1/kill/{holding}"), json!({}))
        .await;
    assert_eq!(code, 200, "killed: {reply}");
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
async fn a_guest_may_monitor_only_its_own_script_and_only_with_the_monitor_right() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("mine /bin/sh -c \"exit 0\"\ntheirs /bin/sh -c \"exit 0\"");
    let (_, allowed) = create_guest(&app, "mine", true, false).await;
    let (_, refused) = create_guest(&app, "mine", false, true).await;
    let mut guest = app.ws_with(&allowed).await;
    let mut without = app.ws_with(&refused).await;

    // Act
    let denied_other = call_quiet(&mut guest, monitor(1, "theirs")).await;
    let denied_all = call_quiet(&mut guest, monitor(2, "")).await;
    let denied_right = call_quiet(&mut without, monitor(3, "mine")).await;
    subscribe(&mut guest, monitor(4, "mine")).await;
    let id = app.run(json!({"name": "mine"})).await;

    // Assert
    for (what, reply, sequence) in [
        ("another script", &denied_other, 1),
        ("every script", &denied_all, 2),
        ("no monitor right", &denied_right, 3),
    ] {
        assert_eq!(reply["success"], false, "{what}: {reply}");
        assert_eq!(reply["errorcode"], "access_denied", "{what}: {reply}");
        assert_eq!(reply["api_sequence"], sequence, "{what}: {reply}");
    }
    let pushes = pushes_until_done(&mut guest, &id).await;
    assert_eq!(states(&of_run(&pushes, &id)), ["running", "done"]);
    assert!(
        pushes[1].get("args").is_none(),
        "guests never see args: {}",
        pushes[1]
    );
}

#[actix_web::test]
async fn envelope_errors_over_the_socket_have_their_codes_and_no_api_sequence() {
    // Arrange
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("a JSON array", json!([1, 2]), "invalid_data"),
        (
            "no api_method",
            json!({"api_path": "/scripts/v1/status", "api_sequence": 1}),
            "missing_invalid_api_method",
        ),
        (
            "numeric api_method",
            json!({"api_method": 1, "api_path": "/scripts/v1/status", "api_sequence": 1}),
            "missing_invalid_api_method",
        ),
        (
            "no api_path",
            json!({"api_method": "GET", "api_sequence": 1}),
            "missing_invalid_api_path",
        ),
        (
            "no api_sequence",
            json!({"api_method": "GET", "api_path": "/scripts/v1/status"}),
            "missing_invalid_api_sequence",
        ),
        (
            "string api_sequence",
            json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": "1"}),
            "missing_invalid_api_sequence",
        ),
        (
            "fractional api_sequence",
            json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 1.5}),
            "missing_invalid_api_sequence",
        ),
    ];

    // Act + Assert
    ws.framed
        .send(Message::Text("this is not json".into()))
        .await
        .expect("ws send");
    let reply = ws.recv().await.expect("reply to non-JSON");
    assert_eq!(reply["success"], false, "non-JSON: {reply}");
    assert_eq!(reply["errorcode"], "invalid_data", "non-JSON: {reply}");
    assert!(reply.get("api_sequence").is_none(), "non-JSON: {reply}");
    for (what, message, code) in cases {
        ws.send(message).await;
        let reply = ws.recv().await.expect("reply");
        assert_eq!(reply["success"], false, "{what}: {reply}");
        assert_eq!(reply["errorcode"], code, "{what}: {reply}");
        assert!(reply["error"].is_string(), "{what}: {reply}");
        assert!(reply.get("api_sequence").is_none(), "{what}: {reply}");
    }
}

#[actix_web::test]
async fn an_api_call_over_the_socket_answers_the_http_body_plus_its_api_sequence() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("hold /bin/sleep 30");
    let id = app.run(json!({"name": "hold"})).await;
    app.wait_status(&id, "hold running", |s| s["state"] == "running")
        .await;
    let mut ws = app.ws().await;

    // Act
    let (code, over_http) = app.get("/scripts/v1/status").await;
    let over_ws = call_quiet(
        &mut ws,
        json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 31}),
    )
    .await;
    let error_ws = call_quiet(
        &mut ws,
        json!({"api_method": "GET", "api_path": "/scripts/v1/status/nope", "api_sequence": 32}),
    )
    .await;
    let (monitor_code, monitor_http) = app.get("/scripts/v1/monitor?name=hold").await;

    // Assert
    assert_eq!(code, 200);
    assert_eq!(over_http["running"]["hold"], json!([id]), "{over_http}");
    let mut expected = over_http.clone();
    expected["api_sequence"] = json!(31);
    assert_eq!(over_ws, expected);
    assert_eq!(error_ws["errorcode"], "invalid_id", "{error_ws}");
    assert_eq!(error_ws["api_sequence"], 32, "{error_ws}");
    assert_eq!(monitor_code, 400, "{monitor_http}");
    assert_eq!(monitor_http["errorcode"], "use_websocket", "{monitor_http}");
    let (code, reply) = app.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
    assert_eq!(code, 200, "{reply}");
}

#[actix_web::test]
async fn a_socket_rechecks_the_key_on_every_message_and_closes_once_it_is_invalid() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("mine /bin/sh -c \"exit 0\"");
    let (guest_id, key) = create_guest(&app, "mine", false, true).await;
    let mut ws = app.ws_with(&key).await;
    let status = json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 1});
    let before = call_quiet(&mut ws, status.clone()).await;
    assert_eq!(before["success"], true, "the guest key works: {before}");

    // Act
    let (code, reply) = app
        .call_with(
            "DELETE",
            &format!("/scripts/v1/guest/delete/{guest_id}"),
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(code, 200, "guest deleted: {reply}");
    ws.send(json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 2}))
        .await;

    // Assert
    let refused = ws.recv().await.expect("a refusal before the close");
    assert_eq!(refused["success"], false, "{refused}");
    assert_eq!(refused["errorcode"], "invalid_missing_apikey", "{refused}");
    assert_eq!(refused["api_sequence"], 2, "{refused}");
    assert!(ws.recv().await.is_none(), "the socket is closed");
}

#[actix_web::test]
async fn deleting_a_guest_closes_its_monitor_socket() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("mine /bin/sh -c \"exit 0\"");
    let (guest_id, key) = create_guest(&app, "mine", true, false).await;
    let mut ws = app.ws_with(&key).await;
    subscribe(&mut ws, monitor(1, "mine")).await;

    // Act
    let (code, reply) = app
        .call_with(
            "DELETE",
            &format!("/scripts/v1/guest/delete/{guest_id}"),
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(code, 200, "guest deleted: {reply}");

    // Assert: closed without the client sending anything.
    assert!(ws.recv().await.is_none(), "the monitor socket is closed");
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

/// Bytes in each large argument: its finish push carries it three times
/// (`first`, `last` and `args`), so a few of them fill the kernel's socket
/// buffers of a peer that does not read.
const LARGE_ARG: usize = 1024 * 1024;
/// 24 MiB of large pushes: far more than loopback socket buffers absorb
/// (without them, all 1400 small pushes fit in the kernel and nothing is
/// ever dropped; 12 MiB was already enough on the 2-core test machine).
const LARGE_RUNS: usize = 8;
/// Small runs after that: two verbose pushes each, more than the session's
/// 1024-push mailbox.
const SMALL_RUNS: usize = 700;

/// Queues `count` runs of `name` concurrently, a batch at a time.
async fn run_many(app: &TestApp, name: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let batch = 50;
    for start in (0..count).step_by(batch) {
        let end = (start + batch).min(count);
        let runs = (start..end).map(|_| app.run(json!({"name": name})));
        ids.extend(join_all(runs).await);
    }
    ids
}

/// Polls the run list until nothing is queued or running.
async fn wait_idle(app: &TestApp) {
    let start = Instant::now();
    loop {
        let (_, list) = app.get("/scripts/v1/status").await;
        let busy = ["queued", "running"].iter().any(|state| {
            list[state].as_object().is_some_and(|names| {
                names
                    .values()
                    .any(|ids| ids.as_array().is_some_and(|a| !a.is_empty()))
            })
        });
        if list["success"] == true && !busy {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for idle: {list}"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_monitor_that_stops_reading_delays_neither_runs_nor_other_monitors_and_is_dropped() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("-n large large @@1\n-n small small\ntick /bin/sh -c \"exit 0\"");
    let mut stalled = app.ws().await;
    let mut request = monitor(1, "");
    request["verbose"] = json!(true);
    subscribe(&mut stalled, request).await;
    let mut reader = app.ws().await;
    subscribe(&mut reader, monitor(2, "tick")).await;
    let begin = Instant::now();

    // Act: `stalled` is not read from here on.
    let large = "x".repeat(LARGE_ARG);
    let mut large_ids = Vec::new();
    for _ in 0..LARGE_RUNS {
        large_ids.push(app.run(json!({"name": "large", "args": [large]})).await);
    }
    let during = app.run(json!({"name": "tick"})).await;
    let small_ids = run_many(&app, "small", SMALL_RUNS).await;

    // Assert: the reader sees the tick run and every run finishes.
    let pushes = pushes_until_done(&mut reader, &during).await;
    assert_eq!(states(&of_run(&pushes, &during)), ["running", "done"]);
    for id in &large_ids {
        let outcome = app.wait_done(id).await["outcome"].clone();
        assert_eq!(outcome, "noexec", "run {id}");
    }
    wait_idle(&app).await;
    // Nothing is queued or running any more; a sample shows how they ended.
    for id in small_ids.iter().step_by(50).chain(small_ids.last()) {
        let outcome = app.wait_done(id).await["outcome"].clone();
        assert_eq!(outcome, "noexec", "run {id}");
    }
    let after = app.run(json!({"name": "tick"})).await;
    let pushes = pushes_until_done(&mut reader, &after).await;
    assert_eq!(states(&of_run(&pushes, &after)), ["running", "done"]);
    let elapsed = begin.elapsed();

    // Assert: the server cut the stalled connection off by itself, while
    // its peer was still not reading: only the reader is left connected.
    wait_monitors_connected(&app, 1).await;
    // Reading it now yields at most what was already in flight, then the end.
    let mut received = 0usize;
    let mut saw_after = false;
    let draining = Instant::now();
    loop {
        let left = DEADLINE.saturating_sub(draining.elapsed());
        let frame = actix_rt::time::timeout(left, stalled.framed.next())
            .await
            .expect("the stalled socket ends within the deadline");
        match frame {
            Some(Ok(Frame::Text(bytes))) => {
                let push: Value = serde_json::from_slice(&bytes).expect("json push");
                received += 1;
                saw_after |= push["id"] == after;
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break,
        }
    }
    eprintln!(
        "stalled socket: {received} pushes, then the connection ended; runs took {elapsed:?}"
    );
    assert!(
        !saw_after,
        "the stalled socket was dropped before the last run"
    );
    assert!(received < 2 * (LARGE_RUNS + SMALL_RUNS), "it missed pushes");
}

/// Polls `/metrics` until `scriptd_monitors_connected` shows `want`.
async fn wait_monitors_connected(app: &TestApp, want: u64) {
    let start = Instant::now();
    loop {
        let (_, text) = app.get("/metrics").await;
        let now = text.as_str().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("scriptd_monitors_connected "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        if now == Some(want) {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "monitors connected stayed at {now:?}, want {want}"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Monitor sockets open at once in the fan-out test.
const MANY_SOCKETS: usize = 1000;

/// Both ends of every socket live in this process: make room for them.
fn raise_open_files_limit(needed: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < needed {
        assert!(
            hard >= needed,
            "open-files hard limit {hard} is below {needed}"
        );
        setrlimit(Resource::RLIMIT_NOFILE, needed, hard).expect("setrlimit");
    }
}

/// A monitor socket on its own unlimited connector (awc's default pool
/// allows 100 connections), subscribed to `name`.
async fn monitor_socket(app: &TestApp, client: &awc::Client, name: &str) -> WsClient {
    let (_resp, framed) = client
        .ws(format!("ws://127.0.0.1:{}/scripts/v1", app.port))
        .set_header("X-APIKey", app.key.as_str())
        .connect()
        .await
        .expect("websocket connects");
    let mut ws = WsClient { framed };
    subscribe(&mut ws, monitor(1, name)).await;
    ws
}

#[actix_web::test]
async fn a_thousand_monitor_sockets_each_get_the_finish_push_of_a_run() {
    // Arrange
    raise_open_files_limit(4 * MANY_SOCKETS as u64 + 1024);
    let app = spawn_app().await;
    app.exectab("quick /bin/sh -c \"exit 0\"");
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(0))
        .timeout(DEADLINE)
        .finish();
    let begin = Instant::now();
    let mut sockets = Vec::with_capacity(MANY_SOCKETS);
    for _ in 0..MANY_SOCKETS / 100 {
        sockets.extend(join_all((0..100).map(|_| monitor_socket(&app, &client, "quick"))).await);
    }
    let connected = begin.elapsed();

    // Act
    let id = app.run(json!({"name": "quick"})).await;

    // Assert
    let received = join_all(sockets.iter_mut().map(|ws| pushes_until_done(ws, &id))).await;
    eprintln!(
        "{MANY_SOCKETS} sockets connected in {connected:?}; all pushed in {:?}",
        begin.elapsed()
    );
    for (socket, pushes) in received.iter().enumerate() {
        assert_eq!(
            states(&of_run(pushes, &id)),
            ["running", "done"],
            "socket {socket}"
        );
        assert_eq!(pushes.len(), 2, "socket {socket}: {pushes:?}");
    }
}
