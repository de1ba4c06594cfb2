//! The EventStore's writer thread on PostgreSQL: a current-thread runtime
//! of its own runs the group-commit loop (see [`crate::events::store`]),
//! so commits never wait for the actors' threads and the writer's socket
//! belongs to this thread's reactor.

use std::time::Instant;

use actix::Recipient;
use tokio::sync::mpsc::UnboundedReceiver;

use super::Writer;
use crate::events::store::{answer, write_failure, EventsCommitted, Job, Round, PROBE_EVERY};
use crate::metrics::Metrics;

/// Runs the loop until the actor drops its sender.
pub(in crate::events) fn run(writer: Writer, queue: UnboundedReceiver<Job>, metrics: Metrics) {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(write_loop(writer, queue, metrics)),
        // Dropping the queue answers every append `Closed`.
        Err(err) => tracing::error!(error = %err, "cannot start the writer's runtime"),
    }
}

async fn write_loop(mut writer: Writer, mut queue: UnboundedReceiver<Job>, metrics: Metrics) {
    let mut subscribers: Vec<Recipient<EventsCommitted>> = Vec::new();
    while let Some(first) = next_job(&mut writer, &mut queue, &metrics).await {
        let round = Round::gather(first, &mut subscribers, || queue.try_recv().ok());
        if !round.groups.is_empty() {
            let started = Instant::now();
            let result = writer.commit(&round.groups).await;
            metrics.record_commit(round.waiters.len(), started.elapsed());
            metrics.set_store_error(write_failure(&result));
            answer(round.waiters, result, &subscribers, &metrics);
        }
        if let Some(chore) = round.chore {
            chore.run_postgres(&mut writer, &metrics).await;
        }
    }
}

/// The next job; while the last write failed, probes the database
/// between jobs, so `/healthz` recovers on an idle server.
async fn next_job(
    writer: &mut Writer,
    queue: &mut UnboundedReceiver<Job>,
    metrics: &Metrics,
) -> Option<Job> {
    loop {
        if metrics.store_error().is_none() {
            return queue.recv().await;
        }
        match tokio::time::timeout(PROBE_EVERY, queue.recv()).await {
            Ok(job) => return job,
            Err(_) => {
                if writer.probe().await.is_ok() {
                    tracing::info!("the database can be written again");
                    metrics.set_store_error(None);
                }
            }
        }
    }
}
