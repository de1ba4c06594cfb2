//! A schedule in a cluster (issue 30): three nodes on one PostgreSQL
//! database all define the same every-second schedule. Each tick has one
//! owner among the live nodes, which fires it; the others stand by and
//! fire it only if they have not seen it recorded a grace later
//! (`actors::timer::owner`); the database still keeps one record per
//! tick. One node is killed with SIGKILL mid-way: its ticks are fired by
//! the next node after the grace (none waits for the dead node's lease to
//! expire), and the ticks in the log have no duplicate and no gap.

use std::collections::BTreeSet;

use crate::helpers::cluster::Cluster;
use crate::helpers::{unix_now, Api};
use crate::schedules::{clock_past, wait_ticks};
use crate::schedules_restart::assert_contiguous;

/// `actors::timer::owner::MAX_GRACE`, in seconds: the longest each rank
/// waits for the one before it. The grace is 0.3 s on an idle machine
/// and follows how late a node's own ticks come back, up to this, so a
/// loaded machine may see it all; every bound here stays well under the
/// 10 s lease a tick must not wait for.
const MAX_GRACE: f64 = 2.0;
/// What a loaded machine may add to a tick's lateness beyond its grace.
const SLACK: f64 = 2.0;

#[actix_web::test]
async fn three_nodes_tick_each_instant_once_and_survive_a_kill_9() {
    // Arrange
    let mut cluster = Cluster::start(3, "-n -c=\"* * * * * *\" beat\n").await;
    wait_ticks(cluster.node(0), "beat", |found| found.len() >= 3).await;

    // Act 1: six ticks go by with every node alive.
    let before = fired_by(&cluster, &[0, 1, 2]).await;
    let from = unix_now();
    clock_past(from + 6).await;
    let after = fired_by(&cluster, &[0, 1, 2]).await;

    // Assert 1: about one firing per tick in all (each node firing each
    // tick would make three), and every node left ticks to others.
    let fired: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.fired() - b.fired())
        .sum();
    assert!(
        (4..=9).contains(&fired),
        "6 or 7 ticks went by, fired {fired} times in all: {before:?} → {after:?}"
    );
    for (node, (a, b)) in after.iter().zip(&before).enumerate() {
        assert!(a.yielded > b.yielded, "node {node} stood by: {b:?} → {a:?}");
    }

    // Act 2: kill n2 mid-way; the others go on.
    let before = fired_by(&cluster, &[0, 2]).await;
    let _ = cluster.kill9(1);
    let killed = unix_now();
    clock_past(killed + 4).await;
    let records = wait_ticks(cluster.node(0), "beat", |found| {
        found.iter().any(|r| r["tick"].as_i64() >= Some(killed + 5))
    })
    .await;
    // `kill9` took n2 out of the list: n3 is node 1 now.
    let after = fired_by(&cluster, &[0, 1]).await;

    // Assert 2: one record per second, each with a run of its own.
    assert_contiguous(&records);
    let ticks: BTreeSet<i64> = records.iter().filter_map(|r| r["tick"].as_i64()).collect();
    assert_eq!(ticks.len(), records.len(), "no tick twice: {records:#?}");
    let runs: BTreeSet<&str> = records.iter().filter_map(|r| r["run"].as_str()).collect();
    assert_eq!(
        runs.len(),
        records.len(),
        "every tick queued one run: {records:#?}"
    );
    // The dead node's lease (10 s by default) holds all along: its ticks
    // were fired by the survivors standing in, a grace late, not after
    // its lease.
    let stood_in: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.standby - b.standby)
        .sum();
    assert!(
        stood_in > 0,
        "the survivors fired the dead node's ticks: {before:?} → {after:?}"
    );
    for record in records.iter().filter(|r| r["tick"].as_i64() > Some(killed)) {
        let late = record["late"].as_f64().expect("late");
        assert!(
            late < MAX_GRACE + SLACK,
            "no tick waits for a lease: {record}"
        );
    }
    let from_n3 = wait_ticks(cluster.node(1), "beat", |found| {
        found.len() >= records.len()
    })
    .await;
    assert_contiguous(&from_n3);
}

#[actix_web::test]
async fn a_node_that_does_not_define_a_schedule_leaves_its_ticks_to_the_next_rank() {
    // Arrange: n3 has no such script; it owns a third of the ticks all
    // the same (the ranking knows nothing of exectabs).
    let tab = "-n -c=\"* * * * * *\" beat\n";
    let cluster = Cluster::start_each(&[tab, tab, ""]).await;
    wait_ticks(cluster.node(0), "beat", |found| found.len() >= 2).await;

    // Act
    let from = unix_now();
    let records = wait_ticks(cluster.node(0), "beat", |found| {
        found.iter().any(|r| r["tick"].as_i64() >= Some(from + 8))
    })
    .await;

    // Assert: no gap, no double; n3's ticks came at most two graces late
    // (rank 1 may be n3 too, then rank 2 fires).
    assert_contiguous(&records);
    let late: Vec<f64> = records
        .iter()
        .filter(|r| r["tick"].as_i64() > Some(from))
        .map(|r| r["late"].as_f64().expect("late"))
        .collect();
    assert!(late.len() >= 8, "{records:#?}");
    assert!(
        late.iter().all(|l| *l < 2.0 * MAX_GRACE + SLACK),
        "each tick within two graces: {late:?}"
    );
    let n3 = fired_of(cluster.node(2)).await;
    assert_eq!(n3.fired(), 0, "n3 fires nothing it does not define: {n3:?}");
}

/// One node's `scriptd_schedule_ticks_fired_total` and `_yielded_total`.
#[derive(Debug, Clone, Copy, Default)]
struct Fired {
    owner: u64,
    standby: u64,
    yielded: u64,
}

impl Fired {
    fn fired(&self) -> u64 {
        self.owner + self.standby
    }
}

async fn fired_by(cluster: &Cluster, nodes: &[usize]) -> Vec<Fired> {
    let mut out = Vec::new();
    for i in nodes {
        out.push(fired_of(cluster.node(*i)).await);
    }
    out
}

async fn fired_of(node: &Api) -> Fired {
    let (code, body) = node.get("/metrics").await;
    assert_eq!(code, 200, "{body}");
    let text = body.as_str().unwrap_or_default();
    let value = |series: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in /metrics:\n{text}"))
    };
    Fired {
        owner: value("scriptd_schedule_ticks_fired_total{as=\"owner\"} "),
        standby: value("scriptd_schedule_ticks_fired_total{as=\"standby\"} "),
        yielded: value("scriptd_schedule_ticks_yielded_total "),
    }
}
