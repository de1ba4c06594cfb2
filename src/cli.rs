//! The command line: `serve`, the `user` and `admin` commands that act on
//! the storage directory.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::json;

use crate::admin::{self, AdminError};
use crate::config::{Config, FileConfig};
use crate::events::store;

/// scriptd: run named scripts on request, queue them, follow their progress.
#[derive(Debug, Parser)]
#[command(name = "scriptd", version = crate::VERSION)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command line as parsed and documented (help, man pages,
    /// completions): a client command's help shows only what a client
    /// uses ([`crate::client::help`]).
    pub fn shaped() -> clap::Command {
        crate::client::help::for_clients(Cli::command())
    }

    /// Parses `args` (program name first) with [`Cli::shaped`].
    pub fn parse_args(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
        let matches = Cli::shaped().try_get_matches_from(args)?;
        Cli::from_arg_matches(&matches).map_err(|err| err.format(&mut Cli::shaped()))
    }
}

/// Options every command takes. Listed under their own heading, after
/// a command's own options: for a client command, its connection options
/// come first.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Storage directory (SQLite database, per-user scripts, status
    /// files, logs).
    #[arg(long, global = true, env = "SCRIPTD_STORAGE")]
    pub storage: Option<PathBuf>,
    /// Keep the events in this PostgreSQL database (postgres://USER@HOST/DB,
    /// `?sslmode=require` for TLS) instead of SQLite in the storage directory.
    #[arg(long, global = true, env = "SCRIPTD_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// The server's listen address, e.g. 127.0.0.1:9893 (port 0 picks a
    /// free one); client commands connect there when --url is not given.
    #[arg(long, global = true, env = "SCRIPTD_LISTEN")]
    pub listen: Option<String>,
    /// TOML configuration file (its `listen` is also where client commands connect).
    #[arg(long, global = true, env = "SCRIPTD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log line format on stderr (config `log_format`).
    #[arg(long, global = true, env = "SCRIPTD_LOG_FORMAT", value_enum)]
    pub log_format: Option<crate::telemetry::LogFormat>,
    /// Log filter, e.g. `debug` or `info,scriptd::run=warn`; wins over
    /// RUST_LOG, which wins over the config's `log_level`.
    #[arg(long, global = true, env = "SCRIPTD_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server.
    Serve(ServeArgs),
    /// Manage users (acts on the storage directory).
    #[command(subcommand)]
    User(UserCommand),
    /// Maintenance of the storage.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The client commands (`run`, `status`, …), talking to a running server.
    #[command(flatten)]
    Client(crate::client::ClientCommand),
    /// Finished runs, newest first, with who requested, cancelled or killed them.
    History(crate::client::history::HistoryArgs),
    /// This user's raw event log; --follow keeps printing new events.
    Events(crate::client::history::EventsArgs),
    /// Check exectab files (acts on files, no server needed).
    #[command(subcommand)]
    Exectab(ExectabCommand),
    /// Print a shell completion script (bash, zsh, fish, …) to stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or with --dir write it and one
    /// page per subcommand there.
    Man {
        /// Write scriptd.1 and one page per subcommand into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `scriptd exectab ...`
#[derive(Debug, Subcommand)]
pub enum ExectabCommand {
    /// Validate an exectab the way `nginx -t` does: each bad line with its
    /// number and why; exit 1 if any.
    Check {
        /// The file to check (default: every user's exectab.txt in the storage).
        file: Option<PathBuf>,
    },
}

/// `scriptd serve ...`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve HTTPS and WSS, even on loopback (default: TLS on any address
    /// but loopback).
    #[arg(long, conflicts_with = "no_tls")]
    pub tls: bool,
    /// Serve plain HTTP, even on a non-loopback address.
    #[arg(long)]
    pub no_tls: bool,
    /// PEM certificate chain to serve (default: one made under STORAGE/tls/).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Another name (host or IP) for the made certificate; repeatable.
    #[arg(long = "tls-name", value_name = "NAME")]
    pub tls_names: Vec<String>,
    /// Cluster (PostgreSQL): renew this node's lease every MS milliseconds
    /// (config `lease_renew_ms`, default 1000).
    #[arg(long, env = "SCRIPTD_LEASE_RENEW_MS", value_name = "MS")]
    pub lease_renew_ms: Option<u64>,
    /// Cluster (PostgreSQL): a node whose lease was not renewed for MS
    /// milliseconds is lost and its running runs end interrupted (config
    /// `lease_ms`, default 10000; at least twice --lease-renew-ms).
    #[arg(long, env = "SCRIPTD_LEASE_MS", value_name = "MS")]
    pub lease_ms: Option<u64>,
    /// This node's name when several servers share one PostgreSQL
    /// database (config `node`; default: the host name).
    #[arg(long, env = "SCRIPTD_NODE", value_name = "NAME", value_parser = node_arg)]
    pub node: Option<String>,
}

