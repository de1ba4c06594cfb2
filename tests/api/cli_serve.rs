//! `scriptd serve` as a child process, as a newcomer starts it: where the
//! first-run key goes, binding before creating anything, the storage the
//! admin commands refuse, `rotate-key admin` and the key file, exectab
//! warnings in the server's log, and `monitor` across a server restart.
//! The client harness is in `helpers/cli.rs`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::rc::Rc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::cli::{bare, one_line_error, output, Running};
use crate::helpers::{eventually, DEADLINE};

/// A `scriptd serve` child and everything it logged so far.
pub(super) struct Served {
    child: Child,
    pub(super) listen: String,
    log: Rc<RefCell<String>>,
}

impl Served {
    /// Starts `scriptd serve` on `storage` and `listen`; returns once it logged
    /// `listening on http://…`.
    pub(super) async fn start(storage: &Path, listen: &str) -> Served {
        let mut command = bare(&[
            "serve",
            "--storage",
            &storage.display().to_string(),
            "--listen",
            listen,
        ]);
        command.env("RUST_LOG", "info").env("NO_COLOR", "1");
        let mut child = command.spawn().expect("scriptd serve starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Rc::new(RefCell::new(String::new()));
        let sink = log.clone();
        actix_rt::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.borrow_mut();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let address = eventually("serve logs its address", || {
            let log = log.borrow();
            let rest = log.split("listening on http://").nth(1)?;
            Some(rest.split_whitespace().next()?.to_owned())
        })
        .await;
        Served {
            child,
            listen: address,
            log,
        }
    }

    /// What the server logged so far.
    pub(super) fn log(&self) -> String {
        self.log.borrow().clone()
    }

    /// SIGTERM, then waits for the exit.
    pub(super) async fn stop(mut self) {
        let pid = self.child.id().expect("serve pid") as i32;
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        actix_rt::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("serve stops on SIGTERM")
            .expect("exit status");
    }
}

fn key_of(storage: &Path) -> String {
    std::fs::read_to_string(storage.join("admin.key"))
        .expect("admin.key")
        .trim()
        .to_owned()
}

/// `scriptd ARGS` acting on `storage` and talking to the server of `listen`.
fn at(storage: &Path, listen: &str, args: &[&str]) -> Command {
    let mut all = vec![
        "--storage",
        storage.to_str().expect("utf-8 path"),
        "--listen",
        listen,
    ];
    all.extend(args);
    bare(&all)
}

#[actix_web::test]
async fn client_commands_go_to_the_configured_listen_address_with_the_key_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = dir.path().join("data");
    let served = Served::start(&storage, "127.0.0.1:0").await;
    let config = dir.path().join("scriptd.toml");
    std::fs::write(&config, format!("listen = \"{}\"\n", served.listen)).expect("config");

    // No --url: --listen, SCRIPTD_LISTEN and the config file all name the server.
    let by_flag = output(at(&storage, &served.listen, &["status"])).await;
    let mut env = bare(&["--storage", storage.to_str().expect("path"), "status"]);
    env.env("SCRIPTD_LISTEN", &served.listen);
    let by_env = output(env).await;
    let by_config = output(bare(&[
        "--storage",
        storage.to_str().expect("path"),
        "--config",
        config.to_str().expect("path"),
        "status",
    ]))
    .await;
    // --url host:port means http://host:port.
    let bare_url = output(bare(&[
        "--storage",
        storage.to_str().expect("path"),
        "status",
        "--url",
        &served.listen,
    ]))
    .await;
    // The running server's record wins over a configured port 0.
    let recorded = output(at(&storage, "127.0.0.1:0", &["status"])).await;
    let dashboard = format!("dashboard: http://{}/ui", served.listen);
    let named = served.log.borrow().contains(&dashboard);
    served.stop().await;
    // Stopped, its record is gone: port 0 names no server, nothing is sent.
    let free_port = output(at(&storage, "127.0.0.1:0", &["status"])).await;

    for out in [&by_flag, &by_env, &by_config, &bare_url, &recorded] {
        assert_eq!(out.code(), 0, "{out}");
        assert_eq!(out.stdout.trim(), "nothing queued or running", "{out}");
    }
    assert!(named, "serve names its dashboard: {dashboard}");
    assert!(
        !storage.join("server.json").exists(),
        "removed on a clean stop"
    );
    one_line_error(&free_port, "no server address");
}

