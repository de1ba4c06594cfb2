//! Retries on a cluster (PostgreSQL): an attempt cut because its node was
//! killed -9 is retried once, by the rescuer's `RunRetrying`, and its next
//! attempt is taken by exactly one of the other nodes; a plain failed
//! attempt's next attempt is taken by exactly one node too.

use serde_json::{json, Value};

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::{eventually, eventually_ok};

const LEASE: [&str; 4] = ["--lease-renew-ms", "200", "--lease-ms", "2000"];

/// The first attempt hangs, the next ones succeed (attempts are counted
/// in a file every node's scripts share).
const CUT: &str = "-R=2 -B=1 cut /bin/sh -c \"echo x >> OUT/cut.count; \
    test $(wc -l < OUT/cut.count) -ge 2 || exec sleep 300\"\n\
    -R=2 -B=1 flaky /bin/sh -c \"echo x >> OUT/flaky.count; \
    test $(wc -l < OUT/flaky.count) -ge 2\"\n";

/// The first attempt fails, the next one runs until it is killed.
const SLOW_SECOND: &str = "-R=2 -B=1 slow /bin/sh -c \"echo x >> OUT/slow.count; \
    test $(wc -l < OUT/slow.count) -ge 2 && exec sleep 300\"\n";

/// `(kind, node)` of a run's events, in log order.
fn events_of(database: &str, run: &str) -> Vec<(String, Option<String>)> {
    query_json(
        database,
        &format!(
            "SELECT kind, data->>'node' AS node FROM events WHERE stream = '{run}' ORDER BY seq"
        ),
    )
    .iter()
    .map(|row| {
        let row: Value = serde_json::from_str(row).expect("row json");
        let kind = row["kind"].as_str().expect("kind").to_owned();
        (kind, row["node"].as_str().map(str::to_owned))
    })
    .collect()
}

fn count(events: &[(String, Option<String>)], kind: &str) -> usize {
    events.iter().filter(|(k, _)| k == kind).count()
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

#[actix_web::test]
async fn a_retried_runs_next_attempt_is_taken_by_exactly_one_node() {
    // Arrange: a failed attempt first, on a whole cluster.
    let mut cluster = Cluster::start_with(3, CUT, &LEASE).await;
    let flaky = cluster.node(0).run(json!({"name": "flaky"})).await;
    let done = cluster.node(2).wait_done(&flaky).await;
    assert_eq!(done["outcome"], "success", "{done}");
    let events = events_of(&cluster.database, &flaky);
    assert_eq!(count(&events, "RunRetrying"), 1, "{events:?}");
    assert_eq!(count(&events, "RunStarted"), 2, "{events:?}");
    assert_eq!(
        lines(&cluster.out.join("flaky.count")),
        2,
        "two attempts ran"
    );
    let cut = cluster.node(1).run(json!({"name": "cut"})).await;
    let first_node = eventually("the first attempt of cut to start", || {
        let events = events_of(&cluster.database, &cut);
        events
            .iter()
            .find(|(kind, _)| kind == "RunSpawned")
            .and_then(|_| events.iter().find(|(kind, _)| kind == "RunStarted"))
            .and_then(|(_, node)| node.clone())
    })
    .await;

    // Act: kill -9 the node that runs cut's first attempt.
    let victim = cluster
        .nodes
        .iter()
        .position(|node| node.name == first_node)
        .expect("the node of the first attempt");
    cluster.kill9(victim);

    // Assert
    let survivor = cluster.node(0);
    let done = survivor.wait_done(&cut).await;
    assert_eq!(done["outcome"], "success", "{done}\n{}", cluster.logs());
    let attempts = done["attempts"].as_array().cloned().unwrap_or_default();
    assert_eq!(attempts.len(), 2, "{done}");
    assert_eq!(attempts[0]["outcome"], "interrupted", "{done}");
    let events = events_of(&cluster.database, &cut);
    assert_eq!(count(&events, "RunRetrying"), 1, "{events:?}");
    assert_eq!(
        count(&events, "RunStarted"),
        2,
        "one start per attempt: {events:?}"
    );
    assert_eq!(count(&events, "RunInterrupted"), 0, "{events:?}");
    let second = events
        .iter()
        .filter(|(kind, _)| kind == "RunStarted")
        .nth(1);
    assert_ne!(
        second.and_then(|(_, node)| node.as_deref()),
        Some(first_node.as_str()),
        "the second attempt ran on a live node: {events:?}"
    );
    assert_eq!(lines(&cluster.out.join("cut.count")), 2, "two attempts ran");
}

#[actix_web::test]
async fn every_node_shows_which_attempt_a_run_on_another_node_is_in() {
    // Arrange: the second attempt of `slow` runs on some node.
    let cluster = Cluster::start_with(3, SLOW_SECOND, &LEASE).await;
    let slow = cluster.node(0).run(json!({"name": "slow"})).await;
    let second_node = eventually("the second attempt of slow to start", || {
        events_of(&cluster.database, &slow)
            .iter()
            .filter(|(kind, _)| kind == "RunStarted")
            .nth(1)
            .and_then(|(_, node)| node.clone())
    })
    .await;

    // Act + assert: each node that does not run it says attempt 2 of 3.
    for node in cluster.nodes.iter().filter(|n| n.name != second_node) {
        let path = format!("/scripts/v1/status/{slow}");
        let status = eventually_ok("status on another node to show the running attempt", || {
            let path = path.clone();
            async move {
                let (code, status) = node.get(&path).await;
                if code == 200 && status["state"] == "running" && status["attempt"] == 2 {
                    Ok(status)
                } else {
                    Err(format!("{code} {status}"))
                }
            }
        })
        .await;
        assert_eq!(status["max_attempts"], 3, "{} says {status}", node.name);
    }
    cluster.node(0).kill(&slow).await;
}
