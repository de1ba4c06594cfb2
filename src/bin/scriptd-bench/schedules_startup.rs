//! Startup with many schedules defined (`SCRIPTD_BENCH_SCHEDULES`, default
//! 100,000): the admin's exectab schedules that many `-n` scripts yearly
//! (`0 0 1 1 *`, so none fires while measured), each with one recorded
//! tick (last 1 January), filled through the store's own commit. The real
//! binary is started on it: time from the spawn to its first answer
//! (`GET status`) and to `GET schedules` listing every one of them, and
//! VmRSS then. The same storage with an empty exectab gives the baseline:
//! the difference divided by N is the timer's memory per schedule.

use std::time::{Duration, Instant};

use scriptd::events::{store, Event, NewEvent};
use scriptd::ids::{ScriptName, UserId};

use crate::child::{binaries, Scriptd};
use crate::machine::report;
use crate::server::{config, TempStorage};

const ADMIN: UserId = UserId(1);
const BATCH: usize = 20_000;
/// 2026-01-01T00:00:00Z: a past tick of `0 0 1 1 *`.
const LAST_NEW_YEAR: i64 = 1_767_225_600;

fn exectab(n: u64) -> String {
    (0..n)
        .map(|i| format!("-n -c=\"0 0 1 1 *\" y{i}\n"))
        .collect()
}

/// A storage with the admin and one tick record per schedule.
async fn fill(n: u64) -> anyhow::Result<TempStorage> {
    let storage = TempStorage::new("schedules-startup")?;
    let cfg = config(&storage.0);
    let mut db = store::open(&cfg.database()).await?;
    scriptd::admin::bootstrap(&mut db, &cfg).await?;
    let mut group = Vec::with_capacity(BATCH);
    for i in 0..n {
        let name = ScriptName::parse(&format!("y{i}")).ok_or_else(|| anyhow::anyhow!("name"))?;
        let event = Event::ScheduleTicked {
            name,
            tick: LAST_NEW_YEAR,
            run: None,
            skipped: Some(scriptd::schedule::TickSkip::Missed),
            missed: None,
            late: 0.0,
        };
        group.push(vec![NewEvent::new(ADMIN, event)]);
        if group.len() == BATCH {
            commit(&mut db, std::mem::take(&mut group)).await?;
        }
    }
    commit(&mut db, group).await?;
    Ok(storage)
}

async fn commit(db: &mut store::Database, groups: Vec<Vec<NewEvent>>) -> anyhow::Result<()> {
    for result in db.writer.commit(&groups).await? {
        result?;
    }
    Ok(())
}

/// Starts `binary` on `storage`; returns the time to its first answer
/// (`GET status`), to `GET schedules` listing all `n`, and VmRSS then.
async fn start(
    binary: &std::path::Path,
    storage: &TempStorage,
    n: u64,
) -> anyhow::Result<(Duration, Duration, u64)> {
    let server = Scriptd::start(binary, &storage.0)?;
    let client = server.target.client(1);
    let deadline = Instant::now() + Duration::from_secs(300);
    while server
        .target
        .get(&client, "/scripts/v1/status")
        .await
        .is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "no answer in 300 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let first = server.spawned.elapsed();
    loop {
        if let Ok(body) = schedules(&server, &client).await {
            let reply: serde_json::Value = serde_json::from_slice(&body)?;
            let listed = reply["schedules"].as_array().map_or(0, Vec::len) as u64;
            if listed >= n {
                break;
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "not all listed in 300 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = server.spawned.elapsed();
    // Settled: adoption read the ticks, the heap holds every schedule.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = server.rss();
    server.stop()?;
    Ok((first, all, rss))
}

/// `GET schedules`: 100,000 schedules make a reply of about 25 MB.
async fn schedules(server: &Scriptd, client: &awc::Client) -> anyhow::Result<Vec<u8>> {
    let mut resp = client
        .get(server.target.url("/scripts/v1/schedules"))
        .insert_header(("X-APIKey", server.target.key.as_str()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GET schedules: {e}"))?;
    anyhow::ensure!(
        resp.status().is_success(),
        "GET schedules: {}",
        resp.status()
    );
    Ok(resp.body().limit(256 << 20).await?.to_vec())
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    let n = std::env::var("SCRIPTD_BENCH_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000u64);
    println!("schedules-startup: {n} yearly schedules, each with a recorded tick");
    let fill_start = Instant::now();
    let storage = fill(n).await?;
    println!("  filled in {:.1} s", fill_start.elapsed().as_secs_f64());
    let exectab_path = config(&storage.0).scripts_dir(ADMIN).join("exectab.txt");
    for (label, binary) in binaries()? {
        std::fs::write(&exectab_path, "")?;
        let (_, _, bare) = start(&binary, &storage, 0).await?;
        std::fs::write(&exectab_path, exectab(n))?;
        let (first, all, rss) = start(&binary, &storage, n).await?;
        report(
            &format!("[{label}] first answer / all {n} listed"),
            format!("{:.3} s / {:.3} s", first.as_secs_f64(), all.as_secs_f64()),
        );
        report(
            &format!("[{label}] VmRSS without / with the schedules"),
            format!(
                "{bare} / {rss} KiB: {:.0} bytes per schedule",
                rss.saturating_sub(bare) as f64 * 1024.0 / n.max(1) as f64
            ),
        );
    }
    drop(storage);
    Ok(())
}
