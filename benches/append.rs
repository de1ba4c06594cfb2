//! Event appends per second through the EventStore (synchronous=FULL, group
//! commit) at 1, 100 and 1000 concurrent appenders.
//!
//! Run: `cargo bench --bench append` (prints the machine and the figures).
//! Under `cargo test` it does nothing, so CI does not spend time on it.

use std::time::Instant;

use actix::Actor;
use scriptd::events::types::{Event, Origin};
use scriptd::events::{store, Append, EventStore, NewEvent};
use scriptd::ids::{RunId, ScriptName, UserId};

const TOTAL: usize = 20_000;

/// Shared with the load generator, which prints machines the same way.
#[allow(dead_code)]
#[path = "../src/bin/scriptd-bench/machine.rs"]
mod machine;

async fn run(appenders: usize) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let db = store::open(&store::Location::Sqlite(dir.path().join("bench.db")))
        .await
        .expect("db");
    let store = EventStore::new(db.writer, scriptd::metrics::Metrics::default()).start();
    let name = ScriptName::parse("bench").expect("name");
    let per = TOTAL / appenders;
    let start = Instant::now();
    let workers = (0..appenders).map(|_| {
        let store = store.clone();
        let name = name.clone();
        async move {
            for _ in 0..per {
                let event = Event::RunKillRequested {
                    run: RunId::new(),
                    name: name.clone(),
                    origin: Origin::default(),
                };
                store
                    .send(Append {
                        events: vec![NewEvent::new(UserId(1), event)],
                    })
                    .await
                    .expect("mailbox")
                    .expect("commit");
            }
        }
    });
    futures_util::future::join_all(workers).await;
    (per * appenders) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!(
        "machine: {} (load {})",
        machine::describe(),
        machine::load()
    );
    let system = actix::System::new();
    system.block_on(async {
        for appenders in [1, 100, 1000] {
            let rate = run(appenders).await;
            println!("appenders={appenders:<5} appends/s={rate:>10.0}  (synchronous=FULL, {TOTAL} appends)");
        }
    });
}
