//! Run endpoints: run, cancel, kill, status (one and all), log, scripts.

use std::collections::BTreeMap;

use actix::Addr;

use super::catch_up;
use super::error::ApiError;
use super::parse;
use super::request::ApiRequest;
use super::AppState;
use crate::accounts::Principal;
use crate::actors::account::{self, AccountSupervisor, RunRequest};
use crate::actors::directory::GetAccount;
use crate::actors::queue::{self, LiveRun, ScriptQueue};
use crate::actors::RunError;
use crate::events::query::{RowState, RunRow};
use crate::events::types::Origin;
use crate::ids::{RunId, ScriptName};
use crate::output::LogError;
use crate::rights::{self, Action, View};
use crate::status;
use crate::wire::{self, Ack, IdsOrCount, RunStatus, StatusList, Success};

async fn account(
    state: &AppState,
    principal: &Principal,
) -> Result<Addr<AccountSupervisor>, ApiError> {
    state
        .directory
        .send(GetAccount {
            user: principal.user_id(),
        })
        .await?
        .ok_or(ApiError::Run(RunError::ShuttingDown))
}

/// Who is acting, for the audit: the guest key, or the signed-in person.
pub fn origin(principal: &Principal, req: &ApiRequest) -> Origin {
    Origin {
        operator: None,
        guest: principal.guest().map(|g| g.id),
        addr: req.peer.clone(),
        tick: None,
        person: principal.person().map(|p| p.who.clone()),
    }
}

fn parse_run_request(principal: &Principal, req: &ApiRequest) -> Result<RunRequest, ApiError> {
    let fields = parse::run(req)?;
    let wire::RunRequest {
        args,
        name,
        queue,
        stdin,
    } = fields.request;
    // parse::run has checked the name's form.
    let name = ScriptName::parse(&name).ok_or(RunError::UnknownScript)?;
    Ok(RunRequest {
        access: rights::check(principal, Action::Run(&name)),
        name,
        args: fields.args.map(|()| args),
        stdin: fields.stdin.map(|()| stdin.map(String::into_bytes)),
        not_before: fields.queue.map(|()| queue),
        origin: origin(principal, req),
    })
}

/// `POST run`: queue a run; answered once it is durable.
pub async fn run_script(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
) -> Result<wire::RunReply, ApiError> {
    let request = parse_run_request(principal, req)?;
    let name = request.name.clone();
    let queued = account(state, principal)
        .await?
        .send(account::EnqueueRun { request })
        .await??;
    // A request is never a schedule's tick.
    Ok(status::queued(
        queued.id,
        &name,
        queued.queued,
        queued.position,
        None,
    ))
}

/// Whether `name` is a script of this key's user now.
pub async fn is_script(
    state: &AppState,
    principal: &Principal,
    name: &ScriptName,
) -> Result<bool, ApiError> {
    let defs = account(state, principal)
        .await?
        .send(account::ListScripts)
        .await??;
    Ok(defs.iter().any(|def| def.name == name.as_str()))
}

/// The run's row, if this key may see it at all.
async fn visible_run(
    state: &AppState,
    principal: &Principal,
    id: RunId,
) -> Result<Option<RunRow>, ApiError> {
    let row = state.readers.run(principal.user_id(), id).await?;
    if let Some(row) = &row {
        rights::check(principal, Action::UseRun(&row.name))?;
    }
    Ok(row)
}

async fn queue_of(
    state: &AppState,
    principal: &Principal,
    name: &ScriptName,
) -> Result<Option<Addr<ScriptQueue>>, ApiError> {
    Ok(account(state, principal)
        .await?
        .send(account::GetQueue { name: name.clone() })
        .await?)
}

/// `POST cancel/ID`: cancel a queued run.
pub async fn cancel_run(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
    id: &str,
) -> Result<Ack, ApiError> {
    let id = RunId::parse(id).ok_or(RunError::NotQueuedOrRunning)?;
    let mut tries = 0;
    loop {
        let row = visible_run(state, principal, id)
            .await?
            .filter(|row| row.state != RowState::Done)
            .ok_or(RunError::NotQueuedOrRunning)?;
        let answer = match queue_of(state, principal, &row.name).await? {
            Some(queue) => {
                let origin = origin(principal, req);
                queue.send(queue::Cancel { id, origin }).await?
            }
            None => Err(RunError::NotQueuedOrRunning),
        };
        match answer {
            Err(RunError::NotQueuedOrRunning) if catch_up::again(state, &mut tries).await => {}
            answer => {
                answer?;
                return Ok(Ack { success: Success });
            }
        }
    }
}

/// `POST kill/ID`: stop a running run.
pub async fn kill_run(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
    id: &str,
) -> Result<Ack, ApiError> {
    let id = RunId::parse(id).ok_or(RunError::NotRunning)?;
    let mut tries = 0;
    loop {
        let row = visible_run(state, principal, id)
            .await?
            .ok_or(RunError::NotRunning)?;
        let answer = match queue_of(state, principal, &row.name).await? {
            Some(queue) => {
                let origin = origin(principal, req);
                queue.send(queue::Kill { id, origin }).await?
            }
            None => Err(RunError::NotRunning),
        };
        match answer {
            Err(RunError::NotRunning)
                if row.state == RowState::Running && catch_up::again(state, &mut tries).await => {}
            answer => {
                answer?;
                return Ok(Ack { success: Success });
            }
        }
    }
}

fn finished_shape(row: &RunRow, owner: bool) -> Result<RunStatus, ApiError> {
    if row.forgotten {
        return Err(RunError::InvalidId.into());
    }
    let Some(record) = &row.record else {
        tracing::error!(run = %row.id, "a done run without its record");
        return Err(ApiError::Internal);
    };
    Ok(RunStatus::Done(Box::new(status::finished(
        row.id, record, owner,
    ))))
}

