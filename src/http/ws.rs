//! The WebSocket session (the only user of actix-web-actors): each text
//! message is an API call `{api_method, api_path, api_sequence, ...}`, the
//! key is re-checked on every one, and monitor pushes from the hub are
//! written out. Its mailbox is bounded, so a peer that stops reading is
//! dropped by the hub instead of growing memory.

use std::any::Any;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::dev::Extensions;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use serde_json::Value;

use super::api::{self, MonitorRequest, Reply};
use super::error::ApiError;
use super::request::{self, ApiRequest, Method, Transport};
use super::sessions::{Revoke, SessionTicket};
use super::AppState;
use crate::actors::monitor::{Outlet, Push, SessionChanged, Subscribe, Unsubscribe};
use crate::ids::{ScriptName, UserId};
use crate::wire::{LogReply, MonitorReply, Success, WsReply};

const PING_EVERY: Duration = Duration::from_secs(10);
const PEER_TIMEOUT: Duration = Duration::from_secs(35);
/// Pushes that may wait for a slow peer before it is disconnected.
const MAILBOX: usize = 1024;

static SESSIONS: AtomicU64 = AtomicU64::new(1);

/// Whether the request asks for a WebSocket upgrade.
pub fn is_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Accepts the upgrade once the connection's key is valid.
pub async fn start(
    state: AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let mut probe = request::from_head(req, Transport::WebSocket);
    probe.key = probe.key.or_else(|| super::ui::subprotocol::key(req));
    // A browser cannot add headers to a WebSocket: with a session cookie,
    // the `Origin` (which it always sends) stands for the header check.
    let keyless = probe.api_key().is_none();
    if let (true, Some(cookie)) = (keyless, probe.session.as_mut()) {
        cookie.requested_with = same_origin(&state, req)?;
    }
    let principal = api::authenticate(&state, &probe).await?;
    let id = SESSIONS.fetch_add(1, Ordering::Relaxed);
    // The key the session was authorised with (presented, or remembered by
    // its keep-alive connection), for the per-key limit and revocation; a
    // person's socket is registered under its session.
    let key_hash = match principal.person() {
        Some(person) => super::oidc::end::registry_key(&person.session),
        None => {
            super::connection::ConnectionKey::resolve(probe.connection.as_ref(), probe.api_key())
                .map(|key| key.hash().to_owned())
                .unwrap_or_default()
        }
    };
    let ticket = state
        .sessions
        .register(
            id,
            key_hash,
            principal.user_id(),
            principal.guest().map(|g| g.expires),
            state.config.limits.max_websockets_per_key,
        )
        .ok_or(ApiError::TooManyWebsockets)?;
    let registry = state.sessions.clone();
    let message_cap = state.config.body_cap_bytes;
    let session = WsSession {
        id,
        _ticket: ticket,
        fragments: None,
        message_cap,
        state,
        user: principal.user_id(),
        key: probe.api_key().map(str::to_owned),
        connection: probe.connection.clone(),
        cookie: probe
            .session
            .clone()
            .filter(|_| principal.person().is_some()),
        peer: probe.peer,
        last_seen: Instant::now(),
        monitors: HashMap::new(),
        queued_bytes: Arc::default(),
        cut: cutter(req),
    };
    let (addr, response) = ws::WsResponseBuilder::new(session, req, payload)
        // No frame bigger than a whole message may be: the codec refuses
        // it unread (Overflow, closed with 1009 below).
        .frame_size(message_cap)
        .protocols(super::ui::subprotocol::ACCEPTED)
        .start_with_addr()?;
    registry.attach(id, addr.recipient());
    Ok(response)
}

/// Whether a cookie-authenticated upgrade comes from this server's own
/// pages; refused otherwise (another site's page cannot ride the cookie).
fn same_origin(state: &AppState, req: &HttpRequest) -> Result<bool, ApiError> {
    let Some(sign_in) = state.sign_in.as_ref() else {
        return Ok(false);
    };
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    match origin {
        Some(origin) if origin == sign_in.origin() => Ok(true),
        _ => Err(ApiError::ForeignOrigin),
    }
}

/// One WebSocket connection.
pub struct WsSession {
    id: u64,
    /// This session's place among its key's sessions.
    _ticket: SessionTicket,
    /// A fragmented message being assembled: whether it is text, and its bytes.
    fragments: Option<(bool, Vec<u8>)>,
    /// The largest message accepted (assembled or not).
    message_cap: usize,
    state: AppState,
    user: UserId,
    key: Option<String>,
    /// The upgrade's connection: without a key of its own, the upgrade was
    /// authorised with the key that connection presented earlier.
    connection: Option<super::connection::ConnectionKey>,
    /// The session cookie a person's socket was opened with.
    cookie: Option<request::SessionCookie>,
    peer: Option<String>,
    last_seen: Instant,
    /// Active monitors by name (`None` = all) → their `api_sequence`.
    monitors: HashMap<Option<ScriptName>, i64>,
    /// Push bytes the hub sent and this session has not written yet.
    queued_bytes: Arc<AtomicUsize>,
    cut: Arc<dyn Fn() + Send + Sync>,
}

