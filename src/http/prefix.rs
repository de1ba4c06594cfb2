//! `GET runs?prefix=P` (extension): the ids of this key's runs that start
//! with P, so the command line can take a unique prefix of a run id as git
//! and docker do; `GET runs?suffix=S`, those that end with S (ids are
//! time-ordered, so runs of the same minutes share their first digits,
//! and the dashboard and the CLI's tables show the last 12). Queued,
//! running and finished runs alike; forgotten runs and, for a guest,
//! other scripts' runs are left out.

use super::error::ApiError;
use super::parse;
use super::request::ApiRequest;
use super::AppState;
use crate::accounts::Principal;
use crate::rights;
use crate::wire::{self, PrefixReply, Success};

/// At most this many ids come back: enough to show an ambiguity.
const MAX_MATCHES: u32 = 10;
/// A prefix shorter than this matches too much to be meant.
pub const MIN_PREFIX: usize = 4;
/// A suffix needs this many hex digits: the last group of an id is
/// random, so six of them are rarely shared.
pub const MIN_SUFFIX: usize = 6;

fn id_chars(text: &str) -> bool {
    text.len() < 36
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
}

fn valid_prefix(text: &str) -> bool {
    text.len() >= MIN_PREFIX && id_chars(text)
}

fn valid_suffix(text: &str) -> bool {
    text.chars().filter(char::is_ascii_hexdigit).count() >= MIN_SUFFIX && id_chars(text)
}

/// `GET runs?prefix=P` or `GET runs?suffix=S`: `{"ids": [...]}`, at most
/// `MAX_MATCHES`.
pub async fn runs_with_prefix(
    state: &AppState,
    principal: &Principal,
    req: &ApiRequest,
) -> Result<PrefixReply, ApiError> {
    let user = principal.user_id();
    let runs = match parse::suffix(req)? {
        Some(wire::SuffixRequest { suffix }) => {
            let suffix = suffix.to_ascii_lowercase();
            if !valid_suffix(&suffix) {
                return Err(ApiError::Invalid("suffix"));
            }
            let readers = &state.readers;
            readers.runs_with_suffix(user, &suffix, MAX_MATCHES).await?
        }
        None => {
            let prefix = parse::prefix(req)?.prefix.to_ascii_lowercase();
            if !valid_prefix(&prefix) {
                return Err(ApiError::Invalid("prefix"));
            }
            let readers = &state.readers;
            readers.runs_with_prefix(user, &prefix, MAX_MATCHES).await?
        }
    };
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
