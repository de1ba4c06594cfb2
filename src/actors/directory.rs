//! AccountDirectory: finds (or starts) the AccountSupervisor of a user.

use std::collections::{BTreeMap, HashMap};

use actix::prelude::*;

use super::account::{self, AccountSupervisor};
use super::Shared;
use crate::events::{EventsCommitted, StoredEvent};
use crate::ids::UserId;

/// The registry of account actors.
pub struct AccountDirectory {
    shared: Shared,
    accounts: HashMap<UserId, Addr<AccountSupervisor>>,
    stopping: bool,
}

impl AccountDirectory {
    /// An empty directory.
    pub fn new(shared: Shared) -> Self {
        AccountDirectory {
            shared,
            accounts: HashMap::new(),
            stopping: false,
        }
    }
}

impl Actor for AccountDirectory {
    type Context = Context<Self>;
}

/// The account actor of a user, started on first use.
#[derive(Message)]
#[rtype(result = "Option<Addr<AccountSupervisor>>")]
pub struct GetAccount {
    pub user: UserId,
}

impl Handler<GetAccount> for AccountDirectory {
    type Result = Option<Addr<AccountSupervisor>>;

    fn handle(&mut self, msg: GetAccount, _ctx: &mut Context<Self>) -> Self::Result {
        if self.stopping {
            return None;
        }
        let shared = &self.shared;
        Some(
            self.accounts
                .entry(msg.user)
                .or_insert_with(|| AccountSupervisor::new(msg.user, shared.clone()).start())
                .clone(),
        )
    }
}

/// Every node's commits, in log order (PostgreSQL's follower): each
/// user's run events go to its account, started if need be, whose
/// queues mirror what other nodes do with their runs.
impl Handler<EventsCommitted> for AccountDirectory {
    type Result = ();

    fn handle(&mut self, msg: EventsCommitted, _ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        let mut by_user: BTreeMap<UserId, Vec<StoredEvent>> = BTreeMap::new();
        for stored in msg.events.iter().filter(|e| e.event.script().is_some()) {
            by_user.entry(stored.user).or_default().push(stored.clone());
        }
        let shared = &self.shared;
        for (user, events) in by_user {
            self.accounts
                .entry(user)
                .or_insert_with(|| AccountSupervisor::new(user, shared.clone()).start())
                .do_send(account::Observed { events });
        }
    }
}

/// Graceful shutdown of every account; answered when no run is running.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownAll;

impl Handler<ShutdownAll> for AccountDirectory {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: ShutdownAll, _ctx: &mut Context<Self>) -> Self::Result {
        self.stopping = true;
        let accounts: Vec<_> = self.accounts.values().cloned().collect();
        Box::pin(async move {
            futures_util::future::join_all(accounts.iter().map(|a| a.send(account::Shutdown)))
                .await;
        })
    }
}

impl Handler<super::queue::FenceChanged> for AccountDirectory {
    type Result = ();

    /// Passed on to every account, and from there to every queue.
    fn handle(&mut self, msg: super::queue::FenceChanged, _ctx: &mut Context<Self>) {
        for account in self.accounts.values() {
            account.do_send(msg);
        }
    }
}
