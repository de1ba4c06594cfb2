//! The client commands (`scriptd run|status|cancel|kill|log|monitor|guest`)
//! as a person or a script uses them: the real binary as a child process
//! against the in-process server. Children are `tokio::process` ones and
//! every read is awaited, because this thread also runs the server.

use std::path::Path;
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
"#;

async fn app() -> TestApp {
    let app = spawn_app().await;
    let dir = app.storage.path();
    let text = EXECTAB
        .replace("GO1", &dir.join("go1").display().to_string())
        .replace("GO2", &dir.join("go2").display().to_string());
    app.exectab(&text);
    app
}

fn go(app: &TestApp, step: &str) {
    std::fs::write(app.storage.path().join(step), "").expect("gate file");
}

/// The binary with no `SCRIPTD_*` from the outer environment and a working
/// directory without a `scriptd-data/admin.key`.
fn bare(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scriptd"));
    command
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("SCRIPTD_URL")
        .env_remove("SCRIPTD_API_KEY")
        .env_remove("SCRIPTD_STORAGE")
        .env_remove("SCRIPTD_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// `scriptd ARGS --url … --api-key …` against `app`.
fn scriptd(app: &TestApp, args: &[&str]) -> Command {
    let mut all = args.to_vec();
    all.extend(["--url", &app.base, "--api-key", &app.key]);
    bare(&all)
}

/// What a finished child left.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    fn json(&self) -> Value {
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
struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command.spawn().expect("scriptd starts");
        let stdout = child.stdout.take().expect("piped stdout");
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        }
    }

    /// Reads stdout until a line contains `text`; returns that line.
    async fn line_with(&mut self, text: &str) -> String {
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
    async fn finish(mut self) -> Finished {
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

async fn output(command: Command) -> Finished {
    Running::start(command).finish().await
}

/// The id of the only running run of `name`, as `scriptd status --json` shows it.
async fn running_id(app: &TestApp, name: &str) -> String {
    let all = output(scriptd(app, &["status", "--json"])).await;
    assert_eq!(all.code(), 0, "{all}");
    all.json()["running"][name][0]
        .as_str()
        .unwrap_or_else(|| panic!("{name} running: {all}"))
        .to_owned()
}

fn one_line_error(out: &Finished, wanted: &str) {
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
    assert!(
        again.stderr.contains("script_not_queued_running"),
        "{again}"
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
    assert_eq!(
        lines,
        [
            "queued (position 0)",
            "started",
            "[1/2] First",
            "[50%] Half",
            "[2/2] Second",
            lines.last().copied().unwrap_or_default(),
        ],
        "{out}"
    );
    assert!(lines[5].starts_with("done: success (exit 0, "), "{out}");
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

    assert_eq!(started, format!("ok {id} started"));
    assert!(
        done.starts_with(&format!("ok {id} done: success (exit 0")),
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

#[actix_web::test]
async fn guest_create_list_and_delete() {
    let app = app().await;

    let created = output(scriptd(
        &app,
        &[
            "guest",
            "create",
            "ok",
            "--run",
            "--status",
            "--expires",
            "+1h",
            "--json",
        ],
    ))
    .await;
    assert_eq!(created.code(), 0, "{created}");
    let reply = created.json();
    let id = reply["id"].as_str().expect("guest id").to_owned();
    let guest_key = reply["info"]["apikey"]
        .as_str()
        .expect("guest key")
        .to_owned();
    let text = output(scriptd(
        &app,
        &["guest", "create", "ok", "--monitor", "--expires", "+1d"],
    ))
    .await;
    assert!(text.stdout.contains("API key (shown once): "), "{text}");

    let as_guest = output(bare(&[
        "status",
        "--url",
        &app.base,
        "--api-key",
        &guest_key,
    ]))
    .await;
    assert_eq!(as_guest.code(), 0, "{as_guest}");
    let list = output(scriptd(&app, &["guest", "list"])).await;
    let row = list.stdout.lines().find(|l| l.starts_with(&id));
    assert!(row.is_some_and(|r| r.contains("run,status")), "{list}");
    assert_eq!(
        list.stdout.lines().count(),
        3,
        "header and two guests: {list}"
    );

    let deleted = output(scriptd(&app, &["guest", "delete", &id])).await;

    assert_eq!(deleted.code(), 0, "{deleted}");
    let list = output(scriptd(&app, &["guest", "list", "--json"])).await;
    let ids: Vec<Value> = list.json()["guests"]
        .as_array()
        .expect("guests")
        .iter()
        .map(|g| g["id"].clone())
        .collect();
    assert_eq!(ids.len(), 1, "{list}");
    assert!(!ids.contains(&Value::from(id.as_str())), "{list}");
    let refused = output(bare(&[
        "status",
        "--url",
        &app.base,
        "--api-key",
        &guest_key,
    ]))
    .await;
    one_line_error(&refused, "invalid_missing_apikey");
}

#[actix_web::test]
async fn connection_refused_is_one_clear_line() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);

    for args in [
        vec!["status"],
        vec!["run", "demo", "--wait"],
        vec!["monitor"],
    ] {
        let mut all = args.clone();
        all.extend(["--url", &url, "--api-key", "any"]);
        let out = output(bare(&all)).await;
        one_line_error(
            &out,
            &format!("cannot connect to {url}: connection refused — is `scriptd serve` running?"),
        );
    }
}

#[actix_web::test]
async fn a_bad_key_is_one_clear_line() {
    let app = app().await;

    for args in [
        vec!["status"],
        vec!["run", "ok", "--wait"],
        vec!["log", "x"],
    ] {
        let mut all = args.clone();
        all.extend(["--url", &app.base, "--api-key", "not-a-key"]);
        let out = output(bare(&all)).await;
        one_line_error(
            &out,
            "the server refused the API key (invalid_missing_apikey)",
        );
    }
}

#[actix_web::test]
async fn unknown_scripts_and_ids_are_one_clear_line() {
    let app = app().await;
    let unknown = "01a22408-4d82-772f-a637-f93192a1ae5f";

    let run = output(scriptd(&app, &["run", "nope"])).await;
    let wait = output(scriptd(&app, &["run", "nope", "--wait"])).await;
    let status = output(scriptd(&app, &["status", unknown])).await;
    let malformed = output(scriptd(&app, &["status", "not-an-id"])).await;
    let log = output(scriptd(&app, &["log", unknown])).await;

    one_line_error(&run, "unknown script 'nope' (invalid_name)");
    one_line_error(&wait, "unknown script 'nope' (invalid_name)");
    one_line_error(&status, &format!("unknown run id '{unknown}' (invalid_id)"));
    one_line_error(&malformed, "unknown run id 'not-an-id' (invalid_id)");
    one_line_error(&log, &format!("unknown run id '{unknown}' (invalid_id)"));
}

#[actix_web::test]
async fn usage_errors_exit_2() {
    let out = output(bare(&["run"])).await;
    let time = output(bare(&["run", "ok", "--at", "soon", "--api-key", "k"])).await;

    assert_eq!(out.code(), 2, "{out}");
    assert_eq!(time.code(), 2, "{time}");
    assert!(time.stderr.contains("invalid time 'soon'"), "{time}");
}

#[actix_web::test]
async fn url_and_key_come_from_the_environment_or_the_admin_key_file() {
    let app = app().await;
    let storage = app.storage.path().display().to_string();
    assert!(Path::new(&storage).join("admin.key").exists());

    let mut from_env = bare(&["status", "--json"]);
    from_env
        .env("SCRIPTD_URL", &app.base)
        .env("SCRIPTD_API_KEY", &app.key);
    let from_file = bare(&["--storage", &storage, "status", "--url", &app.base]);
    let no_key = bare(&["status", "--url", &app.base]);

    let env_out = output(from_env).await;
    let file_out = output(from_file).await;
    let no_key_out = output(no_key).await;

    assert_eq!(env_out.json()["success"], true, "{env_out}");
    assert_eq!(file_out.code(), 0, "{file_out}");
    assert_eq!(file_out.stdout.trim(), "nothing queued or running");
    one_line_error(&no_key_out, "no API key");
}
