//! The key a keep-alive connection presented earlier. The original PHP SDK
//! sends `X-APIKey` only on the first request of a connection and none on
//! the later ones, so a request without a key is authorised with the key
//! its own connection last presented, looked up again now: a rotated,
//! removed, deleted or expired key is refused at once. The key is kept per
//! connection (in the connection's extensions), never shared between
//! connections, and only as its hash.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::dev::Extensions;
use actix_web::HttpRequest;

use crate::accounts::hash_key;

/// One connection's remembered key hash; clones share it. A connection's
/// requests run one after the other, so the lock is never contended; it
/// only keeps [`ApiRequest`](super::request::ApiRequest) `Send`.
#[derive(Clone, Default)]
pub struct ConnectionKey(Arc<Mutex<Option<String>>>);

impl std::fmt::Debug for ConnectionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let remembered = self.slot().is_some();
        f.debug_struct("ConnectionKey")
            .field("remembered", &remembered)
            .finish()
    }
}

/// Which key hash a request is checked with, and whether it presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyToCheck {
    /// The request carried this key itself (header, query or form field).
    Presented(String),
    /// No key on the request: the one its connection presented earlier.
    Remembered(String),
}

impl KeyToCheck {
    /// The stored form to look up.
    pub fn hash(&self) -> &str {
        match self {
            KeyToCheck::Presented(hash) | KeyToCheck::Remembered(hash) => hash,
        }
    }
}

impl ConnectionKey {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        // A panic while holding it cannot leave a half-written Option.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The request's own key, else the connection's remembered one.
    pub fn resolve(
        connection: Option<&ConnectionKey>,
        presented: Option<&str>,
    ) -> Option<KeyToCheck> {
        match presented {
            Some(key) => Some(KeyToCheck::Presented(hash_key(key))),
            None => connection
                .and_then(|c| c.slot().clone())
                .map(KeyToCheck::Remembered),
        }
    }

    /// Records the outcome of the check: a valid presented key becomes the
    /// connection's key; a remembered key found invalid is forgotten.
    pub fn settle(connection: Option<&ConnectionKey>, key: &KeyToCheck, valid: bool) {
        let Some(connection) = connection else {
            return;
        };
        match (key, valid) {
            (KeyToCheck::Presented(hash), true) => *connection.slot() = Some(hash.clone()),
            (KeyToCheck::Remembered(_), false) => *connection.slot() = None,
            _ => {}
        }
    }
}

/// The connection key of the connection that carried `req`, unless the
/// request comes from another site's page: a browser (or a pooling proxy)
/// may carry such a request over a connection a keyed client opened, so
/// it must bring its own key. The PHP SDK sends neither header.
pub fn of(req: &HttpRequest) -> Option<ConnectionKey> {
    if from_another_site(req.headers()) {
        return None;
    }
    req.conn_data::<ConnectionKey>().cloned()
}

/// `Sec-Fetch-Site` other than same-origin or none (typed by a person),
/// or an `Origin` whose host and port are not the `Host` the request went
/// to (`null` included).
fn from_another_site(headers: &actix_web::http::header::HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    if let Some(site) = text("sec-fetch-site") {
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return true;
        }
    }
    match text("origin") {
        None => false,
        Some(origin) => {
            let authority = origin
                .split_once("://")
                .map(|(_, rest)| rest.trim_end_matches('/'));
            match (authority, text("host")) {
                (Some(authority), Some(host)) => !authority.eq_ignore_ascii_case(host),
                _ => true,
            }
        }
    }
}

/// `HttpServer::on_connect` hook: a fresh, empty key slot per connection,
/// next to the socket note the WebSocket session needs.
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    super::ws::note_socket(conn, ext);
    ext.insert(ConnectionKey::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn only_same_origin_and_headerless_requests_may_borrow_the_connections_key() {
        for (case, pairs, foreign) in [
            ("the PHP SDK: no Origin", vec![("host", "h:1")], false),
            (
                "same origin",
                vec![("host", "h:1"), ("origin", "http://h:1")],
                false,
            ),
            (
                "fetch metadata same-origin",
                vec![("sec-fetch-site", "same-origin")],
                false,
            ),
            ("typed by a person", vec![("sec-fetch-site", "none")], false),
            (
                "another site",
                vec![("host", "h:1"), ("origin", "https://evil.example")],
                true,
            ),
            (
                "another port",
                vec![("host", "h:1"), ("origin", "http://h:2")],
                true,
            ),
            (
                "an opaque origin",
                vec![("host", "h:1"), ("origin", "null")],
                true,
            ),
            (
                "fetch metadata cross-site",
                vec![("sec-fetch-site", "cross-site")],
                true,
            ),
            (
                "fetch metadata same-site",
                vec![("sec-fetch-site", "same-site")],
                true,
            ),
        ] {
            assert_eq!(from_another_site(&headers(&pairs)), foreign, "{case}");
        }
    }

    #[test]
    fn a_presented_key_wins_and_is_remembered_only_when_valid() {
        let conn = ConnectionKey::default();
        assert_eq!(
            ConnectionKey::resolve(Some(&conn), None),
            None,
            "nothing yet"
        );

        let bad = ConnectionKey::resolve(Some(&conn), Some("bad")).unwrap();
        ConnectionKey::settle(Some(&conn), &bad, false);
        assert_eq!(
            ConnectionKey::resolve(Some(&conn), None),
            None,
            "an invalid key is not kept"
        );

        let good = ConnectionKey::resolve(Some(&conn), Some("good")).unwrap();
        ConnectionKey::settle(Some(&conn), &good, true);
        assert_eq!(
            ConnectionKey::resolve(Some(&conn), None),
            Some(KeyToCheck::Remembered(hash_key("good")))
        );

        let other = ConnectionKey::default();
        assert_eq!(
            ConnectionKey::resolve(Some(&other), None),
            None,
            "never shared"
        );

        let again = ConnectionKey::resolve(Some(&conn), None).unwrap();
        ConnectionKey::settle(Some(&conn), &again, false);
        assert_eq!(
            ConnectionKey::resolve(Some(&conn), None),
            None,
            "a dead key is forgotten"
        );
    }
}
