//! Progress tracking from a script's output lines (the `/scripts` wire contract).
//!
//! A running script reports progress by printing lines (stdout or stderr) that
//! start with a bracketed marker:
//!
//! * `[N/M] Title` or `[N] Title` starts main task `N` (1-based) of `M`;
//! * `[P%] Title` sets the current subtask title and its percent;
//! * everything else is ordinary output.
//!
//! [`parse_line`] classifies one line without allocating, [`Progress`] folds
//! lines into the live/finished status and [`OutputEnds`] remembers the first
//! and last output lines.
//!
//! # Grammar and choices (compared with the original PHP extension)
//!
//! The original (`server_exts/scripts.php`, `UpdateRunningScripts`) trims the
//! line, requires `[` as the first byte, takes the text up to the *first* `]`
//! as the marker, `ltrim`s the rest into the title, and then uses PHP's lenient
//! `(int)` casts. This module keeps the same shape but is strict about numbers:
//!
//! * Whitespace is trimmed around the line, inside the brackets, around `/`
//!   and before `%` (`[ 3 / 5 ]`, `[ 50 % ]`). Digits must be contiguous.
//! * The marker ends at the first `]`, so `[1/2] Copy [a] to [b]` has the
//!   title `Copy [a] to [b]` (same as PHP).
//! * Numbers are plain ASCII decimal `u32`s. Anything else is ordinary output:
//!   `[]`, `[abc]`, `[-1]`, `[0]`, `[/5]`, `[5/]`, `[1/2/3]`, `[-5%]`, and any
//!   number that overflows `u32`. PHP casts these with `(int)`: `[abc]`,
//!   `[0]` and `[-1]` become a negative task index and do nothing (except
//!   stamp `taskstart` when no task was seen yet), `[/5]` only raises
//!   `maxtasks`, `[5/]` starts task 5, `[-5%]` stores -5, and huge numbers
//!   saturate.
//! * `[P%]` with `P > 100` is clamped to 100 (PHP stores the raw value). It is
//!   still a subtask line because the script clearly meant progress.
//! * Fractional percents (`[12.5%]`) are accepted and truncated to `12`, as
//!   PHP's `(int)"12.5%"` does. At least one digit must follow the `.`.
//! * `[1/0]` and `[7/5]` are valid task lines: `M` smaller than `N` cannot
//!   lower `maxtasks` below `N`.
//! * An empty title (`[3] `) is allowed, as in PHP (the task becomes `""`).
//!
//! State rules:
//!
//! * `maxtasks` only grows: `max(previous, M, N)`. So `[N]` without `M` keeps the
//!   previous max if it is `>= N`, else becomes `N`. PHP does the same, but
//!   starts at 1 before any task; here it starts at 0 (`Default`).
//! * The same task number as the current task renames it (the live title and
//!   the open [`TaskRecord`]). No new record, no new `taskstart`, and the
//!   subtask is kept. This is the same as PHP.
//! * Any other number starts a new task. This includes numbers that go
//!   backwards (`[3/5]` then `[2/5]`): the open record is closed and a new one is
//!   pushed. **Deviation:** PHP ignores backwards lines entirely.
//! * Starting any task, including the first one, resets `subtask` to `None` and
//!   `subtaskpercent` to 0. **Deviation:** PHP does not reset the subtask when
//!   the first task is `[1]`, because its `tasknum` starts at 0.
//! * A subtask line before any task sets the subtask and leaves `task` as
//!   `None` (same as PHP).
//! * `tasks` holds the open task too, with `end: None`. PHP appends a record
//!   only when a task is left or the process ends. After [`Progress::finish`]
//!   every record has an `end`, matching PHP's finished `tasks` array.
//! * [`Progress::apply`] returns true only when a status field actually
//!   changed. PHP rewrites the status file for every recognised bracket line.
//! * Titles kept in state are capped at 4 KiB (char-boundary safe) and
//!   `tasks` at 10 000 records. When the cap is reached, starting a new task
//!   replaces the most recently closed record, so the first records and the
//!   current one are kept. PHP has neither cap.
//!
//! [`OutputEnds`] counts progress lines as output, like PHP. PHP stores
//! `first`/`last` for every line and shows them in the finished status only when
//! no task was seen. That policy belongs to the caller. Lines that are empty
//! after trimming are skipped here. PHP could store `""` for a bare newline, and
//! it caps at 10 000 bytes, not char-safe. Here the cap is 4 KiB, char-safe.

/// Longest title or output line kept, in bytes (cut at a char boundary).
const MAX_TEXT_BYTES: usize = 4096;

/// Most task records kept in [`Progress::tasks`].
const MAX_TASK_RECORDS: usize = 10_000;

/// What one output line means.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// `[N/M] Title` or `[N] Title`: main task `num` (1-based) of `max` starts.
    Task {
        /// 1-based task number (never 0).
        num: u32,
        /// Total number of tasks, when the line gave one.
        max: Option<u32>,
        /// Title after the marker (may be empty).
        title: &'a str,
    },
    /// `[P%] Title`: subtask title and its percent (clamped to 100).
    Subtask {
        /// Percent complete, 0..=100.
        percent: u8,
        /// Title after the marker (may be empty).
        title: &'a str,
    },
    /// Any other line.
    Output,
}

/// PHP `trim()` set plus Unicode whitespace.
fn is_trim_char(c: char) -> bool {
    c.is_whitespace() || c == '\0'
}

/// Trims `s` like PHP's `trim()` (and Unicode whitespace).
fn trim(s: &str) -> &str {
    s.trim_matches(is_trim_char)
}

