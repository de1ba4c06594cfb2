//! `/ui/oidc/*`: sign-in to the dashboard through OpenID Connect, and the
//! sessions it makes as the HTTP layer sees them: the routes
//! ([`flow`]), the cookies ([`cookie`]), a request's session as a
//! [`Principal::Person`] ([`person`]), the ending of sessions, each
//! recorded as an event and closing its WebSockets ([`end`]), and what
//! a config reload (SIGHUP) changes ([`reload`]).

pub mod cookie;
pub mod end;
pub mod flow;
pub mod reload;

use std::sync::{Arc, RwLock};

use actix_web::web;

use super::error::ApiError;
use super::request::SessionCookie;
use super::AppState;
use crate::accounts::Principal;
use crate::clock;
use crate::events::postgres::guard::LeaseGuard;
use crate::oidc::{OidcClient, OidcSettings, SessionBook};

/// Everything sign-in needs, when `[oidc]` is configured.
#[derive(Clone)]
pub struct SignIn {
    /// Replaced whole by a config reload (grants and lifetimes).
    settings: Arc<RwLock<Arc<OidcSettings>>>,
    pub client: Arc<OidcClient>,
    pub book: SessionBook,
    /// Where people reach scriptd (no trailing slash).
    pub public_url: String,
    /// Served over TLS: cookies are `Secure`.
    pub secure: bool,
    /// A cluster node's name and incarnation (PostgreSQL), which its
    /// sessions' `SessionStarted` records.
    pub node: Option<Arc<LeaseGuard>>,
}

impl SignIn {
    /// Sign-in for `settings`, on a server reached at `public_url` (the
    /// configured one, else the listener's address).
    pub fn new(
        settings: Arc<OidcSettings>,
        listener_url: String,
        secure: bool,
        node: Option<Arc<LeaseGuard>>,
    ) -> Result<SignIn, crate::oidc::SignInError> {
        let public_url = settings.public_url.clone().unwrap_or(listener_url);
        let client = OidcClient::new(settings.clone(), &public_url)?;
        Ok(SignIn {
            book: SessionBook::new(settings.session_max, settings.session_idle),
            client: Arc::new(client),
            settings: Arc::new(RwLock::new(settings)),
            public_url,
            secure,
            node,
        })
    }

    /// The `[oidc]` settings in force (the latest reload's).
    pub fn settings(&self) -> Arc<OidcSettings> {
        // A poisoned lock only means a panic elsewhere; the value stands.
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `settings` in force for new sign-ins and the live sessions'
    /// lifetimes.
    fn replace_settings(&self, settings: Arc<OidcSettings>) {
        self.book
            .set_lifetimes(settings.session_max, settings.session_idle);
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// The origin (`scheme://host[:port]`) of the public URL, which a
    /// cookie-authenticated WebSocket's `Origin` must equal.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }
}

/// Registers `/ui/oidc/*`; call before the dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/oidc/login", web::get().to(flow::login))
        .route("/ui/oidc/callback", web::get().to(flow::callback))
        .route("/ui/oidc/logout", web::post().to(flow::logout))
        .route("/ui/oidc/config", web::get().to(flow::sign_in_config));
}

/// The person of a request's session cookie. The header check comes
/// first, so a cross-site request neither acts nor keeps a session alive.
pub fn person(state: &AppState, cookie: &SessionCookie) -> Result<Principal, ApiError> {
    let sign_in = state.sign_in.as_ref().ok_or(ApiError::InvalidApiKey)?;
    if !cookie.requested_with {
        return Err(ApiError::CookieWithoutHeader);
    }
    let session = sign_in
        .book
        .touch(&cookie.token, clock::now_secs())
        .ok_or(ApiError::InvalidApiKey)?;
    Ok(Principal::Person(session.person()))
}
