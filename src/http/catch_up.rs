//! On a cluster (PostgreSQL), a run another node has just queued or
//! started may not have reached this node's queue yet: its follower is
//! milliseconds behind (a poll's period at worst). A command or a status
//! the queue cannot place, for a run the database says is live, is asked
//! again meanwhile rather than answered "unknown". SQLite's one node is
//! never behind itself: it answers at once.

use std::time::Duration;

use super::AppState;

/// How many times at most, and how long apart: past a poll's period.
const TRIES: u32 = 40;
const WAIT: Duration = Duration::from_millis(50);

/// Whether to ask again (after a wait): on PostgreSQL, [`TRIES`] times.
pub async fn again(state: &AppState, tries: &mut u32) -> bool {
    if !state.config.on_postgres() || *tries >= TRIES {
        return false;
    }
    *tries += 1;
    tokio::time::sleep(WAIT).await;
    true
}
