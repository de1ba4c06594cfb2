//! A group commit as the steps of one `scriptd_commit` call
//! (migrations/postgres/…_commit_function.sql). The batch is cut into
//! segments as `groups` cuts it: a run of groups without claims is one
//! segment, a group with claims one of its own, whose claim step comes
//! first (the function skips the rest of a refused segment). Each segment
//! inserts its events, then its read-model changes in the batches
//! `apply::batches` sorts them into; the outbox comes last. Only rows
//! travel as JSON; long values (final records, retry records, stdin) and
//! the events' own JSON travel in arrays beside it, pointed at by index.
//! Account and hook changes have no step: a batch holding one goes the
//! multi-statement way (they are rare).

use serde::Serialize;

use super::apply::{self, Kind};
use crate::events::error::StoreError;
use crate::events::expect::Expect;
use crate::events::outbox;
use crate::events::projection::Change;
use crate::events::types::NewEvent;

/// What one call carries beside the events.
pub(super) struct Plan<'a> {
    /// The steps, as the JSON text `scriptd_commit` reads.
    pub steps: String,
    /// Final and retry records, pointed at by the steps (1-based).
    pub texts: Vec<String>,
    /// Stdin of queued runs, pointed at by the steps (1-based).
    pub blobs: Vec<&'a [u8]>,
}

/// One step; `seg` numbers segments from 1 (0: every segment's).
#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Step<'a> {
    Claim {
        seg: usize,
        group: usize,
        checks: Vec<Check<'a>>,
    },
    Insert {
        seg: usize,
        from: usize,
        to: usize,
    },
    Queue {
        seg: usize,
        rows: Vec<QueueRow<'a>>,
    },
    Start {
        seg: usize,
        rows: Vec<StartRow<'a>>,
    },
    DropStdin {
        seg: usize,
        ids: Vec<String>,
    },
    Finish {
        seg: usize,
        rows: Vec<FinishRow<'a>>,
    },
    Kill {
        seg: usize,
        rows: Vec<KillRow<'a>>,
    },
    Forget {
        seg: usize,
        ids: Vec<String>,
    },
    Retry {
        seg: usize,
        rows: Vec<RetryRow>,
    },
    Outbox {
        seg: usize,
        rows: Vec<OutboxRow<'a>>,
    },
}

#[derive(Serialize)]
struct Check<'a> {
    user_id: i64,
    name: &'a str,
    run: String,
    expect: &'static str,
    lim: u32,
}

#[derive(Serialize)]
struct QueueRow<'a> {
    id: String,
    user_id: i64,
    name: &'a str,
    queued: i64,
    requested_by: String,
    requested_from: Option<&'a str>,
    /// The event whose JSON is the row's `info`.
    info: usize,
    stdin: Option<usize>,
}

#[derive(Serialize)]
struct StartRow<'a> {
    id: String,
    started: f64,
    node: Option<&'a str>,
}

#[derive(Serialize)]
struct FinishRow<'a> {
    id: String,
    outcome: &'static str,
    started: Option<f64>,
    finished: f64,
    duration: Option<f64>,
    run_user: Option<&'a str>,
    run_group: Option<&'a str>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    info: usize,
    cancelled_by: Option<String>,
    cancelled_from: Option<&'a str>,
}

#[derive(Serialize)]
struct KillRow<'a> {
    id: String,
    killed_by: String,
    killed_from: Option<&'a str>,
}

#[derive(Serialize)]
struct RetryRow {
    id: String,
    due: i64,
    attempt: i64,
    ended: usize,
}

#[derive(Serialize)]
struct OutboxRow<'a> {
    user_id: i64,
    script: &'a str,
    run_id: String,
    kind: &'static str,
    event: usize,
    bit: i64,
}

/// The plan of a batch whose events' JSON is `data`; `None` when a change
/// has no step (an account or hook change).
pub(super) fn plan<'a>(
    groups: &'a [Vec<NewEvent>],
    data: &'a [Vec<String>],
) -> Result<Option<Plan<'a>>, StoreError> {
    let mut out = Builder::default();
    let claimed = |group: &Vec<NewEvent>| group.iter().any(|e| e.expect.is_some());
    let (mut next, mut done, mut seg) = (0, 0, 0);
    while next < groups.len() {
        seg += 1;
        let until = match claimed(&groups[next]) {
            true => {
                out.steps.push(Step::Claim {
                    seg,
                    group: next + 1,
                    checks: checks(&groups[next]),
                });
                next + 1
            }
            false => groups[next..]
                .iter()
                .position(claimed)
                .map_or(groups.len(), |p| next + p),
        };
        let events: Vec<&NewEvent> = groups[next..until].iter().flatten().collect();
        let texts: Vec<&str> = data[next..until]
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if !events.is_empty() {
            out.steps.push(Step::Insert {
                seg,
                from: done + 1,
                to: done + events.len(),
            });
        }
        for (kind, changes) in apply::batches(&events, &texts)? {
            if kind == Kind::Single {
                return Ok(None);
            }
            out.batch(seg, done, kind, changes);
        }
        done += events.len();
        next = until;
    }
    out.outbox(groups);
    Ok(Some(Plan {
        steps: serde_json::to_string(&out.steps)?,
        texts: out.texts,
        blobs: out.blobs,
    }))
}

