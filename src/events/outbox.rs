//! Webhooks' transactional outbox (issue 31): which events cause a
//! delivery ([`trigger`], the one mapping), and the store's side of the
//! delivery worker: claiming due rows, recording attempts, listing hooks
//! and deliveries. The rows are written by the writers in the commit of
//! the event that causes them (`sqlite::outbox`, `postgres::outbox`);
//! everything here runs on the writer's connection between two group
//! commits (a [`super::chore::Chore`]), so SQLite keeps one writer.

use actix::prelude::*;
use tokio::sync::oneshot;

use super::chore::Chore;
use super::error::StoreError;
use super::store::EventStore;
use super::types::Event;
use crate::hook::trigger::{Format, Trigger};
use crate::ids::{HookId, RunId, ScriptName, UserId};

/// What an event tells hooks, if anything: its trigger, script and run.
/// The one place an event becomes a delivery.
pub fn trigger(event: &Event) -> Option<(Trigger, &ScriptName, RunId)> {
    match event {
        Event::RunStarted { run, name, .. } => Some((Trigger::Started, name, *run)),
        Event::RunFinished { run, record }
        | Event::RunStartFailed { run, record }
        | Event::RunCancelled { run, record, .. }
        | Event::RunInterrupted { run, record } => {
            Trigger::of_outcome(record.outcome).map(|t| (t, &record.name, *run))
        }
        Event::RunRetrying { run, record, .. } => Some((Trigger::Retrying, &record.name, *run)),
        _ => None,
    }
}

/// A delivery claimed for sending, with what the worker needs.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub hook: HookId,
    /// The hook's owner.
    pub user: UserId,
    pub url: String,
    pub secret: String,
    pub format: Format,
    /// The event that caused it, as stored, and its schema version.
    pub event: String,
    pub version: i64,
    pub trigger: Trigger,
    /// This attempt's number (1 = the first).
    pub attempt: u32,
    /// When the row was written: retries stop 24 h after it.
    pub created: f64,
    /// How many later deliveries of the same hook and script were folded
    /// into this one by the flood limit.
    pub folded: i64,
}

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// Try again at `due` (connection error, timeout, 5xx, 429).
    Retry {
        due: f64,
        status: Option<u16>,
        error: String,
    },
    /// No more tries: a refusal (4xx, a refused address) or 24 h of failures.
    Failed { status: Option<u16>, error: String },
}

/// A hook as `hook/list` shows it (no secret).
#[derive(Debug, Clone, PartialEq)]
pub struct HookInfo {
    pub id: HookId,
    pub url: String,
    pub on: Vec<Trigger>,
    pub name: Option<String>,
    pub format: Format,
    pub created: i64,
    pub paused: Option<i64>,
    pub paused_reason: Option<String>,
}

/// A delivery keeps this many of its latest attempts (`attempts` counts
/// them all): a day of retries is about 30, and the first ones tell
/// no more than the last.
pub const KEEP_ATTEMPTS: i64 = 20;

/// One attempt of a delivery, as its row's `attempt_log` keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttemptRecord {
    /// Its number (1 = the first).
    pub attempt: i64,
    /// When it was sent and when its answer (or error) came.
    pub at: Option<f64>,
    pub ended: Option<f64>,
    /// The HTTP status, if an answer came.
    pub status: Option<i64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// A row's `attempt_log` read back; a missing or unreadable one is empty
/// (rows written before the column existed).
pub(super) fn attempt_log(text: Option<&str>) -> Vec<AttemptRecord> {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// A delivery as `hook/deliveries` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryInfo {
    pub id: String,
    pub hook: String,
    pub run: String,
    pub name: String,
    pub event: String,
    pub created: f64,
    pub state: String,
    pub attempts: i64,
    pub last_attempt: Option<f64>,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub folded: i64,
    pub folded_into: Option<String>,
    /// The last [`KEEP_ATTEMPTS`] attempts, oldest first.
    pub attempt_log: Vec<AttemptRecord>,
}

/// Claim up to `limit` due deliveries for `node` until `now + hold`;
/// first forget the settled ones written before `forget_before`, if set.
/// `fold_window` is the flood limit of one hook and script: at most one
/// first send in that many seconds; what comes meanwhile is folded into
/// the next one.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Claimed, StoreError>")]
pub struct ClaimDeliveries {
    pub node: String,
    pub now: f64,
    pub hold: f64,
    pub limit: usize,
    pub forget_before: Option<f64>,
    pub fold_window: f64,
}

/// The claimed deliveries, when the next one is due, and whether any
/// hook is active at all (if not, run events need not wake the worker).
#[derive(Debug, Default)]
pub struct Claimed {
    pub deliveries: Vec<Delivery>,
    pub next_due: Option<f64>,
    pub active_hooks: bool,
}

