//! The sign-in routes: `GET /ui/oidc/login` sends the browser to the
//! provider, `GET /ui/oidc/callback` finishes the flow and starts a
//! session, `POST /ui/oidc/logout` ends it, and `GET /ui/oidc/config`
//! tells the dashboard's sign-in page what to offer. A refused sign-in
//! gets a small page that says why; no session is made.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::super::AppState;
use super::cookie::{self, SESSION, SIGN_IN};
use super::end::end_session;
use super::SignIn;
use crate::accounts::generate_key;
use crate::clock;
use crate::events::store::Append;
use crate::events::types::{Event, NewEvent, SessionGrant};
use crate::oidc::session::Session;
use crate::oidc::{grant, SessionEnd, SignInError};

/// How long the sign-in cookie lives: as long as a sign-in may take.
const SIGN_IN_MAX_AGE: i64 = 600;

fn not_configured() -> HttpResponse {
    page(
        actix_web::http::StatusCode::NOT_FOUND,
        "Sign-in through an identity provider is not configured on this server.",
    )
}

/// A minimal page for the browser (the dashboard's CSP forbids inline
/// style, and this page needs none).
fn page(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>scriptd sign-in</title>\
         </head><body><h1>Sign-in refused</h1><p>{}</p><p><a href=\"/ui/\">Back to the sign-in page</a></p></body></html>",
        escape(message)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(body)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /ui/oidc/login`.
pub async fn login(state: web::Data<AppState>) -> HttpResponse {
    let Some(sign_in) = state.sign_in.as_ref() else {
        return not_configured();
    };
    let started = match sign_in.client.begin().await {
        Ok(started) => started,
        Err(err) => {
            tracing::warn!(error = %err, "cannot start a sign-in");
            return page(actix_web::http::StatusCode::BAD_GATEWAY, &err.to_string());
        }
    };
    let browser = generate_key().plain;
    sign_in
        .book
        .add_pending(started.state, started.pending, &browser, clock::now_secs());
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, started.url))
        .insert_header((
            header::SET_COOKIE,
            cookie::set(
                SIGN_IN,
                &browser,
                "/ui/oidc",
                SIGN_IN_MAX_AGE,
                sign_in.secure,
            ),
        ))
        .finish()
}

/// The callback's query: a code and state, or the provider's error.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /ui/oidc/callback`.
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let Some(sign_in) = state.sign_in.as_ref() else {
        return not_configured();
    };
    let clear = cookie::set(SIGN_IN, "", "/ui/oidc", 0, sign_in.secure);
    match finish(&state, sign_in, &req, query.into_inner()).await {
        Ok((token, session)) => {
            tracing::info!(session = %session.id, person = %session.who.sub, account = %session.account.name, "signed in");
            let max_age = sign_in.settings().session_max.as_secs() as i64;
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/ui/"))
                .append_header((header::SET_COOKIE, clear))
                .append_header((
                    header::SET_COOKIE,
                    cookie::set(SESSION, &token, "/", max_age, sign_in.secure),
                ))
                .finish()
        }
        Err(err) => {
            tracing::info!(error = %err, "sign-in refused");
            let mut reply = page(actix_web::http::StatusCode::FORBIDDEN, &err.to_string());
            if let Ok(value) = header::HeaderValue::from_str(&clear) {
                reply.headers_mut().append(header::SET_COOKIE, value);
            }
            reply
        }
    }
}

async fn finish(
    state: &AppState,
    sign_in: &SignIn,
    req: &HttpRequest,
    query: CallbackQuery,
) -> Result<(String, Session), SignInError> {
    let now = clock::now_secs();
    // The state first, so a refused or replayed callback uses it up too.
    let state_param = query.state.ok_or(SignInError::UnknownState)?;
    let pending =
        sign_in
            .book
            .take_pending(&state_param, cookie::read(req, SIGN_IN).as_deref(), now)?;
    if let Some(error) = query.error {
        let why = query.error_description.unwrap_or_default();
        return Err(SignInError::Provider(
            format!("{error} {why}").trim().to_owned(),
        ));
    }
    let code = query
        .code
        .ok_or_else(|| SignInError::Provider("no code".to_owned()))?;
    let claims = sign_in.client.finish(pending, code).await?;
    let settings = sign_in.settings();
    let access = grant::access(&settings.grants, &claims)
        .ok_or_else(|| SignInError::NoGrant(claims.person().display))?;
    let account = state
        .readers
        .user_by_name(&access.user)
        .await
        .map_err(|_| SignInError::NoAccount(access.user.clone()))?
        .ok_or_else(|| SignInError::NoAccount(access.user.clone()))?;
    let (token, session) = sign_in.book.start(account, claims, access.grants, now);
    let started = Event::SessionStarted {
        session: session.id.clone(),
        person: session.who.clone(),
        grants: session
            .grants
            .iter()
            .map(|g| SessionGrant {
                role: g.role,
                scripts: match &g.scripts {
                    crate::accounts::ScriptFilter::All => None,
                    crate::accounts::ScriptFilter::Globs(globs) => Some(globs.clone()),
                },
            })
            .collect(),
        expires: now + settings.session_max.as_secs() as i64,
        addr: req.peer_addr().map(|a| a.ip().to_string()),
        node: sign_in.node.as_ref().map(|guard| guard.node().to_owned()),
        epoch: sign_in.node.as_ref().map(|guard| guard.epoch()),
    };
    let append = Append {
        events: vec![NewEvent::new(session.account.id, started)],
    };
    // A session whose start is not on record does not exist.
    let recorded = matches!(state.store.send(append).await, Ok(Ok(_)));
    if !recorded {
        sign_in.book.end(&token);
        return Err(SignInError::NotRecorded);
    }
    Ok((token, session))
}

/// `POST /ui/oidc/logout`: needs `X-Requested-With: scriptd` (no other
/// site may sign a person out either).
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(sign_in) = state.sign_in.as_ref() else {
        return not_configured();
    };
    if !cookie::requested_with(&req) {
        let err = super::super::error::ApiError::CookieWithoutHeader;
        return HttpResponse::Forbidden().json(err.body());
    }
    if let Some(session) = cookie::read(&req, SESSION).and_then(|t| sign_in.book.end(&t)) {
        end_session(&state.store, &state.sessions, session, SessionEnd::Logout).await;
    }
    HttpResponse::Ok()
        .insert_header((
            header::SET_COOKIE,
            cookie::set(SESSION, "", "/", 0, sign_in.secure),
        ))
        .json(crate::wire::Ack {
            success: crate::wire::Success,
        })
}

/// What the sign-in page offers.
#[derive(Debug, serde::Serialize)]
struct SignInOffer {
    /// Whether "Sign in with …" is offered.
    oidc: bool,
    /// The provider's name on the button.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Whether the API-key form is hidden (`oidc.only`).
    only: bool,
}

/// `GET /ui/oidc/config`.
pub async fn sign_in_config(state: web::Data<AppState>) -> HttpResponse {
    let offer = match state.sign_in.as_ref() {
        Some(sign_in) => {
            let settings = sign_in.settings();
            SignInOffer {
                oidc: true,
                name: Some(settings.name.clone()),
                only: settings.only,
            }
        }
        None => SignInOffer {
            oidc: false,
            name: None,
            only: false,
        },
    };
    HttpResponse::Ok().json(offer)
}
