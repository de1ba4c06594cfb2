//! The steady-state group commit in one round trip: one call of
//! `scriptd_commit` (migrations/postgres/…_commit_function_typed.sql) in
//! autocommit, carrying the events and the steps `plan` made of them. The
//! call's implicit transaction takes the commit lock, checks the lease
//! and the claims, writes, notifies and commits before the answer leaves
//! the server, so the lock is never held while the database waits on this
//! process: a node paused mid-commit stalls no other node.
//!
//! A call the server refused with an error (a unique rule broken, say)
//! wrote nothing; the writer redoes the batch group by group on the
//! multi-statement path, which tells each group its own error. A call
//! whose answer was lost is settled from the answer it left in
//! `commit_answers` (see `doubt`).

use sqlx::{PgConnection, Row};

use super::claim;
use super::guard::LeaseGuard;
use super::plan::Plan;
use crate::events::error::StoreError;
use crate::events::store::GroupResults;
use crate::events::types::{NewEvent, StoredEvent};

/// Who makes a call, and when.
pub(super) struct Call<'a> {
    /// The writer's token: its answers' key, and its notifications' payload.
    pub writer: &'a str,
    /// Counts the writer's calls, so that a settled doubt finds this one.
    pub commit_no: i64,
    /// A cluster node's lease, checked under the lock (none offline).
    pub guard: Option<&'a LeaseGuard>,
    pub at: f64,
}

/// How a call went.
pub(super) enum Called {
    /// Each group appended or refused by its claim.
    Done(GroupResults),
    /// Refused whole, nothing written, for a reason one group may own (a
    /// unique rule): redo the batch group by group.
    Redo,
    /// Nothing written, and a redo would fail the same (the lease).
    Failed(StoreError),
    /// Sent, and its answer lost: it may have landed.
    InDoubt(StoreError),
}

/// How many arguments `scriptd_commit` takes (the typed one: the first,
/// of 14, stays for nodes not yet upgraded).
const ARGUMENTS: usize = 60;

/// The call. One line: the server's statement log shows it by its name.
static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let params: Vec<String> = (1..=ARGUMENTS).map(|n| format!("${n}")).collect();
    format!(
        "SELECT o_seqs, o_refused FROM scriptd_commit({})",
        params.join(", ")
    )
});

