//! Running scriptd as a service: the real `scriptd serve` binary as a
//! child, its log lines (JSON and plain text into a file), the systemd
//! notify protocol on a socket the test binds, and the generated
//! completions, man page and version.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::CommandFactory;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use scriptd::events::types::Outcome;

use crate::helpers::server::ServerSpec;
use crate::helpers::{eventually, settles, Api, Scheme, DEADLINE};

const EXECTAB: &str = "three /bin/sh -c \"echo working; exit 3\"\nenv /usr/bin/env\n";

/// `scriptd serve` on a fresh storage, port 0, with no inherited
/// `SCRIPTD_*`, `RUST_LOG` or `NO_COLOR`.
fn serve(storage: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scriptd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SCRIPTD_") || name == "RUST_LOG" || name == "NO_COLOR" {
            command.env_remove(name);
        }
    }
    command
        .args(ServerSpec::new(storage, Scheme::Plain).serve_args(extra))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Collects a child's stderr lines in the background.
fn collect(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let stderr = child.stderr.take().expect("piped stderr");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("lines").push(line);
        }
    });
    lines
}

/// The port in a `listening on http://127.0.0.1:PORT` line.
fn port_in(text: &str) -> Option<u16> {
    let (_, rest) = text.split_once("listening on http://127.0.0.1:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A client with the first-run admin key, and the admin's exectab written.
fn admin(storage: &Path, port: u16) -> Api {
    let key = std::fs::read_to_string(storage.join("admin.key")).expect("admin.key");
    std::fs::write(storage.join("1/scripts/exectab.txt"), EXECTAB).expect("exectab");
    Api::new(port, key.trim().to_owned())
}

/// SIGTERM, then waits (polling, within the deadline) for the exit.
async fn stop(child: &mut Child) {
    signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let mut status = None;
    if !settles(|| {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    })
    .await
    {
        let _ = child.kill();
        panic!("scriptd did not stop after SIGTERM");
    }
    let status = status.expect("exited");
    assert!(status.success(), "graceful stop exits 0: {status:?}");
}

/// The JSON line for `run` with this message.
fn run_line(lines: &[Value], run: &str, message: &str) -> Option<Value> {
    lines
        .iter()
        .find(|l| l["message"] == message && l["run"] == run)
        .cloned()
}

#[actix_web::test]
async fn json_logs_parse_and_carry_one_start_and_one_end_line_per_run() {
    let storage = tempfile::tempdir().expect("dir");
    let mut child = serve(storage.path(), &["--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("scriptd starts");
    let lines = collect(&mut child);
    let port = eventually("listening line", || {
        lines.lock().expect("lines").iter().find_map(|l| port_in(l))
    })
    .await;
    let api = admin(storage.path(), port);

    let id = api.run(json!({"name": "three"})).await;
    assert_eq!(api.wait_done(&id).await.outcome, Outcome::Failed);
    let parsed = eventually("the run's end line", || {
        let parsed: Vec<Value> = lines
            .lock()
            .expect("lines")
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        run_line(&parsed, &id, "run ended").map(|_| parsed)
    })
    .await;
    stop(&mut child).await;

    let started = run_line(&parsed, &id, "run started").expect("a start line");
    let ended = run_line(&parsed, &id, "run ended").expect("an end line");
    for line in [&started, &ended] {
        assert_eq!(line["target"], "scriptd::run", "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["user"], 1, "{line}");
        assert_eq!(line["script"], "three", "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
    }
    assert_eq!(ended["outcome"], "failed", "{ended}");
    assert_eq!(ended["exit_code"], 3, "{ended}");
    assert!(
        ended["duration"].as_f64().is_some_and(|d| d >= 0.0),
        "{ended}"
    );
    let count = |message: &str| {
        parsed
            .iter()
            .filter(|l| l["message"] == message && l["run"] == id.as_str())
            .count()
    };
    assert_eq!((count("run started"), count("run ended")), (1, 1));
}

#[actix_web::test]
async fn text_logs_written_to_a_file_have_no_escape_bytes() {
    let storage = tempfile::tempdir().expect("dir");
    let log_path = storage.path().join("serve.log");
    let log = File::create(&log_path).expect("log file");
    let mut child = serve(storage.path(), &[])
        .stderr(log)
        .spawn()
        .expect("scriptd starts");
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let port = eventually("listening line", || port_in(&read())).await;
    let api = admin(storage.path(), port);
    let id = api.run(json!({"name": "three"})).await;
    api.wait_done(&id).await;
    eventually("the run's end line", || {
        read()
            .lines()
            .any(|l| l.contains("run ended") && l.contains(&id))
            .then_some(())
    })
    .await;
    stop(&mut child).await;

    let bytes = std::fs::read(&log_path).expect("log");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !bytes.contains(&0x1b),
        "no ANSI escapes in a log file:\n{text}"
    );
    assert!(
        text.contains("outcome=\"failed\"") || text.contains("outcome=failed"),
        "{text}"
    );
}

/// Receives notify datagrams until one satisfies `until`; returns them all.
fn receive_until(socket: &UnixDatagram, until: impl Fn(&str) -> bool) -> Vec<String> {
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < DEADLINE {
        match socket.recv(&mut buf) {
            Ok(n) => {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = until(&message);
                seen.push(message);
                if done {
                    return seen;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {}
            Err(err) => panic!("recv: {err}"),
        }
    }
    panic!("timed out; notifications so far: {seen:?}");
}

#[actix_web::test]
async fn notify_socket_gets_ready_then_watchdog_pings_then_stopping() {
    let storage = tempfile::tempdir().expect("dir");
    let path = storage.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut child = serve(storage.path(), &[])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "300000")
        .stderr(Stdio::null())
        .spawn()
        .expect("scriptd starts");

    // This thread only runs the test: the server is the child.
    let first = receive_until(&socket, |m| m.contains("READY=1"));
    assert_eq!(first.len(), 1, "READY=1 comes first: {first:?}");
    let status = first[0]
        .lines()
        .find_map(|l| l.strip_prefix("STATUS=listening on port "))
        .expect("a STATUS with the port");
    let port: u16 = status.parse().expect("port");
    // READY means listening: a request succeeds at once.
    let (code, _) = Api::new(port, String::new()).get("/healthz").await;
    assert_eq!(code, 200);
    let pings = receive_until(&socket, |m| m == "WATCHDOG=1");
    assert!(pings.iter().all(|m| !m.contains("STOPPING")), "{pings:?}");

    // Scripts do not inherit the notify socket.
    let api = admin(storage.path(), port);
    let id = api.run(json!({"name": "env"})).await;
    api.wait_done(&id).await;
    let (_, log) = api.get(&format!("/scripts/v1/log/{id}")).await;
    let log = log.as_str().expect("log text").to_owned();
    assert!(log.contains("PATH="), "the env script ran: {log}");
    assert!(!log.contains("NOTIFY_SOCKET"), "{log}");
    assert!(!log.contains("WATCHDOG_"), "{log}");

    signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let rest = receive_until(&socket, |m| m.contains("STOPPING=1"));
    assert!(
        rest.iter().all(|m| !m.contains("READY=1")),
        "READY=1 only once: {rest:?}"
    );
    stop(&mut child).await;
}

/// Runs the binary with `args`; returns stdout (it must succeed).
fn output(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_scriptd"))
        .args(args)
        .envs(crate::backend::database_env_for_args(args))
        .env_remove("SCRIPTD_CONFIG")
        .output()
        .expect("scriptd runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn completions_and_man_page_name_every_subcommand() {
    let command = scriptd::cli::Cli::command();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for expected in ["serve", "run", "admin", "completions", "man", "history"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = output(&["completions", shell]);
        assert!(script.len() > 1000, "{shell}: {script}");
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell} completes {name}");
        }
    }
    let man = output(&["man"]);
    assert!(man.starts_with(".ie") || man.contains(".TH"), "roff: {man}");
    for name in &names {
        assert!(
            man.contains(&format!("scriptd\\-{name}")),
            "man lists {name}"
        );
    }
    // --dir: the pages scriptd.1 refers to, one per subcommand.
    let dir = tempfile::tempdir().expect("dir");
    let pages = dir.path().join("man");
    output(&["man", "--dir", pages.to_str().expect("utf-8")]);
    for name in names.iter().filter(|n| *n != "help") {
        let page = std::fs::read_to_string(pages.join(format!("scriptd-{name}.1")))
            .unwrap_or_else(|e| panic!("page of {name}: {e}"));
        assert!(page.contains(".TH"), "{name}: {page}");
    }
    assert!(pages.join("scriptd.1").exists(), "the main page");
}

#[test]
fn version_names_the_release_and_the_commit() {
    let version = output(&["--version"]);
    assert!(
        version.starts_with(&format!("scriptd {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let commit = version
        .trim()
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    // A git checkout names its commit; a tarball build says "unknown"
    // (also when unpacked inside some other repository).
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let canon = |p: &str| std::fs::canonicalize(p).ok();
    let own = git(&["rev-parse", "--show-toplevel"])
        .is_some_and(|top| canon(&top) == canon(env!("CARGO_MANIFEST_DIR")));
    let in_git = git(&["rev-parse", "--short=12", "HEAD"]).filter(|_| own);
    match in_git {
        Some(head) => assert_eq!(commit, head, "{version}"),
        None => assert_eq!(commit, "unknown", "{version}"),
    }
}
