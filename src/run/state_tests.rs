//! Given a run's events, then its state: every transition of
//! [`RunState::apply`], in the cqrs-es given/then form.

use super::*;
use crate::events::types::{Outcome, RunSpec};
use crate::run::fixtures::{by_guest, name, Run, NOW, STARTED};
use crate::run::record;

/// Folds `events`.
fn given(events: &[Event]) -> RunState {
    RunState::fold(events)
}

#[test]
fn no_events_is_unknown() {
    assert_eq!(given(&[]), RunState::Unknown);
}

#[test]
fn queued_holds_the_request_its_event_was_built_from() {
    let run = Run::new();
    let then = given(&[run.queued()]);
    assert_eq!(
        then,
        RunState::Queued {
            name: name(),
            run: run.run.clone()
        }
    );
}

#[test]
fn a_reserved_request_comes_back_accepted_from_its_event() {
    let mut reserved = PendingRun::reserve(
        1_900_000_000.7,
        0,
        vec!["x".into()],
        RunSpec::default(),
        0,
        Origin::default(),
    );
    assert_eq!(
        reserved.queued, 1_900_000_000,
        "never before the second it was asked in"
    );
    let then = given(&[reserved.queued_event(&name(), 4)]);
    reserved.admission = crate::run::Admission::Accepted;
    assert_eq!(
        then,
        RunState::Queued {
            name: name(),
            run: reserved
        }
    );
}

#[test]
fn started_is_starting_until_its_process_is_on_record() {
    let run = Run::new();
    let then = given(&[run.queued(), run.started()]);
    assert_eq!(then, RunState::Starting(run.started_run(None)));
    assert_eq!(then.process(), None);
}

#[test]
fn spawned_is_running_with_its_process() {
    let run = Run::new();
    let then = given(&[run.queued(), run.started(), run.spawned()]);
    assert_eq!(
        then,
        RunState::Running {
            run: run.started_run(None),
            process: run.process()
        }
    );
}

#[test]
fn progress_keeps_the_latest_snapshot() {
    let run = Run::new();
    let then = given(&[
        run.queued(),
        run.started(),
        run.spawned(),
        run.progress(1),
        run.progress(2),
    ]);
    assert_eq!(
        then,
        RunState::Running {
            run: run.started_run(Some(2)),
            process: run.process()
        }
    );
}

#[test]
fn progress_of_a_queued_run_changes_nothing() {
    let run = Run::new();
    let queued = given(&[run.queued()]);
    assert_eq!(given(&[run.queued(), run.progress(1)]), queued);
}

#[test]
fn finished_is_done_with_its_record() {
    let cases = [
        ("success", Outcome::Success),
        ("failed", Outcome::Failed),
        ("timeout", Outcome::Timeout),
        ("killed by a signal", Outcome::Killed),
    ];
    for (what, outcome) in cases {
        let run = Run::new();
        let then = given(&[
            run.queued(),
            run.started(),
            run.spawned(),
            run.progress(1),
            run.finished(outcome),
        ]);
        let want = RunState::Done {
            record: run.record(outcome),
            end: End::Finished,
        };
        assert_eq!(then, want, "{what}");
    }
}

#[test]
fn a_noexec_run_is_done_from_the_queue() {
    let run = Run::new();
    let record = record::noexec(&name(), &run.run, NOW);
    let finished = Event::RunFinished {
        run: run.run.id,
        record: record.clone(),
    };
    let then = given(&[run.queued(), finished]);
    let want = RunState::Done {
        record,
        end: End::Finished,
    };
    assert_eq!(then, want);
}

#[test]
fn cancel_of_a_queued_run_is_done_by_whoever_cancelled() {
    let run = Run::new();
    let by = by_guest();
    let cancelled = run.cancelled(&by);
    assert_eq!(cancelled.len(), 1, "no -r, no RunForgotten");
    let mut events = vec![run.queued()];
    events.extend(cancelled);
    let then = given(&events);
    let RunState::Done { record, end } = then else {
        panic!("not done: {then:?}");
    };
    assert_eq!(end, End::Cancelled { by });
    assert_eq!(
        (record.outcome, record.first.as_str()),
        (Outcome::Cancelled, record::CANCEL_LINE)
    );
}

