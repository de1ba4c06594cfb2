//! scriptd-bench: the load generator of BENCHMARKS.md. Each scenario starts
//! its own server on 127.0.0.1:0 with a temporary storage dir, prints its
//! figures with the machine and the load average, and stops by itself.
//!
//! `cargo run --release --bin scriptd-bench -- [--database URL] <scenario>`,
//! scenario one of accept, e2e, push, lateness, status, replay, memory,
//! all; exhaust (the connection-exhaustion attack, not part of all); and
//! append (the store's append throughput). `--database postgres://…/postgres`
//! names a PostgreSQL server: accept, e2e and append then run on SQLite
//! and on PostgreSQL (a fresh database each) in the same run. `cluster`
//! (1, 2 and 3 nodes), `failover` (kill -9 of a node) and `foreign` (the
//! CPU a node spends per event another node commits) need it.
//! `schedules`: every-second schedules, their lateness and misses;
//! `schedules-startup`: a start with 100,000 schedules defined.
//! `hooks`: webhook delivery latency and the outbox's cost to e2e.

mod accept;
mod append;
mod child;
mod cluster;
mod database;
mod e2e;
mod exhaust;
mod fanout;
mod foreign;
mod frame;
mod hooks;
mod http1;
mod lateness;
mod machine;
mod memory;
mod push;
mod replay;
mod schedules;
mod schedules_startup;
mod server;
mod stats;
mod status;
mod ws;

const SCENARIOS: [&str; 7] = [
    "accept", "e2e", "push", "lateness", "status", "replay", "memory",
];

async fn scenario(name: &str) -> anyhow::Result<()> {
    match name {
        "accept" => accept::run().await,
        "e2e" => e2e::run().await,
        "push" => push::run().await,
        "lateness" => lateness::run().await,
        "status" => status::run().await,
        "replay" => replay::run().await,
        "memory" => memory::run().await,
        // Not in `all`: it needs a high descriptor limit and takes a minute.
        "exhaust" => exhaust::run().await,
        // Not in `all`: a store benchmark, not a server scenario.
        "append" => append::run().await,
        // Not in `all`: they need --database and start nodes as processes.
        "cluster" => cluster::run().await,
        "failover" => cluster::failover().await,
        "foreign" => foreign::run().await,
        // Not in `all`: it takes a minute (SCRIPTD_BENCH_SECS).
        "schedules" => schedules::run().await,
        // Not in `all`: it fills 100,000 schedules' ticks first.
        "schedules-startup" => schedules_startup::run().await,
        // Not in `all`: 1,000 paced deliveries take half a minute.
        "hooks" => hooks::run().await,
        other => anyhow::bail!("unknown scenario {other}; one of {SCENARIOS:?} or all"),
    }
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let database = match args.iter().position(|a| a == "--database") {
        Some(at) if at + 1 < args.len() => {
            let url = args.remove(at + 1);
            args.remove(at);
            Some(url)
        }
        Some(_) => anyhow::bail!("--database needs a postgres:// URL"),
        None => None,
    };
    database::set_server(database);
    if args.first().map(String::as_str) == Some("serve-child") {
        let exectab = args.get(1).cloned().unwrap_or_default();
        return server::block_on(memory::serve_child(&exectab));
    }
    let Some(which) = args.first() else {
        anyhow::bail!(
            "usage: scriptd-bench [--database URL] <{}|all|exhaust|append|cluster|failover|foreign|schedules|schedules-startup|hooks>",
            SCENARIOS.join("|")
        );
    };
    println!("machine: {}", machine::describe());
    println!("load at start: {}", machine::load());
    let names: Vec<&str> = match which.as_str() {
        "all" => SCENARIOS.to_vec(),
        one => vec![one],
    };
    server::block_on(async {
        for name in names {
            scenario(name).await?;
        }
        anyhow::Ok(())
    })
}
