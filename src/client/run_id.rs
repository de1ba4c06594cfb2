//! Run ids on the command line: a full id, or a unique prefix of one (as
//! git and docker accept), resolved by the server's `GET runs?prefix=`
//! over every run this key may see, queued, running or finished.

use super::api::Client;
use super::error::ClientError;

/// Length of a full run id (hyphenated UUID); shorter prefixes than 4
/// characters are not looked up (the server refuses them).
const FULL: usize = 36;

/// The full id `text` names: itself when it is a whole id (or not an id
/// at all, so the server gives its own answer), else the one run whose id
/// starts with it.
pub async fn resolve(client: &Client, text: &str) -> Result<String, ClientError> {
    let prefix = text.trim().to_ascii_lowercase();
    let looks_like_prefix = prefix.len() >= 4
        && prefix.len() < FULL
        && prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !looks_like_prefix {
        return Ok(text.to_owned());
    }
    let ids = client.runs_with_prefix(&prefix).await?;
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ClientError::UnknownId {
            id: text.to_owned(),
            server: None,
        }),
        many => Err(ClientError::AmbiguousId {
            prefix: text.to_owned(),
            matches: many.join(", "),
        }),
    }
}
