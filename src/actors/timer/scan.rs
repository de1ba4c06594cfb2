//! Reading what is scheduled: every user's exectab (in a blocking task:
//! small files, but file I/O stays off the actor) and the pauses recorded
//! in the log, then bringing the timer's entries in line with them.

use std::collections::{HashMap, HashSet};

use actix::prelude::*;

use super::{Entry, Key, Phase, Timer};
use crate::config::Config;
use crate::events::{Readers, StoreError};
use crate::exectab::{Exectab, ScheduleDef};
use crate::ids::{ScriptName, UserId};
use crate::schedule::{Cron, TickSkip};

/// What one scan found.
struct Found {
    schedules: Vec<(Key, ScheduleDef)>,
    paused: HashSet<Key>,
}

async fn read_all(readers: Readers, config: std::sync::Arc<Config>) -> Result<Found, StoreError> {
    let users: Vec<UserId> = readers.users().await?.into_iter().map(|u| u.id).collect();
    let mut paused = HashSet::new();
    for switch in readers.schedule_switches().await? {
        let key = (switch.user, switch.name);
        match switch.paused {
            true => paused.insert(key),
            false => paused.remove(&key),
        };
    }
    let schedules = tokio::task::spawn_blocking(move || read_exectabs(&config, &users))
        .await
        .unwrap_or_default();
    Ok(Found { schedules, paused })
}

/// The scheduled lines of these users' exectabs (bad lines are the
/// account's to report; they schedule nothing).
fn read_exectabs(config: &Config, users: &[UserId]) -> Vec<(Key, ScheduleDef)> {
    let mut out = Vec::new();
    for user in users {
        let path = config.scripts_dir(*user).join("exectab.txt");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let (exectab, _) = Exectab::parse(&text);
        for def in exectab.scripts() {
            let (Some(schedule), Some(name)) = (&def.schedule, ScriptName::parse(&def.name)) else {
                continue;
            };
            out.push(((*user, name), schedule.clone()));
        }
    }
    out
}

impl Timer {
    /// Starts a scan unless one is in flight.
    pub(super) fn scan(&mut self, ctx: &mut Context<Self>) {
        if self.scanning {
            return;
        }
        self.scanning = true;
        let switches = self.switches;
        let read = read_all(self.shared.readers.clone(), self.shared.config.clone());
        ctx.spawn(read.into_actor(self).map(move |found, act, ctx| {
            act.scanning = false;
            match found {
                Ok(found) => act.apply(found, switches != act.switches, ctx),
                Err(err) => tracing::warn!(error.cause_chain = ?err, "cannot read the schedules"),
            }
        }));
    }

    /// Brings the entries in line with a scan; `stale_pauses` when a
    /// pause or resume was made here since the scan read them.
    fn apply(&mut self, found: Found, stale_pauses: bool, ctx: &mut Context<Self>) {
        let mut seen = HashMap::with_capacity(found.schedules.len());
        for (key, def) in found.schedules {
            let zone = def.zone.as_deref().unwrap_or(&self.shared.config.timezone);
            let cron = match Cron::parse(&def.cron, zone) {
                Ok(cron) => cron,
                Err(err) => {
                    tracing::warn!(user = %key.0, script = %key.1, "{err}");
                    continue;
                }
            };
            let paused = match (stale_pauses, self.entries.get(&key)) {
                (true, Some(entry)) => entry.phase == Phase::Paused,
                _ => found.paused.contains(&key),
            };
            seen.insert(key.clone(), ());
            self.update(key, cron, def, paused, ctx);
        }
        self.entries.retain(|key, _| seen.contains_key(key));
    }

    /// One schedule of the scan: new, changed, paused, resumed or as it was.
    fn update(
        &mut self,
        key: Key,
        cron: Cron,
        def: ScheduleDef,
        paused: bool,
        ctx: &mut Context<Self>,
    ) {
        let same = self.entries.get(&key).is_some_and(|e| {
            e.cron.expr() == cron.expr()
                && e.cron.zone() == cron.zone()
                && e.catch_up == def.catch_up
        });
        let phase = self.entries.get(&key).map(|e| e.phase);
        if !same {
            let phase = if paused {
                Phase::Paused
            } else {
                Phase::Adopting
            };
            let entry = Entry {
                cron,
                catch_up: def.catch_up,
                phase,
                next: None,
            };
            self.entries.insert(key.clone(), entry);
            if !paused {
                self.adopt(key, TickSkip::Missed, ctx);
            }
            return;
        }
        match (phase, paused) {
            (Some(Phase::Ticking | Phase::Adopting), true) => {
                if let Some(entry) = self.entries.get_mut(&key) {
                    entry.phase = Phase::Paused;
                    entry.next = None;
                }
            }
            (Some(Phase::Paused), false) => self.adopt(key, TickSkip::Paused, ctx),
            (Some(Phase::Unadopted), false) => self.adopt(key, TickSkip::Missed, ctx),
            _ => {}
        }
    }
}
