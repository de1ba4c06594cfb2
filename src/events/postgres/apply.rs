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
enum Kind {
    Queue,
    Start,
    DropStdin,
    Finish,
    Kill,
    Forget,
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
    let mut batches: Vec<(Kind, Vec<Change<'_>>)> = Vec::new();
    for (new, data) in events.iter().zip(data) {
        let change = projection::change(new, data)?;
        let Some(kind) = kind(&change) else { continue };
        let after = match kind {
            Kind::Single => batches.len(),
            _ => batches
                .iter()
                .rposition(|(k, changes)| {
                    *k == Kind::Single || changes.iter().any(|c| key(c) == key(&change))
                })
                .map_or(0, |i| i + 1),
        };
        match batches[after..]
            .iter_mut()
            .find(|(k, _)| *k == kind && kind != Kind::Single)
        {
            Some((_, changes)) => changes.push(change),
            None => batches.push((kind, vec![change])),
        }
    }
    for (kind, changes) in batches {
        match kind {
            Kind::Single => {
                for change in changes {
                    super::apply_single::apply(conn, change).await?;
                }
            }
            _ => super::apply_batch::apply(conn, changes).await?,
        }
    }
    Ok(())
}
