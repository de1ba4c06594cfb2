//! Claims hold across the cluster: three nodes take runs round-robin,
//! and `-s`, `-m` and scheduled starts behave as on one server. Each run
//! of the `-s=2` script holds one of two lock directories while it runs
//! (`mkdir` is atomic): a run that finds both taken means three ran at
//! once somewhere in the cluster, and it records the violation.

use std::collections::BTreeMap;

use serde_json::json;

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::{eventually_ok, unix_now};

const SLOTS: &str = r#"-s=2 slot /bin/sh -c "for i in 1 2; do if mkdir OUT/lock-$i 2>/dev/null; then echo $1 >> OUT/started; sleep 0.2; rmdir OUT/lock-$i; exit 0; fi; done; echo $1 >> OUT/violations; exit 1" sh @@1
"#;

/// The lines of a file the scripts wrote, counted.
fn lines(path: &std::path::Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut counted = BTreeMap::new();
    for line in text.lines() {
        *counted.entry(line.to_owned()).or_insert(0) += 1;
    }
    counted
}

/// Waits until every run of `ids` has ended (asking node 0 over HTTP).
async fn all_done(cluster: &Cluster, ids: &[String]) {
    for id in ids {
        cluster.node(0).wait_done(id).await;
    }
}

#[actix_web::test]
async fn simultaneous_runs_never_exceed_s_on_the_whole_cluster() {
    let cluster = Cluster::start(3, SLOTS).await;
    let mut ids = Vec::new();
    for i in 0..18 {
        let node = cluster.node(i % 3);
        ids.push(
            node.run(json!({"name": "slot", "args": [i.to_string()]}))
                .await,
        );
    }
    all_done(&cluster, &ids).await;

    let violations = lines(&cluster.out.join("violations"));
    assert!(
        violations.is_empty(),
        "more than two ran at once: {violations:?}\n{}",
        cluster.logs()
    );
    let started = lines(&cluster.out.join("started"));
    let want: BTreeMap<String, usize> = (0..18).map(|i| (i.to_string(), 1)).collect();
    assert_eq!(started, want, "every run ran exactly once");
    let outcomes = query_json(
        &cluster.database,
        "SELECT outcome, count(*) AS n FROM runs GROUP BY outcome",
    );
    assert_eq!(outcomes, vec![r#"{"outcome":"success","n":18}"#.to_owned()]);
    // Which node wins the claims depends on timing (a loaded machine may
    // let one node take them all); reported, not asserted.
    let nodes = query_json(
        &cluster.database,
        "SELECT node, count(*) AS runs FROM runs GROUP BY node ORDER BY node",
    );
    eprintln!("runs started per node: {nodes:?}");
    for id in &ids {
        let done = cluster.node(2).status(id).await;
        assert_eq!(done["state"], "done", "{done}");
    }
    // Each node counts the runs it ended: together, each run once.
    eventually_ok("the nodes' counts of ended runs to add up", || async {
        let mut counted = 0.0;
        for node in &cluster.nodes {
            counted += successes(node).await;
        }
        match counted == 18.0 {
            true => Ok(()),
            false => Err(format!("{counted} runs counted")),
        }
    })
    .await;
}

/// A node's `scriptd_runs_total{outcome="success"}`.
async fn successes(node: &crate::helpers::cluster::Node) -> f64 {
    let (status, body) = node.get("/metrics").await;
    assert_eq!(status, 200, "{body}");
    let series = "scriptd_runs_total{outcome=\"success\"} ";
    body.as_str()
        .expect("text")
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .map_or(0.0, |value| value.parse().expect("a number"))
}

#[actix_web::test]
async fn max_queued_holds_across_nodes_and_frees_up_when_runs_end() {
    let cluster = Cluster::start(
        3,
        "-m=3 hold /bin/sh -c \"while [ ! -e OUT/release ]; do sleep 0.05; done\"\n",
    )
    .await;
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for i in 0..6 {
        let (code, reply) = cluster
            .node(i % 3)
            .post("/scripts/v1/run", json!({"name": "hold"}))
            .await;
        match code {
            200 => accepted.push(reply["id"].as_str().expect("id").to_owned()),
            _ => refused.push(reply["errorcode"].clone()),
        }
    }
    assert_eq!(accepted.len(), 3, "three fit under -m=3: {refused:?}");
    assert_eq!(
        refused,
        vec![json!("queue_full"); 3],
        "the rest are refused"
    );

    std::fs::write(cluster.out.join("release"), "").expect("release");
    all_done(&cluster, &accepted).await;
    let id = cluster.node(1).run(json!({"name": "hold"})).await;
    cluster.node(2).wait_done(&id).await;
}

#[actix_web::test]
async fn a_scheduled_run_starts_once_on_one_node_at_its_time() {
    let cluster = Cluster::start(
        3,
        "-s=4 at /bin/sh -c \"echo $1 $(date +%s) >> OUT/at\" sh @@1\n",
    )
    .await;
    let at = unix_now() + 2;
    let mut ids = Vec::new();
    for i in 0..6 {
        let node = cluster.node(i % 3);
        let request = json!({"name": "at", "args": [i.to_string()], "queue": at});
        ids.push(node.run(request).await);
    }
    all_done(&cluster, &ids).await;
    let text = std::fs::read_to_string(cluster.out.join("at")).unwrap_or_default();
    let mut runs: Vec<(String, i64)> = text
        .lines()
        .map(|line| {
            let (arg, when) = line.split_once(' ').expect("two words");
            (arg.to_owned(), when.parse().expect("seconds"))
        })
        .collect();
    runs.sort();
    let args: Vec<&str> = runs.iter().map(|(arg, _)| arg.as_str()).collect();
    assert_eq!(
        args,
        ["0", "1", "2", "3", "4", "5"],
        "each started once: {text}"
    );
    assert!(
        runs.iter().all(|(_, when)| *when >= at),
        "none before its time ({at}): {text}"
    );
}
