//! A cluster on this machine: 1, 2 and 3 `scriptd serve` nodes (the real
//! binary, as child processes) on one fresh PostgreSQL database each time
//! (`--database` names the server).
//!
//! `cluster`: accepted runs/s (64 clients spread round-robin over the
//! nodes, runs scheduled a day ahead, so the figure is the accept path
//! alone) and end-to-end runs/s (a batch of `/bin/true`
//! runs queued round-robin, timed until the database has them all done).
//!
//! `failover`: 3 nodes; a `-s=1` script holds its slot on one node while a
//! second run waits; that node is killed with SIGKILL, and the time until
//! the waiting run is running on another node is one sample. Ten kills,
//! with the default lease (renew 1 s, lease 10 s) and with a short one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::Connection as _;

use crate::child::{binaries, Scriptd};
use crate::database::{Backend, FreshDatabase};
use crate::http1::{Conn, Request};
use crate::machine::report;
use crate::server::{on_threads, Target, TempStorage};
use crate::stats::percentile;

const CLIENTS: usize = 64;
const THREADS: usize = 2;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
/// Runs per end-to-end batch.
const BATCH: usize = 1000;
const KILLS: usize = 10;

const EXECTAB: &str = "later /bin/true\n-s=16 t /bin/true\n-s=1 hold /bin/sleep 3600\n";
/// The load queues far more runs than the per-user default allows.
const CONFIG: &str = "[limits]\nmax_queued_runs_per_user = 1000000000\n\
                      max_queued_bytes_per_user = 100000000000\n";

/// Nodes `n1`…`nN` sharing one database (also the `schedules` scenario's).
pub struct Nodes {
    binary: PathBuf,
    database: Option<FreshDatabase>,
    url: String,
    /// Extra `serve` flags of every node (lease settings).
    flags: Vec<String>,
    storages: Vec<TempStorage>,
    nodes: Vec<Option<Scriptd>>,
}

impl Nodes {
    pub async fn start(n: usize, flags: &[&str]) -> anyhow::Result<Nodes> {
        Nodes::start_with(n, flags, EXECTAB).await
    }

    /// `n` nodes with extra `serve` flags, each with this exectab.
    pub async fn start_with(n: usize, flags: &[&str], exectab: &str) -> anyhow::Result<Nodes> {
        let Some(Backend::Postgres(server)) = Backend::all().pop() else {
            anyhow::bail!("a cluster needs PostgreSQL: pass --database postgres://…/postgres");
        };
        let database = Backend::Postgres(server)
            .fresh()
            .await?
            .context("a fresh database")?;
        let (_, binary) = binaries()?.into_iter().next().context("a scriptd binary")?;
        let mut nodes = Nodes {
            binary,
            url: database.url.clone(),
            database: Some(database),
            flags: flags.iter().map(|f| (*f).to_owned()).collect(),
            storages: Vec::new(),
            nodes: Vec::new(),
        };
        for i in 0..n {
            let storage = TempStorage::new(&format!("n{}", i + 1))?;
            let scripts = storage.0.join("1").join("scripts");
            std::fs::create_dir_all(&scripts)?;
            std::fs::write(scripts.join("exectab.txt"), exectab)?;
            // The first node creates the admin; the others share its key.
            if let Some(first) = nodes.nodes.first().and_then(Option::as_ref) {
                std::fs::write(storage.0.join("admin.key"), &first.target.key)?;
            }
            nodes.storages.push(storage);
            nodes.nodes.push(None);
            nodes.restart(i)?;
        }
        Ok(nodes)
    }

