//! `scriptd history` and `scriptd events`: client commands over
//! `GET /scripts/v1/history` and `GET /scripts/v1/events`. A table for
//! people, one JSON object per line with `--json`. `events --follow` keeps a
//! verbose `""` monitor open on the WebSocket and reads `/events?after=`
//! whenever a push arrives, so new run events show at once; account events
//! (which push nothing) are picked up at least every FOLLOW_EVERY.

use std::io::Write;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::Args;

use super::args::Remote;
use super::error::ClientError;
use super::run_id::short;
use super::target::client_for;
use super::when;
use crate::config::Config;
use crate::events::types::Outcome;
use crate::wire::{EventRow, EventsRequest, Finished, HistoryRequest};

/// The most rows the server returns per page.
const PAGE_MAX: u32 = 1000;
/// Longest wait of `events --follow` without a push before it reads anyway.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// `scriptd history …`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only runs of this script.
    #[arg(long)]
    pub name: Option<String>,
    /// Only runs that ended this way.
    #[arg(long, value_parser = PossibleValuesParser::new(Outcome::ALL.map(Outcome::as_str)))]
    pub outcome: Option<String>,
    /// Finished at or after TIME: RFC 3339, a date, UNIX seconds or relative (-1h, -2d).
    #[arg(long, value_name = "TIME", value_parser = when::time_arg, allow_hyphen_values = true)]
    pub since: Option<i64>,
    /// Finished before TIME: RFC 3339, a date, UNIX seconds or relative (-1h, -2d).
    #[arg(long, value_name = "TIME", value_parser = when::time_arg, allow_hyphen_values = true)]
    pub until: Option<i64>,
    /// How many runs to show (pages of at most 1000 are fetched as needed).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Continue after this cursor (printed after a table that has more).
    #[arg(long)]
    pub before: Option<String>,
    #[command(flatten)]
    pub remote: Remote,
}

/// `scriptd events …`
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events after this sequence number.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub after: i64,
    /// How many events per request (at most 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Only events of this run: its id, a unique prefix, or its last 6 or
    /// more hex digits.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Keep printing new events as they are recorded.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// Runs `scriptd history`. The table is printed once every page has
/// arrived, so its columns fit the rows and an error prints no table.
pub async fn history(
    config: &Config,
    args: HistoryArgs,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let server = client_for(&args.remote, config)?;
    let mut query = HistoryRequest {
        before: args.before.clone(),
        limit: None,
        name: args.name.clone(),
        outcome: args.outcome.clone(),
        since: args.since,
        until: args.until,
    };
    let mut left = args.limit;
    let mut rows = Vec::new();
    while left > 0 {
        query.limit = Some(left.min(PAGE_MAX));
        let page = server.history(&query).await?;
        left = left.saturating_sub(page.runs.len() as u32);
        query.before = page.next;
        let last = query.before.is_none() || page.runs.is_empty();
        match args.remote.json {
            // JSON lines stream: a consumer reads them one by one.
            true => page
                .runs
                .iter()
                .try_for_each(|run| writeln!(out, "{}", json_line(run)))?,
            false => rows.extend(page.runs.iter().map(history_cells)),
        }
        if last {
            query.before = None;
            break;
        }
    }
    let before = query.before;
    if !args.remote.json {
        write!(out, "{}", render_table(&HISTORY_HEADER, &rows))?;
        if let Some(cursor) = before {
            writeln!(out, "(more: --before {cursor})")?;
        }
    }
    Ok(())
}

/// Runs `scriptd events`; with `--follow` it only returns on an error.
pub async fn events(
    config: &Config,
    args: EventsArgs,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let server = client_for(&args.remote, config)?;
    let run = match &args.run {
        Some(text) => Some(super::run_id::resolve(&server, text).await?),
        None => None,
    };
    let mut after = args.after;
    let mut monitor = None;
    if !args.remote.json {
        writeln!(out, "{}", render_events_header())?;
    }
    loop {
        let query = EventsRequest {
            after: Some(after),
            limit: Some(args.limit),
            run: run.clone(),
        };
        let page = server.events(&query).await?;
        let events = page.events;
        for event in &events {
            match args.remote.json {
                true => writeln!(out, "{}", json_line(event))?,
                false => writeln!(out, "{}", render_event(event))?,
            }
        }
        out.flush()?;
        if let Some(next) = page.next {
            after = next;
        }
        if !args.follow {
            // A full page may have more behind it, as `history` says.
            if events.len() >= args.limit as usize && !args.remote.json {
                writeln!(out, "(more: --after {after})")?;
            }
            return Ok(());
        }
        // A full page means more are waiting: fetch at once.
        if events.len() < args.limit as usize {
            if monitor.is_none() {
                monitor = Some(server.monitor("", true, Some(after)).await?);
            }
            if let Some(live) = monitor.as_mut() {
                // Any push means new events; a quiet spell may hide account events.
                match actix_web::rt::time::timeout(FOLLOW_EVERY, live.next_push()).await {
                    Ok(Ok(Some(_))) | Err(_) => {}
                    Ok(Ok(None)) | Ok(Err(_)) => monitor = None,
                }
            }
        }
    }
}

