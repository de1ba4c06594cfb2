//! The client commands (`scriptd run|status|cancel|kill|log|monitor|guest`)
//! as a person or a script uses them: the real binary as a child process
//! against the in-process server. Children are `tokio::process` ones and
//! every read is awaited, because this thread also runs the server.

use std::process::{ExitStatus, Stdio};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::{spawn_app, TestApp, DEADLINE};

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

pub async fn app() -> TestApp {
    let app = spawn_app().await;
    let dir = app.storage.path();
    let text = EXECTAB
        .replace("GO1", &dir.join("go1").display().to_string())
        .replace("GO2", &dir.join("go2").display().to_string());
    app.exectab(&text);
    app
}

pub fn go(app: &TestApp, step: &str) {
    std::fs::write(app.storage.path().join(step), "").expect("gate file");
}

/// The binary with no `SCRIPTD_*` from the outer environment and a working
/// directory without a `scriptd-data/admin.key`.
pub fn bare(args: &[&str]) -> Command {
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
pub fn scriptd(app: &TestApp, args: &[&str]) -> Command {
    let mut all = args.to_vec();
    all.extend(["--url", &app.base, "--api-key", &app.key]);
    bare(&all)
}

/// What a finished child left.
pub struct Finished {
    status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub fn json(&self) -> Value {
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
pub struct Running {
    pub child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    pub seen: Vec<String>,
}

impl Running {
    pub fn start(mut command: Command) -> Running {
        let mut child = command.spawn().expect("scriptd starts");
        let stdout = child.stdout.take().expect("piped stdout");
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        }
    }

    /// Reads stdout until a line contains `text`; returns that line.
    pub async fn line_with(&mut self, text: &str) -> String {
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
    pub async fn finish(mut self) -> Finished {
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

pub async fn output(command: Command) -> Finished {
    Running::start(command).finish().await
}

/// The id of the only running run of `name`, as `scriptd status --json` shows it.
pub async fn running_id(app: &TestApp, name: &str) -> String {
    let all = output(scriptd(app, &["status", "--json"])).await;
    assert_eq!(all.code(), 0, "{all}");
    all.json()["running"][name][0]
        .as_str()
        .unwrap_or_else(|| panic!("{name} running: {all}"))
        .to_owned()
}

pub fn one_line_error(out: &Finished, wanted: &str) {
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out}");
    assert!(out.stderr.contains(wanted), "{wanted:?} in {out}");
}
