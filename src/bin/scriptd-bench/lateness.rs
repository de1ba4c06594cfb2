//! Lateness of scheduled runs: runs queued for now+1, now+2 and now+3 s
//! (10 per second) on a `-s=64` script; lateness is the run's `started`
//! (when the queue's timer started it) minus its due second.

use std::time::Duration;

use serde_json::json;

use crate::machine::report;
use crate::server::{bytes_body::Body, on_threads, Server};
use crate::stats::summary;

const PER_SECOND: usize = 10;

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    println!("lateness: runs scheduled for now+1..now+3 s");
    let server = Server::start("-s=64 late /bin/true\n").await?;
    let target = server.target();
    let mut results = on_threads(1, move |_| {
        let target = target.clone();
        Box::pin(async move {
            let client = target.client(4);
            let now = scriptd::clock::now_secs();
            let mut runs = Vec::new();
            for ahead in 1..=3 {
                let body = Body::json(json!({"name": "late", "queue": now + ahead}));
                for _ in 0..PER_SECOND {
                    runs.push((now + ahead, target.run(&client, &body).await?));
                }
            }
            tokio::time::sleep(Duration::from_secs(4)).await;
            let mut late = Vec::new();
            for (due, id) in runs {
                let status = target.status(&client, &id).await?;
                let started = status["started"].as_f64().unwrap_or(f64::NAN);
                late.push(started - due as f64);
            }
            anyhow::Ok(late)
        })
    })
    .await?;
    let mut late = results.pop().unwrap_or_else(|| Ok(Vec::new()))?;
    let early = late.iter().filter(|l| **l < 0.0).count();
    report("scheduled start lateness (<= 20 ms)", summary(&mut late));
    report("runs started before their second", early.to_string());
    server.stop().await;
    Ok(())
}
