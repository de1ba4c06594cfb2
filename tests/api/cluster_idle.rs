//! What an idle node asks its database (issue 29): every statement the
//! server runs is logged (`log_statement = all`, on a private server of
//! the test's own), and a window of idleness between two markers is
//! counted. The key watch used to read the log's end five times a second
//! on every node; on PostgreSQL it is told every commit and reads
//! nothing while nothing is committed. The lease, the rescuer and the
//! follower cost a few statements a second, not more (BENCHMARKS.md, "The
//! cluster under pauses and outages": ~3 a second per node, ~2 since the
//! follower polls every 10 s while it listens); the schedule timer none.

use std::time::Duration;

use sqlx::Connection;

use crate::helpers::cluster::Cluster;
use crate::helpers::eventually;
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
    // The follower polls every second until its `LISTEN` holds: the
    // window opens once it does and the read that follows it is done.
    eventually("the node to listen and read the log's tail", || {
        let log = pg.log();
        let (_, after) = log.split_once("statement: LISTEN")?;
        after.contains("FROM events e WHERE e.seq >").then_some(())
    })
    .await;

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
    // The follower reads the log's tail when told of a commit; its safety
    // poll is every 10 s while its `LISTEN` connection is up (it was every
    // second: a third of an idle node's statements).
    let tails = window
        .iter()
        .filter(|line| line.contains("FROM events e WHERE e.seq >"))
        .count();
    assert!(
        tails <= 1,
        "{tails} reads of the log's tail while idle:\n{}",
        window.join("\n")
    );
    let per_second = window.len() as f64 / WINDOW.as_secs_f64();
    // A few a second: the lease's renewal and the `/metrics` view of the
    // nodes (the rescuer asks only when a lease may have run out, and
    // the follower every 10 s). The schedule timer asks nothing while idle:
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

/// Statements of one connection's commits: those of the backend that
/// commits (the writer: it calls `scriptd_commit`, or takes the commit
/// lock on the multi-statement path), counted per commit. The writer's
/// other work, the webhook outbox's claim passes (a transaction of
/// prepared statements: `execute …: BEGIN` to `execute …: COMMIT`), is
/// left out.
fn writer_round_trips(window: &[&str]) -> (usize, usize) {
    let pid = |line: &str| line.split(['[', ']']).nth(1).map(str::to_owned);
    let lock = scriptd::events::postgres::writer::COMMIT_LOCK.to_string();
    let is_commit = |line: &str| {
        line.contains("FROM scriptd_commit(")
            || line.contains(&format!("pg_advisory_xact_lock({lock})"))
    };
    let Some(writer) = window
        .iter()
        .find(|line| is_commit(line))
        .and_then(|line| pid(line))
    else {
        return (0, 0);
    };
    let (mut commits, mut trips, mut outbox) = (0, 0, false);
    for line in window
        .iter()
        .filter(|line| pid(line).as_deref() == Some(writer.as_str()))
    {
        let execute = line.contains("LOG:  execute");
        if execute && line.ends_with(": BEGIN") {
            outbox = true;
        }
        // A pass that began before the window shows only its end.
        let claim_pass = execute
            && (line.ends_with(": COMMIT")
                || line.ends_with(": ROLLBACK")
                || line.contains("claimed_until")
                || line.contains("FROM hook_deliveries")
                || line.contains("SELECT d.id, d.hook_id")
                || line.contains("FROM hooks WHERE paused"));
        if outbox || claim_pass {
            eprintln!("the writer's outbox: {line}");
            outbox = !(execute && (line.ends_with(": COMMIT") || line.ends_with(": ROLLBACK")));
            continue;
        }
        commits += usize::from(is_commit(line));
        trips += 1;
    }
    (commits, trips)
}

/// Runs `runs` runs of `script` on one node, one after another, each
/// accepted and ended, with every statement logged: the commits and the
/// writer's round trips among them.
async fn count_commits(exectab: &str, script: &str, runs: usize) -> (usize, usize) {
    // Arrange: every statement logged; one node.
    let pg = PrivatePostgres::start().await;
    run(&pg.url(), "ALTER SYSTEM SET log_statement = 'all'").await;
    run(&pg.url(), "SELECT pg_reload_conf()").await;
    let cluster = Cluster::start_on(pg.url(), 1, exectab, &[]).await;
    let node = cluster.node(0);

    // Act: the runs, one after another, each accepted and ended.
    run(&pg.url(), "SELECT 'commits start'").await;
    for _ in 0..runs {
        let id = node.run(serde_json::json!({ "name": script })).await;
        node.wait_done(&id).await;
    }
    run(&pg.url(), "SELECT 'commits end'").await;

    // Every statement of the writer is one round trip (sqlx sends a
    // statement's messages together; a simple query's several statements
    // go in one message).
    let log = pg.log();
    let window: Vec<&str> = log
        .lines()
        .skip_while(|line| !line.contains("commits start"))
        .skip(1)
        .take_while(|line| !line.contains("commits end"))
        .filter(|line| line.contains("LOG:  statement:") || line.contains("LOG:  execute"))
        .collect();
    let (commits, trips) = writer_round_trips(&window);
    eprintln!(
        "{runs} runs of {script}: {commits} commits, {trips} writer round trips ({:.2} per commit), \
         {} statements of every connection ({:.1} per run)",
        trips as f64 / commits.max(1) as f64,
        window.len(),
        window.len() as f64 / runs as f64
    );
    assert!(
        commits >= runs,
        "{commits} commits for {runs} runs:\n{}",
        window.join("\n")
    );
    (commits, trips)
}

/// Round trips the writer may make besides its calls in a window: the
/// edge of an outbox pass or of a retention pass cut by the window.
const SLACK: usize = 2;

#[actix_web::test]
async fn a_group_commit_is_one_round_trip() {
    // `-n` runs: each is queued, then ended by the server at once.
    let (commits, trips) = count_commits("-n noop /bin/true\n", "noop", 20).await;
    assert!(
        trips <= commits + SLACK,
        "one round trip per commit (before the commit function: 4.55–4.70): \
         {trips} for {commits} commits"
    );
}

#[actix_web::test]
async fn a_group_commit_with_claims_is_one_round_trip() {
    // Runs that start: RunStarted carries a claim (a free `-s` slot),
    // checked by the database under the script's slot lock.
    let (commits, trips) = count_commits("-s=2 work /bin/true\n", "work", 10).await;
    assert!(
        trips <= commits + SLACK,
        "one round trip per commit, claims included (before: 4.97): {trips} for {commits} commits"
    );
}
