//! A group commit group by group, inside the writer's transaction: each
//! group in a savepoint, so a refused one fails alone. Groups that carry
//! claims (see `crate::events::expect`) are checked, one at a time, under
//! their script's slot lock against what the groups before them in the
//! same commit changed; runs of groups without claims between them still
//! go in as one statement.

use sqlx::PgConnection;

use super::doubt::Failed;
use super::writer::{append, commit, end};
use crate::events::error::StoreError;
use crate::events::store::GroupResults;
use crate::events::types::{NewEvent, StoredEvent};

/// Inside an open group transaction: the groups in order, each refused
/// alone, then `COMMIT`. With `together`, a run of groups without
/// claims goes in as one statement (redone group by group if it fails);
/// a claimed group always goes alone, checked against what the groups
/// before it changed.
pub(super) async fn commit_groups(
    conn: &mut PgConnection,
    groups: &[Vec<NewEvent>],
    data: &[Vec<String>],
    at: f64,
    together: bool,
) -> Result<GroupResults, Failed> {
    let claimed = |group: &Vec<NewEvent>| group.iter().any(|e| e.expect.is_some());
    let mut results = Vec::with_capacity(groups.len());
    let mut next = 0;
    while next < groups.len() {
        let plain_until = match together {
            true => groups[next..]
                .iter()
                .position(claimed)
                .map_or(groups.len(), |p| next + p),
            false => next,
        };
        if plain_until > next + 1 {
            let (run, texts) = (&groups[next..plain_until], &data[next..plain_until]);
            if let Some(stored) = append_together(conn, run, texts, at).await? {
                results.extend(stored);
                next = plain_until;
                continue;
            }
        }
        let alone_until = plain_until.max(next + 1);
        for (group, texts) in groups[next..alone_until]
            .iter()
            .zip(&data[next..alone_until])
        {
            results.push(append_group(conn, group, texts, at).await?);
        }
        next = alone_until;
    }
    commit(conn, results).await
}

/// Groups without claims in one statement, in a savepoint: their
/// results, or `None` (rolled back) if one of them was refused. An
/// unavailable database fails the whole commit.
async fn append_together(
    conn: &mut PgConnection,
    groups: &[Vec<NewEvent>],
    data: &[Vec<String>],
    at: f64,
) -> Result<Option<GroupResults>, StoreError> {
    end(conn, "SAVEPOINT grp").await?;
    let all: Vec<&NewEvent> = groups.iter().flatten().collect();
    let texts: Vec<&str> = data.iter().flatten().map(String::as_str).collect();
    match append(conn, &all, &texts, at).await {
        Ok(stored) => {
            end(conn, "RELEASE SAVEPOINT grp").await?;
            let mut stored = stored.into_iter();
            Ok(Some(
                groups
                    .iter()
                    .map(|group| Ok(stored.by_ref().take(group.len()).collect()))
                    .collect(),
            ))
        }
        Err(err) if err.is_unavailable() => Err(err),
        Err(_) => {
            end(conn, "ROLLBACK TO SAVEPOINT grp").await?;
            Ok(None)
        }
    }
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
