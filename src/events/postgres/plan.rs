//! A group commit as the arguments of one `scriptd_commit` call
//! (migrations/postgres/…_commit_function_typed.sql). The batch is cut
//! into segments as `groups` cuts it: a run of groups without claims is
//! one segment, a group with claims or a schedule tick one of its own,
//! whose claim step comes first (the function skips the rest of a refused
//! segment, and leaves its events out). Each segment's read-model changes
//! follow as steps, in the batches `apply::batches` sorts them into. Every
//! column travels as an array of its own type, one set of arrays per kind
//! of step, each step naming its rows by range: the server plans `unnest`
//! of a parameter as a few rows, where JSON rows were taken for 100 and
//! joined by scanning `runs` (BENCHMARKS.md, "Where the commit function's
//! time goes"). Account and hook changes have no step: a batch holding
//! one goes the multi-statement way (they are rare).

use super::apply::{self, Kind};
use crate::events::error::StoreError;
use crate::events::expect::Expect;
use crate::events::outbox;
use crate::events::projection::Change;
use crate::events::types::{Event, NewEvent};

/// The steps, in order: what each does, in which segment (from 1), over
/// which rows of its kind's arrays (1-based, inclusive).
#[derive(Default)]
pub(super) struct Steps {
    pub ops: Vec<&'static str>,
    pub segs: Vec<i32>,
    pub froms: Vec<i32>,
    pub tos: Vec<i32>,
}

/// Claim checks: each its group (1-based), the run's user, script and id
/// (a tick's stream for `tick`), what is expected, and the limit.
#[derive(Default)]
pub(super) struct Checks<'a> {
    pub groups: Vec<i32>,
    pub users: Vec<i64>,
    pub names: Vec<&'a str>,
    pub runs: Vec<String>,
    pub expects: Vec<&'static str>,
    pub lims: Vec<i64>,
}

/// New `runs` rows; `info` points at the event whose JSON the row keeps,
/// `stdin` into the blobs.
#[derive(Default)]
pub(super) struct Queued<'a> {
    pub ids: Vec<String>,
    pub users: Vec<i64>,
    pub names: Vec<&'a str>,
    pub queued: Vec<i64>,
    pub by: Vec<String>,
    pub from: Vec<Option<&'a str>>,
    pub info: Vec<i32>,
    pub stdin: Vec<Option<i32>>,
    pub blobs: Vec<&'a [u8]>,
}

#[derive(Default)]
pub(super) struct Started<'a> {
    pub ids: Vec<String>,
    pub at: Vec<f64>,
    pub nodes: Vec<Option<&'a str>>,
}

#[derive(Default)]
pub(super) struct Finished<'a> {
    pub ids: Vec<String>,
    pub outcomes: Vec<&'static str>,
    pub started: Vec<Option<f64>>,
    pub finished: Vec<f64>,
    pub durations: Vec<Option<f64>>,
    pub run_users: Vec<Option<&'a str>>,
    pub run_groups: Vec<Option<&'a str>>,
    pub exit_codes: Vec<Option<i32>>,
    pub signals: Vec<Option<i32>>,
    pub infos: Vec<String>,
    pub cancelled_by: Vec<Option<String>>,
    pub cancelled_from: Vec<Option<&'a str>>,
}

#[derive(Default)]
pub(super) struct Killed<'a> {
    pub ids: Vec<String>,
    pub by: Vec<String>,
    pub from: Vec<Option<&'a str>>,
}

#[derive(Default)]
pub(super) struct Retried {
    pub ids: Vec<String>,
    pub due: Vec<i64>,
    pub attempts: Vec<i32>,
    pub ended: Vec<String>,
}

/// Hook deliveries to write: each the event (1-based) that triggers it.
#[derive(Default)]
pub(super) struct Outbox<'a> {
    pub users: Vec<i64>,
    pub scripts: Vec<&'a str>,
    pub runs: Vec<String>,
    pub kinds: Vec<&'static str>,
    pub events: Vec<i32>,
    pub bits: Vec<i64>,
}

/// What one call carries beside the events.
#[derive(Default)]
pub(super) struct Plan<'a> {
    /// Each event's segment.
    pub event_segs: Vec<i32>,
    pub steps: Steps,
    pub checks: Checks<'a>,
    pub queued: Queued<'a>,
    pub started: Started<'a>,
    /// Run ids of `drop_stdin` and `forget` steps.
    pub ids: Vec<String>,
    pub finished: Finished<'a>,
    pub killed: Killed<'a>,
    pub retried: Retried,
    pub outbox: Outbox<'a>,
}

/// Whether a group is checked on its own: it carries a claim or a tick.
fn checked(group: &[NewEvent]) -> bool {
    group
        .iter()
        .any(|e| e.expect.is_some() || matches!(e.event, Event::ScheduleTicked { .. }))
}

/// The plan of a batch whose events' JSON is `data`; `None` when a change
/// has no step (an account or hook change).
pub(super) fn plan<'a>(
    groups: &'a [Vec<NewEvent>],
    data: &'a [Vec<String>],
) -> Result<Option<Plan<'a>>, StoreError> {
    let mut out = Plan::default();
    let (mut next, mut done, mut seg) = (0, 0, 0);
    while next < groups.len() {
        seg += 1;
        let until = match checked(&groups[next]) {
            true => {
                out.checks(seg, next + 1, &groups[next]);
                next + 1
            }
            false => groups[next..]
                .iter()
                .position(|g| checked(g))
                .map_or(groups.len(), |p| next + p),
        };
        let events: Vec<&NewEvent> = groups[next..until].iter().flatten().collect();
        let texts: Vec<&str> = data[next..until]
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        out.event_segs
            .extend(std::iter::repeat_n(seg as i32, events.len()));
        for (kind, changes) in apply::batches(&events, &texts)? {
            if kind == Kind::Single {
                return Ok(None);
            }
            out.batch(seg, done, kind, changes);
        }
        done += events.len();
        next = until;
    }
    out.deliveries(groups);
    Ok(Some(out))
}

