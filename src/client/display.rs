//! What `run --wait` shows while it follows a run: the run's id first,
//! then the script's output lines as they come, with an indicatif bar
//! below them on a terminal (task and percent, or the elapsed time and the
//! last output line for a script without progress lines), plain lines when
//! output is piped (logs and CI keep readable text instead of redraw
//! escapes), or JSON lines with `--json`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::render;
use crate::wire::{Finished, Push, RunReply, RunStatus, WsReply};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar's characters: filled, partial, empty. The tests look for them.
pub const BAR_CHARS: &str = "█▌░";
const TEMPLATE: &str = "{spinner} {prefix:.bold} {wide_msg} {bar:24} {pos:>3}%";
/// For a run that has printed no progress line: how long it has run and
/// its last output line, instead of a bar that would stay at 0%.
const ELAPSED_TEMPLATE: &str = "{spinner} {prefix:.bold} {elapsed:>4} {wide_msg}";

/// How progress is shown.
pub enum Display {
    /// A live bar on stderr (a terminal).
    Bar(Bar),
    /// One line per change on stdout.
    Plain { started: bool },
    /// Each push as a JSON line on stdout.
    Json,
}

impl Display {
    /// Picks the display for this process's output.
    pub fn new(json: bool) -> Self {
        if json {
            Display::Json
        } else if std::io::stderr().is_terminal() {
            Display::Bar(Bar::new())
        } else {
            Display::Plain { started: false }
        }
    }

    /// Shows the id of the run just queued (the JSON display has the
    /// whole reply instead).
    pub fn id(&mut self, reply: &RunReply) {
        let id = reply.id.to_string();
        match self {
            Display::Json => print_line(&json_text(reply)),
            Display::Bar(bar) => bar.bar.suspend(|| print_line(&id)),
            Display::Plain { .. } => print_line(&id),
        }
    }

    /// Shows one line the script printed.
    pub fn output(&mut self, line: &str) {
        match self {
            Display::Json => print_line(&serde_json::json!({ "output": line }).to_string()),
            Display::Bar(bar) => {
                bar.bar.suspend(|| print_line(line));
                if !line.trim().is_empty() {
                    bar.last_line = line.trim().to_owned();
                    if !bar.has_task {
                        bar.bar.set_message(bar.last_line.clone());
                    }
                }
            }
            Display::Plain { .. } => print_line(line),
        }
    }

    /// Leaves the run to itself (Ctrl-C): the bar goes, a line says how to
    /// follow the run again.
    pub fn detach(&mut self, id: &str) {
        if let Display::Bar(bar) = self {
            bar.bar.finish_and_clear();
        }
        eprintln!(
            "detached: run {id} goes on; follow it again with `scriptd log {id} --follow` or `scriptd status {id}`"
        );
    }

    /// Shows a queued or running push of the followed run.
    pub fn show(&mut self, push: &WsReply<Push>) {
        match self {
            Display::Json => print_line(&json_text(push)),
            Display::Bar(bar) => bar.draw(&push.body),
            Display::Plain { started } => {
                for line in plain_lines(&push.body, started) {
                    print_line(&line);
                }
            }
        }
    }

    /// Removes the bar and prints the outcome of the finished run.
    pub fn finish(&mut self, done: &WsReply<Finished>) {
        match self {
            Display::Json => print_line(&json_text(done)),
            Display::Bar(bar) => {
                bar.bar.finish_and_clear();
                print_line(&render::outcome_line(&done.body));
            }
            Display::Plain { .. } => print_line(&render::outcome_line(&done.body)),
        }
    }
}

