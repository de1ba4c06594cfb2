//! Routing of pushes by worker thread. Sessions live on the HTTP server's
//! worker threads and the hub on the main one. Sending each push straight
//! to its session cost one cross-thread mailbox send and wake-up per
//! monitor, all contending on the workers' run queues (profiled with 1000
//! monitors: futex wake-ups and lock waits on the hub's thread). Instead
//! the hub queues a handler's pushes per worker in its `Outbox` and hands
//! each worker one batch, which that thread feeds to its own sessions.
//!
//! Order: batches for one worker run in the order they were handed over
//! (the arbiter's queue is FIFO and a batch runs to completion at once),
//! and closes travel the same way, so a session still sees its pushes in
//! log order and a close after the pushes that preceded it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::*;

use super::{Push, SessionOverflowed};
use crate::ids::UserId;

static NEXT_LANE: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    static LANE: usize = NEXT_LANE.fetch_add(1, Ordering::Relaxed);
}

/// The thread a session runs on.
#[derive(Clone)]
pub struct Lane {
    id: usize,
    /// `None` off an actix arbiter: pushes are then sent from the hub.
    arbiter: Option<ArbiterHandle>,
}

impl Lane {
    /// The lane of the calling thread.
    pub fn current() -> Lane {
        Lane {
            id: LANE.with(|id| *id),
            arbiter: Arbiter::try_current(),
        }
    }
}

/// One message for one session.
struct Parcel {
    recipient: Arc<Recipient<Push>>,
    push: Push,
    user: UserId,
    session: u64,
}

/// Pushes waiting to be handed to their workers, in order per worker.
#[derive(Default)]
pub(super) struct Outbox {
    lanes: Vec<(Lane, Vec<Parcel>)>,
}

impl Outbox {
    /// Queues `push` for `session`, which runs on `lane`.
    pub(super) fn put(
        &mut self,
        lane: &Lane,
        recipient: &Arc<Recipient<Push>>,
        push: Push,
        (user, session): (UserId, u64),
    ) {
        let parcel = Parcel {
            recipient: recipient.clone(),
            push,
            user,
            session,
        };
        match self.lanes.iter_mut().find(|(l, _)| l.id == lane.id) {
            Some((_, parcels)) => parcels.push(parcel),
            None => self.lanes.push((lane.clone(), vec![parcel])),
        }
    }

    /// Hands every queued batch to its worker; a session whose mailbox is
    /// full is reported to `hub`.
    pub(super) fn flush(&mut self, hub: &Recipient<SessionOverflowed>) {
        for (lane, parcels) in &mut self.lanes {
            if parcels.is_empty() {
                continue;
            }
            let parcels = std::mem::take(parcels);
            let hub = hub.clone();
            match &lane.arbiter {
                Some(arbiter) => {
                    // False only when the worker is gone (shutting down):
                    // its sessions are stopping with it.
                    let _ = arbiter.spawn_fn(move || feed(parcels, &hub));
                }
                None => feed(parcels, &hub),
            }
        }
    }
}

