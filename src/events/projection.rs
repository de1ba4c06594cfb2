//! What each appended event does to the read-model tables (runs, users,
//! guests, run_stdin, hooks): computed here once, in Rust, for both backends;
//! `sqlite::apply` and `postgres::apply` only turn a [`Change`] into their
//! SQL, inside the transaction that appends the event. Pure folding: no
//! rules are checked here beyond the database's own constraints.

use super::error::StoreError;
use super::types::{Attempt, Event, GuestRights, NewEvent, Origin, RunRecord};
use crate::ids::UserId;

/// One change of the read model.
#[derive(Debug)]
pub enum Change<'a> {
    /// The event changes no table (progress).
    Nothing,
    /// A new `runs` row in state `queued`, and its stdin when it has one.
    QueueRun(QueuedRow<'a>),
    /// The run is running since `started`, on `node` (PostgreSQL).
    StartRun {
        id: String,
        started: f64,
        node: Option<&'a str>,
    },
    /// The stored stdin goes (the process has it).
    DropStdin { id: String },
    /// The run is done: its final row, and who cancelled it if it was.
    FinishRun {
        id: String,
        row: FinalRow<'a>,
        cancelled: Option<Audit<'a>>,
    },
    /// An attempt ended and the run waits for its next (`RunRetrying`):
    /// queued again, due at `due`, on attempt `attempt`, the ended one
    /// (`ended`, an [`Attempt`]'s JSON) added to its list.
    RetryRun {
        id: String,
        due: i64,
        attempt: i64,
        ended: String,
    },
    /// The first kill request is recorded; repeats change nothing.
    KillRequested { id: String, audit: Audit<'a> },
    /// `-r`: the run no longer shows.
    Forget { id: String },
    /// A new user.
    AddUser {
        id: i64,
        name: &'a str,
        key_hash: &'a str,
        guests: bool,
        created: i64,
    },
    /// A user and its guests go.
    RemoveUser { id: i64 },
    /// A user's key changes.
    RotateKey { id: i64, key_hash: &'a str },
    /// A new guest key.
    AddGuest {
        id: String,
        user: i64,
        key_hash: &'a str,
        script: &'a str,
        rights: GuestRights,
        created: i64,
        expires: i64,
    },
    /// A guest key goes.
    DeleteGuest { id: String, user: i64 },
    /// A new webhook.
    AddHook(HookRow<'a>),
    /// A webhook goes, with its deliveries.
    DeleteHook { id: String, user: i64 },
    /// A webhook is paused.
    PauseHook {
        id: String,
        user: i64,
        paused: i64,
        reason: &'a str,
    },
}

/// The `hooks` row of a new webhook.
#[derive(Debug)]
pub struct HookRow<'a> {
    pub id: String,
    pub user: i64,
    pub url: &'a str,
    pub triggers: i64,
    pub script: Option<&'a str>,
    pub format: &'static str,
    pub secret: &'a str,
    pub created: i64,
}

/// The `runs` row of a queued run.
#[derive(Debug)]
pub struct QueuedRow<'a> {
    pub id: String,
    pub user: i64,
    pub name: &'a str,
    pub queued: i64,
    pub requested_by: String,
    pub requested_from: Option<&'a str>,
    /// The `RunQueued` event's JSON, as stored in `events`.
    pub info: &'a str,
    pub stdin: Option<&'a [u8]>,
}

/// The columns a final event sets.
#[derive(Debug)]
pub struct FinalRow<'a> {
    pub outcome: &'static str,
    pub started: Option<f64>,
    pub finished: f64,
    pub duration: Option<f64>,
    pub run_user: Option<&'a str>,
    pub run_group: Option<&'a str>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// The record's JSON.
    pub info: String,
}

/// Who asked for a change of a run (`*_by`), and from where (`*_from`).
#[derive(Debug)]
pub struct Audit<'a> {
    pub by: String,
    pub from: Option<&'a str>,
}

