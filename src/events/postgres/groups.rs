//! A group commit that goes group by group, inside the writer's
//! transaction. Groups that carry claims (see `crate::events::expect`)
//! are checked one at a time, under their script's slot lock, against
//! what the groups before them in the same commit changed; runs of groups
//! without claims between them go in as one statement. A first pass takes
//! no savepoints; if an append fails, the batch is redone with a
//! savepoint per group, so a refused group fails alone.

use sqlx::PgConnection;

use super::doubt::Failed;
use super::writer::{append, commit, end};
use crate::events::error::StoreError;
use crate::events::store::GroupResults;
use crate::events::types::{NewEvent, StoredEvent};

/// How the first pass over a batch with claims ended.
pub(super) enum Pass {
    /// Each group appended or refused by its claim, and the commit's end.
    Done(Result<GroupResults, Failed>),
    /// An append failed and spoiled the transaction: redo the batch group
    /// by group.
    Redo,
}

/// Inside an open group transaction, the first pass over a batch with
/// claims: no savepoints (a claim that does not hold writes nothing to
/// undo), each run of groups without claims as one statement, each
/// claimed group checked against what the groups before it changed; then
/// `COMMIT`. A failed append (a refused group) asks for [`Pass::Redo`].
pub(super) async fn commit_claimed(
    conn: &mut PgConnection,
    groups: &[Vec<NewEvent>],
    data: &[Vec<String>],
    at: f64,
) -> Pass {
    let claimed = |group: &Vec<NewEvent>| group.iter().any(|e| e.expect.is_some());
    let mut results: GroupResults = Vec::with_capacity(groups.len());
    let mut next = 0;
    while next < groups.len() {
        let plain_until = groups[next..]
            .iter()
            .position(claimed)
            .map_or(groups.len(), |p| next + p);
        let until = plain_until.max(next + 1);
        let run = &groups[next..until];
        if plain_until == next {
            match claims(conn, &groups[next]).await {
                Ok(()) => {}
                Err(refused @ StoreError::Refused(_)) => {
                    results.push(Err(refused));
                    next = until;
                    continue;
                }
                Err(err) if err.is_unavailable() => return Pass::Done(Err(err.into())),
                Err(_) => return Pass::Redo,
            }
        }
        let all: Vec<&NewEvent> = run.iter().flatten().collect();
        let texts: Vec<&str> = data[next..until]
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        match append(conn, &all, &texts, at).await {
            Ok(stored) => {
                let mut stored = stored.into_iter();
                for group in run {
                    results.push(Ok(stored.by_ref().take(group.len()).collect()));
                }
            }
            Err(err) if err.is_unavailable() => return Pass::Done(Err(err.into())),
            Err(_) => return Pass::Redo,
        }
        next = until;
    }
    Pass::Done(commit(conn, results).await)
}

/// Inside an open group transaction: each group in a savepoint, after
/// its claims, so a refused group fails alone; then `COMMIT`.
pub(super) async fn commit_isolated(
    conn: &mut PgConnection,
    groups: &[Vec<NewEvent>],
    data: &[Vec<String>],
    at: f64,
) -> Result<GroupResults, Failed> {
    let mut results = Vec::with_capacity(groups.len());
    for (group, texts) in groups.iter().zip(data) {
        results.push(append_group(conn, group, texts, at).await?);
    }
    commit(conn, results).await
}

/// One group in a savepoint, after its claims: its result (appended,
/// or refused alone), or the error that fails the whole commit (an
/// unavailable database).
async fn append_group(
    conn: &mut PgConnection,
    group: &[NewEvent],
    data: &[String],
    at: f64,
) -> Result<Result<Vec<StoredEvent>, StoreError>, StoreError> {
    end(conn, "SAVEPOINT grp").await?;
    let events: Vec<&NewEvent> = group.iter().collect();
    let texts: Vec<&str> = data.iter().map(String::as_str).collect();
    let appended = match claims(conn, group).await {
        Ok(()) => append(conn, &events, &texts, at).await,
        Err(err) => Err(err),
    };
    match appended {
        Err(err) if err.is_unavailable() => Err(err),
        Err(err) => {
            end(conn, "ROLLBACK TO SAVEPOINT grp").await?;
            Ok(Err(err))
        }
        Ok(stored) => {
            end(conn, "RELEASE SAVEPOINT grp").await?;
            Ok(Ok(stored))
        }
    }
}

/// Checks the expectations of a group's events: a refusal is
/// [`StoreError::Refused`].
async fn claims(conn: &mut PgConnection, group: &[NewEvent]) -> Result<(), StoreError> {
    for new in group {
        if let Some(expect) = new.expect {
            super::claim::check(conn, new, expect).await??;
        }
    }
    Ok(())
}
