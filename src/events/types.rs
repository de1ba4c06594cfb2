//! The typed, versioned events of scriptd. Every state change of a run or an
//! account is one of these; the database tables are projections of them.
//! Shipped variants are never edited: add optional fields with
//! `#[serde(default)]`, or bump the version and upcast.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::exectab::Resources;
use crate::hook::trigger::{Format, Trigger};
use crate::ids::{GuestId, HookId, RunId, ScriptName, UserId};

/// Who asked for a change, for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The guest key used, when it was not the user's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<GuestId>,
    /// The peer address of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Set when the server acted on an operator's command (for example
    /// ending the runs of a user removed with `scriptd user remove`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Set when a schedule queued the run: the due instant it is for
    /// (`requested_by: "schedule"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<i64>,
    /// Set when a person signed in through OpenID Connect acted
    /// (`requested_by: "person:<sub>"`), with the name the audit shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<crate::accounts::PersonRef>,
}

/// What a guest key may do with its one script (defined with the
/// accounts, recorded in `GuestCreated`).
pub use crate::accounts::GuestRights;

/// How a run ended (defined apart, so metrics can count outcomes
/// without depending on the event log).
pub use crate::outcome::Outcome;

/// What a run will execute, fixed when it is queued so that a restart or
/// a later exectab edit cannot change what was accepted.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Executable and parameters, `@@N` already substituted.
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Raw `-e` values; `%VAR%` is expanded at spawn time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub noexec: bool,
    #[serde(default)]
    pub forget: bool,
    /// `-k`, `-M`, `-W`, `-P`: leftovers and limits of the run's processes.
    #[serde(default, skip_serializing_if = "Resources::is_default")]
    pub resources: Resources,
    /// `-R`, `-B`: how a failed attempt is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<crate::exectab::RetryPolicy>,
    /// The exectab options as the status `args.opts` object shows them;
    /// shared by the runs of one script.
    #[serde(default)]
    pub opts: Arc<serde_json::Map<String, serde_json::Value>>,
}

// Commands and environments can carry secrets; keep them out of logs.
impl std::fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSpec")
            .field("command", &"hidden")
            .field("env", &"hidden")
            .field("user", &self.user)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

/// One main task of a run, as the finished status lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpan {
    pub task: String,
    pub start: f64,
    pub end: f64,
}

/// One ended attempt of a run that may be retried (`-R`): what status
/// and history list in `attempts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1-based.
    pub attempt: u32,
    pub start: Option<f64>,
    pub end: f64,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
}

impl Attempt {
    /// Attempt number `attempt`, as the record of its end tells it.
    pub fn of(attempt: u32, record: &RunRecord) -> Self {
        Attempt {
            attempt,
            start: record.started,
            end: record.finished,
            outcome: record.outcome,
            exit_code: record.exit_code,
            signal: record.signal,
        }
    }
}

/// Everything the finished status of a run shows; carried by the final
/// event so that history, replay and monitor pushes need nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub name: ScriptName,
    pub queued: i64,
    pub started: Option<f64>,
    pub finished: f64,
    pub params: Vec<String>,
    pub opts: serde_json::Map<String, serde_json::Value>,
    // The defaults below let the compact stored form (events::compact)
    // leave these out when empty.
    #[serde(default)]
    pub first: String,
    #[serde(default)]
    pub last: String,
    #[serde(default)]
    pub tasks: Vec<TaskSpan>,
    #[serde(default)]
    pub removelog: bool,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration: Option<f64>,
    pub cpu_user: Option<f64>,
    pub cpu_system: Option<f64>,
    pub max_rss_kb: Option<i64>,
    pub error: Option<String>,
    /// Why (part of) the run's output could not be written to its log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_group: Option<String>,
    /// The due instant of the schedule tick that queued the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<i64>,
    /// A run with retries (`-R`): every attempt, this record's last; the
    /// record's outcome is the last attempt's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

impl RunRecord {
    /// Whether `-r` forgets this run (status answers `invalid_id`, the log goes).
    pub fn forgotten(&self) -> bool {
        self.removelog && self.outcome.forgettable()
    }
}

/// The live progress of a running run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressSnapshot {
    pub task: Option<String>,
    pub tasknum: u32,
    pub maxtasks: u32,
    pub taskstart: Option<f64>,
    pub subtask: Option<String>,
    pub subtaskpercent: u8,
}

