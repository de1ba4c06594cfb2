//! Errors that say what to do: each failure is one line naming the way
//! out, or with `--json` a JSON object on stdout with the same exit code.
//! The harness is in `helpers/cli.rs`.

use serde_json::Value;

use crate::helpers::cli::{
    app, bare, one_line_error, output, running_id, scriptd, Finished, Running,
};
use crate::helpers::unix_now;

fn json_error(out: &Finished, code: &str) -> Value {
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.is_empty(), "nothing on stderr: {out}");
    let reply = out.json();
    assert_eq!(reply["success"], false, "{out}");
    assert_eq!(reply["errorcode"], code, "{out}");
    assert!(
        reply["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{out}"
    );
    reply
}

#[actix_web::test]
async fn cancel_of_a_running_run_suggests_kill_and_kill_of_a_queued_one_cancel() {
    let app = app().await;
    let mut first = Running::start(scriptd(&app, &["run", "sleeper", "--wait"]));
    first.line_with("started").await;
    let running = running_id(&app, "sleeper").await;
    let queued = output(scriptd(&app, &["run", "sleeper"])).await;
    let queued = queued.stdout.trim().to_owned();

    let cancel = output(scriptd(&app, &["cancel", &running])).await;
    let kill = output(scriptd(&app, &["kill", &queued])).await;

    one_line_error(&cancel, &format!("stop it with `scriptd kill {running}`"));
    assert!(cancel.stderr.contains("script_running"), "{cancel}");
    one_line_error(&kill, &format!("remove it with `scriptd cancel {queued}`"));
    assert!(kill.stderr.contains("script_not_running"), "{kill}");
    for id in [&queued, &running] {
        let _ = output(scriptd(&app, &["cancel", id])).await;
        let _ = output(scriptd(&app, &["kill", id])).await;
    }
    let _ = first.finish().await;
}

#[actix_web::test]
async fn guest_commands_name_the_guest_the_right_and_the_script() {
    let app = app().await;
    let unknown = "01a22408-4d82-772f-a637-f93192a1ae5f";
    let (_, run_only) = app
        .create_guest("ok", [true, false, false, false], unix_now() + 3600)
        .await;

    let delete = output(scriptd(&app, &["guest", "delete", unknown])).await;
    let no_rights = output(scriptd(
        &app,
        &["guest", "create", "ok", "--expires", "+1h"],
    ))
    .await;
    let no_script = output(scriptd(
        &app,
        &["guest", "create", "nosuch", "--run", "--expires", "+1h"],
    ))
    .await;
    let wait = output(bare(&[
        "run",
        "ok",
        "--wait",
        "--url",
        &app.base,
        "--api-key",
        &run_only,
    ]))
    .await;
    let status = output(bare(&[
        "status",
        "--url",
        &app.base,
        "--api-key",
        &run_only,
    ]))
    .await;

    one_line_error(&delete, &format!("unknown guest '{unknown}'"));
    one_line_error(
        &no_rights,
        "give at least one of --run, --cancel, --status, --monitor",
    );
    one_line_error(&no_script, "unknown script 'nosuch'");
    one_line_error(&wait, "this guest key lacks the 'monitor' right");
    assert!(wait.stderr.contains("access_denied"), "{wait}");
    assert!(wait.stderr.contains("without --wait"), "{wait}");
    one_line_error(&status, "lacks the 'status' right. (access_denied)");
    let guests = output(scriptd(&app, &["guest", "list", "--json"])).await;
    assert_eq!(
        guests.json()["guests"].as_array().map(Vec::len),
        Some(1),
        "{guests}"
    );
}

#[actix_web::test]
async fn an_invalid_outcome_lists_the_valid_ones_and_prints_no_table() {
    let app = app().await;

    let out = output(scriptd(&app, &["history", "--outcome", "fail"])).await;

    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stdout.is_empty(), "no header before the error: {out}");
    for outcome in [
        "success",
        "failed",
        "killed",
        "timeout",
        "cancelled",
        "start_failed",
    ] {
        assert!(out.stderr.contains(outcome), "{outcome}: {out}");
    }
}

#[actix_web::test]
async fn queue_full_and_stdin_too_large_state_the_limit() {
    let app = app().await;
    let big = app.storage.path().join("big.txt");
    std::fs::write(&big, vec![b'x'; 1024 * 1024 + 1]).expect("big stdin");

    let first = output(scriptd(&app, &["run", "full"])).await;
    let full = output(scriptd(&app, &["run", "full"])).await;
    let stdin = output(scriptd(
        &app,
        &["run", "cat", "--stdin", big.to_str().expect("path")],
    ))
    .await;

    assert_eq!(first.code(), 0, "{first}");
    one_line_error(&full, "-m=1");
    assert!(full.stderr.contains("queue_full"), "{full}");
    one_line_error(&stdin, "the limit is 1048576 bytes. (stdin_too_large)");
    let _ = output(scriptd(&app, &["kill", first.stdout.trim()])).await;
}

#[actix_web::test]
async fn monitor_of_an_unknown_script_fails_at_once() {
    let app = app().await;

    let out = output(scriptd(&app, &["monitor", "nosuch"])).await;

    one_line_error(&out, "unknown script 'nosuch' (invalid_name)");
}

#[actix_web::test]
async fn with_json_errors_are_json_on_stdout_with_the_same_exit_code() {
    let app = app().await;
    let unknown = "01a22408-4d82-772f-a637-f93192a1ae5f";
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);

    let server = output(scriptd(&app, &["status", unknown, "--json"])).await;
    let history = output(scriptd(&app, &["history", "--name", "bad name", "--json"])).await;
    let refused = output(bare(&["status", "--json", "--url", &url, "--api-key", "k"])).await;
    let usage = output(scriptd(&app, &["history", "--outcome", "fail", "--json"])).await;

    let reply = json_error(&server, "invalid_id");
    assert_eq!(
        reply["error"], "Invalid 'id'.",
        "the server's own message: {server}"
    );
    json_error(&history, "invalid_name");
    let reply = json_error(&refused, "connect_failed");
    assert!(
        reply["error"].as_str().is_some_and(|e| e.contains(&url)),
        "{refused}"
    );
    assert_eq!(usage.code(), 2, "{usage}");
    assert_eq!(usage.json()["errorcode"], "usage", "{usage}");
    assert!(usage.stderr.is_empty(), "{usage}");
}

#[actix_web::test]
async fn a_script_on_a_skipped_exectab_line_is_named_with_the_line_and_why() {
    let app = app().await;
    app.exectab("ok /bin/true\n-q=1 broken /bin/true\n");

    let out = output(scriptd(&app, &["run", "broken"])).await;
    let (code, reply) = app
        .post("/scripts/v1/run", serde_json::json!({"name": "broken"}))
        .await;

    one_line_error(
        &out,
        "exectab.txt line 2 names it but was skipped (unknown option -q",
    );
    assert!(out.stderr.contains("scriptd exectab check"), "{out}");
    assert_eq!(code, 400, "{reply}");
    assert_eq!(reply["errorcode"], "invalid_name", "{reply}");
}
