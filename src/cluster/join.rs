//! Joining the cluster: registering this node's incarnation at start (its
//! commits pass the lease check from then on) and starting the lease and
//! rescuer loops, which end with the server.

use std::sync::Arc;

use actix::Addr;
use tokio::time::Instant;

use super::contact::{Contact, Due};
use super::fence::Fence;
use super::lease::{self, LeaseTimes, Member};
use super::roster::Roster;
use super::view;
use crate::events::postgres::guard::LeaseGuard;
use crate::events::postgres::nodes::Leftover;
use crate::events::{EventStore, Readers, StoreError};
use crate::metrics::Metrics;

/// A node registered in the cluster, its loops not started yet.
pub struct Joined {
    member: Member,
    registered: Instant,
    /// This node's runs that a rescuer ended while it was gone: their
    /// status files and what their processes left behind are to go.
    pub leftovers: Vec<Leftover>,
}

/// Registers `node`'s new incarnation; `None` on SQLite (no cluster).
/// Done first at startup: until then the node's commits would not pass
/// the lease check, and replay ends the former incarnation's runs.
pub async fn join(
    readers: &Readers,
    node: &str,
    times: LeaseTimes,
    metrics: &Metrics,
) -> Result<Option<Joined>, StoreError> {
    let Some(nodes) = readers.nodes(times.ttl) else {
        return Ok(None);
    };
    let (epoch, registered) = nodes.register(node, times.ttl).await?;
    let leftovers = nodes.take_leftovers(node).await?;
    tracing::info!(node, epoch, "joined the cluster");
    metrics.update_cluster(node, |_| {});
    // A node that starts is one coming back: the others may be coming
    // back from the same outage, so it rescues nobody for a lease.
    let contact = Contact::default();
    contact.granted(registered);
    Ok(Some(Joined {
        member: Member {
            nodes,
            guard: Arc::new(LeaseGuard::new(node, epoch)),
            fence: Fence::default(),
            contact,
            due: Due::default(),
            times,
            metrics: metrics.clone(),
            roster: Roster::default(),
        },
        registered,
        leftovers,
    }))
}

impl Joined {
    /// The lease check the writer makes on every commit.
    pub fn guard(&self) -> Arc<LeaseGuard> {
        self.member.guard.clone()
    }

    /// The node's fence (queues read it before starting a run).
    pub fn fence(&self) -> Fence {
        self.member.fence.clone()
    }

    /// The live nodes, refreshed every renewal (the timer ranks them).
    pub fn roster(&self) -> Roster {
        self.member.roster.clone()
    }

    /// Starts renewing the lease and the rescuer on the current actix
    /// System, until the answered [`Loops`] is dropped.
    pub fn start(self, store: Addr<EventStore>) -> Loops {
        let Joined {
            member, registered, ..
        } = self;
        Loops(vec![
            actix::spawn(view::watch(member.clone(), store.clone())),
            actix::spawn(lease::keep(member, store, registered)),
        ])
    }
}

/// The cluster tasks of a running server; dropping it ends them (a server
/// stopped in process must not go on renewing its lease).
pub struct Loops(Vec<tokio::task::JoinHandle<()>>);

impl Loops {
    /// No tasks (SQLite).
    pub fn none() -> Self {
        Loops(Vec::new())
    }

    /// Ends these tasks too when dropped.
    pub fn also(mut self, task: tokio::task::JoinHandle<()>) -> Self {
        self.0.push(task);
        self
    }
}

impl Drop for Loops {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
