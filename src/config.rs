//! Server settings: defaults, overridden by a TOML file, then by
//! environment variables and flags (clap merges those two).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::status_mode::StatusFileMode;

/// Default listen address of the original server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9893";

/// Everything the server needs to know at start.
#[derive(Debug, Clone)]
pub struct Config {
    pub storage: PathBuf,
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
    /// Which runs get a status file.
    pub status_files: StatusFileMode,
    /// How long an idle keep-alive connection stays open (the original: 30 s).
    pub keep_alive: Duration,
    /// HTTPS/WSS on the listener.
    pub tls: crate::http::tls::TlsSettings,
}

impl Config {
    /// Defaults with this storage directory.
    pub fn new(storage: impl Into<PathBuf>) -> Self {
        Config {
            storage: storage.into(),
            listen: DEFAULT_LISTEN.to_owned(),
            kill_grace: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
            log_cap_bytes: 10 * 1024 * 1024,
            body_cap_bytes: 2 * 1024 * 1024,
            stdin_cap_bytes: 1024 * 1024,
            status_files: StatusFileMode::default(),
            keep_alive: Duration::from_secs(30),
            tls: crate::http::tls::TlsSettings::default(),
        }
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.storage.join("scriptd.db")
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

/// The TOML file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub storage: Option<PathBuf>,
    pub listen: Option<String>,
    pub kill_grace_secs: Option<f64>,
    pub shutdown_grace_secs: Option<f64>,
    pub log_cap_bytes: Option<u64>,
    pub body_cap_bytes: Option<usize>,
    pub status_files: Option<StatusFileMode>,
    pub keep_alive_secs: Option<f64>,
    /// `true`: TLS even on loopback; `false`: plain HTTP everywhere.
    pub tls: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_names: Option<Vec<String>>,
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
        if let Some(listen) = self.listen {
            config.listen = listen;
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
        if let Some(mode) = self.status_files {
            config.status_files = mode;
        }
        if let Some(secs) = self.keep_alive_secs {
            config.keep_alive = seconds("keep_alive_secs", secs)?;
        }
        Ok(())
    }

    fn apply_tls(&self, tls: &mut crate::http::tls::TlsSettings) {
        use crate::http::tls::TlsMode;
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
