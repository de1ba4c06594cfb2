//! A real server for a test: [`ServerSpec`] says how every test server is
//! configured, whether it runs in this process ([`spawn_app`]) or as a
//! `scriptd serve` child (`child::Server`), so both are built one way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use scriptd::app::Application;
use scriptd::config::Config;
use tempfile::TempDir;

use super::api::Api;
use super::ws::WsClient;

/// The one description of a test server. A storage backend (SQLite or
/// PostgreSQL, chosen by an environment variable) belongs here: both ways
/// of starting a server read it from the spec.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Storage directory (exectabs, logs, the SQLite database).
    pub storage: PathBuf,
    pub scheme: Scheme,
    /// Where the events live.
    pub database: Database,
}

/// Where a test server keeps its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// This run's backend (see [`crate::backend`]): SQLite, or with
    /// `SCRIPTD_TEST_DATABASE=postgres` a database of the storage's own.
    ThisRun,
    /// SQLite in the storage directory, whatever the run's backend (a
    /// `migrate-to` source).
    Sqlite,
    /// This PostgreSQL database (shared by two nodes, or a private server).
    Postgres(String),
}

impl ServerSpec {
    /// A server on `storage`, over `scheme`, on this run's backend.
    pub fn new(storage: &Path, scheme: Scheme) -> Self {
        ServerSpec {
            storage: storage.to_owned(),
            scheme,
            database: Database::ThisRun,
        }
    }

    /// The same server with its events in `database`.
    pub fn on(mut self, database: Database) -> Self {
        self.database = database;
        self
    }

    /// The `--database` URL, if any (made for the storage on first use
    /// when the run is on PostgreSQL).
    fn database_url(&self) -> Option<String> {
        match &self.database {
            Database::ThisRun => crate::backend::database_url(&self.storage),
            Database::Sqlite => None,
            Database::Postgres(url) => Some(url.clone()),
        }
    }

    /// The settings for opening this storage (and its database) from a
    /// test, as its server does, without the serving ones.
    pub fn storage_config(&self) -> Config {
        let mut config = Config::new(&self.storage);
        config.database = self.database_url();
        config
    }

    /// The in-process server's settings: the only place a test `Config`
    /// is built. Loopback, a free port, a short kill grace.
    pub fn config(&self) -> Config {
        let mut config = self.storage_config();
        config.listen = "127.0.0.1:0".into();
        config.kill_grace = Duration::from_secs(2);
        if self.scheme == Scheme::Tls {
            config.tls.mode = scriptd::http::tls::TlsMode::On;
        }
        config
    }

    /// The same server's `scriptd serve` arguments, for a child process
    /// (which keeps its default kill grace: restart tests time real
    /// shutdowns); `extra` are more `serve` flags.
    pub fn serve_args(&self, extra: &[&str]) -> Vec<String> {
        let storage = self.storage.to_str().expect("utf-8 temp path");
        let mut args: Vec<String> = ["serve", "--storage", storage, "--listen", "127.0.0.1:0"]
            .map(str::to_owned)
            .to_vec();
        if let Some(url) = self.database_url() {
            args.extend(["--database".to_owned(), url]);
        }
        if self.scheme == Scheme::Tls {
            args.push("--tls".to_owned());
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    }
}

/// Defaults for opening `storage` (and its database: this run's backend,
/// see [`crate::backend`]) from a test, as its server does.
pub fn config_for(storage: &Path) -> Config {
    ServerSpec::new(storage, Scheme::Plain).storage_config()
}

/// Plain HTTP/WS or HTTPS/WSS: tests that must hold over both take one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Plain,
    Tls,
}

/// A running server and a client for it (the client's methods are reached
/// through `Deref`).
pub struct TestApp {
    pub api: Api,
    pub port: u16,
    pub storage: TempDir,
    /// The account actors, for tests that reach inside the server.
    pub directory: actix::Addr<scriptd::actors::directory::AccountDirectory>,
}

impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Starts the real application on a free port with a fresh storage dir.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to adjust the config first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_over(Scheme::Plain, adjust).await
}

/// Like [`spawn_app_with`], serving `scheme`; the TLS client trusts the
/// root the server made under its storage, as the CLI client does.
pub async fn spawn_app_over(scheme: Scheme, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(scheme, Database::ThisRun, adjust).await
}

/// Like [`spawn_app_over`], with the events in `database`.
pub async fn spawn_app_on(
    scheme: Scheme,
    database: Database,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let storage = tempfile::tempdir().expect("temp dir");
    let mut config = ServerSpec::new(storage.path(), scheme)
        .on(database)
        .config();
    adjust(&mut config);
    if std::env::var("TEST_LOG").is_ok() {
        scriptd::telemetry::init();
    }
    let app = Application::build(config).await.expect("app builds");
    let port = app.port();
    let key = app.admin_key.clone().expect("first run creates admin");
    let directory = app.directory();
    actix::spawn(app.run_until_stopped(std::future::pending()));
    let api = match scheme {
        Scheme::Plain => Api::new(port, key),
        Scheme::Tls => Api::over_tls(port, key, storage.path()),
    };
    TestApp {
        api,
        port,
        storage,
        directory,
    }
}

impl TestApp {
    /// The config of this app's storage (and database), for opening it.
    pub fn config(&self) -> Config {
        config_for(self.storage.path())
    }

    /// The admin's scripts folder.
    pub fn scripts_dir(&self) -> PathBuf {
        self.storage.path().join("1").join("scripts")
    }

    /// Replaces the admin's exectab.
    pub fn exectab(&self, text: &str) {
        std::fs::write(self.scripts_dir().join("exectab.txt"), text).expect("write exectab");
    }

    /// Opens a WebSocket with the admin key.
    pub async fn ws(&self) -> WsClient {
        self.ws_with(&self.key).await
    }

    /// Opens a WebSocket with `key`.
    pub async fn ws_with(&self, key: &str) -> WsClient {
        let (_resp, framed) = self
            .client
            .ws(format!(
                "{}/scripts/v1",
                self.base.replacen("http", "ws", 1)
            ))
            .set_header("X-APIKey", key)
            .max_frame_size(16 * 1024 * 1024)
            .connect()
            .await
            .expect("websocket connects");
        WsClient { framed }
    }
}

/// An in-process server a test stops gracefully and builds again on the
/// same storage (restart and migration tests); derefs to its [`Api`].
pub struct Stoppable {
    pub api: Api,
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: tokio::sync::oneshot::Receiver<()>,
}

impl std::ops::Deref for Stoppable {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Stoppable {
    /// Serves `app` on this test's system until [`Stoppable::stop`].
    pub fn serve(app: Application, api: Api) -> Stoppable {
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
        Stoppable { api, stop, stopped }
    }

    /// Graceful stop; returns once the storage lock is released.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        actix_rt::time::timeout(super::DEADLINE, self.stopped)
            .await
            .expect("the server stops in time")
            .expect("the server task ends");
    }
}
