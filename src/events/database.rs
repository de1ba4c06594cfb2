//! Which database holds the events, and its connections: the backend
//! enums that everything above `events` holds without knowing which one
//! is inside (an enum match, no dynamic dispatch on SQLite's hot path).

use std::path::PathBuf;

use super::error::StoreError;
use super::prune::Pruned;
use super::readers::Readers;
use super::types::{NewEvent, StoredEvent};
use super::{postgres, sqlite};

/// Where the events live: the SQLite file in the storage directory, or a
/// PostgreSQL database (`postgres://…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// Where, for messages (a PostgreSQL URL without its password).
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => postgres::redact(url),
        }
    }
}

/// What [`Writer::commit`] answers: per group, its stored events or why it
/// was refused.
pub type GroupResults = Vec<Result<Vec<StoredEvent>, StoreError>>;

/// The one writing connection of a database.
pub enum Writer {
    Sqlite(sqlite::Writer),
    /// Boxed: its connection options are large, and it is not the hot path.
    Postgres(Box<postgres::Writer>),
}

impl Writer {
    /// From now on every commit checks this cluster node's lease (SQLite
    /// has no cluster: nothing to check).
    /// `ttl` is the lease time (see [`postgres::Writer::guard`]).
    pub fn guard(
        &mut self,
        guard: std::sync::Arc<postgres::guard::LeaseGuard>,
        ttl: std::time::Duration,
    ) {
        if let Writer::Postgres(w) = self {
            w.guard(guard, ttl);
        }
    }

    /// Appends groups of events in one transaction; each group is
    /// all-or-nothing on its own. For the offline commands; the server
    /// appends through the [`super::EventStore`].
    pub async fn commit(&mut self, groups: &[Vec<NewEvent>]) -> Result<GroupResults, StoreError> {
        match self {
            Writer::Sqlite(w) => w.commit(groups),
            Writer::Postgres(w) => w.commit(groups).await,
        }
    }

    /// One retention batch (see [`super::prune`]).
    pub async fn prune_batch(
        &mut self,
        before: f64,
        all: bool,
        limit: usize,
    ) -> Result<Pruned, StoreError> {
        match self {
            Writer::Sqlite(w) => sqlite::prune::prune_batch(w.connection(), before, all, limit),
            Writer::Postgres(w) => w.prune_batch(before, all, limit).await,
        }
    }

    /// Replaces every `runs` row by folding the run events again; answers
    /// how many events were folded.
    pub async fn rebuild(&mut self) -> Result<usize, StoreError> {
        match self {
            Writer::Sqlite(w) => sqlite::rebuild::rebuild(w),
            Writer::Postgres(w) => w.rebuild().await,
        }
    }
}

/// Connections to the database: one writer and the readers.
pub struct Database {
    pub writer: Writer,
    pub readers: Readers,
}

/// Opens (creating a SQLite file if needed) and migrates the database.
pub async fn open(location: &Location) -> Result<Database, StoreError> {
    Ok(match location {
        Location::Sqlite(path) => {
            let (writer, readers) = sqlite::open(path).await?;
            Database {
                writer: Writer::Sqlite(writer),
                readers: Readers::Sqlite(readers),
            }
        }
        Location::Postgres(url) => {
            let (writer, readers) = postgres::open(url).await?;
            Database {
                writer: Writer::Postgres(Box::new(writer)),
                readers: Readers::Postgres(readers),
            }
        }
    })
}

/// `scriptd admin rebuild`: rebuilds the runs read model; a one-line report.
pub async fn rebuild_at(location: &Location) -> Result<String, StoreError> {
    let mut db = open(location).await?;
    let count = db.writer.rebuild().await?;
    Ok(format!(
        "rebuilt the runs read model from {count} run events"
    ))
}
