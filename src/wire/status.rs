//! The three shapes of one run (queued, running, finished): the reply of
//! `GET status/ID` and `POST run`, the content of status files, and, with
//! `seq`, the monitor pushes; and the `GET status` listing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::literal::{Done, QueuedState, RunningState, Success};
use crate::events::types::{Attempt, Outcome};
use crate::ids::{RunId, ScriptName};

/// `task`/`subtask`: the text, or `false` until one was seen.
pub mod text_or_false {
    use serde::{Deserialize, Deserializer, Serializer};

    /// `None` as `false`.
    pub fn serialize<S: Serializer>(
        text: &Option<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match text {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_bool(false),
        }
    }

    /// `false` (or `true`, which no server sends) as `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum TextOrFlag {
            Text(String),
            // Read only to refuse anything but a string or a boolean.
            Flag(#[allow(dead_code)] bool),
        }
        Ok(match TextOrFlag::deserialize(deserializer)? {
            TextOrFlag::Text(text) => Some(text),
            TextOrFlag::Flag(_) => None,
        })
    }
}

/// A run with retries (`-R`, extension): its attempts. Every field is
/// absent for a run without retries, so old clients see nothing new.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tries {
    /// The attempt it is on (queued: the one it makes next), or its last;
    /// 1-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// How many attempts it may make in all (1 + `-R`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// The attempts that ended (a done run: all of them), oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<Attempt>>,
}

/// `state: queued`; also the reply of `POST run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    pub id: RunId,
    pub name: ScriptName,
    /// 0-based among the not-yet-started runs of this name.
    pub position: usize,
    /// UNIX second the run may start (a retried run: its next attempt).
    pub queued: i64,
    /// A schedule's run: `"schedule"` (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// The event sequence: monitor pushes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    pub state: QueuedState,
    pub success: Success,
    /// A schedule's run: the due instant of its tick (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<i64>,
    #[serde(flatten)]
    pub tries: Tries,
}

/// `state: running`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Running {
    pub id: RunId,
    pub maxtasks: u32,
    pub name: ScriptName,
    /// A schedule's run: `"schedule"` (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// The event sequence: monitor pushes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// Float UNIX seconds.
    pub started: f64,
    pub state: RunningState,
    #[serde(with = "text_or_false")]
    pub subtask: Option<String>,
    pub subtaskpercent: u8,
    pub success: Success,
    #[serde(with = "text_or_false")]
    pub task: Option<String>,
    /// 0-based.
    pub tasknum: u32,
    pub taskstart: f64,
    /// A schedule's run: the due instant of its tick (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<i64>,
    #[serde(flatten)]
    pub tries: Tries,
}

/// `args` of a finished run (owners only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunArgs {
    pub opts: serde_json::Map<String, serde_json::Value>,
    pub params: Vec<String>,
}

/// One main task of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpan {
    pub end: f64,
    pub start: f64,
    pub task: String,
}

/// `state: done`, whatever the outcome; in `GET history` with the audit
/// fields (owners only) and without `success`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    /// Owners only, never guests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<RunArgs>,
    /// History: who cancelled it (`user:<id>` or `guest:<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// History: the owner's name when the owner cancelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by_name: Option<String>,
    /// History: from which address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_from: Option<String>,
    pub cpu_system: Option<f64>,
    pub cpu_user: Option<f64>,
    pub duration: Option<f64>,
    pub error: Option<String>,
    pub exit_code: Option<i32>,
    pub finished: f64,
    /// First non-empty output line when `tasks` is empty, else `""`.
    pub first: String,
    pub id: RunId,
    /// History: who killed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_by: Option<String>,
    /// History: the owner's name when the owner killed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_by_name: Option<String>,
    /// History: from which address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_from: Option<String>,
    /// Last non-empty output line when `tasks` is empty, else `""`.
    pub last: String,
    /// Why (part of) the output is missing from the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_error: Option<String>,
    pub max_rss_kb: Option<i64>,
    pub name: ScriptName,
    pub outcome: Outcome,
    pub queued: i64,
    pub removelog: bool,
    /// History: who asked for the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// History: the owner's name when the owner asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by_name: Option<String>,
    /// History: from which address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_from: Option<String>,
    /// The event sequence: monitor pushes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    pub signal: Option<i32>,
    pub started: Option<f64>,
    pub state: Done,
    /// Absent in history rows, which are not replies of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<Success>,
    pub tasks: Vec<TaskSpan>,
    /// A schedule's run: the due instant of its tick (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<i64>,
    #[serde(flatten)]
    pub tries: Tries,
}

/// Reply of `GET status/ID`: one of the three shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunStatus {
    Queued(Queued),
    Running(Running),
    Done(Box<Finished>),
}

impl RunStatus {
    /// The run's id.
    pub fn id(&self) -> RunId {
        match self {
            RunStatus::Queued(q) => q.id,
            RunStatus::Running(r) => r.id,
            RunStatus::Done(f) => f.id,
        }
    }

    /// The run's script name.
    pub fn name(&self) -> &ScriptName {
        match self {
            RunStatus::Queued(q) => &q.name,
            RunStatus::Running(r) => &r.name,
            RunStatus::Done(f) => &f.name,
        }
    }

    /// The `state` field's value.
    pub fn state(&self) -> &'static str {
        match self {
            RunStatus::Queued(_) => "queued",
            RunStatus::Running(_) => "running",
            RunStatus::Done(_) => "done",
        }
    }

    /// The event sequence of a push.
    pub fn seq(&self) -> Option<i64> {
        match self {
            RunStatus::Queued(q) => q.seq,
            RunStatus::Running(r) => r.seq,
            RunStatus::Done(f) => f.seq,
        }
    }

    /// The finished shape, if the run is done.
    pub fn finished(&self) -> Option<&Finished> {
        match self {
            RunStatus::Done(f) => Some(f),
            _ => None,
        }
    }

    /// The running shape, if the run is running.
    pub fn running(&self) -> Option<&Running> {
        match self {
            RunStatus::Running(r) => Some(r),
            _ => None,
        }
    }

    /// The queued shape, if the run waits.
    pub fn queued(&self) -> Option<&Queued> {
        match self {
            RunStatus::Queued(q) => Some(q),
            _ => None,
        }
    }
}

/// Per script in `GET status`: the ids, or (for a guest, other scripts)
/// only how many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IdsOrCount {
    Ids(Vec<RunId>),
    Count(usize),
}

/// Reply of `GET status`: queued and running runs per script name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusList {
    pub queued: BTreeMap<String, IdsOrCount>,
    pub running: BTreeMap<String, IdsOrCount>,
    pub success: Success,
}
