//! MonitorHub: turns committed events into monitor pushes. It receives every
//! commit from the EventStore in log order, so a push is never sent before
//! its event is durable, and replays missed pushes (`after`) from the log
//! with no gap and no duplicate. Sessions are fed with `try_send`: a socket
//! whose bounded mailbox is full is dropped instead of slowing anyone.

mod pace;
mod render;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use bytestring::ByteString;

use render::Rendered;

use crate::accounts::{Guest, ScriptFilter};
use crate::clock;
use crate::events::{Event, EventsCommitted, Readers, StoredEvent};
use crate::ids::{ScriptName, UserId};
use crate::metrics::Metrics;
use crate::rights::View;

/// Replayed events are read in pages of this many.
const REPLAY_PAGE: i64 = 1000;
/// Push bytes that may wait for one session before it is cut off.
const MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;

/// Why a slow session is closed.
const FULL: &str = "monitor buffer full";

/// How the hub feeds one session and cuts it off. A session whose peer
/// stops reading is not polled any more (its writes are blocked), so a
/// message cannot stop it: `cut` shuts its socket down from outside.
#[derive(Clone)]
pub struct Outlet {
    pub recipient: Recipient<Push>,
    /// Bytes sent to the session and not yet written out by it.
    pub queued_bytes: Arc<AtomicUsize>,
    pub cut: Arc<dyn Fn() + Send + Sync>,
}

/// What the hub sends to a monitor session.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub enum Push {
    /// One push, as JSON text (shared by the monitors it is for).
    Text(ByteString),
    /// The session must close (slow reader, or its key stopped working).
    Close(&'static str),
}

enum Phase {
    Live,
    /// Reading missed events; live ones wait here meanwhile.
    Replaying {
        buffer: Vec<StoredEvent>,
        /// Whether the log has been read to its end (only `buffer` is left).
        caught_up: bool,
        pace: pace::Pace,
    },
}

struct Subscription {
    id: u64,
    session: u64,
    outlet: Outlet,
    name: Option<ScriptName>,
    verbose: bool,
    api_sequence: i64,
    guest: Option<Guest>,
    /// The scripts a signed-in person's grants reach (all for keys).
    scripts: ScriptFilter,
    phase: Phase,
    /// Highest seq pushed (or skipped), so replay and live never overlap.
    last_seq: i64,
}

/// The hub actor.
pub struct MonitorHub {
    readers: Readers,
    metrics: Metrics,
    subs: HashMap<UserId, Vec<Subscription>>,
    next_id: u64,
}

impl MonitorHub {
    /// A hub reading replays through `pool`.
    pub fn new(readers: Readers, metrics: Metrics) -> Self {
        MonitorHub {
            readers,
            metrics,
            subs: HashMap::new(),
            next_id: 1,
        }
    }

    fn close_session(&mut self, user: UserId, session: u64, reason: &'static str) {
        if let Some(subs) = self.subs.get_mut(&user) {
            if let Some(sub) = subs.iter().find(|s| s.session == session) {
                tracing::info!(session, reason, "closing monitor session");
                sub.outlet.recipient.do_send(Push::Close(reason));
                if reason == FULL {
                    (sub.outlet.cut)();
                }
            }
            subs.retain(|s| s.session != session);
        }
    }

