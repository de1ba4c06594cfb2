//! Durable event appends per second through the EventStore (group commit)
//! at 1, 100 and 1000 concurrent appenders, on SQLite (synchronous=FULL)
//! and, with `--database`, on PostgreSQL (a fresh database each): every
//! appender sends one event and waits for its commit, for a fixed time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Actor;
use scriptd::events::types::{Event, Origin};
use scriptd::events::{store, Append, EventStore, Location, NewEvent};
use scriptd::ids::{RunId, ScriptName, UserId};

use crate::database::Backend;
use crate::machine::report;
use crate::server::TempStorage;

const APPENDERS: [usize; 3] = [1, 100, 1000];
const MEASURE: Duration = Duration::from_secs(5);

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    println!("append: appenders each append one event and wait for its commit, {MEASURE:?} each");
    let mut rates = Vec::new();
    for backend in Backend::all() {
        for appenders in APPENDERS {
            let (rate, batch) = measure(&backend, appenders).await?;
            report(
                &format!("[{}] appenders={appenders} (appends/s)", backend.label()),
                format!("{rate:.0}, {batch:.1} appends per commit"),
            );
            rates.push((backend.label(), appenders, rate));
        }
    }
    for appenders in APPENDERS {
        let of = |label: &str| {
            rates
                .iter()
                .find(|r| r.0 == label && r.1 == appenders)
                .map(|r| r.2)
        };
        if let (Some(sqlite), Some(postgres)) = (of("sqlite"), of("postgres")) {
            report(
                &format!("appenders={appenders}: postgres / sqlite"),
                format!("{:.2}", postgres / sqlite.max(1.0)),
            );
        }
    }
    Ok(())
}

/// Appends per second and mean appends per commit at `appenders`.
async fn measure(backend: &Backend, appenders: usize) -> anyhow::Result<(f64, f64)> {
    let storage = TempStorage::new("append")?;
    let database = backend.fresh().await?;
    let location = match &database {
        Some(db) => Location::Postgres(db.url.clone()),
        None => Location::Sqlite(storage.0.join("scriptd.db")),
    };
    let db = store::open(&location).await?;
    let metrics = scriptd::metrics::Metrics::default();
    let store = EventStore::new(db.writer, metrics.clone()).start();
    let name = ScriptName::parse("bench").ok_or_else(|| anyhow::anyhow!("script name"))?;
    let (count, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let start = Instant::now();
    let workers = (0..appenders).map(|_| {
        let (store, name, count, stop) = (store.clone(), name.clone(), count.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let event = Event::RunKillRequested {
                    run: RunId::new(),
                    name: name.clone(),
                    origin: Origin::default(),
                };
                store
                    .send(Append {
                        events: vec![NewEvent::new(UserId(1), event)],
                    })
                    .await??;
                count.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }
    });
    let timer = async {
        tokio::time::sleep(MEASURE).await;
        stop.store(true, Ordering::Relaxed);
    };
    let (results, ()) = futures_util::join!(futures_util::future::join_all(workers), timer);
    let elapsed = start.elapsed().as_secs_f64();
    for result in results {
        result?;
    }
    let appends = count.load(Ordering::Relaxed) as f64;
    let commits = metrics.commit_batches().count.max(1) as f64;
    drop(store);
    if let Some(database) = database {
        // The writer thread lets go of its connection once the actor is gone.
        tokio::time::sleep(Duration::from_millis(200)).await;
        database.drop_now().await?;
    }
    Ok((appends / elapsed, appends / commits))
}
