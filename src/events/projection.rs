//! Keeps the read-model tables (runs, users, guests, run_stdin) in step with
//! the events, inside the transaction that appends them. Pure folding: no
//! rules are checked here beyond the database's own constraints.

use sqlx::SqliteConnection;

use super::error::StoreError;
use super::types::{Event, NewEvent, Origin, RunRecord};
use crate::ids::{RunId, UserId};

/// Applies one appended event to the read model.
pub async fn apply(conn: &mut SqliteConnection, new: &NewEvent) -> Result<(), StoreError> {
    match &new.event {
        Event::RunQueued {
            run,
            name,
            queued,
            origin,
            ..
        } => {
            let info = serde_json::to_string(&new.event)?;
            sqlx::query(
                "INSERT INTO runs (id, user_id, name, state, queued, requested_by,
                    requested_from, info)
                 VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
            )
            .bind(run.to_string())
            .bind(new.user.0)
            .bind(name.as_str())
            .bind(queued)
            .bind(actor(origin, new.user))
            .bind(&origin.addr)
            .bind(info)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_write(e, "run id already used"))?;
            if let Some(stdin) = &new.stdin {
                sqlx::query("INSERT INTO run_stdin (run_id, data) VALUES (?, ?)")
                    .bind(run.to_string())
                    .bind(stdin.as_slice())
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Event::RunStarted { run, started, .. } => {
            sqlx::query("UPDATE runs SET state = 'running', started = ? WHERE id = ?")
                .bind(started)
                .bind(run.to_string())
                .execute(&mut *conn)
                .await?;
            // The stdin stays until the final event: the process reads it
            // after RunStarted is durable.
        }
        Event::RunFinished { run, record }
        | Event::RunStartFailed { run, record }
        | Event::RunInterrupted { run, record } => finish_run(conn, *run, record).await?,
        Event::RunCancelled {
            run,
            record,
            origin,
        } => {
            finish_run(conn, *run, record).await?;
            sqlx::query("UPDATE runs SET cancelled_by = ?, cancelled_from = ? WHERE id = ?")
                .bind(actor(origin, new.user))
                .bind(&origin.addr)
                .bind(run.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Event::RunKillRequested { run, origin, .. } => {
            // The first request is the one that stopped the run; repeats
            // while it winds down change nothing.
            sqlx::query(
                "UPDATE runs SET killed_by = ?, killed_from = ?
                 WHERE id = ? AND killed_by IS NULL",
            )
            .bind(actor(origin, new.user))
            .bind(&origin.addr)
            .bind(run.to_string())
            .execute(&mut *conn)
            .await?;
        }
        Event::RunForgotten { run } => {
            sqlx::query("UPDATE runs SET forgotten = 1 WHERE id = ?")
                .bind(run.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Event::RunProgress { .. } | Event::RunSpawned { .. } => {}
        Event::UserCreated {
            user,
            name,
            key_hash,
            guests,
            created,
        } => {
            sqlx::query(
                "INSERT INTO users (id, name, key_hash, guests, created) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(user.0)
            .bind(name)
            .bind(key_hash)
            .bind(guests)
            .bind(created)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_write(e, "user name already exists"))?;
        }
        Event::UserRemoved { user } => remove_user(conn, *user).await?,
        Event::ApiKeyRotated { user, key_hash } => {
            sqlx::query("UPDATE users SET key_hash = ? WHERE id = ?")
                .bind(key_hash)
                .bind(user.0)
                .execute(&mut *conn)
                .await?;
        }
        Event::GuestCreated {
            guest,
            script,
            rights,
            key_hash,
            created,
            expires,
            ..
        } => {
            sqlx::query(
                "INSERT INTO guests (id, user_id, key_hash, script, can_run, can_cancel,
                    can_status, can_monitor, created, expires)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(guest.to_string())
            .bind(new.user.0)
            .bind(key_hash)
            .bind(script.as_str())
            .bind(rights.run)
            .bind(rights.cancel)
            .bind(rights.status)
            .bind(rights.monitor)
            .bind(created)
            .bind(expires)
            .execute(&mut *conn)
            .await?;
        }
        Event::GuestDeleted { guest, .. } => {
            sqlx::query("DELETE FROM guests WHERE id = ? AND user_id = ?")
                .bind(guest.to_string())
                .bind(new.user.0)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Who acted, as the audit columns record it: `guest:<id>` or `user:<id>`.
fn actor(origin: &Origin, user: UserId) -> String {
    match origin.guest {
        Some(guest) => format!("guest:{guest}"),
        None => format!("user:{user}"),
    }
}

async fn finish_run(
    conn: &mut SqliteConnection,
    run: RunId,
    record: &RunRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE runs SET state = 'done', outcome = ?, started = ?, finished = ?, duration = ?,
            run_user = ?, run_group = ?, exit_code = ?, signal = ?, info = ?
         WHERE id = ?",
    )
    .bind(record.outcome.as_str())
    .bind(record.started)
    .bind(record.finished)
    .bind(record.duration)
    .bind(&record.run_user)
    .bind(&record.run_group)
    .bind(record.exit_code)
    .bind(record.signal)
    .bind(serde_json::to_string(record)?)
    .bind(run.to_string())
    .execute(&mut *conn)
    .await?;
    drop_stdin(conn, run).await
}

async fn drop_stdin(conn: &mut SqliteConnection, run: RunId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM run_stdin WHERE run_id = ?")
        .bind(run.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn remove_user(conn: &mut SqliteConnection, user: UserId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM guests WHERE user_id = ?")
        .bind(user.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(user.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
