//! Test helpers, the one place tests get a server and talk to it:
//! - [`server`]: a real server, in this process ([`spawn_app`]) or as a
//!   `scriptd serve` child ([`child::Server`]), both configured by
//!   [`server::ServerSpec`];
//! - [`api`]: [`Api`], one typed method per endpoint, returning the
//!   `scriptd::wire` replies ([`api::Decoded`]);
//! - [`ws`]: the WebSocket client and the monitor helpers;
//! - [`cli`]: the `scriptd` binary as a client; [`child`]: the binary as a
//!   server, killed and restarted on the same storage;
//! - [`history`], [`raw`], [`sdk`], [`cgroup`]: paging, raw TCP, the PHP
//!   SDK's wire behaviour, a test cgroup; [`receiver`]: a webhook receiver;
//! - here: [`eventually`] for every wait, and small shared helpers.

pub mod api;
pub mod cgroup;
pub mod child;
pub mod cli;
pub mod cluster;
pub mod history;
pub mod oidc;
pub mod raw;
pub mod receiver;
pub mod run_stream;
pub mod sdk;
pub mod server;
pub mod ws;

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;

pub use api::Api;
pub use server::{
    config_for, spawn_app, spawn_app_on, spawn_app_over, spawn_app_with, Database, Scheme, TestApp,
};
pub use ws::WsClient;

/// How long any wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often a wait checks again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it returns `Some`, within [`DEADLINE`].
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    eventually_ok(what, || {
        let found = check().ok_or("not yet");
        async move { found }
    })
    .await
}

/// Polls an async `check` until it holds, within [`DEADLINE`].
pub async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_ok(what, || {
        let checked = check();
        async move { checked.await.then_some(()).ok_or("not yet") }
    })
    .await
}

/// Polls `check` until it holds (true) or the deadline passes (false), for
/// waits that must clean up (kill a child, say) before they fail.
pub async fn settles(mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !check() {
        if start.elapsed() >= DEADLINE {
            return false;
        }
        actix_rt::time::sleep(POLL).await;
    }
    true
}

/// [`eventually_ok`] for a check that needs `&mut` access to `state` (a
/// socket, a client with a connection) on every try.
pub async fn eventually_with<S, T, E: std::fmt::Display>(
    what: &str,
    state: &mut S,
    mut check: impl for<'a> FnMut(&'a mut S) -> LocalBoxFuture<'a, Result<T, E>>,
) -> T {
    let start = Instant::now();
    loop {
        match check(state).await {
            Ok(value) => return value,
            Err(last) => assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}: {last}"
            ),
        }
        actix_rt::time::sleep(POLL).await;
    }
}

/// Polls an async `check` until it returns `Ok`, within [`DEADLINE`]; a
/// timeout names `what` and the last `Err` (say, the last status seen).
pub async fn eventually_ok<T, E, F, Fut>(what: &str, check: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    eventually_within(DEADLINE, what, check).await
}

/// [`eventually_ok`] with a deadline of its own, for the few waits that
/// are known to take longer (draining thousands of runs).
pub async fn eventually_within<T, E, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}: {last}"
            ),
        }
        actix_rt::time::sleep(POLL).await;
    }
}

/// The wall clock in UNIX seconds, as the server reads it.
pub fn unix_now() -> i64 {
    scriptd::clock::now_secs()
}

/// Guest rights in the API's order: run, cancel, status, monitor.
pub type Rights = [bool; 4];

/// Whether the tests run as root (privilege tests need it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// For a test that needs root (cgroups, mounts, other users): true when it
/// may go on; as an ordinary user it says loudly on stderr that it is
/// skipped, and why, and returns false. CI runs as root, so there it runs.
pub fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    use std::io::Write as _;
    // Straight to fd 2: libtest captures `eprintln!`, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: needs root (CI runs as root; run the suite as root to include it)"
    );
    false
}