fn node_arg(name: &str) -> Result<String, crate::config::ConfigError> {
    crate::config::node_name(name.to_owned())
}

impl ServeArgs {
    /// Applies the flags on top of the file and environment settings.
    pub fn apply(self, config: &mut Config) {
        use crate::http::tls::TlsMode;
        if self.tls {
            config.tls.mode = TlsMode::On;
        }
        if self.no_tls {
            config.tls.mode = TlsMode::Off;
        }
        if let (Some(cert), Some(key)) = (self.tls_cert, self.tls_key) {
            config.tls.cert = Some(cert);
            config.tls.key = Some(key);
        }
        config.tls.names.extend(self.tls_names);
        if let Some(ms) = self.lease_renew_ms {
            config.lease_renew = std::time::Duration::from_millis(ms);
        }
        if let Some(ms) = self.lease_ms {
            config.lease_ttl = std::time::Duration::from_millis(ms);
        }
        if let Some(node) = self.node {
            config.node = node;
        }
    }
}

/// `scriptd user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print its API key (shown only this once).
    Add {
        /// The new user's name (letters, digits, '-', '_', '.').
        name: String,
        /// Allow this user to manage guest keys.
        #[arg(long)]
        guests: bool,
        /// Print {"id","name","apikey","exectab","guests"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user and its guest keys (files and history stay).
    Remove {
        /// The user's name.
        name: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace a user's API key; the old key stops working at once (for
    /// `admin`, STORAGE/admin.key gets the new key).
    RotateKey {
        /// The user's name.
        name: String,
        /// Print {"id","name","apikey"} as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `scriptd admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Rebuild the runs read model from the event log alone.
    Rebuild,
    /// Remove the events and log files of runs finished before a date
    /// (their history rows stay unless --all).
    Prune {
        /// RFC 3339, YYYY-MM-DD (midnight UTC), UNIX seconds or relative (-30d).
        #[arg(long, value_name = "DATE", allow_hyphen_values = true)]
        before: String,
        /// Remove the runs' history rows too.
        #[arg(long)]
        all: bool,
    },
    /// Write a consistent copy of the database to a new FILE, also while
    /// a server runs. Restore: put it in an empty storage dir as scriptd.db.
    Backup {
        /// The new file to write (it must not exist).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Switch an older database to incremental vacuum, so pruned space is
    /// given back to the file system (one full VACUUM; server stopped).
    Vacuum,
    /// Copy this SQLite storage's events, accounts, queued runs and run
    /// logs into an empty PostgreSQL database (server stopped); then serve
    /// with --database URL.
    MigrateTo {
        /// The target, e.g. postgres://scriptd@db.example/scriptd?sslmode=require
        #[arg(value_name = "URL")]
        url: String,
    },
}

impl UserCommand {
    /// Whether the output (and any error) is JSON.
    pub fn json(&self) -> bool {
        match self {
            UserCommand::Add { json, .. }
            | UserCommand::List { json }
            | UserCommand::Remove { json, .. }
            | UserCommand::RotateKey { json, .. } => *json,
        }
    }
}

/// A usage error: clap's text, or with `--json` anywhere on the command
/// line a JSON object on stdout; exit 2 either way. Help and version
/// print as usual.
pub fn usage_error(err: clap::Error) -> std::process::ExitCode {
    let json = std::env::args().any(|arg| arg == "--json");
    if !err.use_stderr() || !json {
        err.exit();
    }
    // The whole text but clap's trailing "For more information" line:
    // a usage error's second line often says what was missing.
    let text = err.render().to_string();
    let message = text
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join("\n");
    let message = message.trim_start_matches("error: ").to_owned();
    println!(
        "{}",
        json!({"success": false, "error": message, "errorcode": "usage"})
    );
    std::process::ExitCode::from(2)
}

/// Prints a failed `user` command: one line on stderr, or with `--json`
/// a JSON object on stdout; exit 1 either way.
pub fn admin_failed(err: &AdminError, json: bool) -> std::process::ExitCode {
    if json {
        println!(
            "{}",
            json!({"success": false, "error": err.to_string(), "errorcode": err.code()})
        );
    } else {
        eprintln!("scriptd: {err}");
    }
    std::process::ExitCode::FAILURE
}

pub use crate::config::SYSTEM_CONFIG;

impl Global {
    /// Defaults, then the config file, then env and flags.
    pub fn config(&self) -> Result<Config, crate::config::ConfigError> {
        self.config_or(None)
    }

    /// As [`Global::config`], reading `fallback` when no `--config` is
    /// given and that file exists (the client's [`SYSTEM_CONFIG`]).
    pub fn config_or(
        &self,
        fallback: Option<&std::path::Path>,
    ) -> Result<Config, crate::config::ConfigError> {
        let mut config = Config::new("scriptd-data");
        let fallback = fallback.filter(|path| path.is_file());
        if let Some(path) = self.config.as_deref().or(fallback) {
            FileConfig::load(path)?.apply(&mut config)?;
            config.file = Some(path.to_owned());
        }
        if let Some(storage) = &self.storage {
            config.storage = storage.clone();
        }
        if let Some(url) = &self.database {
            config.database = Some(crate::config::database_url(url.clone())?);
        }
        if let Some(listen) = &self.listen {
            config.listen = listen.clone();
        }
        if let Some(format) = self.log_format {
            config.log.format = format;
        }
        if let Some(level) = &self.log_level {
            config.log.level = Some(level.clone());
        }
        Ok(config)
    }
}

/// Only `serve` creates a storage; every other command refuses a
/// directory that holds none (a typo must not create an empty one).
pub fn existing_storage(config: &Config) -> Result<(), AdminError> {
    match config.storage_exists() {
        true => Ok(()),
        false => Err(AdminError::NoStorage(config.storage.clone())),
    }
}

async fn open(config: &Config) -> Result<store::Database, AdminError> {
    existing_storage(config)?;
    Ok(store::open(&config.database()).await?)
}

/// Runs a `user` command; returns what to print.
pub async fn user(config: &Config, command: UserCommand) -> Result<String, AdminError> {
    let mut db = open(config).await?;
    match command {
        UserCommand::Add { name, guests, json } => {
            let made = admin::add_user(&mut db, config, &name, guests).await?;
            Ok(if json {
                json!({"id": made.user.id, "name": made.user.name, "apikey": made.apikey,
                       "exectab": made.exectab, "guests": guests})
                .to_string()
            } else {
                format!(
                    "created user {} (id {})\nAPI key (shown once): {}\nexectab: {}",
                    made.user.name,
                    made.user.id,
                    made.apikey,
                    made.exectab.display()
                )
            })
        }
        UserCommand::List { json } => {
            let users = db.readers.users().await?;
            Ok(if json {
                let list: Vec<_> = users
                    .iter()
                    .map(|u| json!({"id": u.id, "name": u.name, "guests": u.guests, "created": u.created}))
                    .collect();
                serde_json::Value::from(list).to_string()
            } else {
                let mut out = format!("{:<6} {:<24} {:<7} {}", "ID", "NAME", "GUESTS", "CREATED");
                for u in users {
                    let created = crate::client::when::show(u.created as f64);
                    let guests = if u.guests { "yes" } else { "no" };
                    out.push_str(&format!(
                        "\n{:<6} {:<24} {:<7} {}",
                        u.id, u.name, guests, created
                    ));
                }
                out
            })
        }
        UserCommand::Remove { name, json } => {
            let user = admin::remove_user(&mut db, &name).await?;
            Ok(if json {
                json!({"id": user.id, "name": user.name, "removed": true}).to_string()
            } else {
                format!("removed user {} (id {})", user.name, user.id)
            })
        }
        UserCommand::RotateKey { name, json } => {
            let made = admin::rotate_key(&mut db, config, &name).await?;
            let key_file = admin::update_key_file(config, &made)?;
            Ok(if json {
                json!({"id": made.user.id, "name": made.user.name, "apikey": made.apikey})
                    .to_string()
            } else {
                let mut text = format!(
                    "new API key for {} (shown once): {}",
                    made.user.name, made.apikey
                );
                if let Some(path) = key_file {
                    text.push_str(&format!("\n{} now holds the new key", path.display()));
                }
                text
            })
        }
    }
}
