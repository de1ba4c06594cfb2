//! The real `scriptd` binary as a server in a child process, killed with
//! SIGKILL or stopped with SIGTERM at chosen points and restarted on the
//! same storage (configured by the same [`ServerSpec`] as in-process
//! servers), and the fixture the `durability_*` tests share.
//!
//! Scripts log their own starts as `<arg> <generation> <pid>` lines, where the
//! generation comes from the server's environment (children inherit it), so
//! every start is attributed to the server life that made it without timing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use super::server::{Scheme, ServerSpec};
use super::{eventually, eventually_ok, settles, Api};

/// A `scriptd serve` child process and a client for it.
pub struct Server {
    child: Child,
    api: Api,
    /// What it wrote to stderr so far.
    log: Arc<Mutex<String>>,
}

impl std::ops::Deref for Server {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A spawned `scriptd` whose stderr is being collected.
pub struct Spawned {
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
pub fn spawn_scriptd(args: &[&str], generation: &str, sleep: &str) -> Spawned {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scriptd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SCRIPTD_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .envs(crate::backend::database_env_for_args(args))
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
    /// Everything it wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits (polling, within the deadline) for the process to exit; returns
    /// its status and everything it wrote to stderr.
    pub async fn exit(mut self) -> (ExitStatus, String) {
        let status = wait_exit(&mut self.child).await;
        self.reader.join().expect("stderr reader");
        let log = self.log.lock().expect("log lock").clone();
        (status, log)
    }
}

/// Polls `child` until it exits, within the deadline.
async fn wait_exit(child: &mut Child) -> ExitStatus {
    let mut status = None;
    if !settles(|| {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    })
    .await
    {
        let _ = child.kill();
        panic!("scriptd did not exit in time");
    }
    status.expect("exited")
}

impl Server {
    /// Serves `storage` on a free port, once it logged its address.
    pub async fn start(storage: &Path, generation: &str, sleep: &str) -> Server {
        Server::start_with(storage, generation, sleep, &[]).await
    }

    /// [`Server::start`] with more arguments for `serve` (`--config …`).
    pub async fn start_with(
        storage: &Path,
        generation: &str,
        sleep: &str,
        extra: &[&str],
    ) -> Server {
        let args = ServerSpec::new(storage, Scheme::Plain).serve_args(extra);
        Server::launch(storage, &args, generation, sleep).await
    }

    /// Starts `scriptd` with these `serve` arguments, on `storage`, once
    /// it logged its address; the client uses `storage`'s `admin.key`.
    pub async fn launch(storage: &Path, args: &[String], generation: &str, sleep: &str) -> Server {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::listening(spawn_scriptd(&args, generation, sleep), storage).await
    }

    /// The server `spawned` (a `serve` on `storage`), once it logged its
    /// address.
    pub async fn listening(mut spawned: Spawned, storage: &Path) -> Server {
        let port = eventually_ok("scriptd to log its address", || {
            let port = spawned.port.try_recv().map_err(|_| "no address yet");
            if let Some(status) = spawned.child.try_wait().expect("try_wait") {
                let log = spawned.log.lock().expect("log lock").clone();
                panic!("scriptd exited before listening ({status}):\n{log}");
            }
            async move { port }
        })
        .await;
        let key = std::fs::read_to_string(storage.join("admin.key")).expect("admin.key");
        Server {
            child: spawned.child,
            api: Api::new(port, key.trim().to_owned()),
            log: spawned.log,
        }
    }

    /// Its process id (to pause it with SIGSTOP, say).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything it wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// SIGKILL, and reap it.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL scriptd");
        self.child.wait().expect("reap scriptd");
    }

    /// SIGTERM, then wait for the exit; the status and all it wrote to
    /// stderr.
    pub async fn terminate_logged(self) -> (ExitStatus, String) {
        let log = self.log.clone();
        let status = self.terminate().await;
        let text = log.lock().expect("log lock").clone();
        (status, text)
    }

    /// SIGTERM, then wait for the exit; returns the status.
    pub async fn terminate(mut self) -> ExitStatus {
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
pub struct Fixture {
    _temp: tempfile::TempDir,
    pub storage: PathBuf,
    pub out: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
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
    pub fn exectab(&self, text: &str) {
        let text = text.replace("OUT", self.out.to_str().expect("utf-8 temp path"));
        let path = self.storage.join("1").join("scripts").join("exectab.txt");
        std::fs::write(path, text).expect("write exectab");
    }

    /// The `<arg> <generation> <pid>` lines scripts appended to `starts.log`.
    pub fn starts(&self) -> Vec<Start> {
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
    pub async fn wait_started(&self, arg: &str) -> Start {
        eventually(&format!("{arg} to start"), || {
            self.starts().into_iter().find(|s| s.arg == arg)
        })
        .await
    }

    /// `kind`s of the events of one run, in log order.
    pub async fn run_events(&self, id: &str) -> Vec<String> {
        crate::backend::event_kinds(&self.storage, id)
    }
}

#[derive(Debug, Clone)]
pub struct Start {
    pub arg: String,
    pub generation: String,
    pub pid: i32,
}

/// A read-only connection to `storage`'s SQLite database.
pub async fn open_db(storage: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new()
        .filename(storage.join("scriptd.db"))
        .read_only(true);
    SqliteConnection::connect_with(&options)
        .await
        .expect("open scriptd.db")
}

/// Whether `pid` is gone (absent, or a zombie nobody reaped yet).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Waits until every pid is gone; SIGKILLs survivors before failing.
pub async fn assert_processes_die(pids: &[i32], what: &str) {
    if settles(|| pids.iter().all(|&pid| process_gone(pid))).await {
        return;
    }
    let alive: Vec<i32> = pids.iter().copied().filter(|&p| !process_gone(p)).collect();
    for &pid in &alive {
        let _ = signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    panic!("{what}: processes {alive:?} outlived the server");
}
