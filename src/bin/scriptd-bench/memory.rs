//! Resident memory of the server with 100k queued runs and with 10k monitor
//! sockets. The server runs as a child process (this binary, `serve-child`),
//! so its VmRSS holds no client memory; the figure is the growth over the
//! idle server, divided per run or per socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::machine::{raise_nofile, report, rss_kib};
use crate::server::{bytes_body::Body, on_threads, Server, Target};
use crate::ws;

const QUEUED: usize = 100_000;
const SOCKETS: usize = 10_000;
const CLIENTS: usize = 64;

/// The child side: serve `exectab`, print "PORT KEY", stop when stdin closes.
/// With `SCRIPTD_BENCH_TRIM=1` it returns freed heap to the kernel twice a
/// second (`malloc_trim`), so VmRSS shows live memory rather than what
/// glibc keeps after bursts (the difference is allocator retention).
pub async fn serve_child(exectab: &str) -> anyhow::Result<()> {
    raise_nofile();
    if std::env::var_os("SCRIPTD_BENCH_TRIM").is_some() {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(500));
            // SAFETY: malloc_trim only releases free heap pages; no preconditions.
            unsafe { libc::malloc_trim(0) };
        });
    }
    let server = Server::start(exectab).await?;
    println!("{} {}", server.port, server.key);
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    })
    .await?;
    server.stop().await;
    Ok(())
}

pub(crate) struct ChildServer {
    child: Child,
    pub(crate) target: Target,
}

impl ChildServer {
    pub(crate) fn start(exectab: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve-child", exectab])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let port = parts.next().context("child port")?.parse()?;
        let key = parts.next().context("child key")?.to_owned();
        Ok(ChildServer {
            child,
            target: Target { port, key },
        })
    }

    pub(crate) fn rss(&self) -> u64 {
        rss_kib(&self.child.id().to_string())
    }

    pub(crate) fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Settled RSS: the allocator and the status writer get a moment first.
async fn settle(server: &ChildServer) -> u64 {
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.rss()
}

async fn queued_runs() -> anyhow::Result<()> {
    let server = ChildServer::start("-s=1 held /bin/sleep 3600 @@1\n")?;
    let target = server.target.clone();
    let client = target.client(1);
    target
        .run(
            &client,
            &Body::json(json!({"name": "held", "args": ["first"]})),
        )
        .await?;
    let before = settle(&server).await;
    let start = Instant::now();
    let t = target.clone();
    let results = on_threads(2, move |_| {
        let target = t.clone();
        Box::pin(async move {
            let client = target.client(CLIENTS / 2);
            let body = Body::json(json!({"name": "held", "args": ["queued"]}));
            let per = QUEUED / CLIENTS;
            let workers = (0..CLIENTS / 2).map(|_| async {
                for _ in 0..per {
                    target.run(&client, &body).await?;
                }
                anyhow::Ok(())
            });
            futures_util::future::join_all(workers)
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        })
    })
    .await?;
    for result in results {
        result?;
    }
    let queued = (QUEUED / CLIENTS) * CLIENTS;
    let filled = start.elapsed().as_secs_f64();
    let after = settle(&server).await;
    report(
        &format!("VmRSS idle -> {queued} queued runs (KiB)"),
        format!("{before} -> {after} (filled in {filled:.1} s)"),
    );
    report(
        "memory per queued run (<= 2048 B)",
        format!(
            "{:.0} B",
            (after.saturating_sub(before)) as f64 * 1024.0 / queued as f64
        ),
    );
    server.stop();
    Ok(())
}

async fn monitor_sockets() -> anyhow::Result<()> {
    let server = ChildServer::start("quick /bin/true\n")?;
    let before = settle(&server).await;
    let opened = Arc::new(AtomicUsize::new(0));
    let (target, count) = (server.target.clone(), opened.clone());
    let (release, hold) = tokio::sync::watch::channel(false);
    let clients = on_threads(2, move |_| {
        let (target, count, mut hold) = (target.clone(), count.clone(), hold.clone());
        Box::pin(async move {
            let client = target.client(SOCKETS / 2 + 1);
            let mut sockets = Vec::with_capacity(SOCKETS / 2);
            for _ in 0..SOCKETS / 2 {
                let mut socket = ws::connect(&client, &target).await?;
                ws::subscribe(&mut socket, "").await?;
                sockets.push(socket);
                count.fetch_add(1, Ordering::Relaxed);
            }
            // Keep the sockets open (answering nothing: no pings are due
            // in this short window) until the parent has measured.
            let _ = hold.wait_for(|go| *go).await;
            anyhow::Ok(sockets.len())
        })
    });
    let measure = async {
        while opened.load(Ordering::Relaxed) < SOCKETS {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let after = settle(&server).await;
        let _ = release.send(true);
        after
    };
    let (clients, after) = futures_util::join!(clients, measure);
    for result in clients? {
        result?;
    }
    report(
        &format!("VmRSS idle -> {SOCKETS} monitor sockets (KiB)"),
        format!("{before} -> {after}"),
    );
    report(
        "memory per monitor socket",
        format!(
            "{:.1} KiB",
            after.saturating_sub(before) as f64 / SOCKETS as f64
        ),
    );
    server.stop();
    Ok(())
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    println!("memory: server VmRSS (child process)");
    let limit = raise_nofile();
    anyhow::ensure!(
        limit as usize > SOCKETS + 100,
        "RLIMIT_NOFILE hard limit {limit} too low"
    );
    queued_runs().await?;
    monitor_sockets().await?;
    Ok(())
}
