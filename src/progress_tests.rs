//! Unit tests for `progress`: the bracket-marker grammar of `parse_line`,
//! the `Progress` state rules and `OutputEnds` first/last tracking.

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
