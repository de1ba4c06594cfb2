//! The webhook outbox's SQL on PostgreSQL (see [`crate::events::outbox`]).
//! A batch's deliveries are one `INSERT … FROM UNNEST JOIN hooks`, in the
//! group commit that appends their events. Claims take the due rows with
//! `FOR UPDATE SKIP LOCKED`, so nodes never wait for each other's rows,
//! and a claim lasts until `claimed_until` or until its node's lease is
//! gone, whichever comes first: a dead node's deliveries are taken over.

use sqlx::{PgConnection, Row};

use super::Writer;
use crate::events::error::StoreError;
use crate::events::outbox::{
    self, attempt_columns, attempt_log, hook_shape, Claimed, DeliveryInfo, HookInfo, OutboxJob,
    KEEP_ATTEMPTS,
};
use crate::events::types::NewEvent;
use crate::hook::trigger::Trigger;
use crate::ids::HookId;

fn pg(err: sqlx::Error) -> StoreError {
    StoreError::from_pg(err, "")
}

/// Writes the deliveries `events` (stored as `seqs`) cause, in the
/// transaction that appends them; no statement at all when none of them
/// is a trigger. The event's JSON is copied from its `events` row inside
/// the database, and only for a matching hook: a batch of large events
/// with no hook sends nothing twice while it holds the commit lock.
pub async fn insert(
    conn: &mut PgConnection,
    events: &[&NewEvent],
    seqs: &[i64],
    at: f64,
) -> Result<(), StoreError> {
    let (mut users, mut scripts, mut runs, mut kinds) = (vec![], vec![], vec![], vec![]);
    let (mut rows, mut bits) = (vec![], vec![]);
    for (new, seq) in events.iter().zip(seqs) {
        if let Some((trigger, script, run)) = outbox::trigger(&new.event) {
            users.push(new.user.0);
            scripts.push(script.as_str());
            runs.push(run.to_string());
            kinds.push(trigger.as_str());
            rows.push(*seq);
            bits.push(trigger.bit());
        }
    }
    if users.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO hook_deliveries (id, hook_id, user_id, script, run_id, kind, event,
             version, created, due)
         SELECT gen_random_uuid()::text, h.id, h.user_id, u.script, u.run_id, u.kind,
                e.data::text, e.version, $1, $1
         FROM UNNEST($2::int8[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[])
              AS u(user_id, script, run_id, kind, seq, bit)
         JOIN hooks h ON h.user_id = u.user_id AND h.paused IS NULL
              AND (h.triggers & u.bit) <> 0 AND (h.script IS NULL OR h.script = u.script)
         JOIN events e ON e.seq = u.seq",
    )
    .bind(at)
    .bind(&users)
    .bind(&scripts)
    .bind(&runs)
    .bind(&kinds)
    .bind(&rows)
    .bind(&bits)
    .execute(conn)
    .await
    .map_err(pg)?;
    Ok(())
}

impl Writer {
    /// Runs one outbox job on the writing connection and answers it.
    pub(in crate::events) async fn outbox(&mut self, job: OutboxJob) {
        match job {
            OutboxJob::Claim(msg, reply) => {
                let result = match self.connection().await {
                    Ok(conn) => match forget(conn, msg.forget_before).await {
                        Ok(()) => claim(conn, &msg).await,
                        Err(err) => Err(err),
                    },
                    Err(err) => Err(err),
                };
                let _ = reply.send(self.check(result));
            }
            OutboxJob::Record(msg, reply) => {
                let result = match self.connection().await {
                    Ok(conn) => record(conn, &msg).await,
                    Err(err) => Err(err),
                };
                let _ = reply.send(self.check(result));
            }
            OutboxJob::Release(msg, reply) => {
                let result = match self.connection().await {
                    Ok(conn) => sqlx::query(
                        "UPDATE hook_deliveries SET claimed_by = NULL, claimed_until = NULL
                         WHERE claimed_by = $1",
                    )
                    .bind(&msg.node)
                    .execute(conn)
                    .await
                    .map(drop)
                    .map_err(pg),
                    Err(err) => Err(err),
                };
                let _ = reply.send(self.check(result));
            }
            OutboxJob::Hooks(msg, reply) => {
                let result = match self.connection().await {
                    Ok(conn) => hooks(conn, msg.user.0).await,
                    Err(err) => Err(err),
                };
                let _ = reply.send(self.check(result));
            }
            OutboxJob::Deliveries(msg, reply) => {
                let hook = msg.hook.map(|h| h.to_string());
                let result = match self.connection().await {
                    Ok(conn) => deliveries(conn, msg.user.0, hook, msg.limit).await,
                    Err(err) => Err(err),
                };
                let _ = reply.send(self.check(result));
            }
        }
    }
}

