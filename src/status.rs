//! The three status shapes of the wire contract (queued, running,
//! finished), filled once here for replies, pushes and status files.

use crate::events::types::{ProgressSnapshot, RunRecord};
use crate::ids::{RunId, ScriptName};
use crate::run::PendingRun;
use crate::wire::{self, Done, QueuedState, RunningState, Success};

/// Who asked for a run, as every shape shows it without the history's
/// audit: a schedule, which is no person (`tick` is its due instant).
fn requester(tick: Option<i64>) -> Option<String> {
    tick.map(|_| "schedule".to_owned())
}

/// `state: queued`; `tick` when a schedule queued it.
pub fn queued(
    id: RunId,
    name: &ScriptName,
    queued: i64,
    position: usize,
    tick: Option<i64>,
) -> wire::Queued {
    wire::Queued {
        id,
        name: name.clone(),
        position,
        queued,
        requested_by: requester(tick),
        seq: None,
        state: QueuedState,
        success: Success,
        tick,
        tries: wire::Tries::default(),
    }
}

/// The attempts of a live run with retries (`-R`); nothing otherwise.
pub fn tries(run: &PendingRun) -> wire::Tries {
    let Some(policy) = run.spec.retry else {
        return wire::Tries::default();
    };
    wire::Tries {
        attempt: Some(run.attempt()),
        max_attempts: Some(policy.attempts()),
        attempts: Some(run.attempts.clone()),
    }
}

/// The attempts of a run whose attempt `ended` just ended (`record`) and
/// that waits for its next: the next one's number, and how many it may
/// make (its `args.opts` `retries`, plus one).
pub fn retrying(record: &RunRecord, ended: u32) -> wire::Tries {
    let retries = record
        .opts
        .get("retries")
        .and_then(|v| v.as_str())
        .and_then(|v| v.parse::<u32>().ok());
    wire::Tries {
        attempt: Some(ended.saturating_add(1)),
        max_attempts: retries.map(|r| r.saturating_add(1)),
        attempts: None,
    }
}

/// The attempt a run with retries starts, as its `RunStarted` says
/// (nothing for other runs): the start push tells monitors which one.
pub fn starting(attempt: Option<u32>, max_attempts: Option<u32>) -> wire::Tries {
    wire::Tries {
        attempt,
        max_attempts,
        attempts: None,
    }
}

/// The attempts of a done run, as its record lists them.
fn tries_of(record: &RunRecord) -> wire::Tries {
    if record.attempts.is_empty() {
        return wire::Tries::default();
    }
    wire::Tries {
        attempt: u32::try_from(record.attempts.len()).ok(),
        max_attempts: None,
        attempts: Some(record.attempts.clone()),
    }
}

/// `state: running`; `tick` when a schedule queued it; `tries` for a run
/// with retries (`starting` or `tries`).
pub fn running(
    id: RunId,
    name: &ScriptName,
    started: f64,
    progress: &ProgressSnapshot,
    tick: Option<i64>,
    tries: wire::Tries,
) -> wire::Running {
    wire::Running {
        id,
        maxtasks: progress.maxtasks,
        name: name.clone(),
        requested_by: requester(tick),
        seq: None,
        started,
        state: RunningState,
        subtask: progress.subtask.clone(),
        subtaskpercent: progress.subtaskpercent,
        success: Success,
        task: progress.task.clone(),
        tasknum: progress.tasknum,
        taskstart: progress.taskstart.unwrap_or(started),
        tick,
        tries,
    }
}

/// `state: done`; `args` only when `with_args` (owners, never guests).
pub fn finished(id: RunId, record: &RunRecord, with_args: bool) -> wire::Finished {
    let (first, last) = if record.tasks.is_empty() {
        (record.first.clone(), record.last.clone())
    } else {
        (String::new(), String::new())
    };
    wire::Finished {
        args: with_args.then(|| wire::RunArgs {
            opts: record.opts.clone(),
            params: record.params.clone(),
        }),
        cancelled_by: None,
        cancelled_by_name: None,
        cancelled_from: None,
        cpu_system: record.cpu_system,
        cpu_user: record.cpu_user,
        duration: record.duration,
        error: record.error.clone(),
        exit_code: record.exit_code,
        finished: record.finished,
        first,
        id,
        killed_by: None,
        killed_by_name: None,
        killed_from: None,
        last,
        log_error: record.log_error.clone(),
        max_rss_kb: record.max_rss_kb,
        name: record.name.clone(),
        outcome: record.outcome,
        queued: record.queued,
        removelog: record.removelog,
        // Who asked is history's (owners only), except a schedule: not a
        // person, and what the run's `tick` stands for.
        requested_by: requester(record.tick),
        requested_by_name: None,
        requested_from: None,
        seq: None,
        signal: record.signal,
        started: record.started,
        state: Done,
        success: Some(Success),
        tasks: record
            .tasks
            .iter()
            .map(|t| wire::TaskSpan {
                end: t.end,
                start: t.start,
                task: t.task.clone(),
            })
            .collect(),
        tick: record.tick,
        tries: tries_of(record),
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
