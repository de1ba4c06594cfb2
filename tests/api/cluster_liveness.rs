//! Nodes that die or stall (issue 17): child-process nodes on one fresh
//! PostgreSQL database with short leases (renewed every 200 ms, 2 s
//! long). A node killed with SIGKILL has its running runs ended
//! `interrupted` ("node lost") exactly once by another node, and its
//! restart under the same name ends what they left behind; a node paused
//! past its lease neither starts nor ends anything on its own authority
//! until it registered again, and kills its processes when it resumes; a
//! restarted node leaves the other nodes' runs alone.

use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::helpers::child::{assert_processes_die, process_gone};
use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::{eventually, eventually_ok, eventually_within, Api};

/// Short leases keep the tests fast; the lease is ten renewals long, so a
/// loaded machine's late renewal does not lose it.
const LEASE: [&str; 4] = ["--lease-renew-ms", "200", "--lease-ms", "2000"];
const LEASE_TIME: Duration = Duration::from_secs(2);

/// A script that leaves a grandchild (no parent-death signal reaches it)
/// and writes the grandchild's pid to `OUT/<arg>`.
const ORPHAN: &str = "-s=4 orphan /bin/sh -c \"sleep 300 & echo $! > OUT/@@1; wait\"\n";

/// The final events of `run` on record: (kind, the record's error).
fn finals(database: &str, run: &str) -> Vec<(String, Option<String>)> {
    query_json(
        database,
        &format!(
            "SELECT kind, data->'record'->>'error' AS error FROM events
             WHERE stream = '{run}'
               AND kind IN ('RunFinished', 'RunCancelled', 'RunStartFailed', 'RunInterrupted')
             ORDER BY seq"
        ),
    )
    .iter()
    .map(|row| {
        let row: Value = serde_json::from_str(row).expect("row json");
        let kind = row["kind"].as_str().expect("kind").to_owned();
        (kind, row["error"].as_str().map(str::to_owned))
    })
    .collect()
}

/// The pid a run's script wrote to `OUT/<arg>`.
async fn pid_in(cluster: &Cluster, arg: &str) -> i32 {
    let path = cluster.out.join(arg);
    eventually(&format!("the pid of {arg}'s grandchild"), || {
        std::fs::read_to_string(&path).ok()?.trim().parse().ok()
    })
    .await
}

/// The run's row as the database holds it: (state, node).
fn row(database: &str, run: &str) -> Value {
    let rows = query_json(
        database,
        &format!("SELECT state, node, outcome FROM runs WHERE id = '{run}'"),
    );
    serde_json::from_str(rows.first().expect("the run's row")).expect("row json")
}

