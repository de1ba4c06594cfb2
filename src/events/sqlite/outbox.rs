//! The webhook outbox's SQL on SQLite (see [`crate::events::outbox`]):
//! the rows an event causes, written in its own transaction, and the
//! delivery worker's jobs, run on the writer's connection. One node: a
//! claim only guards against the worker's own overlapping passes.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::events::error::StoreError;
use crate::events::outbox::{
    self, attempt_columns, attempt_log, hook_shape, Claimed, DeliveryInfo, HookInfo, OutboxJob,
    KEEP_ATTEMPTS,
};
use crate::events::types::NewEvent;
use crate::hook::trigger::Trigger;
use crate::ids::HookId;

/// Writes the deliveries `new` causes, one per matching hook, in the
/// transaction that appends it.
pub fn insert(conn: &Connection, new: &NewEvent, data: &str, at: f64) -> Result<(), StoreError> {
    let Some((trigger, script, run)) = outbox::trigger(&new.event) else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO hook_deliveries (id, hook_id, user_id, script, run_id, kind, event,
             version, created, due)
         SELECT lower(hex(randomblob(16))), h.id, h.user_id, ?2, ?3, ?4, ?5, ?6, ?7, ?7
         FROM hooks h
         WHERE h.user_id = ?1 AND h.paused IS NULL AND (h.triggers & ?8) != 0
           AND (h.script IS NULL OR h.script = ?2)",
    )?
    .execute(params![
        new.user.0,
        script.as_str(),
        run.to_string(),
        trigger.as_str(),
        data,
        new.event.version(),
        at,
        trigger.bit(),
    ])?;
    Ok(())
}

/// Runs one job and answers it.
pub(in crate::events) fn run(conn: &mut Connection, job: OutboxJob) {
    match job {
        OutboxJob::Claim(msg, reply) => {
            let forgotten = msg
                .forget_before
                .map_or(Ok(()), |before| forget(conn, before));
            let _ = reply.send(forgotten.and_then(|()| claim(conn, &msg)));
        }
        OutboxJob::Record(msg, reply) => {
            let _ = reply.send(record(conn, &msg));
        }
        OutboxJob::Release(msg, reply) => {
            let result = conn
                .prepare_cached(
                    "UPDATE hook_deliveries SET claimed_by = NULL, claimed_until = NULL
                     WHERE claimed_by = ?",
                )
                .and_then(|mut s| s.execute(params![msg.node]))
                .map(drop)
                .map_err(StoreError::from);
            let _ = reply.send(result);
        }
        OutboxJob::Hooks(msg, reply) => {
            let _ = reply.send(hooks(conn, msg.user.0));
        }
        OutboxJob::Deliveries(msg, reply) => {
            let hook = msg.hook.map(|h| h.to_string());
            let _ = reply.send(deliveries(conn, msg.user.0, hook.as_deref(), msg.limit));
        }
    }
}

/// Settled deliveries (delivered, failed, folded) written before `before` go.
fn forget(conn: &Connection, before: f64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM hook_deliveries WHERE state <> 'pending' AND created < ?")?
        .execute(params![before])?;
    Ok(())
}

/// A due row, as the claim reads it.
struct Due {
    id: String,
    hook: String,
    script: String,
    attempts: i64,
    paused: bool,
}

