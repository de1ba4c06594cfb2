//! `GET history` and `GET events` (extensions).

use serde::{Deserialize, Serialize};

use super::literal::Success;
use super::status::Finished;
use crate::ids::RunId;

/// `GET history` (query). Empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryRequest {
    /// The cursor of the previous page's `next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// 1..=1000, default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// UNIX time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// UNIX time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// Reply of `GET history`: finished runs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryReply {
    /// The cursor for the next page; `null` on the last.
    pub next: Option<String>,
    pub runs: Vec<Finished>,
    pub success: Success,
}

/// `GET events` (query).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventsRequest {
    /// Only events after this sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only events of this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// Float UNIX seconds.
    pub at: f64,
    /// The event's own fields (as stored, without `kind` and key hashes).
    pub data: serde_json::Value,
    pub kind: String,
    /// An event of a schedule's run: `"schedule"` (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub run: Option<RunId>,
    pub seq: i64,
    /// An event of a schedule's run: its tick's due instant (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<i64>,
}

/// Reply of `GET events`: oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsReply {
    pub events: Vec<EventRow>,
    /// The last `seq` of this page; `null` when it is empty.
    pub next: Option<i64>,
    pub success: Success,
}