    /// Starts node `i` (again) under its name, on its storage.
    fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        let config = self.storages[i].0.join("bench.toml");
        std::fs::write(&config, CONFIG)?;
        let mut args = vec![
            "--config".to_owned(),
            config.to_string_lossy().into_owned(),
            "--database".to_owned(),
            self.url.clone(),
            "--node".to_owned(),
            format!("n{}", i + 1),
        ];
        args.extend(self.flags.iter().cloned());
        self.nodes[i] = Some(Scriptd::start_with(
            &self.binary,
            &self.storages[i].0,
            &args,
        )?);
        Ok(())
    }

    fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        match self.nodes[i].take() {
            Some(node) => node.kill(),
            None => Ok(()),
        }
    }

    /// Writes the admin's exectab of every node (each reads it again).
    pub fn exectab(&self, text: &str) -> anyhow::Result<()> {
        for storage in &self.storages {
            let path = storage.0.join("1").join("scripts").join("exectab.txt");
            std::fs::write(path, text)?;
        }
        Ok(())
    }

    /// Writes the admin's exectab of node `i` only.
    pub fn exectab_of(&self, i: usize, text: &str) -> anyhow::Result<()> {
        let path = self.storages[i]
            .0
            .join("1")
            .join("scripts")
            .join("exectab.txt");
        Ok(std::fs::write(path, text)?)
    }

    /// CPU seconds node `i` has used (0 when it is down).
    pub fn cpu_of(&self, i: usize) -> f64 {
        self.nodes[i].as_ref().map_or(0.0, Scriptd::cpu_seconds)
    }

    /// The cluster's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// CPU seconds the live nodes have used.
    pub fn cpu_seconds(&self) -> f64 {
        self.nodes.iter().flatten().map(Scriptd::cpu_seconds).sum()
    }

    /// VmRSS of the live nodes, KiB.
    pub fn rss(&self) -> u64 {
        self.nodes.iter().flatten().map(Scriptd::rss).sum()
    }

    pub fn targets(&self) -> Vec<Target> {
        self.nodes
            .iter()
            .flatten()
            .map(|node| node.target.clone())
            .collect()
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        for node in self.nodes.drain(..).flatten() {
            node.stop()?;
        }
        if let Some(database) = self.database.take() {
            database.drop_now().await?;
        }
        Ok(())
    }
}

/// A scenario that fails leaves no node behind (each holds a dozen
/// database connections).
impl Drop for Nodes {
    fn drop(&mut self) {
        for node in self.nodes.drain(..).flatten() {
            let _ = node.kill();
        }
    }
}

/// Accept and end-to-end rates with 1, 2 and 3 nodes.
pub async fn run() -> anyhow::Result<()> {
    let mut rates = Vec::new();
    for n in 1..=3 {
        let nodes = Nodes::start(n, &[]).await?;
        let targets = nodes.targets();
        let accepted = accept_rate(&targets).await?;
        let mut db = sqlx::PgConnection::connect(&nodes.url).await?;
        let e2e = e2e_rate(&targets, &mut db).await?;
        db.close().await?;
        nodes.stop().await?;
        report(
            &format!("cluster [{n} node(s)]: accepted runs/s ({CLIENTS} clients)"),
            format!("{accepted:.0}"),
        );
        report(
            &format!("cluster [{n} node(s)]: end-to-end /bin/true runs/s (-s=16 cluster-wide)"),
            format!("{e2e:.0}"),
        );
        rates.push((accepted, e2e));
    }
    if let [(a1, e1), _, (a3, e3)] = rates[..] {
        report(
            "cluster: 3 nodes / 1 node, accepted and end-to-end",
            format!("{:.2} / {:.2}", a3 / a1.max(1.0), e3 / e1.max(1.0)),
        );
    }
    Ok(())
}

