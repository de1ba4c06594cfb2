//! What the timer learns from the log: the users (whose exectabs it
//! looks at), the schedules' pauses and, in a cluster, the latest tick
//! of each schedule recorded by any node (a tick this node stands by for
//! is not fired once it is seen). Users and pauses are read once at start; then
//! the timer is told of them as they are committed: its own pauses by its
//! handler, and on PostgreSQL every node's commits through the follower
//! (`EventsCommitted`). No statement is run per second for them.

use std::collections::HashSet;
use std::time::Duration;

use actix::prelude::*;

use super::{Key, Phase, Timer, RETRY_AFTER};
use crate::events::{Event, EventsCommitted, StoreError};
use crate::ids::UserId;
use crate::schedule::TickSkip;

/// SQLite only: how often the users are read again (see `started`).
pub(super) const USERS_EVERY: Duration = Duration::from_secs(5);

impl Timer {
    /// Reads the users and the pauses, then looks at the exectabs. A read
    /// that a pause or user event overtook is made again: it may predate it.
    pub(super) fn read_log(&mut self, ctx: &mut Context<Self>) {
        let observed = self.observed;
        let readers = self.shared.readers.clone();
        let read = async move {
            let users: HashSet<UserId> = readers.users().await?.into_iter().map(|u| u.id).collect();
            let mut paused = HashSet::new();
            for switch in readers.schedule_switches().await? {
                let key = (switch.user, switch.name);
                match switch.paused {
                    true => paused.insert(key),
                    false => paused.remove(&key),
                };
            }
            Ok::<_, StoreError>((users, paused))
        };
        ctx.spawn(read.into_actor(self).map(move |read, act, ctx| match read {
            Ok(_) if act.observed != observed => act.read_log(ctx),
            Ok((users, paused)) => {
                // Only the schedules whose pause changed (SQLite reads
                // again every few seconds; most reads change nothing).
                let changed: Vec<Key> = act.paused.symmetric_difference(&paused).cloned().collect();
                act.paused = paused;
                act.set_users(users);
                for key in changed {
                    act.align(key, ctx);
                }
                act.scan(ctx);
            }
            Err(err) => {
                tracing::warn!(error.cause_chain = ?err, "cannot read the schedules' users and pauses; trying again");
                ctx.run_later(RETRY_AFTER, |act, ctx| act.read_log(ctx));
            }
        }));
    }

    /// Keeps these users; the schedules of the others go.
    fn set_users(&mut self, users: HashSet<UserId>) {
        self.entries.retain(|key, _| users.contains(&key.0));
        self.recount = true;
        self.files.retain(|user, _| users.contains(user));
        self.users = Some(users);
    }

    /// A record of `key`'s ticks up to `tick`, by any node.
    fn seen_recorded(&mut self, key: &Key, tick: i64) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.recorded = Some(entry.recorded.map_or(tick, |seen| seen.max(tick)));
        }
    }

    /// A pause or resume of `key`, made on any node.
    pub(super) fn switch(&mut self, key: Key, paused: bool, ctx: &mut Context<Self>) {
        self.observed += 1;
        match paused {
            true => self.paused.insert(key.clone()),
            false => self.paused.remove(&key),
        };
        self.align(key, ctx);
    }

    /// Brings `key`'s phase in line with its pause: a pause stops it, a
    /// resume takes it up again (catching up what it missed while paused).
    fn align(&mut self, key: Key, ctx: &mut Context<Self>) {
        let paused = self.paused.contains(&key);
        let Some(entry) = self.entries.get_mut(&key) else {
            return;
        };
        match (entry.phase, paused) {
            (Phase::Ticking | Phase::Adopting, true) => {
                entry.phase = Phase::Paused;
                entry.next = None;
                self.recount = true;
            }
            (Phase::Paused, false) => self.adopt(key, TickSkip::Paused, ctx),
            _ => {}
        }
    }
}

/// Every commit of the cluster, in log order (PostgreSQL's follower; its
/// own included, which its handler already took in: taking one twice
/// changes nothing).
impl Handler<EventsCommitted> for Timer {
    type Result = ();

    fn handle(&mut self, msg: EventsCommitted, ctx: &mut Context<Self>) {
        for stored in msg.events.iter() {
            match &stored.event {
                Event::SchedulePaused { name, .. } => {
                    self.switch((stored.user, name.clone()), true, ctx)
                }
                Event::ScheduleResumed { name, .. } => {
                    self.switch((stored.user, name.clone()), false, ctx)
                }
                Event::ScheduleTicked {
                    name, tick, missed, ..
                } => {
                    let key = (stored.user, name.clone());
                    let last = missed.map_or(*tick, |m| m.last.max(*tick));
                    self.seen_recorded(&key, last);
                    self.standby.seen(&key, *tick);
                }
                Event::UserCreated { user, .. } => {
                    self.observed += 1;
                    if let Some(users) = &mut self.users {
                        users.insert(*user);
                    }
                }
                Event::UserRemoved { user } => {
                    self.observed += 1;
                    if let Some(mut users) = self.users.take() {
                        users.remove(user);
                        self.set_users(users);
                    }
                }
                _ => {}
            }
        }
    }
}
