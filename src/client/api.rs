//! The typed API client: one method per endpoint of `/scripts/v1`, each
//! returning the server's JSON reply or a [`ClientError`], and
//! [`Monitor`], a monitor subscription on the WebSocket.

use std::sync::Arc;
use std::time::Duration;

use actix_codec::Framed;
use actix_web::web::Bytes;
use awc::error::{ConnectError, SendRequestError, WsClientError};
use awc::http::{Method, StatusCode};
use awc::ws::{Codec, Frame, Message};
use awc::BoxedSocket;
use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::{json, Value};

use super::error::ClientError;

/// Per-request timeout: generous, since `log` may be large.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Largest reply body accepted (logs are capped by the server well below).
const BODY_LIMIT: usize = 256 * 1024 * 1024;

/// A `POST run` request.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub name: String,
    pub args: Vec<String>,
    pub stdin: Option<String>,
    /// UNIX time to start at (`queue`).
    pub queue: Option<i64>,
}

/// A `POST guest/create` request.
#[derive(Debug, Clone, Default)]
pub struct GuestRequest {
    pub name: String,
    pub run: bool,
    pub cancel: bool,
    pub status: bool,
    pub monitor: bool,
    pub expires: i64,
}

/// A client for one server and one key.
#[derive(Clone)]
pub struct Client {
    url: String,
    key: String,
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
            http: awc::Client::builder()
                .timeout(TIMEOUT)
                .connector(connector)
                .finish(),
        }
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queues a run; the reply has `id`, `state`, `queued`, `position`.
    pub async fn run(&self, request: &RunRequest) -> Result<Value, ClientError> {
        let mut body = json!({"name": request.name, "args": request.args});
        if let Some(stdin) = &request.stdin {
            body["stdin"] = Value::String(stdin.clone());
        }
        if let Some(queue) = request.queue {
            body["queue"] = Value::from(queue);
        }
        self.json(Method::POST, "run", Some(body))
            .await
            .map_err(|err| name_error(err, &request.name))
    }

    /// One run's status (queued, running or finished shape).
    pub async fn status(&self, id: &str) -> Result<Value, ClientError> {
        self.with_id(Method::GET, "status", id).await
    }

    /// Every queued and running run, per script.
    pub async fn status_all(&self) -> Result<Value, ClientError> {
        self.json(Method::GET, "status", None).await
    }

    /// Cancels a queued run.
    pub async fn cancel(&self, id: &str) -> Result<Value, ClientError> {
        self.with_id(Method::POST, "cancel", id).await
    }

    /// Stops a running run (SIGTERM, then SIGKILL).
    pub async fn kill(&self, id: &str) -> Result<Value, ClientError> {
        self.with_id(Method::POST, "kill", id).await
    }

    /// A run's captured output.
    pub async fn log(&self, id: &str) -> Result<String, ClientError> {
        let url = self.endpoint(&format!("log/{id}"));
        let (status, bytes) = self.send(Method::GET, &url, None).await?;
        if status == StatusCode::OK {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        envelope(&url, status, &bytes)
            .map(|_| String::new())
            .map_err(|err| id_error(err, id))
    }

    /// This user's guests, newest first.
    pub async fn guest_list(&self) -> Result<Value, ClientError> {
        self.json(Method::GET, "guest/list", None).await
    }

    /// Creates a guest key (shown in this reply only).
    pub async fn guest_create(&self, guest: &GuestRequest) -> Result<Value, ClientError> {
        let body = json!({
            "name": guest.name, "run": guest.run, "cancel": guest.cancel,
            "status": guest.status, "monitor": guest.monitor, "expires": guest.expires,
        });
        self.json(Method::POST, "guest/create", Some(body)).await
    }

    /// Deletes a guest.
    pub async fn guest_delete(&self, id: &str) -> Result<Value, ClientError> {
        self.with_id(Method::DELETE, "guest/delete", id).await
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
        let ws_url = format!("{}/scripts/v1", self.url.replacen("http", "ws", 1));
        let (_resp, framed) = self
            .http
            .ws(&ws_url)
            .set_header("X-APIKey", self.key.as_str())
            .max_frame_size(16 * 1024 * 1024)
            .connect()
            .await
            .map_err(|err| ws_error(&self.url, err))?;
        let mut monitor = Monitor { framed };
        let mut request = json!({
            "api_method": "GET", "api_path": "/scripts/v1/monitor",
            "api_sequence": 1, "name": name, "verbose": verbose,
        });
        if let Some(after) = after {
            request["after"] = Value::from(after);
        }
        monitor.send(&request).await?;
        let reply = monitor.next_message().await?.ok_or(ClientError::Closed)?;
        check_success(&self.url, reply).map_err(|err| name_error(err, name))?;
        Ok(monitor)
    }

    /// A GET of `path` with query fields, for the read-only listings
    /// (`history`, `events`).
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        let query = serde_urlencoded::to_string(query).unwrap_or_default();
        self.json(Method::GET, &format!("{path}?{query}"), None)
            .await
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/scripts/v1/{path}", self.url)
    }

    async fn with_id(&self, method: Method, path: &str, id: &str) -> Result<Value, ClientError> {
        self.json(method, &format!("{path}/{id}"), None)
            .await
            .map_err(|err| id_error(err, id))
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let url = self.endpoint(path);
        let (status, bytes) = self.send(method, &url, body).await?;
        envelope(&url, status, &bytes)
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let request = self
            .http
            .request(method, url)
            .insert_header(("X-APIKey", self.key.as_str()));
        let sent = match body {
            Some(body) => request.send_json(&body).await,
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
}

impl Monitor {
    /// The next push; `None` once the server closed the connection.
    pub async fn next_push(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            match self.next_message().await? {
                // Only pushes carry `seq`; anything else is a stray reply.
                Some(value) if value.get("seq").is_some() => return Ok(Some(value)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    /// The pushes as a stream, ending when the server closes.
    pub fn into_stream(self) -> impl Stream<Item = Result<Value, ClientError>> {
        futures_util::stream::unfold(self, |mut monitor| async move {
            match monitor.next_push().await {
                Ok(Some(value)) => Some((Ok(value), monitor)),
                Ok(None) => None,
                Err(err) => Some((Err(err), monitor)),
            }
        })
    }

    async fn send(&mut self, value: &Value) -> Result<(), ClientError> {
        self.framed
            .send(Message::Text(value.to_string().into()))
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
                Ok(Frame::Close(_)) | Err(_) => return Ok(None),
                Ok(Frame::Pong(_) | Frame::Continuation(_)) => {}
            }
        }
        Ok(None)
    }
}

/// Decodes the JSON envelope: the reply on success, the typed error else.
fn envelope(url: &str, status: StatusCode, bytes: &[u8]) -> Result<Value, ClientError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| ClientError::Decode {
        url: url.to_owned(),
        reason: format!("HTTP {status} with a body that is not JSON"),
    })?;
    check_success(url, value)
}

