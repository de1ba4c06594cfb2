//! Retention inside the running server (`retention_days` in the config):
//! every `retention_interval` a pass prunes runs that finished more than
//! the retention period ago, one small batch per store message. The store
//! runs each batch between two group commits, so an append waits for at
//! most one batch (`scriptd_housekeeping_seconds` in `/metrics`); log
//! files are deleted here, off the writer thread, after each batch commits.

use std::sync::Arc;

use actix::Addr;

use super::{remove_logs, PruneReport, RetentionError, VACUUM_PAGES};
use crate::clock;
use crate::config::Config;
use crate::events::chore::{PruneBatch, VacuumStep};
use crate::events::{EventStore, StoreError};

/// Runs per in-server batch: small enough that one stays a few milliseconds.
pub const BATCH: usize = 64;

/// Starts the periodic passes when the config asks for retention.
pub fn start(store: Addr<EventStore>, config: Arc<Config>) {
    let Some(keep) = config.retention else {
        return;
    };
    actix::spawn(async move {
        loop {
            let before = clock::now() - keep.as_secs_f64();
            match prune_pass(&store, &config, before, config.retention_all).await {
                Ok(report) if report.runs > 0 || report.rows > 0 || report.events > 0 => {
                    tracing::info!(
                        runs = report.runs,
                        events = report.events,
                        logs = report.logs,
                        rows = report.rows,
                        pages_freed = report.pages_freed,
                        before,
                        "retention pass"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "retention pass failed; retrying later"),
            }
            tokio::time::sleep(config.retention_interval).await;
        }
    });
}

/// One retention pass through the server's store: prunes everything that
/// finished before `before` (UNIX seconds), then gives the space back.
pub async fn prune_pass(
    store: &Addr<EventStore>,
    config: &Config,
    before: f64,
    all: bool,
) -> Result<PruneReport, RetentionError> {
    let mut report = PruneReport::default();
    loop {
        let batch = store
            .send(PruneBatch {
                before,
                all,
                limit: BATCH,
            })
            .await
            .map_err(|_| StoreError::Closed)??;
        let logs = remove_logs(config, &batch.runs).await?;
        report.absorb(&batch, logs);
        if !batch.more {
            break;
        }
    }
    if report.runs > 0 || report.rows > 0 || report.events > 0 {
        report.pages_freed = vacuum(store).await?;
    }
    Ok(report)
}

/// Incremental vacuum steps until no free page is left; answers the pages freed.
async fn vacuum(store: &Addr<EventStore>) -> Result<u64, StoreError> {
    let mut freed = 0;
    // Bounded; stops early when a step makes no progress.
    for _ in 0..100_000 {
        let step = store
            .send(VacuumStep {
                pages: VACUUM_PAGES,
            })
            .await
            .map_err(|_| StoreError::Closed)??;
        freed += step.before.saturating_sub(step.after);
        if step.after == 0 || step.after >= step.before {
            break;
        }
    }
    Ok(freed)
}