fn utc(secs: f64) -> String {
    when::show(secs)
}

/// One row as a JSON line, as the server sent it.
fn json_line(row: &impl serde::Serialize) -> String {
    serde_json::to_string(row).unwrap_or_default()
}

/// The history table's columns; the last one (BY) is not padded.
const HISTORY_HEADER: [&str; 6] = ["ID", "NAME", "OUTCOME", "FINISHED", "DURATION", "BY"];

/// Who: the user's name when the server knows it, else `user:<id>` /
/// `guest:<id>`.
fn who(by: &Option<String>, name: &Option<String>) -> Option<String> {
    let by = by.as_deref()?;
    Some(name.as_deref().unwrap_or(by).to_owned())
}

fn history_cells(run: &Finished) -> Vec<String> {
    let duration = run
        .duration
        .map_or_else(|| "-".into(), |d| format!("{d:.1}s"));
    let mut by = who(&run.requested_by, &run.requested_by_name).unwrap_or_else(|| "-".into());
    if let Some(from) = &run.requested_from {
        by.push_str(&format!(" ({from})"));
    }
    // A schedule's run: which tick started it.
    if let Some(tick) = run.tick {
        by.push_str(&format!(" (due {})", utc(tick as f64)));
    }
    for (past, by_id, name) in [
        ("cancelled", &run.cancelled_by, &run.cancelled_by_name),
        ("killed", &run.killed_by, &run.killed_by_name),
    ] {
        if let Some(who) = who(by_id, name) {
            by.push_str(&format!(", {past} by {who}"));
        }
    }
    vec![
        short(&run.id.to_string()).to_owned(),
        run.name.to_string(),
        run.outcome.as_str().to_owned(),
        utc(run.finished),
        duration,
        by,
    ]
}

/// Left-aligned columns as wide as their widest cell (DURATION right-aligned).
fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len().saturating_sub(1);
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| match i {
                i if i == last => cell.to_string(),
                4 => format!("{cell:>w$}", w = widths[i]),
                _ => format!("{cell:<w$}", w = widths[i]),
            })
            .collect();
        parts.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn render_events_header() -> String {
    format!(
        "{:>8}  {:<23}  {:<16}  {:<12}  {}",
        "SEQ", "AT", "KIND", "RUN", "DETAIL"
    )
}

fn render_event(event: &EventRow) -> String {
    let data = &event.data;
    let record = &data["record"];
    let detail = [
        data["name"].as_str().or(record["name"].as_str()),
        record["outcome"].as_str(),
        data["origin"]["guest"].as_str().map(|_| "by guest"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    format!(
        "{:>8}  {:<23}  {:<16}  {:<12}  {}",
        event.seq,
        utc(event.at),
        event.kind,
        event
            .run
            .map_or_else(|| "-".to_owned(), |run| short(&run.to_string()).to_owned()),
        detail
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn finished(fields: Value) -> Finished {
        let mut fields = fields;
        fields["state"] = json!("done");
        let status = crate::client::render::tests::shape(fields);
        status.finished().expect("done").clone()
    }

    #[test]
    fn history_rows_name_who_requested_and_who_stopped() {
        let row = history_cells(&finished(json!({
            "id": "0190c1f2-0000-7000-8000-000000000000", "name": "backup",
            "outcome": "killed", "finished": 0.0, "duration": 1.25,
            "requested_by": "guest:g1", "requested_from": "10.0.0.1", "killed_by": "user:1",
            "killed_by_name": "alice",
        })));
        assert_eq!(row[1], "backup");
        assert_eq!(row[3], when::show(0.0));
        assert_eq!(row[5], "guest:g1 (10.0.0.1), killed by alice");
    }

    #[test]
    fn a_schedules_run_names_the_schedule_and_its_tick() {
        let row = history_cells(&finished(json!({
            "id": "0190c1f2-0000-7000-8000-000000000000", "name": "beat",
            "outcome": "noexec", "finished": 0.0, "duration": 0.0,
            "requested_by": "schedule", "tick": 60,
        })));
        assert_eq!(row[5], format!("schedule (due {})", when::show(60.0)));
    }

    #[test]
    fn history_columns_stay_aligned_for_long_names() {
        let rows = vec![
            history_cells(&finished(
                json!({"id": "0190c1f2-0000-7000-8000-00000000000a",
                                  "name": "a-very-long-script-name-indeed",
                                  "outcome": "success", "finished": 0.0, "duration": 1.0,
                                  "requested_by": "user:1", "requested_by_name": "admin"}),
            )),
            history_cells(&finished(
                json!({"id": "0190c1f2-0000-7000-8000-00000000000b",
                                  "name": "x", "outcome": "failed",
                                  "finished": 0.0, "duration": 12.5, "requested_by": "user:1"}),
            )),
        ];
        let table = render_table(&HISTORY_HEADER, &rows);
        let starts: Vec<Option<usize>> = table
            .lines()
            .map(|l| l.find("success").or(l.find("failed")).or(l.find("OUTCOME")))
            .collect();
        assert!(starts.iter().all(|s| *s == starts[0]), "{table}");
        assert!(
            table.lines().nth(1).is_some_and(|l| l.ends_with("admin")),
            "{table}"
        );
    }
}
