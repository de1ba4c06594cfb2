//! [`Api`]: an HTTP client for one server and one key, with one typed
//! method per endpoint. Replies come back as their `scriptd::wire` type
//! in a [`Decoded`], which also keeps the JSON for tests that assert the
//! exact wire shape; the raw `call_with`/`get`/`post` stay for error paths
//! and for bodies no typed client would send.

use std::ops::{Deref, Index};

use scriptd::wire;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{eventually_ok, Rights, DEADLINE};

/// A reply decoded into its wire type `T`, with the JSON it came from.
/// `reply.field` reads the typed value (and panics, naming the reply, if
/// the server answered something else, such as an error); `reply["field"]`
/// reads the JSON, for absence, errors and exact shapes.
pub struct Decoded<T> {
    pub json: Value,
    typed: Result<T, String>,
}

impl<T: DeserializeOwned> Decoded<T> {
    /// `json` read as a `T` (or the reason it is not one).
    pub fn new(json: Value) -> Self {
        let typed = serde_json::from_value(json.clone()).map_err(|err| err.to_string());
        Decoded { json, typed }
    }
}

impl<T> Decoded<T> {
    /// The typed reply; panics if the JSON was not a `T`.
    pub fn typed(&self) -> &T {
        match &self.typed {
            Ok(typed) => typed,
            Err(err) => panic!("not a {}: {err}: {}", std::any::type_name::<T>(), self.json),
        }
    }
}

impl<T> Deref for Decoded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.typed()
    }
}

impl<T> Index<&str> for Decoded<T> {
    type Output = Value;

    fn index(&self, field: &str) -> &Value {
        &self.json[field]
    }
}

impl<T> std::fmt::Display for Decoded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.json.fmt(f)
    }
}

impl<T> std::fmt::Debug for Decoded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.json)
    }
}

/// An HTTP client for one server and one key.
pub struct Api {
    pub base: String,
    pub key: String,
    pub client: awc::Client,
    /// How `https://` connections are verified (TLS servers only).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
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

    /// The server's port (from the base URL).
    pub fn port(&self) -> u16 {
        let port = self
            .base
            .rsplit(':')
            .next()
            .expect("a port in the base URL");
        port.parse().expect("a numeric port")
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

    /// A call that must succeed, its reply decoded as `T`.
    async fn expect_ok<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Decoded<T> {
        let (code, reply) = self.call_with(method, path, Some(&self.key), body).await;
        assert_eq!(code, 200, "{method} {path}: {reply}");
        Decoded::new(reply)
    }

    /// `path?query` for a typed query.
    fn with_query(path: &str, query: &impl Serialize) -> String {
        let query = serde_urlencoded::to_string(query).expect("a query string");
        match query.is_empty() {
            true => path.to_owned(),
            false => format!("{path}?{query}"),
        }
    }

    /// `POST run` of `request` (a [`wire::RunRequest`], or any JSON body a
    /// test means to send); panics unless accepted.
    pub async fn enqueue(&self, request: impl Serialize) -> Decoded<wire::RunReply> {
        let body = serde_json::to_value(request).expect("a JSON body");
        self.expect_ok("POST", "/scripts/v1/run", Some(body)).await
    }

    /// Queues a run and returns its id (panics unless accepted).
    pub async fn run(&self, request: impl Serialize) -> String {
        self.enqueue(request).await.id.to_string()
    }

    /// `GET log/ID`: the run's output, as text (it is not JSON).
    pub async fn log(&self, id: &str) -> String {
        let url = format!("{}/scripts/v1/log/{id}", self.base);
        let mut resp = self
            .client
            .get(url)
            .insert_header(("X-APIKey", self.key.as_str()))
            .send()
            .await
            .expect("request sent");
        let bytes = resp.body().limit(64 * 1024 * 1024).await.expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert_eq!(resp.status().as_u16(), 200, "log/{id}: {text}");
        text
    }

    /// `GET status/ID`: the run's shape, or the error the server gave.
    pub async fn status(&self, id: &str) -> Decoded<wire::RunStatus> {
        Decoded::new(self.get(&format!("/scripts/v1/status/{id}")).await.1)
    }

    /// `GET status`: queued and running runs per script.
    pub async fn status_all(&self) -> Decoded<wire::StatusList> {
        self.expect_ok("GET", "/scripts/v1/status", None).await
    }

    /// `POST cancel/ID`, which must succeed.
    pub async fn cancel(&self, id: &str) -> wire::Ack {
        let path = format!("/scripts/v1/cancel/{id}");
        *self.expect_ok("POST", &path, None).await
    }

    /// `POST kill/ID`, which must succeed.
    pub async fn kill(&self, id: &str) -> wire::Ack {
        let path = format!("/scripts/v1/kill/{id}");
        *self.expect_ok("POST", &path, None).await
    }

    /// `GET scripts`.
    pub async fn scripts(&self) -> Decoded<wire::ScriptsReply> {
        self.expect_ok("GET", "/scripts/v1/scripts", None).await
    }

    /// `GET history` with `query`.
    pub async fn history(&self, query: &wire::HistoryRequest) -> Decoded<wire::HistoryReply> {
        let path = Self::with_query("/scripts/v1/history", query);
        self.expect_ok("GET", &path, None).await
    }

    /// `GET events` with `query`.
    pub async fn events(&self, query: &wire::EventsRequest) -> Decoded<wire::EventsReply> {
        let path = Self::with_query("/scripts/v1/events", query);
        self.expect_ok("GET", &path, None).await
    }

    /// `GET guest/list`.
    pub async fn guests(&self) -> Decoded<wire::GuestListReply> {
        self.expect_ok("GET", "/scripts/v1/guest/list", None).await
    }

    /// Creates a guest of this key's user for script `name`, valid until
    /// `expires` (UNIX seconds); returns its id and its key.
    pub async fn create_guest(&self, name: &str, rights: Rights, expires: i64) -> (String, String) {
        let [run, cancel, status, monitor] = rights;
        let request = wire::GuestCreateRequest {
            cancel,
            expires,
            monitor,
            name: name.to_owned(),
            run,
            status,
        };
        let body = serde_json::to_value(request).expect("a JSON body");
        let reply: Decoded<wire::GuestCreateReply> = self
            .expect_ok("POST", "/scripts/v1/guest/create", Some(body))
            .await;
        let key = reply.info.apikey.clone().expect("guest key");
        (reply.id.to_string(), key)
    }

    /// Deletes guest `id` with this key; it must have existed.
    pub async fn delete_guest(&self, id: &str) {
        let path = format!("/scripts/v1/guest/delete/{id}");
        let _: Decoded<wire::Ack> = self.expect_ok("DELETE", &path, None).await;
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

    /// Polls a run's status until `done` holds, within [`DEADLINE`].
    pub async fn wait_status(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&Decoded<wire::RunStatus>) -> bool,
    ) -> Decoded<wire::RunStatus> {
        let done = &done;
        eventually_ok(what, || async move {
            let status = self.status(id).await;
            match done(&status) {
                true => Ok(status),
                false => Err(format!("last status {status}")),
            }
        })
        .await
    }

    /// Waits until the run is finished and returns the finished status.
    pub async fn wait_done(&self, id: &str) -> Decoded<wire::Finished> {
        let done = self
            .wait_status(id, "run done", |s| s["state"] == "done")
            .await;
        Decoded::new(done.json)
    }
}
