//! Users, guests and API keys: key generation and hashing, and who a key
//! belongs to. Keys are shown once and only their SHA-256 is ever stored.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{GuestId, ScriptName, UserId};

/// A freshly generated API key and the hash that is stored for it.
pub struct NewKey {
    /// The plain key: shown to its owner once, never stored.
    pub plain: String,
    pub hash: String,
}

/// Generates a key with 256 bits from the OS random source.
pub fn generate_key() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let plain = hex::encode(bytes);
    let hash = hash_key(&plain);
    NewKey { plain, hash }
}

/// The stored form of a key. A fast hash is enough: keys carry 256 bits of
/// entropy, so there is nothing for a slow hash to protect against.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A user account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    /// Whether this user may manage guest keys.
    pub guests: bool,
    pub created: i64,
}

/// What a guest key may do with its one script; [`crate::rights`] reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRights {
    pub run: bool,
    pub cancel: bool,
    pub status: bool,
    pub monitor: bool,
}

/// A guest key: one script, some rights, an expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct Guest {
    pub id: GuestId,
    pub user: UserId,
    pub script: ScriptName,
    pub rights: GuestRights,
    pub created: i64,
    pub expires: i64,
}

/// Whoever a request's key belongs to.
#[derive(Debug, Clone)]
pub enum Principal {
    User(User),
    Guest(Guest),
}

impl Principal {
    /// The account whose scripts this key acts on.
    pub fn user_id(&self) -> UserId {
        match self {
            Principal::User(user) => user.id,
            Principal::Guest(guest) => guest.user,
        }
    }

    /// The guest, when the key is a guest key.
    pub fn guest(&self) -> Option<&Guest> {
        match self {
            Principal::User(_) => None,
            Principal::Guest(guest) => Some(guest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(a.plain.len(), 64, "256 bits as hex");
        assert_ne!(a.plain, b.plain);
        assert_eq!(a.hash, hash_key(&a.plain));
        assert_ne!(a.hash, a.plain);
    }
}
