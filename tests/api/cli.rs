//! The client commands (`scriptd run|status|cancel|kill|log|monitor|guest`)
//! as a person or a script uses them: the real binary as a child process
//! against the in-process server. Children are `tokio::process` ones and
//! every read is awaited, because this thread also runs the server.
//!
//! This file holds the harness the `cli_*` files share, and the tests of
//! `run` (args, stdin, `--at`), `status` and `cancel`.

use std::process::{ExitStatus, Stdio};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::helpers::{spawn_app, TestApp, DEADLINE};

/// Every test script; `GO1`/`GO2` are replaced by files the test creates
/// to let `progress` go on, so each step is seen before the next starts.
const EXECTAB: &str = r#"
ok /bin/sh -c "echo hello from log"
three /bin/sh -c "exit 3"
sleeper /bin/sleep 30
broken /nonexistent/scriptd-test-binary
-t=1 slow /bin/sleep 30
-i cat /bin/cat
echo /bin/echo @@1 @@2
progress /bin/sh -c "echo '[1/2] First'; while [ ! -e GO1 ]; do sleep 0.02; done; echo '[50%] Half'; while [ ! -e GO2 ]; do sleep 0.02; done; echo '[2/2] Second'"
chatty /bin/sh -c "echo line one; while [ ! -e GO1 ]; do sleep 0.02; done; echo oops >&2; exit 3"
quiet /bin/sh -c "echo working-on-it; while [ ! -e GO1 ]; do sleep 0.02; done"
-m=1 full /bin/sleep 30
a-rather-long-script-name-for-columns /bin/true
"#;

pub(super) async fn app() -> TestApp {
    let app = spawn_app().await;
    let dir = app.storage.path();
    let text = EXECTAB
        .replace("GO1", &dir.join("go1").display().to_string())
        .replace("GO2", &dir.join("go2").display().to_string());
    app.exectab(&text);
    app
}

pub(super) fn go(app: &TestApp, step: &str) {
    std::fs::write(app.storage.path().join(step), "").expect("gate file");
}

/// The binary with no `SCRIPTD_*` from the outer environment and a working
/// directory without a `scriptd-data/admin.key`.
pub(super) fn bare(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scriptd"));
    command
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("SCRIPTD_URL")
        .env_remove("SCRIPTD_API_KEY")
        .env_remove("SCRIPTD_STORAGE")
        .env_remove("SCRIPTD_CONFIG")
        .env_remove("SCRIPTD_DATABASE")
        .envs(crate::backend::database_env_for_args(args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// `scriptd ARGS --url … --api-key …` against `app`.
pub(super) fn scriptd(app: &TestApp, args: &[&str]) -> Command {
    let mut all = args.to_vec();
    all.extend(["--url", &app.base, "--api-key", &app.key]);
    bare(&all)
}

/// What a finished child left.
pub(super) struct Finished {
    status: ExitStatus,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Finished {
    pub(super) fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|_| panic!("JSON stdout: {self}"))
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A running child whose stdout is read line by line.
pub(super) struct Running {
    pub(super) child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    pub(super) seen: Vec<String>,
}

impl Running {
    pub(super) fn start(mut command: Command) -> Running {
        let mut child = command.spawn().expect("scriptd starts");
        let stdout = child.stdout.take().expect("piped stdout");
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        }
    }

    /// Reads stdout until a line contains `text`; returns that line.
    pub(super) async fn line_with(&mut self, text: &str) -> String {
        let read = async {
            while let Some(line) = self.lines.next_line().await.expect("read stdout") {
                self.seen.push(line.clone());
                if line.contains(text) {
                    return Some(line);
                }
            }
            None
        };
        let found = actix_rt::time::timeout(DEADLINE, read).await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no line with {text:?}; saw {:?}", self.seen),
        }
    }

    /// Waits for the exit; stdout holds every line, also those already read.
    pub(super) async fn finish(mut self) -> Finished {
        let mut rest = String::new();
        let mut stderr = String::new();
        let mut err_pipe = self.child.stderr.take().expect("piped stderr");
        let done = async {
            while let Some(line) = self.lines.next_line().await.expect("read stdout") {
                rest.push_str(&line);
                rest.push('\n');
            }
            err_pipe.read_to_string(&mut stderr).await.expect("stderr");
            self.child.wait().await.expect("exit status")
        };
        let status = actix_rt::time::timeout(DEADLINE, done)
            .await
            .unwrap_or_else(|_| panic!("scriptd did not exit; saw {:?}", self.seen));
        let mut stdout: String = self.seen.iter().map(|l| format!("{l}\n")).collect();
        stdout.push_str(&rest);
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

pub(super) async fn output(command: Command) -> Finished {
    Running::start(command).finish().await
}

/// The id of the only running run of `name`, as `scriptd status --json` shows it.
pub(super) async fn running_id(app: &TestApp, name: &str) -> String {
    let all = output(scriptd(app, &["status", "--json"])).await;
    assert_eq!(all.code(), 0, "{all}");
    all.json()["running"][name][0]
        .as_str()
        .unwrap_or_else(|| panic!("{name} running: {all}"))
        .to_owned()
}

pub(super) fn one_line_error(out: &Finished, wanted: &str) {
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out}");
    assert!(out.stderr.contains(wanted), "{wanted:?} in {out}");
}

#[actix_web::test]
async fn run_prints_the_id_and_passes_args() {
    let app = app().await;

    let out = output(scriptd(&app, &["run", "echo", "a b", "c"])).await;

    assert_eq!(out.code(), 0, "{out}");
    let id = out.stdout.trim();
    assert_eq!(app.wait_done(id).await["outcome"], "success");
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

    assert_eq!(app.wait_done(&from_file).await["outcome"], "success");
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
    let row = table.stdout.lines().find(|l| l.contains(&id));
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
    assert_eq!(json.json(), app.status(&id).await, "{json}");
    assert_eq!(empty.stdout.trim(), "nothing queued or running", "{empty}");
}
