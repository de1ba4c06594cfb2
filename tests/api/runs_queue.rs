//! Queues and limits under concurrent requests: `-s` simultaneous runs,
//! `-m` queued runs, and scheduled runs starting at their time in order.

use std::collections::HashSet;

use futures_util::StreamExt;
use serde_json::{json, Value};

use scriptd::events::types::Outcome;
use scriptd::wire::Finished;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn two_hundred_parallel_runs_never_exceed_the_simultaneous_limit() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let slots = dir.path().join("slots");
    std::fs::create_dir(&slots).expect("slots");
    let counts = dir.path().join("counts");
    app.exectab(&format!(
        "-s=2 -m=0 limited /bin/sh -c \"mkdir {s}/$$; ls {s} | wc -l >> {c}; sleep 0.05; rmdir {s}/$$\"\n",
        s = slots.display(),
        c = counts.display()
    ));
    let requests = (0..200).map(|_| app.post("/scripts/v1/run", json!({"name": "limited"})));
    let replies: Vec<(u16, Value)> = futures_util::stream::iter(requests)
        .buffer_unordered(50)
        .collect()
        .await;
    let ids: HashSet<String> = replies
        .iter()
        .map(|(status, reply)| {
            assert_eq!(*status, 200, "{reply}");
            reply["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 200, "all ids distinct");
    for id in &ids {
        assert_eq!(app.wait_done(id).await.outcome, Outcome::Success);
    }
    let seen: Vec<usize> = std::fs::read_to_string(&counts)
        .expect("counts")
        .lines()
        .map(|l| l.trim().parse().expect("count"))
        .collect();
    assert_eq!(seen.len(), 200, "every run ran once");
    assert!(
        seen.iter().all(|n| *n <= 2),
        "never more than 2 at once: {seen:?}"
    );
    assert!(seen.contains(&2), "two did run together");
}

#[actix_web::test]
async fn max_queued_is_exact_under_concurrent_requests() {
    let app = spawn_app().await;
    app.exectab("-m=3 capped /bin/sleep 30\n");
    let requests = (0..20).map(|_| app.post("/scripts/v1/run", json!({"name": "capped"})));
    let replies = futures_util::future::join_all(requests).await;
    let accepted: Vec<String> = replies
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, r)| r["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(accepted.len(), 3);
    assert!(replies
        .iter()
        .filter(|(s, _)| *s != 200)
        .all(|(_, r)| r["errorcode"] == "queue_full"));
    let statuses = futures_util::future::join_all(accepted.iter().map(|id| app.status(id))).await;
    let mut queued_positions: Vec<usize> = statuses
        .iter()
        .filter_map(|s| s.queued().map(|q| q.position))
        .collect();
    queued_positions.sort();
    assert_eq!(
        queued_positions,
        vec![0, 1],
        "one runs, the others wait at 0 and 1"
    );
    for id in &accepted {
        app.post(&format!("/scripts/v1/cancel/{id}"), json!({}))
            .await;
        app.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
    }
}

#[actix_web::test]
async fn scheduled_runs_start_at_their_time_and_in_order() {
    let app = spawn_app().await;
    app.exectab("-s=5 at /bin/true\n");
    let now = scriptd::clock::now_secs();
    let later = app.run(json!({"name": "at", "queue": now + 3})).await;
    let sooner = app.run(json!({"name": "at", "queue": now + 2})).await;
    let past = app.run(json!({"name": "at", "queue": now - 100})).await;
    let status = app.status(&later).await;
    let queued = status.queued().expect("queued");
    assert_eq!(queued.queued, now + 3);
    assert_eq!(queued.position, 1, "behind the sooner run");
    let (a, b, c) = (
        app.wait_done(&later).await,
        app.wait_done(&sooner).await,
        app.wait_done(&past).await,
    );
    let started = |s: &Finished| s.started.expect("started");
    assert!(
        started(&a) >= (now + 3) as f64 && started(&b) >= (now + 2) as f64,
        "not early"
    );
    assert!(
        started(&a) < (now + 3) as f64 + 1.0,
        "on time: {}",
        started(&a) - (now + 3) as f64
    );
    assert!(started(&b) < started(&a), "in order");
    assert!(started(&c) < started(&b), "a past time means now");
}