impl<'a> Plan<'a> {
    /// Adds a step over the rows `from` (0-based) up to `to` (excluded).
    fn step(&mut self, op: &'static str, seg: usize, from: usize, to: usize) {
        self.steps.ops.push(op);
        self.steps.segs.push(seg as i32);
        self.steps.froms.push(from as i32 + 1);
        self.steps.tos.push(to as i32);
    }

    /// The claim step of group `group` (1-based): its events' claims in
    /// order, then its ticks.
    fn checks(&mut self, seg: usize, group: usize, events: &'a [NewEvent]) {
        let from = self.checks.groups.len();
        for new in events {
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
            self.check(group, new.user.0, name.as_str(), run.to_string(), expect);
            self.checks.lims.push(i64::from(lim));
        }
        for new in events {
            if let Event::ScheduleTicked { name, .. } = &new.event {
                self.check(group, new.user.0, name.as_str(), new.stream(), "tick");
                self.checks.lims.push(0);
            }
        }
        let to = self.checks.groups.len();
        self.step("claim", seg, from, to);
    }

    fn check(&mut self, group: usize, user: i64, name: &'a str, run: String, expect: &'static str) {
        self.checks.groups.push(group as i32);
        self.checks.users.push(user);
        self.checks.names.push(name);
        self.checks.runs.push(run);
        self.checks.expects.push(expect);
    }

    /// The step of one batch of changes; `done` events came before the
    /// segment (event indexes are the segment's own).
    fn batch(&mut self, seg: usize, done: usize, kind: Kind, changes: Vec<(usize, Change<'a>)>) {
        let (op, from) = match kind {
            Kind::Queue => ("queue", self.queued.ids.len()),
            Kind::Start => ("start", self.started.ids.len()),
            Kind::DropStdin => ("drop_stdin", self.ids.len()),
            Kind::Finish => ("finish", self.finished.ids.len()),
            Kind::Kill => ("kill", self.killed.ids.len()),
            Kind::Forget => ("forget", self.ids.len()),
            Kind::Retry => ("retry", self.retried.ids.len()),
            Kind::Single => return,
        };
        let count = changes.len();
        for (index, change) in changes {
            self.row(done + index + 1, change);
        }
        self.step(op, seg, from, from + count);
    }

    /// Adds `change` (of event `event`, 1-based) to its kind's arrays.
    fn row(&mut self, event: usize, change: Change<'a>) {
        match change {
            Change::QueueRun(row) => {
                let q = &mut self.queued;
                let stdin = row.stdin.map(|stdin| {
                    q.blobs.push(stdin);
                    q.blobs.len() as i32
                });
                q.ids.push(row.id);
                q.users.push(row.user);
                q.names.push(row.name);
                q.queued.push(row.queued);
                q.by.push(row.requested_by);
                q.from.push(row.requested_from);
                q.info.push(event as i32);
                q.stdin.push(stdin);
            }
            Change::StartRun { id, started, node } => {
                self.started.ids.push(id);
                self.started.at.push(started);
                self.started.nodes.push(node);
            }
            Change::DropStdin { id } | Change::Forget { id } => self.ids.push(id),
            Change::FinishRun { id, row, cancelled } => {
                let f = &mut self.finished;
                let (by, from) = cancelled.map_or((None, None), |a| (Some(a.by), a.from));
                f.ids.push(id);
                f.outcomes.push(row.outcome);
                f.started.push(row.started);
                f.finished.push(row.finished);
                f.durations.push(row.duration);
                f.run_users.push(row.run_user);
                f.run_groups.push(row.run_group);
                f.exit_codes.push(row.exit_code);
                f.signals.push(row.signal);
                f.infos.push(row.info);
                f.cancelled_by.push(by);
                f.cancelled_from.push(from);
            }
            Change::KillRequested { id, audit } => {
                self.killed.ids.push(id);
                self.killed.by.push(audit.by);
                self.killed.from.push(audit.from);
            }
            Change::RetryRun {
                id,
                due,
                attempt,
                ended,
            } => {
                self.retried.ids.push(id);
                self.retried.due.push(due);
                self.retried.attempts.push(attempt as i32);
                self.retried.ended.push(ended);
            }
            // `apply::batches` leaves these out, or makes them `Single`.
            _ => {}
        }
    }

    /// The deliveries the batch's events cause, if any is a trigger.
    fn deliveries(&mut self, groups: &'a [Vec<NewEvent>]) {
        for (index, new) in groups.iter().flatten().enumerate() {
            if let Some((trigger, script, run)) = outbox::trigger(&new.event) {
                let o = &mut self.outbox;
                o.users.push(new.user.0);
                o.scripts.push(script.as_str());
                o.runs.push(run.to_string());
                o.kinds.push(trigger.as_str());
                o.events.push(index as i32 + 1);
                o.bits.push(trigger.bit());
            }
        }
    }
}
