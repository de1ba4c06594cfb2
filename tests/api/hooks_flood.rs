//! Webhooks' flood limit and give-up, end to end (issue 31), with the
//! operator's `hooks_fold_window_secs` and `hooks_give_up_after_secs`
//! shortened so that a minute and a day take seconds: a burst of
//! failures is one delivery, then one folded delivery carrying the
//! count; a receiver that always fails gets its hook paused, with a
//! reason in `hook/list` and a `HookPaused` event.

use std::time::Duration;

use scriptd::hook::limits::HookLimits;
use scriptd::hook::target::AllowList;
use serde_json::{json, Value};

use crate::helpers::receiver::{Received, Receiver};
use crate::helpers::{eventually, eventually_ok, spawn_app_with, TestApp};
use crate::hooks::{create_hook, deliveries};

/// A server whose hooks reach the loopback receiver, fold for `fold`
/// seconds and give up after `give_up` seconds.
async fn app_with_limits(fold: u64, give_up: u64) -> TestApp {
    spawn_app_with(move |config| {
        config.hooks_allow = AllowList::parse(&["127.0.0.1/32"]).expect("allow list");
        config.hooks = HookLimits {
            fold_window: Duration::from_secs(fold),
            give_up_after: Duration::from_secs(give_up),
        };
    })
    .await
}

/// How many failures a delivery tells of: its own and those folded in.
fn told(received: &Received) -> i64 {
    1 + received.json()["folded"].as_i64().expect("a folded count")
}

#[actix_web::test]
async fn twenty_quick_failures_are_one_delivery_then_one_folded_delivery_with_the_count() {
    // Arrange
    let window = 4;
    let app = app_with_limits(window, 3600).await;
    app.exectab("fails /bin/false\n");
    let receiver = Receiver::start(&[]);
    let (hook, _) = create_hook(&app, json!({"url": receiver.url("flood")})).await;

    // Act: one failure, told at once; then nineteen more, quickly.
    let first = app.run(json!({"name": "fails"})).await;
    app.wait_done(&first).await;
    receiver.wait_for(1).await;
    let mut ids = Vec::new();
    for _ in 1..20 {
        ids.push(app.run(json!({"name": "fails"})).await);
    }
    for id in &ids {
        app.wait_done(id).await;
    }
    let got = eventually("the twenty failures told", || {
        let got = receiver.received();
        (got.iter().map(told).sum::<i64>() >= 20).then_some(got)
    })
    .await;

    // Assert
    assert_eq!(got[0].json()["folded"], 0, "the first failure alone");
    assert_eq!(got.iter().map(told).sum::<i64>(), 20, "each failure once");
    assert!(
        got.len() >= 2 && got.len() <= 4,
        "folded, not one delivery each: {} deliveries",
        got.len()
    );
    assert!(
        told(&got[1]) > 1,
        "the next one carries what was folded in: {}",
        got[1].json()
    );
    for pair in got.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_secs(window) - Duration::from_millis(500),
            "at most one delivery a window: {gap:?}"
        );
    }
    let rows = deliveries(&app, &hook).await;
    let delivered: Vec<&Value> = rows.iter().filter(|r| r["state"] == "delivered").collect();
    assert_eq!(delivered.len(), got.len(), "{rows:?}");
    assert_eq!(rows.len(), 20, "a row per failure: {rows:?}");
    for row in rows.iter().filter(|r| r["state"] != "delivered") {
        assert_eq!(row["state"], "folded", "{row}");
        assert!(
            delivered.iter().any(|d| d["id"] == row["folded_into"]),
            "folded into a delivery that was sent: {row}"
        );
    }
}

#[actix_web::test]
async fn a_receiver_that_always_answers_500_gets_its_hook_paused_after_the_give_up_time() {
    // Arrange
    let app = app_with_limits(60, 3).await;
    app.exectab("fails /bin/false\n");
    let receiver = Receiver::start(&[500; 100]);
    let (hook, _) = create_hook(&app, json!({"url": receiver.url("down")})).await;

    // Act
    let id = app.run(json!({"name": "fails"})).await;
    app.wait_done(&id).await;
    let paused = eventually_ok("the hook paused", || {
        let app = &app;
        async move {
            let (_, list) = app.get("/scripts/v1/hook/list").await;
            let hooks = list["hooks"].as_array().cloned().unwrap_or_default();
            match hooks.into_iter().next() {
                Some(h) if h["paused"].is_i64() => Ok(h),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;

    // Assert: the reason, the given-up delivery with each attempt's 500,
    // and the event.
    assert_eq!(paused["id"], hook.as_str());
    assert_eq!(
        paused["paused_reason"], "deliveries failed for 3 s",
        "{paused}"
    );
    let rows = deliveries(&app, &hook).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["state"], "failed", "{row}");
    assert!(
        row["error"]
            .as_str()
            .is_some_and(|e| e.ends_with("given up after 3 s of failures")),
        "{row}"
    );
    let sent = receiver.received().len();
    assert!(sent >= 2, "retried before giving up: {sent}");
    assert_eq!(row["attempts"], sent as i64, "{row}");
    let log = row["attempt_log"].as_array().expect("an attempt log");
    assert_eq!(log.len(), sent, "{row}");
    assert!(log.iter().all(|a| a["status"] == 500), "{row}");
    let (_, events) = app.get("/scripts/v1/events?limit=1000").await;
    let events = events["events"].as_array().expect("events");
    let event = events
        .iter()
        .find(|e| e["kind"] == "HookPaused")
        .unwrap_or_else(|| panic!("a HookPaused event: {events:?}"));
    assert_eq!(event["data"]["hook"], hook.as_str(), "{event}");
    assert_eq!(event["data"]["reason"], "deliveries failed for 3 s");

    // A paused hook is told nothing more: its outbox row would be written
    // in the failure's own commit.
    let again = app.run(json!({"name": "fails"})).await;
    app.wait_done(&again).await;
    assert_eq!(deliveries(&app, &hook).await.len(), 1, "no new delivery");
}
