//! A node paused in the middle of a commit (issue 29): commits of every
//! node are serialised by one advisory lock, so a node stopped (SIGSTOP)
//! while it holds it must not hold it for long. Here n1 commits a stream
//! of runs and is paused at random moments; each time the test, as any
//! other node's commit would, takes the lock and times the wait. It used
//! to wait for the lease (PostgreSQL's idle-in-transaction limit was the
//! lease time), then for a 200 ms idle limit; since a commit is one call
//! of `scriptd_commit`, the lock is held only while the server runs it, so
//! a paused node's commit ends on its own. The waits are printed (see
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
/// Pauses of n1.
const PAUSES: usize = 60;
/// Far below the default lease (10 s): what a paused node must never make
/// the others wait.
const BOUND: Duration = Duration::from_secs(2);
/// The old path's idle limit (`writer::COMMIT_IDLE_LIMIT`): a commit that
/// kept the lock while its paused node idled made the others wait at
/// least this long.
const IDLE_LIMIT: Duration = scriptd::events::postgres::writer::COMMIT_IDLE_LIMIT;

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

    // Act: pause n1 PAUSES times, at random moments of its commits; each
    // time, take the lock as another node's commit would, and time it.
    let (mut waits, mut caught) = (Vec::new(), 0);
    for pause in 0..PAUSES {
        streams[pause % 8]
            .accepts_more(3, "n1 to commit runs")
            .await;
        signal::kill(pid, Signal::SIGSTOP).expect("SIGSTOP n1");
        let paused = Instant::now();
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(COMMIT_LOCK)
            .fetch_one(&mut conn)
            .await
            .expect("try the commit lock");
        let waited = match free {
            true => Ok(()),
            false => sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(COMMIT_LOCK)
                .execute(&mut conn)
                .await
                .map(drop),
        };
        let wait = paused.elapsed();
        signal::kill(pid, Signal::SIGCONT).expect("SIGCONT n1");
        assert!(
            waited.is_ok(),
            "the commit lock was held past {BOUND:?} by a paused node: {waited:?}"
        );
        caught += usize::from(!free);
        waits.push(wait);
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
    waits.sort();
    eprintln!(
        "commit lock waits behind a paused node ({PAUSES} pauses, {caught} caught holding it, \
         {} runs): p50 {:?}, p90 {:?}, max {:?}",
        accepted.len(),
        waits[PAUSES / 2],
        waits[PAUSES * 9 / 10],
        waits[PAUSES - 1]
    );
    // The old path made every caught pause wait for its idle limit; the
    // one-call commit ends without its node (a few slow test queries on
    // a loaded machine aside).
    let long = waits.iter().filter(|wait| **wait >= IDLE_LIMIT).count();
    assert!(
        long <= PAUSES / 20,
        "{long} of {PAUSES} pauses kept the others from the commit lock for {IDLE_LIMIT:?} \
         or more: {waits:?}"
    );
}
