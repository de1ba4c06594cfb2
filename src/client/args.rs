//! The clap arguments of the client commands. `cli.rs` flattens
//! [`ClientCommand`] into the top-level command list, so these read as
//! `scriptd run …`, `scriptd status …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::when;

/// Where the server is, which key to use, and how to print.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Server URL, or host:port for http://host:port (default: where the
    /// server running on STORAGE listens, as its STORAGE/server.json says;
    /// else the address it is configured to listen on: --listen,
    /// SCRIPTD_LISTEN or the config file, else 127.0.0.1:9893).
    #[arg(long, env = "SCRIPTD_URL")]
    pub url: Option<String>,
    /// API key (default: STORAGE/admin.key when it exists).
    #[arg(long = "api-key", env = "SCRIPTD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print JSON: the server's reply, and errors as
    /// {"success":false,"error","errorcode"} on stdout.
    #[arg(long)]
    pub json: bool,
    /// CA certificate (PEM) to verify an https:// server with (default:
    /// STORAGE/tls/ca.pem when it exists, else the system's roots).
    #[arg(long, value_name = "FILE", env = "SCRIPTD_CA")]
    pub ca: Option<PathBuf>,
}

/// What `run --help` ends with.
const RUN_EXIT_CODES: &str = "\
Exit codes with --wait:
  0    the run succeeded (or is a -n script)
  1-255  the script's own exit code when it failed
  128+N  killed by signal N (kill, or the server's SIGKILL)
  124  timed out (-t)
  125  cancelled before it started
  127  could not start (no such program, user, directory...)
  75   interrupted: the server stopped while it ran
  130  detached with Ctrl-C: the run goes on
  1    an error of scriptd itself (connection, key, unknown script)
  2    a usage error";

/// The commands that talk to a running server.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Start a script; with --wait, follow it and exit with its exit code.
    Run(RunArgs),
    /// Show what is queued and running, or one run's details.
    Status {
        /// A run id or a unique prefix of one; without it, every queued
        /// and running run.
        id: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Cancel a queued run (a running one is stopped with `kill`).
    Cancel {
        /// The run id, or a unique prefix of it.
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop a running run (SIGTERM, then SIGKILL; a queued one is removed with `cancel`).
    Kill {
        /// The run id, or a unique prefix of it.
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Print a run's captured output.
    Log {
        /// The run id, or a unique prefix of it.
        id: String,
        /// Keep printing the output as the run writes it; ends when the run ends.
        #[arg(long, short = 'f')]
        follow: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Print one line per push as runs start and finish; reconnects
    /// (missing nothing) when the server restarts.
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
    /// List the scripts this key may use, with their options.
    Scripts {
        #[command(flatten)]
        remote: Remote,
    },
    /// List the scheduled scripts: expression, zone, next starts (in
    /// your time) and the last tick.
    Schedules {
        #[command(flatten)]
        remote: Remote,
    },
    /// Pause or resume a script's schedule (owner only).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Manage webhooks: URLs told when runs fail (or start, succeed…),
    /// signed with a secret (owner only).
    #[command(subcommand)]
    Hook(HookCommand),
}

/// `scriptd hook …`
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Add a webhook; its signing secret is shown once.
    Add {
        /// Where to POST (http or https; internal addresses only if the
        /// server's hooks_allow opens them).
        #[arg(value_name = "URL")]
        target: String,
        /// Which events, comma-separated: started, success, failed,
        /// timeout, killed, cancelled, interrupted, retrying (default:
        /// failed,timeout,interrupted).
        #[arg(long, value_delimiter = ',')]
        on: Vec<String>,
        /// Only this script's runs (default: every script).
        #[arg(long)]
        name: Option<String>,
        /// The body: json, or slack for {"text": …} (Slack, Mattermost,
        /// Discord's Slack-compatible endpoint).
        #[arg(long)]
        format: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List webhooks, newest first (paused ones with the reason).
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove a webhook; its pending deliveries are dropped.
    Remove {
        /// The hook's id (`scriptd hook list`).
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Recent deliveries, newest first: attempts, HTTP status, error.
    Deliveries {
        /// Only this hook's.
        id: Option<String>,
        /// At most this many (1-1000, default 100).
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// `scriptd schedule …`
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Stop starting the script by its schedule, on every node, until resumed.
    Pause {
        /// The scheduled script.
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Start the script by its schedule again; the ticks missed while
    /// paused are caught up as its `-C` says.
    Resume {
        /// The scheduled script.
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
}

/// `scriptd run …`
#[derive(Debug, Args)]
#[command(after_help = RUN_EXIT_CODES)]
pub struct RunArgs {
    /// Script name from the exectab.
    pub name: String,
    /// Arguments substituted for @@1, @@2, … (use `--` before ones that start with `-`).
    pub args: Vec<String>,
    /// Pass this file (or `-` for standard input) as the run's stdin.
    #[arg(long, value_name = "FILE|-")]
    pub stdin: Option<PathBuf>,
    /// Start no earlier than TIME: RFC 3339, a date, UNIX seconds or +30s/+5m/+2h/+1d.
    #[arg(long, value_name = "TIME", value_parser = when::time_arg, allow_hyphen_values = true)]
    pub at: Option<i64>,
    /// Print the run's id and its output as it comes, with its progress,
    /// and exit with its exit code (see below); Ctrl-C detaches.
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
        /// When the key stops working: RFC 3339, a date, UNIX seconds or +30s/+5m/+2h/+1d.
        #[arg(long, value_name = "TIME", value_parser = when::time_arg, allow_hyphen_values = true)]
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
        /// The guest's id (`scriptd guest list`).
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
            | ClientCommand::Monitor { remote, .. }
            | ClientCommand::Scripts { remote }
            | ClientCommand::Schedules { remote } => remote,
            ClientCommand::Schedule(
                ScheduleCommand::Pause { remote, .. } | ScheduleCommand::Resume { remote, .. },
            ) => remote,
            ClientCommand::Guest(
                GuestCommand::Create { remote, .. }
                | GuestCommand::List { remote }
                | GuestCommand::Delete { remote, .. },
            ) => remote,
            ClientCommand::Hook(
                HookCommand::Add { remote, .. }
                | HookCommand::List { remote }
                | HookCommand::Remove { remote, .. }
                | HookCommand::Deliveries { remote, .. },
            ) => remote,
        }
    }
}
