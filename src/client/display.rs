//! What `run --wait` shows while it follows a run: an indicatif bar on a
//! terminal, plain progress lines when output is piped (logs and CI keep
//! readable text instead of redraw escapes), or raw JSON with `--json`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::render;

/// The bar's characters: filled, partial, empty. The tests look for them.
pub const BAR_CHARS: &str = "█▌░";
const TEMPLATE: &str = "{spinner} {prefix:.bold} {wide_msg} {bar:24} {pos:>3}%";

/// How progress is shown.
pub enum Display {
    /// A live bar on stderr (a terminal).
    Bar(ProgressBar),
    /// One line per change on stdout.
    Plain {
        task: Option<String>,
        subtask: Option<String>,
        started: bool,
    },
    /// Each push as a JSON line on stdout.
    Json,
}

impl Display {
    /// Picks the display for this process's output.
    pub fn new(json: bool) -> Self {
        if json {
            Display::Json
        } else if std::io::stderr().is_terminal() {
            Display::Bar(bar())
        } else {
            Display::Plain {
                task: None,
                subtask: None,
                started: false,
            }
        }
    }

    /// Shows a queued or running push of the followed run.
    pub fn show(&mut self, push: &Value) {
        match self {
            Display::Json => print_line(&push.to_string()),
            Display::Bar(bar) => draw(bar, push),
            Display::Plain {
                task,
                subtask,
                started,
            } => {
                for line in plain_lines(push, task, subtask, started) {
                    print_line(&line);
                }
            }
        }
    }

    /// Removes the bar and prints the outcome of the finished run.
    pub fn finish(&mut self, done: &Value) {
        match self {
            Display::Json => print_line(&done.to_string()),
            Display::Bar(bar) => {
                bar.finish_and_clear();
                print_line(&render::outcome_line(done));
            }
            Display::Plain { .. } => print_line(&render::outcome_line(done)),
        }
    }
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) must not abort the wait.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars(BAR_CHARS);
    bar.set_style(style);
    bar.set_prefix("waiting");
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn draw(bar: &ProgressBar, push: &Value) {
    match push.get("state").and_then(Value::as_str) {
        Some("queued") => {
            bar.set_prefix("queued");
            let position = push.get("position").and_then(Value::as_i64).unwrap_or(0);
            bar.set_message(format!("position {position}"));
        }
        Some("running") => {
            let (prefix, title) = match render::task_label(push) {
                Some(label) => match label.split_once(' ') {
                    Some((prefix, title)) => (prefix.to_owned(), title.to_owned()),
                    None => (label, String::new()),
                },
                None => ("running".to_owned(), String::new()),
            };
            let subtask = push.get("subtask").and_then(Value::as_str);
            bar.set_prefix(prefix);
            bar.set_message(match subtask {
                Some(sub) if !title.is_empty() => format!("{title} — {sub}"),
                Some(sub) => sub.to_owned(),
                None => title,
            });
            let percent = push.get("subtaskpercent").and_then(Value::as_f64);
            bar.set_position(percent.unwrap_or(0.0).clamp(0.0, 100.0) as u64);
        }
        _ => {}
    }
}

/// The plain lines a push adds: only what changed since the last one.
fn plain_lines(
    push: &Value,
    task: &mut Option<String>,
    subtask: &mut Option<String>,
    started: &mut bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    match push.get("state").and_then(Value::as_str) {
        Some("queued") => {
            let position = push.get("position").and_then(Value::as_i64).unwrap_or(0);
            lines.push(format!("queued (position {position})"));
        }
        Some("running") => {
            if !*started {
                *started = true;
                lines.push("started".to_owned());
            }
            let now_task = render::task_label(push);
            if now_task.is_some() && now_task != *task {
                lines.extend(now_task.clone());
            }
            *task = now_task;
            let now_sub = render::subtask_label(push);
            if now_sub.is_some() && now_sub != *subtask {
                lines.extend(now_sub.clone());
            }
            *subtask = now_sub;
        }
        _ => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_lines_print_only_changes() {
        let (mut task, mut sub, mut started) = (None, None, false);
        let mut lines = |push: Value| plain_lines(&push, &mut task, &mut sub, &mut started);
        let start = json!({"state": "running", "task": false, "subtask": false});
        let first = json!({"state": "running", "task": "Preparing", "tasknum": 0, "maxtasks": 3,
                           "subtask": false, "subtaskpercent": 0});
        let half = json!({"state": "running", "task": "Preparing", "tasknum": 0, "maxtasks": 3,
                          "subtask": "Half way", "subtaskpercent": 50});
        assert_eq!(
            lines(json!({"state": "queued", "position": 0})),
            ["queued (position 0)"]
        );
        assert_eq!(lines(start), ["started"]);
        assert_eq!(lines(first.clone()), ["[1/3] Preparing"]);
        assert_eq!(lines(half.clone()), ["[50%] Half way"]);
        assert!(lines(half).is_empty(), "an unchanged push prints nothing");
    }
}
