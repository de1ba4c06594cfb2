//! Monitors on any node get every push of their user, in log order, once:
//! a monitor on node C sees the runs started on A and on B, then
//! reconnects to B with `after` and misses nothing, and goes on live.

use serde_json::{json, Value};

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::ws::{
    assert_no_push_pending, assert_seq_increasing, monitor, next_push, of_run, pushes_until_done,
    states, subscribe,
};

/// Receives pushes until every run of `ids` has its `done` push.
async fn pushes_until_all_done(ws: &mut crate::helpers::WsClient, ids: &[&str]) -> Vec<Value> {
    let mut pushes: Vec<Value> = Vec::new();
    while !ids.iter().all(|id| {
        pushes
            .iter()
            .any(|p| p["id"] == *id && p["state"] == "done")
    }) {
        pushes.push(next_push(ws).await);
    }
    pushes
}

#[actix_web::test]
async fn a_monitor_on_c_sees_runs_of_a_and_b_once_in_order_and_resumes_on_b_with_after() {
    // Each of A and B alone defines a script, so each run starts on the
    // node it was asked on; C defines none and only watches.
    let cluster = Cluster::start_each(&[
        "on-a /bin/sh -c \"exit 0\"\n",
        "on-b /bin/sh -c \"exit 0\"\n",
        "",
    ])
    .await;
    let (a, b, c) = (cluster.node(0), cluster.node(1), cluster.node(2));
    let mut watch = c.ws().await;
    subscribe(&mut watch, monitor(1, "")).await;

    let first = a.run(json!({"name": "on-a"})).await;
    let second = b.run(json!({"name": "on-b"})).await;
    let seen = pushes_until_all_done(&mut watch, &[&first, &second]).await;
    for id in [&first, &second] {
        assert_eq!(
            states(&of_run(&seen, id)),
            ["running", "done"],
            "run {id}: {seen:?}"
        );
    }
    assert_eq!(seen.len(), 4, "nothing else, nothing twice: {seen:?}");
    assert_seq_increasing(&seen, 0);
    let nodes = query_json(
        &cluster.database,
        &format!("SELECT node FROM runs WHERE id IN ('{first}', '{second}') ORDER BY node"),
    );
    assert_eq!(
        nodes,
        [r#"{"node":"n1"}"#, r#"{"node":"n2"}"#],
        "started on A and on B"
    );
    let last_seq = seen.last().expect("a push")["seq"].as_i64().expect("seq");
    drop(watch);

    let mut missed = Vec::new();
    for (node, name) in [(a, "on-a"), (b, "on-b"), (a, "on-a")] {
        let id = node.run(json!({"name": name})).await;
        node.wait_done(&id).await;
        missed.push(id);
    }
    let mut resumed = b.ws().await;
    let mut request = monitor(7, "");
    request["after"] = json!(last_seq);
    let mut replayed = Vec::new();
    let reply = resumed.call(request, &mut replayed).await;
    assert_eq!(reply["enabled"], true, "{reply}");
    let ids: Vec<&str> = missed.iter().map(String::as_str).collect();
    replayed.extend(pushes_until_all_done(&mut resumed, &ids).await);
    let live = a.run(json!({"name": "on-a"})).await;
    let live_pushes = pushes_until_done(&mut resumed, &live).await;

    let done_ids: Vec<&str> = replayed
        .iter()
        .filter(|p| p["state"] == "done")
        .map(|p| p["id"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(done_ids, ids, "every missed run once, in order");
    assert_eq!(
        replayed.len(),
        2 * missed.len(),
        "nothing else: {replayed:?}"
    );
    for id in &missed {
        assert_eq!(states(&of_run(&replayed, id)), ["running", "done"]);
    }
    assert_eq!(
        states(&of_run(&live_pushes, &live)),
        ["running", "done"],
        "then live: {live_pushes:?}"
    );
    let mut all = replayed;
    all.extend(live_pushes);
    assert_seq_increasing(&all, last_seq);
    assert_no_push_pending(&mut resumed, "after the live push").await;
}

#[actix_web::test]
async fn a_monitor_gets_every_start_and_end_of_concurrent_runs_on_three_nodes_in_log_order() {
    // Each node alone defines its script: every node starts runs.
    let cluster = Cluster::start_each(&[
        "-s=2 q0 /bin/sh -c \"exit 0\"\n",
        "-s=2 q1 /bin/sh -c \"exit 0\"\n",
        "-s=2 q2 /bin/sh -c \"exit 0\"\n",
    ])
    .await;
    let mut watch = cluster.node(2).ws().await;
    subscribe(&mut watch, monitor(1, "")).await;

    // Twenty-four runs asked at once, eight on each node.
    let asks = (0..24).map(|i| {
        let name = format!("q{}", i % 3);
        cluster.node(i % 3).run(json!({ "name": name }))
    });
    let ids: Vec<String> = futures_util::future::join_all(asks).await;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let pushes = pushes_until_all_done(&mut watch, &refs).await;

    for id in &ids {
        assert_eq!(
            states(&of_run(&pushes, id)),
            ["running", "done"],
            "run {id}"
        );
    }
    assert_eq!(pushes.len(), 2 * ids.len(), "nothing twice: {pushes:?}");
    assert_seq_increasing(&pushes, 0);
    // The pushes are the log's starts and ends, every one of them.
    let logged = query_json(
        &cluster.database,
        "SELECT seq FROM events WHERE kind IN ('RunStarted', 'RunFinished') ORDER BY seq",
    );
    let pushed: Vec<String> = pushes
        .iter()
        .map(|p| format!(r#"{{"seq":{}}}"#, p["seq"]))
        .collect();
    assert_eq!(pushed, logged, "no gap, no duplicate");
    let nodes = query_json(
        &cluster.database,
        "SELECT DISTINCT node FROM runs ORDER BY node",
    );
    assert_eq!(nodes.len(), 3, "started on every node: {nodes:?}");
    assert_no_push_pending(&mut watch, "after the last end").await;
}
