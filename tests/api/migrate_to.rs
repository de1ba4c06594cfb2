//! `scriptd admin migrate-to`: a SQLite storage with history, guests,
//! scheduled runs (one with stdin) and run logs is moved into an empty
//! PostgreSQL database with the real binary; a server started on that
//! database then answers history, events, guests, status and logs as the
//! SQLite server did, and a second move into the same database is refused.

use std::path::Path;
use std::time::Duration;

use scriptd::app::Application;
use serde_json::{json, Value};

use crate::helpers::history::all_pages;
use crate::helpers::server::ServerSpec;
use crate::helpers::server::Stoppable;
use crate::helpers::{unix_now, Api, Database, Scheme};

async fn start(storage: &Path, database: Database) -> Stoppable {
    let mut config = ServerSpec::new(storage, Scheme::Plain)
        .on(database)
        .config();
    config.shutdown_grace = Duration::from_secs(2);
    let app = Application::build(config).await.expect("app builds");
    let key = match app.admin_key.clone() {
        Some(key) => key,
        None => std::fs::read_to_string(storage.join("admin.key")).expect("admin.key"),
    };
    let api = Api::new(app.port(), key.trim().to_owned());
    Stoppable::serve(app, api)
}

/// Every reply the move must keep, by what was asked.
async fn replies(api: &Api, runs: &[String], guest_key: &str) -> Vec<(String, Value)> {
    let mut out = vec![(
        "history".to_owned(),
        Value::Array(all_pages(api, &api.key, "", 3).await),
    )];
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let (code, page) = api
            .get(&format!("/scripts/v1/events?after={after}&limit=4"))
            .await;
        assert_eq!(code, 200, "{page}");
        let batch = page["events"].as_array().expect("events").clone();
        let Some(last) = batch.last() else { break };
        after = last["seq"].as_i64().expect("seq");
        events.extend(batch);
    }
    out.push(("events".to_owned(), Value::Array(events)));
    for path in [
        "/scripts/v1/guest/list",
        "/scripts/v1/status",
        "/scripts/v1/scripts",
    ] {
        out.push((path.to_owned(), api.get(path).await.1));
    }
    for id in runs {
        for what in ["status", "log"] {
            let path = format!("/scripts/v1/{what}/{id}");
            out.push((path.clone(), api.get(&path).await.1));
        }
    }
    let guest = api
        .call_with("GET", "/scripts/v1/history", Some(guest_key), None)
        .await;
    out.push(("history as the guest".to_owned(), json!(guest)));
    out
}

fn migrate(storage: &Path, url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"))
        .args(["admin", "migrate-to", url, "--storage"])
        .arg(storage)
        .env_remove("SCRIPTD_DATABASE")
        .output()
        .expect("scriptd runs")
}

#[actix_web::test]
async fn migrate_to_keeps_history_events_accounts_queued_runs_and_logs() {
    let storage = tempfile::tempdir().expect("storage");
    let sqlite = start(storage.path(), Database::Sqlite).await;
    std::fs::write(
        storage.path().join("1/scripts/exectab.txt"),
        "-n fast /bin/true\necho /bin/sh -c \"echo out @@1; echo err @@1 >&2; exit @@2\"\n-i later /bin/cat\n",
    )
    .expect("exectab");
    let api = &sqlite.api;
    let mut runs = Vec::new();
    for n in 0..3 {
        runs.push(api.run(json!({"name": "fast"})).await);
        runs.push(api.run(json!({"name": "echo", "args": [n, n % 2]})).await);
    }
    for id in &runs {
        api.wait_done(id).await;
    }
    let later = unix_now() + 3600;
    runs.push(
        api.run(json!({"name": "later", "queue": later, "stdin": "kept\n"}))
            .await,
    );
    runs.push(api.run(json!({"name": "later", "queue": later + 1})).await);
    let cancelled = api.run(json!({"name": "later", "queue": later + 2})).await;
    let (code, reply) = api
        .post(&format!("/scripts/v1/cancel/{cancelled}"), json!([]))
        .await;
    assert_eq!(code, 200, "{reply}");
    runs.push(cancelled);
    let (guest, guest_key) = api
        .create_guest("echo", [true, false, true, false], unix_now() + 7200)
        .await;
    let before = replies(api, &runs, &guest_key).await;
    sqlite.stop().await;

    let database = crate::backend::fresh_postgres_database(storage.path());
    let moved = migrate(storage.path(), &database);
    assert!(
        moved.status.success(),
        "migrate-to succeeds: {}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let report = String::from_utf8_lossy(&moved.stdout);
    assert!(report.contains("copied to"), "{report}");
    assert!(
        report.contains(" 1 run_stdin"),
        "the queued run's stdin: {report}"
    );
    assert!(
        report.contains(", 3 run logs"),
        "the echo runs' logs: {report}"
    );

    let postgres = start(storage.path(), Database::Postgres(database.clone())).await;
    let after = replies(&postgres.api, &runs, &guest_key).await;
    assert_eq!(before.len(), after.len());
    for ((what, old), (_, new)) in before.iter().zip(&after) {
        assert_eq!(old, new, "{what} is the same after the move");
    }
    let (code, list) = postgres.api.get("/scripts/v1/guest/list").await;
    assert_eq!(code, 200);
    assert_eq!(list["guests"][0]["id"], guest.as_str(), "{list}");
    postgres.stop().await;

    let again = migrate(storage.path(), &database);
    assert!(!again.status.success(), "a second move is refused");
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(message.contains("is not empty"), "{message}");
}
