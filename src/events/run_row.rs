//! What each run event makes of its row in the `runs` read model, as plain
//! values: the SQLite projection (`projection.rs`) and any other backend
//! write these same values with their own SQL. No SQL and no I/O here.

use super::query::RowState;
use super::types::{Event, NewEvent, Origin, RunRecord};
use crate::ids::{RunId, ScriptName, UserId};

/// Who acted, as the audit columns (`*_by`, `*_from`) record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor<'a> {
    /// `operator:<command>`, `guest:<id>` or `user:<id>`.
    pub by: String,
    /// The peer address of the request, when it was known.
    pub from: Option<&'a str>,
}

impl<'a> Actor<'a> {
    /// The actor of a request made with `origin` on `user`'s account.
    pub fn of(origin: &'a Origin, user: UserId) -> Self {
        let by = match (&origin.operator, origin.guest) {
            (Some(operator), _) => format!("operator:{operator}"),
            (None, Some(guest)) => format!("guest:{guest}"),
            (None, None) => format!("user:{user}"),
        };
        Actor {
            by,
            from: origin.addr.as_deref(),
        }
    }
}

/// The columns a final event sets; `info` becomes the record itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended<'a> {
    pub outcome: &'static str,
    pub started: Option<f64>,
    pub finished: f64,
    pub duration: Option<f64>,
    pub run_user: Option<&'a str>,
    pub run_group: Option<&'a str>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub record: &'a RunRecord,
}

/// One change of a run's row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange<'a> {
    /// The row is created, `queued`; its `info` is the `RunQueued` event
    /// as stored, and the request's stdin is kept beside it.
    Insert {
        id: RunId,
        user: UserId,
        name: &'a ScriptName,
        queued: i64,
        requested: Actor<'a>,
        stdin: Option<&'a [u8]>,
    },
    /// `running` since `started`. The stdin stays until the process
    /// exists: it is read after `RunStarted` is durable.
    Start { id: RunId, started: f64 },
    /// The process has been handed its stdin and nothing can start this
    /// run again (a replay turns a started run into `interrupted`), so
    /// the stored copy goes now, not at the end.
    DropStdin { id: RunId },
    /// `done`, with the record's columns; the stdin goes if still kept.
    End {
        id: RunId,
        ended: Ended<'a>,
        /// Set by `RunCancelled`: who cancelled.
        cancelled: Option<Actor<'a>>,
    },
    /// Who asked for a kill. The first request is the one that stopped
    /// the run: a backend keeps it and ignores repeats.
    KillRequested { id: RunId, by: Actor<'a> },
    /// `-r` forgot the run (status answers `invalid_id`).
    Forget { id: RunId },
}

impl RowChange<'_> {
    /// The row's `state` after this change, when the change sets it.
    pub fn state(&self) -> Option<RowState> {
        match self {
            RowChange::Insert { .. } => Some(RowState::Queued),
            RowChange::Start { .. } => Some(RowState::Running),
            RowChange::End { .. } => Some(RowState::Done),
            RowChange::DropStdin { .. }
            | RowChange::KillRequested { .. }
            | RowChange::Forget { .. } => None,
        }
    }
}

/// What `new` makes of its run's row; `None` for events that leave it
/// alone (progress, account events).
pub fn change(new: &NewEvent) -> Option<RowChange<'_>> {
    Some(match &new.event {
        Event::RunQueued {
            run,
            name,
            queued,
            origin,
            ..
        } => RowChange::Insert {
            id: *run,
            user: new.user,
            name,
            queued: *queued,
            requested: Actor::of(origin, new.user),
            stdin: new.stdin.as_deref(),
        },
        Event::RunStarted { run, started, .. } => RowChange::Start {
            id: *run,
            started: *started,
        },
        Event::RunSpawned { run, .. } => RowChange::DropStdin { id: *run },
        Event::RunFinished { run, record }
        | Event::RunStartFailed { run, record }
        | Event::RunInterrupted { run, record } => RowChange::End {
            id: *run,
            ended: ended(record),
            cancelled: None,
        },
        Event::RunCancelled {
            run,
            record,
            origin,
        } => RowChange::End {
            id: *run,
            ended: ended(record),
            cancelled: Some(Actor::of(origin, new.user)),
        },
        Event::RunKillRequested { run, origin, .. } => RowChange::KillRequested {
            id: *run,
            by: Actor::of(origin, new.user),
        },
        Event::RunForgotten { run } => RowChange::Forget { id: *run },
        Event::RunProgress { .. }
        | Event::UserCreated { .. }
        | Event::UserRemoved { .. }
        | Event::ApiKeyRotated { .. }
        | Event::GuestCreated { .. }
        | Event::GuestDeleted { .. } => return None,
    })
}

fn ended(record: &RunRecord) -> Ended<'_> {
    Ended {
        outcome: record.outcome.as_str(),
        started: record.started,
        finished: record.finished,
        duration: record.duration,
        run_user: record.run_user.as_deref(),
        run_group: record.run_group.as_deref(),
        exit_code: record.exit_code,
        signal: record.signal,
        record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::GuestId;

    #[test]
    fn the_audit_actor_names_the_operator_then_the_guest_then_the_user() {
        let guest = GuestId::new();
        let cases = [
            (
                "an operator's command",
                Origin {
                    operator: Some("user-remove".into()),
                    guest: Some(guest),
                    ..Origin::default()
                },
                "operator:user-remove".to_owned(),
            ),
            (
                "a guest key",
                Origin {
                    guest: Some(guest),
                    addr: Some("10.0.0.1".into()),
                    ..Origin::default()
                },
                format!("guest:{guest}"),
            ),
            ("the user's own key", Origin::default(), "user:7".to_owned()),
        ];
        for (what, origin, want) in cases {
            let actor = Actor::of(&origin, UserId(7));
            assert_eq!(actor.by, want, "{what}");
            assert_eq!(actor.from, origin.addr.as_deref(), "{what}");
        }
    }
}
