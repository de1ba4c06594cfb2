//! Reading stored events: [`decode`] turns the `kind`, `version` and JSON
//! of a stored event into today's type, upcasting older versions first.
//! Every read of the log goes through it.
//!
//! Versioning (STYLE.md §4): adding an optional field (`#[serde(default)]`)
//! needs no new version. Any other change to a shipped kind adds an
//! [`Upcaster`] to [`UPCASTERS`], from the old version to the next; a
//! kind's current version is one more than its number of upcasters, so
//! `Event::version()` cannot disagree with them. The golden payloads of
//! every shipped kind and version in `tests/fixtures/events/` must keep
//! decoding.
//!
//! No shipped kind has needed an upcaster yet: every change since the first
//! release (`operator` in `Origin`, `resources` in `RunSpec`, `log_error` in
//! `RunRecord`, the `RunSpawned` kind) only added optional fields or a kind,
//! and the first release's payloads decode as they are (the fixtures hold
//! them). The chain itself is tested on an upcaster written for the test.
//!
//! The read model keeps final records (`runs.info`; on SQLite less the
//! fields its columns hold, see `events::sqlite::record`) in the shape
//! they were projected in; an upcaster that changes `RunRecord` comes with
//! a migration that refolds them (`events::rebuild`, which reads through
//! [`decode`]).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::StoreError;

/// Rewrites the JSON of one kind from version `from` to `from + 1`.
pub struct Upcaster {
    /// The stored kind (its serde tag).
    pub kind: &'static str,
    /// The version this step reads.
    pub from: i64,
    /// The rewrite, in place; an error says what the payload lacked.
    pub step: fn(&mut Value) -> Result<(), String>,
}

/// Every upcaster of every kind. Empty: see the module comment.
pub const UPCASTERS: &[Upcaster] = &[];

/// Today's version of `kind`.
pub fn current_version(kind: &str) -> i64 {
    current_in(UPCASTERS, kind)
}

/// Decodes a stored event (or the part of one that `T` reads) of `kind`
/// stored at `version`, in today's shape.
pub fn decode<T: DeserializeOwned>(kind: &str, version: i64, data: &str) -> Result<T, StoreError> {
    decode_with(UPCASTERS, kind, version, data)
}

fn current_in(upcasters: &[Upcaster], kind: &str) -> i64 {
    1 + upcasters.iter().filter(|u| u.kind == kind).count() as i64
}

fn unreadable(kind: &str, version: i64, why: &str) -> StoreError {
    let text = format!("stored {kind} v{version}: {why}");
    StoreError::Json(<serde_json::Error as serde::de::Error>::custom(text))
}

fn decode_with<T: DeserializeOwned>(
    upcasters: &[Upcaster],
    kind: &str,
    version: i64,
    data: &str,
) -> Result<T, StoreError> {
    let current = current_in(upcasters, kind);
    if version == current {
        // The common case reads the text straight into `T`.
        return Ok(serde_json::from_str(data)?);
    }
    if !(1..current).contains(&version) {
        return Err(unreadable(kind, version, "newer than this server"));
    }
    let mut value: Value = serde_json::from_str(data)?;
    for from in version..current {
        let upcaster = upcasters
            .iter()
            .find(|u| u.kind == kind && u.from == from)
            .ok_or_else(|| unreadable(kind, from, "no upcaster from this version"))?;
        (upcaster.step)(&mut value).map_err(|why| unreadable(kind, from, &why))?;
    }
    Ok(T::deserialize(value)?)
}

#[cfg(test)]
#[path = "upcast_tests.rs"]
mod tests;