    fn load_page(&self, user: UserId, sub: u64, after: i64, ctx: &mut Context<Self>) {
        let readers = self.readers.clone();
        let load = async move { readers.events_after(user, after, REPLAY_PAGE, None).await };
        ctx.spawn(
            load.into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(events) => act.replayed(user, sub, events, ctx),
                    Err(err) => {
                        tracing::error!(error.cause_chain = ?err, "monitor replay failed");
                        if let Some(session) = act.find(user, sub).map(|s| s.session) {
                            act.close_session(user, session, "replay failed");
                        }
                    }
                }),
        );
    }

    fn find(&mut self, user: UserId, sub: u64) -> Option<&mut Subscription> {
        self.subs.get_mut(&user)?.iter_mut().find(|s| s.id == sub)
    }

    fn replayed(
        &mut self,
        user: UserId,
        sub_id: u64,
        events: Vec<StoredEvent>,
        ctx: &mut Context<Self>,
    ) {
        let full_page = events.len() as i64 >= REPLAY_PAGE;
        if let Some(Phase::Replaying { caught_up, .. }) =
            self.find(user, sub_id).map(|s| &mut s.phase)
        {
            *caught_up = !full_page;
        }
        self.feed(user, sub_id, events.into(), ctx);
    }

    /// Feeds replayed events as fast as the session's reader drains them,
    /// then reads the next page, or (once caught up) the live events that
    /// waited meanwhile, and goes live.
    fn feed(
        &mut self,
        user: UserId,
        sub_id: u64,
        mut pending: VecDeque<StoredEvent>,
        ctx: &mut Context<Self>,
    ) {
        let Some(sub) = self.find(user, sub_id) else {
            return;
        };
        while let Some(event) = pending.front() {
            let now = std::time::Instant::now();
            if offer(sub, event) {
                if let Phase::Replaying { pace, .. } = &mut sub.phase {
                    pace.progressed(now);
                }
                pending.pop_front();
                continue;
            }
            let stalled = match &sub.phase {
                Phase::Replaying { pace, .. } => pace.stalled(now),
                Phase::Live => true,
            };
            if stalled {
                let session = sub.session;
                self.close_session(user, session, FULL);
            } else {
                ctx.run_later(pace::RETRY, move |act, ctx| {
                    act.feed(user, sub_id, pending, ctx)
                });
            }
            return;
        }
        let last = sub.last_seq;
        match &mut sub.phase {
            Phase::Replaying {
                caught_up: false, ..
            } => self.load_page(user, sub_id, last, ctx),
            Phase::Replaying { buffer, .. } if !buffer.is_empty() => {
                let waiting = std::mem::take(buffer).into();
                self.feed(user, sub_id, waiting, ctx);
            }
            phase => *phase = Phase::Live,
        }
    }
}

/// Offers one replayed event to a subscription: true when it was sent or
/// is not for it; false (nothing changed) when the reader must catch up
/// first.
fn offer(sub: &mut Subscription, event: &StoredEvent) -> bool {
    if event.seq <= sub.last_seq {
        return true;
    }
    let matches = sub
        .name
        .as_ref()
        .is_none_or(|name| event.event.script() == Some(name))
        && reaches(&sub.scripts, event);
    let owner = View::of_guest(sub.guest.as_ref()).is_owner();
    let text = if matches {
        Rendered::default().get(event, sub.verbose, owner, sub.api_sequence)
    } else {
        None
    };
    let Some(text) = text else {
        sub.last_seq = event.seq;
        return true;
    };
    let outlet = &sub.outlet;
    let len = text.len();
    if outlet.queued_bytes.load(Ordering::Relaxed) + len > pace::HIGH_WATER.max(len) {
        return false;
    }
    // Counted before the send: the session may write it out at once.
    outlet.queued_bytes.fetch_add(len, Ordering::Relaxed);
    if outlet.recipient.try_send(Push::Text(text)).is_err() {
        outlet.queued_bytes.fetch_sub(len, Ordering::Relaxed);
        return false;
    }
    sub.last_seq = event.seq;
    true
}

/// Whether a subscriber limited to `scripts` may see `event`: one of a
/// script they reach; nothing else when they reach only some.
fn reaches(scripts: &ScriptFilter, event: &StoredEvent) -> bool {
    match scripts {
        ScriptFilter::All => true,
        ScriptFilter::Globs(_) => event
            .event
            .script()
            .is_some_and(|name| scripts.allows(name.as_str())),
    }
}

/// Sends one event to one subscription if it matches; false when the
/// session's buffer is full.
fn deliver(sub: &mut Subscription, event: &StoredEvent, rendered: &mut Rendered) -> bool {
    if event.seq <= sub.last_seq {
        return true;
    }
    sub.last_seq = event.seq;
    if let Some(name) = &sub.name {
        if event.event.script() != Some(name) {
            return true;
        }
    }
    if !reaches(&sub.scripts, event) {
        return true;
    }
    let owner = View::of_guest(sub.guest.as_ref()).is_owner();
    let Some(text) = rendered.get(event, sub.verbose, owner, sub.api_sequence) else {
        return true;
    };
    let outlet = &sub.outlet;
    let len = text.len();
    if outlet.queued_bytes.load(Ordering::Relaxed) + len > MAX_QUEUED_BYTES {
        return false;
    }
    if outlet.recipient.try_send(Push::Text(text)).is_err() {
        return false;
    }
    outlet.queued_bytes.fetch_add(len, Ordering::Relaxed);
    true
}

impl Actor for MonitorHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1 << 16);
    }
}

impl Handler<EventsCommitted> for MonitorHub {
    type Result = ();