/// Every state change scriptd records. The serde tag (the variant's name)
/// is the kind's only spelling: [`Event::kind`] reads it back from serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Event {
    RunQueued {
        run: RunId,
        name: ScriptName,
        /// UNIX second the run may start (the status `queued` field).
        queued: i64,
        /// When the request was accepted.
        requested: f64,
        #[serde(default)]
        params: Vec<String>,
        spec: RunSpec,
        /// Length of the stdin kept in `run_stdin` until the run starts.
        #[serde(default)]
        stdin_len: usize,
        /// Position among not-yet-started runs when queued.
        position: usize,
        origin: Origin,
    },
    RunStarted {
        run: RunId,
        name: ScriptName,
        started: f64,
        /// The node that started it (PostgreSQL clusters; never set on
        /// SQLite, whose events stay byte for byte as they were).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// The attempt it starts (1-based) and how many it may make, for
        /// a run with retries (`-R`); absent otherwise, so other runs'
        /// events stay as they were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_attempts: Option<u32>,
        /// A schedule's run: the due instant of its tick, so a start
        /// push and the log show it without the run's `RunQueued`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tick: Option<i64>,
    },
    RunProgress {
        run: RunId,
        name: ScriptName,
        started: f64,
        progress: ProgressSnapshot,
        /// A schedule's run: the due instant of its tick (as `RunStarted`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tick: Option<i64>,
    },
    RunFinished {
        run: RunId,
        record: RunRecord,
    },
    RunStartFailed {
        run: RunId,
        record: RunRecord,
    },
    RunCancelled {
        run: RunId,
        record: RunRecord,
        origin: Origin,
    },
    RunKillRequested {
        run: RunId,
        name: ScriptName,
        origin: Origin,
    },
    /// The process exists: its process group, and the boot it lives in,
    /// so a restart after a crash can end what the script left behind.
    RunSpawned {
        run: RunId,
        name: ScriptName,
        pgid: u32,
        boot: String,
        /// The run may be tried again (`-R`): its stored stdin stays until
        /// its last attempt ends.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        keep_stdin: bool,
    },
    RunInterrupted {
        run: RunId,
        record: RunRecord,
    },
    RunForgotten {
        run: RunId,
    },
    UserCreated {
        user: UserId,
        name: String,
        key_hash: String,
        guests: bool,
        created: i64,
    },
    UserRemoved {
        user: UserId,
    },
    ApiKeyRotated {
        user: UserId,
        key_hash: String,
    },
    GuestCreated {
        guest: GuestId,
        script: ScriptName,
        rights: GuestRights,
        key_hash: String,
        created: i64,
        expires: i64,
        origin: Origin,
    },
    GuestDeleted {
        guest: GuestId,
        origin: Origin,
    },
    /// A schedule's due instant, decided: committed with the run it
    /// queues (`run`), or with why it started none (`skipped`). The store
    /// refuses a second one for the same script and instant, so a tick is
    /// never doubled, whatever restarts or however many nodes race for it.
    ScheduleTicked {
        name: ScriptName,
        /// The due instant (UNIX seconds).
        tick: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skipped: Option<crate::schedule::TickSkip>,
        /// Earlier ticks that were missed and that this record stands for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        missed: Option<crate::schedule::Missed>,
        /// Seconds from the due instant to the decision.
        late: f64,
    },
    /// A schedule was paused: no tick starts a run until it is resumed.
    SchedulePaused {
        name: ScriptName,
        origin: Origin,
    },
    /// A paused schedule runs again; its ticks missed meanwhile are
    /// caught up by its `-C` mode.
    ScheduleResumed {
        name: ScriptName,
        origin: Origin,
    },
    /// An attempt of a run with retries (`-R`) ended `failed`, `timeout`
    /// or `interrupted` and attempts remain: the run is queued again,
    /// due at `due`. Not a final event; the store refuses a second one
    /// for the same attempt (`events_one_retry`).
    RunRetrying {
        run: RunId,
        /// This attempt's end: outcome, exit code or signal, times.
        record: RunRecord,
        /// The attempt that ended, 1-based.
        attempt: u32,
        /// UNIX second of the next attempt.
        due: i64,
    },
    /// A webhook of the user (issue 31). The secret signs its deliveries;
    /// the server needs it in clear, so `GET events` leaves it out.
    HookCreated {
        hook: HookId,
        url: String,
        on: Vec<Trigger>,
        /// Only this script's runs; every script when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<ScriptName>,
        format: Format,
        secret: String,
        created: i64,
        origin: Origin,
    },
    /// A webhook removed; its pending deliveries are dropped.
    HookDeleted {
        hook: HookId,
        origin: Origin,
    },
    /// A webhook that kept failing is paused: no more deliveries.
    HookPaused {
        hook: HookId,
        reason: String,
        paused: i64,
    },
    /// A person signed in through OpenID Connect: a session acting in
    /// the stream's account, with the grants their claims matched.
    SessionStarted {
        /// The session's id (not its cookie, which is never stored).
        session: String,
        person: crate::accounts::PersonRef,
        grants: Vec<SessionGrant>,
        /// The instant the session ends at the latest (UNIX seconds).
        expires: i64,
        /// The peer address of the browser.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        addr: Option<String>,
        /// The cluster node whose memory holds the session (PostgreSQL;
        /// absent on a single server): its next start, or the rescuer
        /// that marks it lost, ends the session if nothing else did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// That node's incarnation (its epoch) when the session started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<i64>,
    },
    /// A session ended: signed out, expired, idle too long, its grant
    /// removed, or the server (node) that held it restarted or was lost.
    /// At most one per session (`events_one_session_end`).
    SessionEnded {
        session: String,
        person: crate::accounts::PersonRef,
        reason: String,
    },
}

