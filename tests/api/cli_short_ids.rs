//! One short run id everywhere (issue 27, item 2): the last 12 hex digits
//! the dashboard shows are what the CLI's tables show, and a unique
//! suffix of at least 6 hex digits works wherever a prefix does — the
//! CLI's `status`, `log`, `cancel`, `events --run`, and `runs?suffix=`
//! beside `runs?prefix=`; `guest delete` takes the same forms. A too short
//! or unknown one says so.

use serde_json::json;

use crate::helpers::cli::{app, one_line_error, output, scriptd};

/// The short form: the id's last group.
fn short(id: &str) -> &str {
    &id[id.len() - 12..]
}

#[actix_web::test]
async fn the_api_lists_runs_by_suffix_beside_prefix() {
    let app = app().await;
    let id = app.run(json!({"name": "ok"})).await;
    app.wait_done(&id).await;

    let (by_suffix, found) = app
        .get(&format!("/scripts/v1/runs?suffix={}", short(&id)))
        .await;
    let (too_short, refused) = app.get("/scripts/v1/runs?suffix=abcde").await;
    let (none, empty) = app.get("/scripts/v1/runs?suffix=ffffffffffff").await;

    assert_eq!(by_suffix, 200, "{found}");
    assert_eq!(found["ids"], json!([id]), "{found}");
    assert_eq!(too_short, 400, "{refused}");
    assert_eq!(refused["errorcode"], "invalid_suffix", "{refused}");
    assert_eq!(none, 200, "{empty}");
    assert_eq!(empty["ids"], json!([]), "{empty}");
}

#[actix_web::test]
async fn the_short_id_of_the_tables_works_in_every_command() {
    // Arrange: one finished run and one queued behind a sleeper.
    let app = app().await;
    let done = app.run(json!({"name": "ok"})).await;
    app.wait_done(&done).await;
    let sleeper = app.run(json!({"name": "sleeper"})).await;
    app.wait_status(&sleeper, "sleeper running", |s| s["state"] == "running")
        .await;
    let future = crate::helpers::unix_now() + 3600;
    let scheduled = app.run(json!({"name": "ok", "queue": future})).await;

    // Act
    let table = output(scriptd(&app, &["status"])).await;
    let history = output(scriptd(&app, &["history"])).await;
    let status = output(scriptd(&app, &["status", short(&done)])).await;
    let log = output(scriptd(&app, &["log", &done[done.len() - 6..]])).await;
    let events = output(scriptd(&app, &["events", "--run", short(&done), "--json"])).await;
    let cancel = output(scriptd(&app, &["cancel", short(&scheduled)])).await;
    let kill = output(scriptd(&app, &["kill", short(&sleeper)])).await;

    // Assert
    assert_eq!(table.code(), 0, "{table}");
    assert!(table.stdout.contains(short(&sleeper)), "{table}");
    assert!(!table.stdout.contains(&sleeper), "short ids only: {table}");
    let due = table
        .stdout
        .lines()
        .find(|l| l.contains(short(&scheduled)))
        .unwrap_or_default();
    assert!(due.contains("scheduled for"), "the due time: {table}");
    let running = table
        .stdout
        .lines()
        .find(|l| l.contains(short(&sleeper)))
        .unwrap_or_default();
    assert!(running.contains("for "), "the elapsed time: {table}");
    assert!(history.stdout.contains(short(&done)), "{history}");
    assert!(!history.stdout.contains(&done), "{history}");
    assert!(
        status.stdout.contains(&format!("id:       {done}")),
        "the full id in status ID: {status}"
    );
    assert_eq!(log.stdout, "hello from log\n", "{log}");
    assert_eq!(events.code(), 0, "{events}");
    let runs: Vec<String> = events
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|row| row["run"].as_str().map(str::to_owned))
        .collect();
    assert!(!runs.is_empty(), "{events}");
    assert!(runs.iter().all(|run| run == &done), "{events}");
    assert_eq!(cancel.code(), 0, "{cancel}");
    assert_eq!(kill.code(), 0, "{kill}");
}

#[actix_web::test]
async fn a_too_short_or_unknown_id_says_so() {
    let app = app().await;

    let short_cancel = output(scriptd(&app, &["cancel", "01a"])).await;
    let unknown_cancel = output(scriptd(&app, &["cancel", "ffffffffffff"])).await;
    let unknown_json = output(scriptd(&app, &["cancel", "ffffffffffff", "--json"])).await;
    let whole = "01a22408-4d82-772f-a637-f93192a1ae5f";
    let unknown_whole = output(scriptd(&app, &["cancel", whole])).await;
    let kill_unknown = output(scriptd(&app, &["kill", whole])).await;

    one_line_error(&short_cancel, "run id '01a' is too short");
    one_line_error(
        &unknown_cancel,
        "unknown run id 'ffffffffffff' (invalid_id)",
    );
    let message = unknown_json.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("starts or ends with 'ffffffffffff'"),
        "{unknown_json}"
    );
    one_line_error(
        &unknown_whole,
        &format!("unknown run id '{whole}' (invalid_id)"),
    );
    one_line_error(
        &kill_unknown,
        &format!("unknown run id '{whole}' (invalid_id)"),
    );
}

#[actix_web::test]
async fn a_guest_is_deleted_by_a_suffix_of_its_id() {
    let app = app().await;
    let created = output(scriptd(
        &app,
        &[
            "guest",
            "create",
            "ok",
            "--run",
            "--expires",
            "+1d",
            "--json",
        ],
    ))
    .await;
    let id = created.json()["id"].as_str().expect("guest id").to_owned();

    let deleted = output(scriptd(&app, &["guest", "delete", short(&id)])).await;
    let list = output(scriptd(&app, &["guest", "list", "--json"])).await;

    assert_eq!(deleted.code(), 0, "{deleted}");
    assert!(deleted.stdout.contains(&id), "{deleted}");
    assert_eq!(list.json()["guests"], json!([]), "{list}");
}
