//! The rescuer's loop and the cluster view: every renewal interval, a
//! node that has held its lease unbroken for a lease time tries to be the
//! rescuer (see `rescue`), then reads the `nodes` table for `/metrics`,
//! so a scrape costs no query, and for the [`super::Roster`] of live nodes.

use actix::Addr;
use tokio::time::MissedTickBehavior;

use super::lease::Member;
use super::rescue;
use crate::events::EventStore;
use crate::metrics::NodeGauge;

/// Runs the loop for good.
pub async fn watch(member: Member, store: Addr<EventStore>) {
    let mut tick = tokio::time::interval(member.times.renew);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A fenced node's appends are refused anyway; it rescues nobody.
        // Nor does one back from a break in its contact with the database
        // (an outage, its own start) for a lease: the others may be
        // coming back from the same outage, and their runs' real ends
        // are on their way.
        // And only once the last renewal said another node's lease may
        // have run out: an idle cluster's rescuers ask nothing.
        if !member.fence.is_up()
            && member.contact.steady_for(member.times.ttl)
            && member.due.has_come()
        {
            match rescue::rescue_lost(&member.nodes, &store, member.node()).await {
                Ok(0) => {}
                Ok(ended) => member
                    .metrics
                    .update_cluster(member.node(), |c| c.rescued += ended),
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, "the rescuer's pass failed; next tick retries")
                }
            }
        }
        refresh(&member).await;
    }
}

async fn refresh(member: &Member) {
    match member.nodes.view().await {
        Ok(rows) => {
            let live = rows.iter().filter(|row| row.alive);
            member
                .roster
                .set(live.map(|row| row.name.clone()).collect());
            let nodes = rows
                .into_iter()
                .map(|row| NodeGauge {
                    name: row.name,
                    epoch: row.epoch,
                    lease_until: row.lease_until,
                    alive: row.alive,
                    running: row.running,
                })
                .collect();
            member
                .metrics
                .update_cluster(member.node(), |c| c.nodes = nodes);
        }
        Err(err) => tracing::debug!(error.cause_chain = ?err, "cannot read the cluster's nodes"),
    }
}
