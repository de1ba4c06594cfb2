//! The open WebSocket sessions by key: caps how many one key may hold, and
//! lets the key watch (`http::revocation`) close every session whose key
//! stopped working. A plain map under a lock: entries change only when a
//! session opens or closes, and no lock is held across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix::prelude::*;

use crate::ids::UserId;

/// Tells a session its key no longer works; it closes with code 1008.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Revoke {
    pub reason: &'static str,
}

struct Entry {
    key_hash: String,
    user: UserId,
    /// A guest key's expiry.
    expires: Option<i64>,
    closer: Option<Recipient<Revoke>>,
}

/// What the key watch needs to re-check one session.
#[derive(Clone)]
pub struct SessionKey {
    pub id: u64,
    pub key_hash: String,
    pub guest: bool,
    pub closer: Recipient<Revoke>,
}

/// Every open WebSocket session's key.
#[derive(Clone, Default)]
pub struct SessionRegistry {
    inner: Arc<Mutex<HashMap<u64, Entry>>>,
}

/// A session's place in the registry, given back when dropped.
pub struct SessionTicket {
    registry: SessionRegistry,
    id: u64,
}

impl SessionRegistry {
    fn map(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        // A poisoned lock only means a panic elsewhere; the map stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers session `id` unless its key already holds `max` sessions.
    pub fn register(
        &self,
        id: u64,
        key_hash: String,
        user: UserId,
        expires: Option<i64>,
        max: usize,
    ) -> Option<SessionTicket> {
        let mut map = self.map();
        if map.values().filter(|e| e.key_hash == key_hash).count() >= max {
            return None;
        }
        map.insert(
            id,
            Entry {
                key_hash,
                user,
                expires,
                closer: None,
            },
        );
        Some(SessionTicket {
            registry: self.clone(),
            id,
        })
    }

    /// Gives the registry the way to close a started session.
    pub fn attach(&self, id: u64, closer: Recipient<Revoke>) {
        if let Some(entry) = self.map().get_mut(&id) {
            entry.closer = Some(closer);
        }
    }

    /// The sessions of `user`.
    pub fn of_user(&self, user: UserId) -> Vec<SessionKey> {
        self.select(|e| e.user == user)
    }

    /// The sessions registered under this key (a person's session:
    /// `session:<id>`).
    pub fn with_key(&self, key_hash: &str) -> Vec<SessionKey> {
        self.select(|e| e.key_hash == key_hash)
    }

    /// The guest sessions whose key expired at `now`.
    pub fn expired(&self, now: i64) -> Vec<SessionKey> {
        self.select(|e| e.expires.is_some_and(|x| x <= now))
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn select(&self, keep: impl Fn(&Entry) -> bool) -> Vec<SessionKey> {
        self.map()
            .iter()
            .filter(|(_, e)| keep(e))
            .filter_map(|(id, e)| {
                Some(SessionKey {
                    id: *id,
                    key_hash: e.key_hash.clone(),
                    guest: e.expires.is_some(),
                    closer: e.closer.clone()?,
                })
            })
            .collect()
    }
}

impl Drop for SessionTicket {
    fn drop(&mut self) {
        self.registry.map().remove(&self.id);
    }
}
