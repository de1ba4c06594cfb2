//! Resident memory of the server with 100k queued runs, before and after a
//! restart, and with 10k monitor sockets. The server runs as a child
//! process (the `scriptd` binary for queued runs, see `child.rs`; this
//! binary's `serve-child` for sockets), so its VmRSS holds no client
//! memory; the figure is the growth over the idle server, divided per run
//! or per socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::child::{binaries, disk_usage, first_answer, rounds, Scriptd};
use crate::machine::{raise_nofile, report, rss_kib};
use crate::server::{bytes_body::Body, on_threads, Server, Target, TempStorage};
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

async fn settle_child(server: &Scriptd) -> u64 {
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.rss()
}

/// Queues `QUEUED` runs behind a held one; returns their ids in order.
async fn fill(target: &Target) -> anyhow::Result<(Vec<String>, f64)> {
    let client = target.client(1);
    target
        .run(
            &client,
            &Body::json(json!({"name": "held", "args": ["first"]})),
        )
        .await?;
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
    let filled = start.elapsed().as_secs_f64();
    let body = target.get(&client, "/scripts/v1/status").await?;
    let list: serde_json::Value = serde_json::from_slice(&body)?;
    let ids = list["queued"]["held"]
        .as_array()
        .context("queued ids")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    Ok((ids, filled))
}

fn per_run(before: u64, after: u64, runs: usize) -> String {
    format!(
        "{:.0} B",
        after.saturating_sub(before) as f64 * 1024.0 / runs as f64
    )
}

/// 100k queued runs queued live, then the same server restarted (SIGTERM,
/// then `serve` on the same storage): VmRSS per queued run before and
/// after, the time from the restart's spawn to the first right answer
/// about a queued run, and the disk the status files take.
async fn queued_runs(label: &str, binary: &std::path::Path) -> anyhow::Result<(f64, f64)> {
    let storage = TempStorage::new("memory")?;
    let server = Scriptd::start(binary, &storage.0)?;
    std::fs::write(
        storage.0.join("1/scripts/exectab.txt"),
        // No @@1: `sleep 3600 queued` would fail at once and drain the queue.
        "-s=1 held /bin/sleep 3600\n",
    )?;
    let idle = settle_child(&server).await;
    let (ids, filled) = fill(&server.target).await?;
    let live = settle_child(&server).await;
    report(
        &format!("[{label}] VmRSS idle -> {} queued, live (KiB)", ids.len()),
        format!("{idle} -> {live} (filled in {filled:.1} s)"),
    );
    report(
        &format!("[{label}] memory per queued run, live"),
        per_run(idle, live, ids.len()),
    );
    let (files, bytes) = disk_usage(&storage.0.join("1/scripts/status"));
    report(
        &format!("[{label}] status files on disk"),
        format!("{files} files, {:.0} MB of blocks", bytes as f64 / 1e6),
    );
    server.stop()?;

    // The held run was interrupted by the stop; the first queued run takes
    // its slot after the restart, so the rest move up one place.
    let server = Scriptd::start(binary, &storage.0)?;
    let probe = ids.len() / 2;
    let answered = first_answer(&server, &ids[probe], probe - 1).await?;
    report(
        &format!("[{label}] restart: listening / first answer"),
        format!(
            "{:.3} s / {:.3} s",
            server.bound.as_secs_f64(),
            answered.as_secs_f64()
        ),
    );
    let restarted = settle_child(&server).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let later = server.rss();
    let queued = ids.len() - 1;
    report(
        &format!("[{label}] VmRSS {queued} queued after restart (KiB)"),
        format!("{restarted} (10 s later: {later})"),
    );
    report(
        &format!("[{label}] memory per queued run, restarted"),
        format!(
            "{} (live {}; ratio {:.2})",
            per_run(idle, later, queued),
            per_run(idle, live, ids.len()),
            later.saturating_sub(idle) as f64 / live.saturating_sub(idle).max(1) as f64
        ),
    );
    server.stop()?;
    Ok((answered.as_secs_f64(), later as f64))
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
    for _ in 0..rounds() {
        for (label, binary) in binaries()? {
            queued_runs(&label, &binary).await?;
        }
    }
    monitor_sockets().await?;
    Ok(())
}
