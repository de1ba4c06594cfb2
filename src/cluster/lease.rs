//! The lease loop of a cluster node: renews the node's lease every
//! `lease_renew` for `lease_ttl`; when the lease is gone (the database
//! says so, or it could not be renewed before it ran out by this node's
//! own monotonic clock) it raises the fence (no run starts, running ones
//! are stopped). As soon as the database answers, it takes the same
//! incarnation's lease back if no rescuer gave it up meanwhile (a
//! database outage is not the node's death); otherwise it registers a
//! new incarnation, ends what the former one left running, and then
//! lowers the fence.
//!
//! The local deadline is counted from *before* each renewal was sent, so
//! it never ends later than the lease the database holds: a node always
//! fences itself before anyone may rescue its runs.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use tokio::time::{timeout_at, Instant, MissedTickBehavior};

use super::contact::{Contact, Due};
use super::fence::Fence;
use super::rescue;
use super::roster::Roster;
use crate::events::postgres::guard::LeaseGuard;
use crate::events::postgres::nodes::{Nodes, Renewal};
use crate::events::{EventStore, StoreError};
use crate::metrics::Metrics;

/// How often a lease is renewed and for how long it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimes {
    pub renew: Duration,
    pub ttl: Duration,
    /// How long a rejoining node waits for its former runs' actors to
    /// record their ends before it ends the rest `interrupted`.
    pub settle: Duration,
}

/// Why the lease settings cannot work.
#[derive(Debug, thiserror::Error)]
#[error("the lease ({ttl:?}) must last at least twice its renewal interval ({renew:?}), which must not be zero")]
pub struct BadLeaseTimes {
    renew: Duration,
    ttl: Duration,
}

impl LeaseTimes {
    /// Checked: a lease must survive one late renewal. A rejoining node
    /// waits `settle` for its stopped runs to record their ends.
    pub fn new(renew: Duration, ttl: Duration, settle: Duration) -> Result<Self, BadLeaseTimes> {
        if renew.is_zero() || ttl < renew * 2 {
            return Err(BadLeaseTimes { renew, ttl });
        }
        Ok(LeaseTimes { renew, ttl, settle })
    }
}

/// A registered node: what its loops share.
#[derive(Clone)]
pub struct Member {
    pub(super) nodes: Nodes,
    pub(super) guard: Arc<LeaseGuard>,
    pub(super) fence: Fence,
    /// Unbroken renewals since when (the rescuer waits a lease of them).
    pub(super) contact: Contact,
    /// When the rescuer may have work next, by the last renewal.
    pub(super) due: Due,
    pub(super) times: LeaseTimes,
    pub(super) metrics: Metrics,
    /// The live nodes as the view loop last read them.
    pub(super) roster: Roster,
}

impl Member {
    /// This node's name.
    pub fn node(&self) -> &str {
        self.guard.node()
    }
}

/// Where the lease stands, by this node's reckoning.
enum Lease {
    /// Valid until `deadline` at least.
    Held { deadline: Instant },
    /// Gone: the fence is up until the lease is taken back, or a new
    /// incarnation is registered and the former one's runs are ended.
    Lost,
    /// A new incarnation is registered (valid until `deadline`); the
    /// fence stays up while the former one's runs end. Their run actors
    /// record their real ends (a process that exited while the database
    /// was away ended as it did, not "node lost"); what is still running
    /// on record at `settle_by` is ended `interrupted`.
    Rejoining {
        deadline: Instant,
        settle_by: Instant,
    },
    /// Another process registered under this node's name since: the
    /// fence stays up for good (rejoining would take the lease from it).
    Replaced,
}

/// Runs the lease loop; `registered` is when the current incarnation's
/// lease was granted (measured before the request was sent).
pub async fn keep(member: Member, store: Addr<EventStore>, registered: Instant) {
    let mut tick = tokio::time::interval(member.times.renew);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut lease = Lease::Held {
        deadline: registered + member.times.ttl,
    };
    loop {
        tick.tick().await;
        lease = match lease {
            Lease::Held { deadline } => renew(&member, deadline).await,
            Lease::Lost => rejoin(&member).await,
            Lease::Rejoining {
                deadline,
                settle_by,
            } => match renew(&member, deadline).await {
                Lease::Held { deadline } => settle(&member, &store, deadline, settle_by).await,
                other => other,
            },
            Lease::Replaced => Lease::Replaced,
        };
    }
}

/// One renewal; a lease that cannot be renewed in time is lost.
async fn renew(member: &Member, deadline: Instant) -> Lease {
    let (node, epoch) = (member.node(), member.guard.epoch());
    let answer = timeout_at(deadline, member.nodes.renew(node, epoch, member.times.ttl)).await;
    let renewed = match answer {
        Ok(Ok(renewed)) if renewed.renewal == Renewal::Renewed => renewed,
        Ok(Ok(other)) => {
            member.contact.broken();
            return refused(member, other.renewal);
        }
        Ok(Err(err)) if Instant::now() < deadline => {
            member.contact.broken();
            tracing::warn!(error.cause_chain = ?err, "cannot renew this node's lease; retrying");
            return Lease::Held { deadline };
        }
        Ok(Err(_)) | Err(_) => {
            member.contact.broken();
            return lose(
                member,
                "this node's lease ran out before it could be renewed",
            );
        }
    };
    member.contact.granted(renewed.sent);
    member
        .due
        .set(renewed.next_expiry.map(|after| renewed.sent + after));
    Lease::Held {
        deadline: renewed.sent + member.times.ttl,
    }
}

