//! tracing subscriber setup: text or JSON lines on stderr, colour only when
//! stderr is a terminal (and `NO_COLOR` is unset), so `serve 2> file` and
//! journald get plain lines.

use std::io::IsTerminal;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The default filter: scriptd at info, sqlx's per-statement lines off.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, message, fields).
    Json,
}

/// Logging settings, from the flags, the environment and the config file.
#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `--log-level` / `SCRIPTD_LOG_LEVEL`: wins over everything.
    pub level: Option<String>,
    /// `log_level` in the config file: used when neither the flag nor
    /// `RUST_LOG` is set.
    pub file_level: Option<String>,
}

impl LogConfig {
    /// The filter directives in force: flag, then `RUST_LOG`, then the file.
    pub fn directives(&self) -> String {
        let env = std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty());
        self.level
            .clone()
            .or(env)
            .or_else(|| self.file_level.clone())
            .unwrap_or_else(|| DEFAULT_FILTER.to_owned())
    }
}

/// Logs to stderr with the defaults (tests use it with `TEST_LOG=1`).
pub fn init() {
    init_with(&LogConfig::default());
}

/// Logs to stderr as `config` says; a bad filter falls back to the default
/// with a warning rather than losing every log line.
pub fn init_with(config: &LogConfig) {
    let directives = config.directives();
    let (filter, bad) = match EnvFilter::try_new(&directives) {
        Ok(filter) => (filter, None),
        Err(err) => (EnvFilter::new(DEFAULT_FILTER), Some(err)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Text => builder.with_ansi(colour()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    if let Some(err) = bad {
        tracing::warn!(filter = %directives, error = %err, "invalid log level; using the default");
    }
}

/// Colour only for a person watching a terminal.
fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_flag_wins_then_rust_log_then_the_file() {
        // RUST_LOG is process-wide: read it, never set it here.
        let env = std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty());
        let mut config = LogConfig {
            file_level: Some("debug".into()),
            ..LogConfig::default()
        };
        assert_eq!(
            config.directives(),
            env.clone().unwrap_or_else(|| "debug".into())
        );
        config.level = Some("warn".into());
        assert_eq!(config.directives(), "warn");
        config = LogConfig::default();
        assert_eq!(
            config.directives(),
            env.unwrap_or_else(|| DEFAULT_FILTER.into())
        );
    }
}