/// The raw socket of a connection, noted when it is accepted.
#[derive(Debug, Clone, Copy)]
pub struct ConnSocket(RawFd);

/// `HttpServer::on_connect` hook: remembers each connection's socket.
pub fn note_socket(conn: &dyn Any, ext: &mut Extensions) {
    type TlsStream = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        ext.insert(ConnSocket(tcp.as_raw_fd()));
    } else if let Some(tls) = conn.downcast_ref::<TlsStream>() {
        ext.insert(ConnSocket(tls.get_ref().0.as_raw_fd()));
    }
}

/// A way to shut this connection's socket down from outside the session.
/// The socket is duplicated now, while the connection is certainly open,
/// so the handle can never reach another connection that reuses the number.
fn cutter(req: &HttpRequest) -> Arc<dyn Fn() + Send + Sync> {
    let dup = req.conn_data::<ConnSocket>().and_then(|socket| {
        // SAFETY: the fd belongs to the connection serving this request,
        // which stays open at least until this handler returns.
        let borrowed = unsafe { BorrowedFd::borrow_raw(socket.0) };
        borrowed.try_clone_to_owned().ok()
    });
    match dup {
        Some(fd) => Arc::new(move || {
            let _ = nix::sys::socket::shutdown(fd.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }),
        None => Arc::new(|| {}),
    }
}

fn send(ctx: &mut ws::WebsocketContext<WsSession>, reply: &impl serde::Serialize) {
    match serde_json::to_string(reply) {
        Ok(text) => ctx.text(text),
        Err(err) => tracing::error!(error = %err, "reply not serializable"),
    }
}

/// Sends `body` with the `api_sequence` of the request it answers.
fn answer<T: serde::Serialize>(ctx: &mut ws::WebsocketContext<WsSession>, body: T, seq: i64) {
    send(
        ctx,
        &WsReply {
            api_sequence: Some(seq),
            body,
        },
    );
}

impl WsSession {
    fn parse(&self, text: &str) -> Result<(i64, ApiRequest), ApiError> {
        let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(text) else {
            return Err(ApiError::InvalidData("expected a JSON object"));
        };
        super::raw_args::keep_number_text(text.as_bytes(), &mut fields);
        let method = match fields.remove("api_method") {
            Some(Value::String(m)) => Method::parse(&m),
            _ => return Err(ApiError::MissingApiMethod),
        };
        let path = match fields.remove("api_path") {
            Some(Value::String(p)) => p,
            _ => return Err(ApiError::MissingApiPath),
        };
        let sequence = match fields.remove("api_sequence") {
            Some(Value::Number(n)) => n.as_i64().ok_or(ApiError::MissingApiSequence)?,
            _ => return Err(ApiError::MissingApiSequence),
        };
        let request = ApiRequest {
            method,
            path,
            fields,
            key: self.key.clone(),
            peer: self.peer.clone(),
            transport: Transport::WebSocket,
            text_fields: Default::default(),
            connection: self.connection.clone(),
            session: self.cookie.clone(),
        };
        Ok((sequence, request))
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let (sequence, request) = match self.parse(text) {
            Ok(parsed) => parsed,
            Err(err) => return send(ctx, &err.body()),
        };
        let state = self.state.clone();
        let call = async move { api::dispatch(&state, &request).await };
        ctx.spawn(
            call.into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(Reply::Json(reply)) => answer(ctx, reply, sequence),
                    Ok(Reply::Text(log)) => answer(
                        ctx,
                        LogReply {
                            log,
                            success: Success,
                        },
                        sequence,
                    ),
                    Ok(Reply::Monitor(request)) => act.toggle_monitor(request, sequence, ctx),
                    Err(ApiError::InvalidApiKey) => {
                        answer(ctx, ApiError::InvalidApiKey.body(), sequence);
                        ctx.close(Some(ws::CloseCode::Policy.into()));
                        ctx.stop();
                    }
                    Err(err) => answer(ctx, err.body(), sequence),
                }),
        );
    }

    fn toggle_monitor(
        &mut self,
        request: MonitorRequest,
        sequence: i64,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let name = request.name.clone();
        let enabled = if self.monitors.remove(&name).is_some() {
            self.state.hub.do_send(Unsubscribe {
                user: self.user,
                session: self.id,
                name: name.clone(),
            });
            false
        } else {
            self.monitors.insert(name.clone(), sequence);
            self.state.hub.do_send(Subscribe {
                user: request.principal.user_id(),
                session: self.id,
                outlet: Outlet {
                    recipient: ctx.address().recipient(),
                    queued_bytes: self.queued_bytes.clone(),
                    cut: self.cut.clone(),
                },
                name: name.clone(),
                verbose: request.verbose,
                api_sequence: sequence,
                guest: request.principal.guest().cloned(),
                scripts: request
                    .principal
                    .person()
                    .map_or(crate::accounts::ScriptFilter::All, |p| p.visible()),
                after: request.after,
            });
            true
        };
        let reply = MonitorReply {
            enabled,
            name: name.map(|n| n.to_string()).unwrap_or_default(),
            success: Success,
        };
        answer(ctx, reply, sequence);
    }
}

