//! Turns an [`ApiRequest`] into its endpoint's wire request type (as
//! zero2prod's `TryFrom<FormData>` does), so the handlers work on typed
//! values and a field renamed in [`crate::wire`] fails to compile here.
//!
//! The fields are read in the wire's validation order: the first failing
//! field decides the error. Where the server checks a field against its
//! state before the next field's error counts (a script's existence, the
//! key's rights), the later fields' errors are kept aside ([`Staged`],
//! [`RunFields`]) for the handler to report in that order.

use serde_json::Value;

use super::error::ApiError;
use super::request::{parse_bool, parse_int, ApiRequest};
use crate::actors::RunError;
use crate::events::history::Cursor;
use crate::hook::trigger::{Format, Trigger};
use crate::ids::{HookId, RunId, ScriptName};
use crate::outcome::Outcome;
use crate::wire;

/// Page size when `limit` is absent, and the most a page may hold.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// A request whose first field the handler checks against the server's
/// state before the other fields' errors count.
#[derive(Debug)]
pub struct Staged<T> {
    /// The request; the later fields are at their defaults if `rest` failed.
    pub request: T,
    /// The first error among the later fields.
    pub rest: Result<(), ApiError>,
}

/// `POST run` parsed: the account reports the field errors after it has
/// looked the script up, and between them the size of the arguments.
#[derive(Debug)]
pub struct RunFields {
    /// The request; a field whose check failed is at its default.
    pub request: wire::RunRequest,
    pub args: Result<(), RunError>,
    pub stdin: Result<(), RunError>,
    pub queue: Result<(), RunError>,
}

/// PHP's string conversion, which the original applied to each argument.
/// Numbers arrive here as their JSON text ([`super::raw_args`]).
fn arg_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("1".into()),
        Value::Bool(false) => Some(String::new()),
        _ => None,
    }
}

/// Splits a field's check into its value (default on failure) and result.
fn split<T: Default, E>(checked: Result<T, E>) -> (T, Result<(), E>) {
    match checked {
        Ok(value) => (value, Ok(())),
        Err(err) => (T::default(), Err(err)),
    }
}

/// `POST run`: `name` (missing, else an unknown script), then `args`,
/// `stdin` and `queue` (a decimal string only from a form or query).
pub fn run(req: &ApiRequest) -> Result<RunFields, ApiError> {
    let name = req.field("name").ok_or(ApiError::Missing("name"))?;
    let name = name
        .as_str()
        .filter(|n| ScriptName::parse(n).is_some())
        .ok_or(RunError::UnknownScript)?
        .to_owned();
    let (args, args_ok) = split(match req.field("args") {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            // A NUL cannot reach a process's argv: refused now, not at start.
            .map(|item| arg_text(item).filter(|text| !text.contains('\0')))
            .collect::<Option<_>>()
            .ok_or(RunError::InvalidArgs),
        Some(_) => Err(RunError::InvalidArgs),
    });
    let (stdin, stdin_ok) = split(match req.field("stdin") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RunError::InvalidStdin),
    });
    let (queue, queue_ok) = split(match req.field("queue") {
        None => Ok(None),
        Some(value) => req
            .integer("queue", value)
            .map(Some)
            .ok_or(RunError::InvalidQueue),
    });
    Ok(RunFields {
        request: wire::RunRequest {
            args,
            name,
            queue,
            stdin,
        },
        args: args_ok,
        stdin: stdin_ok,
        queue: queue_ok,
    })
}

/// `GET log/ID`: a non-negative `offset`, a number or a numeric string.
pub fn log(req: &ApiRequest) -> Result<wire::LogRequest, ApiError> {
    let offset = req
        .field("offset")
        .map(|v| {
            parse_int(v)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(ApiError::Invalid("offset"))
        })
        .transpose()?;
    Ok(wire::LogRequest { offset })
}

