//! Schedules: N `-n` scripts each scheduled every second, for D seconds
//! (`SCRIPTD_BENCH_SCHEDULES`, default 1000; `SCRIPTD_BENCH_SECS`, default
//! 60), on SQLite (one in-process server) and, with `--database`, on a
//! 3-node PostgreSQL cluster (the real binary as three child processes
//! on one fresh database, every node defining every schedule, so they
//! race for each tick and the database keeps one record). Lateness is the
//! commit time of a tick's record (`at`, stamped by the writer in the
//! transaction that also commits its `RunQueued`) minus its due second;
//! the log is checked for ticks missed or doubled per schedule. CPU per
//! tick and memory per schedule are the server processes': in-process on
//! SQLite, so the bench's own reads count too; all three nodes' together
//! in the cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cluster::Nodes;
use crate::database::Backend;
use crate::machine::{cpu_seconds, report, rss_kib};
use crate::server::{Server, Target};
use crate::stats::summary;

/// Nodes of the cluster pass.
const NODES: usize = 3;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn exectab(n: u64) -> String {
    (0..n)
        .map(|i| format!("-n -c=\"* * * * * *\" s{i}\n"))
        .collect()
}

/// What was measured around the ticking: CPU seconds and RSS (KiB) before
/// and after, and the first and last due instants that count.
struct Window {
    cpu: (f64, f64),
    rss: (u64, u64),
    start: i64,
    end: i64,
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    let n = setting("SCRIPTD_BENCH_SCHEDULES", 1000);
    let secs = setting("SCRIPTD_BENCH_SECS", 60);
    println!("schedules: {n} every-second schedules of -n scripts for {secs} s");
    sqlite(n, secs).await?;
    if Backend::all().len() > 1 {
        cluster(n, secs).await?;
    } else {
        println!("  (3-node PostgreSQL pass: add --database postgres://…/postgres)");
    }
    Ok(())
}

/// One in-process server on SQLite.
async fn sqlite(n: u64, secs: u64) -> anyhow::Result<()> {
    let server = Server::start("").await?;
    let before = (rss_kib("self"), cpu_seconds());
    server.exectab(&exectab(n))?;
    let start = scriptd::clock::now_secs();
    tokio::time::sleep(Duration::from_secs(secs + 2)).await;
    let window = Window {
        cpu: (before.1, cpu_seconds()),
        rss: (before.0, rss_kib("self")),
        start,
        end: start + secs as i64,
    };
    let rows = tick_rows(&server.target()).await?;
    analyse("sqlite", n, rows, &window);
    server.stop().await;
    Ok(())
}

/// Three nodes on one PostgreSQL database, all defining every schedule.
async fn cluster(n: u64, secs: u64) -> anyhow::Result<()> {
    let nodes = Nodes::start_with(NODES, &[], "").await?;
    let before = (nodes.rss(), nodes.cpu_seconds());
    nodes.exectab(&exectab(n))?;
    let start = scriptd::clock::now_secs();
    tokio::time::sleep(Duration::from_secs(secs + 2)).await;
    let window = Window {
        cpu: (before.1, nodes.cpu_seconds()),
        rss: (before.0, nodes.rss()),
        start,
        end: start + secs as i64,
    };
    let owners = tick_owners(&nodes.targets()).await;
    let target = nodes.targets().into_iter().next();
    let rows = match target {
        Some(target) => tick_rows(&target).await,
        None => Err(anyhow::anyhow!("no node")),
    };
    nodes.stop().await?;
    let label = format!("postgres, {NODES} nodes");
    analyse(&label, n, rows?, &window);
    report(
        &format!("[{label}] ticks fired as owner / as standby / yielded"),
        owners,
    );
    Ok(())
}