fn claim(conn: &mut Connection, msg: &outbox::ClaimDeliveries) -> Result<Claimed, StoreError> {
    let (now, limit) = (msg.now, msg.limit);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let due: Vec<Due> = {
        let mut select = tx.prepare_cached(
            "SELECT d.id, d.hook_id, d.script, d.attempts, h.paused IS NOT NULL
             FROM hook_deliveries d JOIN hooks h ON h.id = d.hook_id
             WHERE d.state = 'pending' AND d.due <= ?1
               AND (d.claimed_by IS NULL OR d.claimed_until < ?1)
             ORDER BY d.due LIMIT ?2",
        )?;
        let rows = select.query_map(params![now, limit as i64], |row| {
            Ok(Due {
                id: row.get(0)?,
                hook: row.get(1)?,
                script: row.get(2)?,
                attempts: row.get(3)?,
                paused: row.get(4)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut claimed = Claimed::default();
    for row in due {
        if let Some(delivery) = claim_one(&tx, &row, msg)? {
            claimed.deliveries.push(delivery);
        }
    }
    claimed.next_due = tx
        .prepare_cached(
            "SELECT min(CASE WHEN claimed_until > due THEN claimed_until ELSE due END)
             FROM hook_deliveries WHERE state = 'pending'",
        )?
        .query_row([], |row| row.get(0))?;
    claimed.active_hooks = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM hooks WHERE paused IS NULL)")?
        .query_row([], |row| row.get(0))?;
    tx.commit()?;
    Ok(claimed)
}

/// Claims one due row, unless the flood limit puts it off or an earlier
/// row of this pass folded it.
fn claim_one(
    tx: &Connection,
    row: &Due,
    msg: &outbox::ClaimDeliveries,
) -> Result<Option<outbox::Delivery>, StoreError> {
    let (node, now, hold, window) = (msg.node.as_str(), msg.now, msg.hold, msg.fold_window);
    let still: Option<String> = tx
        .prepare_cached("SELECT state FROM hook_deliveries WHERE id = ?")?
        .query_row(params![row.id], |r| r.get(0))
        .optional()?;
    if still.as_deref() != Some("pending") {
        return Ok(None);
    }
    if row.paused {
        tx.prepare_cached(
            "UPDATE hook_deliveries SET state = 'failed', last_error = 'the hook is paused'
             WHERE id = ?",
        )?
        .execute(params![row.id])?;
        return Ok(None);
    }
    if row.attempts == 0 {
        let last: Option<f64> = tx
            .prepare_cached(
                "SELECT max(first_sent) FROM hook_deliveries WHERE hook_id = ? AND script = ?",
            )?
            .query_row(params![row.hook, row.script], |r| r.get(0))?;
        if let Some(last) = last.filter(|last| now < last + window) {
            tx.prepare_cached("UPDATE hook_deliveries SET due = ? WHERE id = ?")?
                .execute(params![last + window, row.id])?;
            return Ok(None);
        }
        // Later first sends of this hook and script wait for the window:
        // they are folded into this one.
        tx.prepare_cached(
            "UPDATE hook_deliveries SET folded = folded + (
                 SELECT count(*) + coalesce(sum(o.folded), 0) FROM hook_deliveries o
                 WHERE o.hook_id = ?2 AND o.script = ?3 AND o.state = 'pending'
                   AND o.attempts = 0 AND o.id != ?1 AND o.claimed_by IS NULL)
             WHERE id = ?1",
        )?
        .execute(params![row.id, row.hook, row.script])?;
        tx.prepare_cached(
            "UPDATE hook_deliveries SET state = 'folded', folded_into = ?1
             WHERE hook_id = ?2 AND script = ?3 AND state = 'pending' AND attempts = 0
               AND id != ?1 AND claimed_by IS NULL",
        )?
        .execute(params![row.id, row.hook, row.script])?;
    }
    tx.prepare_cached(
        "UPDATE hook_deliveries SET claimed_by = ?2, claimed_until = ?3,
             attempts = attempts + 1, first_sent = coalesce(first_sent, ?4), last_attempt = ?4
         WHERE id = ?1",
    )?
    .execute(params![row.id, node, now + hold, now])?;
    let delivery = tx
        .prepare_cached(
            "SELECT d.id, d.hook_id, h.url, h.secret, h.format, d.event, d.version, d.kind,
                    d.attempts, d.created, d.folded, d.user_id
             FROM hook_deliveries d JOIN hooks h ON h.id = d.hook_id WHERE d.id = ?",
        )?
        .query_row(params![row.id], |r| {
            let hook: String = r.get(1)?;
            let format: String = r.get(4)?;
            let kind: String = r.get(7)?;
            Ok((
                hook,
                format,
                kind,
                outbox::Delivery {
                    id: r.get(0)?,
                    hook: HookId::default(),
                    user: crate::ids::UserId(r.get(11)?),
                    url: r.get(2)?,
                    secret: r.get(3)?,
                    format: Default::default(),
                    event: r.get(5)?,
                    version: r.get(6)?,
                    trigger: Trigger::Failed,
                    attempt: r.get(8)?,
                    created: r.get(9)?,
                    folded: r.get(10)?,
                },
            ))
        })
        .optional()?;
    Ok(delivery.and_then(|(hook, format, kind, mut d)| {
        d.hook = HookId::parse(&hook)?;
        d.format = hook_shape(&format, 0).0;
        d.trigger = Trigger::parse(&kind)?;
        Some(d)
    }))
}

/// Records an attempt: the row's state, and the attempt appended to its
/// log (the oldest dropped past [`KEEP_ATTEMPTS`]; one is added at a
/// time, so one removal keeps the bound).
fn record(conn: &Connection, msg: &outbox::RecordAttempt) -> Result<bool, StoreError> {
    let (state, due, status, error) = attempt_columns(&msg.attempt);
    let changed = conn
        .prepare_cached(
            "UPDATE hook_deliveries SET state = ?3, due = coalesce(?4, due), last_status = ?5,
                 last_error = ?6, claimed_by = NULL, claimed_until = NULL,
                 attempt_log = json_insert(
                     CASE WHEN json_array_length(coalesce(attempt_log, '[]')) >= ?8
                          THEN json_remove(attempt_log, '$[0]')
                          ELSE coalesce(attempt_log, '[]') END,
                     '$[#]', json_object('attempt', attempts, 'at', last_attempt, 'ended', ?7,
                                         'status', ?5, 'error', ?6))
             WHERE id = ?1 AND claimed_by = ?2",
        )?
        .execute(params![
            msg.id,
            msg.node,
            state,
            due,
            status,
            error,
            msg.now,
            KEEP_ATTEMPTS
        ])?;
    Ok(changed > 0)
}

fn hooks(conn: &Connection, user: i64) -> Result<Vec<HookInfo>, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT id, url, triggers, script, format, created, paused, paused_reason
         FROM hooks WHERE user_id = ? ORDER BY created DESC, id DESC",
    )?;
    let rows = select.query_map(params![user], |r| {
        let id: String = r.get(0)?;
        let format: String = r.get(4)?;
        let (format, on) = hook_shape(&format, r.get(2)?);
        Ok((
            id,
            HookInfo {
                id: HookId::default(),
                url: r.get(1)?,
                on,
                name: r.get(3)?,
                format,
                created: r.get(5)?,
                paused: r.get(6)?,
                paused_reason: r.get(7)?,
            },
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, info) = row?;
        // Ids are written by the server: a bad one is skipped, not fatal.
        if let Some(id) = HookId::parse(&id) {
            out.push(HookInfo { id, ..info });
        }
    }
    Ok(out)
}

fn deliveries(
    conn: &Connection,
    user: i64,
    hook: Option<&str>,
    limit: i64,
) -> Result<Vec<DeliveryInfo>, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT id, hook_id, run_id, script, kind, created, state, attempts, last_attempt,
                last_status, last_error, folded, folded_into, attempt_log
         FROM hook_deliveries WHERE user_id = ?1 AND (?2 IS NULL OR hook_id = ?2)
         ORDER BY created DESC, id DESC LIMIT ?3",
    )?;
    let rows = select.query_map(params![user, hook, limit], |r| {
        Ok(DeliveryInfo {
            id: r.get(0)?,
            hook: r.get(1)?,
            run: r.get(2)?,
            name: r.get(3)?,
            event: r.get(4)?,
            created: r.get(5)?,
            state: r.get(6)?,
            attempts: r.get(7)?,
            last_attempt: r.get(8)?,
            status: r.get(9)?,
            error: r.get(10)?,
            folded: r.get(11)?,
            folded_into: r.get(12)?,
            attempt_log: attempt_log(r.get::<_, Option<String>>(13)?.as_deref()),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::outbox::{Attempt, RecordAttempt};
    use crate::events::types::{Event, Origin, RunRecord};
    use crate::hook::trigger::Format;
    use crate::ids::{RunId, ScriptName, UserId};

    fn failed_run() -> NewEvent {
        let record: RunRecord = serde_json::from_value(serde_json::json!({
            "name": "job", "queued": 1, "started": 1.0, "finished": 2.0, "params": [],
            "opts": {}, "first": "", "last": "", "tasks": [], "removelog": false,
            "outcome": "failed", "exit_code": 1, "signal": null, "duration": 1.0,
            "cpu_user": null, "cpu_system": null, "max_rss_kb": null, "error": null
        }))
        .expect("record");
        let run = RunId::new();
        NewEvent::new(UserId(1), Event::RunFinished { run, record })
    }

    fn hook(name: Option<&str>, on: Vec<Trigger>) -> NewEvent {
        NewEvent::new(
            UserId(1),
            Event::HookCreated {
                hook: HookId::new(),
                url: "https://example.com/".into(),
                on,
                name: name.map(|n| ScriptName::parse(n).expect("name")),
                format: Format::Json,
                secret: "s".into(),
                created: 1,
                origin: Origin::default(),
            },
        )
    }

    async fn writer() -> (tempfile::TempDir, super::super::Writer) {
        let dir = tempfile::tempdir().expect("dir");
        let (writer, _) = super::super::open(&dir.path().join("t.db"))
            .await
            .expect("db");
        (dir, writer)
    }

    const FOLD_WINDOW: f64 = 60.0;

    /// A claim by the one node at `now`, with a minute's fold window.
    fn claim_at(conn: &mut Connection, now: f64) -> Result<Claimed, StoreError> {
        let msg = outbox::ClaimDeliveries {
            node: String::new(),
            now,
            hold: 30.0,
            limit: 64,
            forget_before: None,
            fold_window: FOLD_WINDOW,
        };
        claim(conn, &msg)
    }

    fn failures(writer: &mut super::super::Writer, n: usize) {
        for _ in 0..n {
            writer.commit(&[vec![failed_run()]]).expect("commit");
        }
    }

    #[tokio::test]
    async fn each_matching_hook_gets_a_row_in_the_events_commit() {
        let (_dir, mut writer) = writer().await;
        writer
            .commit(&[vec![
                hook(None, vec![Trigger::Failed]),
                hook(Some("job"), vec![Trigger::Failed, Trigger::Success]),
                hook(Some("other"), vec![Trigger::Failed]),
                hook(None, vec![Trigger::Success]),
            ]])
            .expect("hooks");
        failures(&mut writer, 1);
        let rows: i64 = writer
            .connection()
            .query_row("SELECT count(*) FROM hook_deliveries", [], |r| r.get(0))
            .expect("count");
        assert_eq!(
            rows, 2,
            "the two hooks on failures of job (or of every script)"
        );
    }

    #[tokio::test]
    async fn a_burst_of_failures_is_one_delivery_a_minute_with_a_count() {
        let (_dir, mut writer) = writer().await;
        writer
            .commit(&[vec![hook(None, vec![Trigger::Failed])]])
            .expect("hook");
        failures(&mut writer, 5);
        let now = crate::clock::now() + 1.0;

        let first = claim_at(writer.connection(), now).expect("claim");
        assert_eq!(first.deliveries.len(), 1, "one delivery for the burst");
        assert_eq!(
            first.deliveries[0].folded, 4,
            "with the other four folded in"
        );
        let sent = RecordAttempt {
            id: first.deliveries[0].id.clone(),
            node: String::new(),
            now,
            attempt: Attempt::Delivered { status: 200 },
        };
        assert!(record(writer.connection(), &sent).expect("record"));

        failures(&mut writer, 3);
        let held = claim_at(writer.connection(), now + 1.0).expect("claim");
        assert!(held.deliveries.is_empty(), "the window is not over");
        assert_eq!(held.next_due, Some(now + FOLD_WINDOW), "due when it is");

        let second = claim_at(writer.connection(), now + FOLD_WINDOW).expect("claim");
        assert_eq!(second.deliveries.len(), 1);
        assert_eq!(second.deliveries[0].folded, 2);
        let states: Vec<(String, i64)> = writer
            .connection()
            .prepare("SELECT state, count(*) FROM hook_deliveries GROUP BY state ORDER BY state")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            states,
            [
                ("delivered".to_owned(), 1),
                ("folded".to_owned(), 6),
                ("pending".to_owned(), 1)
            ]
        );
    }

    #[tokio::test]
    async fn a_delivery_keeps_its_last_twenty_attempts_and_counts_them_all() {
        let (_dir, mut writer) = writer().await;
        writer
            .commit(&[vec![hook(None, vec![Trigger::Failed])]])
            .expect("hook");
        failures(&mut writer, 1);
        let start = crate::clock::now() + 1.0;

        for k in 0..25 {
            let now = start + f64::from(k);
            let claimed = claim_at(writer.connection(), now).expect("claim");
            assert_eq!(claimed.deliveries.len(), 1, "attempt {}", k + 1);
            let attempt = match k {
                24 => Attempt::Delivered { status: 200 },
                _ => Attempt::Retry {
                    due: now + 0.5,
                    status: Some(500),
                    error: "HTTP 500".into(),
                },
            };
            let sent = RecordAttempt {
                id: claimed.deliveries[0].id.clone(),
                node: String::new(),
                now: now + 0.25,
                attempt,
            };
            assert!(record(writer.connection(), &sent).expect("record"));
        }

        let rows = deliveries(writer.connection(), 1, None, 10).expect("list");
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.attempts, 25, "every attempt is counted");
        let numbers: Vec<i64> = row.attempt_log.iter().map(|a| a.attempt).collect();
        assert_eq!(
            numbers,
            (6..=25).collect::<Vec<_>>(),
            "the last 20 are kept"
        );
        // SQLite's JSON keeps 15 significant digits: 10 µs here.
        let near = |got: Option<f64>, want: f64| got.is_some_and(|t| (t - want).abs() < 1e-3);
        let first = &row.attempt_log[0];
        assert!(near(first.at, start + 5.0), "sent: {first:?}");
        assert!(near(first.ended, start + 5.25), "answered: {first:?}");
        assert_eq!(
            (first.status, first.error.as_deref()),
            (Some(500), Some("HTTP 500"))
        );
        let last = &row.attempt_log[19];
        assert_eq!(
            (last.status, last.error.as_deref()),
            (Some(200), None),
            "{last:?}"
        );
    }
}
