//! Users, guests and the account changes of the log: the statements both
//! databases run as they are, and one mapping of their rows.

use super::RowGet;
use crate::accounts::{Guest, User};
use crate::events::error::StoreError;
use crate::events::types::GuestRights;
use crate::events::watch::{AccountChange, AccountChangeKind};
use crate::ids::{GuestId, ScriptName, UserId};

/// The columns [`user`] reads, in its order (a macro, so that the
/// statements are constants: the key check runs per request).
macro_rules! user_columns {
    () => {
        "id, name, guests, created"
    };
}

/// The columns [`guest`] reads, in its order (`g` is `guests`).
macro_rules! guest_columns {
    () => {
        "g.id, g.user_id, g.script, g.can_run, g.can_cancel, g.can_status, \
         g.can_monitor, g.created, g.expires"
    };
}

/// The user whose key hash is `$1`.
pub const USER_BY_KEY: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE key_hash = $1"
);

/// The guest whose key hash is `$1`, valid after `$2`, of a user that
/// still exists.
pub const GUEST_BY_KEY: &str = concat!(
    "SELECT ",
    guest_columns!(),
    " FROM guests g JOIN users u ON u.id = g.user_id
     WHERE g.key_hash = $1 AND g.expires > $2"
);

/// The user named `$1`.
pub const USER_BY_NAME: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE name = $1");

/// Every user, by id.
pub const USERS: &str = concat!("SELECT ", user_columns!(), " FROM users ORDER BY id");

/// The guests of user `$1`, newest first.
pub const GUESTS_OF: &str = concat!(
    "SELECT ",
    guest_columns!(),
    " FROM guests g WHERE g.user_id = $1 ORDER BY g.created DESC, g.id DESC"
);

/// Guest `$2` of user `$1`.
pub const GUEST: &str = concat!(
    "SELECT ",
    guest_columns!(),
    " FROM guests g WHERE g.user_id = $1 AND g.id = $2"
);

/// The highest user id ever created (ids are never reused).
pub const MAX_USER_ID: &str = "SELECT MAX(user_id) FROM events WHERE kind = 'UserCreated'";

/// Key rotations, user removals and guest deletions after seq `$1`; rows
/// for [`account_change`].
pub const ACCOUNT_CHANGES_AFTER: &str = "SELECT seq, user_id, kind FROM events WHERE seq > $1
     AND kind IN ('UserRemoved', 'ApiKeyRotated', 'GuestDeleted') ORDER BY seq";

/// Users that no longer exist but still have runs not finished.
pub const REMOVED_USERS_WITH_LIVE_RUNS: &str = "SELECT DISTINCT user_id FROM runs
     WHERE state <> 'done' AND user_id NOT IN (SELECT id FROM users)";

/// A row of `user_columns!()`.
pub fn user(row: &impl RowGet) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(row.int(0)?),
        name: row.text(1)?.to_owned(),
        guests: row.flag(2)?,
        created: row.int(3)?,
    })
}

/// A row of `guest_columns!()`; `None` for a row whose ids do not parse
/// (never written by scriptd).
pub fn guest(row: &impl RowGet) -> Result<Option<Guest>, StoreError> {
    let (Some(id), Some(script)) = (
        GuestId::parse(row.text(0)?),
        ScriptName::parse(row.text(2)?),
    ) else {
        return Ok(None);
    };
    Ok(Some(Guest {
        id,
        user: UserId(row.int(1)?),
        script,
        rights: GuestRights {
            run: row.flag(3)?,
            cancel: row.flag(4)?,
            status: row.flag(5)?,
            monitor: row.flag(6)?,
        },
        created: row.int(7)?,
        expires: row.int(8)?,
    }))
}

/// A row of [`ACCOUNT_CHANGES_AFTER`].
pub fn account_change(row: &impl RowGet) -> Result<AccountChange, StoreError> {
    let kind = match row.text(2)? {
        "UserRemoved" => AccountChangeKind::UserRemoved,
        "ApiKeyRotated" => AccountChangeKind::KeyRotated,
        _ => AccountChangeKind::GuestDeleted,
    };
    Ok(AccountChange {
        seq: row.int(0)?,
        user: UserId(row.int(1)?),
        kind,
    })
}
