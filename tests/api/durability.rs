//! Durability: the real `scriptd` binary as a child process, killed with
//! SIGKILL or stopped with SIGTERM at chosen points and restarted on the same
//! storage. No accepted run may be lost, run twice or outlive the server.
//!
//! Scripts log their own starts as `<arg> <generation> <pid>` lines, where the
//! generation comes from the server's environment (children inherit it), so
//! every start is attributed to the server life that made it without timing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Column, Connection, Row, SqliteConnection, TypeInfo, ValueRef};

use crate::helpers::{eventually, Api, DEADLINE};

/// A `scriptd serve` child process and a client for it.
struct Server {
    child: Child,
    api: Api,
}

impl std::ops::Deref for Server {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A spawned `scriptd` whose stderr is being collected.
struct Spawned {
    child: Child,
    log: Arc<Mutex<String>>,
    port: Receiver<u16>,
    reader: std::thread::JoinHandle<()>,
}

/// Drops ANSI escape sequences (`ESC [ ... letter`) from a log line.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Starts `scriptd` with `args`; `generation` and `sleep` go to the
/// environment its scripts inherit (`DUR_GEN`, `DUR_SLEEP`).
fn spawn_scriptd(args: &[&str], generation: &str, sleep: &str) -> Spawned {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scriptd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SCRIPTD_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("DUR_GEN", generation)
        .env("DUR_SLEEP", sleep)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scriptd starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, port) = mpsc::channel();
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let line = strip_ansi(&line);
            if let Some((_, rest)) = line.split_once("listening on http://127.0.0.1:") {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(port) = digits.parse::<u16>() {
                    let _ = tx.send(port);
                }
            }
            let mut log = sink.lock().expect("log lock");
            log.push_str(&line);
            log.push('\n');
        }
    });
    Spawned {
        child,
        log,
        port,
        reader,
    }
}

impl Spawned {
    /// Waits (polling, within the deadline) for the process to exit; returns
    /// its status and everything it wrote to stderr.
    async fn exit(mut self) -> (ExitStatus, String) {
        let status = wait_exit(&mut self.child).await;
        self.reader.join().expect("stderr reader");
        let log = self.log.lock().expect("log lock").clone();
        (status, log)
    }
}

/// Polls `child` until it exits, within [`DEADLINE`].
async fn wait_exit(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("scriptd did not exit in time");
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Server {
    /// Serves `storage` on a free port, once it logged its address.
    async fn start(storage: &Path, generation: &str, sleep: &str) -> Server {
        let dir = storage.to_str().expect("utf-8 temp path");
        let mut spawned = spawn_scriptd(
            &["serve", "--storage", dir, "--listen", "127.0.0.1:0"],
            generation,
            sleep,
        );
        let start = Instant::now();
        let port = loop {
            if let Ok(port) = spawned.port.try_recv() {
                break port;
            }
            if let Some(status) = spawned.child.try_wait().expect("try_wait") {
                let log = spawned.log.lock().expect("log lock").clone();
                panic!("scriptd exited before listening ({status}):\n{log}");
            }
            assert!(
                start.elapsed() < DEADLINE,
                "scriptd did not log its address"
            );
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        };
        let key = std::fs::read_to_string(storage.join("admin.key")).expect("admin.key");
        Server {
            child: spawned.child,
            api: Api::new(port, key.trim().to_owned()),
        }
    }

    /// SIGKILL, and reap it.
    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL scriptd");
        self.child.wait().expect("reap scriptd");
    }

    /// SIGTERM, then wait for the exit; returns the status.
    async fn terminate(mut self) -> ExitStatus {
        let pid = Pid::from_raw(self.child.id() as i32);
        signal::kill(pid, Signal::SIGTERM).expect("SIGTERM scriptd");
        wait_exit(&mut self.child).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A storage directory plus a folder the scripts write into.
struct Fixture {
    _temp: tempfile::TempDir,
    storage: PathBuf,
    out: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let temp = tempfile::tempdir().expect("temp dir");
        let storage = temp.path().join("storage");
        let out = temp.path().join("out");
        std::fs::create_dir_all(&out).expect("out dir");
        Fixture {
            _temp: temp,
            storage,
            out,
        }
    }

    /// Writes the admin's exectab; `OUT` in `text` becomes the output folder.
    fn exectab(&self, text: &str) {
        let text = text.replace("OUT", self.out.to_str().expect("utf-8 temp path"));
        let path = self.storage.join("1").join("scripts").join("exectab.txt");
        std::fs::write(path, text).expect("write exectab");
    }

    /// The `<arg> <generation> <pid>` lines scripts appended to `starts.log`.
    fn starts(&self) -> Vec<Start> {
        let text = std::fs::read_to_string(self.out.join("starts.log")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let parts: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(parts.len(), 3, "malformed start line {line:?}");
                Start {
                    arg: parts[0].to_owned(),
                    generation: parts[1].to_owned(),
                    pid: parts[2].parse().expect("pid"),
                }
            })
            .collect()
    }

    /// Waits until the script run with `arg` logged its start.
    async fn wait_started(&self, arg: &str) -> Start {
        eventually(&format!("{arg} to start"), || {
            self.starts().into_iter().find(|s| s.arg == arg)
        })
        .await
    }

    /// `kind`s of the events of one run, in log order.
    async fn run_events(&self, id: &str) -> Vec<String> {
        let mut db = open_db(&self.storage).await;
        let rows = sqlx::query("SELECT kind FROM events WHERE stream = ? ORDER BY seq")
            .bind(id)
            .fetch_all(&mut db)
            .await
            .expect("read events");
        rows.iter().map(|r| r.get::<String, _>("kind")).collect()
    }
}

