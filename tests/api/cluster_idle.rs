//! What an idle node asks its database (issue 29): every statement the
//! server runs is logged (`log_statement = all`, on a private server of
//! the test's own), and a window of idleness between two markers is
//! counted. The key watch used to read the log's end five times a second
//! on every node; on PostgreSQL it is told every commit and reads
//! nothing while nothing is committed. The lease, the rescuer and the
//! follower cost a few statements a second, not more (BENCHMARKS.md, "The
//! cluster under pauses and outages": ~3 a second per node).

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
    let per_second = window.len() as f64 / WINDOW.as_secs_f64();
    assert!(
        per_second <= 6.0,
        "{per_second:.1} statements a second while idle:\n{}\n{}",
        window.join("\n"),
        cluster.logs()
    );
    eprintln!("an idle node: {per_second:.1} statements a second");
}
