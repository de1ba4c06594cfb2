//! PostgreSQL restarted under a running server, on a private PostgreSQL
//! of the test's own (see `private_postgres`): while it is down, requests
//! that need it get a 503 `database_unavailable` envelope; nothing
//! accepted is lost; once it is back the server reconnects by itself and
//! every accepted run reaches exactly one final state.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app_on, Api, Database, Scheme, TestApp};
use crate::private_postgres::PrivatePostgres;

/// What the stream of `POST run` requests was answered.
#[derive(Default)]
struct Answers {
    accepted: Vec<String>,
    unavailable: usize,
    /// Anything else: (HTTP status, body) or a client error.
    other: Vec<String>,
}

/// Posts runs one after another until told to stop.
struct RunStream {
    answers: Rc<RefCell<Answers>>,
    stop: Rc<std::cell::Cell<bool>>,
    done: tokio::sync::oneshot::Receiver<()>,
}

impl RunStream {
    fn start(app: &TestApp) -> RunStream {
        let api = Api::new(app.port, app.key.clone());
        let answers = Rc::new(RefCell::new(Answers::default()));
        let stop = Rc::new(std::cell::Cell::new(false));
        let (tx, done) = tokio::sync::oneshot::channel();
        let (record, stopped) = (answers.clone(), stop.clone());
        actix::spawn(async move {
            while !stopped.get() {
                let (status, reply) = api.post("/scripts/v1/run", json!({"name": "quick"})).await;
                let mut answers = record.borrow_mut();
                match (status, reply["errorcode"].as_str()) {
                    (200, _) if reply["success"] == true => {
                        answers
                            .accepted
                            .push(reply["id"].as_str().unwrap_or("").to_owned());
                    }
                    // The envelope of API.md; anything else is reported below
                    // (a panic here would not fail the test).
                    (503, Some("database_unavailable"))
                        if reply["success"] == false && reply["error"].is_string() =>
                    {
                        answers.unavailable += 1;
                    }
                    _ => answers.other.push(format!("{status} {reply}")),
                }
            }
            let _ = tx.send(());
        });
        RunStream {
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
            .ok()
            .expect("the stream is over")
            .into_inner()
    }
}

/// Waits until the stream has had `more` further runs accepted.
async fn accepts_again(stream: &RunStream, more: usize, why: &str) {
    let want = stream.accepted() + more;
    eventually(why, || (stream.accepted() >= want).then_some(())).await;
}

/// Waits for `more` further 503s and checks a read that needs the
/// database is refused the same way.
async fn refused_while_down(app: &TestApp, stream: &RunStream, more: usize) {
    let want = stream.unavailable() + more;
    eventually("runs refused with database_unavailable", || {
        (stream.unavailable() >= want).then_some(())
    })
    .await;
    let (status, reply) = app.get("/scripts/v1/history").await;
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (503, Some("database_unavailable")),
        "history needs the database: {reply}"
    );
}

// A connection can drop during the COMMIT of a run's final event after the
// commit landed; the run actor then retries, and the database refuses the
// second final event (events_one_final), so each run still ends once.
#[actix_web::test]
async fn runs_accepted_while_postgres_restarts_each_reach_one_final_state() {
    let pg = PrivatePostgres::start().await;
    let url = pg.url();
    let app = spawn_app_on(Scheme::Plain, Database::Postgres(url), |_| {}).await;
    app.exectab("-s=4 quick /bin/echo hi\n");
    let stream = RunStream::start(&app);
    accepts_again(&stream, 5, "runs accepted before the stop").await;

    pg.stop_immediate().await;
    refused_while_down(&app, &stream, 3).await;
    pg.start_again().await;
    accepts_again(&stream, 5, "runs accepted after pg_ctl stop -m immediate").await;

    pg.kill_postmaster().await;
    refused_while_down(&app, &stream, 3).await;
    pg.start_again().await;
    accepts_again(&stream, 5, "runs accepted after kill -9 of the postmaster").await;

    let answers = stream.finish().await;
    assert!(
        answers.other.is_empty(),
        "every request answered success or database_unavailable: {:?}",
        answers.other
    );
    for id in &answers.accepted {
        let done = app.wait_done(id).await;
        assert_eq!(done["outcome"], "success", "{id}: {done}");
        assert_eq!(done["first"], "hi", "{id}: {done}");
    }
    let finals = final_events(&app).await;
    for id in &answers.accepted {
        assert_eq!(
            finals.get(id).copied(),
            Some(1),
            "run {id} has exactly one final event"
        );
    }
}

/// Final events per run, from the whole event log.
async fn final_events(app: &TestApp) -> HashMap<String, usize> {
    let mut finals = HashMap::new();
    let mut after = 0;
    loop {
        let (status, page) = app
            .get(&format!("/scripts/v1/events?after={after}&limit=1000"))
            .await;
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().expect("events").clone();
        let Some(last) = events.last() else {
            return finals;
        };
        after = last["seq"].as_i64().expect("seq");
        for event in &events {
            let kind = event["kind"].as_str().unwrap_or("");
            if matches!(
                kind,
                "RunFinished" | "RunStartFailed" | "RunCancelled" | "RunInterrupted"
            ) {
                let run = event["run"].as_str().unwrap_or("").to_owned();
                *finals.entry(run).or_default() += 1;
            }
        }
        if page["next"] == Value::Null {
            return finals;
        }
    }
}
