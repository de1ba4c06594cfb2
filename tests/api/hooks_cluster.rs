//! Webhooks on a cluster of three nodes (one PostgreSQL database): every
//! node's worker races for the outbox rows, and the claims (`FOR UPDATE
//! SKIP LOCKED`) let one node send each delivery: exactly once while no
//! node dies, at least once when one is killed -9.

use std::collections::BTreeMap;

use serde_json::json;

use crate::helpers::cluster::Cluster;
use crate::helpers::receiver::Receiver;

const LEASE: [&str; 4] = ["--lease-renew-ms", "200", "--lease-ms", "2000"];
/// Scripts, each run once: the flood limit folds deliveries of one hook
/// and script within a minute, so each delivery gets a script of its own.
const SCRIPTS: usize = 24;

/// Starts three nodes that may reach the loopback receiver, with a hook
/// on failures and interruptions of every script.
async fn cluster_with_hook(receiver: &Receiver) -> (Cluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("scriptd.toml");
    std::fs::write(&config, "hooks_allow = [\"127.0.0.1/32\"]\n").expect("config");
    let exectab: String = (0..SCRIPTS).map(|i| format!("f{i} /bin/false\n")).collect();
    let mut extra = vec!["--config", config.to_str().expect("a UTF-8 path")];
    extra.extend(LEASE);
    let cluster = Cluster::start_with(3, &exectab, &extra).await;
    let (status, reply) = cluster
        .node(0)
        .post(
            "/scripts/v1/hook/create",
            json!({"url": receiver.url("cluster"), "on": ["failed", "interrupted"]}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    (cluster, dir)
}

/// Starts `f0` … on the nodes in turn; answers the run ids.
async fn run_all(cluster: &Cluster) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..SCRIPTS {
        let node = cluster.node(i % cluster.nodes.len());
        ids.push(node.run(json!({ "name": format!("f{i}") })).await);
    }
    ids
}

/// How many times each run and each delivery id reached the receiver.
fn counts(receiver: &Receiver) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let (mut runs, mut deliveries) = (BTreeMap::new(), BTreeMap::new());
    for got in receiver.received() {
        let body = got.json();
        let run = body["run"]["id"].as_str().expect("a run id").to_owned();
        *runs.entry(run).or_insert(0) += 1;
        let id = got.header("x-scriptd-delivery").expect("an id").to_owned();
        *deliveries.entry(id).or_insert(0) += 1;
    }
    (runs, deliveries)
}

#[actix_web::test]
async fn three_nodes_send_each_delivery_exactly_once() {
    let receiver = Receiver::start(&[]);
    let (cluster, _config) = cluster_with_hook(&receiver).await;

    let ids = run_all(&cluster).await;
    for (i, id) in ids.iter().enumerate() {
        cluster.node(i % 3).wait_done(id).await;
    }
    receiver.wait_for(SCRIPTS).await;
    // Every node's worker heard of every end; give a late duplicate the
    // time to show: the last node to claim has recorded its attempt once
    // every delivery is listed `delivered`.
    crate::helpers::eventually_ok("every delivery recorded", || {
        let node = cluster.node(2);
        async move {
            let (_, reply) = node.get("/scripts/v1/hook/deliveries").await;
            let rows = reply["deliveries"].as_array().cloned().unwrap_or_default();
            let delivered = rows.iter().filter(|r| r["state"] == "delivered").count();
            match delivered == SCRIPTS {
                true => Ok(()),
                false => Err(format!("{delivered} of {SCRIPTS} delivered: {reply}")),
            }
        }
    })
    .await;

    let (runs, deliveries) = counts(&receiver);
    assert_eq!(runs.len(), SCRIPTS, "{runs:?}\n{}", cluster.logs());
    assert!(
        runs.values().all(|n| *n == 1),
        "each run's end sent once: {runs:?}"
    );
    assert!(
        deliveries.values().all(|n| *n == 1),
        "each delivery once: {deliveries:?}"
    );
    for id in &ids {
        assert!(runs.contains_key(id), "{id} was delivered");
    }
}

#[actix_web::test]
async fn a_node_killed_9_loses_no_delivery() {
    // The receiver is slow to answer nothing: it answers 503 to the first
    // attempts, so deliveries are pending (some claimed) at the kill.
    let receiver = Receiver::start_retry_after(&[503; 6], 1);
    let (mut cluster, _config) = cluster_with_hook(&receiver).await;

    let ids = run_all(&cluster).await;
    cluster.kill9(1);
    receiver.wait_for(SCRIPTS).await;

    crate::helpers::eventually_ok("every run delivered at least once", || {
        let receiver = &receiver;
        let ids = &ids;
        async move {
            let (runs, _) = counts(receiver);
            let missing: Vec<_> = ids.iter().filter(|id| !runs.contains_key(*id)).collect();
            match missing.is_empty() {
                true => Ok(()),
                false => Err(format!("not delivered yet: {missing:?}")),
            }
        }
    })
    .await;
}
