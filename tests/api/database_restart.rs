//! PostgreSQL restarted under a running server, on a private PostgreSQL
//! of the test's own (see `private_postgres`): while it is down, requests
//! that need it get a 503 `database_unavailable` envelope; nothing
//! accepted is lost; once it is back the server reconnects by itself and
//! every accepted run reaches exactly one final state.

use std::collections::HashMap;

use serde_json::Value;

use crate::helpers::run_stream::RunStream;
use crate::helpers::{spawn_app_on, Api, Database, Scheme, TestApp};
use crate::private_postgres::PrivatePostgres;

/// Waits for `more` further 503s and checks a read that needs the
/// database is refused the same way.
async fn refused_while_down(app: &TestApp, stream: &RunStream, more: usize) {
    stream.refused_more(more).await;
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
    // On a loaded machine a restart can outlast the default 10 s lease:
    // the lone node then takes its own lease back (nobody gave it up), so
    // the runs still end as their scripts did.
    let app = spawn_app_on(Scheme::Plain, Database::Postgres(url), |_| {}).await;
    app.exectab("-s=4 quick /bin/echo hi\n");
    let stream = RunStream::start(vec![Api::new(app.port, app.key.clone())], "quick");
    stream
        .accepts_more(5, "runs accepted before the stop")
        .await;

    pg.stop_immediate().await;
    refused_while_down(&app, &stream, 3).await;
    pg.start_again().await;
    stream
        .accepts_more(5, "runs accepted after pg_ctl stop -m immediate")
        .await;

    pg.kill_postmaster().await;
    refused_while_down(&app, &stream, 3).await;
    pg.start_again().await;
    stream
        .accepts_more(5, "runs accepted after kill -9 of the postmaster")
        .await;

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
