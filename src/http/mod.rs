//! The HTTP face: one catch-all handler under `/scripts/` that turns the
//! request into an [`request::ApiRequest`] and dispatches it, the WebSocket
//! upgrade, `/healthz` and `/metrics`; the key a keep-alive connection
//! presented ([`connection`]) and TLS on the listener ([`tls`], [`cert`]).

pub mod api;
pub mod catch_up;
pub mod cert;
pub mod conn_limit;
pub mod connection;
pub mod error;
pub mod guard;
pub mod guests;
pub mod health;
pub mod history;
pub mod hooks;
pub mod metrics;
pub mod oidc;
pub mod parse;
pub mod prefix;
pub mod raw_args;
pub mod reply_cap;
pub mod request;
pub mod revocation;
pub mod runs;
pub mod schedules;
pub mod sessions;
pub mod tls;
pub mod ui;
pub mod ws;

use std::sync::Arc;

use actix::Addr;
use actix_web::{web, HttpRequest, HttpResponse};

use self::api::Reply;
use self::error::ApiError;
use crate::actors::directory::AccountDirectory;
use crate::actors::monitor::MonitorHub;
use crate::config::Config;
use crate::events::EventStore;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Addr<EventStore>,
    /// Reads of the event log, the read model and the accounts.
    pub readers: crate::events::Readers,
    pub directory: Addr<AccountDirectory>,
    pub hub: Addr<MonitorHub>,
    pub config: Arc<Config>,
    pub metrics: crate::metrics::Metrics,
    /// Open WebSocket sessions by key (limits and revocation).
    pub sessions: sessions::SessionRegistry,
    /// Where runs' captured output is read from.
    pub logs: crate::output::RunLogs,
    /// The schedules' timer.
    pub timer: Addr<crate::actors::timer::Timer>,
    /// Sign-in through OpenID Connect and its sessions (`[oidc]`).
    pub sign_in: Option<oidc::SignIn>,
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(metrics::get_metrics))
        .route("/scripts/{tail:.*}", web::to(scripts))
        // The first stand-alone SDK upgrades its WebSocket at `/scripts`.
        .route("/scripts", web::to(scripts))
        .configure(oidc::configure)
        .configure(ui::configure)
        .default_service(web::to(outside));
}

/// `Cache-Control: no-store` on every reply that sets none itself (the
/// dashboard's files do): replies carry keys (`guest/create`) and output
/// (`log/ID`), which no browser or proxy cache may keep. Wraps the whole
/// app, so refusals before routing get it too.
pub fn no_store() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new().add((
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    ))
}

async fn outside() -> Result<HttpResponse, ApiError> {
    Err(ApiError::BadServerExtension)
}

async fn scripts(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    if ws::is_upgrade(&req) {
        return ws::start(state.get_ref().clone(), &req, payload).await;
    }
    let rules = guard::admit_body(&state, &req).await?;
    let api_request = request::from_http(&req, payload, rules).await?;
    match api::dispatch(&state, &api_request).await? {
        Reply::Json(reply) => Ok(HttpResponse::Ok().json(reply)),
        Reply::Text(text) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(text)),
        Reply::Monitor(_) => Err(ApiError::UseWebsocket(req.path().to_owned()).into()),
    }
}
