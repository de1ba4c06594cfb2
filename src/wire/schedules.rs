//! `GET schedules`, `POST schedule/pause/NAME`, `POST schedule/resume/NAME`.

use serde::{Deserialize, Serialize};

use super::Success;

/// Reply of `GET schedules`: the scheduled scripts the key sees, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulesReply {
    pub schedules: Vec<ScheduleInfo>,
    pub success: Success,
}

/// One scheduled script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    /// `-C`: `skip`, `once` or `all`.
    pub catch_up: String,
    /// `-c` as written.
    pub cron: String,
    /// The schedule in words (extension).
    #[serde(default)]
    pub description: String,
    pub last: Option<LastTick>,
    pub name: String,
    /// The next due instants (UNIX seconds), at most 3; empty while paused.
    pub next: Vec<i64>,
    pub paused: bool,
    /// `-z`, or the server's `timezone`.
    pub zone: String,
}

/// A schedule's latest tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastTick {
    /// The run it queued, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How that run ended, `queued` or `running` until it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Why the tick started no run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The due instant (UNIX seconds).
    pub tick: i64,
}