#[actix_web::test]
async fn serve_says_how_it_tracks_processes_in_one_short_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = Served::start(&dir.path().join("data"), "127.0.0.1:0").await;
    let log = served.log();
    served.stop().await;

    let lines: Vec<&str> = log.lines().filter(|l| l.contains("processes: ")).collect();
    assert_eq!(lines.len(), 1, "one line: {log}");
    let notice = lines[0].split("processes: ").nth(1).unwrap_or_default();
    assert!(
        notice.starts_with("cgroup v2 per run under /")
            || notice.starts_with("process groups (no cgroup: "),
        "{notice}"
    );
    assert!(notice.len() < 160, "short: {notice}");
}

#[actix_web::test]
async fn serve_on_a_busy_port_creates_no_storage() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let listen = busy.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = dir.path().join("new-storage");

    let out = output(bare(&[
        "serve",
        "--storage",
        storage.to_str().expect("path"),
        "--listen",
        &listen,
    ]))
    .await;

    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stderr.contains(&format!("cannot listen on {listen}")),
        "{out}"
    );
    assert!(!storage.exists(), "no storage, no admin user: {out}");
}

#[actix_web::test]
async fn the_first_run_key_is_logged_only_as_its_file_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = dir.path().join("data");

    let served = Served::start(&storage, "127.0.0.1:0").await;
    let key = key_of(&storage);
    let log = served.log();
    served.stop().await;

    assert!(!log.contains(&key), "the key never reaches a log: {log}");
    assert!(
        log.contains(&storage.join("admin.key").display().to_string()),
        "{log}"
    );
}

#[actix_web::test]
async fn the_first_run_key_is_shown_on_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_scriptd");
    // `timeout` bounds the server should the pseudo-terminal outlive the test.
    let line = format!(
        "timeout 60 '{bin}' serve --storage '{}' --listen 127.0.0.1:0",
        storage.display()
    );
    let mut command = Command::new("script");
    command
        .args(["-qfec", &line, "/dev/null"])
        .envs(crate::backend::database_env(&storage))
        .env("NO_COLOR", "1")
        .env_remove("SCRIPTD_LISTEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .expect("`script` (util-linux: Debian bsdutils) is installed");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut drawn = Vec::new();

    // The key is printed once the server is built, after `listening on`.
    let key_line = |drawn: &[u8]| {
        let screen = String::from_utf8_lossy(drawn);
        screen
            .split("admin API key: ")
            .nth(1)
            .is_some_and(|rest| rest.contains('\n'))
    };
    let listening = async {
        let mut chunk = [0u8; 4096];
        while !key_line(&drawn) {
            let n = stdout.read(&mut chunk).await.expect("read pty copy");
            assert!(n > 0, "ended early: {}", String::from_utf8_lossy(&drawn));
            drawn.extend_from_slice(&chunk[..n]);
        }
    };
    actix_rt::time::timeout(DEADLINE, listening)
        .await
        .unwrap_or_else(|_| panic!("no key line: {:?}", String::from_utf8_lossy(&drawn)));
    let _ = child.kill().await;

    let screen = String::from_utf8_lossy(&drawn);
    let key = key_of(&storage);
    assert!(
        screen.contains(&format!("admin API key: {key}")),
        "{screen:?}"
    );
}

#[actix_web::test]
async fn admin_commands_refuse_a_storage_without_a_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let typo = dir.path().join("typo");
    let storage = typo.to_str().expect("path");

    for args in [
        vec!["user", "list"],
        vec!["user", "add", "alice"],
        vec!["admin", "rebuild"],
        vec!["admin", "prune", "--before", "-30d"],
    ] {
        let mut all = vec!["--storage", storage];
        all.extend(&args);
        let out = output(bare(&all)).await;
        assert_eq!(out.code(), 1, "{args:?}: {out}");
        assert!(
            out.stderr.contains("no scriptd storage in"),
            "{args:?}: {out}"
        );
        assert!(!typo.exists(), "{args:?} created {storage}");
    }
    let json = output(bare(&["--storage", storage, "user", "list", "--json"])).await;
    assert_eq!(json.code(), 1, "{json}");
    assert_eq!(json.json()["errorcode"], "no_storage", "{json}");
}

