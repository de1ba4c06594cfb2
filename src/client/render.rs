//! Human-readable text for the server's replies: one
//! run's details, monitor lines, the outcome line and the exit code a
//! finished run maps to. Pure functions of the wire types, so they are
//! unit-tested here.

use crate::events::types::Outcome;
use crate::wire::{Finished, GuestCreateReply, GuestListReply, Push, Queued, RunStatus, Running};

/// Exit code for a `timeout` outcome (as coreutils `timeout`).
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit code for a run whose process could not start (as a shell's 127).
pub const EXIT_START_FAILED: u8 = 127;
/// Exit code for a run cancelled before it started.
pub const EXIT_CANCELLED: u8 = 125;
/// Exit code for a run that the server's shutdown interrupted
/// (sysexits' EX_TEMPFAIL: running it again may work).
pub const EXIT_INTERRUPTED: u8 = 75;

/// A UNIX time as every command prints one (see [`super::when::show`]).
pub fn time(secs: f64) -> String {
    super::when::show(secs)
}

/// The exit code `scriptd run --wait` ends with for a finished run.
pub fn exit_code(done: &Finished) -> u8 {
    match done.outcome {
        Outcome::Success | Outcome::Noexec => 0,
        // Exit codes are 0..=255 on Unix; anything else still means failure.
        Outcome::Failed => done
            .exit_code
            .and_then(|c| u8::try_from(c).ok())
            .filter(|c| *c != 0)
            .unwrap_or(1),
        Outcome::Killed => done
            .signal
            .and_then(|s| u8::try_from(128 + s).ok())
            .unwrap_or(137),
        Outcome::Timeout => EXIT_TIMEOUT,
        Outcome::StartFailed => EXIT_START_FAILED,
        Outcome::Cancelled => EXIT_CANCELLED,
        Outcome::Interrupted => EXIT_INTERRUPTED,
    }
}

/// `done: success (exit 0, 5.0 s)` and the like.
pub fn outcome_line(done: &Finished) -> String {
    let outcome = done.outcome.as_str();
    let mut details = Vec::new();
    if let Some(code) = done.exit_code {
        details.push(format!("exit {code}"));
    }
    if let Some(signal) = done.signal {
        details.push(format!("signal {signal}"));
    }
    if let Some(duration) = done.duration {
        details.push(format!("{duration:.1} s"));
    }
    if let Some(error) = done.error.as_deref().filter(|e| !e.is_empty()) {
        details.push(error.to_owned());
    }
    if details.is_empty() {
        format!("done: {outcome}")
    } else {
        format!("done: {outcome} ({})", details.join(", "))
    }
}

/// `queued (position 2)`, or `scheduled for 03:18:51 UTC (in 25 s)` for a
/// run whose start time is still ahead.
pub fn queued_text(queued: &Queued) -> String {
    let now = crate::clock::now();
    let at = queued.queued as f64;
    if let (Some(attempt), Some(max)) = (queued.tries.attempt, queued.tries.max_attempts) {
        if attempt > 1 {
            let wait = (at - now).max(0.0).round();
            return format!("attempt {attempt} of {max} in {wait} s");
        }
    }
    if at > now + 0.5 {
        format!("scheduled for {}", super::when::show_from_now(at, now))
    } else {
        format!("queued (position {})", queued.position)
    }
}

/// `[2/3] Working` for a running status, or `None` before the first task.
pub fn task_label(running: &Running) -> Option<String> {
    let task = running.task.as_deref()?;
    let num = running.tasknum + 1;
    Some(match running.maxtasks {
        max if max > 0 => format!("[{num}/{max}] {task}"),
        _ => format!("[{num}] {task}"),
    })
}

/// `[50%] Half way` for a running status, or `None` without a subtask.
pub fn subtask_label(running: &Running) -> Option<String> {
    let subtask = running.subtask.as_deref()?;
    Some(format!("[{}%] {subtask}", running.subtaskpercent))
}

/// One line for a monitor push.
pub fn push_line(push: &Push) -> String {
    let head = format!("{} {}", push.name(), push.id());
    let rest = match push {
        RunStatus::Queued(queued) => queued_text(queued),
        RunStatus::Running(running) => {
            let labels: Vec<String> = [task_label(running), subtask_label(running)]
                .into_iter()
                .flatten()
                .collect();
            if labels.is_empty() {
                "started".to_owned()
            } else {
                format!("running {}", labels.join(" "))
            }
        }
        RunStatus::Done(done) => outcome_line(done),
    };
    format!("{head} {rest}")
}

/// One run's status as `key: value` lines.
pub fn run_details(run: &RunStatus) -> String {
    let mut lines = vec![
        format!("id:       {}", run.id()),
        format!("script:   {}", run.name()),
        format!("state:    {}", run.state()),
    ];
    let mut add =
        |key: &str, value: String| lines.push(format!("{:<9} {value}", format!("{key}:")));
    match run {
        RunStatus::Queued(queued) => match queued_text(queued) {
            scheduled if scheduled.starts_with("scheduled") => add("waiting", scheduled),
            _ => {
                add("queued", time(queued.queued as f64));
                add("position", queued.position.to_string());
            }
        },
        RunStatus::Running(running) => {
            add("started", time(running.started));
            let elapsed = (crate::clock::now() - running.started).max(0.0);
            add("elapsed", super::when::span(elapsed));
            add("task", task_label(running).unwrap_or_else(|| "-".into()));
            add(
                "subtask",
                subtask_label(running).unwrap_or_else(|| "-".into()),
            );
        }
        RunStatus::Done(done) => finished_details(done, &mut add),
    }
    lines.join("\n")
}

fn finished_details(run: &Finished, add: &mut impl FnMut(&str, String)) {
    add(
        "outcome",
        outcome_line(run).trim_start_matches("done: ").to_owned(),
    );
    if let Some(at) = run.started {
        add("started", time(at));
    }
    add("finished", time(run.finished));
    for (n, task) in run.tasks.iter().enumerate() {
        let took = format!(" ({:.1} s)", task.end - task.start);
        add("task", format!("{}. {}{took}", n + 1, task.task));
    }
    for (field, line) in [("first", &run.first), ("last", &run.last)] {
        // `[CANCEL]` is the SDK's marker; a person reads the outcome.
        let marker = run.outcome == Outcome::Cancelled && line == "[CANCEL]";
        if !line.is_empty() && !marker {
            add(field, line.clone());
        }
    }
}

/// The guest list as a table.
pub fn guest_table(reply: &GuestListReply) -> String {
    if reply.guests.is_empty() {
        return "no guests".to_owned();
    }
    let mut out = format!("{:<38}  {:<16}  {:<26}  EXPIRES", "ID", "SCRIPT", "RIGHTS");
    for guest in &reply.guests {
        let info = &guest.info;
        let rights: Vec<&str> = [
            ("run", info.run),
            ("cancel", info.cancel),
            ("status", info.status),
            ("monitor", info.monitor),
        ]
        .into_iter()
        .filter_map(|(name, granted)| granted.then_some(name))
        .collect();
        out.push_str(&format!(
            "\n{:<38}  {:<16}  {:<26}  {}",
            guest.id.to_string(),
            info.name,
            rights.join(","),
            time(guest.expires as f64)
        ));
    }
    out
}

/// What `guest create` prints: the id and the key, shown once.
pub fn guest_created(reply: &GuestCreateReply) -> String {
    format!(
        "created guest {}\nAPI key (shown once): {}",
        reply.id,
        reply.info.apikey.as_deref().unwrap_or("")
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A full shape of `state` with `fields` on top, read as a push.
    pub(crate) fn shape(fields: Value) -> RunStatus {
        let mut base = json!({
            "id": "0190c1f2-0000-7000-8000-000000000000", "name": "demo", "success": true,
            "position": 0, "queued": 0,
            "started": 0.0, "task": false, "tasknum": 0, "maxtasks": 0, "taskstart": 0.0,
            "subtask": false, "subtaskpercent": 0,
            "finished": 0.0, "first": "", "last": "", "tasks": [], "removelog": false,
            "outcome": "success", "exit_code": null, "signal": null, "duration": null,
            "cpu_user": null, "cpu_system": null, "max_rss_kb": null, "error": null,
        });
        if let (Value::Object(base), Value::Object(fields)) = (&mut base, fields) {
            base.extend(fields);
        }
        serde_json::from_value(base).expect("a run shape")
    }

    fn done(outcome: &str, exit: Value, signal: Value) -> Finished {
        let status = shape(
            json!({"state": "done", "outcome": outcome, "exit_code": exit,
                                  "signal": signal, "duration": 5.0}),
        );
        status.finished().expect("done").clone()
    }

    fn queued(fields: Value) -> Queued {
        shape(fields).queued().expect("queued").clone()
    }

    fn running(fields: Value) -> Running {
        shape(fields).running().expect("running").clone()
    }

    #[test]
    fn exit_codes_follow_the_outcome() {
        let cases = [
            ("success", done("success", json!(0), Value::Null), 0),
            ("noexec", done("noexec", Value::Null, Value::Null), 0),
            ("failed 3", done("failed", json!(3), Value::Null), 3),
            (
                "failed out of range",
                done("failed", json!(300), Value::Null),
                1,
            ),
            (
                "killed by TERM",
                done("killed", Value::Null, json!(15)),
                143,
            ),
            (
                "killed, no signal",
                done("killed", Value::Null, Value::Null),
                137,
            ),
            ("timeout", done("timeout", Value::Null, json!(9)), 124),
            (
                "start_failed",
                done("start_failed", Value::Null, Value::Null),
                127,
            ),
            (
                "cancelled",
                done("cancelled", Value::Null, Value::Null),
                125,
            ),
            (
                "interrupted",
                done("interrupted", Value::Null, Value::Null),
                75,
            ),
        ];
        for (what, value, want) in cases {
            assert_eq!(exit_code(&value), want, "{what}");
        }
    }

    #[test]
    fn a_run_queued_for_later_shows_when_it_starts() {
        let later = queued(
            json!({"state": "queued", "queued": crate::clock::now_secs() + 25, "position": 0}),
        );
        let text = queued_text(&later);
        assert!(text.starts_with("scheduled for "), "{text}");
        assert!(
            text.ends_with("(in 25 s)") || text.ends_with("(in 24 s)"),
            "{text}"
        );
        let now =
            queued(json!({"state": "queued", "queued": crate::clock::now_secs(), "position": 2}));
        assert_eq!(queued_text(&now), "queued (position 2)");
    }

    #[test]
    fn outcome_line_shows_exit_and_duration() {
        let line = outcome_line(&done("success", json!(0), Value::Null));
        assert_eq!(line, "done: success (exit 0, 5.0 s)");
    }

    #[test]
    fn labels_are_one_based_progress_lines() {
        let busy = running(
            json!({"state": "running", "task": "Working", "tasknum": 1, "maxtasks": 3,
                             "subtask": "Step 50", "subtaskpercent": 50}),
        );
        assert_eq!(task_label(&busy).as_deref(), Some("[2/3] Working"));
        assert_eq!(subtask_label(&busy).as_deref(), Some("[50%] Step 50"));
        let fresh = running(json!({"state": "running", "task": false, "subtask": false}));
        assert_eq!(task_label(&fresh), None);
        assert_eq!(subtask_label(&fresh), None);
    }
}
