//! Startup replay time: a database is filled through the store's own
//! `commit` in big batches (finished runs: queued+started+finished; queued
//! runs: one `RunQueued` due tomorrow, so nothing starts), then
//! `Application::build` (open, migrate, fold, rebuild the queues, bind) is
//! timed. Two sizes: 500k events (issue 8) and 100k finished + 10k queued
//! runs (issue 5). Then a restart of the real binary with 1M finished and
//! 100k queued runs, timed to its first answer (issue 20).

use std::time::Instant;

use scriptd::events::types::{Origin, Outcome, RunRecord, RunSpec};
use scriptd::events::{store, Event, NewEvent};
use scriptd::ids::{RunId, ScriptName, UserId};

use crate::child::{binaries, first_answer, rounds, Scriptd};
use crate::machine::report;
use crate::server::{config, Server, TempStorage};

const BATCH: usize = 20_000;
const ADMIN: UserId = UserId(1);

fn queued(run: RunId, name: &ScriptName, due: i64) -> Event {
    Event::RunQueued {
        run,
        name: name.clone(),
        queued: due,
        requested: due as f64,
        params: vec!["a".into()],
        spec: RunSpec {
            command: vec!["/bin/true".into(), "a".into()],
            ..RunSpec::default()
        },
        stdin_len: 0,
        position: 0,
        origin: Origin::default(),
    }
}

fn finished(run: RunId, name: &ScriptName, at: f64) -> [Event; 3] {
    let record = RunRecord {
        name: name.clone(),
        queued: at as i64,
        started: Some(at),
        finished: at + 0.001,
        params: vec!["a".into()],
        opts: serde_json::Map::new(),
        first: String::new(),
        last: String::new(),
        tasks: Vec::new(),
        removelog: false,
        outcome: Outcome::Success,
        exit_code: Some(0),
        signal: None,
        duration: Some(0.001),
        cpu_user: Some(0.0),
        cpu_system: Some(0.0),
        max_rss_kb: Some(1000),
        error: None,
        log_error: None,
        run_user: None,
        run_group: None,
        tick: None,
        attempts: Vec::new(),
    };
    [
        queued(run, name, at as i64),
        Event::RunStarted {
            run,
            name: name.clone(),
            started: at,
            node: None,
            attempt: None,
            max_attempts: None,
            tick: None,
        },
        Event::RunFinished { run, record },
    ]
}

/// Fills a fresh storage dir; returns it with the event count and the
/// ids of the queued runs, in queue order.
async fn fill(
    finished_runs: usize,
    queued_runs: usize,
) -> anyhow::Result<(TempStorage, usize, Vec<RunId>)> {
    let storage = TempStorage::new("replay")?;
    let cfg = config(&storage.0);
    let mut db = store::open(&cfg.database()).await?;
    scriptd::admin::bootstrap(&mut db, &cfg).await?;
    std::fs::write(
        cfg.scripts_dir(ADMIN).join("exectab.txt"),
        "sched /bin/true @@1\n",
    )?;
    let name = ScriptName::parse("sched").ok_or_else(|| anyhow::anyhow!("name"))?;
    let now = scriptd::clock::now_secs();
    let ids: Vec<RunId> = (0..queued_runs).map(|_| RunId::new()).collect();
    let events = (0..finished_runs)
        .flat_map(|i| finished(RunId::new(), &name, (now - 86_400) as f64 + i as f64 * 1e-3))
        .chain(ids.iter().map(|id| queued(*id, &name, now + 86_400)));
    let mut count = 0;
    let mut group = Vec::with_capacity(BATCH);
    for event in events {
        group.push(NewEvent::new(ADMIN, event));
        count += 1;
        if group.len() == BATCH {
            commit(&mut db, std::mem::take(&mut group)).await?;
        }
    }
    commit(&mut db, group).await?;
    drop(db);
    Ok((storage, count, ids))
}

async fn commit(db: &mut store::Database, group: Vec<NewEvent>) -> anyhow::Result<()> {
    // One group per event, as the server appends them; one transaction per batch.
    let groups: Vec<Vec<NewEvent>> = group.into_iter().map(|e| vec![e]).collect();
    for result in db.writer.commit(&groups).await? {
        result?;
    }
    Ok(())
}

async fn measure(finished_runs: usize, queued_runs: usize) -> anyhow::Result<()> {
    let fill_start = Instant::now();
    let (storage, events, _) = fill(finished_runs, queued_runs).await?;
    let filled = fill_start.elapsed().as_secs_f64();
    let start = Instant::now();
    let server = Server::start_in(storage).await?;
    let took = start.elapsed().as_secs_f64();
    report(
        &format!("replay {events} events ({finished_runs} done + {queued_runs} queued)"),
        format!("{:.3} s (filled in {filled:.1} s)", took),
    );
    let storage = server.stop().await;
    // The restored queues rewrite thousands of status files after the stop;
    // let the writer finish before the dir is removed.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    drop(storage);
    Ok(())
}

/// A restart of the real binary on a database with a long history and a
/// deep queue: time from the spawn to listening and to the first right
/// answer about a queued run, and VmRSS then. Each binary of
/// `SCRIPTD_BENCH_SCRIPTDS` in turn, on the same storage (nothing is due,
/// so a restart appends nothing and each start sees the same log).
async fn restart(finished_runs: usize, queued_runs: usize) -> anyhow::Result<()> {
    let fill_start = Instant::now();
    let (storage, events, ids) = fill(finished_runs, queued_runs).await?;
    println!(
        "  filled {events} events ({finished_runs} done + {queued_runs} queued) in {:.1} s",
        fill_start.elapsed().as_secs_f64()
    );
    let probe = ids.len() / 2;
    for _ in 0..rounds() {
        for (label, binary) in binaries()? {
            let server = Scriptd::start(&binary, &storage.0)?;
            let answered = first_answer(&server, &ids[probe].to_string(), probe).await?;
            let rss = server.rss();
            report(
                &format!("[{label}] restart: listening / first answer"),
                format!(
                    "{:.3} s / {:.3} s, VmRSS {rss} KiB",
                    server.bound.as_secs_f64(),
                    answered.as_secs_f64()
                ),
            );
            server.stop()?;
        }
    }
    drop(storage);
    Ok(())
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    println!("replay: time of Application::build on a filled database");
    measure(160_000, 20_000).await?; // 3 x 160k + 20k = 500k events
    measure(100_000, 10_000).await?;
    println!("replay: restart of `scriptd serve`, 1M done + 100k queued runs");
    restart(1_000_000, 100_000).await?;
    Ok(())
}
