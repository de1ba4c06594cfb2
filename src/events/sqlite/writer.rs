//! The one connection that writes: rusqlite, synchronous, with every
//! statement prepared once and cached. It lives on the store's own thread
//! (see [`crate::events::store`]); offline commands (`admin`, `rebuild`,
//! `prune`) use it directly.
//!
//! sqlx hands each statement to a worker thread and waits for the answer;
//! a run's two events took six of those round trips. Here a whole group
//! commit is one call (the figures: BENCHMARKS.md § Profile-driven fixes,
//! 7).

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};

use super::apply::apply;
use crate::clock;
use crate::events::error::StoreError;
use crate::events::store::GroupResults;
use crate::events::types::{Event, NewEvent, StoredEvent};

/// Statements kept prepared; the store uses fewer than twenty.
const STATEMENT_CACHE: usize = 64;

/// The writing connection.
pub struct Writer {
    conn: Connection,
}

impl Writer {
    /// Opens the (already migrated) database at `path` for writing.
    pub fn open(path: &Path) -> Result<Writer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
        // Every commit reaches the disk before anyone is answered.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Writer { conn })
    }

    /// The connection, for the offline commands' own transactions.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Writes one page and commits, to learn whether the database can be
    /// written again after a failure (disk full): `user_version` is not
    /// used by scriptd or sqlx, and setting it rewrites the header page.
    pub fn probe(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        Ok(())
    }

    /// Appends groups of events in one transaction. Each group is
    /// all-or-nothing on its own, so one refused group does not fail the
    /// others.
    pub fn commit(&mut self, groups: &[Vec<NewEvent>]) -> Result<GroupResults, StoreError> {
        let at = clock::now();
        // Groups are refused rarely (one writer, rules checked by the
        // actors), so the batch first goes without savepoints and is redone
        // group by group only if something failed.
        if let Some(results) = self.commit_together(groups, at)? {
            return Ok(results);
        }
        self.commit_isolated(groups, at)
    }

    /// The whole batch in one transaction; `None` (rolled back) if any append failed.
    fn commit_together(
        &mut self,
        groups: &[Vec<NewEvent>],
        at: f64,
    ) -> Result<Option<GroupResults>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(groups.len());
        for group in groups {
            let mut stored = Vec::with_capacity(group.len());
            for new in group {
                match append_one(&tx, new, at) {
                    Ok(event) => stored.push(event),
                    // Dropping the transaction rolls it back.
                    Err(_) => return Ok(None),
                }
            }
            results.push(Ok(stored));
        }
        tx.commit()?;
        Ok(Some(results))
    }

    /// The batch with a savepoint per group, so a refused group fails alone.
    fn commit_isolated(
        &mut self,
        groups: &[Vec<NewEvent>],
        at: f64,
    ) -> Result<GroupResults, StoreError> {
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(groups.len());
        for group in groups {
            let savepoint = tx.savepoint()?;
            let appended: Result<Vec<_>, _> = group
                .iter()
                .map(|new| append_one(&savepoint, new, at))
                .collect();
            if appended.is_ok() {
                savepoint.commit()?;
            } // else dropping the savepoint rolls the group back
            results.push(appended);
        }
        tx.commit()?;
        Ok(results)
    }
}

fn append_one(conn: &Connection, new: &NewEvent, at: f64) -> Result<StoredEvent, StoreError> {
    // The log row gets the compact form; the read model and the outbox
    // keep the full one (a hook receives the event as it always has).
    let data = serde_json::to_string(&new.event)?;
    let stream = new.stream();
    let stored = crate::events::compact::encode(&new.event, &stream)?;
    conn.prepare_cached(
        "INSERT INTO events (at, user_id, stream, stream_seq, kind, version, data)
         VALUES (?1, ?2, ?3,
                 (SELECT COALESCE(MAX(stream_seq), 0) + 1 FROM events WHERE stream = ?3),
                 ?4, ?5, ?6)",
    )?
    .execute(params![
        at,
        new.user.0,
        stream,
        new.event.kind(),
        new.event.version(),
        stored,
    ])
    .map_err(
        |err| match (StoreError::from_event_insert(err), &new.event) {
            // SQLite names both partial unique indexes by their column.
            (StoreError::AlreadyEnded, Event::ScheduleTicked { .. }) => StoreError::TickTaken,
            (err, _) => err,
        },
    )?;
    let seq = conn.last_insert_rowid();
    apply(conn, new, &data)?;
    // Not in `apply`: a rebuild refolds the read model, but must not
    // send anything again.
    super::outbox::insert(conn, new, &data, at)?;
    Ok(StoredEvent {
        seq,
        at,
        user: new.user,
        event: new.event.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    fn user(id: i64, name: &str) -> NewEvent {
        NewEvent::new(
            UserId(id),
            Event::UserCreated {
                user: UserId(id),
                name: name.into(),
                key_hash: format!("hash-{id}"),
                guests: false,
                created: 0,
            },
        )
    }

    #[tokio::test]
    async fn a_refused_group_fails_alone_and_leaves_no_trace() {
        let dir = tempfile::tempdir().expect("dir");
        let mut db = crate::events::sqlite::open(&dir.path().join("t.db"))
            .await
            .expect("db")
            .0;
        let results = db
            .commit(&[
                vec![user(1, "ann")],
                // The second event repeats a name: the whole group goes.
                vec![user(2, "bob"), user(3, "ann")],
                vec![user(4, "cid")],
            ])
            .expect("commit");
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert!(
            matches!(results[1], Err(StoreError::Conflict(_))),
            "{:?}",
            results[1]
        );
        let conn = db.connection();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM users ORDER BY id")
            .expect("prepare")
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(names, ["ann", "cid"], "bob rolled back with his group");
        let events: i64 = conn
            .query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))
            .expect("count");
        assert_eq!(events, 2, "the refused group's events are not in the log");
        let seqs: Vec<i64> = results
            .iter()
            .flatten()
            .flat_map(|group| group.iter().map(|e| e.seq))
            .collect();
        assert!(seqs[0] < seqs[1], "answers carry the stored seqs: {seqs:?}");
    }

    fn tick(name: &str, tick: i64) -> NewEvent {
        NewEvent::new(
            UserId(1),
            Event::ScheduleTicked {
                name: crate::ids::ScriptName::parse(name).expect("name"),
                tick,
                run: None,
                skipped: Some(crate::schedule::TickSkip::Missed),
                missed: None,
                late: 0.0,
            },
        )
    }

    #[tokio::test]
    async fn the_store_refuses_a_second_record_of_one_tick() {
        let dir = tempfile::tempdir().expect("dir");
        let mut db = crate::events::sqlite::open(&dir.path().join("t.db"))
            .await
            .expect("db")
            .0;
        let results = db
            .commit(&[
                vec![tick("beat", 100)],
                vec![tick("beat", 100)],
                vec![tick("beat", 101)],
                vec![tick("other", 100)],
            ])
            .expect("commit");
        assert!(results[0].is_ok() && results[2].is_ok() && results[3].is_ok());
        assert!(
            matches!(results[1], Err(StoreError::TickTaken)),
            "{:?}",
            results[1]
        );
        let again = db.commit(&[vec![tick("beat", 100)]]).expect("commit");
        assert!(matches!(again[0], Err(StoreError::TickTaken)), "{again:?}");
    }
}