/// Record an attempt of a delivery `node` claimed; `false` if the claim
/// was no longer its own (another node took it over).
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct RecordAttempt {
    pub id: String,
    pub node: String,
    pub now: f64,
    pub attempt: Attempt,
}

/// Forget the claims `node` held in a former life (it restarted).
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<(), StoreError>")]
pub struct ReleaseClaims {
    pub node: String,
}

/// A user's hooks, newest first.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<HookInfo>, StoreError>")]
pub struct ListHooks {
    pub user: UserId,
}

/// A user's recent deliveries (of one hook when given), newest first.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<DeliveryInfo>, StoreError>")]
pub struct ListDeliveries {
    pub user: UserId,
    pub hook: Option<HookId>,
    pub limit: i64,
}

/// One outbox job for the writer's connection.
pub(super) enum OutboxJob {
    Claim(
        ClaimDeliveries,
        oneshot::Sender<Result<Claimed, StoreError>>,
    ),
    Record(RecordAttempt, oneshot::Sender<Result<bool, StoreError>>),
    Release(ReleaseClaims, oneshot::Sender<Result<(), StoreError>>),
    Hooks(
        ListHooks,
        oneshot::Sender<Result<Vec<HookInfo>, StoreError>>,
    ),
    Deliveries(
        ListDeliveries,
        oneshot::Sender<Result<Vec<DeliveryInfo>, StoreError>>,
    ),
}

/// Hands a job to the writer thread and awaits its answer.
macro_rules! outbox_handler {
    ($msg:ty, $variant:ident, $out:ty) => {
        impl Handler<$msg> for EventStore {
            type Result = ResponseFuture<Result<$out, StoreError>>;

            fn handle(&mut self, msg: $msg, _ctx: &mut Context<Self>) -> Self::Result {
                let (tx, rx) = oneshot::channel();
                self.chore(Chore::Outbox(OutboxJob::$variant(msg, tx)));
                Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
            }
        }
    };
}

outbox_handler!(ClaimDeliveries, Claim, Claimed);
outbox_handler!(RecordAttempt, Record, bool);
outbox_handler!(ReleaseClaims, Release, ());
outbox_handler!(ListHooks, Hooks, Vec<HookInfo>);
outbox_handler!(ListDeliveries, Deliveries, Vec<DeliveryInfo>);

/// The columns an attempt sets: state, due, status, error.
pub(super) fn attempt_columns(
    attempt: &Attempt,
) -> (&'static str, Option<f64>, Option<i64>, Option<&str>) {
    match attempt {
        Attempt::Delivered { status } => ("delivered", None, Some(i64::from(*status)), None),
        Attempt::Retry { due, status, error } => (
            "pending",
            Some(*due),
            status.map(i64::from),
            Some(error.as_str()),
        ),
        Attempt::Failed { status, error } => {
            ("failed", None, status.map(i64::from), Some(error.as_str()))
        }
    }
}

/// A `hooks` row's `format` and `triggers` read back.
pub(super) fn hook_shape(format: &str, triggers: i64) -> (Format, Vec<Trigger>) {
    (
        Format::parse(format).unwrap_or_default(),
        crate::hook::trigger::unmask(triggers),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::types::RunRecord;
    use crate::outcome::Outcome;

    fn record(outcome: Outcome) -> RunRecord {
        serde_json::from_value(serde_json::json!({
            "name": "job", "queued": 1, "started": 1.0, "finished": 2.0, "params": [],
            "opts": {}, "first": "", "last": "", "tasks": [], "removelog": false,
            "outcome": outcome, "exit_code": 1, "signal": null, "duration": 1.0,
            "cpu_user": null, "cpu_system": null, "max_rss_kb": null, "error": null
        }))
        .expect("record")
    }

    #[test]
    fn starts_and_ends_are_triggers_and_nothing_else_is() {
        let run = RunId::new();
        let cases = [
            (
                "failed",
                Event::RunFinished {
                    run,
                    record: record(Outcome::Failed),
                },
                Some(Trigger::Failed),
            ),
            (
                "start failed",
                Event::RunStartFailed {
                    run,
                    record: record(Outcome::StartFailed),
                },
                Some(Trigger::Failed),
            ),
            (
                "interrupted",
                Event::RunInterrupted {
                    run,
                    record: record(Outcome::Interrupted),
                },
                Some(Trigger::Interrupted),
            ),
            (
                "noexec",
                Event::RunFinished {
                    run,
                    record: record(Outcome::Noexec),
                },
                None,
            ),
            ("forgotten", Event::RunForgotten { run }, None),
        ];
        for (what, event, want) in cases {
            assert_eq!(trigger(&event).map(|(t, _, _)| t), want, "{what}");
        }
    }
}
