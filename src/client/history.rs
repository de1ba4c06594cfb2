//! `scriptd history` and `scriptd events`: client commands over
//! `GET /scripts/v1/history` and `GET /scripts/v1/events`. A table for
//! people, one JSON object per line with `--json`. `events --follow` keeps a
//! verbose `""` monitor open on the WebSocket and reads `/events?after=`
//! whenever a push arrives, so new run events show at once; account events
//! (which push nothing) are picked up at least every FOLLOW_EVERY.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::args::Remote;
use super::command::client_for;
use super::error::ClientError;
use super::when::parse_time;
use crate::clock;

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
    /// Only runs that ended this way (success, failed, killed, timeout,
    /// cancelled, start_failed, interrupted, noexec).
    #[arg(long)]
    pub outcome: Option<String>,
    /// Finished at or after TIME: UNIX seconds or RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Finished before TIME: UNIX seconds or RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
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
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// How many events per request (at most 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Only events of this run.
    #[arg(long)]
    pub run: Option<String>,
    /// Keep printing new events as they are recorded (polls every 500 ms).
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// Why `history` or `events` failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

fn time_arg(text: &Option<String>) -> Result<Option<i64>, ClientError> {
    text.as_deref()
        .map(|t| parse_time(t, clock::now_secs()))
        .transpose()
}

/// Runs `scriptd history`; `storage` is where `admin.key` may be.
pub async fn history(
    storage: &Path,
    args: HistoryArgs,
    out: &mut dyn Write,
) -> Result<(), HistoryError> {
    let server = client_for(&args.remote, storage)?;
    let mut filters = Vec::new();
    for (field, value) in [("name", &args.name), ("outcome", &args.outcome)] {
        if let Some(value) = value {
            filters.push((field, value.clone()));
        }
    }
    for (field, value) in [("since", &args.since), ("until", &args.until)] {
        if let Some(time) = time_arg(value)? {
            filters.push((field, time.to_string()));
        }
    }
    let mut before = args.before.clone();
    let mut left = args.limit;
    if !args.remote.json {
        writeln!(out, "{}", render_history_header())?;
    }
    while left > 0 {
        let mut query = filters.clone();
        query.push(("limit", left.min(PAGE_MAX).to_string()));
        if let Some(cursor) = &before {
            query.push(("before", cursor.clone()));
        }
        let page = server.get("history", &query).await?;
        let runs = page["runs"].as_array().cloned().unwrap_or_default();
        for run in &runs {
            match args.remote.json {
                true => writeln!(out, "{run}")?,
                false => writeln!(out, "{}", render_history_row(run))?,
            }
        }
        left = left.saturating_sub(runs.len() as u32);
        before = page["next"].as_str().map(str::to_owned);
        if before.is_none() || runs.is_empty() {
            return Ok(());
        }
    }
    if let (Some(cursor), false) = (before, args.remote.json) {
        writeln!(out, "(more: --before {cursor})")?;
    }
    Ok(())
}

/// Runs `scriptd events`; with `--follow` it only returns on an error.
pub async fn events(
    storage: &Path,
    args: EventsArgs,
    out: &mut dyn Write,
) -> Result<(), HistoryError> {
    let server = client_for(&args.remote, storage)?;
    let mut after = args.after;
    let mut monitor = None;
    if !args.remote.json {
        writeln!(out, "{}", render_events_header())?;
    }
    loop {
        let mut query = vec![
            ("after", after.to_string()),
            ("limit", args.limit.to_string()),
        ];
        if let Some(run) = &args.run {
            query.push(("run", run.clone()));
        }
        let page = server.get("events", &query).await?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        for event in &events {
            match args.remote.json {
                true => writeln!(out, "{event}")?,
                false => writeln!(out, "{}", render_event(event))?,
            }
        }
        out.flush()?;
        if let Some(next) = page["next"].as_i64() {
            after = next;
        }
        if !args.follow {
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
    chrono::DateTime::from_timestamp(secs.floor() as i64, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

fn render_history_header() -> String {
    format!(
        "{:<36}  {:<16}  {:<12}  {:<19}  {:>9}  {}",
        "ID", "NAME", "OUTCOME", "FINISHED (UTC)", "DURATION", "BY"
    )
}

fn render_history_row(run: &Value) -> String {
    let text = |key: &str| run[key].as_str().unwrap_or("-").to_owned();
    let duration = run["duration"]
        .as_f64()
        .map_or_else(|| "-".into(), |d| format!("{d:.1}s"));
    let mut by = text("requested_by");
    if let Some(from) = run["requested_from"].as_str() {
        by.push_str(&format!(" ({from})"));
    }
    for (key, verb) in [("cancelled_by", "cancelled"), ("killed_by", "killed")] {
        if let Some(who) = run[key].as_str() {
            by.push_str(&format!(", {verb} by {who}"));
        }
    }
    format!(
        "{:<36}  {:<16}  {:<12}  {:<19}  {:>9}  {}",
        text("id"),
        text("name"),
        text("outcome"),
        utc(run["finished"].as_f64().unwrap_or(0.0)),
        duration,
        by
    )
}

fn render_events_header() -> String {
    format!(
        "{:>8}  {:<19}  {:<16}  {:<36}  {}",
        "SEQ", "AT (UTC)", "KIND", "RUN", "DETAIL"
    )
}

fn render_event(event: &Value) -> String {
    let data = &event["data"];
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
        "{:>8}  {:<19}  {:<16}  {:<36}  {}",
        event["seq"].as_i64().unwrap_or(0),
        utc(event["at"].as_f64().unwrap_or(0.0)),
        event["kind"].as_str().unwrap_or("-"),
        event["run"].as_str().unwrap_or("-"),
        detail
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn history_rows_name_who_requested_and_who_stopped() {
        let row = render_history_row(&json!({
            "id": "0190c1f2-0000-7000-8000-000000000000", "name": "backup",
            "outcome": "killed", "finished": 0.0, "duration": 1.25,
            "requested_by": "guest:g1", "requested_from": "10.0.0.1", "killed_by": "user:1",
        }));
        assert!(row.contains("backup"), "{row}");
        assert!(row.contains("1970-01-01 00:00:00"), "{row}");
        assert!(
            row.contains("guest:g1 (10.0.0.1), killed by user:1"),
            "{row}"
        );
    }
}
