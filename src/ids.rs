//! Typed identifiers that cross module boundaries: users, guests, runs and
//! script names. Parsing is the only way to build one from outside input.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user account's id; also the name of its folder under the storage dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A run's id: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub Uuid);

impl RunId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        RunId(Uuid::now_v7())
    }

    /// Accepts only the canonical lowercase hyphenated form, so an id can
    /// never smuggle a path or an alias of another id.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 36 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Uuid::parse_str(text).ok().map(RunId)
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for RunId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        RunId::parse(s).ok_or(())
    }
}

/// A guest key's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GuestId(pub Uuid);

impl GuestId {
    /// A fresh random id.
    pub fn new() -> Self {
        GuestId(Uuid::now_v7())
    }

    /// Same canonical-form rule as [`RunId::parse`].
    pub fn parse(text: &str) -> Option<Self> {
        RunId::parse(text).map(|r| GuestId(r.0))
    }
}

impl Default for GuestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for GuestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A webhook's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HookId(pub Uuid);

impl HookId {
    /// A fresh random id.
    pub fn new() -> Self {
        HookId(Uuid::now_v7())
    }

    /// Same canonical-form rule as [`RunId::parse`].
    pub fn parse(text: &str) -> Option<Self> {
        RunId::parse(text).map(|r| HookId(r.0))
    }
}

impl Default for HookId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for HookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A script name as it appears in exectab.txt and in requests. Clones
/// share the text: the schedule timer keeps each name in its map, its
/// heap and its file's list (issue 30: memory per schedule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScriptName(Arc<str>);

impl ScriptName {
    /// Names are what exectab accepts: non-empty, no whitespace, `/` or NUL.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= 255
            && !text
                .chars()
                .any(|c| c.is_whitespace() || c == '/' || c == '\0');
        ok.then(|| ScriptName(Arc::from(text)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScriptName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_accepts_only_canonical_form() {
        let id = RunId::new();
        assert_eq!(RunId::parse(&id.to_string()), Some(id));
        let cases = [
            ("uppercase", id.to_string().to_uppercase()),
            ("simple form", id.0.simple().to_string()),
            ("path", "../../etc/passwd".to_owned()),
            ("braced", format!("{{{id}}}")),
            ("empty", String::new()),
        ];
        for (what, text) in cases {
            assert_eq!(RunId::parse(&text), None, "{what}: {text}");
        }
    }

    #[test]
    fn script_names_reject_separators() {
        for bad in ["", "a b", "a/b", "a\0", "tab\tx"] {
            assert!(ScriptName::parse(bad).is_none(), "{bad:?}");
        }
        assert!(ScriptName::parse("backup-db_1.x").is_some());
    }
}
