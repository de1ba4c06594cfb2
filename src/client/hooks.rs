//! `scriptd hook add|list|remove|deliveries`: a user's webhooks, through
//! `/scripts/v1/hook/*`, and their tables.

use serde_json::json;

use super::api::Client;
use super::args::HookCommand;
use super::command::print;
use super::error::ClientError;
use super::when;
use crate::wire::{
    DeliveriesReply, DeliveriesRequest, DeliveryAttempt, DeliveryInfo, HookCreateReply,
    HookListReply,
};

/// Runs one `hook` command.
pub async fn hook_command(
    client: &Client,
    command: HookCommand,
    json: bool,
) -> Result<u8, ClientError> {
    match command {
        HookCommand::Add {
            target,
            on,
            name,
            format,
            ..
        } => {
            let mut body = json!({ "url": target });
            if !on.is_empty() {
                body["on"] = json!(on);
            }
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(format) = format {
                body["format"] = json!(format);
            }
            print(json, &client.hook_create(&body).await?, hook_created);
        }
        HookCommand::List { .. } => print(json, &client.hook_list().await?, hook_table),
        HookCommand::Remove { id, .. } => {
            let unknown = || ClientError::Refused {
                code: "invalid_id",
                message: format!(
                    "unknown hook id '{id}' (invalid_id): `scriptd hook list` lists them"
                ),
            };
            let reply = client.hook_delete(&id).await.map_err(|err| match err {
                ClientError::UnknownId { .. } => unknown(),
                ClientError::Api { code, .. } if code == "invalid_id" => unknown(),
                other => other,
            })?;
            print(json, &reply, |_| format!("removed hook {id}"));
        }
        HookCommand::Deliveries { id, limit, .. } => {
            let query = DeliveriesRequest {
                hook: id,
                limit: limit.map(i64::from),
            };
            let reply = client.hook_deliveries(&query).await?;
            print(json, &reply, delivery_table);
        }
    }
    Ok(0)
}

/// What `hook add` prints: the id and the secret, shown once.
pub fn hook_created(reply: &HookCreateReply) -> String {
    format!(
        "created hook {}\nsigning secret (shown once): {}",
        reply.id, reply.secret
    )
}

/// `hook list`.
pub fn hook_table(reply: &HookListReply) -> String {
    if reply.hooks.is_empty() {
        return "no hooks".to_owned();
    }
    let mut out = format!("{:<38}  {:<12}  {:<28}  URL", "ID", "SCRIPT", "ON");
    for hook in &reply.hooks {
        let on: Vec<&str> = hook.on.iter().map(|t| t.as_str()).collect();
        let mut url = hook.url.clone();
        if hook.format != Default::default() {
            url.push_str(&format!(" ({})", hook.format.as_str()));
        }
        if let Some(reason) = &hook.paused_reason {
            url.push_str(&format!(" [paused: {reason}]"));
        }
        out.push_str(&format!(
            "\n{:<38}  {:<12}  {:<28}  {url}",
            hook.id.to_string(),
            hook.name.as_deref().unwrap_or("*"),
            on.join(","),
        ));
    }
    out
}

/// `hook deliveries`: a row per delivery, each of its kept attempts
/// indented below it.
pub fn delivery_table(reply: &DeliveriesReply) -> String {
    if reply.deliveries.is_empty() {
        return "no deliveries".to_owned();
    }
    let mut out = format!(
        "{:<32}  {:<20}  {:<12}  {:<11}  {:<9}  {:>8}  {:>6}  ERROR",
        "DELIVERY", "WHEN", "SCRIPT", "EVENT", "STATE", "ATTEMPTS", "STATUS"
    );
    for d in &reply.deliveries {
        let status = d.status.map_or("-".to_owned(), |s| s.to_string());
        let mut error = d.error.clone().unwrap_or_default();
        if d.folded > 0 {
            error = format!("({} folded in) {error}", d.folded);
        }
        out.push_str(&format!(
            "\n{:<32}  {:<20}  {:<12}  {:<11}  {:<9}  {:>8}  {:>6}  {}",
            d.id,
            when::show(d.created),
            d.name,
            d.event,
            d.state,
            d.attempts,
            status,
            error.trim_end()
        ));
        out.push_str(&attempt_lines(d));
    }
    out
}

/// The lines under a delivery: its attempts, and how many older ones
/// were not kept.
fn attempt_lines(d: &DeliveryInfo) -> String {
    let mut out = String::new();
    let dropped = d.attempts - d.attempt_log.len() as i64;
    if dropped > 0 && !d.attempt_log.is_empty() {
        out.push_str(&format!("\n    ({dropped} earlier attempts not kept)"));
    }
    for a in &d.attempt_log {
        out.push_str(&format!("\n    {}", attempt_line(a)));
    }
    out
}

/// `attempt 2  2026-…  HTTP 500  took 0.01 s`, or its error.
fn attempt_line(a: &DeliveryAttempt) -> String {
    let when = a.at.map_or("-".to_owned(), when::show);
    let answer = match (a.status, &a.error) {
        (_, Some(error)) => error.clone(),
        (Some(status), None) => format!("HTTP {status}"),
        (None, None) => "-".to_owned(),
    };
    let took = match (a.at, a.ended) {
        (Some(at), Some(ended)) => format!("  ({:.2} s)", (ended - at).max(0.0)),
        _ => String::new(),
    };
    format!("attempt {:<3} {when}  {answer}{took}", a.attempt)
}