/// The database refused a renewal: the lease is gone.
fn refused(member: &Member, renewal: Renewal) -> Lease {
    if renewal != Renewal::Replaced {
        return lose(
            member,
            "the database says this node's lease is no longer valid",
        );
    }
    lose(member, "another process registered under this node's name");
    tracing::error!(
        node = member.node(),
        "this process stays fenced: give each node its own name (--node)"
    );
    Lease::Replaced
}

/// Raises the fence: from now on this node starts nothing, and its
/// running runs are stopped (their ends are the rescuer's to record).
fn lose(member: &Member, why: &'static str) -> Lease {
    if member.fence.raise() {
        tracing::error!(
            node = member.node(),
            why,
            "lease lost: stopping every run of this node"
        );
        member.metrics.update_cluster(member.node(), |c| {
            c.fenced = true;
            c.lease_losses += 1;
        });
    }
    Lease::Lost
}

/// Gets the lease back: the same incarnation's if no rescuer gave it up
/// meanwhile (its runs then record their own ends, whatever the outage
/// did to the lease), else a new incarnation's.
async fn rejoin(member: &Member) -> Lease {
    let (node, epoch) = (member.node(), member.guard.epoch());
    match member.nodes.revive(node, epoch, member.times.ttl).await {
        Ok(Some(sent)) => {
            member.contact.granted(sent);
            unfence(member);
            tracing::info!(
                node,
                epoch,
                "renewed this node's lease after it ran out: no node had taken over its runs"
            );
            Lease::Held {
                deadline: sent + member.times.ttl,
            }
        }
        Ok(None) => register(member).await,
        Err(err) => {
            tracing::warn!(error.cause_chain = ?err, "cannot rejoin the cluster yet; retrying");
            Lease::Lost
        }
    }
}

/// Lowers the fence: due runs start again.
fn unfence(member: &Member) {
    member.fence.lower();
    member
        .metrics
        .update_cluster(member.node(), |c| c.fenced = false);
}

/// Registers a new incarnation (the fence stays up).
async fn register(member: &Member) -> Lease {
    let registered = async {
        let (epoch, sent) = member
            .nodes
            .register(member.node(), member.times.ttl)
            .await?;
        member.guard.set_epoch(epoch);
        // Its processes are this process's children, stopped by their run
        // actors when the fence went up: nothing is left to end by group.
        member.nodes.take_leftovers(member.node()).await?;
        Ok::<_, StoreError>((epoch, sent))
    };
    match registered.await {
        Ok((epoch, sent)) => {
            member.contact.granted(sent);
            tracing::info!(node = member.node(), epoch, "registered a new incarnation");
            Lease::Rejoining {
                deadline: sent + member.times.ttl,
                settle_by: Instant::now() + member.times.settle,
            }
        }
        Err(err) => {
            tracing::warn!(error.cause_chain = ?err, "cannot rejoin the cluster yet; retrying");
            Lease::Lost
        }
    }
}

/// Lowers the fence once no run of a former incarnation is running on
/// record, ending those left at `settle_by`; until then, rejoining.
async fn settle(
    member: &Member,
    store: &Addr<EventStore>,
    deadline: Instant,
    settle_by: Instant,
) -> Lease {
    let rejoining = Lease::Rejoining {
        deadline,
        settle_by,
    };
    let former = match member.nodes.running_of(member.node()).await {
        Ok(former) => former,
        Err(err) => {
            tracing::warn!(error.cause_chain = ?err, "cannot read this node's runs; retrying");
            return rejoining;
        }
    };
    if !former.is_empty() {
        if Instant::now() < settle_by {
            return rejoining;
        }
        let ended = rescue::end_runs(store, former).await;
        tracing::warn!(
            runs = ended,
            "ended the runs this node ran before it lost its lease"
        );
        // One not ended now would stay running on record for good once
        // new runs start: check again at the next tick.
        return rejoining;
    }
    unfence(member);
    tracing::info!(
        node = member.node(),
        epoch = member.guard.epoch(),
        "rejoined the cluster"
    );
    Lease::Held { deadline }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_must_outlast_two_renewals_of_a_nonzero_interval() {
        let ms = Duration::from_millis;
        let settle = Duration::from_secs(7);
        for (renew, ttl, ok) in [
            (ms(1000), ms(10_000), true),
            (ms(200), ms(400), true),
            (ms(200), ms(399), false),
            (ms(0), ms(1000), false),
        ] {
            assert_eq!(
                LeaseTimes::new(renew, ttl, settle).is_ok(),
                ok,
                "renew {renew:?}, lease {ttl:?}"
            );
        }
    }
}