/// Settled deliveries (delivered, failed, folded) written before `before` go.
async fn forget(conn: &mut PgConnection, before: Option<f64>) -> Result<(), StoreError> {
    let Some(before) = before else { return Ok(()) };
    sqlx::query("DELETE FROM hook_deliveries WHERE state <> 'pending' AND created < $1")
        .bind(before)
        .execute(conn)
        .await
        .map_err(pg)?;
    Ok(())
}

/// A claim is free once it ran out or its node's lease is gone.
const FREE: &str = "(d.claimed_by IS NULL OR d.claimed_until < $1
      OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.name = d.claimed_by AND NOT n.lost
                     AND n.lease_until > clock_timestamp()))";

async fn claim(
    conn: &mut PgConnection,
    msg: &outbox::ClaimDeliveries,
) -> Result<Claimed, StoreError> {
    sqlx::query("BEGIN").execute(&mut *conn).await.map_err(pg)?;
    let result = claim_in(conn, msg).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    sqlx::query(end).execute(&mut *conn).await.map_err(pg)?;
    result
}

async fn claim_in(
    conn: &mut PgConnection,
    msg: &outbox::ClaimDeliveries,
) -> Result<Claimed, StoreError> {
    let (now, limit) = (msg.now, msg.limit);
    let sql = format!(
        "SELECT d.id, d.hook_id, d.script, d.attempts, h.paused IS NOT NULL
         FROM hook_deliveries d JOIN hooks h ON h.id = d.hook_id
         WHERE d.state = 'pending' AND d.due <= $1 AND {FREE}
         ORDER BY d.due LIMIT $2
         FOR UPDATE OF d SKIP LOCKED"
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *conn)
        .await
        .map_err(pg)?;
    let mut claimed = Claimed::default();
    for row in &rows {
        let due = Due {
            id: row.try_get(0).map_err(pg)?,
            hook: row.try_get(1).map_err(pg)?,
            script: row.try_get(2).map_err(pg)?,
            attempts: row.try_get(3).map_err(pg)?,
            paused: row.try_get(4).map_err(pg)?,
        };
        if let Some(delivery) = claim_one(conn, &due, msg).await? {
            claimed.deliveries.push(delivery);
        }
    }
    claimed.next_due = sqlx::query_scalar(
        "SELECT min(CASE WHEN claimed_until > due THEN claimed_until ELSE due END)
         FROM hook_deliveries WHERE state = 'pending'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(pg)?;
    claimed.active_hooks =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM hooks WHERE paused IS NULL)")
            .fetch_one(&mut *conn)
            .await
            .map_err(pg)?;
    Ok(claimed)
}

/// A due row, as the claim reads it.
struct Due {
    id: String,
    hook: String,
    script: String,
    attempts: i32,
    paused: bool,
}

