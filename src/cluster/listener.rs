//! The `LISTEN` side of the follower's wake-ups: a thread of its own
//! (with its own runtime and connection, so nothing of it outlives or
//! depends on the actors' runtime) that waits for the commits'
//! notifications and wakes the follower for each, and after each new
//! connection (a lost one's notifications are gone: the follower reads
//! the tail anyway). It tells the follower whether it listens, so the
//! follower polls fast only while nothing does. It ends once the
//! follower is gone.

use std::time::Duration;

use actix::Addr;
use sqlx::postgres::PgConnectOptions;

use super::follower::{Follower, Listening, Wake};
use crate::events::postgres;

/// How often it checks that the follower is still there, and the wait
/// before listening again after a failure.
const CHECK: Duration = Duration::from_secs(1);

/// Starts the thread; it listens with a connection made from `options`,
/// and ignores the notifications of this node's writer (token `own`).
pub fn start(options: PgConnectOptions, own: String, follower: Addr<Follower>) {
    let thread = std::thread::Builder::new().name("scriptd-listen".into());
    let spawned = thread.spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(listen(options, own, follower)),
            Err(err) => tracing::error!(error = %err, "cannot start the listener's runtime"),
        }
    });
    if let Err(err) = spawned {
        // The follower's poll still reads every commit, a second late.
        tracing::error!(error = %err, "cannot start the listener thread");
    }
}

async fn listen(options: PgConnectOptions, own: String, follower: Addr<Follower>) {
    while follower.connected() {
        let mut listener = match postgres::follow::listen(&options).await {
            Ok(listener) => listener,
            Err(err) => {
                follower.do_send(Listening(false));
                tracing::warn!(error.cause_chain = ?err, "cannot listen for commits; retrying");
                tokio::time::sleep(CHECK).await;
                continue;
            }
        };
        // Made (again), its `LISTEN` in force: what was missed meanwhile
        // is read now, and no later commit goes untold.
        follower.do_send(Listening(true));
        follower.do_send(Wake);
        while follower.connected() {
            match tokio::time::timeout(CHECK, listener.try_recv()).await {
                Err(_) => {}
                // Another writer's commit (this node's own writer tells
                // the follower directly).
                Ok(Ok(Some(notification))) => {
                    if notification.payload() != own {
                        follower.do_send(Wake);
                    }
                }
                // The connection was lost. sqlx would make it again inside
                // the next wait, unseen; a new listener instead tells the
                // follower when its `LISTEN` holds again.
                Ok(Ok(None)) => {
                    follower.do_send(Listening(false));
                    follower.do_send(Wake);
                    break;
                }
                Ok(Err(err)) => {
                    tracing::warn!(error.cause_chain = ?err, "lost the commit notifications; listening again");
                    follower.do_send(Listening(false));
                    follower.do_send(Wake);
                    tokio::time::sleep(CHECK).await;
                    break;
                }
            }
        }
    }
}