/// `GET runs`: `suffix`, when given (its form is the handler's to judge).
pub fn suffix(req: &ApiRequest) -> Result<Option<wire::SuffixRequest>, ApiError> {
    match req.field("suffix") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(wire::SuffixRequest { suffix: s.clone() })),
        Some(_) => Err(ApiError::Invalid("suffix")),
    }
}

/// `GET runs`: `prefix`, a string (its form is the handler's to judge).
pub fn prefix(req: &ApiRequest) -> Result<wire::PrefixRequest, ApiError> {
    match req.field("prefix") {
        None => Err(ApiError::Missing("prefix")),
        Some(Value::String(p)) => Ok(wire::PrefixRequest { prefix: p.clone() }),
        Some(_) => Err(ApiError::Invalid("prefix")),
    }
}

/// A text field, with `""` counted as absent (forms send empty fields).
fn text(req: &ApiRequest, field: &'static str) -> Result<Option<String>, ApiError> {
    match req.field(field) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::Invalid(field)),
    }
}

/// A text field that must pass `valid`, else it is invalid.
fn checked_text(
    req: &ApiRequest,
    field: &'static str,
    valid: impl Fn(&str) -> bool,
) -> Result<Option<String>, ApiError> {
    text(req, field)?
        .map(|t| valid(&t).then_some(t).ok_or(ApiError::Invalid(field)))
        .transpose()
}

/// An integer field, a number or a numeric string.
fn int(req: &ApiRequest, field: &'static str) -> Result<Option<i64>, ApiError> {
    req.field(field)
        .map(|v| parse_int(v).ok_or(ApiError::Invalid(field)))
        .transpose()
}

/// `limit`, 1..=1000; absent stays absent (the handler's default is 100).
fn limit(req: &ApiRequest) -> Result<Option<u32>, ApiError> {
    let Some(limit) = int(req, "limit")? else {
        return Ok(None);
    };
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::Invalid("limit"));
    }
    u32::try_from(limit)
        .map(Some)
        .map_err(|_| ApiError::Invalid("limit"))
}

/// The page size a `limit` asks for.
pub fn page_size(limit: Option<u32>) -> u32 {
    // DEFAULT_LIMIT is within u32.
    limit.unwrap_or(DEFAULT_LIMIT as u32)
}

/// `GET history`: `name` (the key's rights are checked on it before the
/// rest counts), then `outcome`, `since`, `until`, `before`, `limit`.
pub fn history(req: &ApiRequest) -> Result<Staged<wire::HistoryRequest>, ApiError> {
    let name = checked_text(req, "name", |n| ScriptName::parse(n).is_some())?;
    let rest = (|| {
        Ok(wire::HistoryRequest {
            outcome: checked_text(req, "outcome", |o| Outcome::parse(o).is_some())?,
            since: int(req, "since")?,
            until: int(req, "until")?,
            before: checked_text(req, "before", |c| Cursor::decode(c).is_some())?,
            limit: limit(req)?,
            name: name.clone(),
        })
    })();
    let (request, rest) = match rest {
        Ok(request) => (request, Ok(())),
        Err(err) => (
            wire::HistoryRequest {
                name,
                ..Default::default()
            },
            Err(err),
        ),
    };
    Ok(Staged { request, rest })
}

/// `GET events`: `after` (not negative), `limit`, `run` (a run id).
pub fn events(req: &ApiRequest) -> Result<wire::EventsRequest, ApiError> {
    let after = int(req, "after")?;
    if after.is_some_and(|a| a < 0) {
        return Err(ApiError::Invalid("after"));
    }
    Ok(wire::EventsRequest {
        after,
        limit: limit(req)?,
        run: checked_text(req, "run", |r| RunId::parse(r).is_some())?,
    })
}

fn right(req: &ApiRequest, field: &'static str) -> Result<bool, ApiError> {
    let value = req.field(field).ok_or(ApiError::Missing(field))?;
    parse_bool(value).ok_or(ApiError::Invalid(field))
}

