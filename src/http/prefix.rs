//! `GET runs?prefix=P` (extension): the ids of this key's runs that start
//! with P, so the command line can take a unique prefix of a run id as git
//! and docker do. Queued, running and finished runs alike; forgotten runs
//! and, for a guest, other scripts' runs are left out.

use super::error::ApiError;
use super::parse;
use super::request::ApiRequest;
use super::AppState;
use crate::accounts::Principal;
use crate::rights;
use crate::wire::{PrefixReply, Success};

/// At most this many ids come back: enough to show an ambiguity.
const MAX_MATCHES: u32 = 10;
/// A prefix shorter than this matches too much to be meant.
const MIN_PREFIX: usize = 4;

fn valid_prefix(text: &str) -> bool {
    (MIN_PREFIX..36).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
}

/// `GET runs?prefix=P`: `{"ids": [...]}`, at most `MAX_MATCHES`.
pub async fn runs_with_prefix(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
) -> Result<PrefixReply, ApiError> {
    let prefix = parse::prefix(req)?.prefix.to_ascii_lowercase();
    if !valid_prefix(&prefix) {
        return Err(ApiError::Invalid("prefix"));
    }
    let runs = state
        .readers
        .runs_with_prefix(principal.user_id(), &prefix, MAX_MATCHES)
        .await?;
    let ids = runs
        .into_iter()
        .filter(|(_, name)| rights::sees_script(principal, name.as_str()))
        .map(|(id, _)| id)
        .collect();
    Ok(PrefixReply {
        ids,
        success: Success,
    })
}
