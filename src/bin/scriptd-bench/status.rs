//! `GET /status/ID` requests per second, 64 concurrent clients: once for a
//! finished run (answered from the read model) and once for a running run
//! (answered by its queue actor).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::machine::report;
use crate::server::{bytes_body::Body, on_threads, Server, Target};

const CLIENTS: usize = 64;
const THREADS: usize = 2;
const MEASURE: Duration = Duration::from_secs(4);

async fn rate(target: &Target, id: String) -> anyhow::Result<f64> {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (target, path) = (target.clone(), format!("/scripts/v1/status/{id}"));
    let (counter, stopper) = (count.clone(), stop.clone());
    let timer = async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (before, start) = (counter.load(Ordering::Relaxed), Instant::now());
        tokio::time::sleep(MEASURE).await;
        let done = counter.load(Ordering::Relaxed) - before;
        stopper.store(true, Ordering::Relaxed);
        done as f64 / start.elapsed().as_secs_f64()
    };
    let clients = on_threads(THREADS, move |_| {
        let (target, path, count, stop) =
            (target.clone(), path.clone(), count.clone(), stop.clone());
        Box::pin(async move {
            let client = target.client(CLIENTS / THREADS);
            let workers = (0..CLIENTS / THREADS).map(|_| async {
                while !stop.load(Ordering::Relaxed) {
                    target.get(&client, &path).await?;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            });
            for result in futures_util::future::join_all(workers).await {
                result?;
            }
            anyhow::Ok(())
        })
    });
    let (rate, clients) = futures_util::join!(timer, clients);
    for result in clients? {
        result?;
    }
    Ok(rate)
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    println!("status: GET /scripts/v1/status/ID, {CLIENTS} clients");
    let server = Server::start("quick /bin/true\nslow /bin/sleep 3600\n").await?;
    let target = server.target();
    let client = target.client(1);
    let done = target
        .run(&client, &Body::json(json!({"name": "quick"})))
        .await?;
    let running = target
        .run(&client, &Body::json(json!({"name": "slow"})))
        .await?;
    for _ in 0..500 {
        if target.status(&client, &done).await?["state"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let finished = rate(&target, done).await?;
    report(
        "GET /status of a finished run (req/s)",
        format!("{finished:.0}"),
    );
    let live = rate(&target, running).await?;
    report("GET /status of a running run (req/s)", format!("{live:.0}"));
    server.stop().await;
    Ok(())
}
