//! Routes one [`ApiRequest`] (from HTTP or a WebSocket message) to its
//! endpoint, after checking the key. The key is checked on every call.

use super::connection::ConnectionKey;
use super::error::ApiError;
use super::parse;
use super::request::{ApiRequest, Method, Transport};
use super::{guests, history, hooks, runs, schedules, AppState};
use crate::accounts::Principal;
use crate::clock;
use crate::ids::ScriptName;
use crate::rights::{self, Action};
use crate::wire;

/// A monitor (un)registration, handled by the WebSocket session.
#[derive(Debug, Clone)]
pub struct MonitorRequest {
    pub principal: Principal,
    pub name: Option<ScriptName>,
    pub verbose: bool,
    pub after: Option<i64>,
}

/// What an endpoint answers.
pub enum Reply {
    Json(wire::Reply),
    Text(String),
    Monitor(MonitorRequest),
}

/// Who the request's key belongs to (its own key, else the key its
/// connection presented earlier); refused if missing, unknown or expired.
pub async fn authenticate(state: &AppState, req: &ApiRequest) -> Result<Principal, ApiError> {
    // A key, when one is presented, wins over a session cookie.
    if let (None, Some(cookie), Some(_)) =
        (req.api_key(), req.session.as_ref(), state.sign_in.as_ref())
    {
        return super::oidc::person(state, cookie);
    }
    let connection = req.connection.as_ref();
    let key = ConnectionKey::resolve(connection, req.api_key()).ok_or(ApiError::InvalidApiKey)?;
    let principal = state
        .readers
        .principal(key.hash(), clock::now_secs())
        .await?;
    ConnectionKey::settle(connection, &key, principal.is_some());
    principal.ok_or(ApiError::InvalidApiKey)
}

fn require(req: &ApiRequest, method: Method, path: &str) -> Result<(), ApiError> {
    if req.method == method {
        return Ok(());
    }
    let path = path.to_owned();
    Err(match method {
        Method::Post => ApiError::UsePost(path),
        Method::Delete => ApiError::UseDelete(path),
        _ => ApiError::UseGet(path),
    })
}

async fn monitor_request(
    state: &AppState,
    principal: Principal,
    req: &ApiRequest,
) -> Result<MonitorRequest, ApiError> {
    let staged = parse::monitor(req)?;
    // parse::monitor has checked the name's form; "" is every script.
    let name = match staged.request.name.as_str() {
        "" => None,
        text => Some(ScriptName::parse(text).ok_or(ApiError::Invalid("name"))?),
    };
    if let Some(name) = &name {
        if !runs::is_script(state, &principal, name).await? {
            return Err(ApiError::Invalid("name"));
        }
    }
    rights::check(&principal, Action::Monitor(name.as_ref()))?;
    staged.rest?;
    let wire::MonitorRequest { after, verbose, .. } = staged.request;
    Ok(MonitorRequest {
        principal,
        name,
        verbose,
        after,
    })
}