async fn claim_one(
    conn: &mut PgConnection,
    row: &Due,
    msg: &outbox::ClaimDeliveries,
) -> Result<Option<outbox::Delivery>, StoreError> {
    let (node, now, hold) = (msg.node.as_str(), msg.now, msg.hold);
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM hook_deliveries WHERE id = $1")
            .bind(&row.id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(pg)?;
    if state.as_deref() != Some("pending") {
        return Ok(None);
    }
    if row.paused {
        sqlx::query(
            "UPDATE hook_deliveries SET state = 'failed', last_error = 'the hook is paused'
             WHERE id = $1",
        )
        .bind(&row.id)
        .execute(&mut *conn)
        .await
        .map_err(pg)?;
        return Ok(None);
    }
    if row.attempts == 0 && !fold(conn, row, now, msg.fold_window).await? {
        return Ok(None);
    }
    let found = sqlx::query(
        "WITH c AS (
             UPDATE hook_deliveries SET claimed_by = $2, claimed_until = $3,
                 attempts = attempts + 1, first_sent = coalesce(first_sent, $4),
                 last_attempt = $4
             WHERE id = $1
             RETURNING id, hook_id, event, version, kind, attempts, created, folded, user_id)
         SELECT c.id, c.hook_id, h.url, h.secret, h.format, c.event, c.version, c.kind,
                c.attempts, c.created, c.folded, c.user_id
         FROM c JOIN hooks h ON h.id = c.hook_id",
    )
    .bind(&row.id)
    .bind(node)
    .bind(now + hold)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .map_err(pg)?;
    let Some(r) = found else { return Ok(None) };
    let hook: String = r.try_get(1).map_err(pg)?;
    let format: String = r.try_get(4).map_err(pg)?;
    let kind: String = r.try_get(7).map_err(pg)?;
    let attempt: i32 = r.try_get(8).map_err(pg)?;
    let folded: i32 = r.try_get(10).map_err(pg)?;
    let version: i32 = r.try_get(6).map_err(pg)?;
    let (Some(hook), Some(trigger)) = (HookId::parse(&hook), Trigger::parse(&kind)) else {
        return Ok(None);
    };
    Ok(Some(outbox::Delivery {
        id: r.try_get(0).map_err(pg)?,
        hook,
        user: crate::ids::UserId(r.try_get(11).map_err(pg)?),
        url: r.try_get(2).map_err(pg)?,
        secret: r.try_get(3).map_err(pg)?,
        format: hook_shape(&format, 0).0,
        event: r.try_get(5).map_err(pg)?,
        version: i64::from(version),
        trigger,
        attempt: u32::try_from(attempt).unwrap_or(1),
        created: r.try_get(9).map_err(pg)?,
        folded: i64::from(folded),
    }))
}

/// The flood limit for a first send: put off until the window of the
/// hook and script is over (`false`), or fold the later first sends
/// waiting behind it into it (`true`). The hook's row is locked so that
/// two nodes do not both decide a window is over.
async fn fold(
    conn: &mut PgConnection,
    row: &Due,
    now: f64,
    window: f64,
) -> Result<bool, StoreError> {
    sqlx::query("SELECT 1 FROM hooks WHERE id = $1 FOR UPDATE")
        .bind(&row.hook)
        .execute(&mut *conn)
        .await
        .map_err(pg)?;
    let last: Option<f64> = sqlx::query_scalar(
        "SELECT max(first_sent) FROM hook_deliveries WHERE hook_id = $1 AND script = $2",
    )
    .bind(&row.hook)
    .bind(&row.script)
    .fetch_one(&mut *conn)
    .await
    .map_err(pg)?;
    if let Some(last) = last.filter(|last| now < last + window) {
        sqlx::query("UPDATE hook_deliveries SET due = $1 WHERE id = $2")
            .bind(last + window)
            .bind(&row.id)
            .execute(&mut *conn)
            .await
            .map_err(pg)?;
        return Ok(false);
    }
    sqlx::query(
        "WITH f AS (
             UPDATE hook_deliveries SET state = 'folded', folded_into = $1
             WHERE id IN (SELECT id FROM hook_deliveries
                          WHERE hook_id = $2 AND script = $3 AND state = 'pending'
                            AND attempts = 0 AND id <> $1 AND claimed_by IS NULL
                          FOR UPDATE SKIP LOCKED)
             RETURNING folded)
         UPDATE hook_deliveries
         SET folded = folded + (SELECT count(*) + coalesce(sum(f.folded), 0) FROM f)
         WHERE id = $1",
    )
    .bind(&row.id)
    .bind(&row.hook)
    .bind(&row.script)
    .execute(&mut *conn)
    .await
    .map_err(pg)?;
    Ok(true)
}

