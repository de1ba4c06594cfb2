//! What wraps every reply: the error envelope, the WebSocket framing of
//! requests and replies, and [`Reply`], any endpoint's reply.

use serde::{Deserialize, Serialize};

use super::literal::{Failure, Success};
use super::{
    DeliveriesReply, EventsReply, GuestCreateReply, GuestListReply, HistoryReply, HookCreateReply,
    HookListReply, LogReply, MonitorReply, PrefixReply, RunReply, RunStatus, SchedulesReply,
    ScriptsReply, StatusList,
};

/// Reply of `cancel`, `kill` and `guest/delete`: `{"success": true}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub success: Success,
}

/// Every error: `{"success": false, "error", "errorcode"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// For people.
    pub error: String,
    /// Stable snake_case code clients branch on.
    pub errorcode: String,
    pub success: Failure,
}

/// A call over the WebSocket: the endpoint's fields next to the framing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsRequest<T> {
    pub api_method: String,
    /// `/scripts/v1/...`.
    pub api_path: String,
    pub api_sequence: i64,
    #[serde(flatten)]
    pub fields: T,
}

/// A reply over the WebSocket: the HTTP body plus the request's
/// `api_sequence` (envelope errors have none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsReply<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_sequence: Option<i64>,
    #[serde(flatten)]
    pub body: T,
}

/// Any endpoint's successful JSON reply (what the server's dispatch
/// returns, for HTTP and WebSocket alike).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Run(RunReply),
    Status(RunStatus),
    StatusList(StatusList),
    Ack(Ack),
    Log(LogReply),
    Prefix(PrefixReply),
    Scripts(ScriptsReply),
    History(HistoryReply),
    Events(EventsReply),
    GuestList(GuestListReply),
    GuestCreate(Box<GuestCreateReply>),
    Monitor(MonitorReply),
    Schedules(SchedulesReply),
    HookCreate(Box<HookCreateReply>),
    HookList(HookListReply),
    Deliveries(DeliveriesReply),
}

macro_rules! into_reply {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl From<$ty> for Reply {
            fn from(reply: $ty) -> Self {
                Reply::$variant(reply.into())
            }
        })*
    };
}

into_reply!(
    Run(RunReply),
    Status(RunStatus),
    StatusList(StatusList),
    Ack(Ack),
    Log(LogReply),
    Prefix(PrefixReply),
    Scripts(ScriptsReply),
    History(HistoryReply),
    Events(EventsReply),
    GuestList(GuestListReply),
    GuestCreate(GuestCreateReply),
    Monitor(MonitorReply),
    Schedules(SchedulesReply),
    HookCreate(HookCreateReply),
    HookList(HookListReply),
    Deliveries(DeliveriesReply),
);
