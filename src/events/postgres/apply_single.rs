//! Account changes on PostgreSQL, and a run's retry, one statement each
//! (they are rare). The statements SQLite runs as they are live in
//! `events::row::change`.

use sqlx::PgConnection;

use crate::events::error::StoreError;
use crate::events::projection::Change;
use crate::events::row::change;

/// Applies one account change.
pub async fn apply(conn: &mut PgConnection, change: Change<'_>) -> Result<(), StoreError> {
    let done = match change {
        Change::AddUser {
            id,
            name,
            key_hash,
            guests,
            created,
        } => sqlx::query(change::ADD_USER)
        .bind(id)
        .bind(name)
        .bind(key_hash)
        .bind(guests)
        .bind(created)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, "user name already exists")),
        Change::RetryRun {
            id,
            due,
            attempt,
            ended,
        } => sqlx::query(
            "UPDATE runs SET state = 'queued', queued = $2, started = NULL, node = NULL,
                 attempt = $3, attempts = COALESCE(attempts, '[]'::jsonb) || jsonb_build_array($4::jsonb)
             WHERE id = $1",
        )
        .bind(id)
        .bind(due)
        .bind(attempt as i32)
        .bind(ended)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, "")),
        Change::RemoveUser { id } => sqlx::query(
            "WITH g AS (DELETE FROM guests WHERE user_id = $1),
                  h AS (DELETE FROM hooks WHERE user_id = $1),
                  d AS (DELETE FROM hook_deliveries WHERE user_id = $1)
             DELETE FROM users WHERE id = $1",
        )
        .bind(id)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, "")),
        Change::RotateKey { id, key_hash } => {
            sqlx::query(change::ROTATE_KEY)
                .bind(key_hash)
                .bind(id)
                .execute(conn)
                .await
                .map_err(|e| StoreError::from_pg(e, ""))
        }
        Change::AddGuest {
            id,
            user,
            key_hash,
            script,
            rights,
            created,
            expires,
        } => sqlx::query(change::ADD_GUEST)
        .bind(id)
        .bind(user)
        .bind(key_hash)
        .bind(script)
        .bind(rights.run)
        .bind(rights.cancel)
        .bind(rights.status)
        .bind(rights.monitor)
        .bind(created)
        .bind(expires)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, "")),
        Change::DeleteGuest { id, user } => {
            sqlx::query(change::DELETE_GUEST)
                .bind(id)
                .bind(user)
                .execute(conn)
                .await
                .map_err(|e| StoreError::from_pg(e, ""))
        }
        Change::AddHook(row) => sqlx::query(change::ADD_HOOK)
        .bind(row.id)
        .bind(row.user)
        .bind(row.url)
        .bind(row.triggers)
        .bind(row.script)
        .bind(row.format)
        .bind(row.secret)
        .bind(row.created)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, "")),
        Change::DeleteHook { id, user } => sqlx::query(
            "WITH d AS (DELETE FROM hook_deliveries WHERE hook_id = $1 AND user_id = $2)
             DELETE FROM hooks WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, "")),
        Change::PauseHook {
            id,
            user,
            paused,
            reason,
        } => sqlx::query(change::PAUSE_HOOK)
        .bind(paused)
        .bind(reason)
        .bind(id)
        .bind(user)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, "")),
        _ => return Ok(()),
    };
    done.map(drop)
}
