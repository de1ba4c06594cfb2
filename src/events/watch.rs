//! What the server watches the log for: the account changes (key
//! rotations, removals, guest deletions) committed by any process.

use crate::ids::UserId;

/// An account event seen in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    pub seq: i64,
    pub user: UserId,
    pub kind: AccountChangeKind,
}

/// What changed about an account's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChangeKind {
    UserRemoved,
    KeyRotated,
    GuestDeleted,
}
