//! Accepted runs per second: 64 concurrent clients POST `/scripts/v1/run`
//! for a `-n` script (no process) against the durable store
//! (synchronous=FULL); every reply means the `RunQueued` event is on disk.
//! With `--database`, the same on PostgreSQL right after, and the ratio.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::database::Backend;
use crate::http1::{Conn, Request};
use crate::machine::{cpu_seconds, report};
use crate::server::{on_threads, Server};

const CLIENTS: usize = 64;
const THREADS: usize = 2;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);

/// Runs the scenario on every backend and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    let mut rates = Vec::new();
    for backend in Backend::all() {
        rates.push(run_on(&backend).await?);
    }
    if let [sqlite, postgres] = rates[..] {
        report(
            "accept: postgres / sqlite accepted runs/s",
            format!("{:.2}", postgres / sqlite.max(1.0)),
        );
    }
    Ok(())
}

/// The scenario on one backend; answers the accepted runs per second.
async fn run_on(backend: &Backend) -> anyhow::Result<f64> {
    println!(
        "accept [{}]: {CLIENTS} clients POST /run of a -n script, durable",
        backend.label()
    );
    let server = Server::start_on("-n noop /bin/true\n", backend).await?;
    let target = server.target();
    let probe = target.client(1);
    let batches = target
        .metric(&probe, "scriptd_commit_batch_size_sum")
        .await?;
    let commits = target
        .metric(&probe, "scriptd_commit_batch_size_count")
        .await?;
    let accepted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (counter, stopper) = (accepted.clone(), stop.clone());
    let measured = async move {
        tokio::time::sleep(WARMUP).await;
        let before = counter.load(Ordering::Relaxed);
        let (start, cpu) = (Instant::now(), cpu_seconds());
        tokio::time::sleep(MEASURE).await;
        let after = counter.load(Ordering::Relaxed);
        let (elapsed, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        stopper.store(true, Ordering::Relaxed);
        let runs = (after - before) as f64;
        (runs / elapsed, cpu / runs.max(1.0))
    };
    let (rate, errors) = {
        let target = target.clone();
        let (accepted, stop) = (accepted.clone(), stop.clone());
        let clients = on_threads(THREADS, move |_| {
            let (target, accepted, stop) = (target.clone(), accepted.clone(), stop.clone());
            Box::pin(async move {
                let request = Request::post_json(&target, "/scripts/v1/run", r#"{"name":"noop"}"#);
                let workers = (0..CLIENTS / THREADS).map(|_| async {
                    let mut errors = 0u64;
                    let Ok(mut conn) = Conn::connect(&target).await else {
                        return 1;
                    };
                    while !stop.load(Ordering::Relaxed) {
                        match conn.send(&request).await {
                            Ok((200, body)) if accepted_reply(&body) => {
                                accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(_) => errors += 1,
                            // The connection is gone: later requests would fail too.
                            Err(_) => return errors + 1,
                        }
                    }
                    errors
                });
                futures_util::future::join_all(workers)
                    .await
                    .iter()
                    .sum::<u64>()
            })
        });
        let ((rate, cpu), errors) = futures_util::join!(measured, clients);
        let errors = errors?.iter().sum::<u64>();
        report("accepted runs/s (target >= 20000)", format!("{rate:.0}"));
        report(
            "CPU per accepted run, server + clients",
            format!("{:.0} µs", cpu * 1e6),
        );
        (rate, errors)
    };
    let batch_sum = target
        .metric(&probe, "scriptd_commit_batch_size_sum")
        .await?
        - batches;
    let commit_count = target
        .metric(&probe, "scriptd_commit_batch_size_count")
        .await?
        - commits;
    report(
        "appends per group commit (mean)",
        format!(
            "{:.1} over {commit_count} commits",
            batch_sum / commit_count.max(1.0)
        ),
    );
    report("refused or failed requests", errors.to_string());
    server.stop().await;
    Ok(rate)
}

/// A reply that says the run was queued.
fn accepted_reply(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|reply| reply["success"] == true && reply["id"].is_string())
}