/// Runs on the sessions' own thread, so each send is a local wake-up.
fn feed(parcels: Vec<Parcel>, hub: &Recipient<SessionOverflowed>) {
    for parcel in parcels {
        match parcel.push {
            // A close must arrive even when the mailbox is full.
            close @ Push::Close(_) => parcel.recipient.do_send(close),
            text => {
                if parcel.recipient.try_send(text).is_err() {
                    hub.do_send(SessionOverflowed {
                        user: parcel.user,
                        session: parcel.session,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A session stand-in that records what reaches it.
    struct Session {
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Actor for Session {
        type Context = Context<Self>;
    }

    impl Handler<Push> for Session {
        type Result = ();

        fn handle(&mut self, msg: Push, _ctx: &mut Context<Self>) {
            let entry = match msg {
                Push::Text(text) => text.to_string(),
                Push::Close(reason) => format!("close: {reason}"),
            };
            self.seen.lock().expect("test lock").push(entry);
        }
    }

    /// A hub stand-in that records overflow reports.
    struct Hub(Arc<Mutex<Vec<u64>>>);

    impl Actor for Hub {
        type Context = Context<Self>;
    }

    impl Handler<SessionOverflowed> for Hub {
        type Result = ();

        fn handle(&mut self, msg: SessionOverflowed, _ctx: &mut Context<Self>) {
            self.0.lock().expect("test lock").push(msg.session);
        }
    }

    fn session_on(
        arbiter: &ArbiterHandle,
        mailbox: usize,
    ) -> (Addr<Session>, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let session = Session { seen: seen.clone() };
        // Set before the address exists, as the capacity is checked on send.
        let addr = Session::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(mailbox);
            session
        });
        (addr, seen)
    }

    async fn lane_of(arbiter: &ArbiterHandle) -> Lane {
        let (tx, rx) = tokio::sync::oneshot::channel();
        arbiter.spawn_fn(move || {
            let _ = tx.send(Lane::current());
        });
        rx.await.expect("the arbiter runs")
    }

    async fn settle(arbiter: &ArbiterHandle) {
        for _ in 0..3 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            arbiter.spawn_fn(move || {
                let _ = tx.send(());
            });
            rx.await.expect("the arbiter runs");
            actix::clock::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    #[actix::test]
    async fn pushes_reach_a_session_on_another_thread_in_order_and_a_close_follows_them() {
        // Arrange
        let worker = Arbiter::new();
        let (session, seen) = session_on(&worker.handle(), 16);
        let lane = lane_of(&worker.handle()).await;
        let hub = Hub(Arc::default()).start().recipient();
        let user = UserId(1);
        let mut outbox = Outbox::default();

        // Act: two flushes, the second ending with a close.
        let recipient = Arc::new(session.recipient());
        outbox.put(&lane, &recipient, Push::Text("1".into()), (user, 7));
        outbox.put(&lane, &recipient, Push::Text("2".into()), (user, 7));
        outbox.flush(&hub);
        outbox.put(&lane, &recipient, Push::Text("3".into()), (user, 7));
        outbox.put(&lane, &recipient, Push::Close("bye"), (user, 7));
        outbox.flush(&hub);
        settle(&worker.handle()).await;

        // Assert
        let seen = seen.lock().expect("test lock").clone();
        assert_eq!(seen, ["1", "2", "3", "close: bye"]);
        worker.stop();
    }

    #[actix::test]
    async fn a_session_whose_mailbox_is_full_is_reported_to_the_hub_and_still_gets_its_close() {
        // Arrange: the session's thread is busy while its batch is fed, so
        // nothing is taken out of its one-message mailbox meanwhile.
        let worker = Arbiter::new();
        let (session, seen) = session_on(&worker.handle(), 1);
        let lane = lane_of(&worker.handle()).await;
        let reports = Arc::new(Mutex::new(Vec::new()));
        let hub = Hub(reports.clone()).start().recipient();
        let user = UserId(1);
        let mut outbox = Outbox::default();

        // Act
        let recipient = Arc::new(session.recipient());
        for n in 0..8 {
            outbox.put(
                &lane,
                &recipient,
                Push::Text(n.to_string().into()),
                (user, 9),
            );
        }
        outbox.put(&lane, &recipient, Push::Close("full"), (user, 9));
        outbox.flush(&hub);
        settle(&worker.handle()).await;

        // Assert
        let reports = reports.lock().expect("test lock").clone();
        assert!(!reports.is_empty(), "no overflow reported");
        assert!(reports.iter().all(|s| *s == 9), "{reports:?}");
        let seen = seen.lock().expect("test lock").clone();
        assert_eq!(
            seen.last().map(String::as_str),
            Some("close: full"),
            "{seen:?}"
        );
        assert!(seen.len() < 9, "the full mailbox took everything: {seen:?}");
        worker.stop();
    }
}
