//! Schedules: N `-n` scripts each scheduled every second, for D seconds
//! (`SCRIPTD_BENCH_SCHEDULES`, default 1000; `SCRIPTD_BENCH_SECS`, default
//! 60). Lateness is the commit time of a tick's record (`at`, stamped by
//! the writer in the transaction that also commits its `RunQueued`)
//! minus its due second; the log is checked for ticks missed or doubled
//! per schedule; CPU per tick and memory per schedule are the server
//! process's (in-process here, so the bench's own reads count too).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::machine::{cpu_seconds, report, rss_kib};
use crate::server::Server;
use crate::stats::summary;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    let n = setting("SCRIPTD_BENCH_SCHEDULES", 1000);
    let secs = setting("SCRIPTD_BENCH_SECS", 60);
    println!("schedules: {n} every-second schedules of -n scripts for {secs} s");
    let server = Server::start("").await?;
    let before = (rss_kib("self"), cpu_seconds());
    let exectab: String = (0..n)
        .map(|i| format!("-n -c=\"* * * * * *\" s{i}\n"))
        .collect();
    server.exectab(&exectab)?;
    let start = scriptd::clock::now_secs();
    tokio::time::sleep(Duration::from_secs(secs + 2)).await;
    let after = (rss_kib("self"), cpu_seconds());
    let end = start + secs as i64;
    let rows = tick_rows(&server).await?;
    let mut late = Vec::new();
    let mut per: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (at, name, tick) in rows {
        if tick > start + 1 && tick <= end {
            late.push(at - tick as f64);
            per.entry(name).or_default().push(tick);
        }
    }
    let (mut gaps, mut doubles) = (0usize, 0usize);
    for ticks in per.values_mut() {
        ticks.sort_unstable();
        for pair in ticks.windows(2) {
            match pair[1] - pair[0] {
                0 => doubles += 1,
                1 => {}
                d => gaps += (d - 1) as usize,
            }
        }
    }
    let ticks = late.len().max(1) as f64;
    report("tick due → RunQueued committed", summary(&mut late));
    report(
        "schedules ticking / ticks missed / doubled",
        format!("{} / {gaps} / {doubles}", per.len()),
    );
    report(
        "CPU per tick (whole process)",
        format!("{:.1} µs", (after.1 - before.1) / ticks * 1e6),
    );
    report(
        "RSS growth per schedule (incl. runs' history)",
        format!(
            "{:.2} KiB",
            after.0.saturating_sub(before.0) as f64 / n.max(1) as f64
        ),
    );
    server.stop().await;
    Ok(())
}

/// Every tick record: commit time, script and due instant.
async fn tick_rows(server: &Server) -> anyhow::Result<Vec<(f64, String, i64)>> {
    let target = server.target();
    let client = target.client(1);
    let mut out = Vec::new();
    let mut after = 0i64;
    loop {
        let path = format!("/scripts/v1/events?after={after}&limit=1000");
        let page: serde_json::Value = serde_json::from_slice(&target.get(&client, &path).await?)?;
        let Some(events) = page["events"].as_array().filter(|e| !e.is_empty()) else {
            return Ok(out);
        };
        for event in events {
            after = event["seq"].as_i64().unwrap_or(after);
            if event["kind"] != "ScheduleTicked" || !event["data"]["run"].is_string() {
                continue;
            }
            let (Some(at), Some(name), Some(tick)) = (
                event["at"].as_f64(),
                event["data"]["name"].as_str(),
                event["data"]["tick"].as_i64(),
            ) else {
                continue;
            };
            out.push((at, name.to_owned(), tick));
        }
    }
}
