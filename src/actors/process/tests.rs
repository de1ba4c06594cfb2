//! Integration-style tests with real processes.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::{Gid, Group, User};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::time::timeout;

use super::*;

const DEADLINE: Duration = Duration::from_secs(30);
const HELPER_ENV: &str = "PROCESS_TEST_HELPER";
const HELPER_USER_ENV: &str = "PROCESS_TEST_HELPER_USER";

fn req(cmd: &[&str]) -> SpawnRequest {
    SpawnRequest {
        command: cmd.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

struct Run {
    exit: ExitInfo,
    lines: Vec<(Stream, Vec<u8>)>,
    summary: ReadSummary,
    spawned_user: Option<String>,
    spawned_group: Option<String>,
}

impl Run {
    fn stdout(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(s, _)| *s == Stream::Stdout)
            .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
            .collect()
    }
}

/// Spawns, reads all lines (drain = process exit), reaps.
async fn run_with(r: SpawnRequest, max_line: usize) -> Run {
    timeout(DEADLINE, async move {
        let sp = spawn(r).await.expect("spawn");
        let pid = sp.pid;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let waiter = tokio::spawn(async move {
            let r = wait_exit(pid).await;
            let _ = tx.send(());
            r
        });
        let mut lines = Vec::new();
        let summary = read_lines(
            sp.stdout,
            sp.stderr,
            max_line,
            |s, l| lines.push((s, l.to_vec())),
            async {
                let _ = rx.await;
            },
        )
        .await;
        let exit = waiter.await.expect("join").expect("wait_exit");
        Run {
            exit,
            lines,
            summary,
            spawned_user: sp.resolved_user,
            spawned_group: sp.resolved_group,
        }
    })
    .await
    .expect("test deadline")
}

async fn run(cmd: &[&str]) -> Run {
    run_with(req(cmd), 4096).await
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "scriptd-process-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// True if `pid` no longer exists or is a zombie.
fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => {
            let state = s
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            matches!(state, Some("Z") | Some("X") | None)
        }
    }
}

fn pgrp_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after ")": state ppid pgrp
    s.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