/// Records an attempt: the row's state, and the attempt appended to its
/// log (the oldest dropped past [`KEEP_ATTEMPTS`]; one is added at a
/// time, so one removal keeps the bound).
async fn record(conn: &mut PgConnection, msg: &outbox::RecordAttempt) -> Result<bool, StoreError> {
    let (state, due, status, error) = attempt_columns(&msg.attempt);
    let done = sqlx::query(
        "UPDATE hook_deliveries SET state = $3, due = coalesce($4, due), last_status = $5,
             last_error = $6, claimed_by = NULL, claimed_until = NULL,
             attempt_log = (CASE WHEN jsonb_array_length(coalesce(attempt_log, '[]')) >= $8
                                 THEN attempt_log - 0
                                 ELSE coalesce(attempt_log, '[]') END)
                 || jsonb_build_array(jsonb_build_object('attempt', attempts, 'at', last_attempt,
                        'ended', $7::float8, 'status', $5::int4, 'error', $6::text))
         WHERE id = $1 AND claimed_by = $2",
    )
    .bind(&msg.id)
    .bind(&msg.node)
    .bind(state)
    .bind(due)
    .bind(status.map(|s| s as i32))
    .bind(error)
    .bind(msg.now)
    .bind(KEEP_ATTEMPTS as i32)
    .execute(conn)
    .await
    .map_err(pg)?;
    Ok(done.rows_affected() > 0)
}

async fn hooks(conn: &mut PgConnection, user: i64) -> Result<Vec<HookInfo>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, url, triggers, script, format, created, paused, paused_reason
         FROM hooks WHERE user_id = $1 ORDER BY created DESC, id DESC",
    )
    .bind(user)
    .fetch_all(conn)
    .await
    .map_err(pg)?;
    let mut out = Vec::new();
    for r in &rows {
        let id: String = r.try_get(0).map_err(pg)?;
        let format: String = r.try_get(4).map_err(pg)?;
        let (format, on) = hook_shape(&format, r.try_get(2).map_err(pg)?);
        // Ids are written by the server: a bad one is skipped, not fatal.
        let Some(id) = HookId::parse(&id) else {
            continue;
        };
        out.push(HookInfo {
            id,
            url: r.try_get(1).map_err(pg)?,
            on,
            name: r.try_get(3).map_err(pg)?,
            format,
            created: r.try_get(5).map_err(pg)?,
            paused: r.try_get(6).map_err(pg)?,
            paused_reason: r.try_get(7).map_err(pg)?,
        });
    }
    Ok(out)
}

async fn deliveries(
    conn: &mut PgConnection,
    user: i64,
    hook: Option<String>,
    limit: i64,
) -> Result<Vec<DeliveryInfo>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, hook_id, run_id, script, kind, created, state, attempts, last_attempt,
                last_status, last_error, folded, folded_into, attempt_log::text
         FROM hook_deliveries WHERE user_id = $1 AND ($2::text IS NULL OR hook_id = $2)
         ORDER BY created DESC, id DESC LIMIT $3",
    )
    .bind(user)
    .bind(hook)
    .bind(limit)
    .fetch_all(conn)
    .await
    .map_err(pg)?;
    let mut out = Vec::new();
    for r in &rows {
        let attempts: i32 = r.try_get(7).map_err(pg)?;
        let status: Option<i32> = r.try_get(9).map_err(pg)?;
        let folded: i32 = r.try_get(11).map_err(pg)?;
        out.push(DeliveryInfo {
            id: r.try_get(0).map_err(pg)?,
            hook: r.try_get(1).map_err(pg)?,
            run: r.try_get(2).map_err(pg)?,
            name: r.try_get(3).map_err(pg)?,
            event: r.try_get(4).map_err(pg)?,
            created: r.try_get(5).map_err(pg)?,
            state: r.try_get(6).map_err(pg)?,
            attempts: i64::from(attempts),
            last_attempt: r.try_get(8).map_err(pg)?,
            status: status.map(i64::from),
            error: r.try_get(10).map_err(pg)?,
            folded: i64::from(folded),
            folded_into: r.try_get(12).map_err(pg)?,
            attempt_log: attempt_log(r.try_get::<Option<String>, _>(13).map_err(pg)?.as_deref()),
        });
    }
    Ok(out)
}
