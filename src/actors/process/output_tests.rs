//! Tests of reading a child's stdout/stderr as capped lines: truncation of
//! long lines, many lines in order, stream separation, and a grandchild that
//! keeps stdout open after the child exits.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::time::timeout;

use super::test_support::{req, run, run_with};
use super::*;

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
    let cut = |byte: u8| [vec![byte; 1000], CUT_MARKER.to_vec()].concat();
    assert_eq!(run.lines[0], (Stream::Stdout, cut(b'a')));
    assert_eq!(run.lines[1], (Stream::Stdout, b"short".to_vec()));
    assert_eq!(run.summary.truncated_lines, 1);

    // A 1 MB line with no newline at all, on stderr.
    let run = run_with(
        req(&["sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' b >&2"]),
        1000,
    )
    .await;
    assert_eq!(run.lines, vec![(Stream::Stderr, cut(b'b'))]);
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
