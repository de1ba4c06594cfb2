//! The typed API client: one method per endpoint of `/scripts/v1`, each
//! sending that endpoint's [`crate::wire`] request and returning its wire
//! reply or a [`ClientError`], and [`Monitor`], a monitor subscription on
//! the WebSocket.

use std::sync::Arc;
use std::time::Duration;

use actix_codec::Framed;
use actix_web::web::Bytes;
use awc::http::{Method, StatusCode};
use awc::ws::{Codec, Frame, Message};
use awc::BoxedSocket;
use futures_util::{SinkExt, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::error::ClientError;
use super::reply::{check_success, envelope, id_error, name_error, send_error, ws_error};
use crate::wire::{self, Push, WsReply, WsRequest};

/// Per-request timeout: generous, since `log` may be large.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Largest reply body accepted (logs are capped by the server well below).
const BODY_LIMIT: usize = 256 * 1024 * 1024;

/// A `POST run` request.
pub type RunRequest = wire::RunRequest;

/// A `POST guest/create` request.
pub type GuestRequest = wire::GuestCreateRequest;

/// Where a client's URL and key came from, in the words errors use
/// (`--url or SCRIPTD_URL`, `read from scriptd-data/admin.key`).
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// Where the URL came from.
    pub url: String,
    /// Where the key came from.
    pub key: String,
}

/// A client for one server and one key.
#[derive(Clone)]
pub struct Client {
    url: String,
    key: String,
    /// Where the URL and the key came from, named in errors.
    origins: Origins,
    http: awc::Client,
}

impl Client {
    /// A client for the server at `url` (e.g. `http://127.0.0.1:9893`).
    pub fn new(url: &str, key: &str) -> Self {
        Self::with_tls(url, key, None)
    }

    /// A client whose `https://` connections are verified with `tls`.
    pub fn with_tls(url: &str, key: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        let connector = awc::Connector::new();
        let connector = match tls {
            Some(tls) => connector.rustls_0_23(tls),
            None => connector,
        };
        Client {
            url: url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            origins: Origins::default(),
            http: awc::Client::builder()
                .timeout(TIMEOUT)
                .connector(connector)
                .finish(),
        }
    }

    /// Notes where the URL and the key came from, for the errors.
    pub fn origins(mut self, origins: Origins) -> Self {
        self.origins = origins;
        self
    }

    /// A refused key or an unreachable server says which server, and
    /// where the URL and the key came from.
    fn key_error(&self, err: ClientError) -> ClientError {
        let from = self.origins.url.clone();
        match err {
            ClientError::BadKey => ClientError::KeyRefused {
                url: self.url.clone(),
                url_from: from,
                key_from: match self.origins.key.as_str() {
                    "" => "it was given".into(),
                    key => key.to_owned(),
                },
            },
            ClientError::Connect { url, reason, .. } => ClientError::Connect { url, from, reason },
            ClientError::WrongScheme {
                url, tried, speaks, ..
            } => ClientError::WrongScheme {
                url,
                from,
                tried,
                speaks,
            },
            other => other,
        }
    }

