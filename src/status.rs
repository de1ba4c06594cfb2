//! The three status shapes of the wire contract (queued, running,
//! finished), rendered once here for replies, pushes and status files.

use serde_json::{json, Map, Value};

use crate::events::types::{ProgressSnapshot, RunRecord};
use crate::ids::{RunId, ScriptName};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn text_or_false(text: &Option<String>) -> Value {
    text.as_ref()
        .map_or(Value::Bool(false), |t| Value::String(t.clone()))
}

/// `state: queued`.
pub fn queued(id: RunId, name: &ScriptName, queued: i64, position: usize) -> Map<String, Value> {
    object(json!({
        "success": true,
        "id": id.to_string(),
        "name": name.as_str(),
        "state": "queued",
        "queued": queued,
        "position": position,
    }))
}

/// `state: running`.
pub fn running(
    id: RunId,
    name: &ScriptName,
    started: f64,
    progress: &ProgressSnapshot,
) -> Map<String, Value> {
    object(json!({
        "success": true,
        "id": id.to_string(),
        "name": name.as_str(),
        "state": "running",
        "started": started,
        "task": text_or_false(&progress.task),
        "tasknum": progress.tasknum,
        "maxtasks": progress.maxtasks,
        "taskstart": progress.taskstart.unwrap_or(started),
        "subtask": text_or_false(&progress.subtask),
        "subtaskpercent": progress.subtaskpercent,
    }))
}

/// `state: done`; `args` only when `with_args` (owners, never guests).
pub fn finished(id: RunId, record: &RunRecord, with_args: bool) -> Map<String, Value> {
    let (first, last) = if record.tasks.is_empty() {
        (record.first.as_str(), record.last.as_str())
    } else {
        ("", "")
    };
    let mut map = object(json!({
        "success": true,
        "id": id.to_string(),
        "name": record.name.as_str(),
        "state": "done",
        "queued": record.queued,
        "started": record.started,
        "finished": record.finished,
        "first": first,
        "last": last,
        "tasks": record.tasks,
        "removelog": record.removelog,
        "outcome": record.outcome.as_str(),
        "exit_code": record.exit_code,
        "signal": record.signal,
        "duration": record.duration,
        "cpu_user": record.cpu_user,
        "cpu_system": record.cpu_system,
        "max_rss_kb": record.max_rss_kb,
        "error": record.error,
    }));
    if let Some(error) = &record.log_error {
        map.insert("log_error".into(), Value::String(error.clone()));
    }
    if with_args {
        map.insert(
            "args".into(),
            json!({"opts": record.opts, "params": record.params}),
        );
    }
    map
}
