//! Shared scaffolding for the process-layer tests: building requests,
//! running a child to completion with its lines collected, and probing
//! `/proc` for process state. Holds no tests itself.

use std::time::Duration;

use tokio::time::timeout;

use super::*;

/// One deadline for every wait, so a hung child fails the test instead of the run.
pub(super) const DEADLINE: Duration = Duration::from_secs(30);

pub(super) fn req(cmd: &[&str]) -> SpawnRequest {
    SpawnRequest {
        command: cmd.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub(super) struct Run {
    pub(super) exit: ExitInfo,
    pub(super) lines: Vec<(Stream, Vec<u8>)>,
    pub(super) summary: ReadSummary,
    pub(super) spawned_user: Option<String>,
    pub(super) spawned_group: Option<String>,
}

impl Run {
    pub(super) fn stdout(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(s, _)| *s == Stream::Stdout)
            .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
            .collect()
    }
}

/// Spawns, reads all lines (drain = process exit), reaps.
pub(super) async fn run_with(r: SpawnRequest, max_line: usize) -> Run {
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

pub(super) async fn run(cmd: &[&str]) -> Run {
    run_with(req(cmd), 4096).await
}

/// True if `pid` no longer exists or is a zombie.
pub(super) fn is_dead(pid: i32) -> bool {
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

pub(super) fn pgrp_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after ")": state ppid pgrp
    s.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

pub(super) async fn wait_dead(pid: i32) {
    timeout(DEADLINE, async {
        while !is_dead(pid) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("process {pid} still alive"));
}