    /// The WebSocket URL of the API (`ws://` for `http://`, `wss://` for `https://`).
    fn ws_url(&self) -> String {
        format!("{}/scripts/v1", self.url.replacen("http", "ws", 1))
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queues a run; the reply is its queued shape.
    pub async fn run(&self, request: &RunRequest) -> Result<wire::RunReply, ClientError> {
        self.json(Method::POST, "run", Some(request))
            .await
            .map_err(|err| name_error(err, &request.name))
    }

    /// One run's status (queued, running or finished shape).
    pub async fn status(&self, id: &str) -> Result<wire::RunStatus, ClientError> {
        self.with_id(Method::GET, "status", id).await
    }

    /// Every queued and running run, per script.
    pub async fn status_all(&self) -> Result<wire::StatusList, ClientError> {
        self.json(Method::GET, "status", None::<&()>).await
    }

    /// Cancels a queued run.
    pub async fn cancel(&self, id: &str) -> Result<wire::Ack, ClientError> {
        self.with_id(Method::POST, "cancel", id).await
    }

    /// Stops a running run (SIGTERM, then SIGKILL).
    pub async fn kill(&self, id: &str) -> Result<wire::Ack, ClientError> {
        self.with_id(Method::POST, "kill", id).await
    }

    /// A run's captured output.
    pub async fn log(&self, id: &str) -> Result<String, ClientError> {
        let bytes = self.log_from(id, 0).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A run's captured output from byte `offset` on (to follow a log).
    pub async fn log_from(&self, id: &str, offset: u64) -> Result<Bytes, ClientError> {
        let query = wire::LogRequest {
            offset: (offset > 0).then_some(offset),
        };
        let url = self.endpoint(&with_query(&format!("log/{id}"), &query));
        let (status, bytes) = self
            .send(Method::GET, &url, None::<&()>)
            .await
            .map_err(|err| self.key_error(err))?;
        if status == StatusCode::OK {
            return Ok(bytes);
        }
        envelope::<Value>(&url, status, &bytes)
            .map(|_| Bytes::new())
            .map_err(|err| self.key_error(id_error(err, id)))
    }

    /// The scripts this key may use, with their options.
    pub async fn scripts(&self) -> Result<wire::ScriptsReply, ClientError> {
        self.json(Method::GET, "scripts", None::<&()>).await
    }

    /// The ids of this key's runs that start with `prefix` (a few at most).
    pub async fn runs_with_prefix(&self, prefix: &str) -> Result<Vec<String>, ClientError> {
        let query = wire::PrefixRequest {
            prefix: prefix.to_owned(),
        };
        let reply: wire::PrefixReply = self.get("runs", &query).await?;
        Ok(reply.ids.iter().map(ToString::to_string).collect())
    }

    /// The ids of this key's runs that end with `suffix` (a few at most).
    pub async fn runs_with_suffix(&self, suffix: &str) -> Result<Vec<String>, ClientError> {
        let query = wire::SuffixRequest {
            suffix: suffix.to_owned(),
        };
        let reply: wire::PrefixReply = self.get("runs", &query).await?;
        Ok(reply.ids.iter().map(ToString::to_string).collect())
    }

    /// The scheduled scripts this key sees.
    pub async fn schedules(&self) -> Result<wire::SchedulesReply, ClientError> {
        self.json(Method::GET, "schedules", None::<&()>).await
    }

    /// Pauses (or resumes) the schedule of `name`.
    pub async fn schedule_pause(&self, name: &str, paused: bool) -> Result<wire::Ack, ClientError> {
        let verb = if paused { "pause" } else { "resume" };
        let path = format!("schedule/{verb}/{name}");
        self.json(Method::POST, &path, Some(&serde_json::json!({})))
            .await
    }

    /// This user's webhooks, newest first.
    pub async fn hook_list(&self) -> Result<wire::HookListReply, ClientError> {
        self.json(Method::GET, "hook/list", None::<&()>).await
    }

    /// Creates a webhook (its secret is in this reply only).
    pub async fn hook_create(
        &self,
        hook: &serde_json::Value,
    ) -> Result<wire::HookCreateReply, ClientError> {
        self.json(Method::POST, "hook/create", Some(hook)).await
    }

    /// Deletes a webhook.
    pub async fn hook_delete(&self, id: &str) -> Result<wire::Ack, ClientError> {
        self.json(
            Method::POST,
            &format!("hook/delete/{id}"),
            Some(&serde_json::json!({})),
        )
        .await
        .map_err(|err| id_error(err, id))
    }

    /// Recent deliveries, newest first.
    pub async fn hook_deliveries(
        &self,
        query: &wire::DeliveriesRequest,
    ) -> Result<wire::DeliveriesReply, ClientError> {
        self.get("hook/deliveries", query).await
    }

    /// This user's guests, newest first.
    pub async fn guest_list(&self) -> Result<wire::GuestListReply, ClientError> {
        self.json(Method::GET, "guest/list", None::<&()>).await
    }

    /// Creates a guest key (shown in this reply only).
    pub async fn guest_create(
        &self,
        guest: &GuestRequest,
    ) -> Result<wire::GuestCreateReply, ClientError> {
        self.json(Method::POST, "guest/create", Some(guest)).await
    }

    /// Deletes a guest.
    pub async fn guest_delete(&self, id: &str) -> Result<wire::Ack, ClientError> {
        self.with_id(Method::DELETE, "guest/delete", id).await
    }

    /// One page of finished runs, newest first.
    pub async fn history(
        &self,
        query: &wire::HistoryRequest,
    ) -> Result<wire::HistoryReply, ClientError> {
        self.get("history", query).await
    }

    /// One page of this user's recorded events, oldest first.
    pub async fn events(
        &self,
        query: &wire::EventsRequest,
    ) -> Result<wire::EventsReply, ClientError> {
        self.get("events", query).await
    }

    /// Opens the WebSocket and registers a monitor for `name` (`""` = all
    /// scripts). Returns once the server confirmed the registration, so
    /// every event committed after this call returns is pushed.
    pub async fn monitor(
        &self,
        name: &str,
        verbose: bool,
        after: Option<i64>,
    ) -> Result<Monitor, ClientError> {
        let ws_url = self.ws_url();
        let (_resp, framed) = self
            .http
            .ws(&ws_url)
            .set_header("X-APIKey", self.key.as_str())
            .max_frame_size(16 * 1024 * 1024)
            .connect()
            .await
            .map_err(|err| self.key_error(ws_error(&self.url, err)))?;
        let mut monitor = Monitor {
            framed,
            close_reason: None,
        };
        let request = WsRequest {
            api_method: "GET".into(),
            api_path: "/scripts/v1/monitor".into(),
            api_sequence: 1,
            fields: wire::MonitorRequest {
                after,
                name: name.to_owned(),
                verbose,
            },
        };
        monitor.send(&request).await?;
        let reply = monitor.next_message().await?.ok_or(ClientError::Closed)?;
        check_success::<WsReply<wire::MonitorReply>>(&self.url, reply)
            .map_err(|err| self.key_error(name_error(err, name)))?;
        Ok(monitor)
    }

    /// A GET of `path` with `query` as its query string.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.json(Method::GET, &with_query(path, query), None::<&()>)
            .await
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/scripts/v1/{path}", self.url)
    }

    async fn with_id<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        id: &str,
    ) -> Result<T, ClientError> {
        self.json(method, &format!("{path}/{id}"), None::<&()>)
            .await
            .map_err(|err| id_error(err, id))
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let url = self.endpoint(path);
        let reply = match self.send(method, &url, body).await {
            Ok((status, bytes)) => envelope(&url, status, &bytes),
            Err(err) => Err(err),
        };
        reply.map_err(|err| self.key_error(err))
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&impl Serialize>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let request = self
            .http
            .request(method, url)
            .insert_header(("X-APIKey", self.key.as_str()));
        let sent = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        };
        let mut response = sent.map_err(|err| send_error(&self.url, err))?;
        let bytes = response
            .body()
            .limit(BODY_LIMIT)
            .await
            .map_err(|err| ClientError::Http {
                url: url.to_owned(),
                reason: err.to_string(),
            })?;
        Ok((response.status(), bytes))
    }
}

