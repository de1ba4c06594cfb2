//! `/scripts/v1/hook/*`: a user's webhooks (issue 31), owner only (the
//! dispatch checks [`crate::rights::Action::ManageHooks`]). A hook is
//! created and deleted by events; its deliveries are the outbox's rows.

use rand::RngCore;

use super::error::ApiError;
use super::parse;
use super::request::ApiRequest;
use super::AppState;
use crate::accounts::Principal;
use crate::clock;
use crate::events::outbox::{self, ListDeliveries, ListHooks};
use crate::events::types::Origin;
use crate::events::{Append, Event, NewEvent};
use crate::hook::target;
use crate::ids::{HookId, ScriptName};
use crate::wire::{self, Ack, Success};

fn info(hook: outbox::HookInfo) -> wire::HookInfo {
    wire::HookInfo {
        created: hook.created,
        format: hook.format,
        id: hook.id,
        name: hook.name,
        on: hook.on,
        paused: hook.paused,
        paused_reason: hook.paused_reason,
        url: hook.url,
    }
}

fn attempt(a: outbox::AttemptRecord) -> wire::DeliveryAttempt {
    wire::DeliveryAttempt {
        at: a.at,
        attempt: a.attempt,
        ended: a.ended,
        error: a.error,
        status: a.status,
    }
}

/// A fresh signing secret: 32 random bytes, hex, with a recognisable prefix.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// `POST hook/create`: a new hook; its secret is in this reply only.
pub async fn create_hook(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
) -> Result<wire::HookCreateReply, ApiError> {
    let request = parse::hook_create(req)?;
    let url =
        target::check_url(&request.url, &state.config.hooks_allow).map_err(ApiError::HookTarget)?;
    // parse::hook_create has checked the name's form.
    let name = request
        .name
        .as_deref()
        .map(|n| ScriptName::parse(n).ok_or(ApiError::Invalid("name")))
        .transpose()?;
    let (id, secret, created) = (HookId::new(), new_secret(), clock::now_secs());
    let event = Event::HookCreated {
        hook: id,
        url: url.to_string(),
        on: request.on.clone(),
        name: name.clone(),
        format: request.format,
        secret: secret.clone(),
        created,
        origin: Origin {
            addr: req.peer.clone(),
            ..Origin::default()
        },
    };
    let events = vec![NewEvent::new(principal.user_id(), event)];
    state.store.send(Append { events }).await??;
    Ok(wire::HookCreateReply {
        hook: wire::HookInfo {
            created,
            format: request.format,
            id,
            name: name.map(|n| n.as_str().to_owned()),
            on: request.on,
            paused: None,
            paused_reason: None,
            url: url.to_string(),
        },
        id,
        secret,
        success: Success,
    })
}

/// `GET hook/list`: the user's hooks, newest first, without secrets.
pub async fn list_hooks(
    state: &AppState,
    principal: &Principal,
) -> Result<wire::HookListReply, ApiError> {
    let user = principal.user_id();
    let hooks = state.store.send(ListHooks { user }).await??;
    Ok(wire::HookListReply {
        hooks: hooks.into_iter().map(info).collect(),
        success: Success,
    })
}

/// `POST hook/delete/ID`: no more deliveries, pending ones dropped.
pub async fn delete_hook(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
    id: &str,
) -> Result<Ack, ApiError> {
    let user = principal.user_id();
    let id = HookId::parse(id).ok_or(ApiError::Invalid("id"))?;
    let hooks = state.store.send(ListHooks { user }).await??;
    if !hooks.iter().any(|h| h.id == id) {
        return Err(ApiError::Invalid("id"));
    }
    let event = Event::HookDeleted {
        hook: id,
        origin: Origin {
            addr: req.peer.clone(),
            ..Origin::default()
        },
    };
    let events = vec![NewEvent::new(user, event)];
    state.store.send(Append { events }).await??;
    Ok(Ack { success: Success })
}

/// `GET hook/deliveries`: recent deliveries (of one hook), newest first.
pub async fn list_deliveries(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
) -> Result<wire::DeliveriesReply, ApiError> {
    let request = parse::deliveries(req)?;
    // parse::deliveries has checked the id's form.
    let hook = request
        .hook
        .as_deref()
        .map(|h| HookId::parse(h).ok_or(ApiError::Invalid("hook")))
        .transpose()?;
    let limit = i64::from(parse::page_size(None));
    let rows = state
        .store
        .send(ListDeliveries {
            user: principal.user_id(),
            hook,
            limit: request.limit.unwrap_or(limit),
        })
        .await??;
    let deliveries = rows
        .into_iter()
        .map(|d| wire::DeliveryInfo {
            attempt_log: d.attempt_log.into_iter().map(attempt).collect(),
            attempts: d.attempts,
            created: d.created,
            error: d.error,
            event: d.event,
            folded: d.folded,
            folded_into: d.folded_into,
            hook: d.hook,
            id: d.id,
            last_attempt: d.last_attempt,
            name: d.name,
            run: d.run,
            state: d.state,
            status: d.status,
        })
        .collect();
    Ok(wire::DeliveriesReply {
        deliveries,
        success: Success,
    })
}