#[derive(Debug, Clone)]
struct Start {
    arg: String,
    generation: String,
    pid: i32,
}

async fn open_db(storage: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new()
        .filename(storage.join("scriptd.db"))
        .read_only(true);
    SqliteConnection::connect_with(&options)
        .await
        .expect("open scriptd.db")
}

/// Whether `pid` is gone (absent, or a zombie nobody reaped yet).
fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Waits until every pid is gone; SIGKILLs survivors before failing.
async fn assert_processes_die(pids: &[i32], what: &str) {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if pids.iter().all(|&pid| process_gone(pid)) {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let alive: Vec<i32> = pids.iter().copied().filter(|&p| !process_gone(p)).collect();
    for &pid in &alive {
        let _ = signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    panic!("{what}: processes {alive:?} outlived the server");
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Scripts of the crash workload. Each logs its start, then waits
/// `$DUR_SLEEP` (long before a crash, short after it) via `exec`, so the
/// server's direct child is the sleeping process itself.
const CRASH_EXECTAB: &str = r#"
-s=2 work /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; exec sleep $DUR_SLEEP" sh @@1
-i feed /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; cat > OUT/$1.stdin; exec sleep $DUR_SLEEP" sh @@1
later /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log" sh @@1
-m=2 capped /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; while [ ! -e OUT/gate ]; do sleep 0.05; done" sh @@1
"#;

/// One accepted run of the crash workload.
#[derive(Debug)]
struct Accepted {
    id: String,
    arg: String,
    script: &'static str,
    stdin: Option<String>,
    queue: Option<i64>,
}

/// Queues the mixed workload: `work` runs beyond `-s`, `feed` runs with
/// stdin beyond `-s`, one `later` run scheduled a few seconds ahead, and
/// `capped` runs up to `-m`.
async fn submit_workload(server: &Server) -> Vec<Accepted> {
    let mut accepted = Vec::new();
    for n in 1..=5 {
        let arg = format!("w{n}");
        let id = server.run(json!({"name": "work", "args": [arg]})).await;
        accepted.push(Accepted {
            id,
            arg,
            script: "work",
            stdin: None,
            queue: None,
        });
    }
    for n in 1..=3 {
        let arg = format!("f{n}");
        let stdin = format!("stdin of {arg}\n\"quoted\" $HOME; `x` é\nlast line without newline");
        let id = server
            .run(json!({"name": "feed", "args": [arg], "stdin": stdin}))
            .await;
        accepted.push(Accepted {
            id,
            arg,
            script: "feed",
            stdin: Some(stdin),
            queue: None,
        });
    }
    let queue = now_secs() + 4;
    let id = server
        .run(json!({"name": "later", "args": ["l1"], "queue": queue}))
        .await;
    accepted.push(Accepted {
        id,
        arg: "l1".into(),
        script: "later",
        stdin: None,
        queue: Some(queue),
    });
    for n in 1..=2 {
        let arg = format!("c{n}");
        let id = server.run(json!({"name": "capped", "args": [arg]})).await;
        accepted.push(Accepted {
            id,
            arg,
            script: "capped",
            stdin: None,
            queue: None,
        });
    }
    assert_capped_is_full(server, "-m=2 refuses a third run before the crash").await;
    accepted
}

/// Asserts that another `capped` run is refused with `queue_full`.
async fn assert_capped_is_full(server: &Server, why: &str) {
    let body = json!({"name": "capped", "args": ["c-refused"]});
    let (status, reply) = server.post("/scripts/v1/run", body).await;
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (400, Some("queue_full")),
        "{why}: {reply}"
    );
}

/// After the restart: `-m` counts the restored runs, then the gate opens;
/// every accepted run ends exactly once, never starts twice, and runs not
/// started before the crash run afterwards with their stdin and schedule.
/// Returns the outcome per argument.
async fn check_recovery(
    fixture: &Fixture,
    server: &Server,
    accepted: &mut Vec<Accepted>,
) -> HashMap<String, String> {
    // The gate is closed, so c1 is done now only if the crash interrupted it.
    let c1 = accepted
        .iter()
        .find(|r| r.arg == "c1")
        .expect("c1")
        .id
        .clone();
    if server.status(&c1).await["state"] == "done" {
        let id = server.run(json!({"name": "capped", "args": ["c3"]})).await;
        accepted.push(Accepted {
            id,
            arg: "c3".into(),
            script: "capped",
            stdin: None,
            queue: None,
        });
    }
    assert_capped_is_full(server, "-m=2 counts the runs restored after the crash").await;
    std::fs::write(fixture.out.join("gate"), "").expect("open the gate");

    let mut outcomes = HashMap::new();
    for run in accepted.iter() {
        let status = server.wait_done(&run.id).await;
        let outcome = status["outcome"].as_str().unwrap_or_default().to_owned();
        let kinds = fixture.run_events(&run.id).await;
        let ends = kinds
            .iter()
            .filter(|k| {
                matches!(
                    k.as_str(),
                    "RunFinished" | "RunInterrupted" | "RunStartFailed" | "RunCancelled"
                )
            })
            .count();
        let started = kinds.iter().filter(|k| *k == "RunStarted").count();
        assert_eq!(ends, 1, "{} ends exactly once: {kinds:?}", run.arg);
        assert!(started <= 1, "{} started once at most: {kinds:?}", run.arg);
        outcomes.insert(run.arg.clone(), outcome);
    }

    let starts = fixture.starts();
    for run in accepted.iter() {
        let mine: Vec<&Start> = starts.iter().filter(|s| s.arg == run.arg).collect();
        let outcome = outcomes[&run.arg].as_str();
        assert!(
            mine.len() <= 1,
            "{} started more than once: {mine:?}",
            run.arg
        );
        match outcome {
            "success" => assert_eq!(mine.len(), 1, "{} succeeded, so it started", run.arg),
            "interrupted" => assert!(
                mine.iter().all(|s| s.generation == "1"),
                "{} was interrupted by the crash yet started again: {mine:?}",
                run.arg
            ),
            other => panic!("{} ended {other}, expected success or interrupted", run.arg),
        }
        // `later` does not wait, so it may have finished before the crash.
        let waits = run.script != "later";
        if waits && mine.iter().any(|s| s.generation == "1") {
            assert_eq!(
                outcome, "interrupted",
                "{} was running at the crash",
                run.arg
            );
        }
        if let Some(stdin) = &run.stdin {
            if outcome == "success" {
                let got = std::fs::read_to_string(fixture.out.join(format!("{}.stdin", run.arg)))
                    .expect("stdin copy");
                assert_eq!(&got, stdin, "{} got its stdin after the restart", run.arg);
            }
        }
        if let Some(queue) = run.queue {
            let status = server.status(&run.id).await;
            let started = status["started"].as_f64().expect("started time");
            assert!(
                started >= queue as f64,
                "{} started at {started}, before its queue time {queue}",
                run.arg
            );
        }
    }

    // The queue order survives: feed is -s=1, so f2 starts before f3.
    let position = |arg: &str| starts.iter().position(|s| s.arg == arg).expect("started");
    assert!(
        position("f2") < position("f3"),
        "f2 starts before f3: {starts:?}"
    );

    let mut db = open_db(&fixture.storage).await;
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM run_stdin")
        .fetch_one(&mut db)
        .await
        .expect("count stdin");
    assert_eq!(kept, 0, "stdin is deleted once its run has started");
    outcomes
}

#[actix_web::test]
async fn runs_accepted_right_before_a_kill_9_each_finish_once_after_the_restart() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "60").await;
    fixture.exectab(CRASH_EXECTAB);

    // Act: crash right after the last run was accepted.
    let mut accepted = submit_workload(&server).await;
    server.kill9();
    let server = Server::start(&fixture.storage, "2", "0.2").await;

    // Assert
    let outcomes = check_recovery(&fixture, &server, &mut accepted).await;
    for arg in ["w3", "w4", "w5", "f2", "f3", "l1", "c2"] {
        assert_eq!(
            outcomes[arg], "success",
            "{arg} was queued behind -s at the crash"
        );
    }
}

