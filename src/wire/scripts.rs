//! `GET scripts` (extension): the scripts a key may use, and who the key is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::literal::{GuestKind, PersonKind, Success, UserKind};

/// A script as its owner sees it: its exectab options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnerScript {
    /// How many `args` it needs (its highest `@@N`).
    pub args: usize,
    pub command: Vec<String>,
    pub cpu_weight: Option<u32>,
    pub dir: Option<String>,
    pub forget: bool,
    pub group: Option<String>,
    pub keep_children: bool,
    pub max_procs: Option<u32>,
    pub max_queued: Option<u32>,
    pub memory_max: Option<u64>,
    pub noexec: bool,
    pub simultaneous: u32,
    pub stdin: bool,
    /// Seconds.
    pub timeout: Option<u64>,
    pub user: Option<String>,
}

/// A script as a guest sees it: no command line, nor who it runs as or
/// where; how it is queued and timed, which a guest's runs meet too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestScript {
    pub args: usize,
    #[serde(default)]
    pub forget: bool,
    #[serde(default)]
    pub max_queued: Option<u32>,
    pub noexec: bool,
    #[serde(default)]
    pub simultaneous: Option<u32>,
    pub stdin: bool,
    /// Seconds.
    #[serde(default)]
    pub timeout: Option<u64>,
}

/// One entry of [`ScriptsReply::scripts`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScriptInfo {
    Owner(OwnerScript),
    Guest(GuestScript),
}

/// A guest's rights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rights {
    pub cancel: bool,
    pub monitor: bool,
    pub run: bool,
    pub status: bool,
}

/// The key belongs to a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserAccess {
    /// Whether this user may manage guests.
    pub guests: bool,
    pub kind: UserKind,
    pub name: String,
}

/// The key belongs to a guest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestAccess {
    pub expires: i64,
    pub kind: GuestKind,
    pub rights: Rights,
    pub script: String,
}

/// One grant of a signed-in person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonGrant {
    /// `viewer`, `operator` or `owner`.
    pub role: String,
    /// The script globs it is limited to; absent: every script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scripts: Option<Vec<String>>,
}

/// A person signed in through OpenID Connect, acting in an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonAccess {
    /// The account (user name) they act in.
    pub account: String,
    pub grants: Vec<PersonGrant>,
    pub kind: PersonKind,
    /// Their email, else name, as the audit shows it.
    pub name: String,
    /// Their highest role.
    pub role: String,
    pub sub: String,
}

/// Who the key is (`kind` says which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Access {
    User(UserAccess),
    Guest(GuestAccess),
    Person(PersonAccess),
}

/// Reply of `GET scripts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptsReply {
    pub access: Access,
    pub scripts: BTreeMap<String, ScriptInfo>,
    pub success: Success,
}
