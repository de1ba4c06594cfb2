//! The wire contract of `/scripts/v1` (API.md) as types: one request and
//! one reply type per endpoint, shared by the server (HTTP and WebSocket
//! replies, monitor pushes, status files), the CLI client and the tests.
//! Data only: no actix, no storage, no rules; the server validates fields
//! in the wire's order in `http::parse`, which fills the request
//! types before any handler reads a field.
//!
//! Fields are declared in alphabetical order on purpose: the replies were
//! serialised from sorted maps before these types existed, and clients
//! have seen that order since.
//!
//! | endpoint | request | reply |
//! |---|---|---|
//! | `POST run` | [`RunRequest`] | [`RunReply`] |
//! | `POST cancel/ID`, `POST kill/ID` | id in the path | [`Ack`] |
//! | `GET status/ID` | id in the path | [`RunStatus`] |
//! | `GET status` | none | [`StatusList`] |
//! | `GET log/ID` | [`LogRequest`] | text (HTTP), [`LogReply`] (WebSocket) |
//! | `GET runs` | [`PrefixRequest`] or [`SuffixRequest`] | [`PrefixReply`] |
//! | `GET scripts` | none | [`ScriptsReply`] |
//! | `GET history` | [`HistoryRequest`] | [`HistoryReply`] |
//! | `GET events` | [`EventsRequest`] | [`EventsReply`] |
//! | `GET guest/list` | none | [`GuestListReply`] |
//! | `POST guest/create` | [`GuestCreateRequest`] | [`GuestCreateReply`] |
//! | `DELETE guest/delete/ID` | id in the path | [`Ack`] |
//! | `POST hook/create` | [`HookCreateRequest`] | [`HookCreateReply`] |
//! | `GET hook/list` | none | [`HookListReply`] |
//! | `POST hook/delete/ID` | id in the path | [`Ack`] |
//! | `GET hook/deliveries` | [`DeliveriesRequest`] | [`DeliveriesReply`] |
//! | `GET schedules` | none | [`SchedulesReply`] |
//! | `POST schedule/pause/NAME`, `POST schedule/resume/NAME` | name in the path | [`Ack`] |
//! | `GET monitor` (WebSocket) | [`MonitorRequest`] | [`MonitorReply`], then [`Push`]es |
//! | any, over WebSocket | [`WsRequest`] | [`WsReply`] |
//! | `GET /healthz` | none | [`HealthReply`] |
//! | any error | | [`ErrorReply`] |

mod audit;
mod envelope;
mod guests;
mod hooks;
mod literal;
mod monitor;
mod runs;
mod schedules;
mod scripts;
mod status;

pub use audit::{EventRow, EventsReply, EventsRequest, HistoryReply, HistoryRequest};
pub use envelope::{Ack, ErrorReply, Reply, WsReply, WsRequest};
pub use guests::{GuestCreateReply, GuestCreateRequest, GuestInfo, GuestListReply, GuestScope};
pub use hooks::{
    DeliveriesReply, DeliveriesRequest, DeliveryAttempt, DeliveryInfo, HookCreateReply,
    HookCreateRequest, HookInfo, HookListReply,
};
pub use literal::{
    Done, Failure, GuestKind, PersonKind, QueuedState, RunningState, Success, UserKind,
};
pub use monitor::{MonitorReply, MonitorRequest, Push};
pub use runs::{
    Health, HealthReply, LogReply, LogRequest, PrefixReply, PrefixRequest, RunReply, RunRequest,
    SuffixRequest,
};
pub use schedules::{LastTick, ScheduleInfo, SchedulesReply};
pub use scripts::{
    Access, GuestAccess, GuestScript, OwnerScript, PersonAccess, PersonGrant, Rights, ScriptInfo,
    ScriptsReply, UserAccess,
};
pub use status::{
    text_or_false, Finished, IdsOrCount, Queued, RunArgs, RunStatus, Running, StatusList, TaskSpan,
    Tries,
};