/// One JSON line of a reply as the server sent it.
fn json_text(reply: &impl serde::Serialize) -> String {
    serde_json::to_string(reply).unwrap_or_default()
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) must not abort the wait.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The terminal display's bar and what it shows when there is no task.
pub struct Bar {
    bar: ProgressBar,
    /// Whether the run has printed a progress line (then the bar shows it).
    has_task: bool,
    last_line: String,
    running: bool,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars(BAR_CHARS)
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
        // The bar itself only once the script reports a task.
        bar.set_style(style(ELAPSED_TEMPLATE));
        bar.set_prefix("waiting");
        bar.enable_steady_tick(Duration::from_millis(100));
        Bar {
            bar,
            has_task: false,
            last_line: String::new(),
            running: false,
        }
    }

    fn draw(&mut self, push: &Push) {
        let bar = &self.bar;
        match push {
            RunStatus::Queued(queued) => {
                bar.set_prefix("queued");
                bar.set_message(render::queued_text(queued));
            }
            RunStatus::Running(running) => {
                if !self.running {
                    self.running = true;
                    bar.reset_elapsed();
                }
                let Some(label) = render::task_label(running) else {
                    bar.set_prefix("running");
                    bar.set_message(self.last_line.clone());
                    return;
                };
                if !self.has_task {
                    self.has_task = true;
                    bar.set_style(style(TEMPLATE));
                }
                let (prefix, title) = match label.split_once(' ') {
                    Some((prefix, title)) => (prefix.to_owned(), title.to_owned()),
                    None => (label, String::new()),
                };
                bar.set_prefix(prefix);
                // The subtask's own percent beside its title; the bar is the
                // whole run's, as the dashboard shows it.
                let sub = running
                    .subtask
                    .as_deref()
                    .map(|sub| format!("{sub} {}%", running.subtaskpercent.min(100)));
                bar.set_message(match sub {
                    Some(sub) if !title.is_empty() => format!("{title} — {sub}"),
                    Some(sub) => sub,
                    None => title,
                });
                bar.set_position(overall_percent(running));
            }
            RunStatus::Done(_) => {}
        }
    }
}

/// The whole run's percent: task k of n plus the subtask's share of it
/// (the dashboard's figure); the subtask's percent without a task count.
/// The server resets the subtask when a task starts, so a new task
/// starts at its own beginning.
pub fn overall_percent(running: &crate::wire::Running) -> u64 {
    let sub = f64::from(running.subtaskpercent.min(100)) / 100.0;
    let whole = match running.maxtasks {
        max if max > 0 => (f64::from(running.tasknum) + sub) / f64::from(max),
        _ => sub,
    };
    (whole * 100.0).round().clamp(0.0, 100.0) as u64
}

/// The plain lines a push adds: the queue state and the start; progress
/// lines come with the script's own output.
fn plain_lines(push: &Push, started: &mut bool) -> Vec<String> {
    let mut lines = Vec::new();
    match push {
        RunStatus::Queued(queued) => lines.push(render::queued_text(queued)),
        RunStatus::Running(_) if !*started => {
            *started = true;
            lines.push("started".to_owned());
        }
        _ => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::render::tests::shape;
    use serde_json::{json, Value};

    #[test]
    fn the_bar_shows_the_whole_runs_progress() {
        let running = |tasknum: u32, percent: u8| match shape(json!({"state": "running",
            "task": "T", "tasknum": tasknum, "maxtasks": 4, "subtask": "S",
            "subtaskpercent": percent}))
        {
            RunStatus::Running(running) => running,
            other => panic!("a running shape: {other:?}"),
        };
        assert_eq!(overall_percent(&running(0, 0)), 0, "first task, start");
        assert_eq!(overall_percent(&running(1, 50)), 38, "task 2 of 4, half");
        assert_eq!(overall_percent(&running(3, 100)), 100, "last task, done");
    }

    #[test]
    fn plain_lines_print_the_queue_and_the_start_once() {
        let mut started = false;
        let mut lines = |push: Value| plain_lines(&shape(push), &mut started);
        let start = json!({"state": "running", "task": false, "subtask": false});
        let half = json!({"state": "running", "task": "Preparing", "tasknum": 0, "maxtasks": 3,
                          "subtask": "Half way", "subtaskpercent": 50});
        assert_eq!(
            lines(json!({"state": "queued", "position": 0})),
            ["queued (position 0)"]
        );
        assert_eq!(lines(start), ["started"]);
        assert!(lines(half).is_empty(), "progress comes with the output");
    }
}
