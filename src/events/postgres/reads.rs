//! Point reads on PostgreSQL: the key check every request makes, one
//! run's row, users and guests, the quota count and the account changes
//! the key watch looks for. Each takes a pooled connection (never the
//! writer's), so none waits for a commit. The statements and their rows
//! are shared with SQLite (`events::row`) where the SQL is the same.

use sqlx::postgres::PgRow;
use sqlx::Row;

use super::Readers;
use crate::accounts::{Guest, Principal, User};
use crate::events::error::StoreError;
use crate::events::query::RunRow;
use crate::events::row::{account, run, POSTGRES};
use crate::events::watch::AccountChange;
use crate::ids::{GuestId, RunId, ScriptName, UserId};

pub(super) fn pg(err: sqlx::Error) -> StoreError {
    StoreError::from_pg(err, "")
}

impl Readers {
    /// Who the key with this hash belongs to, if it is valid at `now`.
    pub async fn principal(
        &self,
        key_hash: &str,
        now: i64,
    ) -> Result<Option<Principal>, StoreError> {
        let user = sqlx::query(account::USER_BY_KEY)
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        if let Some(row) = user {
            return Ok(Some(Principal::User(account::user(&row)?)));
        }
        let guest = sqlx::query(account::GUEST_BY_KEY)
            .bind(key_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        Ok(match guest {
            Some(row) => account::guest(&row)?.map(Principal::Guest),
            None => None,
        })
    }

    /// One run of a user from the read model.
    pub async fn run(&self, user: UserId, id: RunId) -> Result<Option<RunRow>, StoreError> {
        let row = sqlx::query(run::run_sql(POSTGRES.record))
            .bind(id.to_string())
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        match row {
            Some(row) => run::run(&row, id, POSTGRES.record),
            None => Ok(None),
        }
    }

    /// A user's not forgotten runs whose ids start with `prefix`.
    pub async fn runs_with_prefix(
        &self,
        user: UserId,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<(RunId, ScriptName)>, StoreError> {
        // A range on the primary key (byte order): every id with the
        // prefix sorts between it and the prefix followed by '~'.
        let rows = sqlx::query(&run::prefix_sql(POSTGRES))
            .bind(prefix)
            .bind(format!("{prefix}~"))
            .bind(user.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        run_ids(&rows)
    }

    /// A user's not forgotten runs whose ids end with `suffix` (lowercase
    /// hex and '-', so no LIKE wildcard); a scan of the user's runs.
    pub async fn runs_with_suffix(
        &self,
        user: UserId,
        suffix: &str,
        limit: u32,
    ) -> Result<Vec<(RunId, ScriptName)>, StoreError> {
        let rows = sqlx::query(&run::suffix_sql(POSTGRES))
            .bind(user.0)
            .bind(format!("%{suffix}"))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        run_ids(&rows)
    }

    /// A user by name.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(account::USER_BY_NAME)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        row.map(|row| account::user(&row)).transpose()
    }

    /// Every user, by id.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(account::USERS)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        rows.iter().map(account::user).collect()
    }

    /// The id the next new user gets; ids are never reused.
    pub async fn next_user_id(&self) -> Result<UserId, StoreError> {
        let max: Option<i64> = sqlx::query_scalar(account::MAX_USER_ID)
            .fetch_one(&self.pool)
            .await
            .map_err(pg)?;
        Ok(UserId(max.unwrap_or(0) + 1))
    }

    /// A user's guests, newest first (expired ones included until deleted).
    pub async fn guests(&self, user: UserId) -> Result<Vec<Guest>, StoreError> {
        let rows = sqlx::query(account::GUESTS_OF)
            .bind(user.0)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        let mut out = Vec::new();
        for row in &rows {
            out.extend(account::guest(row)?);
        }
        Ok(out)
    }

    /// One guest of a user.
    pub async fn guest(&self, user: UserId, guest: GuestId) -> Result<Option<Guest>, StoreError> {
        let row = sqlx::query(account::GUEST)
            .bind(user.0)
            .bind(guest.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        Ok(match row {
            Some(row) => account::guest(&row)?,
            None => None,
        })
    }

    /// The number of a user's queued runs and the bytes they hold.
    pub async fn queued_load(&self, user: UserId) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "SELECT count(*), coalesce(sum(octet_length(r.info)), 0)::int8,
                    coalesce(sum(octet_length(s.data)), 0)::int8
             FROM runs r LEFT JOIN run_stdin s ON s.run_id = r.id
             WHERE r.user_id = $1 AND r.state = 'queued'",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await
        .map_err(pg)?;
        let (runs, info, stdin): (i64, i64, i64) = (
            row.try_get(0).map_err(pg)?,
            row.try_get(1).map_err(pg)?,
            row.try_get(2).map_err(pg)?,
        );
        Ok((runs.max(0) as u64, (info + stdin).max(0) as u64))
    }

    /// The sequence number of the last event committed (by any node).
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT coalesce(max(seq), 0)::int8 FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(pg)
    }

    /// Key rotations, user removals and guest deletions after `seq`.
    pub async fn account_changes_after(&self, seq: i64) -> Result<Vec<AccountChange>, StoreError> {
        let rows = sqlx::query(account::ACCOUNT_CHANGES_AFTER)
            .bind(seq)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        rows.iter().map(account::account_change).collect()
    }

    /// Users that no longer exist but still have runs not finished.
    pub async fn removed_users_with_live_runs(&self) -> Result<Vec<UserId>, StoreError> {
        let users: Vec<i64> = sqlx::query_scalar(account::REMOVED_USERS_WITH_LIVE_RUNS)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        Ok(users.into_iter().map(UserId).collect())
    }
}

/// The (id, name) rows of a runs query, skipping what does not parse.
fn run_ids(rows: &[PgRow]) -> Result<Vec<(RunId, ScriptName)>, StoreError> {
    let mut runs = Vec::new();
    for row in rows {
        runs.extend(run::run_id(row)?);
    }
    Ok(runs)
}
