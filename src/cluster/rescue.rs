//! Ending the running runs of a node that is gone: the rescuer's pass
//! over lost nodes (whoever takes the rescue lock), and a node's own
//! cleanup of a former incarnation when it rejoins. Either way each run
//! gets the `RunInterrupted` a single server's startup replay would give
//! it (reason [`NODE_LOST`]), appended through the normal event store, so
//! the read model, monitors and the first-final-wins rule all apply: a
//! run that ended meanwhile is refused by the database, not skipped here.
//! The sign-in sessions lost nodes held end too (`node_lost`), once each.

use actix::Addr;

use crate::clock;
use crate::events::postgres::nodes::Nodes;
use crate::events::session::end_open;
use crate::events::unfinished::Unfinished;
use crate::events::{Append, EventStore, StoreError};
use crate::replay;

/// The error of a run ended because its node lost its lease.
pub const NODE_LOST: &str = "node lost";

/// One rescuer pass, if this node gets the rescue lock: lost nodes' (not
/// `me`'s) running runs end `interrupted`. Answers how many it ended.
pub async fn rescue_lost(
    nodes: &Nodes,
    store: &Addr<EventStore>,
    me: &str,
) -> Result<u64, StoreError> {
    if !nodes.anything_to_rescue(me).await? {
        return Ok(0);
    }
    let Some(mut rescue) = nodes.try_rescue().await? else {
        return Ok(0);
    };
    let runs = rescue.runs_of_lost_nodes(me).await?;
    let mut lost_nodes: Vec<String> = runs.iter().map(|(node, _)| node.clone()).collect();
    lost_nodes.sort_unstable();
    lost_nodes.dedup();
    // The lock is held until the runs are ended: a lost node that comes
    // back waits for it before it registers again (see `Nodes::register`).
    let ended = end_runs(store, runs.into_iter().map(|(_, run)| run)).await;
    if ended > 0 {
        tracing::warn!(nodes = ?lost_nodes, runs = ended, "ended the running runs of lost nodes");
    }
    // Their people's sessions lived in the lost nodes' memory. A failed
    // read must not undo the marks and leftovers of the runs just ended:
    // the node's next start records these ends then.
    match rescue.sessions_of_lost_nodes().await {
        Ok(sessions) => {
            let node_lost = crate::oidc::SessionEnd::NodeLost.as_str();
            let ended = end_open(store, sessions, node_lost).await;
            if ended > 0 {
                tracing::warn!(sessions = ended, "ended the sign-in sessions of lost nodes");
            }
        }
        Err(err) => {
            tracing::warn!(error.cause_chain = ?err, "cannot read the sessions of lost nodes")
        }
    }
    rescue.finish().await?;
    Ok(ended)
}

/// Ends `runs` `interrupted`, each in a commit of its own (a run that has
/// already ended fails alone); answers how many this call ended.
pub async fn end_runs(store: &Addr<EventStore>, runs: impl IntoIterator<Item = Unfinished>) -> u64 {
    let now = clock::now();
    let appends: Vec<_> = runs
        .into_iter()
        .filter_map(|found| {
            let (id, user) = (found.queued.run, found.user);
            let events =
                replay::interrupted_events(user, replay::fold_unfinished(found), now, NODE_LOST);
            (!events.is_empty()).then(|| (id, store.send(Append { events })))
        })
        .collect();
    let mut ended = 0;
    for (run, append) in appends {
        match append.await {
            Ok(Ok(_)) => ended += 1,
            Ok(Err(err)) if err.is_already_ended() => {
                tracing::debug!(%run, "the run had already ended");
            }
            Ok(Err(err)) => {
                tracing::warn!(%run, error.cause_chain = ?err, "cannot end a lost node's run; next pass retries")
            }
            Err(err) => tracing::warn!(%run, error = %err, "the event store is gone"),
        }
    }
    ended
}
