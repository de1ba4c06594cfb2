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

/// The connection key of the connection that carried `req`.
pub fn of(req: &HttpRequest) -> Option<ConnectionKey> {
    req.conn_data::<ConnectionKey>().cloned()
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
