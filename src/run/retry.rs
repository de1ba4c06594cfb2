//! Whether the end of an attempt ends the run or queues its next attempt
//! (`-R`), and the events that say so: the one place that decides, for
//! the run actor, startup replay and the cluster's rescuer alike. Pure:
//! the caller passes the clock and the jitter draw.

use super::{record, PendingRun};
use crate::events::types::{Attempt, Outcome, RunRecord};
use crate::events::Event;
use crate::ids::RunId;

/// Whether an attempt that ended with `outcome` may be tried again: a
/// failure, a timeout or an interruption (a crash, a lost node) may pass;
/// a kill, a cancel, `-n` or a start that failed are decisions or
/// permanent.
pub fn retryable(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed | Outcome::Timeout | Outcome::Interrupted
    )
}

/// The marker line before an attempt's output in the run's log, for a
/// run with retries.
pub fn marker(run: &PendingRun) -> Option<String> {
    let policy = run.spec.retry?;
    Some(format!(
        "--- attempt {} of {} ---",
        run.attempt(),
        policy.attempts()
    ))
}

/// Whether the attempt's end may queue another: not after a kill was
/// asked for, whatever the outcome (a script that traps the signal and
/// exits 1 was still killed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// Nobody asked to stop the run.
    Nothing,
    /// A kill was asked for.
    Kill,
}

/// The events that record the end of `run`'s current attempt, `record`:
/// `RunRetrying` (due `now` plus the backoff, `jitter` drawn from
/// [−1, 1]) when attempts remain, the outcome may be retried and no kill
/// was `asked`, else the final events `make` builds, the record listing
/// every attempt.
pub fn ending_events(
    id: RunId,
    run: &PendingRun,
    mut record: RunRecord,
    (now, jitter): (f64, f64),
    asked: Asked,
    make: impl FnOnce(RunId, RunRecord) -> Event,
) -> Vec<Event> {
    let attempt = run.attempt();
    let Some(policy) = run.spec.retry else {
        return record::final_events(id, record, make);
    };
    if retryable(record.outcome) && asked == Asked::Nothing && attempt <= policy.retries {
        // The attempt's own end; the list is the run's row's and status's.
        record.attempts = Vec::new();
        let wait = policy.wait(attempt, jitter);
        let due = (now + wait.as_secs_f64()).ceil() as i64;
        return vec![Event::RunRetrying {
            run: id,
            record,
            attempt,
            due,
        }];
    }
    let last = Attempt::of(attempt, &record);
    record.attempts = run.attempts.clone();
    record.attempts.push(last);
    record::final_events(id, record, make)
}

/// A jitter draw for [`ending_events`], uniform in [−1, 1].
pub fn draw_jitter() -> f64 {
    use rand::Rng;
    rand::thread_rng().gen_range(-1.0..=1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exectab::RetryPolicy;
    use crate::ids::ScriptName;

    fn run(retries: u32, ended: u32) -> PendingRun {
        let mut run = PendingRun::reserve(
            100.0,
            0,
            Vec::new(),
            Default::default(),
            0,
            Default::default(),
        );
        run.spec.retry = Some(RetryPolicy { retries, base: 10 });
        let name = ScriptName::parse("s").expect("name");
        for attempt in 1..=ended {
            let record = record::base(&name, &run, Some(1.0), 2.0, Outcome::Failed);
            run.attempts.push(Attempt::of(attempt, &record));
        }
        run
    }

    fn end(run: &PendingRun, outcome: Outcome) -> Vec<Event> {
        let name = ScriptName::parse("s").expect("name");
        let record = record::base(&name, run, Some(1.0), 2.0, outcome);
        ending_events(
            run.id,
            run,
            record,
            (1000.0, 0.0),
            Asked::Nothing,
            |run, record| Event::RunFinished { run, record },
        )
    }

    #[test]
    fn a_failure_with_attempts_left_is_retried_after_the_backoff() {
        let cases = [
            (
                "first failure waits the base",
                run(2, 0),
                Outcome::Failed,
                Some((1, 1010)),
            ),
            (
                "second failure waits twice it",
                run(2, 1),
                Outcome::Timeout,
                Some((2, 1020)),
            ),
            (
                "a crash is retried",
                run(2, 0),
                Outcome::Interrupted,
                Some((1, 1010)),
            ),
            (
                "the last attempt is final",
                run(2, 2),
                Outcome::Failed,
                None,
            ),
            ("a kill is never retried", run(2, 0), Outcome::Killed, None),
            (
                "nor a start that failed",
                run(2, 0),
                Outcome::StartFailed,
                None,
            ),
            ("success ends it", run(2, 0), Outcome::Success, None),
        ];
        for (what, run, outcome, want) in cases {
            let events = end(&run, outcome);
            let got = match events.as_slice() {
                [Event::RunRetrying { attempt, due, .. }] => Some((*attempt, *due)),
                _ => None,
            };
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn a_failure_after_a_kill_request_is_not_retried() {
        let run = run(2, 0);
        let name = ScriptName::parse("s").expect("name");
        let record = record::base(&name, &run, Some(1.0), 2.0, Outcome::Failed);
        let events = ending_events(
            run.id,
            &run,
            record,
            (1000.0, 0.0),
            Asked::Kill,
            |run, record| Event::RunFinished { run, record },
        );
        assert!(
            events.first().and_then(Event::final_record).is_some(),
            "{events:?}"
        );
    }

    #[test]
    fn the_final_record_lists_every_attempt() {
        let events = end(&run(2, 2), Outcome::Failed);
        let Some(record) = events.first().and_then(Event::final_record) else {
            panic!("final: {events:?}");
        };
        let numbers: Vec<u32> = record.attempts.iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, [1, 2, 3]);
        let plain = PendingRun::reserve(1.0, 0, vec![], Default::default(), 0, Default::default());
        let events = end(&plain, Outcome::Failed);
        assert!(
            events
                .first()
                .and_then(Event::final_record)
                .is_some_and(|r| r.attempts.is_empty()),
            "a run without -R lists no attempts"
        );
    }
}
