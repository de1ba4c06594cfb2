//! Startup with many schedules defined (`SCRIPTD_BENCH_SCHEDULES`, default
//! 100,000): the admin's exectab schedules that many `-n` scripts yearly,
//! each with one recorded tick (stamped at the fill, so none has missed
//! anything), filled through the store's own commit. The real binary is
//! started on it three times: the same N script lines without `-c`
//! (unscheduled, the baseline), every schedule with the same expression
//! (`0 0 1 1 *`), then each with its own (`M H D MON *`, all distinct).
//! Every exectab also schedules one more script (`sentinel`), so that the
//! unscheduled start has a moment when its file was read too: all are
//! measured at the same point. Per start: time from the spawn to the
//! first answer (`GET status`) and until the timer holds every schedule
//! ticking (`scriptd_schedules` in `/metrics`) and the server's CPU
//! seconds by then, VmRSS then (the timer's
//! share, no list asked yet), VmRSS again once the account parsed the
//! file (`GET scripts`), and the time of `GET schedules` listing all of
//! them. Memory per schedule is (scheduled − unscheduled) / N; the
//! whole-process growth over an empty exectab, / N, is printed beside it.
//! Beside VmRSS, the allocator's bytes in use at the same points (glibc's
//! `mallinfo2`, read with gdb when it is installed): what is held, not
//! what the allocator kept of what was freed.

use std::time::{Duration, Instant};

use scriptd::events::{store, Event, NewEvent};
use scriptd::ids::{ScriptName, UserId};

use crate::child::{binaries, Scriptd};
use crate::machine::report;
use crate::server::{config, TempStorage};

const ADMIN: UserId = UserId(1);
const BATCH: usize = 20_000;
/// How many `GET schedules` are timed (the median is reported), unless
/// `SCRIPTD_BENCH_LISTS` says.
const LISTS: usize = 5;
const TICKING: &str = "scriptd_schedules{phase=\"ticking\"}";

/// The expression of schedule `i`: one for all, or one of its own (a
/// yearly instant: minute, hour, day 1-28, month; 483,840 distinct).
fn pattern(i: u64, distinct: bool) -> String {
    match distinct {
        false => "0 0 1 1 *".to_owned(),
        true => format!(
            "{} {} {} {} *",
            i % 60,
            (i / 60) % 24,
            1 + (i / 1440) % 28,
            1 + (i / 40_320) % 12
        ),
    }
}

/// The exectab of one start: N scripts, unscheduled or scheduled, and the
/// sentinel.
fn exectab(n: u64, kind: Kind) -> String {
    let mut text: String = (0..n)
        .map(|i| match kind {
            Kind::Unscheduled => format!("-n y{i}\n"),
            Kind::Same => format!("-n -c=\"{}\" y{i}\n", pattern(i, false)),
            Kind::Distinct => format!("-n -c=\"{}\" y{i}\n", pattern(i, true)),
        })
        .collect();
    text.push_str("-n -c=\"0 0 1 1 *\" sentinel\n");
    text
}

/// What the N scripts of one start are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unscheduled,
    Same,
    Distinct,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Unscheduled => "unscheduled",
            Kind::Same => "same pattern",
            Kind::Distinct => "distinct patterns",
        }
    }
}