/// Runs one API call.
pub async fn dispatch(state: &AppState, req: &ApiRequest) -> Result<Reply, ApiError> {
    let Some(rest) = req.path.strip_prefix("/scripts/") else {
        return Err(ApiError::BadServerExtension);
    };
    let principal = authenticate(state, req).await?;
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let path = req.path.as_str();
    match segments.as_slice() {
        ["v1", "run"] => {
            require(req, Method::Post, path)?;
            json(runs::run_script(state, &principal, req).await?)
        }
        ["v1", "cancel"] | ["v1", "kill"] => {
            require(req, Method::Post, path)?;
            Err(ApiError::Missing("id"))
        }
        ["v1", "cancel", id] => {
            require(req, Method::Post, path)?;
            rights::check(&principal, Action::Cancel)?;
            json(runs::cancel_run(state, &principal, req, id).await?)
        }
        ["v1", "kill", id] => {
            require(req, Method::Post, path)?;
            rights::check(&principal, Action::Cancel)?;
            json(runs::kill_run(state, &principal, req, id).await?)
        }
        ["v1", "status"] => {
            require(req, Method::Get, path)?;
            rights::check(&principal, Action::Status)?;
            json(runs::list_runs(state, &principal).await?)
        }
        ["v1", "status", id] => {
            require(req, Method::Get, path)?;
            rights::check(&principal, Action::Status)?;
            json(runs::get_run(state, &principal, id).await?)
        }
        ["v1", "log", id] => {
            require(req, Method::Get, path)?;
            let offset = parse::log(req)?.offset.unwrap_or(0);
            rights::check(&principal, Action::ReadLog)?;
            Ok(Reply::Text(
                runs::get_log(state, &principal, id, offset).await?,
            ))
        }
        ["v1", "history"] => {
            require(req, Method::Get, path)?;
            json(history::list_history(state, &principal, req).await?)
        }
        ["v1", "events"] => {
            require(req, Method::Get, path)?;
            rights::check(&principal, Action::ReadEvents)?;
            json(history::list_events(state, &principal, req).await?)
        }
        ["v1", "runs"] => {
            require(req, Method::Get, path)?;
            rights::check(&principal, Action::Status)?;
            json(super::prefix::runs_with_prefix(state, &principal, req).await?)
        }
        ["v1", "scripts"] => {
            require(req, Method::Get, path)?;
            json(runs::list_scripts(state, &principal).await?)
        }
        ["v1", "monitor"] => {
            require(req, Method::Get, path)?;
            match req.transport {
                Transport::Http => Err(ApiError::UseWebsocket(path.to_owned())),
                Transport::WebSocket => Ok(Reply::Monitor(
                    monitor_request(state, principal, req).await?,
                )),
            }
        }
        ["v1", "schedules"] => {
            require(req, Method::Get, path)?;
            rights::check(&principal, Action::Status)?;
            json(schedules::list_schedules(state, &principal).await?)
        }
        ["v1", "schedule", verb @ ("pause" | "resume"), name] => {
            require(req, Method::Post, path)?;
            let paused = *verb == "pause";
            json(schedules::pause_schedule(state, &principal, req, name, paused).await?)
        }
        ["v1", "guest", "list"] => {
            require(req, Method::Get, path)?;
            rights::check(&principal, Action::ManageGuests)?;
            json(guests::list_guests(state, &principal).await?)
        }
        ["v1", "guest", "create"] => {
            require(req, Method::Post, path)?;
            rights::check(&principal, Action::ManageGuests)?;
            json(guests::create_guest(state, &principal, req).await?)
        }
        ["v1", "guest", "delete", id] => {
            if req.method != Method::Post {
                require(req, Method::Delete, path)?;
            }
            rights::check(&principal, Action::ManageGuests)?;
            json(guests::delete_guest(state, &principal, req, id).await?)
        }
        ["v1", "hook", "list"] => {
            require(req, Method::Get, path)?;
            rights::check(&principal, Action::ManageHooks)?;
            json(hooks::list_hooks(state, &principal).await?)
        }
        ["v1", "hook", "create"] => {
            require(req, Method::Post, path)?;
            rights::check(&principal, Action::ManageHooks)?;
            json(hooks::create_hook(state, &principal, req).await?)
        }
        ["v1", "hook", "delete", id] => {
            if req.method != Method::Post {
                require(req, Method::Delete, path)?;
            }
            rights::check(&principal, Action::ManageHooks)?;
            json(hooks::delete_hook(state, &principal, req, id).await?)
        }
        ["v1", "hook", "delete"] => {
            if req.method != Method::Post {
                require(req, Method::Delete, path)?;
            }
            Err(ApiError::Missing("id"))
        }
        ["v1", "hook", "deliveries"] => {
            require(req, Method::Get, path)?;
            rights::check(&principal, Action::ManageHooks)?;
            json(hooks::list_deliveries(state, &principal, req).await?)
        }
        ["v1", "guest", "delete"] => {
            if req.method != Method::Post {
                require(req, Method::Delete, path)?;
            }
            Err(ApiError::Missing("id"))
        }
        _ => Err(ApiError::InvalidApiCall),
    }
}

fn json(reply: impl Into<wire::Reply>) -> Result<Reply, ApiError> {
    Ok(Reply::Json(reply.into()))
}