/// `POST guest/create`: `name`, `run`, `cancel`, `status`, `monitor`,
/// `expires` (whether it lies ahead is the handler's to judge, last).
pub fn guest_create(req: &ApiRequest) -> Result<wire::GuestCreateRequest, ApiError> {
    let name = req.field("name").ok_or(ApiError::Missing("name"))?;
    let name = name
        .as_str()
        .filter(|n| ScriptName::parse(n).is_some())
        .ok_or(ApiError::Invalid("name"))?
        .to_owned();
    let run = right(req, "run")?;
    let cancel = right(req, "cancel")?;
    let status = right(req, "status")?;
    let monitor = right(req, "monitor")?;
    let expires = req.field("expires").ok_or(ApiError::Missing("expires"))?;
    let expires = parse_int(expires).ok_or(ApiError::Invalid("expires"))?;
    Ok(wire::GuestCreateRequest {
        cancel,
        expires,
        monitor,
        name,
        run,
        status,
    })
}

/// `GET monitor`: `name` (`""`: every script; the handler checks it
/// exists and may be watched before the rest counts), `verbose`, `after`.
pub fn monitor(req: &ApiRequest) -> Result<Staged<wire::MonitorRequest>, ApiError> {
    let name = match req.field("name") {
        None => return Err(ApiError::Missing("name")),
        Some(Value::String(s)) if s.is_empty() || ScriptName::parse(s).is_some() => s.clone(),
        Some(_) => return Err(ApiError::Invalid("name")),
    };
    let rest = (|| {
        let verbose = req
            .field("verbose")
            .map(|v| parse_bool(v).ok_or(ApiError::Invalid("verbose")))
            .transpose()?
            .unwrap_or(false);
        let after = req
            .field("after")
            .map(|v| {
                parse_int(v)
                    .filter(|s| *s >= 0)
                    .ok_or(ApiError::Invalid("after"))
            })
            .transpose()?;
        Ok(wire::MonitorRequest {
            after,
            name: name.clone(),
            verbose,
        })
    })();
    let (request, rest) = match rest {
        Ok(request) => (request, Ok(())),
        Err(err) => (
            wire::MonitorRequest {
                name,
                ..Default::default()
            },
            Err(err),
        ),
    };
    Ok(Staged { request, rest })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

/// `POST hook/create`: `url` (whether it may be reached is the handler's
/// to judge), `on` (a list, or a comma-separated string from a form or
/// query; default the failures), `name`, `format`.
pub fn hook_create(req: &ApiRequest) -> Result<wire::HookCreateRequest, ApiError> {
    let url = text(req, "url")?.ok_or(ApiError::Missing("url"))?;
    let names: Option<Vec<&str>> = match req.field("on") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or(ApiError::Invalid("on"))?,
        ),
        Some(Value::String(list)) => Some(list.split(',').map(str::trim).collect()),
        Some(_) => return Err(ApiError::Invalid("on")),
    };
    let on = match names {
        None => Trigger::DEFAULT.to_vec(),
        Some(names) => {
            let mut on = Vec::new();
            for name in names {
                let trigger = Trigger::parse(name).ok_or(ApiError::Invalid("on"))?;
                if !on.contains(&trigger) {
                    on.push(trigger);
                }
            }
            on
        }
    };
    if on.is_empty() {
        return Err(ApiError::Invalid("on"));
    }
    let name = checked_text(req, "name", |n| ScriptName::parse(n).is_some())?;
    let format = checked_text(req, "format", |f| Format::parse(f).is_some())?
        .and_then(|f| Format::parse(&f))
        .unwrap_or_default();
    Ok(wire::HookCreateRequest {
        format,
        name,
        on,
        url,
    })
}

/// `GET hook/deliveries`: `hook` (an id), `limit`.
pub fn deliveries(req: &ApiRequest) -> Result<wire::DeliveriesRequest, ApiError> {
    Ok(wire::DeliveriesRequest {
        hook: checked_text(req, "hook", |h| HookId::parse(h).is_some())?,
        limit: limit(req)?.map(i64::from),
    })
}
