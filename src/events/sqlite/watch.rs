//! Reads for guarding the server on SQLite: how much a user holds in its
//! queues, and the account changes committed by any process, found by
//! watching the log's end cheaply.

use rusqlite::params;

use super::lookup::{all, Lookup};
use crate::events::error::StoreError;
use crate::events::row::{account, RowGet};
use crate::events::watch::AccountChange;
use crate::ids::UserId;

impl Lookup {
    /// The number of a user's queued runs and the bytes they hold (their
    /// recorded request and stdin).
    pub fn queued_load(&self, user: UserId) -> Result<(u64, u64), StoreError> {
        self.with(|conn| {
            let (runs, info): (i64, i64) = conn
                .prepare_cached(
                    "SELECT count(*), coalesce(sum(octet_length(info)), 0) FROM runs
                     WHERE user_id = ? AND state = 'queued'",
                )?
                .query_row(params![user.0], |row| Ok((row.get(0)?, row.get(1)?)))?;
            if runs == 0 {
                return Ok((0, 0));
            }
            let stdin: i64 = conn
                .prepare_cached(
                    "SELECT coalesce(sum(octet_length(s.data)), 0) FROM run_stdin s
                     JOIN runs r ON r.id = s.run_id
                     WHERE r.user_id = ? AND r.state = 'queued'",
                )?
                .query_row(params![user.0], |row| row.get(0))?;
            Ok((runs.max(0) as u64, (info + stdin).max(0) as u64))
        })
    }

    /// The sequence number of the last event committed (by any process).
    pub fn last_seq(&self) -> Result<i64, StoreError> {
        self.with(|conn| {
            Ok(conn
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")?
                .query_row([], |row| row.get(0))?)
        })
    }

    /// Key rotations, user removals and guest deletions after `seq`.
    pub fn account_changes_after(&self, seq: i64) -> Result<Vec<AccountChange>, StoreError> {
        self.with(|conn| {
            let sql = account::ACCOUNT_CHANGES_AFTER;
            all(conn, sql, params![seq], |row| account::account_change(row))
        })
    }

    /// Users that no longer exist but still have runs not finished.
    pub fn removed_users_with_live_runs(&self) -> Result<Vec<UserId>, StoreError> {
        self.with(|conn| {
            let sql = account::REMOVED_USERS_WITH_LIVE_RUNS;
            all(conn, sql, [], |row| Ok(UserId(row.int(0)?)))
        })
    }
}