#[actix_web::test]
async fn rotating_the_admin_key_updates_the_key_file_and_a_stale_file_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = dir.path().join("data");
    let served = Served::start(&storage, "127.0.0.1:0").await;
    let key_file = storage.join("admin.key");
    let old = key_of(&storage);

    let rotated = output(at(
        &storage,
        &served.listen,
        &["user", "rotate-key", "admin"],
    ))
    .await;
    let new = key_of(&storage);
    let works = output(at(&storage, &served.listen, &["status"])).await;
    std::fs::write(&key_file, format!("{old}\n")).expect("stale key");
    let stale = output(at(&storage, &served.listen, &["status"])).await;
    served.stop().await;

    assert_eq!(rotated.code(), 0, "{rotated}");
    assert_ne!(old, new, "{rotated}");
    assert!(rotated.stdout.contains(&new), "{rotated}");
    assert!(
        rotated.stdout.contains("admin.key now holds the new key"),
        "{rotated}"
    );
    assert_eq!(works.code(), 0, "{works}");
    one_line_error(&stale, &format!("read from {}", key_file.display()));
}

#[actix_web::test]
async fn malformed_exectab_lines_are_logged_once_per_change_of_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = dir.path().join("data");
    let served = Served::start(&storage, "127.0.0.1:0").await;
    let exectab = storage.join("1").join("scripts").join("exectab.txt");
    let warned = |log: &str, what: &str| log.lines().filter(|l| l.contains(what)).count();

    std::fs::write(&exectab, "ok /bin/true\n-x=1 broken /bin/true\n").expect("exectab");
    for _ in 0..3 {
        let out = output(at(&storage, &served.listen, &["run", "ok"])).await;
        assert_eq!(out.code(), 0, "{out}");
    }
    let once = served.log();
    std::fs::write(&exectab, "ok /bin/true\n\n-q broken /bin/true\n").expect("edit");
    let out = output(at(&storage, &served.listen, &["run", "ok"])).await;
    assert_eq!(out.code(), 0, "{out}");
    let changed = eventually("the edit is logged", || {
        let log = served.log();
        (warned(&log, "-q'") == 1).then_some(log)
    })
    .await;
    served.stop().await;

    assert_eq!(warned(&once, "-x=1'"), 1, "{once}");
    assert_eq!(warned(&changed, "-x=1'"), 1, "not again: {changed}");
}

#[actix_web::test]
async fn monitor_reconnects_when_the_server_restarts_and_misses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: PathBuf = dir.path().join("data");
    let served = Served::start(&storage, "127.0.0.1:0").await;
    let listen = served.listen.clone();
    std::fs::write(
        storage.join("1").join("scripts").join("exectab.txt"),
        "ok /bin/true\n",
    )
    .expect("exectab");
    let mut monitor = Running::start(at(&storage, &listen, &["monitor", "ok"]));
    let stderr = monitor.child.stderr.take().expect("piped stderr");
    let mut notes = BufReader::new(stderr).lines();
    let subscribed = actix_rt::time::timeout(DEADLINE, notes.next_line()).await;
    assert!(subscribed.is_ok(), "monitor subscribes");

    let first = output(at(&storage, &listen, &["run", "ok"])).await;
    monitor
        .line_with(&format!("{} done", first.stdout.trim()))
        .await;
    served.stop().await;
    let again = Served::start(&storage, &listen).await;
    let second = output(at(&storage, &listen, &["run", "ok"])).await;

    let seen = monitor
        .line_with(&format!("{} done", second.stdout.trim()))
        .await;
    let _ = monitor.child.kill().await;
    again.stop().await;
    assert!(seen.contains("success"), "{seen}");
    let mut rest = String::new();
    while let Ok(Ok(Some(line))) =
        actix_rt::time::timeout(std::time::Duration::from_millis(200), notes.next_line()).await
    {
        rest.push_str(&line);
    }
    assert!(rest.contains("reconnecting"), "{rest}");
}

#[actix_web::test]
async fn run_wait_outlives_a_server_restart_and_exits_75_for_the_interrupted_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: PathBuf = dir.path().join("data");
    let served = Served::start(&storage, "127.0.0.1:0").await;
    let listen = served.listen.clone();
    std::fs::write(
        storage.join("1").join("scripts").join("exectab.txt"),
        "sleeper /bin/sleep 30\n",
    )
    .expect("exectab");
    let mut waiting = Running::start(at(&storage, &listen, &["run", "sleeper", "--wait"]));
    waiting.line_with("started").await;

    served.stop().await;
    let again = Served::start(&storage, &listen).await;
    let out = waiting.finish().await;
    again.stop().await;

    assert_eq!(out.code(), 75, "{out}");
    assert!(out.stdout.contains("done: interrupted"), "{out}");
}
