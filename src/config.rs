//! Server settings: defaults, overridden by a TOML file, then by
//! environment variables and flags (clap merges those two).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::status_mode::StatusFileMode;

/// The config a package installs; client commands read it when no
/// `--config` is given, so they follow the packaged server's `listen` and
/// `tls`.
pub const SYSTEM_CONFIG: &str = "/etc/scriptd/scriptd.toml";

/// Default listen address of the original server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9893";

/// Everything the server needs to know at start.
#[derive(Debug, Clone)]
pub struct Config {
    pub storage: PathBuf,
    /// Where the events live: `None` for SQLite in the storage directory,
    /// or a `postgres://` URL (`database`, `--database`, `SCRIPTD_DATABASE`).
    pub database: Option<String>,
    pub listen: String,
    /// Between SIGTERM and SIGKILL when a run is killed.
    pub kill_grace: Duration,
    /// How long a graceful shutdown waits for running processes.
    pub shutdown_grace: Duration,
    /// Per-run cap of the captured output log.
    pub log_cap_bytes: u64,
    /// Request body cap.
    pub body_cap_bytes: usize,
    /// Stdin cap for `-i` scripts.
    pub stdin_cap_bytes: usize,
    /// Timeouts, connection limits and quotas against hostile clients.
    pub limits: crate::limits::Limits,
    /// Runs start from a clean environment (PATH, LANG, the user variables
    /// and `-e`) instead of the server's.
    pub clean_env: bool,
    /// Which runs get a status file.
    pub status_files: StatusFileMode,
    /// Log format and level.
    pub log: crate::telemetry::LogConfig,
    /// Online retention: prune runs finished longer ago than this (off when None).
    pub retention: Option<Duration>,
    /// Retention removes the runs' history rows too, not only events and logs.
    pub retention_all: bool,
    /// How often the server runs a retention pass.
    pub retention_interval: Duration,
    /// Where status files go instead of the storage (`status_dir`).
    pub status_dir: Option<PathBuf>,
    /// Mode of status files (`status_mode`, default owner only).
    pub status_mode: u32,
    /// Group of status files and their folders (`status_group`).
    pub status_group: Option<String>,
    /// How runs are tracked: `auto`, `off` or a cgroup path (`cgroup`).
    pub cgroup: String,
    /// Below this much free space in the storage, `/healthz` is degraded.
    pub min_free_bytes: u64,
    /// How long an idle keep-alive connection stays open (the original: 30 s).
    pub keep_alive: Duration,
    /// HTTPS/WSS on the listener.
    pub tls: TlsSettings,
    /// A cluster node renews its lease this often (`lease_renew_ms`,
    /// `--lease-renew-ms`; PostgreSQL only).
    pub lease_renew: Duration,
    /// For this long (`lease_ms`, `--lease-ms`): a node silent for longer
    /// is lost, and its running runs end `interrupted`.
    pub lease_ttl: Duration,
    /// This node's name in a cluster (`node`, `--node`, `SCRIPTD_NODE`;
    /// default the host name). Recorded with the runs it starts on
    /// PostgreSQL; SQLite is always one node and records none.
    pub node: String,
    /// The IANA zone schedules are read in when their line has no `-z`
    /// (`timezone`; default UTC).
    pub timezone: String,
    /// What internal targets users' webhooks may reach (`hooks_allow`:
    /// CIDRs and host names); nothing internal by default.
    pub hooks_allow: crate::hook::target::AllowList,
    /// Webhooks' fold window and give-up time (`hooks_fold_window_secs`,
    /// `hooks_give_up_after_secs`; default a minute and a day).
    pub hooks: crate::hook::limits::HookLimits,
    /// Sign-in through OpenID Connect (`[oidc]`), when configured.
    pub oidc: Option<std::sync::Arc<crate::oidc::OidcSettings>>,
    /// The config file these settings were read from, if any: `serve`
    /// re-reads its `[oidc]` grants and lifetimes on SIGHUP.
    pub file: Option<PathBuf>,
}

impl Config {
    /// Defaults with this storage directory.
    pub fn new(storage: impl Into<PathBuf>) -> Self {
        Config {
            storage: storage.into(),
            database: None,
            listen: DEFAULT_LISTEN.to_owned(),
            kill_grace: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
            log_cap_bytes: 10 * 1024 * 1024,
            body_cap_bytes: 2 * 1024 * 1024,
            stdin_cap_bytes: 1024 * 1024,
            limits: crate::limits::Limits::default(),
            clean_env: false,
            status_files: StatusFileMode::default(),
            log: crate::telemetry::LogConfig::default(),
            retention: None,
            retention_all: false,
            retention_interval: Duration::from_secs(3600),
            status_dir: None,
            status_mode: 0o600,
            status_group: None,
            cgroup: "auto".to_owned(),
            min_free_bytes: 64 * 1024 * 1024,
            keep_alive: Duration::from_secs(30),
            tls: TlsSettings::default(),
            lease_renew: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(10),
            node: host_name(),
            timezone: "UTC".to_owned(),
            hooks_allow: crate::hook::target::AllowList::default(),
            hooks: crate::hook::limits::HookLimits::default(),
            oidc: None,
            file: None,
        }
    }

