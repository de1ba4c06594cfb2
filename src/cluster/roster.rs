//! The cluster's live nodes, as the view loop last read them from the
//! `nodes` table (every lease renewal, in the statement it makes anyway
//! for `/metrics`): the schedules' timer ranks them to give each tick one
//! node to fire it (`actors::timer::owner`). Empty on SQLite and until
//! the first read; a reader then takes every tick to be its own.

use std::sync::{Arc, Mutex, PoisonError};

/// Shared by the view loop (which writes it) and the timer (which reads
/// it once per batch of due ticks: one lock and an `Arc` clone).
#[derive(Clone, Default)]
pub struct Roster(Arc<Mutex<Arc<[String]>>>);

impl Roster {
    /// The names of the nodes whose lease is valid and not given up.
    pub fn set(&self, live: Vec<String>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = live.into();
    }

    /// The live nodes as last read (none yet: empty).
    pub fn live(&self) -> Arc<[String]> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
