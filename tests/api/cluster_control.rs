//! Runs are controlled from any node: the status of a run shows its
//! progress on the nodes it does not run on, a queued run is cancelled
//! from another node, and a kill asked on one node stops the run on the
//! node that runs it.

use serde_json::json;

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::eventually;

const WORK: &str = r#"work /bin/sh -c "echo '[1/2] Loading'; echo '[50%] half'; while [ ! -e OUT/never ]; do sleep 0.05; done"
"#;

#[actix_web::test]
async fn progress_shows_on_every_node_and_cancel_and_kill_work_from_other_nodes() {
    let cluster = Cluster::start(3, WORK).await;
    let id = cluster.node(0).run(json!({"name": "work"})).await;
    let database = cluster.database.clone();
    let owner = eventually("the run to start on some node", || {
        let rows = query_json(
            &database,
            &format!("SELECT node FROM runs WHERE id = '{id}' AND state = 'running'"),
        );
        rows.first().cloned()
    })
    .await;
    let owner: serde_json::Value = serde_json::from_str(&owner).expect("json");
    let owner = owner["node"].as_str().expect("a node").to_owned();
    let others: Vec<usize> = (0..3).filter(|i| cluster.node(*i).name != owner).collect();
    assert_eq!(others.len(), 2, "owner {owner}");
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

    // A second run waits behind the first (-s=1); another node cancels it.
    let queued = cluster.node(others[0]).run(json!({"name": "work"})).await;
    cluster.node(others[1]).cancel(&queued).await;
    let cancelled = cluster.node(0).wait_done(&queued).await;
    assert_eq!(cancelled["outcome"], "cancelled", "{cancelled}");

    cluster.node(others[0]).kill(&id).await;
    let killed = cluster.node(others[1]).wait_done(&id).await;
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
}
