//! A node fenced for good because another process took its name (`--node`
//! reused): it logs the fence once, retries the ends it cannot record
//! quietly, and exits on SIGTERM within the usual shutdown grace instead
//! of waiting for commits its lost lease will never allow.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::child::{assert_processes_die, Server};
use crate::helpers::cluster::Cluster;
use crate::helpers::eventually;
use crate::helpers::server::{Database, Scheme, ServerSpec};

#[actix_web::test]
async fn a_node_whose_name_was_taken_logs_the_fence_once_and_stops_within_the_grace() {
    // Arrange: n1 runs a script.
    let mut cluster = Cluster::start(
        1,
        "sl /bin/sh -c \"echo $$ > OUT/sl.pid; exec sleep 300\"\n",
    )
    .await;
    let n1 = cluster.node(0);
    n1.run(json!({"name": "sl"})).await;
    let pid: i32 = eventually("the script's pid", || {
        std::fs::read_to_string(cluster.out.join("sl.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
    .await;

    // Act: another process starts under the name n1.
    let temp = tempfile::tempdir().expect("temp dir");
    let storage = temp.path().join("impostor");
    std::fs::create_dir_all(&storage).expect("storage");
    std::fs::copy(n1.storage.join("admin.key"), storage.join("admin.key")).expect("key");
    let args = ServerSpec::new(&storage, Scheme::Plain)
        .on(Database::Postgres(cluster.database.clone()))
        .serve_args(&["--node", "n1"]);
    let impostor = Server::launch(&storage, &args, "impostor", "0").await;
    eventually("n1 to see that its name was taken", || {
        n1.stderr()
            .contains("another process registered under this node's name")
            .then_some(())
    })
    .await;
    assert_processes_die(&[pid], "the fenced node's run").await;
    let stopping = Instant::now();
    let (status, log) = cluster.terminate(0).await;
    let took = stopping.elapsed();
    drop(impostor);

    // Assert
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(
        errors.len() <= 2,
        "the fence is logged once, the retries quietly: {errors:#?}"
    );
    assert!(status.success(), "a clean exit: {status}");
    assert!(
        took < Duration::from_secs(10),
        "exits within the shutdown grace (10 s), took {took:?}"
    );
}
