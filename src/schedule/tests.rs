//! The cron model against a fake clock: every "now" is an argument, so
//! DST transitions and missed ticks are checked without waiting.

use chrono::{TimeZone, Utc};

use super::*;

/// UNIX seconds of a UTC wall-clock time.
fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid time")
        .timestamp()
}

#[test]
fn a_tick_in_the_skipped_hour_starts_once_at_the_first_valid_instant_after_it() {
    // Europe/Berlin, Sunday 29 March 2026: 02:00 CET jumps to 03:00 CEST
    // (01:00 UTC); 02:30 does not exist that day.
    let cron = Cron::parse("30 2 * * *", "Europe/Berlin").expect("parses");
    let fake_now = utc(2026, 3, 28, 23, 0); // 00:00 CET
    let next = cron.upcoming(fake_now, 2);
    assert_eq!(
        next,
        [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)],
        "once at 03:00 CEST, then 02:30 CEST the next day"
    );
}

#[test]
fn a_tick_in_the_repeated_hour_starts_once_not_twice() {
    // Sunday 25 October 2026: 03:00 CEST falls back to 02:00 CET
    // (01:00 UTC); 02:30 comes twice, at 00:30 and 01:30 UTC.
    let cron = Cron::parse("30 2 * * *", "Europe/Berlin").expect("parses");
    let fake_now = utc(2026, 10, 24, 22, 0);
    let next = cron.upcoming(fake_now, 2);
    assert_eq!(
        next,
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        "the first 02:30 (CEST) only, then 02:30 CET the next day"
    );
}

#[test]
fn interval_schedules_follow_real_time_through_both_transitions() {
    let cron = Cron::parse("*/30 * * * *", "Europe/Berlin").expect("parses");
    for (what, from) in [
        ("spring forward", utc(2026, 3, 29, 0, 0)),
        ("fall back", utc(2026, 10, 25, 0, 0)),
    ] {
        let next = cron.upcoming(from, 4);
        let want: Vec<i64> = (1..=4).map(|k| from + k * 1800).collect();
        assert_eq!(next, want, "{what}: every 30 real minutes");
    }
    let seconds = Cron::parse("*/5 * * * * *", "Europe/Berlin").expect("parses");
    let from = utc(2026, 10, 25, 0, 59);
    let want: Vec<i64> = (1..=24).map(|k| from + k * 5).collect();
    assert_eq!(
        seconds.upcoming(from, 24),
        want,
        "every 5 s across 03:00 CEST → 02:00 CET"
    );
}

#[test]
fn utc_and_aliases_and_names() {
    let cases = [
        ("@hourly", utc(2026, 1, 1, 10, 17), utc(2026, 1, 1, 11, 0)),
        ("@daily", utc(2026, 1, 1, 10, 17), utc(2026, 1, 2, 0, 0)),
        ("0 9 * * MON", utc(2026, 1, 1, 10, 0), utc(2026, 1, 5, 9, 0)),
        ("0 0 1 JAN *", utc(2026, 1, 1, 10, 0), utc(2027, 1, 1, 0, 0)),
        ("0 12 L * *", utc(2026, 2, 1, 0, 0), utc(2026, 2, 28, 12, 0)),
        (
            "0 12 * * FRI#2",
            utc(2026, 1, 1, 0, 0),
            utc(2026, 1, 9, 12, 0),
        ),
    ];
    for (expr, now, want) in cases {
        let cron = Cron::parse(expr, "UTC").unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(cron.next_after(now), Some(want), "{expr}");
    }
}

#[test]
fn bad_expressions_and_zones_are_refused_with_a_reason() {
    for (expr, zone) in [
        ("", "UTC"),
        ("* * * *", "UTC"),
        ("61 * * * *", "UTC"),
        ("* * * * * * *", "UTC"),
        ("0 0 30 2 *", "UTC"),
        ("@often", "UTC"),
        ("* * * * *", "Mars/Olympus"),
    ] {
        let err = Cron::parse(expr, zone).expect_err(expr);
        assert!(!err.to_string().is_empty(), "{expr} {zone}");
    }
    assert!(matches!(
        Cron::parse("* * * * *", "Nowhere"),
        Err(CronError::Zone(_))
    ));
}

#[test]
fn due_between_lists_the_earliest_and_counts_all() {
    let cron = Cron::parse("* * * * * *", "UTC").expect("parses");
    let (listed, count) = cron.due_between(1000, 1250, 100);
    assert_eq!(count, 250);
    assert_eq!(listed.len(), 100);
    assert_eq!((listed[0], listed[99]), (1001, 1100));
}

#[test]
fn missed_ticks_plan_by_mode() {
    let listed = [10, 20, 30];
    let summary = |run| MissedPlan::Summary {
        first: 10,
        last: 30,
        count: 3,
        run,
    };
    let cases = [
        (CatchUp::Skip, summary(false)),
        (CatchUp::Once, summary(true)),
        (CatchUp::All, MissedPlan::Each(vec![10, 20, 30])),
    ];
    for (mode, want) in cases {
        assert_eq!(plan_missed(mode, &listed, 30, 3), Some(want), "{mode}");
    }
    let many: Vec<i64> = (1..=101).collect();
    assert_eq!(
        plan_missed(CatchUp::All, &many, 5000, 5000),
        Some(MissedPlan::Summary {
            first: 1,
            last: 5000,
            count: 5000,
            run: true
        }),
        "past 100 missed ticks, one run"
    );
    assert_eq!(plan_missed(CatchUp::Once, &[], 0, 0), None);
}

#[test]
fn common_schedules_are_described_in_words() {
    // The dashboard shows these (croner's words), then the expression.
    for (expr, words) in [
        ("0 0 1 1 *", "At 00:00, on day 1, in January."),
        ("*/5 * * * *", "At every 5 minutes."),
        (
            "30 2 * * MON-FRI",
            "At 02:30, on Monday, Tuesday, Wednesday, Thursday, and Friday.",
        ),
        ("* * * * * *", "Every second."),
        ("@daily", "At 00:00."),
    ] {
        let cron = Cron::parse(expr, "UTC").expect("parses");
        assert_eq!(cron.describe(), words, "{expr}");
    }
}
