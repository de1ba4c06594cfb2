//! Protection against hostile and careless clients: the timeouts, caps and
//! quotas in force (the `[limits]` table of the config file), with
//! defaults that a slow mobile client still meets. Only settings live
//! here; `http::guard` and `http::conn_limit` enforce the HTTP ones, the
//! account actor the quotas.

use std::time::Duration;

use serde::Deserialize;

/// A value of the `[limits]` table that cannot be used (the config
/// reports it as its own `ConfigError::Value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for {key}: {why}")]
pub struct InvalidLimit {
    pub key: &'static str,
    pub why: &'static str,
}

/// Every limit, with its default from [`Limits::default`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Until the request line and headers have arrived (answered 408).
    pub header_timeout: Duration,
    /// Longest pause between two pieces of a request body (answered 408).
    pub body_idle_timeout: Duration,
    /// Reading a whole request body may take no longer than this.
    pub request_deadline: Duration,
    /// A body read before the key is known (a form that may carry
    /// `apikey`) is capped at this.
    pub unauthenticated_body_cap: usize,
    /// Open connections in total; `None` = derived from the descriptor
    /// limit at start (three quarters of it, so files and the database
    /// always have descriptors left).
    pub max_connections: Option<usize>,
    /// Open connections per client address.
    pub max_connections_per_address: usize,
    /// Open WebSocket sessions per API key.
    pub max_websockets_per_key: usize,
    /// Total bytes of a run's `args`.
    pub args_cap_bytes: usize,
    /// Runs one user may have waiting to start.
    pub max_queued_runs_per_user: u64,
    /// Bytes (args, command and stdin) those waiting runs may hold.
    pub max_queued_bytes_per_user: u64,
    /// Size of one `events` or `history` reply, beyond its row limit.
    pub reply_cap_bytes: usize,
    /// Bearer token that reads the whole server's `/metrics`.
    pub metrics_token: Option<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            // 2 MiB at 200 kbit/s takes about 85 s.
            request_deadline: Duration::from_secs(120),
            unauthenticated_body_cap: 8 * 1024,
            max_connections: None,
            max_connections_per_address: 2048,
            max_websockets_per_key: 2048,
            // As much as stdin may carry.
            args_cap_bytes: 1024 * 1024,
            max_queued_runs_per_user: 10_000,
            max_queued_bytes_per_user: 64 * 1024 * 1024,
            reply_cap_bytes: 4 * 1024 * 1024,
            metrics_token: None,
        }
    }
}

/// The `[limits]` table; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub header_timeout_secs: Option<f64>,
    pub body_idle_timeout_secs: Option<f64>,
    pub request_deadline_secs: Option<f64>,
    pub unauthenticated_body_cap: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub max_websockets_per_key: Option<usize>,
    pub args_cap_bytes: Option<usize>,
    pub max_queued_runs_per_user: Option<u64>,
    pub max_queued_bytes_per_user: Option<u64>,
    pub reply_cap_bytes: Option<usize>,
    pub metrics_token: Option<String>,
}

fn seconds(key: &'static str, value: Option<f64>, into: &mut Duration) -> Result<(), InvalidLimit> {
    if let Some(value) = value {
        *into = Duration::try_from_secs_f64(value)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or(InvalidLimit {
                key,
                why: "must be a positive number of seconds",
            })?;
    }
    Ok(())
}

fn set<T>(value: Option<T>, into: &mut T) {
    if let Some(value) = value {
        *into = value;
    }
}

impl LimitsFile {
    /// Applies the table on top of `limits`.
    pub fn apply(self, limits: &mut Limits) -> Result<(), InvalidLimit> {
        seconds(
            "limits.header_timeout_secs",
            self.header_timeout_secs,
            &mut limits.header_timeout,
        )?;
        seconds(
            "limits.body_idle_timeout_secs",
            self.body_idle_timeout_secs,
            &mut limits.body_idle_timeout,
        )?;
        seconds(
            "limits.request_deadline_secs",
            self.request_deadline_secs,
            &mut limits.request_deadline,
        )?;
        set(
            self.unauthenticated_body_cap,
            &mut limits.unauthenticated_body_cap,
        );
        if self.max_connections.is_some() {
            limits.max_connections = self.max_connections;
        }
        set(
            self.max_connections_per_address,
            &mut limits.max_connections_per_address,
        );
        set(
            self.max_websockets_per_key,
            &mut limits.max_websockets_per_key,
        );
        set(self.args_cap_bytes, &mut limits.args_cap_bytes);
        set(
            self.max_queued_runs_per_user,
            &mut limits.max_queued_runs_per_user,
        );
        set(
            self.max_queued_bytes_per_user,
            &mut limits.max_queued_bytes_per_user,
        );
        set(self.reply_cap_bytes, &mut limits.reply_cap_bytes);
        if self.metrics_token.is_some() {
            limits.metrics_token = self.metrics_token.filter(|t| !t.is_empty());
        }
        Ok(())
    }
}

/// Raises the soft limit on open descriptors to the hard limit and returns
/// the limit now in force (`None` when it cannot be read).
pub fn raise_descriptor_limit() -> Option<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                tracing::info!(from = soft, to = hard, "raised the open file limit");
                return Some(hard);
            }
            Err(err) => tracing::warn!(error = %err, "cannot raise the open file limit"),
        }
    }
    Some(soft)
}
