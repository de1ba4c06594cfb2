//! The read model's SQL on PostgreSQL. The changes of a whole batch (see
//! [`crate::events::projection`]) are sorted into as few statements as
//! order allows: a change joins the first later batch of its kind after
//! the last batch that touched the same row, so N runs queued together
//! are one `INSERT … FROM UNNEST`, and a run queued then cancelled in one
//! commit is still inserted before it is finished.

use sqlx::PgConnection;

use crate::events::error::StoreError;
use crate::events::projection::{self, Change};
use crate::events::types::NewEvent;

/// Which statement a change goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Queue,
    Start,
    DropStdin,
    Finish,
    Kill,
    Forget,
    /// A run's retry: one statement each here, one per batch in
    /// `scriptd_commit` (see `plan`).
    Retry,
    /// Account changes are rare: one statement each.
    Single,
}

fn kind(change: &Change<'_>) -> Option<Kind> {
    Some(match change {
        Change::Nothing => return None,
        Change::QueueRun(_) => Kind::Queue,
        Change::StartRun { .. } => Kind::Start,
        Change::DropStdin { .. } => Kind::DropStdin,
        Change::FinishRun { .. } => Kind::Finish,
        Change::KillRequested { .. } => Kind::Kill,
        Change::Forget { .. } => Kind::Forget,
        Change::RetryRun { .. } => Kind::Retry,
        _ => Kind::Single,
    })
}

/// The row a change touches, for ordering.
fn key<'c>(change: &'c Change<'_>) -> &'c str {
    match change {
        Change::QueueRun(row) => &row.id,
        Change::StartRun { id, .. }
        | Change::DropStdin { id }
        | Change::FinishRun { id, .. }
        | Change::KillRequested { id, .. }
        | Change::RetryRun { id, .. }
        | Change::Forget { id } => id,
        _ => "",
    }
}

/// Applies the read-model changes of `events` (whose JSON is `data`).
pub async fn apply(
    conn: &mut PgConnection,
    events: &[&NewEvent],
    data: &[&str],
) -> Result<(), StoreError> {
    for (kind, changes) in batches(events, data)? {
        let changes = changes.into_iter().map(|(_, change)| change);
        match kind {
            Kind::Single | Kind::Retry => {
                for change in changes {
                    super::apply_single::apply(conn, change).await?;
                }
            }
            _ => super::apply_batch::apply(conn, changes.collect()).await?,
        }
    }
    Ok(())
}

/// One batch: changes of one kind, each with the index of its event.
pub(super) type Batch<'a> = (Kind, Vec<(usize, Change<'a>)>);

/// The changes of `events` (whose JSON is `data`), in batches of one
/// kind each, in an order that keeps every row's changes in event order.
pub(super) fn batches<'a>(
    events: &[&'a NewEvent],
    data: &[&'a str],
) -> Result<Vec<Batch<'a>>, StoreError> {
    let mut batches: Vec<Batch<'a>> = Vec::new();
    for (index, (new, data)) in events.iter().zip(data).enumerate() {
        let change = projection::change(new, data)?;
        let Some(kind) = kind(&change) else { continue };
        let after = match kind {
            Kind::Single => batches.len(),
            _ => batches
                .iter()
                .rposition(|(k, changes)| {
                    *k == Kind::Single || changes.iter().any(|(_, c)| key(c) == key(&change))
                })
                .map_or(0, |i| i + 1),
        };
        match batches[after..]
            .iter_mut()
            .find(|(k, _)| *k == kind && kind != Kind::Single)
        {
            Some((_, changes)) => changes.push((index, change)),
            None => batches.push((kind, vec![(index, change)])),
        }
    }
    Ok(batches)
}
