//! A schedule in a cluster (issue 30): three nodes on one PostgreSQL
//! database all define the same every-second schedule and race for each
//! tick; the database keeps one record per tick. One node is killed with
//! SIGKILL mid-way: the others keep ticking at once (no tick waits for
//! the dead node's lease to expire), and the ticks in the log have no
//! duplicate and no gap.

use std::collections::BTreeSet;

use crate::helpers::cluster::Cluster;
use crate::helpers::unix_now;
use crate::schedules::{clock_past, wait_ticks};
use crate::schedules_restart::assert_contiguous;

#[actix_web::test]
async fn three_nodes_tick_each_instant_once_and_survive_a_kill_9() {
    // Arrange
    let mut cluster = Cluster::start(3, "-n -c=\"* * * * * *\" beat\n").await;
    wait_ticks(cluster.node(0), "beat", |found| found.len() >= 3).await;

    // Act: kill n2 mid-way; the others go on.
    let _ = cluster.kill9(1);
    let killed = unix_now();
    clock_past(killed + 4).await;
    let records = wait_ticks(cluster.node(0), "beat", |found| {
        found.iter().any(|r| r["tick"].as_i64() >= Some(killed + 5))
    })
    .await;

    // Assert: one record per second, each with a run of its own.
    assert_contiguous(&records);
    let ticks: BTreeSet<i64> = records.iter().filter_map(|r| r["tick"].as_i64()).collect();
    assert_eq!(ticks.len(), records.len(), "no tick twice: {records:#?}");
    let runs: BTreeSet<&str> = records.iter().filter_map(|r| r["run"].as_str()).collect();
    assert_eq!(
        runs.len(),
        records.len(),
        "every tick queued one run: {records:#?}"
    );
    for record in records.iter().filter(|r| r["tick"].as_i64() > Some(killed)) {
        let late = record["late"].as_f64().expect("late");
        // The default lease is 10 s: a tick that waited for it would show.
        assert!(late < 5.0, "no tick waits for a lease: {record}");
    }
    let from_n3 = wait_ticks(cluster.node(1), "beat", |found| {
        found.len() >= records.len()
    })
    .await;
    assert_contiguous(&from_n3);
}
