//! Audit endpoints: `GET history` (finished runs, newest first, with who
//! requested, cancelled or killed them) and `GET events` (the raw log of
//! the key's user, owner only). Parsing here; who may read what in
//! [`crate::rights`]; SQL in `events::history` and `events::query`.

use serde_json::Value;

use super::error::ApiError;
use super::parse;
use super::reply_cap::{Budget, PAGE_ROWS};
use super::request::ApiRequest;
use super::AppState;
use crate::accounts::{Principal, User};
use crate::events::history::{Actor, Cursor, HistoryQuery, HistoryRow};
use crate::events::types::Outcome;
use crate::ids::{RunId, ScriptName};
use crate::rights::{self, Action};
use crate::status;
use crate::wire::{self, Success};

fn history_query(principal: &Principal, req: &ApiRequest) -> Result<HistoryQuery, ApiError> {
    let staged = parse::history(req)?;
    // parse::history has checked the forms of name, outcome and before.
    let mut name = staged
        .request
        .name
        .as_deref()
        .map(|n| ScriptName::parse(n).ok_or(ApiError::Invalid("name")))
        .transpose()?;
    rights::check(principal, Action::History(name.as_ref()))?;
    staged.rest?;
    let request = staged.request;
    if let Some(guest) = principal.guest() {
        // A guest's history is its own script's, named or not.
        name = Some(guest.script.clone());
    }
    Ok(HistoryQuery {
        user: principal.user_id(),
        name,
        outcome: request
            .outcome
            .as_deref()
            .map(|o| Outcome::parse(o).ok_or(ApiError::Invalid("outcome")))
            .transpose()?,
        since: request.since,
        until: request.until,
        before: request
            .before
            .as_deref()
            .map(|c| Cursor::decode(c).ok_or(ApiError::Invalid("before")))
            .transpose()?,
        limit: parse::page_size(request.limit),
    })
}

/// `<verb>_by`, `<verb>_from`, and `<verb>_by_name` when the actor is the
/// owner (`user:<id>`), so the history can show a name.
type AuditFields = (Option<String>, Option<String>, Option<String>);

/// A signed-in person's name by their `sub`, when the server knows it.
type People<'a> = &'a dyn Fn(&str) -> Option<String>;

fn audit(actor: Option<&Actor>, owner: &User, people: People<'_>) -> AuditFields {
    let Some(actor) = actor else {
        return (None, None, None);
    };
    let name = match actor.by.strip_prefix("person:") {
        Some(sub) => people(sub),
        None => (actor.by == format!("user:{}", owner.id)).then(|| owner.name.clone()),
    };
    (Some(actor.by.clone()), name, actor.from.clone())
}

/// The finished shape plus, for owners, `args` and the audit fields.
fn history_shape(row: &HistoryRow, owner: Option<&User>, people: People<'_>) -> wire::Finished {
    let mut shape = status::finished(row.id, &row.record, owner.is_some());
    shape.success = None;
    if let Some(owner) = owner {
        (
            shape.requested_by,
            shape.requested_by_name,
            shape.requested_from,
        ) = audit(Some(&row.requested), owner, people);
        (
            shape.cancelled_by,
            shape.cancelled_by_name,
            shape.cancelled_from,
        ) = audit(row.cancelled.as_ref(), owner, people);
        (shape.killed_by, shape.killed_by_name, shape.killed_from) =
            audit(row.killed.as_ref(), owner, people);
    }
    shape
}

/// `GET history`: one page of finished runs, newest first.
pub async fn list_history(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
) -> Result<wire::HistoryReply, ApiError> {
    let mut query = history_query(principal, req)?;
    let owner = match principal {
        Principal::User(user) => Some(user),
        Principal::Person(person) => Some(&person.user),
        Principal::Guest(_) => None,
    };
    let book = state.sign_in.as_ref().map(|s| &s.book);
    let people = |sub: &str| book.and_then(|b| b.display_of(sub));
    let limit = query.limit as usize;
    let mut budget = Budget::new(state.config.limits.reply_cap_bytes);
    let mut last = None;
    let mut more = false;
    while budget.rows.len() < limit {
        query.limit = (limit - budget.rows.len()).min(PAGE_ROWS as usize) as u32;
        let page = state.readers.history(&query).await?;
        for row in &page.rows {
            // A person's grants may reach only some scripts.
            if !rights::sees_script(principal, row.record.name.as_str()) {
                last = Some(row.cursor());
                continue;
            }
            if !budget.push(history_shape(row, owner, &people)) {
                break;
            }
            last = Some(row.cursor());
        }
        more = page.more || budget.full;
        if budget.full || !page.more {
            break;
        }
        query.before = last;
    }
    let next = match (more, last) {
        (true, Some(last)) => Some(last.encode()),
        _ => None,
    };
    Ok(wire::HistoryReply {
        next,
        runs: budget.rows,
        success: Success,
    })
}

/// One stored event as the wire shows it. Key hashes are credentials in
/// all but name, and a hook's secret is shown once, at its creation, so
/// neither leaves the server here.
fn event_shape(event: &crate::events::StoredEvent) -> Result<wire::EventRow, ApiError> {
    let mut data = serde_json::to_value(&event.event).map_err(|err| {
        tracing::error!(error = %err, seq = event.seq, "unencodable event");
        ApiError::Internal
    })?;
    if let Value::Object(map) = &mut data {
        map.remove(crate::events::Event::TAG);
        map.remove("key_hash");
        map.remove("secret");
    }
    // A schedule's run says so in each of its events, as its status does.
    let tick = event.event.schedule_tick();
    Ok(wire::EventRow {
        at: event.at,
        data,
        kind: event.event.kind().to_owned(),
        requested_by: tick.map(|_| "schedule".to_owned()),
        run: event.event.run_id(),
        seq: event.seq,
        tick,
    })
}

/// `GET events`: the user's log after `after`, oldest first; owner only.
pub async fn list_events(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
) -> Result<wire::EventsReply, ApiError> {
    let request = parse::events(req)?;
    let after = request.after.unwrap_or(0);
    let limit = parse::page_size(request.limit);
    // parse::events has checked the run id's form.
    let run = request
        .run
        .as_deref()
        .map(|r| RunId::parse(r).ok_or(ApiError::Invalid("run")))
        .transpose()?;
    let mut budget = Budget::new(state.config.limits.reply_cap_bytes);
    let mut cursor = after;
    let limit = limit as usize;
    while budget.rows.len() < limit {
        let page_rows = (limit - budget.rows.len()).min(PAGE_ROWS as usize);
        let events = state
            .readers
            .events_after(principal.user_id(), cursor, page_rows as i64, run)
            .await?;
        let complete = events.len() < page_rows;
        for event in &events {
            if !budget.push(event_shape(event)?) {
                break;
            }
            cursor = event.seq;
        }
        if budget.full || complete {
            break;
        }
    }
    let next = (!budget.rows.is_empty()).then_some(cursor);
    Ok(wire::EventsReply {
        events: budget.rows,
        next,
        success: Success,
    })
}
