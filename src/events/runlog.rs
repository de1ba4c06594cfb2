//! One log line per run start and one per run end, written once the event
//! is durable, with the same fields every time so a log shipper can parse
//! them (`--log-format json` makes each line a JSON object). Every path a
//! run can end by (exit, kill, timeout, cancel, `-n`, start failure,
//! interrupted by a restart) goes through the store, so none is missed.
//!
//! Target `scriptd::run`: `RUST_LOG=warn,scriptd::run=info` keeps only these.

use super::types::{Event, StoredEvent};

/// The log target of run lines.
pub const TARGET: &str = "scriptd::run";

/// Seconds rounded to the millisecond: `5.968`, not `5.967582702636719`
/// (still a number for a log shipper).
fn to_millis(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

/// Logs the starts and ends among freshly committed events.
pub fn committed(events: &[StoredEvent]) {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    for stored in events {
        let user = stored.user.0;
        match &stored.event {
            Event::RunStarted { run, name, .. } => {
                tracing::info!(
                    target: TARGET,
                    run = %run,
                    user,
                    script = %name,
                    seq = stored.seq,
                    "run started"
                );
            }
            Event::RunRetrying {
                run,
                record,
                attempt,
                due,
            } => {
                tracing::info!(
                    target: TARGET,
                    run = %run,
                    user,
                    script = %record.name,
                    outcome = record.outcome.as_str(),
                    attempt,
                    due,
                    exit_code = record.exit_code,
                    signal = record.signal,
                    seq = stored.seq,
                    "run attempt ended; retrying"
                );
            }
            event => {
                let (Some(run), Some(record)) = (event.run_id(), event.final_record()) else {
                    continue;
                };
                tracing::info!(
                    target: TARGET,
                    run = %run,
                    user,
                    script = %record.name,
                    outcome = record.outcome.as_str(),
                    duration = record.duration.map(to_millis),
                    exit_code = record.exit_code,
                    signal = record.signal,
                    seq = stored.seq,
                    "run ended"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_are_logged_to_the_millisecond() {
        assert_eq!(super::to_millis(5.967_582_702_636_719), 5.968);
        assert_eq!(super::to_millis(0.000_4), 0.0);
    }
}
