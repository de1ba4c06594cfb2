//! Following runs from the command line: `run --wait` (piped lines, exit
//! codes, a progress bar under a terminal), `kill` of a waited run, and
//! `monitor`. The harness is in `helpers/cli.rs`.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::cli::{app, go, output, running_id, scriptd, Running};
use crate::helpers::DEADLINE;

#[actix_web::test]
async fn run_wait_piped_prints_progress_lines_and_the_outcome() {
    let app = app().await;
    let mut running = Running::start(scriptd(&app, &["run", "progress", "--wait"]));

    running.line_with("[1/2] First").await;
    go(&app, "go1");
    running.line_with("[50%] Half").await;
    go(&app, "go2");
    let out = running.finish().await;

    assert_eq!(out.code(), 0, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert_eq!(lines[0].len(), 36, "the run id first: {out}");
    assert_eq!(lines[1], "queued (position 0)", "{out}");
    // The start (a push) and the first output line (the log) race; the
    // output keeps its order.
    let output: Vec<&str> = lines[2..6]
        .iter()
        .copied()
        .filter(|l| *l != "started")
        .collect();
    assert!(lines[2..6].contains(&"started"), "{out}");
    assert_eq!(
        output,
        ["[1/2] First", "[50%] Half", "[2/2] Second"],
        "{out}"
    );
    assert!(lines[6].starts_with("done: success (exit 0, "), "{out}");
    assert!(!out.stdout.contains('\r'), "no redraws when piped: {out}");
    assert!(
        !out.stdout.contains('░') && !out.stderr.contains('░'),
        "{out}"
    );
}

#[actix_web::test]
async fn run_wait_exits_with_the_scripts_exit_code() {
    let app = app().await;

    let out = output(scriptd(&app, &["run", "three", "--wait"])).await;

    assert_eq!(out.code(), 3, "{out}");
    assert!(out.stdout.contains("done: failed (exit 3"), "{out}");
}

#[actix_web::test]
async fn run_wait_exits_127_when_the_script_cannot_start() {
    let app = app().await;

    let out = output(scriptd(&app, &["run", "broken", "--wait"])).await;

    assert_eq!(out.code(), 127, "{out}");
    assert!(out.stdout.contains("done: start_failed"), "{out}");
}

#[actix_web::test]
async fn run_wait_exits_124_on_timeout() {
    let app = app().await;

    let out = output(scriptd(&app, &["run", "slow", "--wait"])).await;

    assert_eq!(out.code(), 124, "{out}");
    assert!(out.stdout.contains("done: timeout"), "{out}");
}

#[actix_web::test]
async fn kill_stops_a_run_and_wait_exits_with_128_plus_the_signal() {
    let app = app().await;
    let mut waiting = Running::start(scriptd(&app, &["run", "sleeper", "--wait"]));
    waiting.line_with("started").await;
    let id = running_id(&app, "sleeper").await;

    let kill = output(scriptd(&app, &["kill", &id])).await;
    let out = waiting.finish().await;

    assert_eq!(kill.code(), 0, "{kill}");
    assert!(kill.stdout.contains(&id), "{kill}");
    let done = app.status(&id).await;
    assert_eq!(done["outcome"], "killed", "{done}");
    let signal = done["signal"].as_i64().expect("signal") as i32;
    assert_eq!(out.code(), 128 + signal, "{out}");
    assert!(out.stdout.contains("done: killed"), "{out}");
    let again = output(scriptd(&app, &["kill", &id])).await;
    assert_eq!(again.code(), 1, "{again}");
    assert!(again.stderr.contains("script_not_running"), "{again}");
}

#[actix_web::test]
async fn run_wait_under_a_terminal_draws_a_progress_bar() {
    let app = app().await;
    let bin = env!("CARGO_BIN_EXE_scriptd");
    let line = format!(
        "'{bin}' run progress --wait --url '{}' --api-key '{}'",
        app.base, app.key
    );
    // util-linux `script` gives the child a pseudo-terminal and copies
    // everything drawn on it to its own stdout.
    let mut command = Command::new("script");
    command
        .args(["-qfec", &line, "/dev/null"])
        .env_remove("SCRIPTD_URL")
        .env_remove("SCRIPTD_API_KEY")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("`script` (util-linux) is installed");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut drawn = Vec::new();

    let bar_seen = async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&drawn).contains("[1/2]") {
            let n = stdout.read(&mut chunk).await.expect("read pty copy");
            assert!(n > 0, "ended early: {}", String::from_utf8_lossy(&drawn));
            drawn.extend_from_slice(&chunk[..n]);
        }
    };
    actix_rt::time::timeout(DEADLINE, bar_seen)
        .await
        .expect("the bar shows task 1/2");
    go(&app, "go1");
    go(&app, "go2");
    let rest = async {
        stdout.read_to_end(&mut drawn).await.expect("read rest");
        child.wait().await.expect("exit")
    };
    let status = actix_rt::time::timeout(DEADLINE, rest)
        .await
        .expect("scriptd under script exits");

    let screen = String::from_utf8_lossy(&drawn);
    assert_eq!(status.code(), Some(0), "{screen:?}");
    assert!(screen.contains('\r'), "redraws in place: {screen:?}");
    assert!(screen.contains("\u{1b}["), "terminal escapes: {screen:?}");
    assert!(screen.contains('░'), "bar characters: {screen:?}");
    assert!(screen.contains("First"), "task title: {screen:?}");
    assert!(screen.contains("done: success (exit 0"), "{screen:?}");
}

#[actix_web::test]
async fn monitor_prints_one_line_per_push() {
    let app = app().await;
    let mut plain = Running::start(scriptd(&app, &["monitor", "ok"]));
    let mut verbose = Running::start(scriptd(&app, &["monitor", "--verbose", "--json"]));
    for monitor in [&mut plain, &mut verbose] {
        let stderr = monitor.child.stderr.take().expect("piped stderr");
        let mut note = BufReader::new(stderr).lines();
        let line = actix_rt::time::timeout(DEADLINE, note.next_line())
            .await
            .expect("monitor says it is subscribed");
        assert!(line
            .expect("stderr")
            .is_some_and(|l| l.starts_with("monitoring")));
    }

    let id = output(scriptd(&app, &["run", "ok"]))
        .await
        .stdout
        .trim()
        .to_owned();
    let started = plain.line_with(&id).await;
    let done = plain.line_with("done:").await;
    let queued = verbose.line_with("\"queued\"").await;
    verbose.line_with("\"done\"").await;

    // Each line starts with the time it was seen.
    let year = |line: &str| line.get(..4).is_some_and(|y| y.parse::<u32>().is_ok());
    assert!(started.ends_with(&format!(" ok {id} started")), "{started}");
    assert!(year(&started) && year(&done), "{started}\n{done}");
    assert!(
        done.contains(&format!(" ok {id} done: success (exit 0")),
        "{done}"
    );
    let queued: Value = serde_json::from_str(&queued).expect("JSON push");
    assert_eq!(queued["id"], id.as_str());
    assert!(queued["seq"].is_i64(), "{queued}");
    assert!(
        plain.seen.iter().all(|l| !l.contains("queued")),
        "plain monitor is not verbose: {:?}",
        plain.seen
    );
}
