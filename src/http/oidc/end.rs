//! The end of sessions: sign-out, and the sweep that ends sessions past
//! their absolute or idle deadline. Each end is a `SessionEnded` event on
//! the account's stream, and closes the session's WebSockets with 1008
//! and the reason, as a revoked key's are.

use std::time::Duration;

use actix::prelude::*;

use super::super::sessions::{Revoke, SessionRegistry};
use crate::clock;
use crate::events::store::Append;
use crate::events::types::{Event, NewEvent};
use crate::events::EventStore;
use crate::oidc::session::Session;
use crate::oidc::{SessionBook, SessionEnd};

/// How often deadlines are looked at.
const SWEEP: Duration = Duration::from_secs(1);

/// The key a session's WebSockets are registered under.
pub fn registry_key(session: &str) -> String {
    format!("session:{session}")
}

/// Records the end of `session` and closes its WebSockets.
pub async fn end_session(
    store: &Addr<EventStore>,
    sockets: &SessionRegistry,
    session: Session,
    end: SessionEnd,
) {
    for socket in sockets.with_key(&registry_key(&session.id)) {
        socket.closer.do_send(Revoke {
            reason: end.as_str(),
        });
    }
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
