//! The server under test, started in this process on 127.0.0.1:0 with a
//! temporary storage dir, and the load-generating clients, which run on
//! their own threads (each with its own actix System) so that they do not
//! share the server actors' thread.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::LocalBoxFuture;
use scriptd::app::Application;
use scriptd::config::Config;

use crate::database::{Backend, FreshDatabase};

/// A storage dir under the system temp dir, removed on drop.
pub struct TempStorage(pub PathBuf);

impl TempStorage {
    /// A fresh, empty dir under `$SCRIPTD_BENCH_DIR` (default: the temp dir).
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        let root =
            std::env::var_os("SCRIPTD_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
        let dir = root.join(format!(
            "scriptd-bench-{tag}-{}-{}",
            std::process::id(),
            scriptd::ids::RunId::new()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempStorage(dir))
    }
}

impl Drop for TempStorage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The benchmark's config: defaults (synchronous=FULL), short graces.
pub fn config(storage: &Path) -> Config {
    let mut config = Config::new(storage);
    config.listen = "127.0.0.1:0".into();
    config.kill_grace = Duration::from_millis(500);
    config.shutdown_grace = Duration::from_millis(500);
    // The load scenarios queue 100k runs and open 10k sockets from one
    // address with one key: far past the defaults against hostile clients.
    config.limits.max_queued_runs_per_user = u64::MAX;
    config.limits.max_queued_bytes_per_user = u64::MAX;
    config.limits.max_connections_per_address = usize::MAX;
    config.limits.max_websockets_per_key = usize::MAX;
    // The hooks scenario's receiver listens on loopback.
    config.hooks_allow =
        scriptd::hook::target::AllowList::parse(&["127.0.0.1/32"]).unwrap_or_default();
    config
}

/// A running in-process server.
pub struct Server {
    pub port: u16,
    pub key: String,
    pub storage: TempStorage,
    /// The PostgreSQL database of this server, dropped once it stops.
    database: Option<FreshDatabase>,
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: tokio::sync::oneshot::Receiver<()>,
}

impl Server {
    /// Starts a server on a fresh storage dir with `exectab` for the admin.
    pub async fn start(exectab: &str) -> anyhow::Result<Server> {
        Server::start_on(exectab, &Backend::Sqlite).await
    }

    /// Like [`Server::start`], with its events on `backend` (a fresh
    /// PostgreSQL database when it is PostgreSQL).
    pub async fn start_on(exectab: &str, backend: &Backend) -> anyhow::Result<Server> {
        let storage = TempStorage::new("srv")?;
        let database = backend.fresh().await?;
        let server = Server::start_with(storage, database).await?;
        server.exectab(exectab)?;
        Ok(server)
    }

    /// Starts a server on an existing storage dir (replays it).
    pub async fn start_in(storage: TempStorage) -> anyhow::Result<Server> {
        Server::start_with(storage, None).await
    }

    async fn start_with(
        storage: TempStorage,
        database: Option<FreshDatabase>,
    ) -> anyhow::Result<Server> {
        let mut config = config(&storage.0);
        config.database = database.as_ref().map(|d| d.url.clone());
        let app = Application::build(config).await?;
        let port = app.port();
        let key = match app.admin_key.clone() {
            Some(key) => key,
            None => std::fs::read_to_string(storage.0.join("admin.key"))
                .context("admin.key")?
                .trim()
                .to_owned(),
        };
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (done, stopped) = tokio::sync::oneshot::channel();
        actix::spawn(async move {
            let _ = app
                .run_until_stopped(async move {
                    let _ = stop_rx.await;
                })
                .await;
            let _ = done.send(());
        });
        Ok(Server {
            port,
            key,
            storage,
            database,
            stop,
            stopped,
        })
    }

    /// Replaces the admin's exectab.
    pub fn exectab(&self, text: &str) -> anyhow::Result<()> {
        let path = self.storage.0.join("1/scripts/exectab.txt");
        std::fs::write(&path, text).with_context(|| path.display().to_string())
    }

