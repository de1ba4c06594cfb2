//! The client half of the command line: talks to a running server over
//! HTTP and WebSocket (`run`, `status`, `cancel`, `kill`, `log`, `monitor`,
//! `guest`). It never touches the storage directory, except to read the
//! first-run `admin.key` as a fallback key on the server's own host.
//!
//! - [`api`]: the typed API client and the monitor WebSocket.
//! - [`history`]: `history` and `events` (audit queries, `--follow`).
//! - [`error`]: [`ClientError`], the one-line messages the CLI prints.
//! - [`args`]: the clap arguments of the client commands.
//! - [`command`]: runs one client command and picks the exit code.
//! - [`wait`], [`display`]: `run --wait` — follow one run, draw progress.
//! - [`render`]: human-readable tables and lines.
//! - [`tls`]: which CA an `https://` server is verified against.
//! - [`when`]: parsing `--at` / `--expires` times.

pub mod api;
pub mod args;
pub mod command;
pub mod display;
pub mod error;
pub mod history;
pub mod render;
pub mod tls;
pub mod wait;
pub mod when;

pub use api::{Client, Monitor};
pub use args::{ClientCommand, Remote};
pub use command::execute;
pub use error::ClientError;
