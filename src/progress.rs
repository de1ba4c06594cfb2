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
mod tests {
    use super::*;

    fn task(num: u32, max: Option<u32>, title: &str) -> Line<'_> {
        Line::Task { num, max, title }
    }

    fn sub(percent: u8, title: &str) -> Line<'_> {
        Line::Subtask { percent, title }
    }

    #[test]
    fn parse_line_table() {
        let cases: &[(&str, &str, Line<'static>)] = &[
            ("task with max", "[1/3] Task 1", task(1, Some(3), "Task 1")),
            ("task without max", "[2] Task 2", task(2, None, "Task 2")),
            ("subtask", "[50%] Subtask", sub(50, "Subtask")),
            ("zero percent", "[0%] Start", sub(0, "Start")),
            ("hundred percent", "[100%] Done", sub(100, "Done")),
            ("plain output", "hello world", Line::Output),
            ("empty line", "", Line::Output),
            ("only whitespace", " \t\r\n", Line::Output),
            ("empty brackets", "[]", Line::Output),
            ("empty brackets with title", "[] x", Line::Output),
            ("whitespace-only marker", "[  ] x", Line::Output),
            ("non-numeric marker", "[abc] x", Line::Output),
            ("log level marker", "[INFO] starting", Line::Output),
            ("missing task number", "[/5] x", Line::Output),
            ("missing max", "[5/] x", Line::Output),
            ("two slashes", "[1/2/3] x", Line::Output),
            ("negative task", "[-1] x", Line::Output),
            ("plus sign", "[+1] x", Line::Output),
            ("task zero", "[0] x", Line::Output),
            ("task zero of five", "[0/5] x", Line::Output),
            ("negative percent", "[-5%] x", Line::Output),
            ("bare percent sign", "[%] x", Line::Output),
            ("percent clamped", "[150%] x", sub(100, "x")),
            ("huge percent clamped", "[4294967295%] x", sub(100, "x")),
            ("percent overflow", "[4294967296%] x", Line::Output),
            ("fractional percent truncates", "[12.5%] x", sub(12, "x")),
            ("fraction near 100", "[99.99%] x", sub(99, "x")),
            ("fraction without digits", "[12.%] x", Line::Output),
            ("fraction without int", "[.5%] x", Line::Output),
            ("two dots", "[1.2.3%] x", Line::Output),
            ("empty title", "[3] ", task(3, None, "")),
            ("no title at all", "[3]", task(3, None, "")),
            ("empty subtask title", "[7%]", sub(7, "")),
            (
                "whitespace inside task brackets",
                "[ 3 / 5 ] Title",
                task(3, Some(5), "Title"),
            ),
            (
                "tabs inside brackets",
                "[\t3\t/\t5\t] Title",
                task(3, Some(5), "Title"),
            ),
            (
                "whitespace inside percent brackets",
                "[ 50 % ] Title",
                sub(50, "Title"),
            ),
            ("space inside digits", "[5 0%] x", Line::Output),
            ("space inside task digits", "[1 2] x", Line::Output),
            ("max zero", "[1/0] x", task(1, Some(0), "x")),
            ("max below num", "[7/5] x", task(7, Some(5), "x")),
            ("largest u32", "[4294967295] x", task(u32::MAX, None, "x")),
            ("task overflow", "[4294967296] x", Line::Output),
            ("huge task", "[99999999999999999999999] x", Line::Output),
            ("huge max", "[1/99999999999999999999] x", Line::Output),
            ("leading zeros", "[007/010] x", task(7, Some(10), "x")),
            ("windows crlf", "[1/2] Title\r\n", task(1, Some(2), "Title")),
            ("bare cr", "[40%] Sub\r", sub(40, "Sub")),
            (
                "brackets in title",
                "[1/2] Copy [a] to [b]",
                task(1, Some(2), "Copy [a] to [b]"),
            ),
            (
                "leading and trailing whitespace",
                "  \t[2/4]   Spaced title \t ",
                task(2, Some(4), "Spaced title"),
            ),
            (
                "inner title whitespace kept",
                "[1] a  b",
                task(1, None, "a  b"),
            ),
            ("no space before title", "[1]Title", task(1, None, "Title")),
            ("unclosed bracket", "[1/2 Title", Line::Output),
            ("bracket not first", "x [1/2] Title", Line::Output),
            ("nul padding trimmed", "\0[1] T\0", task(1, None, "T")),
            ("unicode digits rejected", "[\u{0663}] x", Line::Output),
            ("unicode title", "[1] Größe ✓", task(1, None, "Größe ✓")),
        ];
        for (desc, input, want) in cases {
            assert_eq!(&parse_line(input), want, "case {desc:?}: input {input:?}");
        }
    }

    /// Expected state after feeding `lines` at times 1.0, 2.0, ...
    struct SeqCase {
        desc: &'static str,
        lines: &'static [&'static str],
        changed: &'static [bool],
        task: Option<&'static str>,
        tasknum: u32,
        maxtasks: u32,
        taskstart: Option<f64>,
        subtask: Option<&'static str>,
        percent: u8,
        records: &'static [Rec],
    }

    /// `(title, start, end)` view of a [`TaskRecord`].
    type Rec = (&'static str, f64, Option<f64>);

    fn check_seq(c: &SeqCase) {
        let mut p = Progress::default();
        let changed: Vec<bool> = c
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| p.apply(l, (i + 1) as f64))
            .collect();
        let d = c.desc;
        assert_eq!(changed, c.changed, "case {d:?}: changed flags");
        assert_eq!(p.task.as_deref(), c.task, "case {d:?}: task");
        assert_eq!(p.tasknum, c.tasknum, "case {d:?}: tasknum");
        assert_eq!(p.maxtasks, c.maxtasks, "case {d:?}: maxtasks");
        assert_eq!(p.taskstart, c.taskstart, "case {d:?}: taskstart");
        assert_eq!(p.subtask.as_deref(), c.subtask, "case {d:?}: subtask");
        assert_eq!(p.subtaskpercent, c.percent, "case {d:?}: subtaskpercent");
        let recs: Vec<(&str, f64, Option<f64>)> = p
            .tasks
            .iter()
            .map(|r| (r.task.as_str(), r.start, r.end))
            .collect();
        assert_eq!(recs, c.records, "case {d:?}: tasks");
    }

    #[test]
    fn apply_table() {
        let cases = [
            SeqCase {
                desc: "readme example",
                lines: &[
                    "[1/3] Task 1",
                    "[50%] Subtask",
                    "[88%] Subtask",
                    "[2] Task 2",
                    "[15%] Subtask",
                    "[3] Task 3",
                ],
                changed: &[true, true, true, true, true, true],
                task: Some("Task 3"),
                tasknum: 2,
                maxtasks: 3,
                taskstart: Some(6.0),
                subtask: None,
                percent: 0,
                records: &[
                    ("Task 1", 1.0, Some(4.0)),
                    ("Task 2", 4.0, Some(6.0)),
                    ("Task 3", 6.0, None),
                ],
            },
            SeqCase {
                desc: "nothing seen",
                lines: &["hello", "", "[abc] x"],
                changed: &[false, false, false],
                task: None,
                tasknum: 0,
                maxtasks: 0,
                taskstart: None,
                subtask: None,
                percent: 0,
                records: &[],
            },
            SeqCase {
                desc: "subtask before any task",
                lines: &["[10%] Sub"],
                changed: &[true],
                task: None,
                tasknum: 0,
                maxtasks: 0,
                taskstart: None,
                subtask: Some("Sub"),
                percent: 10,
                records: &[],
            },
            SeqCase {
                desc: "first task resets early subtask",
                lines: &["[10%] Sub", "[1] First"],
                changed: &[true, true],
                task: Some("First"),
                tasknum: 0,
                maxtasks: 1,
                taskstart: Some(2.0),
                subtask: None,
                percent: 0,
                records: &[("First", 2.0, None)],
            },
            SeqCase {
                desc: "malformed markers are ignored",
                lines: &[
                    "[1/2] A", "[abc] x", "[]", "[/5] x", "[5/] x", "[-1] x", "[0] x",
                ],
                changed: &[true, false, false, false, false, false, false],
                task: Some("A"),
                tasknum: 0,
                maxtasks: 2,
                taskstart: Some(1.0),
                subtask: None,
                percent: 0,
                records: &[("A", 1.0, None)],
            },
            SeqCase {
                desc: "percent over 100 clamps",
                lines: &["[1] A", "[150%] x"],
                changed: &[true, true],
                task: Some("A"),
                tasknum: 0,
                maxtasks: 1,
                taskstart: Some(1.0),
                subtask: Some("x"),
                percent: 100,
                records: &[("A", 1.0, None)],
            },
            SeqCase {
                desc: "fractional percent truncates",
                lines: &["[1] A", "[12.5%] x", "[12.9%] x"],
                changed: &[true, true, false],
                task: Some("A"),
                tasknum: 0,
                maxtasks: 1,
                taskstart: Some(1.0),
                subtask: Some("x"),
                percent: 12,
                records: &[("A", 1.0, None)],
            },
            SeqCase {
                desc: "repeated subtask line is not a change",
                lines: &["[1] A", "[5%] s", "[5%] s", "[6%] s", "[6%] t"],
                changed: &[true, true, false, true, true],
                task: Some("A"),
                tasknum: 0,
                maxtasks: 1,
                taskstart: Some(1.0),
                subtask: Some("t"),
                percent: 6,
                records: &[("A", 1.0, None)],
            },
            SeqCase {
                desc: "empty title",
                lines: &["[3] "],
                changed: &[true],
                task: Some(""),
                tasknum: 2,
                maxtasks: 3,
                taskstart: Some(1.0),
                subtask: None,
                percent: 0,
                records: &[("", 1.0, None)],
            },
            SeqCase {
                desc: "rename with same number keeps record, start and subtask",
                lines: &["[2/5] Old", "[40%] s", "[2/5] New", "[2] New"],
                changed: &[true, true, true, false],
                task: Some("New"),
                tasknum: 1,
                maxtasks: 5,
                taskstart: Some(1.0),
                subtask: Some("s"),
                percent: 40,
                records: &[("New", 1.0, None)],
            },
            SeqCase {
                desc: "rename that only raises max",
                lines: &["[2] A", "[2/7] A"],
                changed: &[true, true],
                task: Some("A"),
                tasknum: 1,
                maxtasks: 7,
                taskstart: Some(1.0),
                subtask: None,
                percent: 0,
                records: &[("A", 1.0, None)],
            },
            SeqCase {
                desc: "numbers going backwards start a new task",
                lines: &["[3/5] Three", "[50%] s", "[2/5] Two"],
                changed: &[true, true, true],
                task: Some("Two"),
                tasknum: 1,
                maxtasks: 5,
                taskstart: Some(3.0),
                subtask: None,
                percent: 0,
                records: &[("Three", 1.0, Some(3.0)), ("Two", 3.0, None)],
            },
            SeqCase {
                desc: "skipping numbers records only seen tasks",
                lines: &["[1/5] One", "[4] Four"],
                changed: &[true, true],
                task: Some("Four"),
                tasknum: 3,
                maxtasks: 5,
                taskstart: Some(2.0),
                subtask: None,
                percent: 0,
                records: &[("One", 1.0, Some(2.0)), ("Four", 2.0, None)],
            },
            SeqCase {
                desc: "whitespace inside brackets",
                lines: &["[ 3 / 5 ] Title", "[ 50 % ] Sub"],
                changed: &[true, true],
                task: Some("Title"),
                tasknum: 2,
                maxtasks: 5,
                taskstart: Some(1.0),
                subtask: Some("Sub"),
                percent: 50,
                records: &[("Title", 1.0, None)],
            },
            SeqCase {
                desc: "max zero never lowers below num",
                lines: &["[1/0] x"],
                changed: &[true],
                task: Some("x"),
                tasknum: 0,
                maxtasks: 1,
                taskstart: Some(1.0),
                subtask: None,
                percent: 0,
                records: &[("x", 1.0, None)],
            },
            SeqCase {
                desc: "max only grows",
                lines: &["[1/5] a", "[2/3] b"],
                changed: &[true, true],
                task: Some("b"),
                tasknum: 1,
                maxtasks: 5,
                taskstart: Some(2.0),
                subtask: None,
                percent: 0,
                records: &[("a", 1.0, Some(2.0)), ("b", 2.0, None)],
            },
            SeqCase {
                desc: "[N] keeps a larger previous max",
                lines: &["[1/4] a", "[2] b"],
                changed: &[true, true],
                task: Some("b"),
                tasknum: 1,
                maxtasks: 4,
                taskstart: Some(2.0),
                subtask: None,
                percent: 0,
                records: &[("a", 1.0, Some(2.0)), ("b", 2.0, None)],
            },
            SeqCase {
                desc: "[N] raises a smaller previous max to N",
                lines: &["[1/2] a", "[6] b"],
                changed: &[true, true],
                task: Some("b"),
                tasknum: 5,
                maxtasks: 6,
                taskstart: Some(2.0),
                subtask: None,
                percent: 0,
                records: &[("a", 1.0, Some(2.0)), ("b", 2.0, None)],
            },
            SeqCase {
                desc: "huge numbers are output, largest u32 is fine",
                lines: &[
                    "[99999999999] x",
                    "[1/99999999999] x",
                    "[99999999999%] x",
                    "[4294967295/4294967295] max",
                ],
                changed: &[false, false, false, true],
                task: Some("max"),
                tasknum: u32::MAX - 1,
                maxtasks: u32::MAX,
                taskstart: Some(4.0),
                subtask: None,
                percent: 0,
                records: &[("max", 4.0, None)],
            },
            SeqCase {
                desc: "windows line endings",
                lines: &["[1/2] One\r\n", "[25%] Sub\r", "[2/2] Two\r\n"],
                changed: &[true, true, true],
                task: Some("Two"),
                tasknum: 1,
                maxtasks: 2,
                taskstart: Some(3.0),
                subtask: None,
                percent: 0,
                records: &[("One", 1.0, Some(3.0)), ("Two", 3.0, None)],
            },
            SeqCase {
                desc: "title containing brackets",
                lines: &["[1/2] Copy [a] to [b]"],
                changed: &[true],
                task: Some("Copy [a] to [b]"),
                tasknum: 0,
                maxtasks: 2,
                taskstart: Some(1.0),
                subtask: None,
                percent: 0,
                records: &[("Copy [a] to [b]", 1.0, None)],
            },
            SeqCase {
                desc: "surrounding whitespace",
                lines: &["   [1/1]   Title  \t", "  [ 9% ]  s  "],
                changed: &[true, true],
                task: Some("Title"),
                tasknum: 0,
                maxtasks: 1,
                taskstart: Some(1.0),
                subtask: Some("s"),
                percent: 9,
                records: &[("Title", 1.0, None)],
            },
        ];
        for c in &cases {
            check_seq(c);
        }
    }

    #[test]
    fn finish_closes_open_task_once() {
        let cases: &[(&str, &[&str], &[Rec])] = &[
            ("no tasks", &["output"], &[]),
            ("one task", &["[1] a"], &[("a", 1.0, Some(10.0))]),
            (
                "two tasks",
                &["[1] a", "[2] b"],
                &[("a", 1.0, Some(2.0)), ("b", 2.0, Some(10.0))],
            ),
        ];
        for (desc, lines, want) in cases {
            let mut p = Progress::default();
            for (i, l) in lines.iter().enumerate() {
                p.apply(l, (i + 1) as f64);
            }
            p.finish(10.0);
            p.finish(20.0);
            let got: Vec<(&str, f64, Option<f64>)> = p
                .tasks
                .iter()
                .map(|r| (r.task.as_str(), r.start, r.end))
                .collect();
            assert_eq!(&got, want, "case {desc:?}");
        }
    }

    #[test]
    fn titles_are_capped_on_char_boundary() {
        let ascii = format!("[1] {}", "a".repeat(MAX_TEXT_BYTES + 10));
        let even = format!("[1] {}", "é".repeat(3000)); // cut lands on a boundary
        let odd = format!("[1] a{}", "é".repeat(3000)); // cut lands mid-char
        let cases: [(&str, &str, usize); 4] = [
            ("short title untouched", "[1] abc", 3),
            ("ascii over cap", &ascii, MAX_TEXT_BYTES),
            ("2-byte chars, boundary at cap", &even, MAX_TEXT_BYTES),
            ("2-byte chars, cap inside a char", &odd, MAX_TEXT_BYTES - 1),
        ];
        for (desc, line, want_len) in cases {
            let mut p = Progress::default();
            p.apply(line, 1.0);
            p.apply(&line.replacen("[1]", "[5%]", 1), 2.0);
            let t = p.task.as_deref().unwrap();
            assert_eq!(t.len(), want_len, "case {desc:?}: task");
            assert_eq!(p.tasks[0].task, t, "case {desc:?}: record matches");
            assert_eq!(p.subtask.as_deref(), Some(t), "case {desc:?}: subtask");
        }
    }

    #[test]
    fn subtask_buffer_is_reused() {
        let mut p = Progress::default();
        p.apply("[1%] a fairly long subtask title", 1.0);
        let ptr = p.subtask.as_ref().unwrap().as_ptr();
        p.apply("[2%] shorter", 2.0);
        assert_eq!(p.subtask.as_deref(), Some("shorter"));
        assert_eq!(p.subtask.as_ref().unwrap().as_ptr(), ptr);
    }

    #[test]
    fn task_records_are_capped() {
        let mut p = Progress::default();
        for n in 1..=(MAX_TASK_RECORDS as u32 + 5) {
            p.apply(&format!("[{n}] t{n}"), f64::from(n));
        }
        assert_eq!(p.tasks.len(), MAX_TASK_RECORDS);
        assert_eq!(p.tasks[0].task, "t1");
        let last = p.tasks.last().unwrap();
        assert_eq!(last.task, format!("t{}", MAX_TASK_RECORDS + 5));
        assert_eq!(last.end, None);
        assert_eq!(p.task.as_deref(), Some(last.task.as_str()));
    }

    #[test]
    fn output_ends_table() {
        let long = format!("x{}", "ü".repeat(3000)); // 6001 bytes
        let capped = cap(&long, MAX_TEXT_BYTES).to_owned();
        assert_eq!(capped.len(), MAX_TEXT_BYTES - 1);
        let cases: [(&str, Vec<&str>, &str, &str); 7] = [
            ("nothing", vec![], "", ""),
            ("only blank lines", vec!["", "  \r\n", "\t"], "", ""),
            ("single line", vec!["hello\r\n"], "hello", "hello"),
            (
                "blank lines skipped",
                vec!["", " first ", "\n", "mid", "last\r\n", "   "],
                "first",
                "last",
            ),
            (
                "progress lines count as output",
                vec!["[1/2] Task", "out", "[50%] Sub"],
                "[1/2] Task",
                "[50%] Sub",
            ),
            ("long line capped", vec![&long], &capped, &capped),
            (
                "last shrinks after a long line",
                vec![&long, "short"],
                &capped,
                "short",
            ),
        ];
        for (desc, lines, first, last) in cases {
            let mut o = OutputEnds::default();
            for l in lines {
                o.push(l);
            }
            assert_eq!(o.first(), first, "case {desc:?}: first");
            assert_eq!(o.last(), last, "case {desc:?}: last");
        }
    }

    /// xorshift64*: small deterministic generator for the fuzz test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        const ALPHABET: &[u8] = b"[]/%.0123456789 \t\r\n-+abc\0\xc3\xa9\xff";
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut p = Progress::default();
        let mut ends = OutputEnds::default();
        let mut buf = Vec::new();
        for i in 0..20_000u32 {
            buf.clear();
            let len = (rng.next() % 24) as usize;
            if rng.next() % 3 < 2 {
                buf.push(b'[');
            }
            for _ in 0..len {
                let r = rng.next();
                let b = if r & 3 == 0 {
                    (r >> 8) as u8
                } else {
                    ALPHABET[((r >> 8) % ALPHABET.len() as u64) as usize]
                };
                buf.push(b);
            }
            let line = String::from_utf8_lossy(&buf);
            let now = f64::from(i);
            let _ = parse_line(&line);
            p.apply(&line, now);
            ends.push(&line);

            assert!(p.subtaskpercent <= 100, "line {line:?}");
            assert!(p.tasks.len() <= MAX_TASK_RECORDS);
            match &p.task {
                Some(t) => {
                    let last = p.tasks.last().expect("open record");
                    assert_eq!(&last.task, t, "line {line:?}");
                    assert_eq!(last.end, None, "line {line:?}");
                    assert!(p.tasknum < p.maxtasks, "line {line:?}");
                }
                None => assert!(p.tasks.is_empty(), "line {line:?}"),
            }
            if let Some((_, closed)) = p.tasks.split_last() {
                assert!(closed.iter().all(|r| r.end.is_some_and(|e| e >= r.start)));
            }
        }
        assert!(!p.tasks.is_empty(), "generator should produce some tasks");
        p.finish(1e9);
        assert!(p.tasks.iter().all(|r| r.end.is_some()));
    }
}
