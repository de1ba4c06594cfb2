//! The `scriptd history` and `scriptd events --follow` client commands:
//! the real binary as a child process against the in-process server.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::history::{assert_ordered, run_many, wait_history_count};
use crate::helpers::{eventually, spawn_app, TestApp};

fn scriptd_client(app: &TestApp, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"));
    command
        .args(args)
        .args(["--url", &app.base, "--api-key", &app.key])
        .env_remove("SCRIPTD_URL")
        .env_remove("SCRIPTD_API_KEY");
    command
}

/// Runs a client command off the test thread, which the server runs on.
async fn output(mut command: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("run scriptd"))
        .await
        .expect("join")
}

#[actix_web::test]
async fn history_command_prints_a_table_or_json_lines_across_server_pages() {
    let app = spawn_app().await;
    app.exectab("-s=64 -n fast /bin/true\n-s=2 fail /bin/sh -c \"exit 2\"\n");
    let fast = run_many(&app, "fast", 1205).await;
    let failed = app.run(json!({"name": "fail"})).await;
    app.wait_done(&failed).await;
    wait_history_count(&app, "fast", fast.len()).await;

    // --limit above one server page: the command follows the cursor.
    let out = output(scriptd_client(
        &app,
        &["history", "--name", "fast", "--limit", "1200", "--json"],
    ))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1200, "exactly --limit rows");
    assert_eq!(
        lines
            .iter()
            .map(|r| r["id"].clone())
            .collect::<HashSet<_>>()
            .len(),
        1200,
        "no duplicates"
    );
    assert_ordered(&lines, "history --json");

    let out = output(scriptd_client(
        &app,
        &[
            "history",
            "--outcome",
            "failed",
            "--since",
            "2000-01-01T00:00:00Z",
        ],
    ))
    .await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.starts_with("ID"), "header: {table}");
    assert_eq!(
        table.lines().count(),
        2,
        "header and the one failed run: {table}"
    );
    assert!(
        table.contains(&failed[failed.len() - 12..])
            && table.contains("failed")
            && table.contains("admin (127.0.0.1"),
        "{table}"
    );

    let out = output(scriptd_client(&app, &["history", "--outcome", "exploded"])).await;
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("possible values: success, failed"),
        "{stderr}"
    );
}

#[actix_web::test]
async fn events_follow_prints_events_recorded_after_it_started() {
    use std::io::{BufRead, BufReader};
    let app = spawn_app().await;
    app.exectab("-n fast /bin/true\n");
    let mut child = scriptd_client(&app, &["events", "--follow", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn scriptd events --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx
                .send(serde_json::from_str(&line).unwrap_or(Value::Null))
                .is_err()
            {
                return;
            }
        }
    });
    // Polls without blocking the thread: the server under test runs on it.
    let next_kind = |want: &'static str, run: Option<String>| {
        let rx = &rx;
        async move {
            eventually(&format!("a {want} line"), || loop {
                match rx.try_recv() {
                    Ok(event)
                        if event["kind"] == want
                            && run.as_deref().is_none_or(|r| event["run"] == r) =>
                    {
                        return Some(event)
                    }
                    Ok(_) => continue,
                    Err(_) => return None,
                }
            })
            .await
        }
    };
    next_kind("UserCreated", None).await;
    // It follows over a monitor socket, not by polling alone.
    crate::helpers::eventually_async("a monitor socket is open", || async {
        let (_, text) = app.get("/metrics").await;
        text.as_str()
            .is_some_and(|t| t.lines().any(|l| l == "scriptd_monitors_connected 1"))
    })
    .await;

    let id = app.run(json!({"name": "fast"})).await;

    let finished = next_kind("RunFinished", Some(id.clone())).await;
    assert_eq!(
        finished["data"]["record"]["outcome"], "noexec",
        "{finished}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
