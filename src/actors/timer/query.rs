//! What clients ask of the timer: the schedules of a user (with their
//! next instants and latest tick), and pausing or resuming one. A pause
//! is an event, so it survives restarts and holds on every node (each
//! node's timer is told of it by the follower, see `observe`).

use std::collections::HashMap;

use actix::prelude::*;

use super::{Entry, Phase, Timer};
use crate::clock;
use crate::events::schedule::LastTick;
use crate::events::types::Origin;
use crate::events::{Append, Event, NewEvent, StoreError};
use crate::ids::{ScriptName, UserId};
use crate::schedule::{Cron, Pattern};

/// How many next instants a schedule shows.
const NEXT_SHOWN: usize = 3;

/// One schedule as `GET schedules` shows it.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    pub name: ScriptName,
    pub cron: String,
    pub zone: &'static str,
    pub catch_up: &'static str,
    pub paused: bool,
    pub next: Vec<i64>,
    /// The schedule in words.
    pub description: String,
    pub last: Option<LastTick>,
}

/// Why a schedule command was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("Invalid 'name'.  The script has no schedule.")]
    NotScheduled,
    #[error("A database error occurred.")]
    Store(#[from] StoreError),
}

/// The schedules of `user` (only `only`'s, for a guest).
#[derive(Message)]
#[rtype(result = "Result<Vec<ScheduleView>, StoreError>")]
pub struct ListSchedules {
    pub user: UserId,
    pub only: Option<ScriptName>,
}

impl Handler<ListSchedules> for Timer {
    type Result = ResponseFuture<Result<Vec<ScheduleView>, StoreError>>;

    fn handle(&mut self, msg: ListSchedules, _ctx: &mut Context<Self>) -> Self::Result {
        let now = clock::now_secs();
        // Schedules with the same expression and zone have the same next
        // instants and words: each is worked out once per list (croner's
        // search and description were most of a long list's time).
        let mut seen: HashMap<&Pattern, (Vec<i64>, String)> = HashMap::new();
        let parses = &mut self.parses;
        let mut views: Vec<ScheduleView> = self
            .entries
            .iter()
            .filter(|((user, name), _)| {
                *user == msg.user && msg.only.as_ref().is_none_or(|only| only == name)
            })
            .map(|((_, name), entry)| {
                let pattern = &entry.pattern;
                let (next, description) = seen
                    .entry(pattern)
                    .or_insert_with(|| match parses.get(pattern) {
                        Some(cron) => (upcoming(&cron, entry, now), cron.describe()),
                        None => (Vec::new(), String::new()),
                    })
                    .clone();
                ScheduleView {
                    name: name.clone(),
                    cron: pattern.expr().to_owned(),
                    zone: pattern.zone(),
                    catch_up: entry.catch_up.as_str(),
                    paused: entry.phase == Phase::Paused,
                    next,
                    description,
                    last: None,
                }
            })
            .collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        let readers = self.shared.readers.clone();
        Box::pin(async move {
            // One schedule (a guest's): one point read; more: one read of all.
            if let [view] = views.as_mut_slice() {
                view.last = readers.last_tick(msg.user, &view.name).await?;
                return Ok(views);
            }
            let mut lasts = readers.last_ticks(msg.user).await?;
            for view in &mut views {
                view.last = lasts.remove(&view.name);
            }
            Ok(views)
        })
    }
}

/// The next [`NEXT_SHOWN`] instants of `entry` after `now`: a ticking
/// schedule's next one is in its entry already (one search of three saved).
fn upcoming(cron: &Cron, entry: &Entry, now: i64) -> Vec<i64> {
    match entry.next.filter(|next| *next > now) {
        Some(next) if entry.phase == Phase::Ticking => {
            let mut out = vec![next];
            out.extend(cron.upcoming(next, NEXT_SHOWN - 1));
            out
        }
        _ => cron.upcoming(now, NEXT_SHOWN),
    }
}

/// Pause (or resume) the schedule of `name`.
#[derive(Message)]
#[rtype(result = "Result<(), ScheduleError>")]
pub struct PauseSchedule {
    pub user: UserId,
    pub name: ScriptName,
    pub paused: bool,
    pub origin: Origin,
}

impl Handler<PauseSchedule> for Timer {
    type Result = ResponseActFuture<Self, Result<(), ScheduleError>>;

    fn handle(&mut self, msg: PauseSchedule, _ctx: &mut Context<Self>) -> Self::Result {
        let key = (msg.user, msg.name.clone());
        if !self.entries.contains_key(&key) {
            return Box::pin(fut::ready(Err(ScheduleError::NotScheduled)));
        }
        let event = match msg.paused {
            true => Event::SchedulePaused {
                name: msg.name,
                origin: msg.origin,
            },
            false => Event::ScheduleResumed {
                name: msg.name,
                origin: msg.origin,
            },
        };
        let append = self.shared.store.send(Append {
            events: vec![NewEvent::new(msg.user, event)],
        });
        let paused = msg.paused;
        Box::pin(append.into_actor(self).map(move |result, act, ctx| {
            crate::run::flatten(result)?;
            act.switch(key, paused, ctx);
            Ok(())
        }))
    }
}