/// Commits `groups` (whose events' JSON is `data`) as planned, in one
/// round trip (after the statement's first use on a connection, which
/// prepares it).
pub(super) async fn call(
    conn: &mut PgConnection,
    call: &Call<'_>,
    groups: &[Vec<NewEvent>],
    data: &[Vec<String>],
    plan: &Plan<'_>,
) -> Called {
    let all: Vec<&NewEvent> = groups.iter().flatten().collect();
    let users: Vec<i64> = all.iter().map(|e| e.user.0).collect();
    let streams: Vec<String> = all.iter().map(|e| e.stream()).collect();
    let kinds: Vec<&str> = all.iter().map(|e| e.event.kind()).collect();
    let versions: Vec<i64> = all.iter().map(|e| e.event.version()).collect();
    let texts: Vec<&str> = data.iter().flatten().map(String::as_str).collect();
    let (steps, c, q, s) = (&plan.steps, &plan.checks, &plan.queued, &plan.started);
    let (f, k, r, o) = (&plan.finished, &plan.killed, &plan.retried, &plan.outbox);
    let answer = sqlx::query(&SQL)
        .bind(call.writer)
        .bind(call.commit_no)
        .bind(call.guard.map(|g| g.node()))
        .bind(call.guard.map(|g| g.epoch()))
        .bind(call.at)
        .bind(groups.len() as i32)
        .bind(&users)
        .bind(&streams)
        .bind(&kinds)
        .bind(&versions)
        .bind(&texts)
        .bind(&plan.event_segs)
        .bind(&steps.ops)
        .bind(&steps.segs)
        .bind(&steps.froms)
        .bind(&steps.tos)
        .bind(&c.groups)
        .bind(&c.users)
        .bind(&c.names)
        .bind(&c.runs)
        .bind(&c.expects)
        .bind(&c.lims)
        .bind(&q.ids)
        .bind(&q.users)
        .bind(&q.names)
        .bind(&q.queued)
        .bind(&q.by)
        .bind(&q.from)
        .bind(&q.info)
        .bind(&q.stdin)
        .bind(&q.blobs)
        .bind(&s.ids)
        .bind(&s.at)
        .bind(&s.nodes)
        .bind(&plan.ids)
        .bind(&f.ids)
        .bind(&f.outcomes)
        .bind(&f.started)
        .bind(&f.finished)
        .bind(&f.durations)
        .bind(&f.run_users)
        .bind(&f.run_groups)
        .bind(&f.exit_codes)
        .bind(&f.signals)
        .bind(&f.infos)
        .bind(&f.cancelled_by)
        .bind(&f.cancelled_from)
        .bind(&k.ids)
        .bind(&k.by)
        .bind(&k.from)
        .bind(&r.ids)
        .bind(&r.due)
        .bind(&r.attempts)
        .bind(&r.ended)
        .bind(&o.users)
        .bind(&o.scripts)
        .bind(&o.runs)
        .bind(&o.kinds)
        .bind(&o.events)
        .bind(&o.bits)
        .fetch_one(conn)
        .await;
    let row = match answer {
        Ok(row) => row,
        Err(err) => return failed(err),
    };
    let answer = row
        .try_get::<Vec<Option<i64>>, _>(0)
        .and_then(|seqs| Ok((seqs, row.try_get::<Vec<Option<String>>, _>(1)?)));
    match answer {
        Ok((seqs, refused)) => match results(groups, call.at, &seqs, &refused) {
            Ok(results) => Called::Done(results),
            Err(err) => Called::Failed(err),
        },
        Err(err) => Called::Failed(StoreError::from_pg(err, "")),
    }
}

/// How a call that got no answer went. Only the server's own error says
/// that nothing was written (the call's transaction rolled back): then a
/// redo group by group is safe, and tells each group its error. Any other
/// failure (the connection lost, a garbled or missing answer) leaves the
/// call in doubt, settled by reading, never redone blindly.
fn failed(err: sqlx::Error) -> Called {
    let answered = matches!(err, sqlx::Error::Database(_));
    // Arguments are encoded before anything is sent.
    let unsent = matches!(err, sqlx::Error::Encode(_));
    match StoreError::from_pg(err, "event already recorded") {
        err @ StoreError::LeaseLost => Called::Failed(err),
        err if unsent => Called::Failed(err),
        err if err.is_unavailable() || !answered => Called::InDoubt(err),
        _ => Called::Redo,
    }
}

/// The groups' results from a call's answer: each event's `seq` (none
/// for a refused group's) and each group's refusal.
pub(super) fn results(
    groups: &[Vec<NewEvent>],
    at: f64,
    seqs: &[Option<i64>],
    refused: &[Option<String>],
) -> Result<GroupResults, StoreError> {
    const GARBLED: StoreError = StoreError::Unsupported("scriptd_commit answered garbled");
    let mut seqs = seqs.iter();
    let mut results = Vec::with_capacity(groups.len());
    for (index, group) in groups.iter().enumerate() {
        let taken: Vec<Option<i64>> = seqs.by_ref().take(group.len()).copied().collect();
        if let Some(code) = refused.get(index).and_then(Option::as_deref) {
            results.push(Err(refusal(code).ok_or(GARBLED)?));
            continue;
        }
        let mut stored = Vec::with_capacity(group.len());
        for (new, seq) in group.iter().zip(&taken) {
            stored.push(StoredEvent {
                seq: seq.ok_or(GARBLED)?,
                at,
                user: new.user,
                event: new.event.clone(),
            });
        }
        if stored.len() != group.len() {
            return Err(GARBLED);
        }
        results.push(Ok(stored));
    }
    Ok(results)
}

