//! The two cookies of sign-in, read and written by hand (actix-web's
//! cookie feature is off): `scriptd_session`, the session, and
//! `scriptd_signin`, which ties a callback to the browser that started
//! the sign-in. Both HttpOnly, SameSite=Lax (the provider's redirect back
//! is a top-level GET, which Lax lets through), Secure over TLS.

use actix_web::http::header;
use actix_web::HttpRequest;

/// The session cookie's name.
pub const SESSION: &str = "scriptd_session";
/// The sign-in cookie's name.
pub const SIGN_IN: &str = "scriptd_signin";
/// The header that cookie-authenticated API calls must carry (a page of
/// another site cannot add it without a CORS preflight, which is refused).
pub const REQUESTED_WITH: &str = "X-Requested-With";
/// Its one accepted value.
pub const REQUESTED_WITH_VALUE: &str = "scriptd";

/// The value of cookie `name` in the request, if any.
pub fn read(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
}

/// Whether the request carries `X-Requested-With: scriptd`.
pub fn requested_with(req: &HttpRequest) -> bool {
    req.headers()
        .get(REQUESTED_WITH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == REQUESTED_WITH_VALUE)
}

/// A `Set-Cookie` value; `max_age` 0 removes the cookie.
pub fn set(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn cookies_are_found_among_others() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; scriptd_session=abc; b=2"))
            .to_http_request();
        assert_eq!(read(&req, SESSION).as_deref(), Some("abc"));
        assert_eq!(read(&req, SIGN_IN), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_over_tls() {
        let cookie = set(SESSION, "t", "/", 60, true);
        for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/;"] {
            assert!(cookie.contains(part), "{cookie} has {part}");
        }
        assert!(!set(SESSION, "t", "/", 60, false).contains("Secure"));
    }
}
