//! The client half of the command line: talks to a running server over
//! HTTP and WebSocket (`run`, `status`, `cancel`, `kill`, `log`, `monitor`,
//! `guest`, `scripts`, `hook`). It never touches the storage directory, except to
//! read the first-run `admin.key` as a fallback key on the server's own host.
//!
//! - [`target`]: where a command goes (URL) and which key it sends.
//! - [`api`]: the typed API client and the monitor WebSocket; `reply`
//!   turns answers and failures into [`ClientError`]s.
//! - [`history`]: `history` and `events` (audit queries, `--follow`).
//! - [`error`]: [`ClientError`], the one-line messages the CLI prints.
//! - [`args`]: the clap arguments of the client commands; [`hoist`]:
//!   their connection options also before the subcommand.
//! - [`command`]: runs one client command and picks the exit code.
//! - [`wait`], [`display`], [`follow`]: `run --wait` and `log --follow`:
//!   follow one run, its output and its progress.
//! - [`monitor`]: `monitor`, reconnecting across server restarts.
//! - [`hooks`]: `hook add|list|remove|deliveries`.
//! - [`run_id`]: unique run-id prefixes.
//! - [`render`], [`scripts`], [`status_table`]: human-readable tables
//!   and lines (tables show the short id: its last 12 hex digits).
//! - [`tls`]: which CA an `https://` server is verified against.
//! - [`when`]: the one parser and printer of times.

pub mod api;
pub mod args;
pub mod command;
pub mod display;
pub mod error;
pub mod follow;
pub mod help;
pub mod history;
pub mod hoist;
pub mod hooks;
pub mod monitor;
pub mod render;
mod reply;
pub mod run_id;
pub mod schedules;
pub mod scripts;
pub mod status_table;
pub mod target;
pub mod tls;
pub mod wait;
pub mod when;

pub use api::{Client, Monitor};
pub use args::{ClientCommand, Remote};
pub use command::execute;
pub use error::ClientError;