    /// Reads `[oidc]` again from the config file, checked as at start;
    /// `None` when the file has no such section.
    pub fn reread_oidc(file: &Path) -> Result<Option<crate::oidc::OidcSettings>, ConfigError> {
        let oidc = FileConfig::load(file)?.oidc;
        Ok(oidc.map(crate::oidc::OidcFile::check).transpose()?)
    }

    /// The lease settings, checked (a lease outlives a late renewal). A
    /// node that rejoins after losing its lease gives the runs it stopped
    /// the kill grace and two seconds to record their own ends.
    pub fn lease_times(&self) -> Result<crate::cluster::LeaseTimes, crate::cluster::BadLeaseTimes> {
        let settle = self.kill_grace + Duration::from_secs(2);
        crate::cluster::LeaseTimes::new(self.lease_renew, self.lease_ttl, settle)
    }

    /// The SQLite database file (used when no `database` URL is set).
    pub fn database_path(&self) -> PathBuf {
        self.storage.join("scriptd.db")
    }

    /// Where the events live: the PostgreSQL database of `database`, else
    /// the SQLite file in the storage directory.
    pub fn database(&self) -> crate::events::Location {
        match &self.database {
            Some(url) => crate::events::Location::Postgres(url.clone()),
            None => crate::events::Location::Sqlite(self.database_path()),
        }
    }

    /// Whether `serve` has made this storage: its SQLite database, or with
    /// PostgreSQL its lock file (the events are elsewhere, the node's
    /// files are here).
    pub fn storage_exists(&self) -> bool {
        match self.database {
            Some(_) => self.storage.join("scriptd.lock").is_file(),
            None => self.database_path().is_file(),
        }
    }

    /// Whether the events live in PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.database.is_some()
    }

    /// `<storage>/<user>/scripts/logs/<run>.log`.
    pub fn log_path(&self, user: crate::ids::UserId, run: crate::ids::RunId) -> PathBuf {
        self.scripts_dir(user)
            .join("logs")
            .join(format!("{run}.log"))
    }

    /// `<storage>/<user>/scripts`.
    pub fn scripts_dir(&self, user: crate::ids::UserId) -> PathBuf {
        self.storage.join(user.to_string()).join("scripts")
    }
}

/// The host name, the default node name ("localhost" if it cannot be read).
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A `node` value: a short printable name without spaces.
pub fn node_name(name: String) -> Result<String, ConfigError> {
    let valid = !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_graphic());
    match valid {
        true => Ok(name),
        false => Err(ConfigError::Value {
            key: "node",
            why: "must be 1 to 128 printable ASCII characters without spaces",
        }),
    }
}

/// The TOML file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub storage: Option<PathBuf>,
    /// `postgres://…`: keep the events in PostgreSQL instead of SQLite.
    pub database: Option<String>,
    pub listen: Option<String>,
    pub kill_grace_secs: Option<f64>,
    pub shutdown_grace_secs: Option<f64>,
    pub log_cap_bytes: Option<u64>,
    pub body_cap_bytes: Option<usize>,
    pub limits: Option<crate::limits::LimitsFile>,
    pub clean_env: Option<bool>,
    pub status_files: Option<StatusFileMode>,
    pub log_format: Option<crate::telemetry::LogFormat>,
    pub log_level: Option<String>,
    /// Prune finished runs older than this many days (events and logs).
    pub retention_days: Option<u32>,
    /// With retention, also remove the runs' history rows.
    pub retention_remove_history: Option<bool>,
    pub status_dir: Option<PathBuf>,
    pub status_mode: Option<u32>,
    pub status_group: Option<String>,
    pub cgroup: Option<String>,
    pub min_free_bytes: Option<u64>,
    pub keep_alive_secs: Option<f64>,
    /// `true`: TLS even on loopback; `false`: plain HTTP everywhere.
    pub tls: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_names: Option<Vec<String>>,
    /// Cluster lease renewal interval, in milliseconds (default 1000).
    pub lease_renew_ms: Option<u64>,
    /// Cluster lease length, in milliseconds (default 10000).
    pub lease_ms: Option<u64>,
    /// This node's name in a cluster (default: the host name).
    pub node: Option<String>,
    /// The IANA zone of schedules without `-z` (default UTC).
    pub timezone: Option<String>,
    /// Internal networks and hosts webhooks may reach: CIDRs such as
    /// `"127.0.0.1/32"` and host names (default: none).
    pub hooks_allow: Option<Vec<String>>,
    /// At most one delivery per hook and script in this many seconds
    /// (default 60, at least 1); the others are folded into the next.
    pub hooks_fold_window_secs: Option<f64>,
    /// A delivery failing this many seconds is given up and its hook
    /// paused (default 86400, at least 1).
    pub hooks_give_up_after_secs: Option<f64>,
    /// Sign-in through OpenID Connect, with its grants.
    pub oidc: Option<crate::oidc::OidcFile>,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid value for {key}: {why}")]
    Value {
        key: &'static str,
        why: &'static str,
    },
    #[error(transparent)]
    Oidc(#[from] crate::oidc::settings::BadOidc),
}

