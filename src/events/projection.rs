//! Keeps the read-model tables (runs, users, guests, run_stdin) in step with
//! the events, inside the transaction that appends them. Pure folding: no
//! rules are checked here beyond the database's own constraints.
//!
//! Runs on the writer's own connection (rusqlite, statements prepared once
//! and cached), never on an async runtime thread.

use rusqlite::{params, Connection};

use super::error::StoreError;
use super::types::{Event, NewEvent, Origin, RunRecord};
use crate::ids::{RunId, UserId};

/// Applies one appended event to the read model. `data` is the event's JSON
/// as just stored in `events`; a queued run's row keeps the same text.
pub fn apply(conn: &Connection, new: &NewEvent, data: &str) -> Result<(), StoreError> {
    match &new.event {
        Event::RunQueued {
            run,
            name,
            queued,
            origin,
            ..
        } => {
            let id = run.to_string();
            conn.prepare_cached(
                "INSERT INTO runs (id, user_id, name, state, queued, requested_by,
                    requested_from, info)
                 VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
            )?
            .execute(params![
                id,
                new.user.0,
                name.as_str(),
                queued,
                actor(origin, new.user),
                origin.addr,
                data,
            ])
            .map_err(|e| StoreError::from_write(e, "run id already used"))?;
            if let Some(stdin) = &new.stdin {
                conn.prepare_cached("INSERT INTO run_stdin (run_id, data) VALUES (?, ?)")?
                    .execute(params![id, stdin])?;
            }
        }
        Event::RunStarted { run, started, .. } => {
            // The stdin stays until the process exists: it is read after
            // RunStarted is durable.
            conn.prepare_cached("UPDATE runs SET state = 'running', started = ? WHERE id = ?")?
                .execute(params![started, run.to_string()])?;
        }
        Event::RunSpawned { run, .. } => {
            // The process has been handed its stdin (the rest of it is in
            // the server's memory, on its way down the pipe). Nothing can
            // start this run again: a replay turns a started run into
            // `interrupted`. So the stored copy goes now, not at the end.
            conn.prepare_cached("DELETE FROM run_stdin WHERE run_id = ?")?
                .execute(params![run.to_string()])?;
        }
        Event::RunFinished { run, record }
        | Event::RunStartFailed { run, record }
        | Event::RunInterrupted { run, record } => finish_run(conn, *run, record)?,
        Event::RunCancelled {
            run,
            record,
            origin,
        } => {
            finish_run(conn, *run, record)?;
            conn.prepare_cached(
                "UPDATE runs SET cancelled_by = ?, cancelled_from = ? WHERE id = ?",
            )?
            .execute(params![
                actor(origin, new.user),
                origin.addr,
                run.to_string()
            ])?;
        }
        Event::RunKillRequested { run, origin, .. } => {
            // The first request is the one that stopped the run; repeats
            // while it winds down change nothing.
            conn.prepare_cached(
                "UPDATE runs SET killed_by = ?, killed_from = ?
                 WHERE id = ? AND killed_by IS NULL",
            )?
            .execute(params![
                actor(origin, new.user),
                origin.addr,
                run.to_string()
            ])?;
        }
        Event::RunForgotten { run } => {
            conn.prepare_cached("UPDATE runs SET forgotten = 1 WHERE id = ?")?
                .execute(params![run.to_string()])?;
        }
        Event::RunProgress { .. } => {}
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
    }
    Ok(())
}

/// Who acted, as the audit columns record it: `guest:<id>` or `user:<id>`.
fn actor(origin: &Origin, user: UserId) -> String {
    if let Some(operator) = &origin.operator {
        return format!("operator:{operator}");
    }
    match origin.guest {
        Some(guest) => format!("guest:{guest}"),
        None => format!("user:{user}"),
    }
}

fn finish_run(conn: &Connection, run: RunId, record: &RunRecord) -> Result<(), StoreError> {
    let id = run.to_string();
    conn.prepare_cached(
        "UPDATE runs SET state = 'done', outcome = ?, started = ?, finished = ?, duration = ?,
            run_user = ?, run_group = ?, exit_code = ?, signal = ?, info = ?
         WHERE id = ?",
    )?
    .execute(params![
        record.outcome.as_str(),
        record.started,
        record.finished,
        record.duration,
        record.run_user,
        record.run_group,
        record.exit_code,
        record.signal,
        serde_json::to_string(record)?,
        id,
    ])?;
    conn.prepare_cached("DELETE FROM run_stdin WHERE run_id = ?")?
        .execute(params![id])?;
    Ok(())
}

fn remove_user(conn: &Connection, user: UserId) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM guests WHERE user_id = ?")?
        .execute(params![user.0])?;
    conn.prepare_cached("DELETE FROM users WHERE id = ?")?
        .execute(params![user.0])?;
    Ok(())
}