impl Actor for WsSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        self.state.hub.do_send(SessionChanged {
            user: self.user,
            session: self.id,
            open: true,
        });
        ctx.run_interval(PING_EVERY, |act, ctx| {
            if act.last_seen.elapsed() > PEER_TIMEOUT {
                ctx.stop();
            } else {
                ctx.ping(b"");
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.state.hub.do_send(SessionChanged {
            user: self.user,
            session: self.id,
            open: false,
        });
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_seen = Instant::now();
        match msg {
            Ok(ws::Message::Text(text)) if text.len() > self.message_cap => self.too_big(ctx),
            Ok(ws::Message::Binary(bytes)) if bytes.len() > self.message_cap => self.too_big(ctx),
            Ok(ws::Message::Text(text)) => self.on_text(&text, ctx),
            Ok(ws::Message::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                Ok(text) => self.on_text(text, ctx),
                Err(_) => send(ctx, &ApiError::InvalidData("expected UTF-8 JSON").body()),
            },
            Ok(ws::Message::Ping(bytes)) => ctx.pong(&bytes),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(ws::Message::Continuation(item)) => self.on_fragment(item, ctx),
            Ok(ws::Message::Pong(_) | ws::Message::Nop) => {}
            Err(ws::ProtocolError::Overflow) => self.too_big(ctx),
            Err(err) => {
                tracing::debug!(session = self.id, error = %err, "WebSocket protocol error");
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Protocol,
                    description: Some(err.to_string()),
                }));
                ctx.stop();
            }
        }
    }
}

impl Handler<Push> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Push, ctx: &mut Self::Context) {
        match msg {
            Push::Text(text) => {
                self.queued_bytes.fetch_sub(text.len(), Ordering::Relaxed);
                ctx.text(text);
            }
            Push::Close(reason) => {
                tracing::info!(session = self.id, reason, "closing monitor session");
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Policy,
                    description: Some(reason.to_owned()),
                }));
                ctx.stop();
            }
        }
    }
}

impl Handler<Revoke> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Revoke, ctx: &mut Self::Context) {
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Policy,
            description: Some(msg.reason.to_owned()),
        }));
        ctx.stop();
    }
}

impl WsSession {
    /// A message over the cap, however it was framed: 1009 and the end.
    fn too_big(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        self.fragments = None;
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Size,
            description: Some(format!("message larger than {} bytes", self.message_cap)),
        }));
        ctx.stop();
    }

    /// Assembles a fragmented message (FIN=0, then continuation frames) up
    /// to the message cap; a bigger one closes the session with 1009.
    fn on_fragment(&mut self, item: actix_http::ws::Item, ctx: &mut ws::WebsocketContext<Self>) {
        let (bytes, last) = match item {
            actix_http::ws::Item::FirstText(bytes) => {
                self.fragments = Some((true, Vec::new()));
                (bytes, false)
            }
            actix_http::ws::Item::FirstBinary(bytes) => {
                self.fragments = Some((false, Vec::new()));
                (bytes, false)
            }
            actix_http::ws::Item::Continue(bytes) => (bytes, false),
            actix_http::ws::Item::Last(bytes) => (bytes, true),
        };
        let Some((_, buffer)) = self.fragments.as_mut() else {
            return; // a continuation with no first frame: the codec refuses it
        };
        if buffer.len() + bytes.len() > self.message_cap {
            self.too_big(ctx);
            return;
        }
        buffer.extend_from_slice(&bytes);
        if !last {
            return;
        }
        if let Some((_, message)) = self.fragments.take() {
            match std::str::from_utf8(&message) {
                Ok(text) => self.on_text(text, ctx),
                Err(_) => send(ctx, &ApiError::InvalidData("expected UTF-8 JSON").body()),
            }
        }
    }
}
