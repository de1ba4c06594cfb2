//! Builds the final [`RunRecord`] of a run and the events that end it.
//! The facts of the request come from its [`PendingRun`]; what was
//! measured (exit, output, usage) is filled in by the run actor.

use super::PendingRun;
use crate::events::types::{Outcome, RunRecord};
use crate::events::Event;
use crate::ids::{RunId, ScriptName};

/// The first and last line of a cancelled run.
pub const CANCEL_LINE: &str = "[CANCEL]";

/// A record with the request's facts and nothing measured yet.
pub fn base(
    name: &ScriptName,
    run: &PendingRun,
    started: Option<f64>,
    finished: f64,
    outcome: Outcome,
) -> RunRecord {
    RunRecord {
        name: name.clone(),
        queued: run.queued,
        started,
        finished,
        params: run.params.clone(),
        opts: run.spec.opts.as_ref().clone(),
        first: String::new(),
        last: String::new(),
        tasks: Vec::new(),
        removelog: run.spec.forget,
        outcome,
        exit_code: None,
        signal: None,
        duration: started.map(|s| (finished - s).max(0.0)),
        cpu_user: None,
        cpu_system: None,
        max_rss_kb: None,
        error: None,
        log_error: None,
        run_user: run.spec.user.clone(),
        run_group: run.spec.group.clone(),
        tick: run.origin.tick,
        // The ended attempts of a retried run (`retry` adds the last).
        attempts: run.attempts.clone(),
    }
}

/// A `-n` run: done the moment it starts.
pub fn noexec(name: &ScriptName, run: &PendingRun, now: f64) -> RunRecord {
    let mut record = base(name, run, Some(now), now, Outcome::Noexec);
    record.first = run.spec.command.join(" ");
    record.last = record.first.clone();
    record
}

/// A run cancelled before it started; `[CANCEL]` as first and last line,
/// as the original answers.
pub fn cancelled(name: &ScriptName, run: &PendingRun, now: f64) -> RunRecord {
    let mut record = base(name, run, None, now, Outcome::Cancelled);
    record.first = CANCEL_LINE.to_owned();
    record.last = CANCEL_LINE.to_owned();
    record
}

/// A run started at `started` that can no longer be followed (the server
/// stopped, or its actor failed), ended at `now` for the reason `why`.
pub fn interrupted(
    name: &ScriptName,
    run: &PendingRun,
    started: f64,
    now: f64,
    why: &str,
) -> RunRecord {
    let mut record = base(name, run, Some(started), now, Outcome::Interrupted);
    record.error = Some(why.to_owned());
    record
}

/// The final event of a run, followed by `RunForgotten` when `-r` forgets
/// this outcome; appended together so no reader sees one without the other.
pub fn final_events(
    run: RunId,
    record: RunRecord,
    make: impl FnOnce(RunId, RunRecord) -> Event,
) -> Vec<Event> {
    let forget = record.forgotten();
    let mut events = vec![make(run, record)];
    if forget {
        events.push(Event::RunForgotten { run });
    }
    events
}
