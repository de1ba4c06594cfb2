//! The read model's SQL on SQLite: applies one [`Change`] on the writer's
//! own connection (rusqlite, statements prepared once and cached), inside
//! the transaction that appends its event. The statements PostgreSQL runs
//! as they are live in `events::row::change`.

use rusqlite::{params, Connection};

use crate::events::error::StoreError;
use crate::events::projection::{self, Change};
use crate::events::row::change;
use crate::events::types::NewEvent;

/// Applies one appended event to the read model.
pub fn apply(conn: &Connection, new: &NewEvent, data: &str) -> Result<(), StoreError> {
    match projection::change(new, data)? {
        Change::Nothing => {}
        Change::QueueRun(row) => {
            conn.prepare_cached(
                "INSERT INTO runs (id, user_id, name, state, queued, requested_by,
                    requested_from, info)
                 VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
            )?
            .execute(params![
                row.id,
                row.user,
                row.name,
                row.queued,
                row.requested_by,
                row.requested_from,
                row.info,
            ])
            .map_err(|e| StoreError::from_write(e, "run id already used"))?;
            if let Some(stdin) = row.stdin {
                conn.prepare_cached("INSERT INTO run_stdin (run_id, data) VALUES (?, ?)")?
                    .execute(params![row.id, stdin])?;
            }
        }
        // SQLite is one node: no `node` column.
        Change::StartRun { id, started, .. } => {
            conn.prepare_cached("UPDATE runs SET state = 'running', started = ? WHERE id = ?")?
                .execute(params![started, id])?;
        }
        Change::DropStdin { id } => {
            conn.prepare_cached("DELETE FROM run_stdin WHERE run_id = ?")?
                .execute(params![id])?;
        }
        // `info` keeps what the columns do not (see `record`): a whole
        // copy of the record was a third of a finished run's bytes.
        Change::FinishRun { id, row, cancelled } => {
            conn.prepare_cached(
                "UPDATE runs SET state = 'done', outcome = ?, started = ?, finished = ?,
                    duration = ?, run_user = ?, run_group = ?, exit_code = ?, signal = ?,
                    info = ?
                 WHERE id = ?",
            )?
            .execute(params![
                row.outcome,
                row.started,
                row.finished,
                row.duration,
                row.run_user,
                row.run_group,
                row.exit_code,
                row.signal,
                super::record::residual(&row.info)?,
                id,
            ])?;
            conn.prepare_cached("DELETE FROM run_stdin WHERE run_id = ?")?
                .execute(params![id])?;
            if let Some(audit) = cancelled {
                conn.prepare_cached(
                    "UPDATE runs SET cancelled_by = ?, cancelled_from = ? WHERE id = ?",
                )?
                .execute(params![audit.by, audit.from, id])?;
            }
        }
        Change::RetryRun {
            id,
            due,
            attempt,
            ended,
        } => {
            conn.prepare_cached(
                "UPDATE runs SET state = 'queued', queued = ?, started = NULL, attempt = ?,
                    attempts = json_insert(COALESCE(attempts, '[]'), '$[#]', json(?))
                 WHERE id = ?",
            )?
            .execute(params![due, attempt, ended, id])?;
        }
        Change::KillRequested { id, audit } => {
            conn.prepare_cached(
                "UPDATE runs SET killed_by = ?, killed_from = ?
                 WHERE id = ? AND killed_by IS NULL",
            )?
            .execute(params![audit.by, audit.from, id])?;
        }
        Change::Forget { id } => {
            conn.prepare_cached("UPDATE runs SET forgotten = 1 WHERE id = ?")?
                .execute(params![id])?;
        }
        Change::AddUser {
            id,
            name,
            key_hash,
            guests,
            created,
        } => {
            conn.prepare_cached(change::ADD_USER)?
                .execute(params![id, name, key_hash, guests, created])
                .map_err(|e| StoreError::from_write(e, "user name already exists"))?;
        }
        Change::RemoveUser { id } => {
            conn.prepare_cached("DELETE FROM guests WHERE user_id = ?")?
                .execute(params![id])?;
            conn.prepare_cached("DELETE FROM hook_deliveries WHERE user_id = ?")?
                .execute(params![id])?;
            conn.prepare_cached("DELETE FROM hooks WHERE user_id = ?")?
                .execute(params![id])?;
            conn.prepare_cached("DELETE FROM users WHERE id = ?")?
                .execute(params![id])?;
        }
        Change::RotateKey { id, key_hash } => {
            conn.prepare_cached(change::ROTATE_KEY)?
                .execute(params![key_hash, id])?;
        }
        Change::AddGuest {
            id,
            user,
            key_hash,
            script,
            rights,
            created,
            expires,
        } => {
            conn.prepare_cached(change::ADD_GUEST)?.execute(params![
                id,
                user,
                key_hash,
                script,
                rights.run,
                rights.cancel,
                rights.status,
                rights.monitor,
                created,
                expires,
            ])?;
        }
        Change::DeleteGuest { id, user } => {
            conn.prepare_cached(change::DELETE_GUEST)?
                .execute(params![id, user])?;
        }
        Change::AddHook(row) => {
            conn.prepare_cached(change::ADD_HOOK)?.execute(params![
                row.id,
                row.user,
                row.url,
                row.triggers,
                row.script,
                row.format,
                row.secret,
                row.created,
            ])?;
        }
        Change::DeleteHook { id, user } => {
            conn.prepare_cached("DELETE FROM hooks WHERE id = ? AND user_id = ?")?
                .execute(params![id, user])?;
            conn.prepare_cached("DELETE FROM hook_deliveries WHERE hook_id = ? AND user_id = ?")?
                .execute(params![id, user])?;
        }
        Change::PauseHook {
            id,
            user,
            paused,
            reason,
        } => {
            conn.prepare_cached(change::PAUSE_HOOK)?
                .execute(params![paused, reason, id, user])?;
        }
    }
    Ok(())
}