/// A monitor subscription: the pushes of the registered monitor.
pub struct Monitor {
    framed: Framed<BoxedSocket, Codec>,
    /// Why the server closed the connection, when it said.
    close_reason: Option<String>,
}

impl Monitor {
    /// The next push; `None` once the server closed the connection.
    pub async fn next_push(&mut self) -> Result<Option<WsReply<Push>>, ClientError> {
        loop {
            match self.next_message().await? {
                // Only pushes carry `seq`; anything else is a stray reply.
                Some(value) if value.get("seq").is_some() => {
                    return serde_json::from_value(value).map(Some).map_err(|err| {
                        ClientError::Decode {
                            url: "the monitor WebSocket".into(),
                            reason: err.to_string(),
                        }
                    })
                }
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Why the server closed the connection (`guest key deleted`), once
    /// it has.
    pub fn close_reason(&self) -> Option<&str> {
        self.close_reason.as_deref()
    }

    /// The pushes as a stream, ending when the server closes.
    pub fn into_stream(self) -> impl Stream<Item = Result<WsReply<Push>, ClientError>> {
        futures_util::stream::unfold(self, |mut monitor| async move {
            match monitor.next_push().await {
                Ok(Some(value)) => Some((Ok(value), monitor)),
                Ok(None) => None,
                Err(err) => Some((Err(err), monitor)),
            }
        })
    }

    async fn send(&mut self, request: &impl Serialize) -> Result<(), ClientError> {
        let text = serde_json::to_string(request).map_err(|err| ClientError::Decode {
            url: "the monitor WebSocket".into(),
            reason: err.to_string(),
        })?;
        self.framed
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| ClientError::Closed)
    }

    async fn next_message(&mut self) -> Result<Option<Value>, ClientError> {
        while let Some(frame) = self.framed.next().await {
            match frame {
                Ok(Frame::Text(bytes)) | Ok(Frame::Binary(bytes)) => {
                    return serde_json::from_slice(&bytes).map(Some).map_err(|err| {
                        ClientError::Decode {
                            url: "the monitor WebSocket".into(),
                            reason: err.to_string(),
                        }
                    })
                }
                Ok(Frame::Ping(bytes)) => {
                    // The server drops peers that stop answering its pings.
                    let _ = self.framed.send(Message::Pong(bytes)).await;
                }
                Ok(Frame::Close(reason)) => {
                    self.close_reason =
                        reason.and_then(|r| r.description).filter(|d| !d.is_empty());
                    return Ok(None);
                }
                Err(_) => return Ok(None),
                Ok(Frame::Pong(_) | Frame::Continuation(_)) => {}
            }
        }
        Ok(None)
    }
}

/// `path?query`, or `path` when the query is empty.
fn with_query(path: &str, query: &impl Serialize) -> String {
    match serde_urlencoded::to_string(query).unwrap_or_default() {
        query if query.is_empty() => path.to_owned(),
        query => format!("{path}?{query}"),
    }
}
