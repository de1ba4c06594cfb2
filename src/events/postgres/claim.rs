//! Claims on PostgreSQL: an event that carries an [`Expect`] is checked
//! in the group transaction, under the lock of its script's `slots` row
//! (`FOR UPDATE SKIP LOCKED`, the row made on first use), against the
//! read model as this transaction sees it, earlier groups of the batch
//! included. Every commit also holds the commit lock, so the slot lock
//! does not wait; it keeps the claim correct for any writer that would
//! not take that lock, and is what "busy" means if one ever holds it.

use sqlx::{PgConnection, Row};

use super::reads::pg;
use crate::events::error::StoreError;
use crate::events::expect::{Expect, Refusal, RunState, Seen};
use crate::events::types::NewEvent;

/// Whether `new`'s expectation holds; `Ok(Err(_))` is a refusal (nothing
/// is wrong with the database).
pub(super) async fn check(
    conn: &mut PgConnection,
    new: &NewEvent,
    expect: Expect,
) -> Result<Result<(), Refusal>, StoreError> {
    let (Some(run), Some(name)) = (new.event.run_id(), new.event.script()) else {
        return Ok(Ok(()));
    };
    let (user, name, run) = (new.user.0, name.as_str(), run.to_string());
    // Only `-m` counts the queued runs too (at most `-m` of them); a start
    // counts the running ones, a few rows of a small index.
    let room = matches!(expect, Expect::Room { .. });
    for first in [true, false] {
        let row = sqlx::query(
            "WITH slot AS (
                 SELECT 1 FROM slots WHERE user_id = $1 AND name = $2 FOR UPDATE SKIP LOCKED)
             SELECT EXISTS (SELECT 1 FROM slot),
                    EXISTS (SELECT 1 FROM slots WHERE user_id = $1 AND name = $2),
                    (SELECT state FROM runs WHERE id = $3),
                    (SELECT count(*) FROM runs
                     WHERE user_id = $1 AND name = $2 AND state = 'running'),
                    CASE WHEN $4 THEN (SELECT count(*) FROM runs
                                       WHERE user_id = $1 AND name = $2 AND state <> 'done')
                         ELSE 0 END",
        )
        .bind(user)
        .bind(name)
        .bind(&run)
        .bind(room)
        .fetch_one(&mut *conn)
        .await
        .map_err(pg)?;
        let (locked, present): (bool, bool) =
            (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
        if !present && first {
            sqlx::query("INSERT INTO slots (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(user)
                .bind(name)
                .execute(&mut *conn)
                .await
                .map_err(pg)?;
            continue;
        }
        if !locked {
            return Ok(Err(Refusal::SlotBusy));
        }
        let state: Option<String> = row.try_get(2).map_err(pg)?;
        let seen = Seen {
            state: state.as_deref().and_then(RunState::parse),
            running: row.try_get(3).map_err(pg)?,
            live: row.try_get(4).map_err(pg)?,
        };
        return Ok(expect.check(seen));
    }
    Ok(Err(Refusal::SlotBusy))
}

/// The refusal `scriptd_claim` (the commit function's claim check) names
/// by `code`.
pub(super) fn refusal(code: &str) -> Option<Refusal> {
    Some(match code {
        "not_queued" => Refusal::NotQueued { running: false },
        "not_queued_running" => Refusal::NotQueued { running: true },
        "slots_full" => Refusal::SlotsFull,
        "queue_full" => Refusal::QueueFull,
        "not_running" => Refusal::NotRunning,
        "slot_busy" => Refusal::SlotBusy,
        _ => return None,
    })
}
