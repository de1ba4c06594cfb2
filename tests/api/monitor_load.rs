//! The monitor hub under load: a socket that stops reading is cut off
//! without delaying runs or other monitors, and a thousand sockets each get
//! their pushes.

use std::time::Instant;

use awc::ws::Frame;
use futures_util::future::join_all;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::ws::{monitor, of_run, pushes_until_done, states, subscribe};
use crate::helpers::{eventually_ok, spawn_app, TestApp, WsClient, DEADLINE};

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
    eventually_ok("idle", || async {
        let (_, list) = app.get("/scripts/v1/status").await;
        let busy = ["queued", "running"].iter().any(|state| {
            list[state].as_object().is_some_and(|names| {
                names
                    .values()
                    .any(|ids| ids.as_array().is_some_and(|a| !a.is_empty()))
            })
        });
        match list["success"] == true && !busy {
            true => Ok(()),
            false => Err(list),
        }
    })
    .await
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
    let what = format!("{want} monitors connected");
    eventually_ok(&what, || async {
        let (_, text) = app.get("/metrics").await;
        let now = text.as_str().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("scriptd_monitors_connected "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        match now == Some(want) {
            true => Ok(()),
            false => Err(format!("last {now:?}")),
        }
    })
    .await
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