/// A storage with the admin and one tick record per schedule.
async fn fill(n: u64) -> anyhow::Result<TempStorage> {
    let storage = TempStorage::new("schedules-startup")?;
    let cfg = config(&storage.0);
    let mut db = store::open(&cfg.database()).await?;
    scriptd::admin::bootstrap(&mut db, &cfg).await?;
    // Not an instant of the patterns, but recorded as their latest: the
    // catch-up at start then finds nothing missed since.
    let tick = scriptd::clock::now_secs();
    let mut group = Vec::with_capacity(BATCH);
    for i in 0..n {
        let name = ScriptName::parse(&format!("y{i}")).ok_or_else(|| anyhow::anyhow!("name"))?;
        let event = Event::ScheduleTicked {
            name,
            tick,
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

/// What one start measured.
struct Start {
    first: Duration,
    ticking: Duration,
    /// The server's CPU seconds (all threads) when all ticked: less
    /// sensitive to the machine's load than the time.
    cpu: f64,
    /// VmRSS (KiB) once all ticked, before anything was asked.
    rss: u64,
    /// VmRSS (KiB) once the account parsed the exectab too.
    rss_loaded: u64,
    /// The allocator's bytes in use at the same two points, if gdb
    /// could read them.
    heap: Option<u64>,
    heap_loaded: Option<u64>,
    list: Duration,
    list_bytes: usize,
}

/// How many lists are timed; 0 skips them (to profile the start alone).
fn lists() -> usize {
    std::env::var("SCRIPTD_BENCH_LISTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LISTS)
}

/// Starts `binary` on `storage` and measures it once `n` schedules tick;
/// `times` lists of them are timed.
async fn start(
    binary: &std::path::Path,
    storage: &TempStorage,
    n: u64,
    times: usize,
) -> anyhow::Result<Start> {
    let server = Scriptd::start(binary, &storage.0)?;
    let client = server.target.client(1);
    let deadline = Instant::now() + Duration::from_secs(600);
    while server
        .target
        .get(&client, "/scripts/v1/status")
        .await
        .is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "no answer in 600 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let first = server.spawned.elapsed();
    while !all_ticking(&server, &client, n).await? {
        anyhow::ensure!(Instant::now() < deadline, "not all ticking in 600 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ticking = server.spawned.elapsed();
    let cpu = server.cpu_seconds();
    // Settled, and before any list: the timer's own memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = server.rss();
    let heap = server.heap_in_use();
    // The account parses its exectab when first asked about its scripts.
    fetch(&server, &client, "/scripts/v1/scripts").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_loaded = server.rss();
    let heap_loaded = server.heap_in_use();
    let mut lists = Vec::with_capacity(times);
    let mut list_bytes = 0;
    for _ in 0..times {
        let began = Instant::now();
        let body = schedules(&server, &client).await?;
        lists.push(began.elapsed());
        let reply: serde_json::Value = serde_json::from_slice(&body)?;
        let listed = reply["schedules"].as_array().map_or(0, Vec::len) as u64;
        anyhow::ensure!(listed == n, "listed {listed} of {n}");
        list_bytes = body.len();
    }
    lists.sort();
    server.stop()?;
    Ok(Start {
        first,
        ticking,
        cpu,
        rss,
        rss_loaded,
        heap,
        heap_loaded,
        list: lists.get(times / 2).copied().unwrap_or_default(),
        list_bytes,
    })
}

/// Whether the timer holds all `n` schedules ticking. A binary without
/// the `scriptd_schedules` gauge (an older one, to compare) is asked for
/// the list instead, as this scenario used to.
async fn all_ticking(server: &Scriptd, client: &awc::Client, n: u64) -> anyhow::Result<bool> {
    let metrics = server.target.get(client, "/metrics").await?;
    if String::from_utf8_lossy(&metrics).contains(TICKING) {
        return Ok(server.target.metric(client, TICKING).await? as u64 >= n);
    }
    let body = schedules(server, client).await?;
    let reply: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(reply["schedules"].as_array().map_or(0, Vec::len) as u64 >= n)
}

/// `GET schedules`: 100,000 schedules make a reply of about 25 MB.
async fn schedules(server: &Scriptd, client: &awc::Client) -> anyhow::Result<Vec<u8>> {
    fetch(server, client, "/scripts/v1/schedules").await
}

/// A GET of `path` whose reply may be large (`GET scripts` of 100,000
/// scripts is over 16 MB).
async fn fetch(server: &Scriptd, client: &awc::Client, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut resp = client
        .get(server.target.url(path))
        .insert_header(("X-APIKey", server.target.key.as_str()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GET {path}: {e}"))?;
    anyhow::ensure!(resp.status().is_success(), "GET {path}: {}", resp.status());
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
    let per = |more: u64, less: u64| more.saturating_sub(less) as f64 * 1024.0 / n.max(1) as f64;
    for (label, binary) in binaries()? {
        std::fs::write(&exectab_path, "")?;
        let empty = start(&binary, &storage, 0, 0).await?;
        std::fs::write(&exectab_path, exectab(n, Kind::Unscheduled))?;
        let bare = start(&binary, &storage, 1, 0).await?;
        report(
            &format!("[{label}] VmRSS empty / {n} unscheduled, timer / account loaded"),
            format!("{} / {} / {} KiB", empty.rss, bare.rss, bare.rss_loaded),
        );
        let kib = |heap: Option<u64>| heap.map_or("?".to_owned(), |b| (b / 1024).to_string());
        report(
            &format!("[{label}] heap in use, same points"),
            format!(
                "{} / {} / {} KiB",
                kib(empty.heap),
                kib(bare.heap),
                kib(bare.heap_loaded)
            ),
        );
        for kind in [Kind::Same, Kind::Distinct] {
            std::fs::write(&exectab_path, exectab(n, kind))?;
            let s = start(&binary, &storage, n + 1, lists()).await?;
            let kind = kind.label();
            report(
                &format!("[{label}, {kind}] first answer / all {n} ticking (CPU)"),
                format!(
                    "{:.3} s / {:.3} s ({:.2} s CPU)",
                    s.first.as_secs_f64(),
                    s.ticking.as_secs_f64(),
                    s.cpu
                ),
            );
            report(
                &format!("[{label}, {kind}] per schedule: (scheduled - unscheduled) / N"),
                format!(
                    "{:.0} bytes timer, {:.0} bytes account loaded ({} / {} KiB)",
                    per(s.rss, bare.rss),
                    per(s.rss_loaded, bare.rss_loaded),
                    s.rss,
                    s.rss_loaded
                ),
            );
            report(
                &format!("[{label}, {kind}] heap in use per schedule (mallinfo2)"),
                match (s.heap, bare.heap, s.heap_loaded, bare.heap_loaded) {
                    (Some(a), Some(b), Some(c), Some(d)) => format!(
                        "{:.0} bytes timer, {:.0} bytes account loaded",
                        a.saturating_sub(b) as f64 / n.max(1) as f64,
                        c.saturating_sub(d) as f64 / n.max(1) as f64
                    ),
                    _ => "not read (no gdb?)".to_owned(),
                },
            );
            report(
                &format!("[{label}, {kind}] whole process: (scheduled - empty) / N"),
                format!(
                    "{:.0} bytes timer, {:.0} bytes account loaded",
                    per(s.rss, empty.rss),
                    per(s.rss_loaded, empty.rss_loaded)
                ),
            );
            report(
                &format!(
                    "[{label}, {kind}] GET schedules of all {n} (median of {})",
                    lists()
                ),
                format!(
                    "{:.1} ms, {:.1} MB",
                    s.list.as_secs_f64() * 1e3,
                    s.list_bytes as f64 / 1e6
                ),
            );
        }
    }
    drop(storage);
    Ok(())
}