/// The checks of a group's claims, in order.
fn checks(group: &[NewEvent]) -> Vec<Check<'_>> {
    let mut checks = Vec::new();
    for new in group {
        let (Some(expect), Some(run), Some(name)) =
            (new.expect, new.event.run_id(), new.event.script())
        else {
            continue;
        };
        let (expect, lim) = match expect {
            Expect::Start { simultaneous } => ("start", simultaneous),
            Expect::Room { max_queued } => ("room", max_queued),
            Expect::Queued => ("queued", 0),
            Expect::Running => ("running", 0),
        };
        checks.push(Check {
            user_id: new.user.0,
            name: name.as_str(),
            run: run.to_string(),
            expect,
            lim,
        });
    }
    checks
}

#[derive(Default)]
struct Builder<'a> {
    steps: Vec<Step<'a>>,
    texts: Vec<String>,
    blobs: Vec<&'a [u8]>,
}

impl<'a> Builder<'a> {
    /// The step of one batch of changes; `done` events came before the
    /// segment (event indexes are the segment's own).
    fn batch(&mut self, seg: usize, done: usize, kind: Kind, changes: Vec<(usize, Change<'a>)>) {
        let mut step = match kind {
            Kind::Queue => Step::Queue { seg, rows: vec![] },
            Kind::Start => Step::Start { seg, rows: vec![] },
            Kind::DropStdin => Step::DropStdin { seg, ids: vec![] },
            Kind::Finish => Step::Finish { seg, rows: vec![] },
            Kind::Kill => Step::Kill { seg, rows: vec![] },
            Kind::Forget => Step::Forget { seg, ids: vec![] },
            Kind::Retry => Step::Retry { seg, rows: vec![] },
            Kind::Single => return,
        };
        for (index, change) in changes {
            self.row(&mut step, done + index + 1, change);
        }
        self.steps.push(step);
    }

    /// Adds `change` (of event `event`, 1-based) to `step`, of its kind.
    fn row(&mut self, step: &mut Step<'a>, event: usize, change: Change<'a>) {
        match (step, change) {
            (Step::Queue { rows, .. }, Change::QueueRun(row)) => {
                let stdin = row.stdin.map(|stdin| {
                    self.blobs.push(stdin);
                    self.blobs.len()
                });
                rows.push(QueueRow {
                    id: row.id,
                    user_id: row.user,
                    name: row.name,
                    queued: row.queued,
                    requested_by: row.requested_by,
                    requested_from: row.requested_from,
                    info: event,
                    stdin,
                });
            }
            (Step::Start { rows, .. }, Change::StartRun { id, started, node }) => {
                rows.push(StartRow { id, started, node });
            }
            (Step::DropStdin { ids, .. }, Change::DropStdin { id })
            | (Step::Forget { ids, .. }, Change::Forget { id }) => ids.push(id),
            (Step::Finish { rows, .. }, Change::FinishRun { id, row, cancelled }) => {
                self.texts.push(row.info);
                let (cancelled_by, cancelled_from) =
                    cancelled.map_or((None, None), |a| (Some(a.by), a.from));
                rows.push(FinishRow {
                    id,
                    outcome: row.outcome,
                    started: row.started,
                    finished: row.finished,
                    duration: row.duration,
                    run_user: row.run_user,
                    run_group: row.run_group,
                    exit_code: row.exit_code,
                    signal: row.signal,
                    info: self.texts.len(),
                    cancelled_by,
                    cancelled_from,
                });
            }
            (Step::Kill { rows, .. }, Change::KillRequested { id, audit }) => {
                rows.push(KillRow {
                    id,
                    killed_by: audit.by,
                    killed_from: audit.from,
                });
            }
            (
                Step::Retry { rows, .. },
                Change::RetryRun {
                    id,
                    due,
                    attempt,
                    ended,
                },
            ) => {
                self.texts.push(ended);
                rows.push(RetryRow {
                    id,
                    due,
                    attempt,
                    ended: self.texts.len(),
                });
            }
            // `apply::batches` puts one kind in a batch.
            _ => {}
        }
    }

    /// The deliveries the batch's events cause, if any is a trigger.
    fn outbox(&mut self, groups: &'a [Vec<NewEvent>]) {
        let mut rows = Vec::new();
        for (index, new) in groups.iter().flatten().enumerate() {
            if let Some((trigger, script, run)) = outbox::trigger(&new.event) {
                rows.push(OutboxRow {
                    user_id: new.user.0,
                    script: script.as_str(),
                    run_id: run.to_string(),
                    kind: trigger.as_str(),
                    event: index + 1,
                    bit: trigger.bit(),
                });
            }
        }
        if !rows.is_empty() {
            self.steps.push(Step::Outbox { seg: 0, rows });
        }
    }
}
