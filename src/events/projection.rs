//! Keeps the read-model tables (runs, users, guests, run_stdin) in step with
//! the events, inside the transaction that appends them: the SQL that
//! writes the row values of `run_row.rs`, and the account tables. Pure
//! folding: no rules are checked here beyond the database's own constraints.
//!
//! Runs on the writer's own connection (rusqlite, statements prepared once
//! and cached), never on an async runtime thread.

use rusqlite::{params, Connection};

use super::error::StoreError;
use super::run_row::{self, Ended, RowChange};
use super::types::{Event, NewEvent};
use crate::ids::{RunId, UserId};

/// Applies one appended event to the read model. `data` is the event's JSON
/// as just stored in `events`; a queued run's row keeps the same text.
pub fn apply(conn: &Connection, new: &NewEvent, data: &str) -> Result<(), StoreError> {
    if let Some(change) = run_row::change(new) {
        return write_run(conn, &change, data);
    }
    match &new.event {
        Event::UserCreated {
            user,
            name,
            key_hash,
            guests,
            created,
        } => {
            conn.prepare_cached(
                "INSERT INTO users (id, name, key_hash, guests, created) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![user.0, name, key_hash, guests, created])
            .map_err(|e| StoreError::from_write(e, "user name already exists"))?;
        }
        Event::UserRemoved { user } => remove_user(conn, *user)?,
        Event::ApiKeyRotated { user, key_hash } => {
            conn.prepare_cached("UPDATE users SET key_hash = ? WHERE id = ?")?
                .execute(params![key_hash, user.0])?;
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
            conn.prepare_cached(
                "INSERT INTO guests (id, user_id, key_hash, script, can_run, can_cancel,
                    can_status, can_monitor, created, expires)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                guest.to_string(),
                new.user.0,
                key_hash,
                script.as_str(),
                rights.run,
                rights.cancel,
                rights.status,
                rights.monitor,
                created,
                expires,
            ])?;
        }
        Event::GuestDeleted { guest, .. } => {
            conn.prepare_cached("DELETE FROM guests WHERE id = ? AND user_id = ?")?
                .execute(params![guest.to_string(), new.user.0])?;
        }
        // Run events: their row changes are written above.
        _ => {}
    }
    Ok(())
}

/// Writes one change of a run's row (see [`run_row`] for what each means).
fn write_run(conn: &Connection, change: &RowChange<'_>, data: &str) -> Result<(), StoreError> {
    match change {
        RowChange::Insert {
            id,
            user,
            name,
            queued,
            requested,
            stdin,
        } => {
            let id = id.to_string();
            conn.prepare_cached(
                "INSERT INTO runs (id, user_id, name, state, queued, requested_by,
                    requested_from, info)
                 VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
            )?
            .execute(params![
                id,
                user.0,
                name.as_str(),
                queued,
                requested.by,
                requested.from,
                data,
            ])
            .map_err(|e| StoreError::from_write(e, "run id already used"))?;
            if let Some(stdin) = stdin {
                conn.prepare_cached("INSERT INTO run_stdin (run_id, data) VALUES (?, ?)")?
                    .execute(params![id, stdin])?;
            }
        }
        RowChange::Start { id, started } => {
            conn.prepare_cached("UPDATE runs SET state = 'running', started = ? WHERE id = ?")?
                .execute(params![started, id.to_string()])?;
        }
        RowChange::DropStdin { id } => drop_stdin(conn, *id)?,
        RowChange::End {
            id,
            ended,
            cancelled,
        } => {
            end_run(conn, *id, ended)?;
            if let Some(actor) = cancelled {
                conn.prepare_cached(
                    "UPDATE runs SET cancelled_by = ?, cancelled_from = ? WHERE id = ?",
                )?
                .execute(params![actor.by, actor.from, id.to_string()])?;
            }
        }
        RowChange::KillRequested { id, by } => {
            conn.prepare_cached(
                "UPDATE runs SET killed_by = ?, killed_from = ?
                 WHERE id = ? AND killed_by IS NULL",
            )?
            .execute(params![by.by, by.from, id.to_string()])?;
        }
        RowChange::Forget { id } => {
            conn.prepare_cached("UPDATE runs SET forgotten = 1 WHERE id = ?")?
                .execute(params![id.to_string()])?;
        }
    }
    Ok(())
}

fn drop_stdin(conn: &Connection, run: RunId) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM run_stdin WHERE run_id = ?")?
        .execute(params![run.to_string()])?;
    Ok(())
}

fn end_run(conn: &Connection, run: RunId, ended: &Ended<'_>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE runs SET state = 'done', outcome = ?, started = ?, finished = ?, duration = ?,
            run_user = ?, run_group = ?, exit_code = ?, signal = ?, info = ?
         WHERE id = ?",
    )?
    .execute(params![
        ended.outcome,
        ended.started,
        ended.finished,
        ended.duration,
        ended.run_user,
        ended.run_group,
        ended.exit_code,
        ended.signal,
        serde_json::to_string(ended.record)?,
        run.to_string(),
    ])?;
    drop_stdin(conn, run)
}

fn remove_user(conn: &Connection, user: UserId) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM guests WHERE user_id = ?")?
        .execute(params![user.0])?;
    conn.prepare_cached("DELETE FROM users WHERE id = ?")?
        .execute(params![user.0])?;
    Ok(())
}