    /// Where clients connect.
    pub fn target(&self) -> Target {
        Target {
            port: self.port,
            key: self.key.clone(),
        }
    }

    /// Graceful stop (interrupts anything still running); keeps the storage.
    pub async fn stop(self) -> TempStorage {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.stopped).await;
        // The status-file writer may still be draining (it recreates dirs):
        // give it a moment so the temp dir is really gone when dropped.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(database) = self.database {
            if let Err(err) = database.drop_now().await {
                eprintln!("cannot drop the benchmark database: {err}");
            }
        }
        self.storage
    }
}

/// Address and key of a server, cheap to send to client threads.
#[derive(Clone)]
pub struct Target {
    pub port: u16,
    pub key: String,
}

impl Target {
    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// An HTTP client allowed `connections` connections to the server.
    pub fn client(&self, connections: usize) -> awc::Client {
        awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .connector(awc::Connector::new().limit(connections))
            .finish()
    }

    /// POSTs a pre-serialized `/scripts/v1/run` body; returns the run id.
    pub async fn run(
        &self,
        client: &awc::Client,
        body: &bytes_body::Body,
    ) -> anyhow::Result<String> {
        let mut resp = client
            .post(self.url("/scripts/v1/run"))
            .insert_header(("X-APIKey", self.key.as_str()))
            .insert_header(("Content-Type", "application/json"))
            .send_body(body.0.clone())
            .await
            .map_err(|e| anyhow::anyhow!("run request: {e}"))?;
        let bytes = resp.body().await?;
        let reply: serde_json::Value = serde_json::from_slice(&bytes)?;
        match reply["id"].as_str() {
            Some(id) if resp.status().is_success() => Ok(id.to_owned()),
            _ => anyhow::bail!("run refused: {reply}"),
        }
    }

    /// GETs `path` with the key; returns the body.
    pub async fn get(&self, client: &awc::Client, path: &str) -> anyhow::Result<Vec<u8>> {
        let mut resp = client
            .get(self.url(path))
            .insert_header(("X-APIKey", self.key.as_str()))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {path}: {e}"))?;
        anyhow::ensure!(resp.status().is_success(), "GET {path}: {}", resp.status());
        Ok(resp.body().limit(16 << 20).await?.to_vec())
    }

    /// The status JSON of a run.
    pub async fn status(
        &self,
        client: &awc::Client,
        id: &str,
    ) -> anyhow::Result<serde_json::Value> {
        let body = self
            .get(client, &format!("/scripts/v1/status/{id}"))
            .await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// One sample's value from `/metrics` (exact series name with labels).
    pub async fn metric(&self, client: &awc::Client, series: &str) -> anyhow::Result<f64> {
        let body = self.get(client, "/metrics").await?;
        let text = String::from_utf8_lossy(&body);
        Ok(text
            .lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0))
    }
}

/// A request body, serialized once and shared by every request.
pub mod bytes_body {
    /// JSON bytes.
    #[derive(Clone)]
    pub struct Body(pub actix_web::web::Bytes);

    impl Body {
        /// Serializes `value` once.
        pub fn json(value: serde_json::Value) -> Self {
            Body(value.to_string().into())
        }
    }
}

/// Runs `make(i)` for i in 0..threads, each on its own thread with its own
/// actix System, and returns their results in order.
pub async fn on_threads<T, F>(threads: usize, make: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> LocalBoxFuture<'static, T> + Send + Sync + 'static,
{
    let make = std::sync::Arc::new(make);
    let handles: Vec<std::thread::JoinHandle<T>> = (0..threads)
        .map(|i| {
            let make = make.clone();
            // Named, so that a profile tells load generator from server.
            std::thread::Builder::new()
                .name(format!("bench-client-{i}"))
                .spawn(move || actix::System::new().block_on(make(i)))
        })
        .collect::<Result<_, _>>()?;
    tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("client thread panicked"))
            })
            .collect()
    })
    .await?
}

/// Runs `work` on this thread's System while the server serves.
pub fn block_on<F: Future>(work: F) -> F::Output {
    actix::System::new().block_on(work)
}
