//! Run ids on the command line: a full id, a unique prefix of one (as git
//! and docker accept), or a unique suffix of at least 6 hex digits — the
//! short form (last 12 hex digits) the dashboard and the CLI's tables
//! show. Ids are time-ordered, so runs of the same minutes share their
//! first digits and a suffix is the handier form. Resolved by the
//! server's `GET runs?prefix=` and `?suffix=` over every run this key may
//! see, queued, running or finished.

use super::api::Client;
use super::error::ClientError;

/// Length of a full run id (hyphenated UUID).
const FULL: usize = 36;
/// The server's shortest prefix (`http::prefix::MIN_PREFIX`).
const MIN_PREFIX: usize = 4;
/// The server's fewest hex digits of a suffix (`http::prefix::MIN_SUFFIX`).
const MIN_SUFFIX: usize = 6;
/// Hex digits of the short form: the id's last group.
const SHORT: usize = 12;

/// The short form of a run id the tables show: its last 12 hex digits.
pub fn short(id: &str) -> &str {
    match id.len().checked_sub(SHORT) {
        Some(start) if id.is_char_boundary(start) => &id[start..],
        _ => id,
    }
}

/// What `text` is, before asking the server.
#[derive(Debug, PartialEq, Eq)]
enum Form {
    /// A whole id, or not an id at all: the server gives its own answer.
    Whole,
    /// Too few digits to look up.
    TooShort,
    /// Look it up as a prefix, and as a suffix when it has enough digits.
    Part { suffix: bool },
}

fn form(text: &str) -> Form {
    let id_like = text.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !id_like || text.len() >= FULL {
        return Form::Whole;
    }
    if text.len() < MIN_PREFIX {
        return Form::TooShort;
    }
    let digits = text.chars().filter(char::is_ascii_hexdigit).count();
    Form::Part {
        suffix: digits >= MIN_SUFFIX,
    }
}

/// The full id `text` names: itself when it is a whole id (or not an id
/// at all, so the server gives its own answer), else the one run whose id
/// starts or ends with it.
pub async fn resolve(client: &Client, text: &str) -> Result<String, ClientError> {
    let part = text.trim().to_ascii_lowercase();
    let suffix = match form(&part) {
        Form::Whole => return Ok(text.to_owned()),
        Form::TooShort => return Err(too_short(text)),
        Form::Part { suffix } => suffix,
    };
    let mut ids = client.runs_with_prefix(&part).await?;
    if suffix {
        for id in client.runs_with_suffix(&part).await? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ClientError::UnknownId {
            id: text.to_owned(),
            server: Some(format!(
                "no run of this key has an id that starts{} with '{text}'",
                if suffix { " or ends" } else { "" }
            )),
        }),
        many => Err(ClientError::AmbiguousId {
            prefix: text.to_owned(),
            matches: many.join(", "),
        }),
    }
}

fn too_short(text: &str) -> ClientError {
    ClientError::Refused {
        code: "invalid_id",
        message: format!(
            "run id '{text}' is too short: give its first {MIN_PREFIX} or last {MIN_SUFFIX} hex digits or more (the tables show the last {SHORT})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let cases = [
            (
                "whole id",
                "0190c1f2-0000-7000-8000-000000000000",
                Form::Whole,
            ),
            ("not hex", "hello", Form::Whole),
            ("too short", "01a", Form::TooShort),
            ("prefix only", "01a2", Form::Part { suffix: false }),
            ("dash not a digit", "01a2-", Form::Part { suffix: false }),
            ("short form", "790ddd41eafa", Form::Part { suffix: true }),
        ];
        for (what, text, want) in cases {
            assert_eq!(form(text), want, "{what}");
        }
    }

    #[test]
    fn the_short_form_is_the_last_group() {
        assert_eq!(
            short("0190c1f2-0000-7000-8000-790ddd41eafa"),
            "790ddd41eafa"
        );
        assert_eq!(short("abc"), "abc");
    }
}
