//! Flow control of a replay (`after`): missed pushes are fed to a session
//! only as fast as its peer reads them. When the session's mailbox is full
//! or it holds more than a high-water mark of unwritten bytes, the replay
//! waits and tries again; a peer that keeps reading gets everything,
//! however much, and only one that takes nothing for a while is cut off.

use std::time::{Duration, Instant};

/// Unwritten push bytes above which a replay waits for the reader (well
/// under the cap at which a live session is cut off).
pub const HIGH_WATER: usize = 2 * 1024 * 1024;
/// How often a waiting replay tries again.
pub const RETRY: Duration = Duration::from_millis(10);
/// A reader that takes nothing for this long has stopped.
pub const STALL: Duration = Duration::from_secs(30);

/// Watches one replay's progress.
#[derive(Debug)]
pub struct Pace {
    since: Instant,
}

impl Pace {
    /// Starts watching now.
    pub fn new() -> Self {
        Pace {
            since: Instant::now(),
        }
    }

    /// A push was handed to the session.
    pub fn progressed(&mut self, now: Instant) {
        self.since = now;
    }

    /// Whether the reader has taken nothing for too long.
    pub fn stalled(&self, now: Instant) -> bool {
        now.duration_since(self.since) > STALL
    }
}

impl Default for Pace {
    fn default() -> Self {
        Pace::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reader_that_takes_nothing_for_a_while_is_stalled() {
        let start = Instant::now();
        let mut pace = Pace::new();
        assert!(!pace.stalled(start + STALL / 2));
        pace.progressed(start + STALL / 2);
        assert!(!pace.stalled(start + STALL), "progress resets the clock");
        assert!(pace.stalled(start + STALL * 2));
    }
}
