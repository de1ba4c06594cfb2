//! The event log: typed events, the event-store interface (one writer
//! with group commit, the readers) and its two backends, `sqlite` (the
//! embedded default) and `postgres`. The read-model projection is
//! computed here once; each backend holds only its SQL. All SQL lives
//! under this module.

pub mod account;
pub mod chore;
pub mod compact;
pub mod database;
pub mod error;
pub mod expect;
pub mod history;
pub mod kind;
pub mod outbox;
pub mod postgres;
pub mod projection;
pub mod prune;
pub mod query;
pub mod readers;
pub mod row;
pub mod runlog;
pub mod schedule;
pub mod session;
pub mod sqlite;
pub mod store;
pub mod transfer;
pub mod types;
pub mod unfinished;
pub mod upcast;
pub mod watch;

pub use error::StoreError;
pub use expect::{Expect, Refusal};
pub use readers::Readers;
pub use store::{Append, Database, EventStore, EventsCommitted, Location};
pub use types::{Event, NewEvent, StoredEvent};