/// `GET status/ID`: one run in its queued, running or finished shape.
pub async fn get_run(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<RunStatus, ApiError> {
    let owner = View::of(principal).is_owner();
    let id = RunId::parse(id).ok_or(RunError::InvalidId)?;
    let mut tries = 0;
    loop {
        let row = visible_run(state, principal, id)
            .await?
            .ok_or(RunError::InvalidId)?;
        if row.state == RowState::Done {
            return finished_shape(&row, owner);
        }
        if let Some(live) = live_run(state, principal, &row.name, id).await? {
            return Ok(live);
        }
        if !catch_up::again(state, &mut tries).await {
            break;
        }
    }
    // It ended between the two reads: its final state is on record now.
    let row = visible_run(state, principal, id)
        .await?
        .ok_or(RunError::InvalidId)?;
    match row.state {
        RowState::Done => finished_shape(&row, owner),
        _ => Err(RunError::InvalidId.into()),
    }
}

/// A live run's queued or running shape, if its queue holds it.
async fn live_run(
    state: &AppState,
    principal: &Principal,
    name: &ScriptName,
    id: RunId,
) -> Result<Option<RunStatus>, ApiError> {
    let Some(queue) = queue_of(state, principal, name).await? else {
        return Ok(None);
    };
    Ok(match queue.send(queue::GetRun { id }).await? {
        Some(LiveRun::Queued {
            queued,
            position,
            tries,
            tick,
        }) => Some(RunStatus::Queued(wire::Queued {
            tries,
            ..status::queued(id, name, queued, position, tick)
        })),
        Some(LiveRun::Running {
            started,
            progress,
            tries,
            tick,
        }) => Some(RunStatus::Running(status::running(
            id, name, started, &progress, tick, tries,
        ))),
        None => None,
    })
}

/// `GET status`: queued and running ids per script; guests see ids of
/// their own script only and counts for the others.
pub async fn list_runs(state: &AppState, principal: &Principal) -> Result<StatusList, ApiError> {
    let runs = account(state, principal)
        .await?
        .send(account::ListRuns)
        .await?;
    let (mut queued, mut running) = (BTreeMap::new(), BTreeMap::new());
    for (name, (q, r)) in runs {
        let show_ids = rights::sees_script(principal, name.as_str());
        let render = |ids: Vec<RunId>| match show_ids {
            true => IdsOrCount::Ids(ids),
            false => IdsOrCount::Count(ids.len()),
        };
        if !q.is_empty() {
            queued.insert(name.to_string(), render(q));
        }
        if !r.is_empty() {
            running.insert(name.to_string(), render(r));
        }
    }
    Ok(StatusList {
        queued,
        running,
        success: Success,
    })
}

/// `GET log/ID`: the captured output (owner only), from byte `offset` on
/// (an extension, to follow a growing log).
pub async fn get_log(
    state: &AppState,
    principal: &Principal,
    id: &str,
    offset: u64,
) -> Result<String, ApiError> {
    let id = RunId::parse(id).ok_or(RunError::InvalidId)?;
    let row = visible_run(state, principal, id)
        .await?
        .ok_or(RunError::InvalidId)?;
    if row.forgotten {
        return Err(RunError::InvalidId.into());
    }
    let mut text = match state.logs.read(principal.user_id(), id, offset).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(LogError::Store(err)) => return Err(err.into()),
        Err(LogError::Io(err)) => {
            tracing::error!(error = %err, run = %id, "cannot read run log");
            return Err(ApiError::Internal);
        }
    };
    if let Some(error) = log_error(&row) {
        text.push_str(&format!(
            "[scriptd: output missing: the log could not be written ({error})]\n"
        ));
    }
    Ok(text)
}

/// Why a finished run's log is incomplete, from its record.
fn log_error(row: &RunRow) -> Option<String> {
    if row.state != RowState::Done {
        return None;
    }
    row.record.as_ref()?.log_error.clone()
}

/// `GET scripts`: the scripts this key may use.
pub async fn list_scripts(
    state: &AppState,
    principal: &Principal,
) -> Result<wire::ScriptsReply, ApiError> {
    let defs = account(state, principal)
        .await?
        .send(account::ListScripts)
        .await??;
    let mut scripts = BTreeMap::new();
    for def in defs {
        if !rights::sees_script(principal, &def.name) {
            continue;
        }
        let info = match View::of(principal) {
            View::Guest => wire::ScriptInfo::Guest(wire::GuestScript {
                args: def.required_args(),
                forget: def.forget,
                max_queued: def.max_queued,
                noexec: def.noexec,
                simultaneous: Some(def.simultaneous),
                stdin: def.stdin,
                timeout: def.timeout_secs,
            }),
            View::Owner => wire::ScriptInfo::Owner(wire::OwnerScript {
                args: def.required_args(),
                command: def.command.clone(),
                cpu_weight: def.resources.cpu_weight,
                dir: def.dir.clone(),
                forget: def.forget,
                group: def.group.clone(),
                keep_children: def.resources.keep_children,
                max_procs: def.resources.max_procs,
                max_queued: def.max_queued,
                memory_max: def.resources.memory_max,
                noexec: def.noexec,
                simultaneous: def.simultaneous,
                stdin: def.stdin,
                timeout: def.timeout_secs,
                user: def.user.clone(),
            }),
        };
        scripts.insert(def.name.clone(), info);
    }
    Ok(wire::ScriptsReply {
        access: super::ui::access::describe(principal),
        scripts,
        success: Success,
    })
}
