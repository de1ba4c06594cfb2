//! The connection-exhaustion attack of issue 13, repeated: 20,000
//! connections, each sending a key-less `POST /scripts/v1/run` with
//! `Content-Length: 100000` and one body byte, then holding the socket;
//! a closed one reconnects at once, for the whole attack. Meanwhile a
//! probe measures `/healthz` latency, and the server's (a child process)
//! resident memory is sampled during and after.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::machine::{raise_nofile, report};
use crate::memory::ChildServer;
use crate::stats::summary;

const CONNECTIONS: usize = 20_000;
/// Loopback source addresses (127.0.1.x) the attackers spread over:
/// `SCRIPTD_BENCH_SOURCES`, default 1 (one attacking host).
fn sources() -> usize {
    std::env::var("SCRIPTD_BENCH_SOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .clamp(1, 250)
}
const ATTACK: Duration = Duration::from_secs(15);
const PROBE_EVERY: Duration = Duration::from_millis(50);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

const REQUEST: &[u8] = b"POST /scripts/v1/run HTTP/1.1\r\nHost: x\r\n\
    Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";

#[derive(Default)]
struct Tally {
    opened: AtomicUsize,
    failed: AtomicUsize,
    answered: AtomicUsize,
}

async fn connect(from: usize, sources: usize, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    let local: SocketAddr = format!("127.0.1.{}:0", 1 + from % sources)
        .parse()
        .map_err(std::io::Error::other)?;
    socket.bind(local)?;
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
}

/// One attacker: connect, send, hold until the server closes; again.
async fn attacker(n: usize, sources: usize, port: u16, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = connect(n, sources, port).await else {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        tally.opened.fetch_add(1, Ordering::Relaxed);
        if stream.write_all(REQUEST).await.is_err() {
            continue;
        }
        let mut got = false;
        while !stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => got = true,
                Err(_) => {}
            }
        }
        if got {
            tally.answered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One `/healthz` on a new connection: its latency, or why it failed.
/// Blocking, on the probe's own thread: the attackers' tasks share the
/// bench's event loop and would delay a probe running there.
fn probe(port: u16) -> Result<f64, String> {
    use std::io::{Read, Write};
    let start = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .map_err(|e| format!("connect: {}", e.kind()))?;
    let _ = stream.set_read_timeout(Some(PROBE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(PROBE_TIMEOUT));
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {}", e.kind()))?;
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .map_err(|e| format!("read: {}", e.kind()))?;
    match reply.get(9..12) {
        Some(b"200") => Ok(start.elapsed().as_secs_f64()),
        Some(code) => Err(format!("status {}", String::from_utf8_lossy(code))),
        None => Err("no answer".to_owned()),
    }
}

/// Probes on a thread of their own until `stop`; the latencies and the
/// failures by kind.
fn probes(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Vec<f64>, String)> {
    std::thread::spawn(move || {
        let mut samples = Vec::new();
        let mut failures: std::collections::BTreeMap<String, usize> = Default::default();
        while !stop.load(Ordering::Relaxed) {
            match probe(port) {
                Ok(secs) => samples.push(secs),
                Err(why) => *failures.entry(why).or_default() += 1,
            }
            std::thread::sleep(PROBE_EVERY);
        }
        let failures = if failures.is_empty() {
            "none".to_owned()
        } else {
            let kinds: Vec<_> = failures.iter().map(|(k, n)| format!("{n}× {k}")).collect();
            kinds.join(", ")
        };
        (samples, failures)
    })
}

/// Probes for `time` and returns what they saw.
async fn probe_for(port: u16, time: Duration) -> (Vec<f64>, String) {
    let stop = Arc::new(AtomicBool::new(false));
    let probing = probes(port, stop.clone());
    tokio::time::sleep(time).await;
    stop.store(true, Ordering::Relaxed);
    probing.join().unwrap_or_default()
}

pub async fn run() -> anyhow::Result<()> {
    let limit = raise_nofile();
    // The bench's own descriptors bound the attack; keep some for probes.
    let connections = CONNECTIONS.min((limit as usize).saturating_sub(1024));
    let sources = sources();
    println!(
        "exhaust: {connections} key-less connections with an unfinished body from {sources} address(es), {}s (bench nofile {limit})",
        ATTACK.as_secs()
    );
    let server = ChildServer::start("x /bin/true\n")?;
    let port = server.target.port;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = server.rss();
    let (mut before, _) = probe_for(port, Duration::from_secs(2)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let attackers: Vec<_> = (0..connections)
        .map(|n| tokio::task::spawn_local(attacker(n, sources, port, stop.clone(), tally.clone())))
        .collect();
    let probe_stop = Arc::new(AtomicBool::new(false));
    let probing = probes(port, probe_stop.clone());
    let start = Instant::now();
    let mut peak = 0;
    while start.elapsed() < ATTACK {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(server.rss());
    }
    probe_stop.store(true, Ordering::Relaxed);
    let (mut during, failures) = probing.join().unwrap_or_default();
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        let _ = attacker.await;
    }

    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = server.rss();
    let (mut after_probes, after_failures) = probe_for(port, Duration::from_secs(2)).await;
    server.stop();

    report("/healthz before the attack", summary(&mut before));
    report(
        "attack connections opened / answered / failed",
        format!(
            "{} / {} / {}",
            tally.opened.load(Ordering::Relaxed),
            tally.answered.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed)
        ),
    );
    report("/healthz during the attack", summary(&mut during));
    report("/healthz failed during the attack", failures);
    report("/healthz after the attack", summary(&mut after_probes));
    report("/healthz failed after the attack", after_failures);
    report(
        "server RSS idle / peak / 5 s after",
        format!("{} / {} / {} MiB", idle / 1024, peak / 1024, after / 1024),
    );
    Ok(())
}