/// The nodes' `scriptd_schedule_ticks_fired_total` (as owner, as
/// standby) and `_yielded_total`, summed; "n/a" from a build without them.
async fn tick_owners(targets: &[Target]) -> String {
    const SERIES: [&str; 3] = [
        "scriptd_schedule_ticks_fired_total{as=\"owner\"} ",
        "scriptd_schedule_ticks_fired_total{as=\"standby\"} ",
        "scriptd_schedule_ticks_yielded_total ",
    ];
    let mut sums = [0u64; 3];
    for target in targets {
        let client = target.client(1);
        let Ok(body) = target.get(&client, "/metrics").await else {
            return "n/a (no /metrics)".into();
        };
        let text = String::from_utf8_lossy(&body);
        for (sum, series) in sums.iter_mut().zip(SERIES) {
            let value = text
                .lines()
                .find_map(|line| line.strip_prefix(series)?.trim().parse::<u64>().ok());
            match value {
                Some(value) => *sum += value,
                None => return "n/a (an older build)".into(),
            }
        }
    }
    format!("{} / {} / {}", sums[0], sums[1], sums[2])
}

/// Prints lateness, misses and doubles, CPU per tick and RSS growth. A
/// tick is missed when a schedule has no record of it at all (none of
/// the `n` schedules may lack one); a tick recorded as skipped (queue
/// full, refused) is counted apart; lateness is that of the ticks that
/// queued a run.
fn analyse(label: &str, n: u64, rows: Vec<Tick>, window: &Window) {
    let mut late = Vec::new();
    let mut per: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut skipped = 0usize;
    // The first second or two are the exectab being read and adopted.
    let (first, last) = (window.start + 2, window.end);
    for Tick {
        at,
        name,
        tick,
        run,
    } in rows
    {
        if tick >= first && tick <= last {
            match run {
                true => late.push(at - tick as f64),
                false => skipped += 1,
            }
            per.entry(name).or_default().push(tick);
        }
    }
    let expected = (last - first + 1).max(0) as usize * n as usize;
    let mut doubles = 0usize;
    let mut distinct = 0usize;
    for ticks in per.values_mut() {
        ticks.sort_unstable();
        let before = ticks.len();
        ticks.dedup();
        doubles += before - ticks.len();
        distinct += ticks.len();
    }
    let missed = expected.saturating_sub(distinct);
    let ticks = late.len().max(1) as f64;
    report(
        &format!("[{label}] tick due → RunQueued committed"),
        summary(&mut late),
    );
    report(
        &format!("[{label}] schedules ticking / ticks missed / doubled"),
        format!("{} / {missed} / {doubles} (of {expected})", per.len()),
    );
    report(
        &format!("[{label}] ticks recorded as skipped (queue full…)"),
        skipped.to_string(),
    );
    report(
        &format!("[{label}] server CPU per tick"),
        format!("{:.1} µs", (window.cpu.1 - window.cpu.0) / ticks * 1e6),
    );
    report(
        &format!("[{label}] RSS growth per schedule (incl. runs' history)"),
        format!(
            "{:.2} KiB",
            window.rss.1.saturating_sub(window.rss.0) as f64 / n.max(1) as f64
        ),
    );
}

/// One tick's record in the log.
struct Tick {
    /// Commit time (UNIX seconds, fraction).
    at: f64,
    name: String,
    /// Due instant.
    tick: i64,
    /// Whether it queued a run (else it was recorded as skipped).
    run: bool,
}

/// Every tick record of the log.
async fn tick_rows(target: &Target) -> anyhow::Result<Vec<Tick>> {
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
            if event["kind"] != "ScheduleTicked" {
                continue;
            }
            let (Some(at), Some(name), Some(tick)) = (
                event["at"].as_f64(),
                event["data"]["name"].as_str(),
                event["data"]["tick"].as_i64(),
            ) else {
                continue;
            };
            let run = event["data"]["run"].is_string();
            out.push(Tick {
                at,
                name: name.to_owned(),
                tick,
                run,
            });
        }
    }
}
