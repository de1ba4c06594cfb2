//! PostgreSQL restarted under three nodes, on a private server of the
//! test's own (see `private_postgres`): runs are posted round-robin to
//! every node meanwhile. While the database is down the nodes answer
//! `database_unavailable`; once it is back, every run any node accepted
//! reaches exactly one final state, and none starts twice.

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::run_stream::RunStream;
use crate::helpers::Api;
use crate::private_postgres::PrivatePostgres;

#[actix_web::test]
async fn postgres_restarted_under_three_nodes_loses_no_accepted_run() {
    let pg = PrivatePostgres::start().await;
    let cluster = Cluster::start_on(pg.url(), 3, "-s=2 quick /bin/echo hi\n", &[]).await;
    let apis = cluster
        .nodes
        .iter()
        .map(|node| Api {
            base: node.base.clone(),
            key: node.key.clone(),
            client: node.client.clone(),
            tls: None,
        })
        .collect();
    let stream = RunStream::start(apis, "quick");
    stream
        .accepts_more(9, "runs accepted before the stop")
        .await;

    pg.stop_immediate().await;
    stream.refused_more(3).await;
    pg.start_again().await;
    stream
        .accepts_more(9, "runs accepted after pg_ctl stop -m immediate")
        .await;

    pg.kill_postmaster().await;
    stream.refused_more(3).await;
    pg.start_again().await;
    stream
        .accepts_more(9, "runs accepted after kill -9 of the postmaster")
        .await;

    let answers = stream.finish().await;
    assert!(
        answers.other.is_empty(),
        "every request answered success or database_unavailable: {:?}\n{}",
        answers.other,
        cluster.logs()
    );
    for (i, id) in answers.accepted.iter().enumerate() {
        let node = cluster.node(i % 3);
        let done = node.wait_done(id).await;
        assert!(
            matches!(done["outcome"].as_str(), Some("success" | "interrupted")),
            "{id}: {done}"
        );
    }
    // The log, read directly: one final event per accepted run, at most
    // one start, and nothing beyond what was accepted.
    let rows = query_json(
        &pg.url(),
        "SELECT stream,
                count(*) FILTER (WHERE kind IN ('RunFinished', 'RunStartFailed',
                                                'RunCancelled', 'RunInterrupted')) AS finals,
                count(*) FILTER (WHERE kind = 'RunStarted') AS starts
         FROM events WHERE kind LIKE 'Run%' GROUP BY stream",
    );
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::from_str(r).expect("row"))
        .collect();
    for id in &answers.accepted {
        let row = rows
            .iter()
            .find(|r| r["stream"] == id.as_str())
            .unwrap_or_else(|| panic!("accepted run {id} is in the log"));
        assert_eq!(row["finals"], 1, "{id} ends once: {row}");
        assert!(
            row["starts"].as_i64() <= Some(1),
            "{id} starts at most once: {row}"
        );
    }
}
