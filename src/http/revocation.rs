//! KeyWatch: notices, within a fraction of a second, that a key stopped
//! working, whichever process changed it (`scriptd user rotate-key` and
//! `user remove` write to the database from another process), and acts:
//! every WebSocket session on a dead key is closed with its reason, and a
//! removed user's queued runs are cancelled and running ones killed.
//!
//! It polls the end of the event log (one indexed read of `max(seq)`),
//! reads only the account events past its cursor, and re-checks only the
//! sessions of the users those events touch. On PostgreSQL it is told
//! every commit of every process instead (through the cluster's
//! follower, which hears other processes' `NOTIFY`), and reads only when
//! the log moved: an idle node then costs the database no query for it
//! (issue 29; five a second before). Guest expiry needs no event:
//! expired guest sessions are closed on the next tick.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;

use super::sessions::{Revoke, SessionKey, SessionRegistry};
use crate::accounts::Principal;
use crate::actors::account::EndAllRuns;
use crate::actors::directory::{AccountDirectory, GetAccount};
use crate::clock;
use crate::events::types::Origin;
use crate::events::watch::{AccountChange, AccountChangeKind};
use crate::events::{EventsCommitted, Readers, StoreError};
use crate::ids::UserId;

/// How often the log's end is looked at.
const TICK: Duration = Duration::from_millis(200);

/// Who ended a removed user's runs, in their audit fields.
const REMOVAL: &str = "user-remove";

/// The watch actor.
pub struct KeyWatch {
    readers: Readers,
    sessions: SessionRegistry,
    directory: Addr<AccountDirectory>,
    /// The last event seq looked at.
    cursor: i64,
    /// A look at the log is in flight; ticks meanwhile are skipped.
    busy: bool,
    /// The log's end as told by [`EventsCommitted`], when it is told
    /// every commit ([`KeyWatch::told_commits`]); else it polls.
    told: Option<i64>,
}

impl KeyWatch {
    /// A watch starting at the log's end now.
    pub async fn new(
        readers: Readers,
        sessions: SessionRegistry,
        directory: Addr<AccountDirectory>,
    ) -> Self {
        KeyWatch {
            cursor: readers.last_seq().await.unwrap_or(0),
            readers,
            sessions,
            directory,
            busy: false,
            told: None,
        }
    }

    /// From now on it is told every commit (by the follower, on
    /// PostgreSQL) and looks at the log only when it moved.
    pub fn told_commits(mut self) -> Self {
        self.told = Some(self.cursor);
        self
    }

    fn end_runs_of(&self, user: UserId) {
        let directory = self.directory.clone();
        actix::spawn(async move {
            if let Ok(Some(account)) = directory.send(GetAccount { user }).await {
                let origin = Origin {
                    operator: Some(REMOVAL.to_owned()),
                    ..Origin::default()
                };
                tracing::info!(%user, "ending the runs of a removed user");
                let _ = account.send(EndAllRuns { origin }).await;
            }
        });
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.close_expired();
        if self.busy || self.told.is_some_and(|end| end <= self.cursor) {
            return;
        }
        self.busy = true;
        let (readers, cursor) = (self.readers.clone(), self.cursor);
        let look = async move { changes_after(&readers, cursor).await };
        ctx.spawn(look.into_actor(self).map(|result, act, _ctx| {
            act.busy = false;
            match result {
                Ok(Some((last, changes))) => {
                    act.cursor = last;
                    act.changed(changes);
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, "cannot read account changes")
                }
            }
        }));
    }

    fn changed(&self, changes: Vec<AccountChange>) {
        let mut touched: BTreeMap<UserId, AccountChangeKind> = BTreeMap::new();
        for change in changes {
            if change.kind == AccountChangeKind::UserRemoved {
                self.end_runs_of(change.user);
            }
            touched.insert(change.user, change.kind);
        }
        for (user, kind) in touched {
            let sessions = self.sessions.of_user(user);
            actix::spawn(recheck(self.readers.clone(), user, kind, sessions));
        }
    }

    fn close_expired(&self) {
        for session in self.sessions.expired(clock::now_secs()) {
            session.closer.do_send(Revoke {
                reason: "guest key expired",
            });
        }
    }
}

/// The log's new end and the account changes up to it, if it moved.
async fn changes_after(
    readers: &Readers,
    cursor: i64,
) -> Result<Option<(i64, Vec<AccountChange>)>, StoreError> {
    let last = readers.last_seq().await?;
    if last <= cursor {
        return Ok(None);
    }
    Ok(Some((last, readers.account_changes_after(cursor).await?)))
}

/// Closes each of `sessions` (of `user`) whose key no longer works.
async fn recheck(
    readers: Readers,
    user: UserId,
    kind: AccountChangeKind,
    sessions: Vec<SessionKey>,
) {
    let now = clock::now_secs();
    for session in sessions {
        // A signed-in person's socket has no key to re-check; only the
        // account's removal ends it here (sign-out and expiry end it in
        // `http::oidc::end`).
        if session.key_hash.starts_with("session:") {
            if kind == AccountChangeKind::UserRemoved {
                session.closer.do_send(Revoke {
                    reason: "user removed",
                });
            }
            continue;
        }
        let valid = match readers.principal(&session.key_hash, now).await {
            Ok(principal) => principal.is_some_and(|p| match p {
                Principal::User(u) => u.id == user,
                Principal::Guest(g) => g.user == user,
                Principal::Person(p) => p.user.id == user,
            }),
            // Unknown is not revoked: the next message re-checks anyway.
            Err(_) => true,
        };
        if !valid {
            let reason = match (kind, session.guest) {
                (AccountChangeKind::UserRemoved, _) => "user removed",
                (_, true) => "guest key deleted",
                (_, false) => "api key rotated",
            };
            tracing::info!(session = session.id, reason, "closing a revoked session");
            session.closer.do_send(Revoke { reason });
        }
    }
}

impl Handler<EventsCommitted> for KeyWatch {
    type Result = ();

    fn handle(&mut self, msg: EventsCommitted, _ctx: &mut Context<Self>) {
        if let (Some(told), Some(last)) = (self.told.as_mut(), msg.events.last()) {
            *told = (*told).max(last.seq);
        }
    }
}

impl Actor for KeyWatch {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Runs of users removed while the server was down end now.
        let readers = self.readers.clone();
        let removed = async move { readers.removed_users_with_live_runs().await };
        ctx.spawn(
            removed
                .into_actor(self)
                .map(|result, act, _ctx| match result {
                    Ok(users) => users.into_iter().for_each(|user| act.end_runs_of(user)),
                    Err(err) => {
                        tracing::warn!(error.cause_chain = ?err, "cannot look for removed users")
                    }
                }),
        );
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
    }
}