#[actix_web::test]
async fn runs_running_at_a_kill_9_end_interrupted_and_queued_ones_run_once_after_the_restart() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "60").await;
    fixture.exectab(CRASH_EXECTAB);
    let mut accepted = submit_workload(&server).await;
    for arg in ["w1", "w2", "f1", "c1"] {
        fixture.wait_started(arg).await;
    }
    let w1 = &accepted[0].id;
    server
        .wait_status(w1, "w1 running", |s| s["state"] == "running")
        .await;

    // Act
    server.kill9();
    let server = Server::start(&fixture.storage, "2", "0.2").await;

    // Assert
    let outcomes = check_recovery(&fixture, &server, &mut accepted).await;
    for arg in ["w1", "w2", "f1", "c1"] {
        assert_eq!(
            outcomes[arg], "interrupted",
            "{arg} was running at the crash"
        );
    }
    for arg in ["w3", "w4", "w5", "f2", "f3", "l1", "c2", "c3"] {
        assert_eq!(outcomes[arg], "success", "{arg} was queued at the crash");
    }
    let status = server.status(&accepted[0].id).await;
    assert!(
        status["error"].as_str().is_some_and(|e| !e.is_empty()),
        "an interrupted run says why: {status}"
    );
}

#[actix_web::test]
async fn a_kill_9_of_the_server_takes_its_script_processes_with_it() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "300").await;
    fixture.exectab(CRASH_EXECTAB);
    server.run(json!({"name": "work", "args": ["w1"]})).await;
    server.run(json!({"name": "work", "args": ["w2"]})).await;
    server
        .run(json!({"name": "feed", "args": ["f1"], "stdin": "x"}))
        .await;
    let mut pids = Vec::new();
    for arg in ["w1", "w2", "f1"] {
        pids.push(fixture.wait_started(arg).await.pid);
    }
    assert!(
        pids.iter().all(|&pid| !process_gone(pid)),
        "the scripts run before the kill"
    );

    // Act
    server.kill9();

    // Assert
    assert_processes_die(&pids, "after SIGKILL of scriptd").await;
}

