//! `scriptd admin rebuild` on SQLite: recomputes the runs read model from
//! the event log alone, in one transaction.

use rusqlite::TransactionBehavior;

use super::apply::apply;
use super::writer::Writer;
use crate::events::compact::decode;
use crate::events::error::StoreError;
use crate::events::types::NewEvent;
use crate::ids::UserId;

/// Replaces every `runs` row by folding the run events again. Stdin of
/// queued runs lives only in its side table, which is left as it is.
pub fn rebuild(writer: &mut Writer) -> Result<usize, StoreError> {
    let tx = writer
        .connection()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Rows whose events `admin prune` removed have nothing to refold from;
    // they stay as they are.
    tx.execute(
        "DELETE FROM runs WHERE id IN (SELECT stream FROM events)",
        [],
    )?;
    let mut count = 0;
    {
        let mut select = tx.prepare(
            "SELECT user_id, kind, version, data, stream FROM events
             WHERE stream NOT LIKE 'user:%' ORDER BY seq",
        )?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let kind = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            let data = row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
            let stream = row.get_ref(4)?.as_str().map_err(rusqlite::Error::from)?;
            let event = decode(kind, row.get(2)?, Some(stream), data)?;
            let new = NewEvent {
                user: UserId(row.get(0)?),
                event,
                stdin: None,
                expect: None,
            };
            // Same text as the original append, for the rows that keep it.
            apply(&tx, &new, &serde_json::to_string(&new.event)?)?;
            count += 1;
        }
    }
    tx.commit()?;
    Ok(count)
}
