//! End-to-end `/bin/true` runs per second at -s=2 and -s=8, beside a raw
//! spawn-and-wait loop of `/bin/true` measured in the same run.
//!
//! A batch of runs is queued at once (64 concurrent clients) and timed from
//! the first request until a monitor has seen every finish push, so the
//! figure covers accept, start, spawn, exit, commit and push. With
//! `--database`, the server part runs on SQLite and then on PostgreSQL,
//! beside the same raw loops.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::database::Backend;
use crate::machine::report;
use crate::server::{bytes_body::Body, on_threads, Server, Target};
use crate::ws;

const RAW_TIME: Duration = Duration::from_secs(3);
/// Runs per server batch (bounded: a slow server must not run for minutes).
pub const BATCH: usize = 1000;
const CLIENTS: usize = 64;

/// `/bin/true` spawned and waited for by `parallel` threads for RAW_TIME.
fn raw_rate(parallel: usize) -> f64 {
    let start = Instant::now();
    let threads: Vec<_> = (0..parallel)
        .map(|_| {
            std::thread::spawn(move || {
                let mut count = 0u64;
                while start.elapsed() < RAW_TIME {
                    if std::process::Command::new("/bin/true").status().is_ok() {
                        count += 1;
                    }
                }
                count
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

/// Queues `total` runs of `name` and returns runs/s until the last finish push.
pub async fn server_rate(target: &Target, name: &'static str, total: usize) -> anyhow::Result<f64> {
    let target = target.clone();
    let results = on_threads(2, move |i| {
        let target = target.clone();
        Box::pin(async move {
            if i == 0 {
                watch(&target, name, total).await
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await; // monitor registers first
                enqueue(&target, name, total).await.map(|_| 0.0)
            }
        })
    })
    .await?;
    let mut rates = results.into_iter();
    let rate = rates.next().unwrap_or(Ok(0.0))?;
    rates.next().unwrap_or(Ok(0.0))?;
    Ok(rate)
}

async fn enqueue(target: &Target, name: &str, total: usize) -> anyhow::Result<()> {
    let client = target.client(CLIENTS);
    let body = Body::json(json!({ "name": name }));
    let per = total.div_ceil(CLIENTS);
    let workers = (0..CLIENTS).map(|c| {
        let (client, body) = (&client, &body);
        async move {
            for _ in 0..per.min(total.saturating_sub(c * per)) {
                target.run(client, body).await?;
            }
            anyhow::Ok(())
        }
    });
    for result in futures_util::future::join_all(workers).await {
        result?;
    }
    Ok(())
}

/// Subscribes, then times from the first push to the `total`-th finish push.
async fn watch(target: &Target, name: &str, total: usize) -> anyhow::Result<f64> {
    let client = target.client(1);
    let mut socket = ws::connect(&client, target).await?;
    ws::subscribe(&mut socket, name).await?;
    let (mut first, mut done) = (None, 0);
    while done < total {
        let text = tokio::time::timeout(Duration::from_secs(60), ws::next_text(&mut socket))
            .await?
            .ok_or_else(|| anyhow::anyhow!("monitor closed"))?;
        first.get_or_insert_with(Instant::now);
        let push: Value = serde_json::from_slice(&text)?;
        if push["state"] == "done" {
            anyhow::ensure!(push["outcome"] == "success", "run failed: {push}");
            done += 1;
        }
    }
    // The first push is the first start; the enqueue began one spawn earlier
    // at most, which is noise at thousands of runs.
    let elapsed = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    Ok(total as f64 / elapsed)
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    println!("e2e: /bin/true through the server vs a raw spawn-and-wait loop");
    let raw1 = tokio::task::spawn_blocking(|| raw_rate(1)).await?;
    report(
        "raw spawn+wait loop, 1 thread (runs/s)",
        format!("{raw1:.0}"),
    );
    let mut rates: Vec<(usize, &'static str, f64)> = Vec::new();
    for backend in Backend::all() {
        let label = backend.label();
        let server =
            Server::start_on("-s=2 true2 /bin/true\n-s=8 true8 /bin/true\n", &backend).await?;
        let target = server.target();
        for (name, s) in [("true2", 2), ("true8", 8)] {
            let raw = tokio::task::spawn_blocking(move || raw_rate(s)).await?;
            let total = BATCH;
            let rate = server_rate(&target, name, total).await?;
            report(
                &format!("raw spawn+wait, {s} threads (runs/s)"),
                format!("{raw:.0}"),
            );
            report(
                &format!("[{label}] scriptd -s={s} end-to-end (runs/s)"),
                format!("{rate:.0} over {total} runs"),
            );
            report(
                &format!("[{label}] ratio -s={s} / raw 1-thread loop (>= 0.80)"),
                format!("{:.2}", rate / raw1),
            );
            report(
                &format!("[{label}] ratio -s={s} / raw {s}-thread loop"),
                format!("{:.2}", rate / raw),
            );
            rates.push((s, label, rate));
        }
        server.stop().await;
    }
    for s in [2, 8] {
        let of = |label: &str| rates.iter().find(|r| r.0 == s && r.1 == label).map(|r| r.2);
        if let (Some(sqlite), Some(postgres)) = (of("sqlite"), of("postgres")) {
            report(
                &format!("e2e -s={s}: postgres / sqlite runs/s"),
                format!("{:.2}", postgres / sqlite.max(1.0)),
            );
        }
    }
    Ok(())
}
