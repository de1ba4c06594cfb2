//! Human-readable text for the server's JSON: the status table, one run's
//! details, monitor lines, the outcome line and the exit code a finished
//! run maps to. Pure functions of the JSON, so they are unit-tested here.

use serde_json::{Map, Value};

/// Exit code for a `timeout` outcome (as coreutils `timeout`).
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit code for a run whose process could not start (as a shell's 127).
pub const EXIT_START_FAILED: u8 = 127;
/// Exit code for a run cancelled before it started.
pub const EXIT_CANCELLED: u8 = 125;
/// Exit code for a run that the server's shutdown interrupted
/// (sysexits' EX_TEMPFAIL: running it again may work).
pub const EXIT_INTERRUPTED: u8 = 75;

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or("")
}

fn int(value: &Value, field: &str) -> Option<i64> {
    value.get(field).and_then(Value::as_i64)
}

fn float(value: &Value, field: &str) -> Option<f64> {
    value.get(field).and_then(Value::as_f64)
}

/// A UNIX time as every command prints one (see [`super::when::show`]).
pub fn time(secs: f64) -> String {
    super::when::show(secs)
}

/// The exit code `scriptd run --wait` ends with for a finished run.
pub fn exit_code(done: &Value) -> u8 {
    let code = int(done, "exit_code");
    match text(done, "outcome") {
        "success" | "noexec" => 0,
        // Exit codes are 0..=255 on Unix; anything else still means failure.
        "failed" => code
            .and_then(|c| u8::try_from(c).ok())
            .filter(|c| *c != 0)
            .unwrap_or(1),
        "killed" => int(done, "signal")
            .and_then(|s| u8::try_from(128 + s).ok())
            .unwrap_or(137),
        "timeout" => EXIT_TIMEOUT,
        "start_failed" => EXIT_START_FAILED,
        "cancelled" => EXIT_CANCELLED,
        "interrupted" => EXIT_INTERRUPTED,
        _ => 1,
    }
}

/// `done: success (exit 0, 5.0 s)` and the like.
pub fn outcome_line(done: &Value) -> String {
    let outcome = text(done, "outcome");
    let mut details = Vec::new();
    if let Some(code) = int(done, "exit_code") {
        details.push(format!("exit {code}"));
    }
    if let Some(signal) = int(done, "signal") {
        details.push(format!("signal {signal}"));
    }
    if let Some(duration) = float(done, "duration") {
        details.push(format!("{duration:.1} s"));
    }
    let error = text(done, "error");
    if !error.is_empty() {
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
pub fn queued_text(queued: &Value) -> String {
    let now = crate::clock::now();
    match float(queued, "queued") {
        Some(at) if at > now + 0.5 => {
            format!("scheduled for {}", super::when::show_from_now(at, now))
        }
        _ => format!(
            "queued (position {})",
            int(queued, "position").unwrap_or_default()
        ),
    }
}

/// `[2/3] Working` for a running status, or `None` before the first task.
pub fn task_label(running: &Value) -> Option<String> {
    let task = running.get("task").and_then(Value::as_str)?;
    let num = int(running, "tasknum").unwrap_or(0) + 1;
    Some(match int(running, "maxtasks") {
        Some(max) if max > 0 => format!("[{num}/{max}] {task}"),
        _ => format!("[{num}] {task}"),
    })
}

/// `[50%] Half way` for a running status, or `None` without a subtask.
pub fn subtask_label(running: &Value) -> Option<String> {
    let subtask = running.get("subtask").and_then(Value::as_str)?;
    let percent = float(running, "subtaskpercent").unwrap_or(0.0);
    Some(format!("[{percent:.0}%] {subtask}"))
}

/// One line for a monitor push.
pub fn push_line(push: &Value) -> String {
    let head = format!("{} {}", text(push, "name"), text(push, "id"));
    let rest = match text(push, "state") {
        "queued" => queued_text(push),
        "running" => {
            let labels: Vec<String> = [task_label(push), subtask_label(push)]
                .into_iter()
                .flatten()
                .collect();
            if labels.is_empty() {
                "started".to_owned()
            } else {
                format!("running {}", labels.join(" "))
            }
        }
        "done" => outcome_line(push),
        other => other.to_owned(),
    };
    format!("{head} {rest}")
}

fn ids(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(list)) => list
            .iter()
            .map(|id| id.as_str().unwrap_or_default().to_owned())
            .collect(),
        // A guest sees only a count for scripts other than its own.
        Some(Value::Number(count)) => vec![format!("({count} runs)")],
        _ => Vec::new(),
    }
}

