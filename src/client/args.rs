//! The clap arguments of the client commands. `cli.rs` flattens
//! [`ClientCommand`] into the top-level command list, so these read as
//! `scriptd run …`, `scriptd status …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::when;

/// Where the server is, which key to use, and how to print.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Server URL.
    #[arg(long, env = "SCRIPTD_URL", default_value = "http://127.0.0.1:9893")]
    pub url: String,
    /// API key (default: <storage>/admin.key when it exists).
    #[arg(long = "api-key", env = "SCRIPTD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print the server's JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// CA certificate (PEM) to verify an https:// server with (default:
    /// <storage>/tls/ca.pem when it exists, else the system's roots).
    #[arg(long, value_name = "FILE", env = "SCRIPTD_CA")]
    pub ca: Option<PathBuf>,
}

/// The commands that talk to a running server.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Start a script; with --wait, follow it and exit with its exit code.
    Run(RunArgs),
    /// Show what is queued and running, or one run's details.
    Status {
        /// A run id; without it, every queued and running run.
        id: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Cancel a queued run.
    Cancel {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop a running run (SIGTERM, then SIGKILL).
    Kill {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Print a run's captured output.
    Log {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Print one line per push as runs start and finish.
    Monitor {
        /// Only this script (default: every script).
        name: Option<String>,
        /// Also queued, progress and cancelled pushes.
        #[arg(long)]
        verbose: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Manage guest keys (limited to one script).
    #[command(subcommand)]
    Guest(GuestCommand),
}

/// `scriptd run …`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Script name from the exectab.
    pub name: String,
    /// Arguments substituted for @@1, @@2, … (use `--` before ones that start with `-`).
    pub args: Vec<String>,
    /// Pass this file (or `-` for standard input) as the run's stdin.
    #[arg(long, value_name = "FILE|-")]
    pub stdin: Option<PathBuf>,
    /// Start no earlier than TIME: UNIX seconds, RFC 3339 or +30s/+5m/+2h/+1d.
    #[arg(long, value_name = "TIME", value_parser = when::time_arg)]
    pub at: Option<i64>,
    /// Follow the run with a progress display and exit with its exit code.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// `scriptd guest …`
#[derive(Debug, Subcommand)]
pub enum GuestCommand {
    /// Create a guest key for one script (the key is shown once).
    Create {
        /// The one script this guest may use.
        name: String,
        /// Allow starting runs.
        #[arg(long)]
        run: bool,
        /// Allow cancelling and killing runs.
        #[arg(long)]
        cancel: bool,
        /// Allow reading status.
        #[arg(long)]
        status: bool,
        /// Allow monitoring.
        #[arg(long)]
        monitor: bool,
        /// When the key stops working: UNIX seconds, RFC 3339 or +30s/+5m/+2h/+1d.
        #[arg(long, value_name = "TIME", value_parser = when::time_arg)]
        expires: i64,
        #[command(flatten)]
        remote: Remote,
    },
    /// List guests, newest first.
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a guest; its key stops working at once.
    Delete {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

impl ClientCommand {
    /// The connection options of this command.
    pub fn remote(&self) -> &Remote {
        match self {
            ClientCommand::Run(args) => &args.remote,
            ClientCommand::Status { remote, .. }
            | ClientCommand::Cancel { remote, .. }
            | ClientCommand::Kill { remote, .. }
            | ClientCommand::Log { remote, .. }
            | ClientCommand::Monitor { remote, .. } => remote,
            ClientCommand::Guest(
                GuestCommand::Create { remote, .. }
                | GuestCommand::List { remote }
                | GuestCommand::Delete { remote, .. },
            ) => remote,
        }
    }
}
