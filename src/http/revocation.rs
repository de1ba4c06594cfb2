//! KeyWatch: notices, within a fraction of a second, that a key stopped
//! working, whichever process changed it (`scriptd user rotate-key` and
//! `user remove` write to the database from another process), and acts:
//! every WebSocket session on a dead key is closed with its reason, and a
//! removed user's queued runs are cancelled and running ones killed.
//!
//! It polls the end of the event log (one indexed read of `max(seq)`),
//! reads only the account events past its cursor, and re-checks only the
//! sessions of the users those events touch. Guest expiry needs no event:
//! expired guest sessions are closed on the next tick.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;

use super::sessions::{Revoke, SessionRegistry};
use crate::accounts::Principal;
use crate::actors::account::EndAllRuns;
use crate::actors::directory::{AccountDirectory, GetAccount};
use crate::clock;
use crate::events::lookup::Lookup;
use crate::events::types::Origin;
use crate::events::watch::AccountChangeKind;
use crate::ids::UserId;

/// How often the log's end is looked at.
const TICK: Duration = Duration::from_millis(200);

/// Who ended a removed user's runs, in their audit fields.
const REMOVAL: &str = "user-remove";

/// The watch actor.
pub struct KeyWatch {
    lookup: Lookup,
    sessions: SessionRegistry,
    directory: Addr<AccountDirectory>,
    /// The last event seq looked at.
    cursor: i64,
}

impl KeyWatch {
    /// A watch starting at the log's end now.
    pub fn new(
        lookup: Lookup,
        sessions: SessionRegistry,
        directory: Addr<AccountDirectory>,
    ) -> Self {
        KeyWatch {
            cursor: lookup.last_seq().unwrap_or(0),
            lookup,
            sessions,
            directory,
        }
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

    fn tick(&mut self) {
        self.close_expired();
        let last = match self.lookup.last_seq() {
            Ok(last) => last,
            Err(err) => {
                tracing::warn!(error.cause_chain = ?err, "cannot read the event log's end");
                return;
            }
        };
        if last <= self.cursor {
            return;
        }
        let changes = match self.lookup.account_changes_after(self.cursor) {
            Ok(changes) => changes,
            Err(err) => {
                tracing::warn!(error.cause_chain = ?err, "cannot read account changes");
                return;
            }
        };
        self.cursor = last;
        let mut touched: BTreeMap<UserId, AccountChangeKind> = BTreeMap::new();
        for change in changes {
            if change.kind == AccountChangeKind::UserRemoved {
                self.end_runs_of(change.user);
            }
            touched.insert(change.user, change.kind);
        }
        for (user, kind) in touched {
            self.recheck(user, kind);
        }
    }

    /// Closes each session of `user` whose key no longer works.
    fn recheck(&self, user: UserId, kind: AccountChangeKind) {
        let now = clock::now_secs();
        for session in self.sessions.of_user(user) {
            let valid = match self.lookup.principal(&session.key_hash, now) {
                Ok(principal) => principal.is_some_and(|p| match p {
                    Principal::User(u) => u.id == user,
                    Principal::Guest(g) => g.user == user,
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

    fn close_expired(&self) {
        for session in self.sessions.expired(clock::now_secs()) {
            session.closer.do_send(Revoke {
                reason: "guest key expired",
            });
        }
    }
}

impl Actor for KeyWatch {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Runs of users removed while the server was down end now.
        match self.lookup.removed_users_with_live_runs() {
            Ok(users) => users.into_iter().for_each(|user| self.end_runs_of(user)),
            Err(err) => tracing::warn!(error.cause_chain = ?err, "cannot look for removed users"),
        }
        ctx.run_interval(TICK, |act, _ctx| act.tick());
    }
}
