//! Claims: the condition an append may carry, checked by the store in
//! the transaction that would append it, and why it was refused. On
//! PostgreSQL several nodes share one log, so whether a run may start,
//! be queued under `-m` or be cancelled is decided there, under the lock
//! of its script's `slots` row, not in any node's memory. SQLite is one
//! node: its ScriptQueue already decides in memory, as the only actor
//! that changes that script's runs, so its store does not check again.

/// What must hold for an event to be appended (the run and its script
/// are the event's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A `RunStarted`: the run is still queued, and fewer than
    /// `simultaneous` runs of its script are running, on any node.
    Start { simultaneous: u32 },
    /// A `RunQueued` under `-m`: fewer than `max_queued` runs of its
    /// script are queued or running.
    Room { max_queued: u32 },
    /// A cancel (or a `-n` run's end): the run is still queued.
    Queued,
    /// A kill request: the run is running (on any node).
    Running,
}

/// Why an append's [`Expect`] did not hold: the database's answer, not
/// a failure. The caller drops, defers or refuses what it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The run is no longer queued: it started (`running`) or ended.
    #[error("the run is no longer queued")]
    NotQueued { running: bool },
    /// Every `-s` slot of the script is taken.
    #[error("every slot of the script is taken")]
    SlotsFull,
    /// `-m` runs of the script are queued or running.
    #[error("the script's queue is full")]
    QueueFull,
    /// The run is not running (a kill came too early or too late).
    #[error("the run is not running")]
    NotRunning,
    /// Another transaction holds the script's slot row: try again shortly.
    #[error("the script's slot is busy")]
    SlotBusy,
}

/// What the store read under the slot lock, for [`Expect::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The run's state in the read model: queued, running, done (or absent).
    pub state: Option<RunState>,
    /// Runs of the script running, on any node.
    pub running: i64,
    /// Runs of the script queued or running.
    pub live: i64,
}

/// A run's state as the read model's `runs.state` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Queued,
    Running,
    Done,
}

impl RunState {
    /// The `runs.state` value.
    pub fn parse(state: &str) -> Option<Self> {
        match state {
            "queued" => Some(RunState::Queued),
            "running" => Some(RunState::Running),
            "done" => Some(RunState::Done),
            _ => None,
        }
    }
}

impl Expect {
    /// Whether the expectation holds for what was `seen`.
    pub fn check(self, seen: Seen) -> Result<(), Refusal> {
        let still_queued = || match seen.state {
            Some(RunState::Queued) => Ok(()),
            state => Err(Refusal::NotQueued {
                running: state == Some(RunState::Running),
            }),
        };
        match self {
            Expect::Start { simultaneous } => {
                still_queued()?;
                match seen.running < i64::from(simultaneous) {
                    true => Ok(()),
                    false => Err(Refusal::SlotsFull),
                }
            }
            Expect::Room { max_queued } => match seen.live < i64::from(max_queued) {
                true => Ok(()),
                false => Err(Refusal::QueueFull),
            },
            Expect::Queued => still_queued(),
            Expect::Running => match seen.state {
                Some(RunState::Running) => Ok(()),
                _ => Err(Refusal::NotRunning),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(state: Option<RunState>, running: i64, live: i64) -> Seen {
        Seen {
            state,
            running,
            live,
        }
    }

    #[test]
    fn a_start_needs_a_queued_run_and_a_free_slot() {
        let start = Expect::Start { simultaneous: 2 };
        let queued = Some(RunState::Queued);
        assert_eq!(start.check(seen(queued, 1, 5)), Ok(()));
        assert_eq!(start.check(seen(queued, 2, 5)), Err(Refusal::SlotsFull));
        assert_eq!(
            start.check(seen(Some(RunState::Running), 0, 5)),
            Err(Refusal::NotQueued { running: true }),
            "started elsewhere: not started twice"
        );
        assert_eq!(
            start.check(seen(Some(RunState::Done), 0, 0)),
            Err(Refusal::NotQueued { running: false })
        );
    }

    #[test]
    fn queueing_needs_room_and_a_cancel_a_queued_run() {
        let room = Expect::Room { max_queued: 3 };
        assert_eq!(room.check(seen(None, 1, 2)), Ok(()));
        assert_eq!(room.check(seen(None, 1, 3)), Err(Refusal::QueueFull));
        assert_eq!(
            Expect::Queued.check(seen(Some(RunState::Queued), 9, 9)),
            Ok(())
        );
        assert_eq!(
            Expect::Queued.check(seen(Some(RunState::Running), 0, 1)),
            Err(Refusal::NotQueued { running: true })
        );
        assert_eq!(
            Expect::Running.check(seen(Some(RunState::Running), 1, 1)),
            Ok(())
        );
        assert_eq!(
            Expect::Running.check(seen(Some(RunState::Done), 0, 0)),
            Err(Refusal::NotRunning)
        );
    }
}