#[actix_web::test]
async fn a_restart_ends_the_grandchildren_an_interrupted_run_left_behind() {
    // Arrange: the script's own child has no parent-death signal.
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "1").await;
    let pid_file = fixture.out.join("grandchild");
    fixture.exectab(&format!(
        "orphan /bin/sh -c \"sleep 300 & echo $! > {}; wait\"\n",
        pid_file.display()
    ));
    let id = server.run(json!({"name": "orphan"})).await;
    let grandchild: i32 = eventually("the grandchild's pid", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    })
    .await;
    let start = Instant::now();
    while !fixture
        .run_events(&id)
        .await
        .iter()
        .any(|k| k == "RunSpawned")
    {
        assert!(start.elapsed() < DEADLINE, "RunSpawned recorded");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }

    // Act
    server.kill9();
    assert!(
        !process_gone(grandchild),
        "the grandchild outlives the crash"
    );
    let server = Server::start(&fixture.storage, "2", "1").await;

    // Assert
    assert_processes_die(&[grandchild], "after the restart").await;
    assert_eq!(server.wait_done(&id).await["outcome"], "interrupted");
}

#[actix_web::test]
async fn sigterm_interrupts_running_runs_keeps_queued_ones_and_exits_zero() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "60").await;
    fixture.exectab(
        r#"
work /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; exec sleep $DUR_SLEEP" sh @@1
later /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log" sh @@1
"#,
    );
    let w1 = server.run(json!({"name": "work", "args": ["w1"]})).await;
    let w2 = server.run(json!({"name": "work", "args": ["w2"]})).await;
    let w3 = server.run(json!({"name": "work", "args": ["w3"]})).await;
    let queue = now_secs() + 3600;
    let l1 = server
        .run(json!({"name": "later", "args": ["l1"], "queue": queue}))
        .await;
    let w1_pid = fixture.wait_started("w1").await.pid;

    // Act
    let exit = server.terminate().await;

    // Assert
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0: {exit}");
    assert!(process_gone(w1_pid), "the running script was stopped");
    let server = Server::start(&fixture.storage, "2", "0.2").await;
    let status = server.status(&w1).await;
    assert_eq!(
        (status["state"].as_str(), status["outcome"].as_str()),
        (Some("done"), Some("interrupted")),
        "w1 was running at the shutdown: {status}"
    );
    for (id, arg) in [(&w2, "w2"), (&w3, "w3")] {
        let status = server.wait_done(id).await;
        assert_eq!(
            status["outcome"], "success",
            "{arg} ran after the restart: {status}"
        );
    }
    let status = server.status(&l1).await;
    assert_eq!(
        (status["state"].as_str(), status["queued"].as_i64()),
        (Some("queued"), Some(queue)),
        "the scheduled run is still waiting for its time: {status}"
    );
    let starts = fixture.starts();
    let summary: Vec<(&str, &str)> = starts
        .iter()
        .map(|s| (s.arg.as_str(), s.generation.as_str()))
        .collect();
    assert_eq!(
        summary,
        [("w1", "1"), ("w2", "2"), ("w3", "2")],
        "each run started once, in queue order"
    );
}

