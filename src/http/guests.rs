//! `/scripts/v1/guest/*`: guest keys scoped to one script, managed by users
//! that are allowed to (the dispatch checks [`crate::rights::Action::ManageGuests`]).

use super::error::ApiError;
use super::parse;
use super::request::ApiRequest;
use super::AppState;
use crate::accounts::{generate_key, Guest, Principal};
use crate::clock;
use crate::events::account::{AccountCommand, ChangeAccount};
use crate::events::types::GuestRights;
use crate::ids::{GuestId, ScriptName};
use crate::wire::{self, Ack, Success};

fn info(guest: &Guest) -> wire::GuestInfo {
    wire::GuestInfo {
        apikey: None,
        created: guest.created,
        expires: guest.expires,
        id: guest.id,
        info: wire::GuestScope {
            cancel: guest.rights.cancel,
            monitor: guest.rights.monitor,
            name: guest.script.as_str().to_owned(),
            run: guest.rights.run,
            status: guest.rights.status,
        },
    }
}

/// `GET guest/list`: the user's guests, newest first.
pub async fn list_guests(
    state: &AppState,
    principal: &Principal,
) -> Result<wire::GuestListReply, ApiError> {
    let user = principal.user_id();
    let guests = state.readers.guests(user).await?;
    Ok(wire::GuestListReply {
        guests: guests
            .iter()
            .filter(|g| crate::rights::sees_script(principal, g.script.as_str()))
            .map(info)
            .collect(),
        success: Success,
    })
}

/// `POST guest/create`: a new guest key, shown once in the reply.
pub async fn create_guest(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
) -> Result<wire::GuestCreateReply, ApiError> {
    let user = principal.user_id();
    let request = parse::guest_create(req)?;
    // parse::guest_create has checked the name's form.
    let script = ScriptName::parse(&request.name).ok_or(ApiError::Invalid("name"))?;
    // A person's grants may reach only some scripts: no guest key beyond them.
    crate::rights::check(principal, crate::rights::Action::UseRun(&script))?;
    let rights = GuestRights {
        run: request.run,
        cancel: request.cancel,
        status: request.status,
        monitor: request.monitor,
    };
    let now = clock::now_secs();
    if request.expires <= now {
        return Err(ApiError::Invalid("expires"));
    }
    let expires = request.expires;
    let key = generate_key();
    let guest = Guest {
        id: GuestId::new(),
        user,
        script,
        rights,
        created: now,
        expires,
    };
    let command = AccountCommand::CreateGuest {
        user,
        guest: guest.id,
        script: guest.script.clone(),
        rights,
        key_hash: key.hash,
        created: now,
        expires,
        origin: super::runs::origin(principal, req),
    };
    state.store.send(ChangeAccount { command }).await??;
    Ok(wire::GuestCreateReply {
        id: guest.id,
        info: wire::GuestInfo {
            apikey: Some(key.plain),
            ..info(&guest)
        },
        success: Success,
    })
}

/// `DELETE guest/delete/ID`: the key stops working at once.
pub async fn delete_guest(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
    id: &str,
) -> Result<Ack, ApiError> {
    let user = principal.user_id();
    let id = GuestId::parse(id).ok_or(ApiError::Invalid("id"))?;
    if state.readers.guest(user, id).await?.is_none() {
        return Err(ApiError::Invalid("id"));
    }
    let command = AccountCommand::DeleteGuest {
        user,
        guest: id,
        origin: super::runs::origin(principal, req),
    };
    state.store.send(ChangeAccount { command }).await??;
    Ok(Ack { success: Success })
}
