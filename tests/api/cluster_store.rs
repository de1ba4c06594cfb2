//! Claims in the store itself, on a PostgreSQL database of the test's
//! own: an append whose expectation does not hold is refused with its
//! reason (not failed), each group is checked against what the groups
//! before it in the same commit changed, and the others commit.

use scriptd::events::store::{self, Location};
use scriptd::events::types::{Origin, RunSpec};
use scriptd::events::{Event, Expect, NewEvent, Refusal, StoreError};
use scriptd::ids::{RunId, ScriptName, UserId};
use sqlx::Connection as _;

const USER: UserId = UserId(1);

fn name() -> ScriptName {
    ScriptName::parse("claimed").expect("a name")
}

fn queued(run: RunId, max_queued: u32) -> NewEvent {
    let event = Event::RunQueued {
        run,
        name: name(),
        queued: 0,
        requested: 0.0,
        params: Vec::new(),
        spec: RunSpec::default(),
        stdin_len: 0,
        position: 0,
        origin: Origin::default(),
    };
    NewEvent::new(USER, event).expecting(Expect::Room { max_queued })
}

fn started(run: RunId, simultaneous: u32) -> NewEvent {
    let event = Event::RunStarted {
        run,
        name: name(),
        started: 1.0,
        node: Some("n1".to_owned()),
        attempt: None,
        max_attempts: None,
        tick: None,
    };
    NewEvent::new(USER, event).expecting(Expect::Start { simultaneous })
}

/// An event that changes no row, carrying `expect` (what a cancel or a
/// kill of `run` would carry).
fn probe(run: RunId, expect: Expect) -> NewEvent {
    let event = Event::RunKillRequested {
        run,
        name: name(),
        origin: Origin::default(),
    };
    NewEvent::new(USER, event).expecting(expect)
}

/// Each group's outcome: `Ok` or the refusal; any other error fails.
fn outcomes(
    results: Vec<Result<Vec<scriptd::events::StoredEvent>, StoreError>>,
) -> Vec<Result<(), Refusal>> {
    results
        .into_iter()
        .map(|result| match result {
            Ok(_) => Ok(()),
            Err(StoreError::Refused(refusal)) => Err(refusal),
            Err(other) => panic!("a failure, not a refusal: {other:?}"),
        })
        .collect()
}

#[actix_web::test]
async fn claims_are_refused_with_their_reason_and_the_rest_of_the_commit_goes_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = crate::backend::fresh_postgres_database(dir.path());
    let mut db = store::open(&Location::Postgres(url)).await.expect("open");
    let (a, b, c) = (RunId::new(), RunId::new(), RunId::new());

    let queueing = db
        .writer
        .commit(&[vec![queued(a, 2)], vec![queued(b, 2)], vec![queued(c, 2)]])
        .await
        .expect("commit");
    assert_eq!(
        outcomes(queueing),
        [Ok(()), Ok(()), Err(Refusal::QueueFull)],
        "-m=2: the third of one commit finds two before it"
    );

    let starting = db
        .writer
        .commit(&[
            vec![started(a, 1)],
            vec![started(b, 1)],
            vec![started(a, 1)],
        ])
        .await
        .expect("commit");
    assert_eq!(
        outcomes(starting),
        [
            Ok(()),
            Err(Refusal::SlotsFull),
            Err(Refusal::NotQueued { running: true })
        ],
        "-s=1: one start; a run never starts twice"
    );

    let probing = db
        .writer
        .commit(&[
            vec![probe(a, Expect::Queued)],
            vec![probe(b, Expect::Queued)],
            vec![probe(b, Expect::Running)],
            vec![probe(a, Expect::Running)],
            vec![started(b, 2)],
        ])
        .await
        .expect("commit");
    assert_eq!(
        outcomes(probing),
        [
            Err(Refusal::NotQueued { running: true }),
            Ok(()),
            Err(Refusal::NotRunning),
            Ok(()),
            Ok(()),
        ],
        "a cancel needs a queued run, a kill a running one; -s=2 lets b start"
    );

    // A group that fails (a run id used again) spoils the first pass: the
    // commit is redone group by group, and the claims still hold.
    let mut again = queued(a, 99);
    again.expect = None;
    let redone = db
        .writer
        .commit(&[
            vec![again],
            vec![probe(b, Expect::Running)],
            vec![started(c, 9)],
        ])
        .await
        .expect("commit");
    assert!(
        matches!(&redone[0], Err(StoreError::Conflict(_))),
        "the bad group fails alone: {:?}",
        redone[0]
    );
    assert_eq!(
        outcomes(redone.into_iter().skip(1).collect()),
        [Ok(()), Err(Refusal::NotQueued { running: false })],
        "c was never queued: refused, not started"
    );
}

fn tick(instant: i64, run: RunId) -> NewEvent {
    let event = Event::ScheduleTicked {
        name: name(),
        tick: instant,
        run: Some(run),
        skipped: None,
        missed: None,
        late: 0.0,
    };
    NewEvent::new(USER, event)
}

/// A schedule's tick another node recorded first is an answer for its
/// group only: the rest of the batch commits in the same call of
/// `scriptd_commit`, which left its answer (the refusal included) for the
/// lost-answer settlement. Before, the call failed on `events_one_tick`
/// and the batch was redone group by group on the multi-statement path,
/// which leaves no answer.
#[actix_web::test]
async fn a_tick_already_taken_refuses_its_group_and_the_batch_commits_in_one_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = crate::backend::fresh_postgres_database(dir.path());
    let mut db = store::open(&Location::Postgres(url.clone()))
        .await
        .expect("open");
    let (a, b, c, d) = (RunId::new(), RunId::new(), RunId::new(), RunId::new());
    let first = db
        .writer
        .commit(&[vec![tick(60, a), queued(a, 9)]])
        .await
        .expect("commit");
    assert!(first[0].is_ok(), "the first tick: {:?}", first[0]);

    let mut plain = queued(c, 9);
    plain.expect = None;
    let second = db
        .writer
        .commit(&[
            vec![plain],
            vec![tick(60, b), queued(b, 9)],
            vec![tick(120, d), queued(d, 9)],
        ])
        .await
        .expect("commit");
    assert!(second[0].is_ok(), "{:?}", second[0]);
    assert!(
        second[1].as_ref().is_err_and(StoreError::is_tick_taken),
        "the taken tick: {:?}",
        second[1]
    );
    assert!(second[2].is_ok(), "the next tick: {:?}", second[2]);

    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let answer: (i64, Vec<Option<String>>) =
        sqlx::query_as("SELECT commit_no, refused FROM commit_answers")
            .fetch_one(&mut conn)
            .await
            .expect("the call's answer");
    assert_eq!(
        answer,
        (2, vec![None, Some("tick_taken".to_owned()), None]),
        "the second batch went in one call"
    );
    let runs: Vec<String> = sqlx::query_scalar("SELECT id FROM runs ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("runs");
    let mut want = vec![a.to_string(), c.to_string(), d.to_string()];
    want.sort();
    assert_eq!(runs, want, "the taken tick's run is not queued");
    let ticks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE kind = 'ScheduleTicked'")
            .fetch_one(&mut conn)
            .await
            .expect("ticks");
    assert_eq!(ticks, 2);
}