/// A `database` value: a `postgres://` (or `postgresql://`) URL.
pub fn database_url(url: String) -> Result<String, ConfigError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url)
    } else {
        Err(ConfigError::Value {
            key: "database",
            why: "must be a postgres:// URL (leave it out for SQLite in the storage directory)",
        })
    }
}

fn seconds(key: &'static str, value: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value).map_err(|_| ConfigError::Value {
        key,
        why: "must be a non-negative number of seconds",
    })
}

impl FileConfig {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Applies the file on top of `config` (flags and env are applied after).
    pub fn apply(self, config: &mut Config) -> Result<(), ConfigError> {
        self.apply_tls(&mut config.tls);
        if let Some(storage) = self.storage {
            config.storage = storage;
        }
        if let Some(url) = self.database {
            config.database = Some(database_url(url)?);
        }
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(oidc) = self.oidc {
            config.oidc = Some(std::sync::Arc::new(oidc.check()?));
        }
        if let Some(zone) = self.timezone {
            if crate::schedule::Cron::parse("@daily", &zone).is_err() {
                return Err(ConfigError::Value {
                    key: "timezone",
                    why: "must be an IANA time zone such as Europe/Berlin",
                });
            }
            config.timezone = zone;
        }
        if let Some(secs) = self.kill_grace_secs {
            config.kill_grace = seconds("kill_grace_secs", secs)?;
        }
        if let Some(secs) = self.shutdown_grace_secs {
            config.shutdown_grace = seconds("shutdown_grace_secs", secs)?;
        }
        if let Some(cap) = self.log_cap_bytes {
            config.log_cap_bytes = cap;
        }
        if let Some(cap) = self.body_cap_bytes {
            config.body_cap_bytes = cap;
        }
        if let Some(limits) = self.limits {
            limits.apply(&mut config.limits)?;
        }
        if let Some(clean) = self.clean_env {
            config.clean_env = clean;
        }
        if let Some(mode) = self.status_files {
            config.status_files = mode;
        }
        if let Some(format) = self.log_format {
            config.log.format = format;
        }
        config.log.file_level = self.log_level.or(config.log.file_level.take());
        if let Some(days) = self.retention_days {
            if days == 0 {
                return Err(ConfigError::Value {
                    key: "retention_days",
                    why: "must be at least 1 (leave it out to keep everything)",
                });
            }
            config.retention = Some(Duration::from_secs(u64::from(days) * 86_400));
        }
        if let Some(all) = self.retention_remove_history {
            config.retention_all = all;
        }
        if let Some(dir) = self.status_dir {
            config.status_dir = Some(dir);
        }
        if let Some(mode) = self.status_mode {
            if mode > 0o777 {
                return Err(ConfigError::Value {
                    key: "status_mode",
                    why: "must be a file mode such as 0o640",
                });
            }
            config.status_mode = mode;
        }
        if let Some(group) = self.status_group {
            config.status_group = Some(group);
        }
        if let Some(cgroup) = self.cgroup {
            if !(cgroup == "auto" || cgroup == "off" || cgroup.starts_with('/')) {
                return Err(ConfigError::Value {
                    key: "cgroup",
                    why: "must be \"auto\", \"off\" or a cgroup path such as \"/scriptd\"",
                });
            }
            config.cgroup = cgroup;
        }
        if let Some(bytes) = self.min_free_bytes {
            config.min_free_bytes = bytes;
        }
        if let Some(secs) = self.keep_alive_secs {
            config.keep_alive = seconds("keep_alive_secs", secs)?;
        }
        if let Some(ms) = self.lease_renew_ms {
            config.lease_renew = Duration::from_millis(ms);
        }
        if let Some(ms) = self.lease_ms {
            config.lease_ttl = Duration::from_millis(ms);
        }
        if let Some(node) = self.node {
            config.node = node_name(node)?;
        }
        if let Some(allow) = self.hooks_allow {
            config.hooks_allow =
                crate::hook::target::AllowList::parse(&allow).map_err(|_| ConfigError::Value {
                    key: "hooks_allow",
                    why: "entries must be CIDRs (10.0.0.0/8), addresses or host names",
                })?;
        }
        let (fold, give_up) = (self.hooks_fold_window_secs, self.hooks_give_up_after_secs);
        apply_hook_limits(fold, give_up, &mut config.hooks)
    }

