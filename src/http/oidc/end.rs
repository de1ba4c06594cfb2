//! The end of sessions: sign-out, the sweep that ends sessions past
//! their absolute or idle deadline, the ends a start records for the
//! sessions its former life held (`restart`), and a cluster node's
//! sessions when it loses its lease (`node_lost`). Each end is one
//! `SessionEnded` event on the account's stream (the database refuses a
//! second), and closes the session's WebSockets with 1008 and the reason,
//! as a revoked key's are.

use std::time::Duration;

use actix::prelude::*;

use super::super::sessions::{Revoke, SessionRegistry};
use crate::clock;
use crate::events::session::{end_open, OpenSession};
use crate::events::store::Append;
use crate::events::types::{Event, NewEvent};
use crate::events::{EventStore, Readers, StoreError};
use crate::oidc::session::Session;
use crate::oidc::{SessionBook, SessionEnd};

/// How often deadlines are looked at.
const SWEEP: Duration = Duration::from_secs(1);

/// The key a session's WebSockets are registered under.
pub fn registry_key(session: &str) -> String {
    format!("session:{session}")
}

/// Closes the WebSockets of session `id` with 1008 and the reason.
fn close_sockets(sockets: &SessionRegistry, id: &str, end: SessionEnd) {
    for socket in sockets.with_key(&registry_key(id)) {
        socket.closer.do_send(Revoke {
            reason: end.as_str(),
        });
    }
}

/// Records the end of `session` and closes its WebSockets.
pub async fn end_session(
    store: &Addr<EventStore>,
    sockets: &SessionRegistry,
    session: Session,
    end: SessionEnd,
) {
    close_sockets(sockets, &session.id, end);
    tracing::info!(session = %session.id, person = %session.who.sub, reason = end.as_str(), "session ended");
    let event = Event::SessionEnded {
        session: session.id,
        person: session.who,
        reason: end.as_str().to_owned(),
    };
    let append = Append {
        events: vec![NewEvent::new(session.account.id, event)],
    };
    match store.send(append).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => tracing::warn!(error.cause_chain = ?err, "cannot record a session's end"),
        Err(err) => tracing::warn!(error = %err, "cannot record a session's end"),
    }
}

/// Ends sessions whose time is up.
pub struct SessionSweep {
    pub book: SessionBook,
    pub store: Addr<EventStore>,
    pub sockets: SessionRegistry,
}

impl Actor for SessionSweep {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(SWEEP, |act, _ctx| {
            for (session, end) in act.book.sweep(clock::now_secs()) {
                let (store, sockets) = (act.store.clone(), act.sockets.clone());
                actix::spawn(async move { end_session(&store, &sockets, session, end).await });
            }
        });
    }
}

/// At start: records the end (`restart`) of every session this server
/// held in a former life, which no memory holds any more. On PostgreSQL
/// those of this `node` (any incarnation; the new one has none yet), and
/// those recorded before sessions named their node.
pub async fn end_former_sessions(
    store: &Addr<EventStore>,
    readers: &Readers,
    node: &str,
) -> Result<usize, StoreError> {
    let open = readers.open_sessions(node).await?;
    if open.is_empty() {
        return Ok(0);
    }
    let ended = end_open(store, open, SessionEnd::Restart.as_str()).await;
    tracing::info!(
        sessions = ended,
        "recorded the end of the sessions of the last run"
    );
    Ok(ended)
}

/// A cluster node's sessions follow its fence: when it goes up (the
/// lease is lost, the database refuses this node's commits) every session
/// is dropped and its WebSockets closed; people sign in again. When it
/// comes down, the ends of the dropped sessions that no rescuer recorded
/// are recorded (`node_lost`).
pub async fn follow_fence(
    mut fence: tokio::sync::watch::Receiver<bool>,
    sign_in: super::SignIn,
    store: Addr<EventStore>,
    readers: Readers,
    sockets: SessionRegistry,
) {
    let Some(node) = sign_in.node.clone() else {
        return;
    };
    while fence.changed().await.is_ok() {
        let up = *fence.borrow_and_update();
        if up {
            for session in sign_in.book.clear() {
                close_sockets(&sockets, &session.id, SessionEnd::NodeLost);
            }
            continue;
        }
        let dropped = match readers.open_sessions(node.node()).await {
            Ok(open) => open
                .into_iter()
                .filter(|s: &OpenSession| s.node.as_deref() == Some(node.node()))
                .filter(|s| !sign_in.book.holds(&s.session))
                .collect(),
            Err(err) => {
                tracing::warn!(error.cause_chain = ?err, "cannot read this node's sessions; their ends wait for its next start");
                continue;
            }
        };
        end_open(&store, dropped, SessionEnd::NodeLost.as_str()).await;
    }
}
