//! Status files in a cluster: a queued run's file is on the node that
//! queued it; the other nodes mirror the run (their `GET status` shows
//! it) without writing a file of their own. Every node writing every
//! queued run's file cost a following node most of its CPU (issue 29,
//! "follow less"; BENCHMARKS.md, "What following the log costs a node").

use std::path::Path;

use serde_json::json;

use crate::helpers::cluster::Cluster;
use crate::helpers::{eventually, eventually_async, unix_now};

fn status_file(storage: &Path, id: &str) -> std::path::PathBuf {
    storage.join(format!("1/scripts/status/{id}.json"))
}

#[actix_web::test]
async fn a_queued_run_has_its_status_file_on_the_node_that_queued_it_only() {
    // Arrange: both nodes define the script.
    let cluster = Cluster::start(2, "later /bin/true\n").await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let tomorrow = unix_now() + 86_400;

    // Act: A queues one run for tomorrow; once B mirrors it, B queues one.
    let from_a = a.run(json!({"name": "later", "queue": tomorrow})).await;
    eventually_async("B to mirror A's queued run", || async {
        b.status(&from_a).await.json["state"] == "queued"
    })
    .await;
    let from_b = b.run(json!({"name": "later", "queue": tomorrow})).await;

    // Assert: each node's own file appears. B's status-file writer takes
    // changes in order, so by the time B's own run's file is on disk, a
    // file B wrote for A's run (sent earlier) would be there too.
    for (node, id) in [(a, &from_a), (b, &from_b)] {
        let path = status_file(&node.storage, id);
        eventually(
            &format!("{} to write {id}'s status file", node.name),
            || path.exists().then_some(()),
        )
        .await;
    }
    assert!(
        !status_file(&b.storage, &from_a).exists(),
        "B wrote a status file for the run A queued"
    );
    assert!(
        !status_file(&a.storage, &from_b).exists(),
        "A wrote a status file for the run B queued"
    );
    let seen = a.status(&from_b).await;
    assert_eq!(
        seen.json["state"], "queued",
        "A still mirrors B's run: {seen}"
    );
}