/// The `status` table: one row per queued or running run, per script.
pub fn status_table(all: &Value) -> String {
    let empty = Map::new();
    let section = |state: &str| all.get(state).and_then(Value::as_object).unwrap_or(&empty);
    let mut rows = Vec::new();
    for state in ["running", "queued"] {
        for (name, list) in section(state) {
            for id in ids(Some(list)) {
                rows.push((name.clone(), state, id));
            }
        }
    }
    if rows.is_empty() {
        return "nothing queued or running".to_owned();
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(6);
    let mut out = format!("{:<width$}  {:<7}  ID", "SCRIPT", "STATE");
    for (name, state, id) in rows {
        out.push_str(&format!("\n{name:<width$}  {state:<7}  {id}"));
    }
    out
}

/// One run's status as `key: value` lines.
pub fn run_details(run: &Value) -> String {
    let mut lines = vec![
        format!("id:       {}", text(run, "id")),
        format!("script:   {}", text(run, "name")),
        format!("state:    {}", text(run, "state")),
    ];
    let mut add =
        |key: &str, value: String| lines.push(format!("{:<9} {value}", format!("{key}:")));
    match text(run, "state") {
        "queued" => match queued_text(run) {
            scheduled if scheduled.starts_with("scheduled") => add("waiting", scheduled),
            _ => {
                if let Some(at) = float(run, "queued") {
                    add("queued", time(at));
                }
                add(
                    "position",
                    int(run, "position").unwrap_or_default().to_string(),
                );
            }
        },
        "running" => {
            if let Some(at) = float(run, "started") {
                add("started", time(at));
            }
            add("task", task_label(run).unwrap_or_else(|| "-".into()));
            add("subtask", subtask_label(run).unwrap_or_else(|| "-".into()));
        }
        _ => finished_details(run, &mut add),
    }
    lines.join("\n")
}

fn finished_details(run: &Value, add: &mut impl FnMut(&str, String)) {
    add(
        "outcome",
        outcome_line(run).trim_start_matches("done: ").to_owned(),
    );
    for (key, field) in [("started", "started"), ("finished", "finished")] {
        if let Some(at) = float(run, field) {
            add(key, time(at));
        }
    }
    if let Some(tasks) = run.get("tasks").and_then(Value::as_array) {
        for (n, task) in tasks.iter().enumerate() {
            let took = match (float(task, "start"), float(task, "end")) {
                (Some(start), Some(end)) => format!(" ({:.1} s)", end - start),
                _ => String::new(),
            };
            add("task", format!("{}. {}{took}", n + 1, text(task, "task")));
        }
    }
    for field in ["first", "last"] {
        let line = text(run, field);
        if !line.is_empty() {
            add(field, line.to_owned());
        }
    }
}

/// The guest list as a table.
pub fn guest_table(reply: &Value) -> String {
    let guests = reply.get("guests").and_then(Value::as_array);
    let Some(guests) = guests.filter(|g| !g.is_empty()) else {
        return "no guests".to_owned();
    };
    let mut out = format!("{:<38}  {:<16}  {:<26}  EXPIRES", "ID", "SCRIPT", "RIGHTS");
    for guest in guests {
        let info = guest.get("info").unwrap_or(&Value::Null);
        let rights: Vec<&str> = ["run", "cancel", "status", "monitor"]
            .into_iter()
            .filter(|r| info.get(*r) == Some(&Value::Bool(true)))
            .collect();
        out.push_str(&format!(
            "\n{:<38}  {:<16}  {:<26}  {}",
            text(guest, "id"),
            text(info, "name"),
            rights.join(","),
            float(guest, "expires").map(time).unwrap_or_default()
        ));
    }
    out
}

/// What `guest create` prints: the id and the key, shown once.
pub fn guest_created(reply: &Value) -> String {
    let info = reply.get("info").unwrap_or(&Value::Null);
    format!(
        "created guest {}\nAPI key (shown once): {}",
        text(reply, "id"),
        text(info, "apikey")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn done(outcome: &str, exit: Value, signal: Value) -> Value {
        json!({"state": "done", "outcome": outcome, "exit_code": exit, "signal": signal, "duration": 5.0})
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
        let later = json!({"state": "queued", "queued": crate::clock::now() + 25.0, "position": 0});
        let text = queued_text(&later);
        assert!(text.starts_with("scheduled for "), "{text}");
        assert!(
            text.ends_with("(in 25 s)") || text.ends_with("(in 24 s)"),
            "{text}"
        );
        let now = json!({"state": "queued", "queued": crate::clock::now(), "position": 2});
        assert_eq!(queued_text(&now), "queued (position 2)");
    }

    #[test]
    fn outcome_line_shows_exit_and_duration() {
        let line = outcome_line(&done("success", json!(0), Value::Null));
        assert_eq!(line, "done: success (exit 0, 5.0 s)");
    }

    #[test]
    fn labels_are_one_based_progress_lines() {
        let running = json!({"state": "running", "task": "Working", "tasknum": 1, "maxtasks": 3,
                             "subtask": "Step 50", "subtaskpercent": 50});
        assert_eq!(task_label(&running).as_deref(), Some("[2/3] Working"));
        assert_eq!(subtask_label(&running).as_deref(), Some("[50%] Step 50"));
        let fresh = json!({"state": "running", "task": false, "subtask": false});
        assert_eq!(task_label(&fresh), None);
        assert_eq!(subtask_label(&fresh), None);
    }

    #[test]
    fn status_table_lists_running_before_queued_per_script() {
        let all = json!({"success": true,
            "running": {"demo": ["r1"]}, "queued": {"demo": ["q1", "q2"], "other": 2}});
        let table = status_table(&all);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(
            lines[1].contains("running") && lines[1].ends_with("r1"),
            "{table}"
        );
        assert!(
            lines[4].starts_with("other") && lines[4].contains("(2 runs)"),
            "{table}"
        );
        assert_eq!(
            status_table(&json!({"queued": {}, "running": {}})),
            "nothing queued or running"
        );
    }
}
