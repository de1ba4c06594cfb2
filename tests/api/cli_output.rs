//! Seeing what a run does from the command line: `run --wait` prints the
//! id and streams the script's output as it comes (piped and on a
//! terminal), Ctrl-C detaches, `log` shows a running run's output and
//! `log --follow` ends with the run. The harness is in `helpers/cli.rs`.

use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::helpers::cli::{app, go, output, running_id, scriptd, Running};
use crate::helpers::{eventually_async, DEADLINE};

#[actix_web::test]
async fn run_wait_prints_the_id_then_the_output_as_it_comes_with_stderr() {
    let app = app().await;
    let mut running = Running::start(scriptd(&app, &["run", "chatty", "--wait"]));

    // Seen while the script still waits for its gate: streamed, not at the end.
    running.line_with("line one").await;
    let id = running.seen[0].clone();
    assert_eq!(
        app.status(&id).await["state"],
        "running",
        "{:?}",
        running.seen
    );
    go(&app, "go1");
    let out = running.finish().await;

    assert_eq!(out.code(), 3, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], id, "{out}");
    assert!(
        lines.contains(&"oops"),
        "the script's stderr is shown: {out}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("done: failed (exit 3")),
        "{out}"
    );
}

#[actix_web::test]
async fn ctrl_c_detaches_from_a_waited_run_which_goes_on() {
    let app = app().await;
    let mut waiting = Running::start(scriptd(&app, &["run", "sleeper", "--wait"]));
    waiting.line_with("started").await;
    let id = running_id(&app, "sleeper").await;
    let pid = waiting.child.id().expect("pid") as i32;

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    let out = waiting.finish().await;

    assert_eq!(out.code(), 130, "{out}");
    assert!(out.stderr.contains(&format!("run {id} goes on")), "{out}");
    assert!(
        out.stderr.contains(&format!("scriptd log {id} --follow")),
        "{out}"
    );
    assert_eq!(app.status(&id).await["state"], "running");
    let kill = output(scriptd(&app, &["kill", &id])).await;
    assert_eq!(kill.code(), 0, "{kill}");
}

#[actix_web::test]
async fn log_of_a_running_run_has_its_lines_and_follow_ends_with_the_run() {
    let app = app().await;
    let id = app.run(serde_json::json!({"name": "chatty"})).await;

    eventually_async("the log has the first line while the run runs", || async {
        let log = output(scriptd(&app, &["log", &id])).await;
        log.stdout == "line one\n"
    })
    .await;
    assert_eq!(app.status(&id).await["state"], "running");
    let prefix = &id[..13];
    let mut follow = Running::start(scriptd(&app, &["log", prefix, "--follow"]));
    follow.line_with("line one").await;
    go(&app, "go1");
    let out = follow.finish().await;

    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.stdout, "line one\noops\n", "{out}");
}

#[actix_web::test]
async fn a_run_without_progress_lines_shows_the_elapsed_time_and_its_last_line() {
    let app = app().await;
    let bin = env!("CARGO_BIN_EXE_scriptd");
    let line = format!(
        "'{bin}' run quiet --wait --url '{}' --api-key '{}'",
        app.base, app.key
    );
    let mut command = Command::new("script");
    command
        .args(["-qfec", &line, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .expect("`script` (util-linux: Debian bsdutils) is installed");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut drawn = Vec::new();

    // The bar line: "running", an elapsed time such as "1s", the last line.
    let bar_seen = async {
        let mut chunk = [0u8; 4096];
        loop {
            let screen = String::from_utf8_lossy(&drawn).into_owned();
            let bar = screen
                .split(['\r', '\n'])
                .any(|l| l.contains("running") && l.contains("s working-on-it"));
            if bar {
                return;
            }
            let n = stdout.read(&mut chunk).await.expect("read pty copy");
            assert!(n > 0, "ended early: {screen:?}");
            drawn.extend_from_slice(&chunk[..n]);
        }
    };
    actix_rt::time::timeout(DEADLINE, bar_seen)
        .await
        .unwrap_or_else(|_| panic!("no elapsed bar: {:?}", String::from_utf8_lossy(&drawn)));
    go(&app, "go1");
    let rest = async {
        stdout.read_to_end(&mut drawn).await.expect("read rest");
        child.wait().await.expect("exit")
    };
    let status = actix_rt::time::timeout(DEADLINE, rest)
        .await
        .expect("scriptd under script exits");

    let screen = String::from_utf8_lossy(&drawn);
    assert_eq!(status.code(), Some(0), "{screen:?}");
    assert!(!screen.contains('░'), "no empty 0% bar: {screen:?}");
    assert!(!screen.contains(" 0%"), "no empty 0% bar: {screen:?}");
    assert!(screen.contains("done: success"), "{screen:?}");
}
