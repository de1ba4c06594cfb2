//! The compact stored form of an event (issue 28 item 4): the JSON
//! without what its `events` row already holds (the `kind` column, and
//! the run id that is the row's `stream`) and without fields at their
//! serde default. [`restore`] puts the row's fields back, so every reader
//! decodes the same event from either form. It is a storage envelope, not
//! a new schema: the event's `version` (and [`super::upcast`]) is about
//! the fields' meaning, which does not change here.
//!
//! Rows written before this (and every PostgreSQL row, whose writer still
//! stores the full form) start with the serde tag, `{"kind":`, which the
//! compact form never does: it has no `kind` key. That prefix is how a
//! reader tells them apart, row by row, so an old database reads as it is
//! and is converted lazily, or not at all.
//!
//! What is dropped must come back exactly: only `null` (an `Option` field
//! reads a missing one as `None`) and the listed fields whose type says
//! `#[serde(default)]`, at the top level or in a `record`; never inside a
//! free-form map such as `opts`. `compact_tests.rs` checks every golden
//! payload and every kind round-trips.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::StoreError;
use super::types::Event;
use crate::ids::RunId;

/// What the full form of every stored event starts with (the serde tag).
const FULL_PREFIX: &str = "{\"kind\":";

/// Fields dropped at their default, by where they are: (object, key,
/// default). Each is `#[serde(default)]` on its type (or an `Option`).
const DEFAULTS: &[(Scope, &str, IsDefault)] = &[
    (Scope::Spec, "noexec", is_false),
    (Scope::Spec, "forget", is_false),
    (Scope::Top, "params", is_empty),
    (Scope::Top, "stdin_len", is_zero),
    (Scope::Record, "first", is_empty),
    (Scope::Record, "last", is_empty),
    (Scope::Record, "tasks", is_empty),
    (Scope::Record, "removelog", is_false),
];

/// Whether a field's value is its default.
type IsDefault = fn(&Value) -> bool;

#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// The event's own fields.
    Top,
    /// `RunQueued.spec` (`RunSpec`).
    Spec,
    /// The `record` (`RunRecord`) of a run's final event.
    Record,
}

fn is_false(value: &Value) -> bool {
    value == &Value::Bool(false)
}

fn is_zero(value: &Value) -> bool {
    value.as_u64() == Some(0)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The stored form of `event`, appended to `stream`. Falls back to the
/// full form when the event's run is not its stream (no event does that
/// today; the reader could not tell the two apart).
pub fn encode(event: &Event, stream: &str) -> Result<String, StoreError> {
    let Value::Object(mut map) = serde_json::to_value(event)? else {
        return Ok(serde_json::to_string(event)?);
    };
    map.remove(Event::TAG);
    if RunId::parse(stream).is_some() {
        match map.get("run") {
            Some(Value::String(run)) if run == stream => {
                map.remove("run");
            }
            _ => return Ok(serde_json::to_string(event)?),
        }
    }
    drop_nulls(&mut map);
    drop_defaults(&mut map, Scope::Top);
    if let Some(Value::Object(record)) = map.get_mut("record") {
        drop_nulls(record);
        drop_defaults(record, Scope::Record);
    }
    if let Some(Value::Object(spec)) = map.get_mut("spec") {
        drop_defaults(spec, Scope::Spec);
    }
    Ok(serde_json::to_string(&map)?)
}

fn drop_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, value| !value.is_null());
}

fn drop_defaults(map: &mut Map<String, Value>, scope: Scope) {
    for (_, key, is_default) in DEFAULTS.iter().filter(|(s, _, _)| *s == scope) {
        if map.get(*key).is_some_and(is_default) {
            map.remove(*key);
        }
    }
}

/// The full form of a stored event of `kind` in `stream` (pass `None` for
/// streams that are no run's): old rows as they are, compact ones with the
/// row's fields put back in front, so no JSON is parsed twice.
pub fn restore<'a>(kind: &str, stream: Option<&str>, data: &'a str) -> Cow<'a, str> {
    if data.starts_with(FULL_PREFIX) {
        return Cow::Borrowed(data);
    }
    let body = data.strip_prefix('{').unwrap_or(data).trim_start();
    let mut out = String::with_capacity(data.len() + kind.len() + 60);
    out.push_str(FULL_PREFIX);
    push_string(&mut out, kind);
    if let Some(run) = stream.filter(|s| RunId::parse(s).is_some()) {
        out.push_str(",\"run\":");
        push_string(&mut out, run);
    }
    if !body.starts_with('}') {
        out.push(',');
    }
    out.push_str(body);
    Cow::Owned(out)
}

fn push_string(out: &mut String, text: &str) {
    // Kinds and run ids hold no character JSON escapes; serde_json is
    // still asked, so that nothing unexpected can break the object.
    out.push_str(&Value::String(text.to_owned()).to_string());
}

/// Decodes a stored event row (either form) through the upcasters.
pub fn decode<T: DeserializeOwned>(
    kind: &str,
    version: i64,
    stream: Option<&str>,
    data: &str,
) -> Result<T, StoreError> {
    super::upcast::decode(kind, version, &restore(kind, stream, data))
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