    fn handle(&mut self, msg: EventsCommitted, _ctx: &mut Context<Self>) {
        let now = clock::now_secs();
        for event in msg.events.iter() {
            let user = event.user;
            let mut rendered = Rendered::default();
            match &event.event {
                Event::GuestDeleted { guest, .. } => self.drop_guest(user, |g| g.id == *guest),
                // The reasons the key watch gives too: on PostgreSQL both
                // see a change made anywhere, and either may close first.
                Event::UserRemoved { .. } => self.drop_user(user, "user removed"),
                Event::ApiKeyRotated { .. } => self.drop_user(user, "api key rotated"),
                _ => {}
            }
            let Some(subs) = self.subs.get_mut(&user) else {
                continue;
            };
            let mut closing = Vec::new();
            for sub in subs.iter_mut() {
                if sub.guest.as_ref().is_some_and(|g| g.expires <= now) {
                    closing.push((sub.session, "guest key expired"));
                    continue;
                }
                match &mut sub.phase {
                    Phase::Replaying { buffer, .. } => buffer.push(event.clone()),
                    Phase::Live => {
                        if !deliver(sub, event, &mut rendered) {
                            closing.push((sub.session, FULL));
                        }
                    }
                }
            }
            for (session, reason) in closing {
                self.close_session(user, session, reason);
            }
        }
    }
}

impl MonitorHub {
    fn drop_guest(&mut self, user: UserId, matches: impl Fn(&Guest) -> bool) {
        let sessions: Vec<u64> = self
            .subs
            .get(&user)
            .map(|subs| {
                subs.iter()
                    .filter(|s| s.guest.as_ref().is_some_and(&matches))
                    .map(|s| s.session)
                    .collect()
            })
            .unwrap_or_default();
        for session in sessions {
            self.close_session(user, session, "guest key deleted");
        }
    }

    /// A user's key changed or the user is gone: owner sessions must
    /// re-authenticate, so close them; guests of a removed user go too.
    fn drop_user(&mut self, user: UserId, reason: &'static str) {
        let sessions: Vec<u64> = self
            .subs
            .get(&user)
            .map(|subs| {
                subs.iter()
                    .filter(|s| s.guest.is_none())
                    .map(|s| s.session)
                    .collect()
            })
            .unwrap_or_default();
        for session in sessions {
            self.close_session(user, session, reason);
        }
    }
}

/// Register a monitor for one script name (`None`: every script).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub user: UserId,
    pub session: u64,
    pub outlet: Outlet,
    pub name: Option<ScriptName>,
    pub verbose: bool,
    pub api_sequence: i64,
    pub guest: Option<Guest>,
    /// The scripts a signed-in person's grants reach (all for keys).
    pub scripts: ScriptFilter,
    /// Replay every push after this event sequence number first.
    pub after: Option<i64>,
}

impl Handler<Subscribe> for MonitorHub {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) {
        let id = self.next_id;
        self.next_id += 1;
        let phase = match msg.after {
            Some(_) => Phase::Replaying {
                buffer: Vec::new(),
                caught_up: false,
                pace: pace::Pace::new(),
            },
            None => Phase::Live,
        };
        self.subs.entry(msg.user).or_default().push(Subscription {
            id,
            session: msg.session,
            outlet: msg.outlet,
            name: msg.name,
            verbose: msg.verbose,
            api_sequence: msg.api_sequence,
            guest: msg.guest,
            scripts: msg.scripts,
            phase,
            last_seq: msg.after.unwrap_or(0),
        });
        if let Some(after) = msg.after {
            self.load_page(msg.user, id, after, ctx);
        }
    }
}

/// Remove a session's monitor of one name (`None`: the `""` monitor).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub user: UserId,
    pub session: u64,
    pub name: Option<ScriptName>,
}

impl Handler<Unsubscribe> for MonitorHub {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Context<Self>) {
        if let Some(subs) = self.subs.get_mut(&msg.user) {
            subs.retain(|s| !(s.session == msg.session && s.name == msg.name));
        }
    }
}

/// A session connected (for the gauge) or closed (drop its monitors).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionChanged {
    pub user: UserId,
    pub session: u64,
    pub open: bool,
}

impl Handler<SessionChanged> for MonitorHub {
    type Result = ();

    fn handle(&mut self, msg: SessionChanged, _ctx: &mut Context<Self>) {
        self.metrics.monitor_connected(msg.open);
        if !msg.open {
            if let Some(subs) = self.subs.get_mut(&msg.user) {
                subs.retain(|s| s.session != msg.session);
            }
        }
    }
}
