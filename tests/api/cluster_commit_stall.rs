//! A node paused in the middle of a commit (issue 29): commits of every
//! node are serialised by one advisory lock, so a node stopped (SIGSTOP)
//! while it holds it must not hold it for long. Here n1 commits a stream
//! of runs and is paused at random moments until it has been caught
//! mid-commit (the lock held) a few times; each time the test, as any
//! other node's commit would, waits for the lock. It used to wait for the
//! lease (PostgreSQL's idle-in-transaction limit was the lease time); it
//! must not wait anything like it. The longest waits are printed (see
//! BENCHMARKS.md, "A node paused mid-commit"); the runs n1 was committing
//! when it was paused are accepted all the same, or refused as
//! unavailable, never lost.

use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use sqlx::Connection;

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::run_stream::RunStream;
use crate::helpers::Api;

/// The commit lock's key (`events::postgres::writer::COMMIT_LOCK`).
const COMMIT_LOCK: i64 = scriptd::events::postgres::writer::COMMIT_LOCK;
/// Pauses caught mid-commit before the test concludes.
const CAUGHT: usize = 5;
/// Far below the default lease (10 s), far above the limit (50 ms): what
/// a paused node must never make the others wait.
const BOUND: Duration = Duration::from_secs(2);

#[actix_web::test]
async fn a_node_paused_mid_commit_stalls_the_other_nodes_commits_briefly() {
    // Arrange: n1 (default lease) commits runs from eight streams.
    let cluster = Cluster::start(2, "-n noop /bin/true\n").await;
    let n1 = cluster.node(0);
    let api = || Api {
        base: n1.base.clone(),
        key: n1.key.clone(),
        client: n1.client.clone(),
        tls: None,
    };
    let streams: Vec<RunStream> = (0..8)
        .map(|_| RunStream::start(vec![api()], "noop"))
        .collect();
    let mut conn = sqlx::PgConnection::connect(&cluster.database)
        .await
        .expect("the test's own connection");
    sqlx::raw_sql(&format!("SET lock_timeout = {}", BOUND.as_millis()))
        .execute(&mut conn)
        .await
        .expect("lock_timeout");
    let pid = Pid::from_raw(n1.pid());

    // Act: pause n1 until caught holding the commit lock CAUGHT times;
    // each time, take the lock as another node's commit would.
    let mut stalls = Vec::new();
    let mut tries = 0;
    while stalls.len() < CAUGHT {
        tries += 1;
        assert!(tries < 500, "n1 never caught mid-commit in {tries} pauses");
        streams[tries % 8]
            .accepts_more(3, "n1 to commit runs")
            .await;
        signal::kill(pid, Signal::SIGSTOP).expect("SIGSTOP n1");
        let paused = Instant::now();
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(COMMIT_LOCK)
            .fetch_one(&mut conn)
            .await
            .expect("try the commit lock");
        if !free {
            let waited = sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(COMMIT_LOCK)
                .execute(&mut conn)
                .await;
            let stall = paused.elapsed();
            signal::kill(pid, Signal::SIGCONT).expect("SIGCONT n1");
            assert!(
                waited.is_ok(),
                "the commit lock was held past {BOUND:?} by a paused node: {waited:?}"
            );
            stalls.push(stall);
        } else {
            signal::kill(pid, Signal::SIGCONT).expect("SIGCONT n1");
        }
    }

    // Assert: every answer was an acceptance or a refusal, and every
    // accepted run is on record.
    let mut accepted = Vec::new();
    for stream in streams {
        let answers = stream.finish().await;
        assert!(
            answers.other.is_empty(),
            "answered success or database_unavailable: {:?}\n{}",
            answers.other,
            cluster.logs()
        );
        accepted.extend(answers.accepted);
    }
    let ids = accepted
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let found = query_json(
        &cluster.database,
        &format!("SELECT count(*) AS n FROM runs WHERE id IN ({ids})"),
    );
    assert_eq!(
        found,
        vec![format!("{{\"n\":{}}}", accepted.len())],
        "every accepted run is on record"
    );
    stalls.sort();
    eprintln!(
        "commit stalls behind a paused node ({} caught in {tries} pauses, {} runs): {stalls:?}",
        stalls.len(),
        accepted.len()
    );
}