/// One grant of a session, as its `SessionStarted` event records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionGrant {
    pub role: crate::accounts::Role,
    /// The script globs it is limited to; absent: every script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scripts: Option<Vec<String>>,
}

impl Event {
    /// The field every event's kind is stored under (the serde tag).
    pub const TAG: &'static str = "kind";

    /// Every kind, as serde names them, in declaration order.
    pub fn kinds() -> &'static [&'static str] {
        static KINDS: OnceLock<&'static [&'static str]> = OnceLock::new();
        KINDS.get_or_init(|| super::kind::variants::<Event>(Event::TAG))
    }

    /// The `kind` column value: the serde tag this event is written under.
    pub fn kind(&self) -> &'static str {
        // Every variant has a tag (a unit test walks them all).
        super::kind::tag_of(self, Event::TAG, Event::kinds()).unwrap_or("Unknown")
    }

    /// Schema version of this kind's payload: one more than the upcasters
    /// that lead to it (see [`super::upcast`]).
    pub fn version(&self) -> i64 {
        super::upcast::current_version(self.kind())
    }

    /// The run this event belongs to, if it is a run event.
    pub fn run_id(&self) -> Option<RunId> {
        match self {
            Event::RunQueued { run, .. }
            | Event::RunStarted { run, .. }
            | Event::RunProgress { run, .. }
            | Event::RunFinished { run, .. }
            | Event::RunStartFailed { run, .. }
            | Event::RunCancelled { run, .. }
            | Event::RunKillRequested { run, .. }
            | Event::RunSpawned { run, .. }
            | Event::RunInterrupted { run, .. }
            | Event::RunRetrying { run, .. }
            | Event::RunForgotten { run } => Some(*run),
            _ => None,
        }
    }

    /// The script a run event belongs to.
    pub fn script(&self) -> Option<&ScriptName> {
        match self {
            Event::RunQueued { name, .. }
            | Event::RunStarted { name, .. }
            | Event::RunProgress { name, .. }
            | Event::RunKillRequested { name, .. }
            | Event::RunSpawned { name, .. } => Some(name),
            Event::RunRetrying { record, .. } => Some(&record.name),
            _ => self.final_record().map(|r| &r.name),
        }
    }

    /// The due instant of the schedule tick that queued this event's
    /// run, when a schedule did (`requested_by: "schedule"`).
    pub fn schedule_tick(&self) -> Option<i64> {
        match self {
            Event::RunQueued { origin, .. } => origin.tick,
            Event::RunStarted { tick, .. } | Event::RunProgress { tick, .. } => *tick,
            Event::RunRetrying { record, .. } => record.tick,
            _ => self.final_record().and_then(|r| r.tick),
        }
    }

    /// The final record, when this event ends a run.
    pub fn final_record(&self) -> Option<&RunRecord> {
        match self {
            Event::RunFinished { record, .. }
            | Event::RunStartFailed { record, .. }
            | Event::RunCancelled { record, .. }
            | Event::RunInterrupted { record, .. } => Some(record),
            _ => None,
        }
    }
}

/// An event on its way into the log.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub user: UserId,
    pub event: Event,
    /// A queued run's stdin, kept beside its `RunQueued` until it starts.
    pub stdin: Option<Vec<u8>>,
    /// What must hold for it to be appended (a claim; see
    /// [`super::expect`]); its group is refused otherwise.
    pub expect: Option<super::expect::Expect>,
}

impl NewEvent {
    /// An event without attachment.
    pub fn new(user: UserId, event: Event) -> Self {
        NewEvent {
            user,
            event,
            stdin: None,
            expect: None,
        }
    }

    /// The same event, appended only if `expect` holds.
    pub fn expecting(mut self, expect: super::expect::Expect) -> Self {
        self.expect = Some(expect);
        self
    }

    /// The stream the event belongs to: the run id, a schedule tick's
    /// own (see [`tick_stream`]), or `user:<id>`.
    pub fn stream(&self) -> String {
        if let Event::ScheduleTicked { name, tick, .. } = &self.event {
            return tick_stream(self.user, name, *tick);
        }
        match self.event.run_id() {
            Some(run) => run.to_string(),
            None => format!("user:{}", self.user),
        }
    }
}

/// The stream of one tick of a schedule: `tick/<user>/<name>/<instant>`,
/// the instant zero-padded so that the streams of one schedule sort by
/// time (names hold no `/`). Unique among `ScheduleTicked` events: the
/// `events_one_tick` index refuses a second tick of one instant.
pub fn tick_stream(user: UserId, name: &ScriptName, tick: i64) -> String {
    format!("{}{tick:012}", tick_prefix(user, name))
}

/// The prefix every tick stream of one schedule starts with.
pub fn tick_prefix(user: UserId, name: &ScriptName) -> String {
    format!("tick/{user}/{name}/")
}

/// An event as stored, with its place in the log.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub at: f64,
    pub user: UserId,
    pub event: Event,
}
