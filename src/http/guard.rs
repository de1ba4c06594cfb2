//! What a request must pass before the server spends anything on it: a
//! connection over a limit is refused, the key in the header or query
//! string is checked before the body is read, a body is read without a
//! key only when it may carry one (a form), and then only a little of it,
//! and every body is read against an idle timeout and a deadline.

use std::time::Duration;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use tokio::time::Instant;

use super::conn_limit::Refused;
use super::connection::{ConnectionKey, KeyToCheck};
use super::error::ApiError;
use super::AppState;
use crate::clock;

/// How a request's body may be read.
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    pub cap: usize,
    /// Longest wait for the next piece of the body.
    pub idle: Duration,
    /// When the whole body must have arrived.
    pub deadline: Instant,
}

/// The key this request presents before its body: the `X-APIKey` header,
/// else `apikey` in the query string.
pub fn request_key(req: &HttpRequest) -> Option<String> {
    if let Some(key) = req.headers().get("X-APIKey") {
        return key.to_str().ok().map(str::to_owned);
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(name, _)| name == "apikey")
        .map(|(_, key)| key)
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Decides, from the head alone, whether the body may be read and how
/// much of it: a valid key allows the full cap; no key allows a small
/// form (it may carry `apikey`); anything else is refused unread.
pub async fn admit_body(state: &AppState, req: &HttpRequest) -> Result<BodyRules, ApiError> {
    if !req.path().starts_with("/scripts/") {
        return Err(ApiError::BadServerExtension);
    }
    let limits = &state.config.limits;
    // The key presented in the head, else the one this keep-alive
    // connection presented earlier (the PHP SDK sends it only once).
    let presented = request_key(req);
    let connection = super::connection::of(req);
    let key = ConnectionKey::resolve(connection.as_ref(), presented.as_deref());
    let cookie = super::request::session_cookie(req)
        .filter(|_| presented.is_none() && state.sign_in.is_some());
    let valid = match (&key, cookie) {
        // Without its header, a cookie is refused as such (a cross-site
        // request); a stale one is no key, as a missing key is.
        (_, Some(cookie)) => match super::oidc::person(state, &cookie) {
            Ok(_) => true,
            Err(ApiError::CookieWithoutHeader) => return Err(ApiError::CookieWithoutHeader),
            Err(_) => false,
        },
        (Some(key), None) => state
            .readers
            .principal(key.hash(), clock::now_secs())
            .await?
            .is_some(),
        (None, None) => false,
    };
    let cap = if valid {
        state.config.body_cap_bytes
    } else if is_form(req) && !matches!(key, Some(KeyToCheck::Presented(_))) {
        limits.unauthenticated_body_cap
    } else {
        return Err(ApiError::InvalidApiKey);
    };
    Ok(BodyRules {
        cap,
        idle: limits.body_idle_timeout,
        deadline: Instant::now() + limits.request_deadline,
    })
}

/// Reads a body within `rules`: over the cap is 413, a stall or a missed
/// deadline is 408.
pub async fn read_body(
    mut payload: web::Payload,
    rules: BodyRules,
) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    loop {
        let wait = (Instant::now() + rules.idle).min(rules.deadline);
        let next = tokio::time::timeout_at(wait, payload.next())
            .await
            .map_err(|_| ApiError::RequestTimeout)?;
        let Some(chunk) = next else {
            return Ok(body);
        };
        let chunk = chunk.map_err(|_| ApiError::InvalidData("unreadable body"))?;
        if body.len() + chunk.len() > rules.cap {
            return Err(ApiError::RequestTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
}

/// The longest request target (path and query) served.
pub const MAX_URI_BYTES: usize = 32 * 1024;

/// The answer for a request refused before any handler runs (`None`:
/// serve it): a connection over the limits, or an overlong URL. The
/// connection closes after the answer.
pub fn refusal(req: &ServiceRequest) -> Option<HttpResponse> {
    let err = match req.conn_data::<Refused>() {
        Some(refused) => ApiError::TooManyConnections(refused.0),
        None if uri_bytes(req) > MAX_URI_BYTES => ApiError::UriTooLong,
        None => return None,
    };
    Some(
        HttpResponse::build(err.status_code())
            .force_close()
            .json(err.body()),
    )
}

fn uri_bytes(req: &ServiceRequest) -> usize {
    req.uri().path().len() + req.uri().query().map_or(0, str::len)
}

/// `refusal` as a ready service response.
pub fn refuse(req: ServiceRequest) -> Result<ServiceResponse, ServiceRequest> {
    match refusal(&req) {
        Some(response) => Ok(req.into_response(response)),
        None => Err(req),
    }
}