/// The change `new` makes. `data` is the event's JSON as just stored in
/// `events`; a queued run's row keeps the same text.
pub fn change<'a>(new: &'a NewEvent, data: &'a str) -> Result<Change<'a>, StoreError> {
    Ok(match &new.event {
        Event::RunQueued {
            run,
            name,
            queued,
            origin,
            ..
        } => Change::QueueRun(QueuedRow {
            id: run.to_string(),
            user: new.user.0,
            name: name.as_str(),
            queued: *queued,
            requested_by: actor(origin, new.user),
            requested_from: origin.addr.as_deref(),
            info: data,
            stdin: new.stdin.as_deref(),
        }),
        // The stdin stays until the process exists: it is read after
        // RunStarted is durable.
        Event::RunStarted {
            run, started, node, ..
        } => Change::StartRun {
            id: run.to_string(),
            started: *started,
            node: node.as_deref(),
        },
        // The process has been handed its stdin (the rest of it is in the
        // server's memory, on its way down the pipe). Nothing can start
        // this run again: a replay turns a started run into `interrupted`.
        // So the stored copy goes now, not at the end.
        Event::RunSpawned {
            run,
            keep_stdin: false,
            ..
        } => Change::DropStdin {
            id: run.to_string(),
        },
        // A run with retries may need its stdin again; its end drops it.
        Event::RunSpawned {
            keep_stdin: true, ..
        } => Change::Nothing,
        Event::RunRetrying {
            run,
            record,
            attempt,
            due,
        } => Change::RetryRun {
            id: run.to_string(),
            due: *due,
            attempt: i64::from(*attempt) + 1,
            ended: serde_json::to_string(&Attempt::of(*attempt, record))?,
        },
        Event::RunFinished { run, record }
        | Event::RunStartFailed { run, record }
        | Event::RunInterrupted { run, record } => Change::FinishRun {
            id: run.to_string(),
            row: final_row(record)?,
            cancelled: None,
        },
        Event::RunCancelled {
            run,
            record,
            origin,
        } => Change::FinishRun {
            id: run.to_string(),
            row: final_row(record)?,
            cancelled: Some(audit(origin, new.user)),
        },
        Event::RunKillRequested { run, origin, .. } => Change::KillRequested {
            id: run.to_string(),
            audit: audit(origin, new.user),
        },
        Event::RunForgotten { run } => Change::Forget {
            id: run.to_string(),
        },
        // Schedules read their state from the log (its tick index).
        Event::RunProgress { .. }
        | Event::ScheduleTicked { .. }
        | Event::SchedulePaused { .. }
        | Event::ScheduleResumed { .. }
        | Event::SessionStarted { .. }
        | Event::SessionEnded { .. } => Change::Nothing,
        Event::UserCreated {
            user,
            name,
            key_hash,
            guests,
            created,
        } => Change::AddUser {
            id: user.0,
            name,
            key_hash,
            guests: *guests,
            created: *created,
        },
        Event::UserRemoved { user } => Change::RemoveUser { id: user.0 },
        Event::ApiKeyRotated { user, key_hash } => Change::RotateKey {
            id: user.0,
            key_hash,
        },
        Event::GuestCreated {
            guest,
            script,
            rights,
            key_hash,
            created,
            expires,
            ..
        } => Change::AddGuest {
            id: guest.to_string(),
            user: new.user.0,
            key_hash,
            script: script.as_str(),
            rights: *rights,
            created: *created,
            expires: *expires,
        },
        Event::GuestDeleted { guest, .. } => Change::DeleteGuest {
            id: guest.to_string(),
            user: new.user.0,
        },
        Event::HookCreated {
            hook,
            url,
            on,
            name,
            format,
            secret,
            created,
            ..
        } => Change::AddHook(HookRow {
            id: hook.to_string(),
            user: new.user.0,
            url,
            triggers: crate::hook::trigger::mask(on),
            script: name.as_ref().map(|n| n.as_str()),
            format: format.as_str(),
            secret,
            created: *created,
        }),
        Event::HookDeleted { hook, .. } => Change::DeleteHook {
            id: hook.to_string(),
            user: new.user.0,
        },
        Event::HookPaused {
            hook,
            reason,
            paused,
        } => Change::PauseHook {
            id: hook.to_string(),
            user: new.user.0,
            paused: *paused,
            reason,
        },
    })
}

fn final_row(record: &RunRecord) -> Result<FinalRow<'_>, StoreError> {
    Ok(FinalRow {
        outcome: record.outcome.as_str(),
        started: record.started,
        finished: record.finished,
        duration: record.duration,
        run_user: record.run_user.as_deref(),
        run_group: record.run_group.as_deref(),
        exit_code: record.exit_code,
        signal: record.signal,
        info: serde_json::to_string(record)?,
    })
}

fn audit(origin: &Origin, user: UserId) -> Audit<'_> {
    Audit {
        by: actor(origin, user),
        from: origin.addr.as_deref(),
    }
}

/// Who acted, as the audit columns record it: `operator:<what>`,
/// `schedule`, `person:<sub>`, `guest:<id>` or `user:<id>`.
fn actor(origin: &Origin, user: UserId) -> String {
    if let Some(operator) = &origin.operator {
        return format!("operator:{operator}");
    }
    if origin.tick.is_some() {
        return "schedule".to_owned();
    }
    if let Some(person) = &origin.person {
        return format!("person:{}", person.sub);
    }
    match origin.guest {
        Some(guest) => format!("guest:{guest}"),
        None => format!("user:{user}"),
    }
}
