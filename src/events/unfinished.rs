//! Startup replay's read of the unfinished runs, streamed: the runs read
//! model's `runs_unfinished` partial index (the finished runs of a long
//! history are not in it) joined to each run's `RunQueued` event, handed
//! to the caller one row at a time (each backend's `unfinished` module
//! holds the query; this one what a row becomes).
//!
//! The query this replaces fetched every event of every unfinished run,
//! sorted by `seq`, into one Vec of rows and then one Vec of parsed
//! events before folding them: with 100k queued runs, a transient peak
//! that the allocator kept after startup (BENCHMARKS.md § Restart with a
//! deep queue). Here a row
//! is parsed straight into the run's fields and dropped; nothing is
//! sorted by SQLite (the caller orders each queue by `seq`).

use std::sync::Arc;

use serde::Deserialize;

use super::error::StoreError;
use super::types::{Attempt, Event, Origin, RunSpec};
use super::upcast::decode;
use crate::ids::{RunId, ScriptName, UserId};

/// The fields of a `RunQueued` event that replay keeps. Parsed on its
/// own rather than as an [`Event`]: the `kind`-tagged enum buffers every
/// field before it can pick the variant, and only this kind is read here.
#[derive(Debug, Deserialize)]
pub struct QueuedRun {
    pub run: RunId,
    pub name: ScriptName,
    pub queued: i64,
    pub requested: f64,
    // Defaults as `Event::RunQueued`'s: the compact stored form leaves
    // them out when empty.
    #[serde(default)]
    pub params: Vec<String>,
    pub spec: RunSpec,
    #[serde(default)]
    pub stdin_len: usize,
    pub origin: Origin,
}

/// One run that has not reached a final state.
#[derive(Debug)]
pub struct Unfinished {
    /// Where its `RunQueued` is in the log: its place among the runs of
    /// its queue due at the same second.
    pub seq: i64,
    pub user: UserId,
    pub queued: QueuedRun,
    /// Set once `RunStarted` is on record.
    pub started: Option<f64>,
    /// Process group and boot id, once `RunSpawned` is on record.
    pub spawned: Option<(u32, String)>,
    /// The node that started it (PostgreSQL; none on SQLite, or for a run
    /// started before nodes were recorded).
    pub node: Option<String>,
    /// A run with retries: its ended attempts, oldest first.
    pub attempts: Vec<Attempt>,
}

/// The ended attempts of a run's row (`runs.attempts`, a JSON array or
/// NULL); a retried run's `RunQueued` time is replaced by its row's
/// `due` (the `queued` column), when its next attempt may start.
pub fn attempts(
    json: Option<&str>,
    due: i64,
    queued: &mut QueuedRun,
) -> Result<Vec<Attempt>, StoreError> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let attempts: Vec<Attempt> = serde_json::from_str(json)?;
    if !attempts.is_empty() {
        queued.queued = due;
    }
    Ok(attempts)
}

/// The process group and boot id of a `RunSpawned` event.
pub fn pgid_and_boot(version: i64, data: &str) -> Result<Option<(u32, String)>, StoreError> {
    Ok(match decode("RunSpawned", version, data)? {
        Event::RunSpawned { pgid, boot, .. } => Some((pgid, boot)),
        _ => None,
    })
}

/// A `RunQueued` event's JSON, parsed into what replay keeps.
pub fn queued_run(version: i64, data: &str) -> Result<QueuedRun, StoreError> {
    decode("RunQueued", version, data)
}

/// Keeps one copy of each distinct `args.opts` object, as the live path
/// does (the account shares one per script and exectab version): parsed
/// per run, they were a third of a restored queue's memory.
#[derive(Default)]
pub struct SharedOpts {
    seen:
        std::collections::HashMap<ScriptName, Vec<Arc<serde_json::Map<String, serde_json::Value>>>>,
}

/// Distinct objects kept per script name; past that, runs keep their own.
const DISTINCT_OPTS: usize = 16;

impl SharedOpts {
    /// Replaces `spec.opts` by an equal object seen before, if any.
    pub fn share(&mut self, name: &ScriptName, spec: &mut RunSpec) {
        let known = match self.seen.get_mut(name) {
            Some(known) => known,
            None => self.seen.entry(name.clone()).or_default(),
        };
        match known.iter().find(|o| **o == spec.opts) {
            Some(same) => spec.opts = same.clone(),
            None if known.len() < DISTINCT_OPTS => known.push(spec.opts.clone()),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_queued_event_parses_into_the_fields_replay_keeps() {
        let mut opts = serde_json::Map::new();
        opts.insert("simultaneous".into(), "2".into());
        let event = Event::RunQueued {
            run: RunId::new(),
            name: ScriptName::parse("backup").expect("name"),
            queued: 1_900_000_000,
            requested: 1_899_999_999.5,
            params: vec!["a b".into(), "c".into()],
            spec: RunSpec {
                command: vec!["/bin/echo".into(), "a b".into()],
                dir: Some("/tmp".into()),
                env: vec![("K".into(), "%HOME%".into())],
                timeout_secs: Some(5),
                forget: true,
                opts: Arc::new(opts),
                ..RunSpec::default()
            },
            stdin_len: 7,
            position: 3,
            origin: Origin {
                addr: Some("127.0.0.1".into()),
                operator: Some("user-remove".into()),
                ..Origin::default()
            },
        };
        let text = serde_json::to_string(&event).expect("serializes");
        let parsed: QueuedRun = serde_json::from_str(&text).expect("parses");
        let Event::RunQueued {
            run,
            name,
            queued,
            requested,
            params,
            spec,
            stdin_len,
            origin,
            ..
        } = event
        else {
            unreachable!()
        };
        assert_eq!(
            (parsed.run, parsed.name, parsed.queued, parsed.requested),
            (run, name, queued, requested)
        );
        assert_eq!((parsed.params, parsed.stdin_len), (params, stdin_len));
        assert!(parsed.spec == spec, "the spec survives");
        assert_eq!(parsed.origin, origin);
    }

    #[test]
    fn equal_opts_of_one_script_end_up_shared() {
        let name = ScriptName::parse("s").expect("name");
        let mut shared = SharedOpts::default();
        let spec = |value: &str| {
            let mut opts = serde_json::Map::new();
            opts.insert("o".into(), value.into());
            RunSpec {
                opts: Arc::new(opts),
                ..RunSpec::default()
            }
        };
        let (mut a, mut b, mut c) = (spec("x"), spec("x"), spec("y"));
        for s in [&mut a, &mut b, &mut c] {
            shared.share(&name, s);
        }
        assert!(Arc::ptr_eq(&a.opts, &b.opts), "equal objects are one");
        assert!(!Arc::ptr_eq(&a.opts, &c.opts), "different ones are not");
        assert_eq!(c.opts["o"], "y");
    }
}