/// Every column of every `runs` row, as text, ordered by id.
async fn runs_table(storage: &Path) -> Vec<Vec<(String, String)>> {
    let mut db = open_db(storage).await;
    let rows = sqlx::query("SELECT * FROM runs ORDER BY id")
        .fetch_all(&mut db)
        .await
        .expect("read runs");
    rows.iter()
        .map(|row| {
            row.columns()
                .iter()
                .map(|column| {
                    let i = column.ordinal();
                    let raw = row.try_get_raw(i).expect("column");
                    let value = if raw.is_null() {
                        "NULL".to_owned()
                    } else {
                        match raw.type_info().name() {
                            "INTEGER" => format!("int {}", row.get::<i64, _>(i)),
                            "REAL" => format!("real {:?}", row.get::<f64, _>(i)),
                            "BLOB" => format!("blob {:?}", row.get::<Vec<u8>, _>(i)),
                            _ => format!("text {}", row.get::<String, _>(i)),
                        }
                    };
                    (column.name().to_owned(), value)
                })
                .collect()
        })
        .collect()
}

#[actix_web::test]
async fn admin_rebuild_recreates_the_runs_table_identically_after_a_mixed_workload() {
    // Arrange: every outcome, progress, a forgotten run, a crash, queued runs.
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "60").await;
    fixture.exectab(
        r#"
steps /bin/sh -c "echo '[1/2] One'; echo '[50%] Half'; echo '[2/2] Two'; echo done"
fails /bin/sh -c "echo oops >&2; exit 3"
missing /nonexistent/scriptd-test-binary
-n note /bin/true @@1
-r forget /bin/sh -c "echo $1" sh @@1
-i hold /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; cat > /dev/null; exec sleep $DUR_SLEEP" sh @@1
"#,
    );
    for name in ["steps", "fails", "missing"] {
        let id = server.run(json!({"name": name})).await;
        server.wait_done(&id).await;
    }
    let id = server.run(json!({"name": "note", "args": ["x"]})).await;
    server.wait_done(&id).await;
    let id = server.run(json!({"name": "forget", "args": ["y"]})).await;
    server
        .wait_status(&id, "forgotten", |s| s["errorcode"] == "invalid_id")
        .await;
    let killed = server
        .run(json!({"name": "hold", "args": ["h1"], "stdin": "a"}))
        .await;
    let cancelled = server.run(json!({"name": "hold", "args": ["h2"]})).await;
    fixture.wait_started("h1").await;
    let (status, reply) = server
        .post(&format!("/scripts/v1/cancel/{cancelled}"), json!({}))
        .await;
    assert_eq!(status, 200, "cancel: {reply}");
    let (status, reply) = server
        .post(&format!("/scripts/v1/kill/{killed}"), json!({}))
        .await;
    assert_eq!(status, 200, "kill: {reply}");
    server.wait_done(&killed).await;
    server
        .run(json!({"name": "hold", "args": ["h3"], "stdin": "b"}))
        .await;
    server.run(json!({"name": "hold", "args": ["h4"]})).await;
    fixture.wait_started("h3").await;
    server.kill9();
    let server = Server::start(&fixture.storage, "2", "60").await;
    fixture.wait_started("h4").await;
    server
        .run(json!({"name": "hold", "args": ["h5"], "queue": now_secs() + 3600}))
        .await;
    let exit = server.terminate().await;
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0");
    let before = runs_table(&fixture.storage).await;

    // Act
    let output = Command::new(env!("CARGO_BIN_EXE_scriptd"))
        .args(["admin", "rebuild", "--storage"])
        .arg(&fixture.storage)
        .output()
        .expect("run scriptd admin rebuild");

    // Assert
    assert!(
        output.status.success(),
        "rebuild succeeds: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after = runs_table(&fixture.storage).await;
    let column = |row: &Vec<(String, String)>, name: &str| {
        row.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut kinds: Vec<String> = before
        .iter()
        .map(|row| format!("{} {}", column(row, "state"), column(row, "outcome")))
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "text done text cancelled",
            "text done text failed",
            "text done text interrupted",
            "text done text killed",
            "text done text noexec",
            "text done text start_failed",
            "text done text success",
            "text queued NULL",
        ],
        "the workload covers every kind of row"
    );
    assert!(
        before.iter().any(|row| column(row, "forgotten") == "int 1"),
        "the workload has a forgotten run"
    );
    assert_eq!(before.len(), after.len(), "same number of rows");
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old, new, "row rebuilt identically");
    }
}

