//! The actors: AccountDirectory → AccountSupervisor (per user) →
//! ScriptQueue (per script) → RunProcess (per run), and the MonitorHub.
//! A parent owns its children's `Addr`s; a child reports up through the
//! `Outlet` of recipients it was handed at start, so modules depend one
//! way (run ← queue ← account ← directory). What a run *is* lives in
//! `crate::run`, with no actor in it. The `timer` fires schedules' ticks
//! into the accounts, like run requests; `delivery` sends webhooks'
//! outbox rows.

pub mod account;
pub mod delivery;
pub mod directory;
pub mod error;
pub mod monitor;
pub mod process;
pub mod queue;
pub mod run;
pub mod status_file;
pub mod timer;

use std::sync::Arc;

use actix::Addr;

pub use error::{Denial, RunError};

use crate::config::Config;
use crate::events::{EventStore, Readers};
use status_file::StatusFiles;

/// What every actor below the directory needs.
#[derive(Clone)]
pub struct Shared {
    pub store: Addr<EventStore>,
    /// Reads of the event log and read model (either backend).
    pub readers: Readers,
    pub config: Arc<Config>,
    pub status_files: StatusFiles,
    /// Counters and per-script gauges for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// How runs' processes are tracked (cgroup or process group).
    pub tracking: Arc<process::Tracking>,
    /// Where runs' captured output goes (files or database chunks).
    pub logs: crate::output::RunLogs,
    /// Up while this cluster node holds no valid lease: nothing starts.
    pub fence: crate::cluster::Fence,
}
