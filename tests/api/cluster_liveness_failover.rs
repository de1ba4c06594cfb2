//! Failover under claims (issue 17): queued runs are rows, so when the
//! node holding a script's only slot is killed, the run it ran ends
//! `interrupted` (node lost) and the queued ones start on the other nodes
//! within the lease and a margin; and a load of short runs with nodes
//! killed at random moments ends with every accepted run ended exactly
//! once, never started twice. Nodes are child processes on one fresh
//! PostgreSQL database, with leases renewed every 200 ms for 2 s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::{eventually, eventually_within};

const LEASE: [&str; 4] = ["--lease-renew-ms", "200", "--lease-ms", "2000"];
const LEASE_TIME: Duration = Duration::from_secs(2);

/// Counts per run of the events of `kinds`, from the whole log.
fn per_run(database: &str, kinds: &str) -> BTreeMap<String, i64> {
    query_json(
        database,
        &format!(
            "SELECT stream, count(*) AS n FROM events WHERE kind IN ({kinds}) GROUP BY stream"
        ),
    )
    .iter()
    .map(|row| {
        let row: Value = serde_json::from_str(row).expect("row json");
        (
            row["stream"].as_str().expect("stream").to_owned(),
            row["n"].as_i64().expect("n"),
        )
    })
    .collect()
}

const FINALS: &str = "'RunFinished', 'RunCancelled', 'RunStartFailed', 'RunInterrupted'";

/// The node on record for a run, once it started.
fn started_on(database: &str, run: &str) -> Option<String> {
    let rows = query_json(
        database,
        &format!("SELECT node FROM runs WHERE id = '{run}' AND started IS NOT NULL"),
    );
    let row: Value = serde_json::from_str(rows.first()?).ok()?;
    row["node"].as_str().map(str::to_owned)
}

#[actix_web::test]
async fn a_killed_nodes_queued_runs_start_on_the_others_and_its_running_run_ends_once() {
    // Arrange: one node runs the script's only slot (-s=1); three more
    // runs wait, queued (rows any node may claim).
    let exectab = "-s=1 job /bin/sh -c \"exec sleep @@1\"\n";
    let mut cluster = Cluster::start_with(3, exectab, &LEASE).await;
    let holder = cluster
        .node(0)
        .run(json!({"name": "job", "args": ["300"]}))
        .await;
    let holding = eventually("a node to run the holder", || {
        started_on(&cluster.database, &holder)
    })
    .await;
    let mut waiting = Vec::new();
    for i in 0..3 {
        let node = cluster.node(i % 3);
        waiting.push(node.run(json!({"name": "job", "args": ["0.2"]})).await);
    }

    // Act: kill -9 the node that holds the slot.
    let victim = cluster
        .nodes
        .iter()
        .position(|node| node.name == holding)
        .expect("the holder's node");
    cluster.kill9(victim);
    let killed = Instant::now();

    // Assert: the first waiting run starts elsewhere within the lease and
    // a margin; every run ends exactly once, none starts twice.
    let first_start = eventually_within(
        LEASE_TIME + Duration::from_secs(20),
        "a waiting run to start on another node",
        || async {
            match started_on(&cluster.database, &waiting[0]) {
                Some(node) => Ok((node, killed.elapsed())),
                None => Err("not yet"),
            }
        },
    )
    .await;
    assert_ne!(first_start.0, holding, "it started on a live node");
    assert!(
        first_start.1 >= LEASE_TIME - Duration::from_millis(300),
        "it started after {:?}, while the lost node's lease held its slot",
        first_start.1
    );
    let mut all = waiting.clone();
    all.push(holder.clone());
    eventually("every run to end", || {
        let finals = per_run(&cluster.database, FINALS);
        all.iter().all(|id| finals.contains_key(id)).then_some(())
    })
    .await;
    let finals = per_run(&cluster.database, FINALS);
    let starts = per_run(&cluster.database, "'RunStarted'");
    for id in &all {
        assert_eq!(finals.get(id), Some(&1), "{id} ended once");
        assert_eq!(starts.get(id), Some(&1), "{id} started once");
    }
    let outcome = |id: &str| {
        let rows = query_json(
            &cluster.database,
            &format!("SELECT outcome FROM runs WHERE id = '{id}'"),
        );
        rows.first().cloned().unwrap_or_default()
    };
    assert!(
        outcome(&holder).contains("interrupted"),
        "{}",
        outcome(&holder)
    );
    for id in &waiting {
        assert!(outcome(id).contains("success"), "{id}: {}", outcome(id));
    }
}

#[actix_web::test]
async fn runs_survive_nodes_killed_at_random_moments_each_ending_once() {
    // Arrange: three nodes, a script that takes a moment.
    let exectab = "-s=4 quick /bin/sh -c \"sleep 0.01\"\n";
    let mut cluster = Cluster::start_with(3, exectab, &LEASE).await;
    let mut accepted = Vec::new();
    let mut rng = StdRng::seed_from_u64(17);

    // Act: 2000 runs, posted round-robin to the live nodes; five times a
    // random node is killed at a random moment, and started again later.
    let kills: Vec<usize> = (0..5).map(|_| rng.gen_range(50..1950)).collect();
    let mut dead: Option<(String, std::path::PathBuf)> = None;
    for i in 0..2000 {
        if kills.contains(&i) {
            if let Some((name, storage)) = dead.take() {
                cluster.restart(name, storage).await;
            }
            let victim = rng.gen_range(0..cluster.nodes.len());
            dead = Some(cluster.kill9(victim));
        }
        let node = cluster.node(i % cluster.nodes.len());
        let (code, reply) = node.post("/scripts/v1/run", json!({"name": "quick"})).await;
        if code == 200 {
            accepted.push(reply["id"].as_str().expect("id").to_owned());
        }
    }
    if let Some((name, storage)) = dead.take() {
        cluster.restart(name, storage).await;
    }

    // Assert: every accepted run ends, once; none started twice.
    // Polled four times a second, not at the helpers' pace: each poll is
    // a connection of its own, and the suite's servers share the
    // database server's connection limit.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let finals = per_run(&cluster.database, FINALS);
        let open = accepted
            .iter()
            .filter(|id| !finals.contains_key(*id))
            .count();
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} accepted runs not ended:\n{}",
            cluster.logs()
        );
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        accepted.len() >= 1700,
        "most runs were accepted: {}",
        accepted.len()
    );
    let finals = per_run(&cluster.database, FINALS);
    let starts = per_run(&cluster.database, "'RunStarted'");
    for id in &accepted {
        assert_eq!(finals.get(id), Some(&1), "{id} ended once");
        assert!(
            starts.get(id).copied().unwrap_or(0) <= 1,
            "{id} started at most once"
        );
    }
}
