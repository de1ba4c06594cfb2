//! Webhooks (issue 31): from a failing run's end to the receiver's 200,
//! over 1,000 deliveries to a local receiver, and what the outbox costs
//! end-to-end runs/s with a hook on every run against none.
//!
//! Latency: 1,000 scripts (`f0` … `f999`, each `/bin/false`, so that no
//! delivery is folded into another by the flood limit of one a minute
//! per hook and script) are started at a steady pace; for each delivery
//! the receiver takes its arrival time minus the run's `finished` (the
//! same machine's clock), then answers 200.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::database::Backend;
use crate::machine::report;
use crate::server::{bytes_body::Body, Server, Target};
use crate::stats;

const DELIVERIES: usize = 1000;
/// Between two run requests of the latency part: a steady 50 runs/s.
const PACE: Duration = Duration::from_millis(20);

type Samples = Arc<Mutex<Vec<f64>>>;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A receiver on 127.0.0.1 that records each delivery's latency.
fn receiver() -> anyhow::Result<(u16, Samples)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let samples: Samples = Arc::default();
    let sink = samples.clone();
    let server = HttpServer::new(move || {
        let sink = sink.clone();
        App::new().default_service(web::to(move |body: web::Bytes| {
            let sink = sink.clone();
            async move {
                let arrived = unix_now();
                let delivery: Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(finished) = delivery["run"]["finished"].as_f64() {
                    sink.lock().map(|mut s| s.push(arrived - finished)).ok();
                }
                HttpResponse::Ok().finish()
            }
        }))
    })
    .workers(1)
    .listen(listener)?
    .run();
    actix::spawn(server);
    Ok((port, samples))
}

async fn create_hook(target: &Target, port: u16, on: &[&str]) -> anyhow::Result<()> {
    let client = target.client(1);
    let mut resp = client
        .post(target.url("/scripts/v1/hook/create"))
        .insert_header(("X-APIKey", target.key.as_str()))
        .send_json(&json!({ "url": format!("http://127.0.0.1:{port}/hook"), "on": on }))
        .await
        .map_err(|e| anyhow::anyhow!("hook/create: {e}"))?;
    let reply: Value = serde_json::from_slice(&resp.body().await?)?;
    anyhow::ensure!(reply["success"] == true, "hook/create refused: {reply}");
    Ok(())
}

/// Waits until `samples` holds `n`, for at most a minute.
async fn wait_for(samples: &Samples, n: usize) -> anyhow::Result<Vec<f64>> {
    for _ in 0..6000 {
        let got = samples.lock().map(|s| s.clone()).unwrap_or_default();
        if got.len() >= n {
            return Ok(got);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("only some of {n} deliveries arrived within a minute")
}

async fn latency(backend: &Backend) -> anyhow::Result<()> {
    let exectab: String = (0..DELIVERIES)
        .map(|i| format!("f{i} /bin/false\n"))
        .collect();
    let server = Server::start_on(&exectab, backend).await?;
    let target = server.target();
    let (port, samples) = receiver()?;
    create_hook(&target, port, &["failed"]).await?;
    let client = target.client(4);
    for i in 0..DELIVERIES {
        let body = Body::json(json!({ "name": format!("f{i}") }));
        target.run(&client, &body).await?;
        tokio::time::sleep(PACE).await;
    }
    let mut got = wait_for(&samples, DELIVERIES).await?;
    report(
        &format!(
            "[{}] failed run's end -> receiver (<= 20 ms p99)",
            backend.label()
        ),
        stats::summary(&mut got),
    );
    server.stop().await;
    Ok(())
}

async fn throughput(backend: &Backend) -> anyhow::Result<()> {
    let exectab = "-s=8 true8 /bin/true\n";
    let plain = Server::start_on(exectab, backend).await?;
    let without = crate::e2e::server_rate(&plain.target(), "true8", crate::e2e::BATCH).await?;
    plain.stop().await;
    let hooked = Server::start_on(exectab, backend).await?;
    let (port, samples) = receiver()?;
    create_hook(&hooked.target(), port, &["success"]).await?;
    let with = crate::e2e::server_rate(&hooked.target(), "true8", crate::e2e::BATCH).await?;
    let delivered = samples.lock().map(|s| s.len()).unwrap_or(0);
    hooked.stop().await;
    let label = backend.label();
    report(
        &format!("[{label}] e2e -s=8 runs/s, no hook"),
        format!("{without:.0}"),
    );
    report(
        &format!("[{label}] e2e -s=8 runs/s, a hook on every run"),
        format!("{with:.0} ({delivered} sent meanwhile, the rest folded)"),
    );
    report(
        &format!("[{label}] with hook / without (>= 0.90)"),
        format!("{:.2}", with / without.max(1.0)),
    );
    Ok(())
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    println!("hooks: run end -> receiver latency; e2e runs/s with a hook on every run");
    for backend in Backend::all() {
        latency(&backend).await?;
        throughput(&backend).await?;
    }
    Ok(())
}
