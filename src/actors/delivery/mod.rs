//! The delivery worker of webhooks (issue 31): one actor per node that
//! claims due outbox rows, POSTs them signed, and records each attempt.
//! It never polls: the outbox's `due` index is its timer heap, and it
//! keeps one timer, set to the earliest due row (or claim) the last claim
//! reported; a commit that wrote deliveries wakes it earlier. Sends run
//! as futures on its context, so a slow receiver blocks nothing.

pub mod body;
pub mod client;

use std::time::{Duration, Instant};

use actix::prelude::*;
use rand::Rng;

use crate::clock;
use crate::events::outbox::{
    self, Attempt, ClaimDeliveries, Claimed, Delivery, RecordAttempt, ReleaseClaims,
};
use crate::events::store::{Append, EventsCommitted};
use crate::events::{Event, EventStore, NewEvent};
use crate::hook::limits::{self, HookLimits};
use crate::hook::sign;
use crate::hook::target::AllowList;
use body::Answer;

/// Rows claimed by one pass at most; a full pass asks for the next.
const CLAIM_LIMIT: usize = 64;

/// How long a claim keeps other nodes off a row: the attempt's timeout
/// and a margin. A node that dies mid-send loses it sooner, with its lease.
const HOLD: f64 = client::TIMEOUT.as_secs() as f64 + 20.0;

/// Commits wake the worker at most this often: each pass is a job on the
/// store's writer between two group commits, and a busy server commits
/// run ends hundreds of times a second.
const MIN_GAP: Duration = Duration::from_millis(10);

/// Settled deliveries are kept this long for `hook/deliveries`.
const KEEP: f64 = 7.0 * 86_400.0;

/// How often the settled ones older than [`KEEP`] are removed.
const FORGET_EVERY: f64 = 3600.0;

/// The longest the worker sleeps without a claim: rows that another node
/// wrote and then died before sending are found at the latest then.
const IDLE_WAKE: Duration = Duration::from_secs(30);

/// The delivery worker.
pub struct DeliveryWorker {
    store: Addr<EventStore>,
    /// This node's name in claims (the cluster node; "" on SQLite).
    node: String,
    allow: AllowList,
    /// The fold window and the give-up time.
    limits: HookLimits,
    client: Option<awc::Client>,
    timer: Option<(SpawnHandle, Instant)>,
    /// When the last pass began.
    last_pass: Option<Instant>,
    /// A claim is on its way; `again` asks for one more after it.
    claiming: bool,
    again: bool,
    /// Whether any hook is active: until one is, run events cost nothing.
    active_hooks: bool,
    /// When settled deliveries were last removed.
    forgotten: f64,
}

impl DeliveryWorker {
    /// A worker for `node`, reaching what `allow` opens, folding and
    /// giving up as `limits` say.
    pub fn new(
        store: Addr<EventStore>,
        node: String,
        allow: AllowList,
        limits: HookLimits,
    ) -> Self {
        DeliveryWorker {
            store,
            node,
            allow,
            limits,
            client: None,
            timer: None,
            last_pass: None,
            claiming: false,
            again: false,
            active_hooks: true,
            forgotten: 0.0,
        }
    }

    /// Claims what is due now, sends it, and sets the timer.
    fn pass(&mut self, ctx: &mut Context<Self>) {
        if self.claiming {
            self.again = true;
            return;
        }
        self.claiming = true;
        self.last_pass = Some(Instant::now());
        let now = clock::now();
        let forget = now - self.forgotten >= FORGET_EVERY;
        if forget {
            self.forgotten = now;
        }
        let claim = self.store.send(ClaimDeliveries {
            node: self.node.clone(),
            now,
            hold: HOLD,
            limit: CLAIM_LIMIT,
            forget_before: forget.then_some(now - KEEP),
            fold_window: self.limits.fold_window.as_secs_f64(),
        });
        ctx.spawn(claim.into_actor(self).map(|result, act, ctx| {
            act.claiming = false;
            match result {
                Ok(Ok(claimed)) => act.claimed(claimed, ctx),
                Ok(Err(err)) => {
                    tracing::warn!(error.cause_chain = ?err, "hooks: cannot claim deliveries");
                    act.wake_in(Duration::from_secs(1), ctx);
                }
                Err(err) => tracing::error!(error = %err, "hooks: the store is gone"),
            }
            if std::mem::take(&mut act.again) {
                act.pass(ctx);
            }
        }));
    }

    fn claimed(&mut self, claimed: Claimed, ctx: &mut Context<Self>) {
        self.active_hooks = claimed.active_hooks;
        let full = claimed.deliveries.len() >= CLAIM_LIMIT;
        for delivery in claimed.deliveries {
            self.send(delivery, ctx);
        }
        if full {
            self.again = true;
        }
        let wait = claimed
            .next_due
            .map(|due| Duration::from_secs_f64((due - clock::now()).clamp(0.0, 86_400.0)))
            .unwrap_or(IDLE_WAKE)
            .min(IDLE_WAKE);
        self.wake_in(wait, ctx);
    }

    /// A pass now, or once [`MIN_GAP`] has passed since the last one.
    fn wake_soon(&mut self, ctx: &mut Context<Self>) {
        let since = self.last_pass.map_or(MIN_GAP, |at| at.elapsed());
        if since >= MIN_GAP {
            return self.pass(ctx);
        }
        let wait = MIN_GAP - since;
        match self.timer {
            Some((_, at)) if at <= Instant::now() + wait => {}
            _ => self.wake_in(wait, ctx),
        }
    }

