//! scriptd: a self-hosted server that runs named, long-running scripts on
//! request, queues them, follows their progress and tells monitors the
//! moment a run starts or ends. Wire-compatible with the `/scripts/v1` API
//! of the PHP "Cloud Storage Server /scripts extension".
//!
//! # Layout
//! - [`app`]: builds the server (used by `main` and the tests).
//! - [`run`]: the run domain, no actix: `RunState` + `apply(&Event)`,
//!   `PendingRun`, `Limits`, `StopReason`, the final records, what a
//!   status or push shows (`run::view`).
//! - [`events`]: typed events, the single-writer store, projections, queries;
//!   every stored event is read through `events::upcast::decode`, and every
//!   account change is an `events::account::AccountCommand`.
//! - [`rights`]: who may do what: a user's own key, a guest's rights and
//!   script, the owner-only endpoints, a signed-in person's roles;
//!   [`accounts`]: users, guests, keys, people.
//! - [`oidc`]: sign-in through OpenID Connect: settings and grants, the
//!   protocol (through the `openidconnect` crate), server-side sessions.
//! - [`actors`]: accounts, script queues, run processes, the monitor hub;
//!   children report up through recipients (`actors::run::Outlet`,
//!   `actors::queue::Outlet`).
//! - [`http`]: the `/scripts/v1` API over HTTP and WebSocket, and the
//!   dashboard page (`http::ui`).
//! - [`exectab`], [`progress`]: pure parsers of the script table and of
//!   progress lines.
//! - [`hook`]: webhooks' pure parts: the signature header, which targets
//!   a hook may reach (SSRF), the backoff of retries, triggers and body
//!   formats; the outbox rows are `events::outbox`, the delivery worker
//!   `actors::delivery`.
//! - [`output`]: runs' captured output (`GET log`), in files or database
//!   chunks.
//! - [`cluster`]: PostgreSQL's many nodes: the follower that tails the
//!   log for every node's commits (claims are `events::expect`), the
//!   nodes' leases, the rescuer of lost nodes' runs and the fence of a
//!   node that lost its lease.
//! - [`replay`]: startup recovery of unfinished runs (folded with
//!   `run::RunState`), and a failed queue's rebuild.
//! - [`retention`]: `admin prune` and the server's own `retention_days`,
//!   removing old runs' events and logs a batch at a time.
//! - [`schedule`]: recurring schedules' pure model (cron expression in a
//!   zone, next instants, catch-up plans); `actors::timer` fires them.
//! - [`service`]: systemd notifications (READY, STOPPING, watchdog).
//! - [`manual`]: `completions` and `man`, generated from the clap types.
//! - [`admin`], [`cli`]: the command line; [`check`]: `exectab check`.
//! - [`limits`]: timeouts, connection limits and quotas (settings).
//! - [`storage`]: who may read the storage (modes, umask) and where status
//!   files go; [`status_mode`]: which runs get a status file.
//! - [`backup`]: `admin backup`, a consistent copy of a running server;
//!   [`migrate`]: `admin migrate-to`, a SQLite storage moved to PostgreSQL.
//! - [`config`], [`telemetry`]: settings, and the text or JSON log.
//! - [`metrics`]: the counters behind `/metrics`; [`outcome`]: how a run
//!   ended (shared by events, metrics and the wire).
//! - [`ids`]: the identifier newtypes (`RunId`, `UserId`, `ScriptName`…);
//!   [`clock`]: the server's one notion of now; [`lock`]: the storage's
//!   single-server lock.
//! - [`client`]: the client commands that talk to a running server;
//!   [`address`]: where a running server listens, recorded in its storage.
//! - [`wire`]: one request and one reply type per endpoint, shared by the
//!   server, the WebSocket path, monitor pushes, the client and the tests;
//!   [`status`] fills the run shapes from a record.

pub mod accounts;
pub mod actors;
pub mod address;
pub mod admin;
pub mod app;
pub mod backup;
pub mod check;
pub mod cli;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod events;
pub mod exectab;
pub mod hook;
pub mod http;
pub mod ids;
pub mod limits;
pub mod lock;
pub mod manual;
pub mod metrics;
pub mod migrate;
pub mod oidc;
pub mod outcome;
pub mod output;
pub mod progress;
pub mod replay;
pub mod retention;
pub mod rights;
pub mod run;
pub mod schedule;
pub mod service;
pub mod status;
pub mod status_mode;
pub mod storage;
pub mod telemetry;
pub mod wire;

/// `scriptd --version`: the crate version and the git commit it was built
/// from ("unknown" when built outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SCRIPTD_GIT_COMMIT"),
    ")"
);
