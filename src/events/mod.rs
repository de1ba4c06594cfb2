//! The event log: typed events, the single-writer store with group commit,
//! the read-model projection and the read queries. All SQL lives here.

pub mod account;
pub mod backup;
pub mod chore;
pub mod error;
pub mod history;
pub mod kind;
pub mod lookup;
pub mod projection;
pub mod prune;
pub mod query;
pub mod rebuild;
pub mod runlog;
pub mod store;
pub mod types;
pub mod unfinished;
pub mod upcast;
pub mod watch;
pub mod writer;

pub use error::StoreError;
pub use store::{Append, Database, EventStore, EventsCommitted};
pub use types::{Event, NewEvent, StoredEvent};