/// Runs/s accepted by `CLIENTS` keep-alive clients spread over the nodes.
pub async fn accept_rate(targets: &[Target]) -> anyhow::Result<f64> {
    let accepted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (counter, stopper) = (accepted.clone(), stop.clone());
    let measured = async move {
        tokio::time::sleep(WARMUP).await;
        let before = counter.load(Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(MEASURE).await;
        let after = counter.load(Ordering::Relaxed);
        stopper.store(true, Ordering::Relaxed);
        (after - before) as f64 / start.elapsed().as_secs_f64()
    };
    let targets = targets.to_vec();
    let clients = on_threads(THREADS, move |thread| {
        let (targets, accepted, stop) = (targets.clone(), accepted.clone(), stop.clone());
        Box::pin(async move {
            let workers = (0..CLIENTS / THREADS).map(|i| {
                let target = targets[(thread + i * THREADS) % targets.len()].clone();
                let (accepted, stop) = (accepted.clone(), stop.clone());
                async move {
                    let later = scriptd::clock::now() as i64 + 86_400;
                    let body = format!(r#"{{"name":"later","queue":{later}}}"#);
                    let request = Request::post_json(&target, "/scripts/v1/run", &body);
                    let Ok(mut conn) = Conn::connect(&target).await else {
                        return;
                    };
                    while !stop.load(Ordering::Relaxed) {
                        match conn.send(&request).await {
                            Ok((200, _)) => {
                                accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                }
            });
            futures_util::future::join_all(workers).await;
            0u8
        })
    });
    let (rate, clients) = futures_util::join!(measured, clients);
    clients?;
    Ok(rate)
}

/// Queues `BATCH` runs of `t` round-robin over the nodes and answers
/// runs/s from the first request until the database has them all done.
async fn e2e_rate(targets: &[Target], db: &mut sqlx::PgConnection) -> anyhow::Result<f64> {
    let done_before = done_runs(db, "t").await?;
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let targets = targets.to_vec();
    let queued = on_threads(THREADS, move |thread| {
        let (targets, next) = (targets.clone(), next.clone());
        Box::pin(async move {
            let workers = (0..CLIENTS / THREADS).map(|i| {
                let target = targets[(thread + i * THREADS) % targets.len()].clone();
                let next = next.clone();
                async move {
                    let request = Request::post_json(&target, "/scripts/v1/run", r#"{"name":"t"}"#);
                    let mut conn = Conn::connect(&target).await?;
                    while next.fetch_add(1, Ordering::Relaxed) < BATCH {
                        let (status, body) = conn.send(&request).await?;
                        anyhow::ensure!(
                            status == 200,
                            "run refused: {}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                    anyhow::Ok(())
                }
            });
            let results = futures_util::future::join_all(workers).await;
            results
                .into_iter()
                .collect::<anyhow::Result<Vec<()>>>()
                .map(drop)
        })
    })
    .await?;
    queued.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while done_runs(db, "t").await? - done_before < BATCH as i64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the batch did not finish in 600 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(BATCH as f64 / start.elapsed().as_secs_f64())
}

async fn done_runs(db: &mut sqlx::PgConnection, name: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM runs WHERE name = $1 AND state = 'done' AND outcome = 'success'",
    )
    .bind(name)
    .fetch_one(db)
    .await?)
}

/// Failover times with the default lease and with a short one.
pub async fn failover() -> anyhow::Result<()> {
    for (label, flags) in [
        ("default lease (renew 1 s, lease 10 s)", &[][..]),
        (
            "short lease (renew 200 ms, lease 2 s)",
            &["--lease-renew-ms", "200", "--lease-ms", "2000"][..],
        ),
    ] {
        let mut nodes = Nodes::start(3, flags).await?;
        let mut db = sqlx::PgConnection::connect(&nodes.url).await?;
        let mut samples = Vec::with_capacity(KILLS);
        for _ in 0..KILLS {
            samples.push(one_failover(&mut nodes, &mut db).await?);
        }
        db.close().await?;
        nodes.stop().await?;
        let p50 = percentile(&mut samples, 50.0);
        let max = samples.last().copied().unwrap_or(0.0);
        report(
            &format!("failover, {label}: kill -9 to the waiting run started elsewhere"),
            format!("p50 {p50:.2} s, max {max:.2} s (n={KILLS})"),
        );
    }
    Ok(())
}

/// One kill: a `hold` run on some node, a second one waiting for its
/// slot; the holder's node dies; answers seconds until the second runs.
async fn one_failover(nodes: &mut Nodes, db: &mut sqlx::PgConnection) -> anyhow::Result<f64> {
    let targets = nodes.targets();
    let client = targets[0].client(1);
    let body = crate::server::bytes_body::Body::json(serde_json::json!({"name": "hold"}));
    let holder = targets[0].run(&client, &body).await?;
    let owner = running_on(db, &holder).await.context("the holding run")?;
    let waiting = targets[1 % targets.len()].run(&client, &body).await?;
    let index: usize = owner
        .strip_prefix('n')
        .and_then(|n| n.parse::<usize>().ok())
        .context("node name")?
        - 1;
    nodes.kill(index)?;
    let killed = Instant::now();
    running_on(db, &waiting)
        .await
        .context("the waiting run, after the kill")?;
    let took = killed.elapsed().as_secs_f64();
    // Back to three nodes, and the slot free for the next sample.
    nodes.restart(index)?;
    let alive = nodes.targets();
    let mut resp = client
        .post(alive[0].url(&format!("/scripts/v1/kill/{waiting}")))
        .insert_header(("X-APIKey", alive[0].key.as_str()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("kill request: {e}"))?;
    let reply = resp.body().await.unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while state_of(db, &waiting).await?.0 != "done" {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the killed run did not end; the kill was answered {}",
            String::from_utf8_lossy(&reply)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(took)
}

/// Waits until run `id` is running; answers the node it runs on.
async fn running_on(db: &mut sqlx::PgConnection, id: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let (state, Some(node)) = state_of(db, id).await? {
            if state == "running" {
                return Ok(node);
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "run {id} did not start in 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn state_of(
    db: &mut sqlx::PgConnection,
    id: &str,
) -> anyhow::Result<(String, Option<String>)> {
    Ok(sqlx::query_as("SELECT state, node FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .unwrap_or_else(|| ("unknown".to_owned(), None)))
}
