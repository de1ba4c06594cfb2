//! The sign-in sessions on record that have not ended: a `SessionStarted`
//! without its `SessionEnded`. Sessions live in a server's memory, so
//! these are the ones a stopped server (or a lost cluster node) left
//! open; their ends are recorded by its next start or by the rescuer.
//! The queries are each backend's (`sqlite::query`, `postgres::sessions`).

use crate::accounts::PersonRef;
use crate::ids::UserId;

use super::types::{Event, StoredEvent};

/// One session started and not ended, as its `SessionStarted` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSession {
    /// The account the session acts in (its events' stream).
    pub user: UserId,
    pub session: String,
    pub person: PersonRef,
    /// The node that held it (PostgreSQL), if recorded.
    pub node: Option<String>,
    /// That node's incarnation, if recorded.
    pub epoch: Option<i64>,
}

impl OpenSession {
    /// The open session of a `SessionStarted` event; `None` for any other.
    pub fn from_started(stored: StoredEvent) -> Option<OpenSession> {
        match stored.event {
            Event::SessionStarted {
                session,
                person,
                node,
                epoch,
                ..
            } => Some(OpenSession {
                user: stored.user,
                session,
                person,
                node,
                epoch,
            }),
            _ => None,
        }
    }
}

/// Records the end of each of `sessions` with `reason`, one append each
/// (an end already recorded meanwhile is refused alone, by the database);
/// answers how many this call ended.
pub async fn end_open(
    store: &actix::Addr<super::EventStore>,
    sessions: Vec<OpenSession>,
    reason: &str,
) -> usize {
    let appends: Vec<_> = sessions
        .into_iter()
        .map(|open| {
            let event = Event::SessionEnded {
                session: open.session.clone(),
                person: open.person,
                reason: reason.to_owned(),
            };
            let events = vec![super::NewEvent::new(open.user, event)];
            (open.session, store.send(super::Append { events }))
        })
        .collect();
    let mut ended = 0;
    for (session, append) in appends {
        match append.await {
            Ok(Ok(_)) => ended += 1,
            Ok(Err(err)) if err.is_already_ended() => {
                tracing::debug!(%session, "the session had already ended");
            }
            Ok(Err(err)) => {
                tracing::warn!(%session, error.cause_chain = ?err, "cannot record a session's end")
            }
            Err(err) => tracing::warn!(%session, error = %err, "the event store is gone"),
        }
    }
    ended
}
