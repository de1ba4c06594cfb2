//! Runs are controlled from any node: the status of a run shows its
//! progress on the nodes it does not run on, a queued run is cancelled
//! from another node, and a kill asked on one node stops the run on the
//! node that runs it; also from a node whose exectab lacks the script
//! (it never starts its runs, and still shows and controls them).

use serde_json::json;

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::eventually;

const WORK: &str = r#"work /bin/sh -c "echo '[1/2] Loading'; echo '[50%] half'; while [ ! -e OUT/never ]; do sleep 0.05; done"
"#;

#[actix_web::test]
async fn progress_shows_on_every_node_and_cancel_and_kill_work_from_other_nodes() {
    // A and B define `work`; C does not.
    let cluster = Cluster::start_each(&[WORK, WORK, ""]).await;
    let bare = 2;
    let id = cluster.node(0).run(json!({"name": "work"})).await;
    cluster
        .node(0)
        .wait_status(&id, "the run to start", |s| s["state"] == "running")
        .await;
    // Its start may still be committing on its node: once it is, the
    // row names that node.
    let owner = eventually("the start on record", || {
        let rows = query_json(
            &cluster.database,
            &format!("SELECT node FROM runs WHERE id = '{id}' AND state = 'running'"),
        );
        rows.first().cloned()
    })
    .await;
    let owner: serde_json::Value = serde_json::from_str(&owner).expect("json");
    let owner = owner["node"].as_str().expect("a node").to_owned();
    assert_ne!(owner, "n3", "C does not define the script");
    let others: Vec<usize> = (0..3).filter(|i| cluster.node(*i).name != owner).collect();
    assert_eq!(others.len(), 2, "owner {owner}");
    let other = others[0];
    let at_owner = (0..3)
        .find(|i| cluster.node(*i).name == owner)
        .expect("owner");
    let own = cluster
        .node(at_owner)
        .wait_status(&id, "its progress on its node", |s| s["subtask"] == "half")
        .await;

    for &i in &others {
        let status = cluster
            .node(i)
            .wait_status(&id, "its progress on another node", |s| {
                s["state"] == "running"
                    && s["task"] == "Loading"
                    && s["subtask"] == "half"
                    && s["subtaskpercent"] == 50
            })
            .await;
        for field in [
            "started",
            "task",
            "tasknum",
            "maxtasks",
            "taskstart",
            "subtask",
        ] {
            assert_eq!(status[field], own[field], "{field}: {status} vs {own}");
        }
        let listed = cluster.node(i).status_all().await;
        assert_eq!(listed["running"]["work"], json!([id]), "{listed}");
    }

    // A second run waits behind the first (-s=1); C cancels it.
    let queued = cluster.node(other).run(json!({"name": "work"})).await;
    let waiting = cluster
        .node(bare)
        .wait_status(&queued, "C to see it queued", |s| s["state"] == "queued")
        .await;
    assert_eq!(waiting["position"], 0, "{waiting}");
    cluster.node(bare).cancel(&queued).await;
    let cancelled = cluster.node(at_owner).wait_done(&queued).await;
    assert_eq!(cancelled["outcome"], "cancelled", "{cancelled}");

    cluster.node(bare).kill(&id).await;
    let killed = cluster.node(other).wait_done(&id).await;
    assert_eq!(killed["outcome"], "killed", "{killed}");
    let audit = query_json(
        &cluster.database,
        &format!("SELECT killed_by, node FROM runs WHERE id = '{id}'"),
    );
    assert_eq!(
        audit,
        [format!(r#"{{"killed_by":"user:1","node":"{owner}"}}"#)],
        "killed on its node, by the request made on another"
    );
    let nodes = query_json(
        &cluster.database,
        "SELECT DISTINCT node FROM runs WHERE node IS NOT NULL",
    );
    assert!(
        !nodes.iter().any(|n| n.contains("n3")),
        "C started nothing: {nodes:?}"
    );
}

#[actix_web::test]
async fn a_node_started_after_a_run_began_elsewhere_kills_it_at_once() {
    // A runs `work`; B does not define it, and comes back from a kill -9
    // after the run started, so it never saw the start go by.
    let mut cluster = Cluster::start_each(&[WORK, ""]).await;
    let id = cluster.node(0).run(json!({"name": "work"})).await;
    cluster
        .node(0)
        .wait_status(&id, "the run to start", |s| s["state"] == "running")
        .await;
    let (name, storage) = cluster.kill9(1);
    let b = cluster.restart(name, storage).await;

    let (status, reply) = b.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
    assert_eq!(status, 200, "the restarted node kills A's run: {reply}");
    let done = cluster.node(0).wait_done(&id).await;
    assert_eq!(done["outcome"], "killed", "{done}");
}