async fn wait_dead(pid: i32) {
    timeout(DEADLINE, async {
        while !is_dead(pid) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("process {pid} still alive"));
}

/// Prints a loud skip notice straight to fd 2, bypassing libtest's output capture.
fn skip(why: &str) {
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {why}");
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[tokio::test]
async fn exit_code() {
    let r = run(&["sh", "-c", "exit 3"]).await;
    assert_eq!(r.exit.status, ExitStatusKind::Exited(3));
    assert!(r.summary.stdout_eof && r.summary.stderr_eof);
}

#[tokio::test]
async fn killed_by_signal() {
    let r = run(&["sh", "-c", "kill -9 $$"]).await;
    assert_eq!(r.exit.status, ExitStatusKind::Signalled(9));
}

#[tokio::test]
async fn rusage_busy_loop() {
    let r = run(&[
        "sh",
        "-c",
        "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
    ])
    .await;
    assert_eq!(r.exit.status, ExitStatusKind::Exited(0));
    assert!(r.exit.cpu_user > 0.0, "cpu_user = {}", r.exit.cpu_user);
    assert!(r.exit.max_rss_kb > 0, "max_rss_kb = {}", r.exit.max_rss_kb);
    assert!(r.exit.cpu_system >= 0.0);
}

#[tokio::test]
async fn stdin_passthrough_1mib() {
    let data: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut r = req(&["cat"]);
    r.stdin = Some(data.clone());
    let sp = spawn(r).await.expect("spawn");
    let mut out = Vec::new();
    let mut stdout = sp.stdout;
    timeout(DEADLINE, stdout.read_to_end(&mut out))
        .await
        .expect("deadline")
        .expect("read");
    let exit = timeout(DEADLINE, wait_exit(sp.pid))
        .await
        .expect("deadline")
        .expect("wait");
    assert_eq!(exit.status, ExitStatusKind::Exited(0));
    assert_eq!(out.len(), data.len());
    assert!(out == data, "stdin bytes differ");
}

#[tokio::test]
async fn stdin_none_is_dev_null() {
    let r = run(&["sh", "-c", "readlink /proc/self/fd/0; cat; echo end"]).await;
    assert_eq!(r.stdout(), vec!["/dev/null".to_string(), "end".to_string()]);
}

#[tokio::test]
async fn env_added_and_prefix_removed() {
    // Only this test touches these variables.
    std::env::set_var("SCRIPTD_TEST_SECRET", "hidden");
    std::env::set_var("PROCESSTEST_KEEP", "kept");
    let mut r = req(&["env"]);
    r.env = vec![
        ("ADDED_VAR".into(), "value with spaces $HOME".into()),
        ("SCRIPTD_EXPLICIT".into(), "explicit".into()),
    ];
    r.env_remove_prefix = Some("SCRIPTD_".into());
    let out = run_with(r, 65536).await.stdout();
    assert!(
        out.contains(&"ADDED_VAR=value with spaces $HOME".to_string()),
        "{out:?}"
    );
    assert!(out.contains(&"PROCESSTEST_KEEP=kept".to_string()));
    assert!(out.contains(&"SCRIPTD_EXPLICIT=explicit".to_string()));
    assert!(
        !out.iter().any(|l| l.starts_with("SCRIPTD_TEST_SECRET")),
        "{out:?}"
    );
    assert!(out.iter().any(|l| l.starts_with("PATH=")));
}

#[tokio::test]
async fn working_dir() {
    let d = temp_dir("dir");
    let mut r = req(&["pwd"]);
    r.dir = Some(d.clone());
    let out = run_with(r, 4096).await.stdout();
    assert_eq!(out, vec![d.display().to_string()]);
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn missing_dir() {
    let mut r = req(&["true"]);
    r.dir = Some("/nonexistent/scriptd-dir".into());
    let err = spawn(r).await.expect_err("must fail");
    assert!(matches!(err, SpawnError::MissingDir { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "working directory does not exist: /nonexistent/scriptd-dir"
    );
}

#[tokio::test]
async fn missing_executable() {
    let err = spawn(req(&["scriptd-no-such-program-xyz"]))
        .await
        .expect_err("must fail");
    match &err {
        SpawnError::NotFound { path } => assert_eq!(path, "scriptd-no-such-program-xyz"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "executable not found: scriptd-no-such-program-xyz"
    );
    let err = spawn(req(&["/nonexistent/bin/x"]))
        .await
        .expect_err("must fail");
    assert!(matches!(err, SpawnError::NotFound { ref path } if path == "/nonexistent/bin/x"));
}

#[tokio::test]
async fn empty_and_invalid_command() {
    assert!(matches!(
        spawn(req(&[])).await,
        Err(SpawnError::EmptyCommand)
    ));
    assert!(matches!(
        spawn(req(&["echo", "a\0b"])).await,
        Err(SpawnError::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn hostile_argv_is_literal() {
    let d = temp_dir("hostile");
    let p = d.display().to_string();
    let hostile = vec![
        format!("$(touch {p}/x1)"),
        format!("; touch {p}/x2"),
        format!("`touch {p}/x3`"),
        format!("a\nb && touch {p}/x4"),
        format!("'\"quoted\"' | touch {p}/x5"),
        "*".to_string(),
        "$HOME".to_string(),
        String::new(),
        "; touch F".to_string(),
    ];
    let mut cmd = vec!["printf".to_string(), "%s\\n".to_string()];
    cmd.extend(hostile.iter().cloned());
    let r = SpawnRequest {
        command: cmd,
        dir: Some(d.clone()),
        ..Default::default()
    };
    let sp = spawn(r).await.expect("spawn");
    let mut out = Vec::new();
    let mut so = sp.stdout;
    timeout(DEADLINE, so.read_to_end(&mut out))
        .await
        .expect("deadline")
        .expect("read");
    let exit = wait_exit(sp.pid).await.expect("wait");
    assert_eq!(exit.status, ExitStatusKind::Exited(0));
    let expected: String = hostile.iter().map(|a| format!("{a}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out), expected);
    let created: Vec<_> = std::fs::read_dir(&d).expect("readdir").collect();
    assert!(created.is_empty(), "files were created: {created:?}");
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn process_group_kill_reaches_grandchild() {
    timeout(DEADLINE, async {
        let sp = spawn(req(&["sh", "-c", "sleep 1000 & echo $!; wait"]))
            .await
            .expect("spawn");
        let pid = sp.pid as i32;
        assert_eq!(pgrp_of(pid), Some(pid), "child must lead its own group");
        let mut lines = BufReader::new(sp.stdout).lines();
        let gpid: i32 = lines
            .next_line()
            .await
            .expect("read")
            .expect("line")
            .parse()
            .expect("pid");
        assert_eq!(pgrp_of(gpid), Some(pid), "grandchild must be in the group");
        assert!(!is_dead(gpid));
        signal_group(sp.pid, Signal::SIGKILL).expect("killpg");
        let exit = wait_exit(sp.pid).await.expect("wait");
        assert_eq!(exit.status, ExitStatusKind::Signalled(9));
        wait_dead(gpid).await;
        // Group is gone now: ESRCH is Ok.
        signal_group(sp.pid, Signal::SIGKILL).expect("killpg on dead group");
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn signal_group_rejects_dangerous_ids() {
    assert_eq!(
        signal_group(0, Signal::SIGTERM),
        Err(nix::errno::Errno::EINVAL)
    );
    assert_eq!(
        signal_group(1, Signal::SIGTERM),
        Err(nix::errno::Errno::EINVAL)
    );
    assert_eq!(
        signal_group(u32::MAX, Signal::SIGTERM),
        Err(nix::errno::Errno::EINVAL)
    );
}

#[tokio::test]
async fn grandchild_holding_stdout_does_not_block_reader() {
    let sp = spawn(req(&["sh", "-c", "sleep 30 & echo done"]))
        .await
        .expect("spawn");
    let pid = sp.pid;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        let r = wait_exit(pid).await;
        let _ = tx.send(Instant::now());
        r
    });
    let mut lines = Vec::new();
    let reader = OutputReader::new(1024).with_grace(Duration::from_millis(200));
    let exited_at = std::sync::Mutex::new(None);
    let summary = timeout(
        Duration::from_secs(10),
        reader.run(
            sp.stdout,
            sp.stderr,
            |s, l| lines.push((s, l.to_vec())),
            async {
                if let Ok(t) = rx.await {
                    *exited_at.lock().expect("lock") = Some(t);
                }
            },
        ),
    )
    .await
    .expect("reader must return shortly after exit");
    let returned_at = Instant::now();
    let exit = waiter.await.expect("join").expect("wait");
    assert_eq!(exit.status, ExitStatusKind::Exited(0));
    assert_eq!(lines, vec![(Stream::Stdout, b"done".to_vec())]);
    assert!(!summary.stdout_eof, "grandchild still holds stdout");
    let exited_at = exited_at.lock().expect("lock").expect("drain ran");
    let lag = returned_at - exited_at;
    assert!(
        lag >= Duration::from_millis(150) && lag < Duration::from_secs(5),
        "lag {lag:?}"
    );
    // Clean up the sleeping grandchild (same process group).
    signal_group(pid, Signal::SIGKILL).expect("killpg");
}

#[tokio::test]
async fn long_line_truncated() {
    let mut data = vec![b'a'; 1 << 20];
    data.extend_from_slice(b"\nshort");
    let mut r = req(&["cat"]);
    r.stdin = Some(data);
    let run = run_with(r, 1000).await;
    assert_eq!(run.lines.len(), 2);
    assert_eq!(run.lines[0], (Stream::Stdout, vec![b'a'; 1000]));
    assert_eq!(run.lines[1], (Stream::Stdout, b"short".to_vec()));
    assert_eq!(run.summary.truncated_lines, 1);

    // A 1 MB line with no newline at all, on stderr.
    let run = run_with(
        req(&["sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' b >&2"]),
        1000,
    )
    .await;
    assert_eq!(run.lines, vec![(Stream::Stderr, vec![b'b'; 1000])]);
}

#[tokio::test]
async fn many_short_lines_in_order() {
    let start = Instant::now();
    let run = run_with(req(&["seq", "1", "100000"]), 64).await;
    let elapsed = start.elapsed();
    assert_eq!(run.exit.status, ExitStatusKind::Exited(0));
    assert_eq!(run.lines.len(), 100_000);
    for (i, (s, l)) in run.lines.iter().enumerate() {
        assert_eq!(*s, Stream::Stdout);
        assert_eq!(l, (i + 1).to_string().as_bytes());
    }
    assert_eq!(run.summary.stdout_lines, 100_000);
    eprintln!("100k lines in {elapsed:?}");
}

#[tokio::test]
async fn interleaved_stdout_stderr() {
    let run = run(&[
        "sh",
        "-c",
        "echo out1; echo err1 >&2; printf 'out2'; printf 'err2' >&2",
    ])
    .await;
    let out: Vec<_> = run
        .lines
        .iter()
        .filter(|(s, _)| *s == Stream::Stdout)
        .map(|(_, l)| l.clone())
        .collect();
    let err: Vec<_> = run
        .lines
        .iter()
        .filter(|(s, _)| *s == Stream::Stderr)
        .map(|(_, l)| l.clone())
        .collect();
    assert_eq!(out, vec![b"out1".to_vec(), b"out2".to_vec()]);
    assert_eq!(err, vec![b"err1".to_vec(), b"err2".to_vec()]);
}

#[tokio::test]
async fn thousand_concurrent_children_without_threads() {
    // Current-thread runtime: every wait is a pidfd in the reactor, not a thread.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let sp = spawn(req(&["sleep", "0.3"])).await.expect("spawn");
        let pid = sp.pid;
        drop(sp);
        set.spawn(async move { wait_exit(pid).await });
    }
    let threads = std::fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find_map(|l| {
            l.strip_prefix("Threads:")
                .map(|v| v.trim().parse::<u32>().unwrap_or(0))
        })
        .unwrap_or(0);
    assert!(threads < 200, "{threads} threads for 1000 children");
    let mut n = 0;
    while let Some(r) = timeout(DEADLINE, set.join_next()).await.expect("deadline") {
        assert_eq!(
            r.expect("join").expect("wait").status,
            ExitStatusKind::Exited(0)
        );
        n += 1;
    }
    assert_eq!(n, 1000);
}

#[tokio::test]
async fn unknown_user_and_group() {
    let mut r = req(&["true"]);
    r.user = Some("scriptd-no-such-user".into());
    let err = spawn(r).await.expect_err("must fail");
    assert!(
        matches!(err, SpawnError::UnknownUser(ref u) if u == "scriptd-no-such-user"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "unknown user \"scriptd-no-such-user\"");
    let mut r = req(&["true"]);
    r.group = Some("scriptd-no-such-group".into());
    let err = spawn(r).await.expect_err("must fail");
    assert!(matches!(err, SpawnError::UnknownGroup(_)), "{err:?}");
}

fn id_lines(run: &Run) -> (u32, u32, Vec<u32>, String, String) {
    let out = run.stdout();
    assert_eq!(out.len(), 5, "{out:?} / {:?}", run.lines);
    let uid = out[0].parse().expect("uid");
    let gid = out[1].parse().expect("gid");
    let mut groups: Vec<u32> = out[2]
        .split_whitespace()
        .map(|g| g.parse().expect("gid"))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    (uid, gid, groups, out[3].clone(), out[4].clone())
}

const ID_SCRIPT: &str =
    "id -u; id -g; id -G; grep ^Uid: /proc/self/status; grep ^Gid: /proc/self/status";

fn all_ids(line: &str, prefix: &str, want: u32) {
    let ids: Vec<u32> = line
        .strip_prefix(prefix)
        .expect("prefix")
        .split_whitespace()
        .map(|v| v.parse().expect("id"))
        .collect();
    assert_eq!(
        ids,
        vec![want; 4],
        "{line}: real, effective, saved and fs ids must all be {want}"
    );
}

#[tokio::test]
async fn run_as_nobody() {
    if !is_root() {
        skip("not root (run_as_nobody)");
        return;
    }
    let nobody = User::from_name("nobody")
        .expect("lookup")
        .expect("nobody exists");
    let cname = std::ffi::CString::new("nobody").expect("cstring");
    let mut want_groups: Vec<u32> = nix::unistd::getgrouplist(&cname, nobody.gid)
        .expect("grouplist")
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    want_groups.sort_unstable();
    want_groups.dedup();
    let mut r = req(&["sh", "-c", ID_SCRIPT]);
    r.user = Some("nobody".into());
    r.dir = Some("/".into());
    let run = run_with(r, 4096).await;
    assert_eq!(run.exit.status, ExitStatusKind::Exited(0));
    let (uid, gid, groups, uid_line, gid_line) = id_lines(&run);
    assert_eq!(uid, nobody.uid.as_raw());
    assert_eq!(gid, nobody.gid.as_raw());
    assert_eq!(groups, want_groups);
    all_ids(&uid_line, "Uid:", nobody.uid.as_raw());
    all_ids(&gid_line, "Gid:", nobody.gid.as_raw());
    assert_eq!(run.spawned_user.as_deref(), Some("nobody"));
    let primary = Group::from_gid(nobody.gid).expect("lookup").map(|g| g.name);
    assert_eq!(
        run.spawned_group,
        Some(primary.unwrap_or_else(|| nobody.gid.to_string()))
    );
}

fn other_group() -> Option<Group> {
    // Any group other than root's and nobody's primary group.
    ["daemon", "bin", "sys", "adm"]
        .iter()
        .find_map(|n| Group::from_name(n).ok().flatten())
}

#[tokio::test]
async fn run_with_group_only() {
    if !is_root() {
        skip("not root (run_with_group_only)");
        return;
    }
    let Some(g) = other_group() else {
        skip("no suitable group");
        return;
    };
    let mut r = req(&["sh", "-c", ID_SCRIPT]);
    r.group = Some(g.name.clone());
    r.dir = Some("/".into());
    let run = run_with(r, 4096).await;
    let (uid, gid, groups, uid_line, gid_line) = id_lines(&run);
    assert_eq!(uid, 0, "uid unchanged");
    all_ids(&uid_line, "Uid:", 0);
    assert_eq!(gid, g.gid.as_raw());
    all_ids(&gid_line, "Gid:", g.gid.as_raw());
    assert_eq!(groups, vec![g.gid.as_raw()]);
    assert_eq!(run.spawned_user, None);
    assert_eq!(run.spawned_group.as_deref(), Some(g.name.as_str()));
}

#[tokio::test]
async fn run_with_user_and_group() {
    if !is_root() {
        skip("not root (run_with_user_and_group)");
        return;
    }
    let Some(g) = other_group() else {
        skip("no suitable group");
        return;
    };
    let nobody = User::from_name("nobody")
        .expect("lookup")
        .expect("nobody exists");
    let cname = std::ffi::CString::new("nobody").expect("cstring");
    let mut want: Vec<u32> = nix::unistd::getgrouplist(&cname, nobody.gid)
        .expect("grouplist")
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    want.push(g.gid.as_raw());
    want.sort_unstable();
    want.dedup();
    let mut r = req(&["sh", "-c", ID_SCRIPT]);
    r.user = Some("nobody".into());
    r.group = Some(g.name.clone());
    r.dir = Some("/".into());
    let run = run_with(r, 4096).await;
    let (uid, gid, groups, uid_line, gid_line) = id_lines(&run);
    assert_eq!(uid, nobody.uid.as_raw());
    all_ids(&uid_line, "Uid:", nobody.uid.as_raw());
    assert_eq!(gid, g.gid.as_raw());
    all_ids(&gid_line, "Gid:", g.gid.as_raw());
    assert_eq!(groups, want);
}

// ---- Tests that re-run this test binary as an intermediate process. ----

/// libtest name of a test in this module (module path without the crate name),
/// so the helpers keep working when this folder moves to another crate.
fn helper_test_name(helper: &str) -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::{helper}")
}

/// Spawns this test binary running only `helper`, with the helper env var set.
async fn spawn_helper(
    helper: &str,
    mode: &str,
    user: Option<&str>,
    helper_user: Option<&str>,
) -> Spawned {
    let exe = std::env::current_exe().expect("current_exe");
    let mut r = req(&[
        &exe.display().to_string(),
        &helper_test_name(helper),
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ]);
    r.env.push((HELPER_ENV.into(), mode.into()));
    if let Some(u) = helper_user {
        r.env.push((HELPER_USER_ENV.into(), u.into()));
    }
    r.user = user.map(str::to_string);
    r.dir = Some("/".into());
    spawn(r).await.expect("spawn helper")
}

/// Reads the helper's stdout until a line starting with `prefix`.
async fn helper_line(sp: Spawned, prefix: &str) -> (String, ExitInfo, String) {
    let pid = sp.pid;
    let mut found = None;
    let mut all = String::new();
    let _ = read_lines(
        sp.stdout,
        sp.stderr,
        4096,
        |_, l| {
            let l = String::from_utf8_lossy(l).into_owned();
            if found.is_none() {
                // libtest prints "test name ... " without a newline before our output.
                if let Some(i) = l.find(prefix) {
                    found = Some(l[i + prefix.len()..].to_string());
                }
            }
            all.push_str(&l);
            all.push('\n');
        },
        std::future::pending(),
    )
    .await;
    let exit = wait_exit(pid).await.expect("wait helper");
    (found.unwrap_or_default(), exit, all)
}

/// Helper body (inert unless run by `pdeathsig_*`): spawns `sleep 1000`, prints its pid, exits.
#[tokio::test]
async fn helper_pdeathsig_inner() {
    if std::env::var(HELPER_ENV).as_deref() != Ok("pdeathsig") {
        return;
    }
    let mut r = req(&["sleep", "1000"]);
    r.user = std::env::var(HELPER_USER_ENV).ok();
    let sp = spawn(r).await.expect("spawn sleep");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "HELPER-PID {}", sp.pid);
    let _ = out.flush();
    // Die without reaping: the sleeping grandchild must get SIGKILL from PDEATHSIG.
    std::process::exit(0);
}

async fn check_pdeathsig(user: Option<&str>) {
    timeout(DEADLINE, async {
        let sp = spawn_helper("helper_pdeathsig_inner", "pdeathsig", None, user).await;
        let (pid, exit, all) = helper_line(sp, "HELPER-PID ").await;
        assert_eq!(exit.status, ExitStatusKind::Exited(0), "{all}");
        let pid: i32 = pid
            .parse()
            .unwrap_or_else(|_| panic!("no pid from helper: {all}"));
        wait_dead(pid).await;
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn pdeathsig_kills_child_when_parent_dies() {
    check_pdeathsig(None).await;
}

#[tokio::test]
async fn pdeathsig_survives_user_switch() {
    if !is_root() {
        skip("not root (pdeathsig_survives_user_switch)");
        return;
    }
    check_pdeathsig(Some("nobody")).await;
}

/// Helper body (inert unless run by `eperm_message`): as non-root, tries to switch to root.
#[tokio::test]
async fn helper_eperm_inner() {
    if std::env::var(HELPER_ENV).as_deref() != Ok("eperm") {
        return;
    }
    let mut r = req(&["true"]);
    r.user = Some("root".into());
    let msg = match spawn(r).await {
        Ok(_) => "spawned".to_string(),
        Err(e) => format!("{e:?} | {e}"),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "HELPER-ERR {msg}");
    let _ = out.flush();
}

#[tokio::test]
async fn eperm_message() {
    if !is_root() {
        // As non-root we can test it directly.
        let mut r = req(&["true"]);
        r.user = Some("root".into());
        let err = spawn(r).await.expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "cannot switch to user root: Operation not permitted"
        );
        return;
    }
    let sp = timeout(
        DEADLINE,
        spawn_helper("helper_eperm_inner", "eperm", Some("nobody"), None),
    )
    .await
    .expect("deadline");
    let (msg, _exit, all) = timeout(DEADLINE, helper_line(sp, "HELPER-ERR "))
        .await
        .expect("deadline");
    if msg.is_empty() && all.contains("ermission denied") {
        skip(&format!("test binary not executable by nobody: {all}"));
        return;
    }
    assert!(msg.starts_with("SwitchIdentity"), "{all}");
    assert!(
        msg.ends_with("| cannot switch to user root: Operation not permitted"),
        "{all}"
    );
}
