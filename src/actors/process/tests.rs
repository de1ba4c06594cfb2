//! Spawn and exit tests with real processes: exit status and rusage, stdin,
//! environment, working directory, spawn errors, literal argv, process-group
//! kill and many concurrent children. Output reading lives in `output_tests`,
//! user/group switching and the parent-death signal in `identity_tests`.

use std::path::PathBuf;

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::time::timeout;

use super::test_support::{is_dead, pgrp_of, req, run, run_with, wait_dead, DEADLINE};
use super::*;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "scriptd-process-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
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
