//! The `schedules` table: each scheduled script with its expression,
//! zone, catch-up mode, next start (in the user's time, as the other
//! commands print times) and last tick, from `GET /scripts/v1/schedules`.

use super::when;
use crate::wire::{ScheduleInfo, SchedulesReply};

/// The `schedules` table, with times shown relative to `now`.
pub fn schedules_table(reply: &SchedulesReply, now: f64) -> String {
    if reply.schedules.is_empty() {
        return "no schedules: add -c=CRON to a line of this user's exectab.txt".to_owned();
    }
    let rows: Vec<[String; 4]> = reply
        .schedules
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                format!("{} ({}, -C={})", s.cron, s.zone, s.catch_up),
                next(s, now),
                last(s),
            ]
        })
        .collect();
    let header = ["SCRIPT", "SCHEDULE", "NEXT", "LAST"];
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
        .trim_end()
        .to_owned()
    };
    let mut out = line(header);
    for row in &rows {
        out.push('\n');
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
    }
    out
}

fn next(schedule: &ScheduleInfo, now: f64) -> String {
    if schedule.paused {
        return "paused".to_owned();
    }
    match schedule.next.first() {
        Some(t) => when::show_from_now(*t as f64, now),
        None => "never".to_owned(),
    }
}

fn last(schedule: &ScheduleInfo) -> String {
    let Some(last) = &schedule.last else {
        return "-".to_owned();
    };
    let what = match (&last.id, &last.skipped) {
        (Some(id), _) => format!("{id} {}", last.outcome.as_deref().unwrap_or("")),
        (None, Some(why)) => format!("skipped: {why}"),
        (None, None) => String::new(),
    };
    format!("{} {}", when::show(last.tick as f64), what.trim_end())
}