#[actix_web::test]
async fn a_second_server_on_the_same_storage_is_refused_while_the_first_keeps_serving() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "1").await;
    let key = std::fs::read(fixture.storage.join("admin.key")).expect("admin.key");
    let dir = fixture.storage.to_str().expect("utf-8 temp path");

    // Act
    let (exit, log) = spawn_scriptd(
        &["serve", "--storage", dir, "--listen", "127.0.0.1:0"],
        "2",
        "1",
    )
    .exit()
    .await;

    // Assert
    assert!(!exit.success(), "the second server fails: {exit}\n{log}");
    assert!(
        log.contains(dir),
        "the message names the storage directory:\n{log}"
    );
    assert!(!log.contains("listening on"), "it never listened:\n{log}");
    let (status, reply) = server.get("/scripts/v1/status").await;
    assert_eq!(status, 200, "the first server still serves: {reply}");
    assert_eq!(
        std::fs::read(fixture.storage.join("admin.key")).expect("admin.key"),
        key,
        "the admin key is untouched"
    );
}

#[actix_web::test]
async fn admin_rebuild_is_refused_while_a_server_holds_the_storage() {
    let fixture = Fixture::new();
    let _server = Server::start(&fixture.storage, "1", "1").await;
    let dir = fixture.storage.to_str().expect("utf-8 temp path");
    let (exit, log) = spawn_scriptd(&["admin", "rebuild", "--storage", dir], "2", "1")
        .exit()
        .await;
    assert!(!exit.success(), "rebuild refused: {exit}\n{log}");
    assert!(log.contains("another scriptd server"), "says why:\n{log}");
}

#[actix_web::test]
async fn a_garbage_database_file_stops_the_server_with_a_clear_message() {
    // Arrange
    let fixture = Fixture::new();
    std::fs::create_dir_all(&fixture.storage).expect("storage dir");
    let db = fixture.storage.join("scriptd.db");
    let junk = "this is not an SQLite database\n".repeat(200);
    std::fs::write(&db, &junk).expect("write junk");
    let dir = fixture.storage.to_str().expect("utf-8 temp path");

    // Act
    let (exit, log) = spawn_scriptd(
        &["serve", "--storage", dir, "--listen", "127.0.0.1:0"],
        "1",
        "1",
    )
    .exit()
    .await;

    // Assert
    assert!(
        !exit.success(),
        "the server refuses to start: {exit}\n{log}"
    );
    assert!(
        log.contains(db.to_str().expect("utf-8 path")),
        "the message names the database file:\n{log}"
    );
    assert!(!log.contains("listening on"), "it never listened:\n{log}");
    assert_eq!(
        std::fs::read_to_string(&db).expect("database file"),
        junk,
        "the file is left as it was"
    );
    assert!(
        !fixture.storage.join("admin.key").exists(),
        "no fresh admin was created"
    );
}
