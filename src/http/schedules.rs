//! `/scripts/v1/schedules` and `/scripts/v1/schedule/{pause,resume}/NAME`:
//! what is scheduled, and pausing a schedule (owner only). The timer
//! actor holds the schedules; the latest tick's run is read here.

use super::error::ApiError;
use super::request::ApiRequest;
use super::AppState;
use crate::accounts::Principal;
use crate::actors::timer::{ListSchedules, PauseSchedule, ScheduleError, ScheduleView};
use crate::events::query::RowState;
use crate::events::types::RunRecord;
use crate::ids::ScriptName;
use crate::wire::{self, Ack, Success};

/// `GET schedules`: the user's schedules (a guest's one script only).
pub async fn list_schedules(
    state: &AppState,
    principal: &Principal,
) -> Result<wire::SchedulesReply, ApiError> {
    let only = principal.guest().map(|g| g.script.clone());
    let user = principal.user_id();
    let views = state.timer.send(ListSchedules { user, only }).await??;
    let mut schedules = Vec::with_capacity(views.len());
    let views = views
        .into_iter()
        .filter(|v| crate::rights::sees_script(principal, v.name.as_str()));
    for view in views {
        schedules.push(info(state, principal, view).await?);
    }
    Ok(wire::SchedulesReply {
        schedules,
        success: Success,
    })
}

async fn info(
    state: &AppState,
    principal: &Principal,
    view: ScheduleView,
) -> Result<wire::ScheduleInfo, ApiError> {
    let last = match view.last {
        None => None,
        Some(last) => {
            let outcome = match last.run {
                Some(run) => {
                    let row = state.readers.run(principal.user_id(), run).await?;
                    row.map(|row| match row.state {
                        RowState::Queued => "queued".to_owned(),
                        RowState::Running => "running".to_owned(),
                        RowState::Done => row
                            .record
                            .and_then(|r| serde_json::from_str::<RunRecord>(&r).ok())
                            .map_or_else(|| "done".to_owned(), |r| r.outcome.as_str().to_owned()),
                    })
                }
                None => None,
            };
            Some(wire::LastTick {
                id: last.run.map(|r| r.to_string()),
                outcome,
                skipped: last.skipped.map(|s| s.as_str().to_owned()),
                tick: last.tick,
            })
        }
    };
    Ok(wire::ScheduleInfo {
        catch_up: view.catch_up.to_owned(),
        cron: view.cron,
        description: view.description,
        last,
        name: view.name.as_str().to_owned(),
        next: if view.paused { Vec::new() } else { view.next },
        paused: view.paused,
        zone: view.zone.to_owned(),
    })
}

/// `POST schedule/pause/NAME` and `POST schedule/resume/NAME` (owner only).
pub async fn pause_schedule(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
    name: &str,
    paused: bool,
) -> Result<Ack, ApiError> {
    if principal.guest().is_some() {
        return Err(ApiError::AccessDenied);
    }
    let name = ScriptName::parse(name).ok_or(ApiError::Invalid("name"))?;
    crate::rights::check(principal, crate::rights::Action::PauseSchedule(&name))?;
    let origin = super::runs::origin(principal, req);
    let pause = PauseSchedule {
        user: principal.user_id(),
        name,
        paused,
        origin,
    };
    match state.timer.send(pause).await? {
        Ok(()) => Ok(Ack { success: Success }),
        Err(ScheduleError::NotScheduled) => Err(ApiError::Invalid("name")),
        Err(ScheduleError::Store(err)) => Err(err.into()),
    }
}