/// Cuts `s` to at most `max` bytes on a char boundary.
fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Parses a non-empty run of ASCII digits as `u32`; `None` on anything else or overflow.
fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses `D+` or `D+.D+` as a truncated `u32`.
fn parse_percent(s: &str) -> Option<u32> {
    match s.split_once('.') {
        None => parse_u32(s),
        Some((int, frac)) => {
            if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            parse_u32(int)
        }
    }
}

/// Classifies one output line; `line` may carry a trailing `\r\n` and is trimmed.
pub fn parse_line(line: &str) -> Line<'_> {
    let line = trim(line);
    let Some(rest) = line.strip_prefix('[') else {
        return Line::Output;
    };
    let Some(close) = rest.find(']') else {
        return Line::Output;
    };
    let marker = trim(&rest[..close]);
    let title = rest[close + 1..].trim_start_matches(is_trim_char);

    if let Some(pct) = marker.strip_suffix('%') {
        return match parse_percent(trim(pct)) {
            Some(p) => Line::Subtask {
                percent: p.min(100) as u8,
                title,
            },
            None => Line::Output,
        };
    }

    let (num, max) = match marker.split_once('/') {
        Some((n, m)) => match (parse_u32(trim(n)), parse_u32(trim(m))) {
            (Some(n), Some(m)) => (n, Some(m)),
            _ => return Line::Output,
        },
        None => match parse_u32(marker) {
            Some(n) => (n, None),
            None => return Line::Output,
        },
    };
    if num == 0 {
        return Line::Output;
    }
    Line::Task { num, max, title }
}

/// Replaces the contents of `dst` with `src`, reusing its buffer; returns true if it differed.
fn set_text(dst: &mut String, src: &str) -> bool {
    if dst == src {
        return false;
    }
    dst.clear();
    dst.push_str(src);
    true
}

/// One main task as it appears in the finished status.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// Task title (latest title if the task was renamed).
    pub task: String,
    /// UNIX seconds when the task started.
    pub start: f64,
    /// UNIX seconds when the task ended; `None` while it is the open task.
    pub end: Option<f64>,
}

/// Live and finished progress state of one script run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Current task title; `None` until a task line is seen.
    pub task: Option<String>,
    /// 0-based index of the current task.
    pub tasknum: u32,
    /// Number of tasks expected (grows only).
    pub maxtasks: u32,
    /// UNIX seconds when the current task started.
    pub taskstart: Option<f64>,
    /// Current subtask title; reset when a task starts.
    pub subtask: Option<String>,
    /// Current subtask percent, 0..=100.
    pub subtaskpercent: u8,
    /// Every task seen, in order; the last one is open until [`Progress::finish`].
    pub tasks: Vec<TaskRecord>,
}

impl Progress {
    /// Fold one output line at time `now`; returns true when task or subtask state changed (so the caller knows to publish).
    pub fn apply(&mut self, line: &str, now: f64) -> bool {
        match parse_line(line) {
            Line::Output => false,
            Line::Subtask { percent, title } => self.set_subtask(percent, title),
            Line::Task { num, max, title } => self.set_task(num, max, title, now),
        }
    }

    /// Close the open task at `now` (called when the process ends).
    pub fn finish(&mut self, now: f64) {
        if let Some(rec) = self.tasks.last_mut() {
            if rec.end.is_none() {
                rec.end = Some(now);
            }
        }
    }

    /// Sets the subtask title and percent; returns true if either changed.
    fn set_subtask(&mut self, percent: u8, title: &str) -> bool {
        let title = cap(title, MAX_TEXT_BYTES);
        let mut changed = match &mut self.subtask {
            Some(cur) => set_text(cur, title),
            None => {
                self.subtask = Some(title.to_owned());
                true
            }
        };
        if self.subtaskpercent != percent {
            self.subtaskpercent = percent;
            changed = true;
        }
        changed
    }

    /// Renames the current task or starts a new one; returns true if anything changed.
    fn set_task(&mut self, num: u32, max: Option<u32>, title: &str, now: f64) -> bool {
        let title = cap(title, MAX_TEXT_BYTES);
        let index = num.saturating_sub(1);
        let mut changed = false;

        let newmax = self.maxtasks.max(num).max(max.unwrap_or(0));
        if newmax != self.maxtasks {
            self.maxtasks = newmax;
            changed = true;
        }

        if let Some(cur) = &mut self.task {
            if self.tasknum == index {
                // Same number: rename the current task in place.
                if set_text(cur, title) {
                    if let Some(rec) = self.tasks.last_mut() {
                        set_text(&mut rec.task, title);
                    }
                    changed = true;
                }
                return changed;
            }
        }

        // A new task starts (forwards or backwards).
        self.finish(now);
        if self.tasks.len() >= MAX_TASK_RECORDS {
            self.tasks.pop();
        }
        self.tasks.push(TaskRecord {
            task: title.to_owned(),
            start: now,
            end: None,
        });
        match &mut self.task {
            Some(cur) => {
                set_text(cur, title);
            }
            None => self.task = Some(title.to_owned()),
        }
        self.tasknum = index;
        self.taskstart = Some(now);
        self.subtask = None;
        self.subtaskpercent = 0;
        true
    }
}

/// Keeps the first and last non-empty trimmed output lines (each capped at 4 KiB).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputEnds {
    first: String,
    last: String,
    seen: bool,
}

impl OutputEnds {
    /// Records one output line (progress lines included); empty lines are ignored.
    pub fn push(&mut self, line: &str) {
        let line = cap(trim(line), MAX_TEXT_BYTES);
        if line.is_empty() {
            return;
        }
        if !self.seen {
            self.seen = true;
            self.first.push_str(line);
        }
        set_text(&mut self.last, line);
    }

    /// First non-empty line seen, or `""`.
    pub fn first(&self) -> &str {
        &self.first
    }

    /// Last non-empty line seen, or `""`.
    pub fn last(&self) -> &str {
        &self.last
    }
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
