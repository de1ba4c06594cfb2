//! The client commands `run` (args, stdin, `--at`), `status` and `cancel`
//! as a person or a script uses them (harness: `helpers::cli`).

use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use scriptd::events::types::Outcome;

use crate::helpers::cli::{app, output, scriptd, Running};

#[actix_web::test]
async fn run_prints_the_id_and_passes_args() {
    let app = app().await;

    let out = output(scriptd(&app, &["run", "echo", "a b", "c"])).await;

    assert_eq!(out.code(), 0, "{out}");
    let id = out.stdout.trim();
    assert_eq!(app.wait_done(id).await.outcome, Outcome::Success);
    let log = output(scriptd(&app, &["log", id])).await;
    assert_eq!(log.stdout, "a b c\n", "{log}");
    let json = output(scriptd(&app, &["log", id, "--json"])).await;
    assert_eq!(json.json()["log"], "a b c\n", "{json}");
}

#[actix_web::test]
async fn run_json_prints_the_servers_reply() {
    let app = app().await;

    let out = output(scriptd(&app, &["run", "ok", "--json"])).await;

    assert_eq!(out.code(), 0, "{out}");
    let reply = out.json();
    assert_eq!(reply["success"], true, "{out}");
    assert_eq!(reply["state"], "queued", "{out}");
    let id = reply["id"].as_str().expect("id");
    assert_eq!(app.wait_done(id).await["name"], "ok");
}

#[actix_web::test]
async fn run_passes_stdin_from_a_file_and_from_standard_input() {
    let app = app().await;
    let file = app.storage.path().join("input.txt");
    std::fs::write(&file, "from a file\n").expect("input file");

    let out = output(scriptd(
        &app,
        &["run", "cat", "--stdin", &file.display().to_string()],
    ))
    .await;
    assert_eq!(out.code(), 0, "{out}");
    let from_file = out.stdout.trim().to_owned();

    let mut piped = scriptd(&app, &["run", "cat", "--stdin", "-", "--wait", "--json"]);
    piped.stdin(Stdio::piped());
    let mut running = Running::start(piped);
    let mut stdin = running.child.stdin.take().expect("piped stdin");
    stdin
        .write_all(b"from standard input\n")
        .await
        .expect("write stdin");
    drop(stdin);
    let waited = running.finish().await;

    assert_eq!(app.wait_done(&from_file).await.outcome, Outcome::Success);
    let log = output(scriptd(&app, &["log", &from_file])).await;
    assert_eq!(log.stdout, "from a file\n", "{log}");
    assert_eq!(waited.code(), 0, "{waited}");
    let lines: Vec<Value> = waited
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("JSON line {l}: {waited}")))
        .collect();
    let id = lines[0]["id"].as_str().expect("run reply first");
    assert_eq!(
        lines.last().map(|l| &l["outcome"]),
        Some(&Value::from("success"))
    );
    let log = output(scriptd(&app, &["log", id])).await;
    assert_eq!(log.stdout, "from standard input\n", "{log}");
}

#[actix_web::test]
async fn run_at_schedules_and_cancel_removes_the_queued_run() {
    let app = app().await;
    let before = chrono::Utc::now().timestamp();

    let out = output(scriptd(&app, &["run", "ok", "--at", "+1h"])).await;

    assert_eq!(out.code(), 0, "{out}");
    let id = out.stdout.trim().to_owned();
    let queued = app.status(&id).await;
    assert_eq!(queued["state"], "queued", "{queued}");
    let at = queued["queued"].as_i64().expect("queued time");
    assert!((before + 3600..=before + 3700).contains(&at), "{queued}");
    let table = output(scriptd(&app, &["status"])).await;
    // Tables show the short id, its last 12 hex digits.
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains(&id[id.len() - 12..]));
    assert!(
        row.is_some_and(|r| r.starts_with("ok") && r.contains("queued")),
        "{table}"
    );

    let cancel = output(scriptd(&app, &["cancel", &id])).await;

    assert_eq!(cancel.code(), 0, "{cancel}");
    assert!(cancel.stdout.contains(&id), "{cancel}");
    assert_eq!(app.status(&id).await["outcome"], "cancelled");
    let again = output(scriptd(&app, &["cancel", &id, "--json"])).await;
    assert_eq!(again.code(), 1, "{again}");
    assert_eq!(
        again.json()["errorcode"],
        "script_not_queued_running",
        "an error as JSON on stdout: {again}"
    );
}

#[actix_web::test]
async fn status_shows_one_runs_details_as_text_and_json() {
    let app = app().await;
    let id = app.run(serde_json::json!({"name": "ok"})).await;
    app.wait_done(&id).await;

    let text = output(scriptd(&app, &["status", &id])).await;
    let json = output(scriptd(&app, &["status", &id, "--json"])).await;
    let empty = output(scriptd(&app, &["status"])).await;

    assert_eq!(text.code(), 0, "{text}");
    assert!(text.stdout.contains(&format!("id:       {id}")), "{text}");
    assert!(text.stdout.contains("outcome:  success (exit 0"), "{text}");
    assert!(text.stdout.contains("first:    hello from log"), "{text}");
    assert_eq!(json.json(), app.status(&id).await.json, "{json}");
    assert_eq!(empty.stdout.trim(), "nothing queued or running", "{empty}");
}