    /// The one timer: replaced, never added to.
    fn wake_in(&mut self, wait: Duration, ctx: &mut Context<Self>) {
        if let Some((timer, _)) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let handle = ctx.run_later(wait, |act, ctx| {
            act.timer = None;
            act.pass(ctx);
        });
        self.timer = Some((handle, Instant::now() + wait));
    }

    /// Sends one delivery and records what came of it.
    fn send(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        let client = self
            .client
            .get_or_insert_with(|| client::client(self.allow.clone()))
            .clone();
        let (allow, store, node) = (self.allow.clone(), self.store.clone(), self.node.clone());
        let give_up = self.limits.give_up_after;
        let attempt = async move {
            let answer = attempt(&client, &allow, &delivery).await;
            let now = clock::now();
            let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
            let (attempt, pause) = body::verdict(&delivery, answer, (now, jitter), give_up);
            log_attempt(&delivery, &attempt);
            let recorded = store
                .send(RecordAttempt {
                    id: delivery.id.clone(),
                    node,
                    now,
                    attempt,
                })
                .await;
            if let Ok(Err(err)) = &recorded {
                tracing::warn!(error.cause_chain = ?err, delivery = %delivery.id,
                    "hooks: cannot record an attempt; it will be made again");
            }
            if pause {
                pause_hook(&store, &delivery, now, give_up).await;
            }
        };
        ctx.spawn(
            attempt
                .into_actor(self)
                .map(|(), act, ctx| act.wake_soon(ctx)),
        );
    }
}

/// One attempt: the body, its signature, the POST.
async fn attempt(client: &awc::Client, allow: &AllowList, delivery: &Delivery) -> Answer {
    let event = match decode(delivery) {
        Ok(event) => event,
        Err(err) => return Answer::Refused(format!("unreadable event: {err}")),
    };
    let Some(bytes) = body::body(delivery, &event) else {
        return Answer::Refused("the event has no run status".into());
    };
    let now = clock::now_secs();
    let signature = match sign::header(delivery.secret.as_bytes(), now, &bytes) {
        Ok(signature) => signature,
        Err(err) => return Answer::Refused(err.to_string()),
    };
    let headers = vec![
        ("X-Scriptd-Signature", signature),
        ("X-Scriptd-Delivery", delivery.id.clone()),
    ];
    client::post(client, allow, &delivery.url, headers, bytes).await
}

/// The stored event, upcast like every read of the log.
fn decode(delivery: &Delivery) -> Result<Event, crate::events::StoreError> {
    let value: serde_json::Value = serde_json::from_str(&delivery.event)?;
    let kind = value[Event::TAG].as_str().unwrap_or_default();
    crate::events::query::decode(kind, delivery.version, &delivery.event)
}

fn log_attempt(delivery: &Delivery, attempt: &Attempt) {
    match attempt {
        Attempt::Delivered { status } => tracing::debug!(
            delivery = %delivery.id, hook = %delivery.hook, status, "hooks: delivered"
        ),
        Attempt::Retry { error, due, .. } => tracing::info!(
            delivery = %delivery.id, hook = %delivery.hook, attempt = delivery.attempt,
            error = %error, in_secs = due - clock::now(), "hooks: delivery failed; will retry"
        ),
        Attempt::Failed { error, .. } => tracing::warn!(
            delivery = %delivery.id, hook = %delivery.hook, error = %error,
            "hooks: delivery given up"
        ),
    }
}

/// A hook that failed for the give-up time (a day by default) is paused:
/// an event, so every node and `hook/list` know it.
async fn pause_hook(
    store: &Addr<EventStore>,
    delivery: &Delivery,
    now: f64,
    give_up: std::time::Duration,
) {
    let reason = format!("deliveries failed for {}", limits::spoken(give_up));
    tracing::warn!(hook = %delivery.hook, user = %delivery.user, reason = %reason,
        "hooks: a hook is paused");
    let event = Event::HookPaused {
        hook: delivery.hook,
        reason,
        paused: now as i64,
    };
    let appended = store
        .send(Append {
            events: vec![NewEvent::new(delivery.user, event)],
        })
        .await;
    if let Ok(Err(err)) = appended {
        tracing::error!(error.cause_chain = ?err, hook = %delivery.hook, "hooks: cannot pause");
    }
}

impl Actor for DeliveryWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!("delivery worker started");
        // A former life of this node may have died mid-send: its claims
        // are released, so those deliveries go again (at least once).
        let release = self.store.send(ReleaseClaims {
            node: self.node.clone(),
        });
        ctx.spawn(release.into_actor(self).map(|result, act, ctx| {
            if let Ok(Err(err)) = result {
                tracing::warn!(error.cause_chain = ?err, "hooks: cannot release old claims");
            }
            act.pass(ctx);
        }));
    }
}

impl Handler<EventsCommitted> for DeliveryWorker {
    type Result = ();

    fn handle(&mut self, msg: EventsCommitted, ctx: &mut Context<Self>) {
        let mut wake = false;
        for stored in msg.events.iter() {
            match &stored.event {
                Event::HookCreated { .. } => self.active_hooks = true,
                event => wake |= self.active_hooks && outbox::trigger(event).is_some(),
            }
        }
        if wake {
            self.wake_soon(ctx);
        }
    }
}
