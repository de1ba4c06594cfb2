//! `hook/create`, `hook/list`, `hook/delete`, `hook/deliveries`.

use serde::{Deserialize, Serialize};

use super::literal::Success;
use crate::hook::trigger::{Format, Trigger};
use crate::ids::HookId;

/// `POST hook/create`. `on` defaults to the failures (failed, timeout,
/// interrupted); `name` limits the hook to one script; `format` is
/// `json` (the default) or `slack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookCreateRequest {
    #[serde(default)]
    pub format: Format,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "default_on")]
    pub on: Vec<Trigger>,
    pub url: String,
}

fn default_on() -> Vec<Trigger> {
    Trigger::DEFAULT.to_vec()
}

/// One hook, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookInfo {
    pub created: i64,
    pub format: Format,
    pub id: HookId,
    /// The one script it is for; every script when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub on: Vec<Trigger>,
    /// When it was paused (UNIX seconds), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    pub url: String,
}

/// Reply of `POST hook/create`: the secret deliveries are signed with,
/// shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookCreateReply {
    pub hook: HookInfo,
    pub id: HookId,
    pub secret: String,
    pub success: Success,
}

/// Reply of `GET hook/list`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookListReply {
    pub hooks: Vec<HookInfo>,
    pub success: Success,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// When it was sent (UNIX seconds).
    pub at: Option<f64>,
    /// Its number: 1 for the first.
    pub attempt: i64,
    /// When its answer, or its error, came.
    pub ended: Option<f64>,
    /// Why it failed (a connection error, a timeout, `HTTP 500`…).
    pub error: Option<String>,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i64>,
}

/// One delivery: a run event sent (or to be sent) to one hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryInfo {
    /// Its last 20 attempts, oldest first (`attempts` counts them all).
    #[serde(default)]
    pub attempt_log: Vec<DeliveryAttempt>,
    /// Attempts made so far.
    pub attempts: i64,
    pub created: f64,
    /// The last attempt's error, if it failed.
    pub error: Option<String>,
    /// The trigger: `failed`, `started`…
    pub event: String,
    /// Later deliveries the flood limit folded into this one.
    pub folded: i64,
    /// The delivery this one was folded into (`state: folded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded_into: Option<String>,
    pub hook: String,
    /// The `X-Scriptd-Delivery` id, the same across retries.
    pub id: String,
    pub last_attempt: Option<f64>,
    pub name: String,
    pub run: String,
    /// `pending`, `delivered`, `failed` or `folded`.
    pub state: String,
    /// The last attempt's HTTP status.
    pub status: Option<i64>,
}

/// `GET hook/deliveries`: `hook` (an id) and `limit` (default 100).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveriesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// Reply of `GET hook/deliveries`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveriesReply {
    pub deliveries: Vec<DeliveryInfo>,
    pub success: Success,
}