#[actix_web::test]
async fn a_killed_nodes_running_runs_end_interrupted_once_on_another_node_and_its_restart_ends_their_leftovers(
) {
    // Arrange: two runs running on n1 (only n1 defines the script), each
    // with a grandchild.
    let mut cluster = Cluster::start_each_with(&[ORPHAN, ""], &LEASE).await;
    let a = cluster.node(0);
    let ids = [
        a.run(json!({"name": "orphan", "args": ["a1"]})).await,
        a.run(json!({"name": "orphan", "args": ["a2"]})).await,
    ];
    let grandchildren = [pid_in(&cluster, "a1").await, pid_in(&cluster, "a2").await];
    for id in &ids {
        eventually_async_row(&cluster.database, id, "running").await;
        assert_eq!(row(&cluster.database, id)["node"], "n1");
    }

    let status_file =
        |storage: &std::path::Path, id: &str| storage.join(format!("1/scripts/status/{id}.json"));
    let a_storage = cluster.node(0).storage.clone();
    for id in &ids {
        // Status files are written off the run's path: wait for it.
        let path = status_file(&a_storage, id);
        eventually(&format!("n1 to write {id}'s status file"), || {
            path.exists().then_some(())
        })
        .await;
    }

    // Act: SIGKILL n1.
    let (name, storage) = cluster.kill9(0);
    let killed = Instant::now();

    // Assert: n2 ends both `interrupted` (node lost), within the lease
    // and a margin, with one final event each.
    let b = cluster.node(0);
    for id in &ids {
        let done = eventually_within(
            LEASE_TIME + Duration::from_secs(20),
            "n2 to end the lost node's run",
            || async {
                let status = b.status(id).await;
                match status.json["state"].as_str() {
                    Some("done") => Ok(status.json.clone()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
        assert_eq!(done["outcome"], "interrupted", "{done}");
        assert_eq!(
            finals(&cluster.database, id),
            vec![("RunInterrupted".to_owned(), Some("node lost".to_owned()))],
            "one final event, the rescuer's"
        );
    }
    let took = killed.elapsed();
    assert!(
        took >= LEASE_TIME - Duration::from_millis(300),
        "rescued after {took:?}, before n1's lease could run out"
    );
    assert!(
        grandchildren.iter().all(|pid| !process_gone(*pid)),
        "the grandchildren outlive n1 (nothing on n2 may touch n1's processes)"
    );
    metrics_show(
        b,
        &[
            "scriptd_cluster_nodes_alive 1",
            "scriptd_cluster_node_alive{node=\"n1\"} 0",
            "scriptd_cluster_node_alive{node=\"n2\"} 1",
            "scriptd_cluster_rescued_runs_total{node=\"n2\"} 2",
            "scriptd_cluster_node_runs_running{node=\"n1\"} 0",
        ],
    )
    .await;

    // Act: n1 starts again under its name.
    cluster.restart(name, storage).await;

    // Assert: what its runs left behind is ended, their status files are
    // gone; nothing is ended twice.
    assert_processes_die(&grandchildren, "after n1 restarted").await;
    for id in &ids {
        let file = status_file(&a_storage, id);
        eventually(&format!("{id}'s status file to go"), || {
            (!file.exists()).then_some(())
        })
        .await;
        assert_eq!(finals(&cluster.database, id).len(), 1, "{}", cluster.logs());
    }
}

/// Waits until the run's row is in `state`.
async fn eventually_async_row(database: &str, run: &str, state: &str) {
    eventually(&format!("run {run} to be {state}"), || {
        (row(database, run)["state"] == state).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_node_paused_past_its_lease_starts_and_ends_nothing_on_its_own_and_kills_its_processes() {
    // Arrange: a script only n1 defines (so only n1 may start its runs):
    // one run running (its script sleeps on while n1 is paused: only the
    // server stops) and one queued behind it (-s=1).
    let hold = "-s=1 hold /bin/sh -c \"echo $$ > OUT/@@1; exec sleep 300\"\n";
    let cluster = Cluster::start_each_with(&[hold, ""], &LEASE).await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let first = a.run(json!({"name": "hold", "args": ["first"]})).await;
    let script = pid_in(&cluster, "first").await;
    let second = a.run(json!({"name": "hold", "args": ["second"]})).await;
    eventually_async_row(&cluster.database, &first, "running").await;
    let epoch = node_epoch(&cluster.database, "n1");

    // Act: pause n1 past its lease; resume it once n2 ended its run.
    let pid = Pid::from_raw(a.pid());
    signal::kill(pid, Signal::SIGSTOP).expect("SIGSTOP n1");
    let rescued = eventually_within(
        LEASE_TIME + Duration::from_secs(20),
        "n2 to end the paused node's run",
        || async {
            let status = b.status(&first).await;
            match status.json["state"].as_str() {
                Some("done") => Ok(status.json.clone()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let resumed_at = scriptd::clock::now();
    signal::kill(pid, Signal::SIGCONT).expect("SIGCONT n1");

    // Assert: the run ended once, by the rescuer; n1 kills its process,
    // registers a new incarnation, and only then starts the queued run.
    assert_eq!(rescued["outcome"], "interrupted", "{rescued}");
    assert_processes_die(&[script], "n1 resumed without its lease").await;
    let rejoined = eventually_ok("n1 to register again", || async {
        let (epoch_now, started) = node_incarnation(&cluster.database, "n1");
        if epoch_now > epoch {
            Ok(started)
        } else {
            Err(format!("epoch {epoch_now}"))
        }
    })
    .await;
    assert!(
        rejoined >= resumed_at - 1.0,
        "re-registered after it resumed"
    );
    eventually_async_row(&cluster.database, &second, "running").await;
    assert_eq!(
        finals(&cluster.database, &first),
        vec![("RunInterrupted".to_owned(), Some("node lost".to_owned()))],
        "one final event, the rescuer's:\n{}",
        cluster.logs()
    );
    let starts = query_json(
        &cluster.database,
        &format!(
            "SELECT at, data->>'node' AS node FROM events
             WHERE stream = '{second}' AND kind = 'RunStarted'"
        ),
    );
    assert_eq!(starts.len(), 1, "started once: {starts:?}");
    assert!(starts[0].contains(r#""node":"n1""#), "{starts:?}");
    let at: Value = serde_json::from_str(&starts[0]).expect("row json");
    let at = at["at"].as_f64().expect("at");
    assert!(
        at >= rejoined,
        "the queued run started at {at}, before n1 registered again at {rejoined}"
    );
    metrics_show(
        a,
        &[
            "scriptd_cluster_lease_losses_total{node=\"n1\"} 1",
            "scriptd_cluster_fenced{node=\"n1\"} 0",
            "scriptd_cluster_node_runs_running{node=\"n1\"} 1",
        ],
    )
    .await;
}

/// Waits until the node's `/metrics` (refreshed every renewal) has
/// every one of `lines`.
async fn metrics_show(node: &Api, lines: &[&str]) {
    eventually_ok("the cluster view in /metrics", || async {
        let (code, body) = node.get("/metrics").await;
        let text = body.as_str().unwrap_or_default().to_owned();
        match lines
            .iter()
            .find(|line| code != 200 || !text.contains(*line))
        {
            None => Ok(()),
            Some(missing) => Err(format!("{missing} not in ({code}):\n{text}")),
        }
    })
    .await;
}

/// The node's incarnation.
fn node_epoch(database: &str, node: &str) -> i64 {
    node_incarnation(database, node).0
}

/// The node's incarnation and when it registered (Unix seconds).
fn node_incarnation(database: &str, node: &str) -> (i64, f64) {
    let rows = query_json(
        database,
        &format!(
            "SELECT epoch, extract(epoch FROM started)::float8 AS started
             FROM nodes WHERE name = '{node}'"
        ),
    );
    let row: Value = serde_json::from_str(rows.first().expect("the node's row")).expect("json");
    (
        row["epoch"].as_i64().expect("epoch"),
        row["started"].as_f64().expect("started"),
    )
}

#[actix_web::test]
async fn a_node_restarted_under_its_name_leaves_the_other_nodes_runs_alone() {
    // Arrange: a run on each node (each alone defines its script).
    let on_n1 = "hold /bin/sh -c \"echo $$ > OUT/@@1; exec sleep 300\"\n";
    let on_n2 = "hold2 /bin/sh -c \"echo $$ > OUT/@@1; exec sleep 300\"\n";
    let mut cluster = Cluster::start_each_with(&[on_n1, on_n2], &LEASE).await;
    let on_a = cluster
        .node(0)
        .run(json!({"name": "hold", "args": ["a"]}))
        .await;
    let on_b = cluster
        .node(1)
        .run(json!({"name": "hold2", "args": ["b"]}))
        .await;
    let b_script = pid_in(&cluster, "b").await;
    eventually_async_row(&cluster.database, &on_a, "running").await;
    eventually_async_row(&cluster.database, &on_b, "running").await;
    assert_eq!(row(&cluster.database, &on_b)["node"], "n2");

    // Act: n1 is killed and started again at once, before its lease ran out.
    let (name, storage) = cluster.kill9(0);
    cluster.restart(name, storage).await;

    // Assert: n1's run ends interrupted (by n1's replay, as on one
    // server); n2's goes on, untouched.
    eventually_async_row(&cluster.database, &on_a, "done").await;
    assert_eq!(row(&cluster.database, &on_a)["outcome"], "interrupted");
    assert_eq!(finals(&cluster.database, &on_a).len(), 1);
    assert_eq!(row(&cluster.database, &on_b)["state"], "running");
    assert!(!process_gone(b_script), "n2's script still runs");
    assert!(finals(&cluster.database, &on_b).is_empty());
}

#[actix_web::test]
async fn a_lone_node_paused_past_its_lease_stops_its_runs_and_takes_its_own_lease_back() {
    // Arrange: a cluster of one, a run running.
    let exectab = "hold /bin/sh -c \"echo $$ > OUT/@@1; exec sleep 300\"\n";
    let cluster = Cluster::start_with(1, exectab, &LEASE).await;
    let a = cluster.node(0);
    let id = a.run(json!({"name": "hold", "args": ["only"]})).await;
    let script = pid_in(&cluster, "only").await;
    eventually_async_row(&cluster.database, &id, "running").await;

    // Act: pause it until the database holds its lease expired; resume.
    let pid = Pid::from_raw(a.pid());
    signal::kill(pid, Signal::SIGSTOP).expect("SIGSTOP n1");
    eventually("n1's lease to run out", || {
        let rows = query_json(
            &cluster.database,
            "SELECT name FROM nodes WHERE lease_until < clock_timestamp()",
        );
        (!rows.is_empty()).then_some(())
    })
    .await;
    signal::kill(pid, Signal::SIGCONT).expect("SIGCONT n1");

    // Assert: nobody else could end its run or give n1 up, so n1 takes
    // its own lease back (the same incarnation); the run it stopped when
    // it found its lease gone records its own end once, `interrupted`,
    // and its process is killed.
    assert_processes_die(&[script], "n1 resumed without its lease").await;
    eventually_async_row(&cluster.database, &id, "done").await;
    let ends = finals(&cluster.database, &id);
    assert_eq!(ends.len(), 1, "one final event: {ends:?}");
    assert_eq!(ends[0].0, "RunInterrupted", "{}", cluster.logs());
    assert_eq!(
        node_epoch(&cluster.database, "n1"),
        1,
        "the same incarnation:\n{}",
        cluster.logs()
    );
    let next = a.run(json!({"name": "hold", "args": ["next"]})).await;
    eventually_async_row(&cluster.database, &next, "running").await;
}
