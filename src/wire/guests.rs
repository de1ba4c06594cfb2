//! `guest/create`, `guest/list`, `guest/delete`.

use serde::{Deserialize, Serialize};

use super::literal::Success;
use crate::ids::GuestId;

/// `POST guest/create`. The server also takes `0`/`1` and `"0"`/`"1"` for
/// the rights and a numeric string for `expires`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuestCreateRequest {
    pub cancel: bool,
    /// UNIX time, later than now.
    pub expires: i64,
    pub monitor: bool,
    /// The one script the guest may use.
    pub name: String,
    pub run: bool,
    pub status: bool,
}

/// What a guest may do, and with which script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestScope {
    pub cancel: bool,
    pub monitor: bool,
    pub name: String,
    pub run: bool,
    pub status: bool,
}

/// One guest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestInfo {
    /// The key: in the reply of `guest/create` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apikey: Option<String>,
    pub created: i64,
    pub expires: i64,
    pub id: GuestId,
    pub info: GuestScope,
}

/// Reply of `POST guest/create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestCreateReply {
    pub id: GuestId,
    pub info: GuestInfo,
    pub success: Success,
}

/// Reply of `GET guest/list`: newest first, without keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestListReply {
    pub guests: Vec<GuestInfo>,
    pub success: Success,
}
