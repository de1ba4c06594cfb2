//! `/scripts/v1/schedules` and `/scripts/v1/schedule/{pause,resume}/NAME`:
//! what is scheduled, and pausing a schedule (owner only). The timer
//! actor holds the schedules; where their latest ticks' runs stand is
//! read here, in one statement.

use std::collections::HashMap;

use super::error::ApiError;
use super::request::ApiRequest;
use super::AppState;
use crate::accounts::Principal;
use crate::actors::timer::{ListSchedules, PauseSchedule, ScheduleError, ScheduleView};
use crate::ids::{RunId, ScriptName};
use crate::wire::{self, Ack, Success};

/// `GET schedules`: the user's schedules (a guest's one script only).
pub async fn list_schedules(
    state: &AppState,
    principal: &Principal,
) -> Result<wire::SchedulesReply, ApiError> {
    let only = principal.guest().map(|g| g.script.clone());
    let user = principal.user_id();
    let views: Vec<ScheduleView> = state
        .timer
        .send(ListSchedules { user, only })
        .await??
        .into_iter()
        .filter(|v| crate::rights::sees_script(principal, v.name.as_str()))
        .collect();
    // Where each latest tick's run stands, in one read for them all.
    let runs: Vec<RunId> = views.iter().filter_map(|v| v.last.as_ref()?.run).collect();
    let mut outcomes = state.readers.run_outcomes(user, &runs).await?;
    let schedules = views
        .into_iter()
        .map(|view| info(view, &mut outcomes))
        .collect();
    Ok(wire::SchedulesReply {
        schedules,
        success: Success,
    })
}

/// One schedule on the wire; `outcomes` has how its last tick's run stands.
fn info(view: ScheduleView, outcomes: &mut HashMap<RunId, String>) -> wire::ScheduleInfo {
    let last = view.last.map(|last| wire::LastTick {
        id: last.run.map(|r| r.to_string()),
        outcome: last.run.and_then(|run| outcomes.remove(&run)),
        skipped: last.skipped.map(|s| s.as_str().to_owned()),
        tick: last.tick,
    });
    wire::ScheduleInfo {
        catch_up: view.catch_up.to_owned(),
        cron: view.cron,
        description: view.description,
        last,
        name: view.name.as_str().to_owned(),
        next: if view.paused { Vec::new() } else { view.next },
        paused: view.paused,
        zone: view.zone.to_owned(),
    }
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
