//! scriptd: a self-hosted server that runs named, long-running scripts on
//! request, queues them, follows their progress and tells monitors the
//! moment a run starts or ends. Wire-compatible with the `/scripts/v1` API
//! of the PHP "Cloud Storage Server /scripts extension".
//!
//! # Layout
//! - [`app`]: builds the server (used by `main` and the tests).
//! - [`events`]: typed events, the single-writer store, projections, queries.
//! - [`actors`]: accounts, script queues, run processes, the monitor hub.
//! - [`http`]: the `/scripts/v1` API over HTTP and WebSocket.
//! - [`exectab`], [`progress`]: pure parsers of the script table and of
//!   progress lines.
//! - [`replay`]: startup recovery of unfinished runs.
//! - [`retention`]: `admin prune`, removing old runs' events and logs.
//! - [`admin`], [`cli`]: the command line.
//! - [`client`]: the client commands that talk to a running server.

pub mod accounts;
pub mod actors;
pub mod admin;
pub mod app;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod events;
pub mod exectab;
pub mod http;
pub mod ids;
pub mod lock;
pub mod metrics;
pub mod progress;
pub mod replay;
pub mod retention;
pub mod status;
pub mod status_mode;
pub mod telemetry;
