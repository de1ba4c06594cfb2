//! `GET monitor` over the WebSocket and its pushes.

use serde::{Deserialize, Serialize};

use super::literal::Success;

/// `GET monitor`: the same request again on the same socket turns it off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorRequest {
    /// Replay every push after this event sequence first (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// `""`: every script of the user.
    pub name: String,
    /// Also push queued, progress and cancelled (extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verbose: bool,
}

/// Reply of `GET monitor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorReply {
    pub enabled: bool,
    pub name: String,
    pub success: Success,
}

/// A monitor push: a run's shape with its `seq` (and, on the socket, the
/// `api_sequence` of the registration, added last).
pub type Push = super::RunStatus;
