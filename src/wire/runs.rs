//! `POST run`, `GET log/ID` and `GET runs?prefix=`.

use serde::{Deserialize, Serialize};

use super::literal::Success;
use crate::ids::RunId;

/// `POST run`. The server reads the fields in the wire's validation order
/// and converts numbers and booleans in `args` the way PHP did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    /// Substituted for `@@1`, `@@2`, ...
    #[serde(default)]
    pub args: Vec<String>,
    pub name: String,
    /// UNIX time to start at; earlier than now means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<i64>,
    /// At most 1 MiB, for `-i` scripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
}

/// Reply of `POST run`: the queued shape, sent once the run is durable.
pub type RunReply = super::Queued;

/// `GET log/ID` (query): from byte `offset` on (extension).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Reply of `GET log/ID` over the WebSocket (HTTP answers the bare text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogReply {
    pub log: String,
    pub success: Success,
}

/// `GET runs` (query, extension): ids starting with `prefix`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrefixRequest {
    pub prefix: String,
}

/// `GET runs?suffix=` (query, extension): ids ending with `suffix`, the
/// short form the dashboard and the CLI's tables show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SuffixRequest {
    pub suffix: String,
}

/// Reply of `GET runs`: at most a few matching ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefixReply {
    pub ids: Vec<RunId>,
    pub success: Success,
}

/// How the server is (`GET /healthz`, no key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    /// It answers, but writes fail or free space is short.
    Degraded,
}

/// Reply of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReply {
    /// Why it is degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub status: Health,
    pub success: Success,
}
