//! Point reads on PostgreSQL: the key check every request makes, one
//! run's row, users and guests, the quota count and the account changes
//! the key watch looks for. Each takes a pooled connection (never the
//! writer's), so none waits for a commit.

use sqlx::postgres::PgRow;
use sqlx::Row;

use super::Readers;
use crate::accounts::{Guest, Principal, User};
use crate::events::error::StoreError;
use crate::events::query::{RowState, RunRow};
use crate::events::types::GuestRights;
use crate::events::watch::{AccountChange, AccountChangeKind};
use crate::ids::{GuestId, RunId, ScriptName, UserId};

const USER_COLUMNS: &str = "id, name, guests, created";
const GUEST_COLUMNS: &str = "g.id, g.user_id, g.script, g.can_run, g.can_cancel, g.can_status, \
                             g.can_monitor, g.created, g.expires";

pub(super) fn pg(err: sqlx::Error) -> StoreError {
    StoreError::from_pg(err, "")
}

fn user_from_row(row: &PgRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: UserId(row.try_get(0)?),
        name: row.try_get(1)?,
        guests: row.try_get(2)?,
        created: row.try_get(3)?,
    })
}

/// `None` for a row whose ids do not parse (never written by scriptd).
fn guest_from_row(row: &PgRow) -> Result<Option<Guest>, sqlx::Error> {
    let id: &str = row.try_get(0)?;
    let script: &str = row.try_get(2)?;
    let (Some(id), Some(script)) = (GuestId::parse(id), ScriptName::parse(script)) else {
        return Ok(None);
    };
    Ok(Some(Guest {
        id,
        user: UserId(row.try_get(1)?),
        script,
        rights: GuestRights {
            run: row.try_get(3)?,
            cancel: row.try_get(4)?,
            status: row.try_get(5)?,
            monitor: row.try_get(6)?,
        },
        created: row.try_get(7)?,
        expires: row.try_get(8)?,
    }))
}

impl Readers {
    /// Who the key with this hash belongs to, if it is valid at `now`.
    pub async fn principal(
        &self,
        key_hash: &str,
        now: i64,
    ) -> Result<Option<Principal>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE key_hash = $1");
        let user = sqlx::query(&sql)
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        if let Some(row) = user {
            return Ok(Some(Principal::User(user_from_row(&row).map_err(pg)?)));
        }
        let sql = format!(
            "SELECT {GUEST_COLUMNS} FROM guests g JOIN users u ON u.id = g.user_id
             WHERE g.key_hash = $1 AND g.expires > $2"
        );
        let guest = sqlx::query(&sql)
            .bind(key_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        Ok(match guest {
            Some(row) => guest_from_row(&row).map_err(pg)?.map(Principal::Guest),
            None => None,
        })
    }

    /// One run of a user from the read model.
    pub async fn run(&self, user: UserId, run: RunId) -> Result<Option<RunRow>, StoreError> {
        let row = sqlx::query(
            // `info` holds the RunQueued event until the run is done, and
            // its record after: only the record is read.
            "SELECT name, state, forgotten, CASE WHEN state = 'done' THEN info END
             FROM runs WHERE id = $1 AND user_id = $2",
        )
        .bind(run.to_string())
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(pg)?;
        let Some(row) = row else { return Ok(None) };
        let name: &str = row.try_get(0).map_err(pg)?;
        let Some(name) = ScriptName::parse(name) else {
            return Ok(None);
        };
        let state = match row.try_get::<&str, _>(1).map_err(pg)? {
            "queued" => RowState::Queued,
            "running" => RowState::Running,
            _ => RowState::Done,
        };
        Ok(Some(RunRow {
            id: run,
            name,
            state,
            forgotten: row.try_get(2).map_err(pg)?,
            record: row
                .try_get::<Option<&str>, _>(3)
                .map_err(pg)?
                .map(serde_json::from_str)
                .transpose()?,
        }))
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
        let rows = sqlx::query(
            "SELECT id, name FROM runs WHERE id >= $1 AND id < $2 AND user_id = $3
             AND NOT forgotten ORDER BY id LIMIT $4",
        )
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
        let rows = sqlx::query(
            "SELECT id, name FROM runs WHERE user_id = $1 AND NOT forgotten
             AND id LIKE $2 ORDER BY id LIMIT $3",
        )
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
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        row.map(|row| user_from_row(&row)).transpose().map_err(pg)
    }

    /// Every user, by id.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(pg)?;
        rows.iter()
            .map(user_from_row)
            .collect::<Result<_, _>>()
            .map_err(pg)
    }

    /// The id the next new user gets; ids are never reused.
    pub async fn next_user_id(&self) -> Result<UserId, StoreError> {
        let max: Option<i64> =
            sqlx::query_scalar("SELECT MAX(user_id) FROM events WHERE kind = 'UserCreated'")
                .fetch_one(&self.pool)
                .await
                .map_err(pg)?;
        Ok(UserId(max.unwrap_or(0) + 1))
    }

    /// A user's guests, newest first (expired ones included until deleted).
    pub async fn guests(&self, user: UserId) -> Result<Vec<Guest>, StoreError> {
        let sql = format!(
            "SELECT {GUEST_COLUMNS} FROM guests g WHERE g.user_id = $1
             ORDER BY g.created DESC, g.id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(user.0)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        let mut out = Vec::new();
        for row in &rows {
            out.extend(guest_from_row(row).map_err(pg)?);
        }
        Ok(out)
    }

    /// One guest of a user.
    pub async fn guest(&self, user: UserId, guest: GuestId) -> Result<Option<Guest>, StoreError> {
        let sql =
            format!("SELECT {GUEST_COLUMNS} FROM guests g WHERE g.user_id = $1 AND g.id = $2");
        let row = sqlx::query(&sql)
            .bind(user.0)
            .bind(guest.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)?;
        Ok(match row {
            Some(row) => guest_from_row(&row).map_err(pg)?,
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
        let rows = sqlx::query(
            "SELECT seq, user_id, kind FROM events WHERE seq > $1
             AND kind IN ('UserRemoved', 'ApiKeyRotated', 'GuestDeleted') ORDER BY seq",
        )
        .bind(seq)
        .fetch_all(&self.pool)
        .await
        .map_err(pg)?;
        let mut out = Vec::new();
        for row in rows {
            let kind = match row.try_get::<&str, _>(2).map_err(pg)? {
                "UserRemoved" => AccountChangeKind::UserRemoved,
                "ApiKeyRotated" => AccountChangeKind::KeyRotated,
                _ => AccountChangeKind::GuestDeleted,
            };
            out.push(AccountChange {
                seq: row.try_get(0).map_err(pg)?,
                user: UserId(row.try_get(1).map_err(pg)?),
                kind,
            });
        }
        Ok(out)
    }

    /// Users that no longer exist but still have runs not finished.
    pub async fn removed_users_with_live_runs(&self) -> Result<Vec<UserId>, StoreError> {
        let users: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT user_id FROM runs WHERE state <> 'done'
             AND user_id NOT IN (SELECT id FROM users)",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(pg)?;
        Ok(users.into_iter().map(UserId).collect())
    }
}

/// The (id, name) rows of a runs query, skipping what does not parse.
fn run_ids(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<(RunId, ScriptName)>, StoreError> {
    let mut runs = Vec::new();
    for row in rows {
        let (id, name): (&str, &str) = (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
        if let (Some(id), Some(name)) = (RunId::parse(id), ScriptName::parse(name)) {
            runs.push((id, name));
        }
    }
    Ok(runs)
}