#[test]
fn kill_of_a_running_run_is_killing_by_the_first_request() {
    let run = Run::new();
    let (first, second) = (by_guest(), Origin::default());
    let then = given(&[
        run.queued(),
        run.started(),
        run.spawned(),
        run.kill(&first),
        run.kill(&second),
    ]);
    let want = RunState::Killing {
        run: run.started_run(None),
        process: Some(run.process()),
        by: first,
    };
    assert_eq!(then, want, "a repeated request changes nothing");
}

#[test]
fn kill_before_the_process_exists_keeps_waiting_for_it() {
    let run = Run::new();
    let by = by_guest();
    let asked = given(&[run.queued(), run.started(), run.kill(&by)]);
    let want = RunState::Killing {
        run: run.started_run(None),
        process: None,
        by: by.clone(),
    };
    assert_eq!(asked, want);
    let spawned = given(&[run.queued(), run.started(), run.kill(&by), run.spawned()]);
    assert_eq!(spawned.process(), Some(&run.process()));
}

#[test]
fn a_killed_run_is_done_once_it_exits() {
    let run = Run::new();
    let then = given(&[
        run.queued(),
        run.started(),
        run.spawned(),
        run.kill(&by_guest()),
        run.progress(3),
        run.finished(Outcome::Killed),
    ]);
    let want = RunState::Done {
        record: run.record(Outcome::Killed),
        end: End::Finished,
    };
    assert_eq!(then, want);
}

#[test]
fn interrupted_is_done_with_why() {
    let run = Run::new();
    let record = record::interrupted(&name(), &run.run, STARTED, NOW, "the server stopped");
    let then = given(&[
        run.queued(),
        run.started(),
        run.spawned(),
        Event::RunInterrupted {
            run: run.run.id,
            record: record.clone(),
        },
    ]);
    assert_eq!(
        then,
        RunState::Done {
            record: record.clone(),
            end: End::Interrupted
        }
    );
    assert_eq!(
        (record.outcome, record.started, record.error.as_deref()),
        (
            Outcome::Interrupted,
            Some(STARTED),
            Some("the server stopped")
        )
    );
}

#[test]
fn start_failed_is_done_without_a_process() {
    let run = Run::new();
    let mut record = run.record(Outcome::StartFailed);
    record.error = Some("no such file".into());
    let then = given(&[
        run.queued(),
        run.started(),
        Event::RunStartFailed {
            run: run.run.id,
            record: record.clone(),
        },
    ]);
    let want = RunState::Done {
        record,
        end: End::StartFailed,
    };
    assert_eq!(then, want);
}

#[test]
fn dash_r_forgets_a_forgettable_outcome() {
    let run = Run::forgetting();
    let mut events = vec![run.queued()];
    events.extend(run.cancelled(&Origin::default()));
    assert!(
        matches!(events.last(), Some(Event::RunForgotten { .. })),
        "-r appends RunForgotten with the final event"
    );
    let then = given(&events);
    assert!(
        matches!(
            &then,
            RunState::Forgotten {
                end: End::Cancelled { .. },
                ..
            }
        ),
        "{then:?}"
    );
}

#[test]
fn dash_r_keeps_a_failure() {
    let run = Run::forgetting();
    let events = record::final_events(run.run.id, run.record(Outcome::Failed), |run, record| {
        Event::RunFinished { run, record }
    });
    assert_eq!(events.len(), 1, "a failed run is not forgotten");
}

#[test]
fn a_final_state_stays_final() {
    let run = Run::new();
    let done = given(&[run.queued(), run.started(), run.finished(Outcome::Success)]);
    let later = given(&[
        run.queued(),
        run.started(),
        run.finished(Outcome::Success),
        run.finished(Outcome::Failed),
        run.kill(&by_guest()),
        run.progress(1),
    ]);
    assert_eq!(later, done, "the first final event wins");
}

#[test]
fn the_row_state_follows_the_lifecycle() {
    use crate::events::query::RowState;
    let run = Run::new();
    let cases = [
        ("no event", vec![], None),
        ("queued", vec![run.queued()], Some(RowState::Queued)),
        (
            "starting",
            vec![run.queued(), run.started()],
            Some(RowState::Running),
        ),
        (
            "killing",
            vec![run.queued(), run.started(), run.kill(&by_guest())],
            Some(RowState::Running),
        ),
        (
            "done",
            vec![run.queued(), run.started(), run.finished(Outcome::Success)],
            Some(RowState::Done),
        ),
    ];
    for (what, events, want) in cases {
        assert_eq!(given(&events).row_state(), want, "{what}");
    }
}
