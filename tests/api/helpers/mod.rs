//! Test helpers: a real server on 127.0.0.1:0 with a temp storage dir, an
//! HTTP client, a WebSocket client, and deadline-based waits.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix_codec::Framed;
use awc::ws::{Codec, Frame, Message};
use awc::BoxedSocket;
use futures_util::{SinkExt, StreamExt};
use scriptd::app::Application;
use scriptd::config::Config;
use serde_json::{json, Value};
use tempfile::TempDir;

/// How long any wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// An HTTP client for one server and one key.
pub struct Api {
    pub base: String,
    pub key: String,
    pub client: awc::Client,
    /// How `https://` connections are verified (TLS servers only).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
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
    let storage = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(storage.path());
    config.listen = "127.0.0.1:0".into();
    config.kill_grace = Duration::from_secs(2);
    if scheme == Scheme::Tls {
        config.tls.mode = scriptd::http::tls::TlsMode::On;
    }
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

impl Api {
    /// A client for the server on `port` using `key`.
    pub fn new(port: u16, key: String) -> Self {
        Api {
            base: format!("http://127.0.0.1:{port}"),
            key,
            client: Self::client_for(None),
            tls: None,
        }
    }

    /// A client for the TLS server on `port`, trusting `<storage>/tls/ca.pem`.
    pub fn over_tls(port: u16, key: String, storage: &std::path::Path) -> Self {
        let base = format!("https://127.0.0.1:{port}");
        let tls = scriptd::client::tls::client_config(&base, None, storage)
            .expect("the server made its CA")
            .expect("https has a TLS config");
        Api {
            base,
            key,
            client: Self::client_for(Some(tls.clone())),
            tls: Some(tls),
        }
    }

    fn client_for(tls: Option<std::sync::Arc<rustls::ClientConfig>>) -> awc::Client {
        // awc gives up on connecting after 5 s by default: too short on a
        // loaded machine, where the server may not accept that soon.
        let connector = awc::Connector::new().timeout(DEADLINE);
        let connector = match tls {
            Some(tls) => connector.rustls_0_23(tls),
            None => connector,
        };
        awc::Client::builder()
            .timeout(DEADLINE)
            .connector(connector)
            .finish()
    }

    /// A request with a key, JSON body or none; returns status and JSON.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        // A keyless request on a pooled connection would use the key that
        // connection presented before; keyless calls get a connection of their own.
        let fresh;
        let client = match key {
            Some(_) => &self.client,
            None => {
                fresh = Self::client_for(self.tls.clone());
                &fresh
            }
        };
        let mut req = client.request(method, format!("{}{}", self.base, path));
        if let Some(key) = key {
            req = req.insert_header(("X-APIKey", key));
        }
        let mut resp = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        }
        .expect("request sent");
        let status = resp.status().as_u16();
        let bytes = resp.body().limit(64 * 1024 * 1024).await.expect("body");
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// Creates a guest of this key's user for script `name`, valid until
    /// `expires` (UNIX seconds); returns its id and its key.
    pub async fn create_guest(&self, name: &str, rights: Rights, expires: i64) -> (String, String) {
        let [run, cancel, status, monitor] = rights;
        let body = json!({"name": name, "run": run, "cancel": cancel, "status": status,
                          "monitor": monitor, "expires": expires});
        let (code, reply) = self.post("/scripts/v1/guest/create", body).await;
        assert_eq!(code, 200, "guest created: {reply}");
        let id = reply["id"].as_str().expect("guest id").to_owned();
        let key = reply["info"]["apikey"]
            .as_str()
            .expect("guest key")
            .to_owned();
        (id, key)
    }

    /// Deletes guest `id` with this key; it must have existed.
    pub async fn delete_guest(&self, id: &str) {
        let path = format!("/scripts/v1/guest/delete/{id}");
        let (code, reply) = self.call_with("DELETE", &path, Some(&self.key), None).await;
        assert_eq!(code, 200, "guest deleted: {reply}");
    }

    /// GET with the admin key.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call_with("GET", path, Some(&self.key), None).await
    }

    /// POST JSON with the admin key.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call_with("POST", path, Some(&self.key), Some(body))
            .await
    }

    /// Queues a run and returns its id (panics unless accepted).
    pub async fn run(&self, body: Value) -> String {
        let (status, reply) = self.post("/scripts/v1/run", body).await;
        assert_eq!(status, 200, "run accepted: {reply}");
        reply["id"].as_str().expect("id").to_owned()
    }

    /// The status of a run.
    pub async fn status(&self, id: &str) -> Value {
        self.get(&format!("/scripts/v1/status/{id}")).await.1
    }

    /// Polls a run's status until `done` holds, within [`DEADLINE`].
    pub async fn wait_status(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let status = self.status(id).await;
            if done(&status) {
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}: last status {status}"
            );
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the run is finished and returns the finished status.
    pub async fn wait_done(&self, id: &str) -> Value {
        self.wait_status(id, "run done", |s| s["state"] == "done")
            .await
    }
}

/// A WebSocket test client.
pub struct WsClient {
    pub framed: Framed<BoxedSocket, Codec>,
}

impl WsClient {
    /// Sends one JSON message.
    pub async fn send(&mut self, value: Value) {
        self.framed
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next JSON text message, within the deadline; `None` if closed.
    pub async fn recv(&mut self) -> Option<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = actix_rt::time::timeout(left, self.framed.next())
                .await
                .expect("timed out waiting for a websocket message");
            match frame {
                Some(Ok(Frame::Text(bytes))) => {
                    return Some(serde_json::from_slice(&bytes).expect("json message"))
                }
                Some(Ok(Frame::Ping(bytes))) => {
                    let _ = self.framed.send(Message::Pong(bytes)).await;
                }
                Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends a request and returns the reply with the same `api_sequence`,
    /// keeping any pushes that arrive first in `pushes`.
    pub async fn call(&mut self, mut request: Value, pushes: &mut Vec<Value>) -> Value {
        let sequence = request["api_sequence"].clone();
        if request.get("api_sequence").is_none() {
            request["api_sequence"] = json!(1);
        }
        self.send(request).await;
        loop {
            let message = self.recv().await.expect("reply before close");
            if message["api_sequence"] == sequence && message.get("seq").is_none() {
                return message;
            }
            pushes.push(message);
        }
    }
}

/// Polls `check` until it returns `Some`, within [`DEADLINE`].
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls an async `check` until it holds, within [`DEADLINE`].
pub async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The wall clock in UNIX seconds, as the server reads it.
pub fn unix_now() -> i64 {
    scriptd::clock::now_secs()
}

/// Guest rights in the API's order: run, cancel, status, monitor.
pub type Rights = [bool; 4];

/// Whether the tests run as root (privilege tests need it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// For a test that needs root (cgroups, mounts, other users): true when it
/// may go on; as an ordinary user it says loudly on stderr that it is
/// skipped, and why, and returns false. CI runs as root, so there it runs.
pub fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    use std::io::Write as _;
    // Straight to fd 2: libtest captures `eprintln!`, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: needs root (CI runs as root; run the suite as root to include it)"
    );
    false
}
