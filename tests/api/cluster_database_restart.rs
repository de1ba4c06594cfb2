//! PostgreSQL restarted under three nodes, on a private server of the
//! test's own (see `private_postgres`): runs are posted round-robin to
//! every node meanwhile. While the database is down the nodes answer
//! `database_unavailable`; once it is back, every run any node accepted
//! reaches exactly one final state, and none starts twice.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::json;

use crate::helpers::cluster::{query_json, Cluster};
use crate::helpers::{eventually, Api};
use crate::private_postgres::PrivatePostgres;

/// What the posts were answered, over all nodes.
#[derive(Default)]
struct Answers {
    accepted: Vec<String>,
    unavailable: usize,
    other: Vec<String>,
}

/// Posts runs to the nodes in turn until told to stop.
struct Stream {
    answers: Rc<RefCell<Answers>>,
    stop: Rc<std::cell::Cell<bool>>,
    done: tokio::sync::oneshot::Receiver<()>,
}

impl Stream {
    fn start(apis: Vec<Api>) -> Stream {
        let answers = Rc::new(RefCell::new(Answers::default()));
        let stop = Rc::new(std::cell::Cell::new(false));
        let (tx, done) = tokio::sync::oneshot::channel();
        let (record, stopped) = (answers.clone(), stop.clone());
        actix::spawn(async move {
            let mut turn = 0usize;
            while !stopped.get() {
                let api = &apis[turn % apis.len()];
                turn += 1;
                let (status, reply) = api.post("/scripts/v1/run", json!({"name": "quick"})).await;
                {
                    let mut answers = record.borrow_mut();
                    match (status, reply["errorcode"].as_str()) {
                        (200, _) if reply["success"] == true => answers
                            .accepted
                            .push(reply["id"].as_str().unwrap_or("").to_owned()),
                        (503, Some("database_unavailable")) => answers.unavailable += 1,
                        _ => answers.other.push(format!("{status} {reply}")),
                    }
                }
                // Down, a refusal is immediate: do not spin.
                if status == 503 {
                    actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            let _ = tx.send(());
        });
        Stream {
            answers,
            stop,
            done,
        }
    }

    fn accepted(&self) -> usize {
        self.answers.borrow().accepted.len()
    }

    fn unavailable(&self) -> usize {
        self.answers.borrow().unavailable
    }

    async fn finish(self) -> Answers {
        self.stop.set(true);
        let _ = self.done.await;
        Rc::try_unwrap(self.answers)
            .map(RefCell::into_inner)
            .unwrap_or_default()
    }
}

async fn accepts_more(stream: &Stream, more: usize, what: &str) {
    let want = stream.accepted() + more;
    eventually(what, || (stream.accepted() >= want).then_some(())).await;
}

async fn refused_while_down(stream: &Stream, more: usize) {
    let want = stream.unavailable() + more;
    eventually("runs refused with database_unavailable", || {
        (stream.unavailable() >= want).then_some(())
    })
    .await;
}

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
    let stream = Stream::start(apis);
    accepts_more(&stream, 9, "runs accepted before the stop").await;

    pg.stop_immediate().await;
    refused_while_down(&stream, 3).await;
    pg.start_again().await;
    accepts_more(&stream, 9, "runs accepted after pg_ctl stop -m immediate").await;

    pg.kill_postmaster().await;
    refused_while_down(&stream, 3).await;
    pg.start_again().await;
    accepts_more(&stream, 9, "runs accepted after kill -9 of the postmaster").await;

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