fn check_success(url: &str, value: Value) -> Result<Value, ClientError> {
    if value.get("success") == Some(&Value::Bool(true)) {
        return Ok(value);
    }
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    match (field("errorcode"), field("error")) {
        (Some(code), _) if code == "invalid_missing_apikey" => Err(ClientError::BadKey),
        (Some(code), message) => Err(ClientError::Api {
            message: message.unwrap_or_else(|| code.clone()),
            code,
        }),
        (None, _) => Err(ClientError::Decode {
            url: url.to_owned(),
            reason: format!("no success or errorcode in {}", compact(&value)),
        }),
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    text.chars().take(200).collect()
}

fn name_error(err: ClientError, name: &str) -> ClientError {
    match err {
        ClientError::Api { code, .. } if code == "invalid_name" => ClientError::UnknownScript {
            name: name.to_owned(),
        },
        other => other,
    }
}

fn id_error(err: ClientError, id: &str) -> ClientError {
    match err {
        ClientError::Api { code, .. } if code == "invalid_id" => {
            ClientError::UnknownId { id: id.to_owned() }
        }
        other => other,
    }
}

fn send_error(url: &str, err: SendRequestError) -> ClientError {
    match err {
        SendRequestError::Connect(ConnectError::Io(io)) if super::tls::describe(&io).is_some() => {
            ClientError::Tls {
                url: url.to_owned(),
                reason: super::tls::describe(&io).unwrap_or_default(),
            }
        }
        SendRequestError::Connect(connect) => ClientError::Connect {
            url: url.to_owned(),
            reason: connect_reason(&connect),
        },
        other => ClientError::Http {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

fn connect_reason(err: &ConnectError) -> String {
    match err {
        ConnectError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        other => other.to_string(),
    }
}

fn ws_error(url: &str, err: WsClientError) -> ClientError {
    match err {
        WsClientError::SendRequest(send) => send_error(url, send),
        WsClientError::InvalidResponseStatus(StatusCode::FORBIDDEN) => ClientError::BadKey,
        other => ClientError::Http {
            url: url.to_owned(),
            reason: format!("WebSocket upgrade failed: {other}"),
        },
    }
}
