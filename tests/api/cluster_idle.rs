//! What an idle node asks its database (issue 29): every statement the
//! server runs is logged (`log_statement = all`, on a private server of
//! the test's own), and a window of idleness between two markers is
//! counted. The key watch used to read the log's end five times a second
//! on every node; on PostgreSQL it is told every commit and reads
//! nothing while nothing is committed. The lease, the rescuer and the
//! follower cost a few statements a second, not more (BENCHMARKS.md, "The
//! cluster under pauses and outages": ~3 a second per node); the schedule
//! timer none.

use std::time::Duration;

use sqlx::Connection;

use crate::helpers::cluster::Cluster;
use crate::private_postgres::PrivatePostgres;

/// How long the node idles while counted.
const WINDOW: Duration = Duration::from_secs(3);

async fn run(url: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the private server");
    sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
}

#[actix_web::test]
async fn an_idle_node_asks_its_database_a_few_statements_a_second_and_none_for_keys() {
    // Arrange: every statement logged; one node (default lease), idle.
    let pg = PrivatePostgres::start().await;
    run(&pg.url(), "ALTER SYSTEM SET log_statement = 'all'").await;
    run(&pg.url(), "SELECT pg_reload_conf()").await;
    let cluster = Cluster::start_on(pg.url(), 1, "", &[]).await;

    // Act: count a window of idleness between two markers.
    run(&pg.url(), "SELECT 'idle window starts'").await;
    actix_rt::time::sleep(WINDOW).await;
    run(&pg.url(), "SELECT 'idle window ends'").await;

    // Assert
    let log = pg.log();
    let window: Vec<&str> = log
        .lines()
        .skip_while(|line| !line.contains("idle window starts"))
        .skip(1)
        .take_while(|line| !line.contains("idle window ends"))
        .filter(|line| line.contains("LOG:  statement:") || line.contains("LOG:  execute"))
        .collect();
    let keys = window
        .iter()
        .filter(|line| line.contains("max(seq)"))
        .count();
    assert_eq!(
        keys,
        0,
        "reads of the log's end while idle:\n{}",
        window.join("\n")
    );
    // The schedule timer reads the users once, as the node starts (the
    // window may begin before that read); once a second was issue 30's gap.
    let users = window
        .iter()
        .filter(|line| line.contains("FROM users"))
        .count();
    assert!(
        users <= 1,
        "{users} reads of the users while idle:\n{}",
        window.join("\n")
    );
    let per_second = window.len() as f64 / WINDOW.as_secs_f64();
    // A few a second: the lease's renewal and the rescuer's look and the
    // follower's safety poll. The schedule timer asks nothing while idle:
    // it read the users and pauses at start and is told of changes by the
    // follower (issue 30).
    assert!(
        per_second <= 6.0,
        "{per_second:.1} statements a second while idle:\n{}\n{}",
        window.join("\n"),
        cluster.logs()
    );
    eprintln!("an idle node: {per_second:.1} statements a second");
}

/// Statements of one connection's commits: those of the backend that took
/// the commit lock (the writer), counted per commit.
fn writer_round_trips(window: &[&str]) -> (usize, usize) {
    let pid = |line: &str| line.split(['[', ']']).nth(1).map(str::to_owned);
    let lock = scriptd::events::postgres::writer::COMMIT_LOCK.to_string();
    let Some(writer) = window
        .iter()
        .find(|line| line.contains(&format!("pg_advisory_xact_lock({lock})")))
        .and_then(|line| pid(line))
    else {
        return (0, 0);
    };
    let lines: Vec<&&str> = window
        .iter()
        .filter(|line| pid(line).as_deref() == Some(writer.as_str()))
        .collect();
    let commits = lines
        .iter()
        .filter(|line| line.contains("pg_advisory_xact_lock"))
        .count();
    (commits, lines.len())
}

#[actix_web::test]
async fn a_group_commit_takes_a_few_round_trips() {
    // Arrange: every statement logged; one node with a `-n` script.
    let pg = PrivatePostgres::start().await;
    run(&pg.url(), "ALTER SYSTEM SET log_statement = 'all'").await;
    run(&pg.url(), "SELECT pg_reload_conf()").await;
    let cluster = Cluster::start_on(pg.url(), 1, "-n noop /bin/true\n", &[]).await;
    let node = cluster.node(0);

    // Act: 20 runs, one after another, each accepted and ended.
    run(&pg.url(), "SELECT 'commits start'").await;
    for _ in 0..20 {
        let id = node.run(serde_json::json!({"name": "noop"})).await;
        node.wait_done(&id).await;
    }
    run(&pg.url(), "SELECT 'commits end'").await;

    // Assert: every statement of the writer is one round trip (sqlx
    // sends a statement's messages together; a simple query's several
    // statements go in one message).
    let log = pg.log();
    let window: Vec<&str> = log
        .lines()
        .skip_while(|line| !line.contains("commits start"))
        .skip(1)
        .take_while(|line| !line.contains("commits end"))
        .filter(|line| line.contains("LOG:  statement:") || line.contains("LOG:  execute"))
        .collect();
    let (commits, trips) = writer_round_trips(&window);
    assert!(
        commits >= 20,
        "{commits} commits for 20 runs:\n{}",
        window.join("\n")
    );
    let per_commit = trips as f64 / commits as f64;
    eprintln!(
        "20 runs: {commits} commits, {trips} writer round trips ({per_commit:.2} per commit), \
         {} statements of every connection ({:.1} per run)",
        window.len(),
        window.len() as f64 / 20.0
    );
    assert!(
        per_commit <= 8.0,
        "{per_commit:.2} round trips per commit:\n{}",
        window.join("\n")
    );
}
