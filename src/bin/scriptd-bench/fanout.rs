//! Raw loopback fan-out: the floor under `push` with 1000 monitors, taken
//! in the same run. One 300-byte message (the size of a finish push) goes to
//! each of 1000 loopback TCP sockets, written by 2 threads (the server has 2
//! HTTP workers) and read by 2 epoll threads (the load generator has 2
//! socket threads). No WebSocket framing, JSON or actors: only the kernel
//! work that any server pushing to 1000 sockets must pay.
//!
//! Blocking code on its own threads; it must not run on an async runtime.

use std::cell::RefCell;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::AsyncReadExt as _;

use crate::machine::raise_nofile;

/// Sockets per round, as monitors in the 1000-monitor phase of `push`.
pub const SOCKETS: usize = 1000;
/// Measured rounds, as runs in the 1000-monitor phase of `push`.
const ROUNDS: usize = 30;
/// Writer threads and reader threads (each).
pub const THREADS: usize = 2;
const MESSAGE: usize = 300;
/// Far longer than a round takes; this only stops a broken run from hanging.
const ROUND_DEADLINE: Duration = Duration::from_secs(5);

/// Receive time − the round's first write, in seconds, for every message
/// of ROUNDS rounds (after one unmeasured warm-up round).
pub fn measure() -> anyhow::Result<Vec<f64>> {
    raise_nofile();
    let (servers, clients) = connect(SOCKETS)?;
    let (arrived_tx, arrived) = mpsc::channel::<Vec<Instant>>();
    let (started_tx, started) = mpsc::channel::<Instant>();
    std::thread::scope(|scope| {
        let mut gos = Vec::new();
        let mut threads = Vec::new();
        for (i, half) in shares(servers).into_iter().enumerate() {
            let (go_tx, go) = mpsc::channel::<()>();
            let started_tx = started_tx.clone();
            gos.push(go_tx);
            threads.push(spawn(scope, format!("fanout-write-{i}"), move || {
                write(half, go, started_tx)
            })?);
        }
        for (i, half) in shares(clients).into_iter().enumerate() {
            let arrived_tx = arrived_tx.clone();
            threads.push(spawn(scope, format!("fanout-read-{i}"), move || {
                read(half, arrived_tx)
            })?);
        }
        let samples = rounds(&gos, &started, &arrived);
        // Ending the writers closes the server sides; the readers then see
        // EOF on every socket and end too, so the joins below return.
        drop(gos);
        for thread in threads {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("fan-out thread panicked"))??;
        }
        samples
    })
}

/// `count` connected pairs (server side, client side), Nagle off on both:
/// one small message per socket must leave at once, as a push does.
fn connect(count: usize) -> anyhow::Result<(Vec<TcpStream>, Vec<TcpStream>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (mut servers, mut clients) = (Vec::new(), Vec::new());
    for _ in 0..count {
        // One pending connection at a time, so accept returns this one.
        let client = TcpStream::connect(addr).context("fan-out connect")?;
        let (server, _) = listener.accept().context("fan-out accept")?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        clients.push(client);
        servers.push(server);
    }
    Ok((servers, clients))
}

/// THREADS contiguous shares, the last ones one socket larger if uneven.
fn shares(mut sockets: Vec<TcpStream>) -> Vec<Vec<TcpStream>> {
    let mut shares = Vec::with_capacity(THREADS);
    for left in (1..=THREADS).rev() {
        let tail = sockets.split_off(sockets.len() - sockets.len() / left);
        shares.push(tail);
    }
    shares
}

fn spawn<'s, F>(
    scope: &'s Scope<'s, '_>,
    name: String,
    work: F,
) -> anyhow::Result<ScopedJoinHandle<'s, anyhow::Result<()>>>
where
    F: FnOnce() -> anyhow::Result<()> + Send + 's,
{
    Ok(std::thread::Builder::new()
        .name(name)
        .spawn_scoped(scope, work)?)
}

/// Starts each round and waits for all of its messages before the next,
/// so that every round is an unloaded fan-out like one finish push.
fn rounds(
    gos: &[mpsc::Sender<()>],
    started: &mpsc::Receiver<Instant>,
    arrived: &mpsc::Receiver<Vec<Instant>>,
) -> anyhow::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(ROUNDS * SOCKETS);
    for round in 0..=ROUNDS {
        for go in gos {
            go.send(()).context("fan-out writer ended early")?;
        }
        let deadline = Instant::now() + ROUND_DEADLINE;
        let wait = || deadline.saturating_duration_since(Instant::now());
        let mut t0: Option<Instant> = None;
        for _ in gos {
            let at = started
                .recv_timeout(wait())
                .context("fan-out writer stalled")?;
            t0 = Some(t0.map_or(at, |t| t.min(at)));
        }
        let mut times = Vec::with_capacity(SOCKETS);
        for _ in 0..THREADS {
            let batch = arrived.recv_timeout(wait()).with_context(|| {
                format!("fan-out round {round}: not all {SOCKETS} messages arrived in time")
            })?;
            times.extend(batch);
        }
        // Round 0 warms up: first-touch buffers and the readers' first poll.
        if let (Some(t0), true) = (t0, round > 0) {
            samples.extend(times.iter().map(|at| at.duration_since(t0).as_secs_f64()));
        }
    }
    Ok(samples)
}

/// Writes one message to each socket per go; sends the instant taken just
/// before the first write. Returns when the go channel closes.
fn write(
    mut sockets: Vec<TcpStream>,
    go: mpsc::Receiver<()>,
    started: mpsc::Sender<Instant>,
) -> anyhow::Result<()> {
    let message = [b'x'; MESSAGE];
    while go.recv().is_ok() {
        let t0 = Instant::now();
        for socket in &mut sockets {
            socket.write_all(&message).context("fan-out write")?;
        }
        let _ = started.send(t0);
    }
    Ok(())
}

/// Reads every socket on one current-thread runtime (epoll) and sends one
/// batch of receive times per round, once each socket got its message:
/// one wake-up of the main thread per round, not per socket, so the
/// collector does not compete with the readers for the cores.
fn read(sockets: Vec<TcpStream>, arrived: mpsc::Sender<Vec<Instant>>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let share = sockets.len();
    let batch = RefCell::new(Vec::with_capacity(share));
    runtime.block_on(async {
        let readers = sockets.into_iter().map(|socket| {
            let (batch, arrived) = (&batch, &arrived);
            async move {
                socket.set_nonblocking(true)?;
                let mut stream = tokio::net::TcpStream::from_std(socket)?;
                let mut buf = [0u8; MESSAGE];
                loop {
                    match stream.read_exact(&mut buf).await {
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(e.into()),
                    }
                    let at = Instant::now();
                    let mut times = batch.borrow_mut();
                    times.push(at);
                    // The writers wait for this round to complete, so no
                    // socket can add a time of the next round before here.
                    if times.len() == share {
                        let full = std::mem::replace(&mut *times, Vec::with_capacity(share));
                        let _ = arrived.send(full);
                    }
                }
                anyhow::Ok(())
            }
        });
        futures_util::future::join_all(readers)
            .await
            .into_iter()
            .collect::<anyhow::Result<Vec<()>>>()
    })?;
    Ok(())
}
