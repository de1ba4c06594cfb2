//! The read-model changes whose statement both databases run as it is
//! (accounts, guests, webhooks: `sqlite::apply` binds them through
//! rusqlite, `postgres::apply_single` through sqlx). Each binds
//! `projection::Change`'s fields in the order of its `$n`.

/// `Change::AddUser`: id, name, key_hash, guests, created.
pub const ADD_USER: &str =
    "INSERT INTO users (id, name, key_hash, guests, created) VALUES ($1, $2, $3, $4, $5)";

/// `Change::RotateKey`: key_hash, id.
pub const ROTATE_KEY: &str = "UPDATE users SET key_hash = $1 WHERE id = $2";

/// `Change::AddGuest`: id, user, key_hash, script, the four rights,
/// created, expires.
pub const ADD_GUEST: &str = "INSERT INTO guests (id, user_id, key_hash, script, can_run,
        can_cancel, can_status, can_monitor, created, expires)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// `Change::DeleteGuest`: id, user.
pub const DELETE_GUEST: &str = "DELETE FROM guests WHERE id = $1 AND user_id = $2";

/// `Change::AddHook`: id, user, url, triggers, script, format, secret,
/// created.
pub const ADD_HOOK: &str =
    "INSERT INTO hooks (id, user_id, url, triggers, script, format, secret, created)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// `Change::PauseHook`: paused, reason, id, user.
pub const PAUSE_HOOK: &str =
    "UPDATE hooks SET paused = $1, paused_reason = $2 WHERE id = $3 AND user_id = $4";
