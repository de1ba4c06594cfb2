//! Time from process exit to monitor push, with 1 and 1000 monitors, then
//! the raw loopback fan-out of `fanout.rs` as the floor of the 1000 case.
//!
//! The script is `/bin/date +%s.%N` run directly (no shell): it prints the
//! wall clock and exits at once, so its only output line (the push's
//! `first`) is the exit time to within microseconds. That covers what the
//! record's `finished` field would miss: noticing the exit (SIGCHLD, wait,
//! rusage) and draining the pipes. The push's receive time is taken before
//! parsing. `recv - finished` is printed too, to split the path. Monitors
//! use the bare client of `frame.rs`, so that with 1000 sockets on the
//! same cores the load generator's own decoding does not set the tail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::json;

use crate::fanout;
use crate::frame;
use crate::machine::{raise_nofile, report};
use crate::server::{bytes_body::Body, on_threads, Server, Target};
use crate::stats::{percentile, summary};

const SOCKET_THREADS: usize = 2;

/// The fields of a push this scenario reads (parsing only these keeps the
/// client's share of 1000 sockets small).
#[derive(serde::Deserialize)]
struct Push<'a> {
    #[serde(borrow)]
    state: Option<&'a str>,
    #[serde(borrow)]
    first: Option<&'a str>,
    finished: Option<f64>,
}

fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Opens a monitor of `name` on a bare socket and waits for its reply.
async fn subscribe(target: &Target, name: &str) -> anyhow::Result<frame::Socket> {
    let mut socket = frame::connect(target).await?;
    let request = json!({
        "api_method": "GET", "api_path": "/scripts/v1/monitor",
        "api_sequence": 1, "name": name,
    });
    socket.send_text(&request.to_string()).await?;
    let reply = tokio::time::timeout(Duration::from_secs(30), socket.next_text())
        .await
        .context("monitor reply timed out")??
        .context("socket closed")?;
    let reply: serde_json::Value = serde_json::from_slice(reply)?;
    anyhow::ensure!(reply["enabled"] == true, "monitor refused: {reply}");
    Ok(socket)
}

/// (exit→push, finished→push) samples of one monitor over `runs` runs.
async fn monitor(
    target: Target,
    sockets: usize,
    runs: usize,
    ready: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut conns = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        conns.push(subscribe(&target, "clock").await?);
        ready.fetch_add(1, Ordering::Relaxed);
    }
    let tasks = conns.into_iter().map(|mut socket| {
        let received = received.clone();
        async move {
            let (mut exit, mut finished) = (Vec::new(), Vec::new());
            while exit.len() < runs {
                let next = tokio::time::timeout(Duration::from_secs(30), socket.next_text());
                let Ok(next) = next.await else { break };
                let Some(text) = next? else { break };
                let at = wall();
                let push: Push = serde_json::from_slice(text)?;
                if push.state != Some("done") {
                    continue;
                }
                let printed = push.first.and_then(|s| s.parse::<f64>().ok());
                exit.push(at - printed.unwrap_or(at));
                finished.push(at - push.finished.unwrap_or(at));
                received.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok((exit, finished))
        }
    });
    let (mut exit, mut finished) = (Vec::new(), Vec::new());
    for result in futures_util::future::join_all(tasks).await {
        let (e, f) = result?;
        exit.extend(e);
        finished.extend(f);
    }
    Ok((exit, finished))
}

/// One run at a time: queue it, wait until every monitor got its finish.
async fn drive(
    target: Target,
    monitors: usize,
    runs: usize,
    ready: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    while ready.load(Ordering::Relaxed) < monitors {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let client = target.client(1);
    let body = Body::json(json!({"name": "clock"}));
    for run in 1..=runs {
        target.run(&client, &body).await?;
        let mut waited = 0;
        while received.load(Ordering::Relaxed) < run * monitors && waited < 10_000 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            waited += 1;
        }
        // Idle gap so runs do not overlap: each sample is an unloaded push.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok((Vec::new(), Vec::new()))
}

/// Reports the figures of `runs` runs with `monitors` monitors and returns
/// the exit->push p99 in seconds.
async fn measure(target: &Target, monitors: usize, runs: usize) -> anyhow::Result<f64> {
    let ready = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(AtomicUsize::new(0));
    let target = target.clone();
    let threads = SOCKET_THREADS.min(monitors);
    let results = on_threads(threads + 1, move |i| {
        let (target, ready, received) = (target.clone(), ready.clone(), received.clone());
        Box::pin(async move {
            if i == threads {
                drive(target, monitors, runs, ready, received).await
            } else {
                let share = monitors / threads + usize::from(i < monitors % threads);
                monitor(target, share, runs, ready, received).await
            }
        })
    })
    .await?;
    let (mut exit, mut finished) = (Vec::new(), Vec::new());
    for result in results {
        let (e, f) = result?;
        exit.extend(e);
        finished.extend(f);
    }
    report(
        &format!("exit->push, {monitors} monitors (p99 <= 5 ms)"),
        summary(&mut exit),
    );
    report(
        &format!("record.finished->push, {monitors} monitors"),
        summary(&mut finished),
    );
    Ok(percentile(&mut exit, 99.0))
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    println!("push: process exit to monitor push (script: /bin/date +%s.%N)");
    raise_nofile();
    let server = Server::start("-s=4 clock /bin/date +%s.%N\n").await?;
    let target = server.target();
    measure(&target, 1, 300).await?;
    let p99 = measure(&target, 1000, 30).await?;
    server.stop().await;
    // The kernel's share of the 1000-monitor figure, measured beside it:
    // what the same fan-out costs with no server in the way.
    let mut raw = tokio::task::spawn_blocking(fanout::measure).await??;
    report(
        &format!(
            "raw loopback fan-out, {} sockets, {} writer threads",
            fanout::SOCKETS,
            fanout::THREADS
        ),
        summary(&mut raw),
    );
    report(
        "ratio exit->push 1000-monitor p99 / raw p99",
        format!("{:.1}", p99 / percentile(&mut raw, 99.0)),
    );
    Ok(())
}
