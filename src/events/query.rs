//! Read queries over the event log and its read model. Reads go through the
//! reader pool and never block the writer.

use sqlx::{Row, SqlitePool};

use super::error::StoreError;
use super::types::{Event, GuestRights, StoredEvent};
use crate::accounts::{Guest, User};
use crate::ids::{GuestId, RunId, ScriptName, UserId};

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(row.try_get("id")?),
        name: row.try_get("name")?,
        guests: row.try_get("guests")?,
        created: row.try_get("created")?,
    })
}

fn guest_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Option<Guest>, StoreError> {
    let id: String = row.try_get("id")?;
    let script: String = row.try_get("script")?;
    let (Some(id), Some(script)) = (GuestId::parse(&id), ScriptName::parse(&script)) else {
        return Ok(None);
    };
    Ok(Some(Guest {
        id,
        user: UserId(row.try_get("user_id")?),
        script,
        rights: GuestRights {
            run: row.try_get("can_run")?,
            cancel: row.try_get("can_cancel")?,
            status: row.try_get("can_status")?,
            monitor: row.try_get("can_monitor")?,
        },
        created: row.try_get("created")?,
        expires: row.try_get("expires")?,
    }))
}

const GUEST_COLUMNS: &str = "g.id, g.user_id, g.script, g.can_run, g.can_cancel, g.can_status,
    g.can_monitor, g.created, g.expires";

/// A user by name.
pub async fn user_by_name(pool: &SqlitePool, name: &str) -> Result<Option<User>, StoreError> {
    let row = sqlx::query("SELECT id, name, guests, created FROM users WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Every user, by id.
pub async fn users(pool: &SqlitePool) -> Result<Vec<User>, StoreError> {
    let rows = sqlx::query("SELECT id, name, guests, created FROM users ORDER BY id")
        .fetch_all(pool)
        .await?;
    rows.iter().map(user_from_row).collect()
}

/// The id the next new user gets. Ids are never reused, so the folder of a
/// removed user cannot be inherited by a new one.
pub async fn next_user_id(pool: &SqlitePool) -> Result<UserId, StoreError> {
    let max: Option<i64> =
        sqlx::query_scalar("SELECT MAX(user_id) FROM events WHERE kind = 'UserCreated'")
            .fetch_one(pool)
            .await?;
    Ok(UserId(max.unwrap_or(0) + 1))
}

/// A user's guests, newest first (expired ones included until deleted).
pub async fn guests(pool: &SqlitePool, user: UserId) -> Result<Vec<Guest>, StoreError> {
    let sql = format!(
        "SELECT {GUEST_COLUMNS} FROM guests g WHERE g.user_id = ? ORDER BY g.created DESC, g.id DESC"
    );
    let rows = sqlx::query(&sql).bind(user.0).fetch_all(pool).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.extend(guest_from_row(row)?);
    }
    Ok(out)
}

/// One guest of a user.
pub async fn guest(
    pool: &SqlitePool,
    user: UserId,
    guest: GuestId,
) -> Result<Option<Guest>, StoreError> {
    let sql = format!("SELECT {GUEST_COLUMNS} FROM guests g WHERE g.user_id = ? AND g.id = ?");
    let row = sqlx::query(&sql)
        .bind(user.0)
        .bind(guest.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(guest_from_row).transpose()?.flatten())
}

/// Where a run stands in the read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Queued,
    Running,
    Done,
}

/// A run as the read model holds it.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: RunId,
    pub name: ScriptName,
    pub state: RowState,
    pub forgotten: bool,
    /// The `RunQueued` event while unfinished, the `RunRecord` once done.
    pub info: String,
}

fn stored_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredEvent, StoreError> {
    let data: String = row.try_get("data")?;
    let event: Event = serde_json::from_str(&super::upcast::upcast(
        row.try_get("kind")?,
        row.try_get("version")?,
        &data,
    ))?;
    Ok(StoredEvent {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        user: UserId(row.try_get("user_id")?),
        event,
    })
}

/// A user's events after `after`, oldest first, at most `limit`; only those
/// of one run when given.
pub async fn events_after(
    pool: &SqlitePool,
    user: UserId,
    after: i64,
    limit: i64,
    run: Option<RunId>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = match run {
        Some(run) => {
            sqlx::query(
                "SELECT seq, at, user_id, kind, version, data FROM events
                 WHERE user_id = ? AND stream = ? AND seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(user.0)
            .bind(run.to_string())
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT seq, at, user_id, kind, version, data FROM events
                 WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(user.0)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter().map(stored_from_row).collect()
}

/// Every event of every run that has not reached a final state, in log
/// order: what startup replay folds back into queues.
pub async fn unfinished_run_events(pool: &SqlitePool) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.seq, e.at, e.user_id, e.kind, e.version, e.data
         FROM runs r JOIN events e ON e.stream = r.id
         WHERE r.state <> 'done' ORDER BY e.seq",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(stored_from_row).collect()
}

/// The events of one script's unfinished runs, in log order: what a
/// restarted queue is rebuilt from.
pub async fn unfinished_run_events_of(
    pool: &SqlitePool,
    user: UserId,
    name: &ScriptName,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.seq, e.at, e.user_id, e.kind, e.version, e.data
         FROM runs r JOIN events e ON e.stream = r.id
         WHERE r.state <> 'done' AND r.user_id = ? AND r.name = ? ORDER BY e.seq",
    )
    .bind(user.0)
    .bind(name.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter().map(stored_from_row).collect()
}

/// The stdin kept for a queued run.
pub async fn stdin(pool: &SqlitePool, run: RunId) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT data FROM run_stdin WHERE run_id = ?")
            .bind(run.to_string())
            .fetch_optional(pool)
            .await?,
    )
}