/// The error a refused group is answered with: a claim's refusal, or a
/// tick another call recorded first.
fn refusal(code: &str) -> Option<StoreError> {
    match code {
        "tick_taken" => Some(StoreError::TickTaken),
        code => claim::refusal(code).map(StoreError::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::expect::Refusal;
    use crate::events::types::Event;
    use crate::ids::UserId;

    fn event(user: i64) -> NewEvent {
        NewEvent::new(
            UserId(user),
            Event::UserCreated {
                user: UserId(user),
                name: format!("u{user}"),
                key_hash: "h".into(),
                guests: false,
                created: 0,
            },
        )
    }

    #[test]
    fn an_answer_gives_each_group_its_seqs_or_its_refusal() {
        let groups = vec![vec![event(1), event(2)], vec![event(3)], vec![event(4)]];
        let seqs = [Some(10), Some(11), None, Some(12)];
        let refused = [None, Some("slots_full".to_owned()), None];
        let results = results(&groups, 1.5, &seqs, &refused).expect("an answer");
        let seqs_of = |i: usize| -> Vec<i64> {
            results[i]
                .as_ref()
                .expect("stored")
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        assert_eq!(seqs_of(0), vec![10, 11]);
        assert!(matches!(
            results[1],
            Err(StoreError::Refused(Refusal::SlotsFull))
        ));
        assert_eq!(seqs_of(2), vec![12]);
    }

    #[test]
    fn the_function_takes_the_writers_lock_and_notifies_its_channel() {
        let sql = include_str!("../../../migrations/postgres/20271201000001_commit_function.sql");
        let lock = format!(
            "pg_advisory_xact_lock({})",
            super::super::writer::COMMIT_LOCK
        );
        assert_eq!(
            sql.matches(&lock).count(),
            2,
            "scriptd_commit and its answer"
        );
        let notify = format!("pg_notify('{}'", super::super::follow::CHANNEL);
        assert!(sql.contains(&notify));
        let typed =
            include_str!("../../../migrations/postgres/20271209000021_commit_function_typed.sql");
        assert_eq!(typed.matches(&lock).count(), 1, "the typed scriptd_commit");
        assert!(typed.contains(&notify));
    }

    #[test]
    fn the_call_passes_as_many_arguments_as_the_function_takes() {
        let sql =
            include_str!("../../../migrations/postgres/20271209000021_commit_function_typed.sql");
        let start = sql
            .find("CREATE OR REPLACE FUNCTION scriptd_commit(")
            .expect("the function");
        let end = start + sql[start..].find("OUT o_seqs").expect("its answer");
        let declared = sql[start..end].matches(',').count();
        assert_eq!(declared, ARGUMENTS);
        assert!(SQL.contains(&format!("${ARGUMENTS})")));
    }

    #[test]
    fn a_tick_taken_answers_its_group_as_taken() {
        let groups = vec![vec![event(1)], vec![event(2)]];
        let seqs = [None, Some(7)];
        let refused = [Some("tick_taken".to_owned()), None];
        let results = results(&groups, 0.0, &seqs, &refused).expect("an answer");
        assert!(results[0].as_ref().is_err_and(StoreError::is_tick_taken));
        assert!(results[1].is_ok());
    }

    #[test]
    fn only_the_servers_own_error_is_redone_anything_else_is_settled() {
        let protocol = sqlx::Error::Protocol("garbled".into());
        assert!(matches!(failed(protocol), Called::InDoubt(_)));
        assert!(matches!(
            failed(sqlx::Error::RowNotFound),
            Called::InDoubt(_)
        ));
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert!(matches!(failed(sqlx::Error::Io(eof)), Called::InDoubt(_)));
        let encode = sqlx::Error::Encode("too long".into());
        assert!(matches!(failed(encode), Called::Failed(_)));
    }

    #[test]
    fn an_answer_missing_a_seq_is_an_error_not_a_stored_event() {
        let groups = vec![vec![event(1)]];
        assert!(results(&groups, 0.0, &[None], &[None]).is_err());
        assert!(results(&groups, 0.0, &[], &[None]).is_err());
        assert!(results(&groups, 0.0, &[Some(1)], &[Some("what".into())]).is_err());
    }
}