    fn apply_tls(&self, tls: &mut TlsSettings) {
        if let Some(on) = self.tls {
            tls.mode = if on { TlsMode::On } else { TlsMode::Off };
        }
        if let Some(cert) = &self.tls_cert {
            tls.cert = Some(cert.clone());
        }
        if let Some(key) = &self.tls_key {
            tls.key = Some(key.clone());
        }
        if let Some(names) = &self.tls_names {
            tls.names = names.clone();
        }
    }
}

/// `hooks_fold_window_secs` and `hooks_give_up_after_secs` on top of `hooks`.
fn apply_hook_limits(
    fold: Option<f64>,
    give_up: Option<f64>,
    hooks: &mut crate::hook::limits::HookLimits,
) -> Result<(), ConfigError> {
    use crate::hook::limits::seconds;
    let why = "must be a number of seconds, at least 1";
    if let Some(secs) = fold {
        hooks.fold_window = seconds(secs).map_err(|_| ConfigError::Value {
            key: "hooks_fold_window_secs",
            why,
        })?;
    }
    if let Some(secs) = give_up {
        hooks.give_up_after = seconds(secs).map_err(|_| ConfigError::Value {
            key: "hooks_give_up_after_secs",
            why,
        })?;
    }
    Ok(())
}

impl From<crate::limits::InvalidLimit> for ConfigError {
    fn from(invalid: crate::limits::InvalidLimit) -> Self {
        ConfigError::Value {
            key: invalid.key,
            why: invalid.why,
        }
    }
}

/// Whether the operator asked for TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP on loopback, TLS anywhere else.
    #[default]
    Auto,
    /// `--tls` / `tls = true`.
    On,
    /// `--no-tls` / `tls = false`.
    Off,
}

/// TLS settings (flags and config file).
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    pub mode: TlsMode,
    /// The operator's certificate chain (PEM), with `key`.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Extra names for the generated server certificate.
    pub names: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::LogFormat;

    fn apply(text: &str) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).expect("toml");
        let mut config = Config::new("s");
        file.apply(&mut config).map(|()| config)
    }

    #[test]
    fn service_keys_are_read_and_retention_stays_off_unless_set() {
        let config = apply("").expect("empty file");
        assert_eq!(config.retention, None);
        assert_eq!(config.log.format, LogFormat::Text);
        let config = apply(
            "log_format = \"json\"\nlog_level = \"debug\"\nretention_days = 90\nretention_remove_history = true\n",
        )
        .expect("file");
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.file_level.as_deref(), Some("debug"));
        assert_eq!(config.retention, Some(Duration::from_secs(90 * 86_400)));
        assert!(config.retention_all);
        assert!(apply("retention_days = 0").is_err(), "0 days is refused");
        assert!(toml::from_str::<FileConfig>("log_format = \"xml\"").is_err());
    }

    #[test]
    fn lease_times_default_to_one_and_ten_seconds_and_are_read_in_milliseconds() {
        let config = apply("").expect("empty file");
        assert_eq!(
            (config.lease_renew, config.lease_ttl),
            (Duration::from_secs(1), Duration::from_secs(10))
        );
        let config = apply("lease_renew_ms = 200\nlease_ms = 2000\n").expect("file");
        assert_eq!(
            (config.lease_renew, config.lease_ttl),
            (Duration::from_millis(200), Duration::from_millis(2000))
        );
        let short = apply("lease_renew_ms = 200\nlease_ms = 300\n").expect("file");
        assert!(
            short.lease_times().is_err(),
            "a lease shorter than two renewals"
        );
    }

    #[test]
    fn hook_limits_default_to_a_minute_and_a_day_and_refuse_less_than_a_second() {
        let config = apply("").expect("empty file");
        assert_eq!(config.hooks, crate::hook::limits::HookLimits::default());
        let config =
            apply("hooks_fold_window_secs = 5\nhooks_give_up_after_secs = 3600\n").expect("file");
        assert_eq!(config.hooks.fold_window, Duration::from_secs(5));
        assert_eq!(config.hooks.give_up_after, Duration::from_secs(3600));
        for bad in [
            "hooks_fold_window_secs = 0.5",
            "hooks_give_up_after_secs = 0",
        ] {
            assert!(apply(bad).is_err(), "{bad}");
        }
    }
}
