//! Users, guests and API keys: key generation and hashing, and who a key
//! belongs to. Keys are shown once and only their SHA-256 is ever stored.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{GuestId, ScriptName, UserId};

/// A freshly generated API key and the hash that is stored for it.
pub struct NewKey {
    /// The plain key: shown to its owner once, never stored.
    pub plain: String,
    pub hash: String,
}

/// Generates a key with 256 bits from the OS random source.
pub fn generate_key() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let plain = hex::encode(bytes);
    let hash = hash_key(&plain);
    NewKey { plain, hash }
}

/// The stored form of a key. A fast hash is enough: keys carry 256 bits of
/// entropy, so there is nothing for a slow hash to protect against.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A user account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    /// Whether this user may manage guest keys.
    pub guests: bool,
    pub created: i64,
}

/// What a guest key may do with its one script; [`crate::rights`] reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRights {
    pub run: bool,
    pub cancel: bool,
    pub status: bool,
    pub monitor: bool,
}

/// A guest key: one script, some rights, an expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct Guest {
    pub id: GuestId,
    pub user: UserId,
    pub script: ScriptName,
    pub rights: GuestRights,
    pub created: i64,
    pub expires: i64,
}

/// What a person signed in through OpenID Connect may do in an account,
/// from the `[[oidc.grant]]` entries their claims match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Status, history, log, monitor, scripts and schedules.
    Viewer,
    /// A viewer who may also run, cancel and kill, and pause or resume
    /// schedules.
    Operator,
    /// An operator who may also manage guests (and hooks).
    Owner,
}

impl Role {
    /// The role's name in the config and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Owner => "owner",
        }
    }

    /// Parses `viewer`, `operator` or `owner`.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// Which scripts a person's grants reach: every one, or those whose name
/// matches one of the globs (`*` any run of characters, `?` one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptFilter {
    All,
    Globs(Vec<String>),
}

impl ScriptFilter {
    /// Whether `name` is within the filter.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            ScriptFilter::All => true,
            ScriptFilter::Globs(globs) => globs.iter().any(|g| glob_matches(g, name)),
        }
    }

    /// The union of two filters.
    pub fn union(self, other: ScriptFilter) -> ScriptFilter {
        match (self, other) {
            (ScriptFilter::Globs(mut a), ScriptFilter::Globs(b)) => {
                a.extend(b);
                a.sort();
                a.dedup();
                ScriptFilter::Globs(a)
            }
            _ => ScriptFilter::All,
        }
    }
}

/// Shell-style glob over the whole name: `*` and `?`, nothing else.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let (g, n): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    // Iterative matching with one backtrack point (the last `*`).
    let (mut gi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == n[ni]) {
            gi += 1;
            ni += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ni;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

/// Who a person is, as the ID token said: the audit names them by these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    /// The provider's `sub`: stable, unique within the issuer.
    pub sub: String,
    /// The email, else the name, else the `sub` again: for people to read.
    pub display: String,
}

/// One grant a person holds: a role on some scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub role: Role,
    pub scripts: ScriptFilter,
}

/// A person signed in through OpenID Connect, acting in an account.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// The account the person acts in.
    pub user: User,
    pub who: PersonRef,
    /// Every grant of that account their claims matched: they may do what
    /// any one of them allows (the union).
    pub grants: Vec<Reach>,
    /// The session's id (not its cookie), as its events name it.
    pub session: String,
}

impl Person {
    /// The scripts any of the grants reach: what the person sees.
    pub fn visible(&self) -> ScriptFilter {
        self.grants
            .iter()
            .map(|g| g.scripts.clone())
            .reduce(ScriptFilter::union)
            .unwrap_or(ScriptFilter::Globs(Vec::new()))
    }

    /// The highest role of any grant (for the dashboard to adapt to).
    pub fn top_role(&self) -> Role {
        self.grants
            .iter()
            .map(|g| g.role)
            .max()
            .unwrap_or(Role::Viewer)
    }
}

/// Whoever a request's key (or session) belongs to.
#[derive(Debug, Clone)]
pub enum Principal {
    User(User),
    Guest(Guest),
    Person(Person),
}

impl Principal {
    /// The account whose scripts this key acts on.
    pub fn user_id(&self) -> UserId {
        match self {
            Principal::User(user) => user.id,
            Principal::Guest(guest) => guest.user,
            Principal::Person(person) => person.user.id,
        }
    }

    /// The guest, when the key is a guest key.
    pub fn guest(&self) -> Option<&Guest> {
        match self {
            Principal::User(_) | Principal::Person(_) => None,
            Principal::Guest(guest) => Some(guest),
        }
    }

    /// The person, when a signed-in person (not a key) is acting.
    pub fn person(&self) -> Option<&Person> {
        match self {
            Principal::Person(person) => Some(person),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names_with_star_and_question_mark() {
        let cases = [
            ("backup", "backup", true),
            ("backup", "backups", false),
            ("deploy-*", "deploy-web", true),
            ("deploy-*", "deploy-", true),
            ("deploy-*", "predeploy-web", false),
            ("*-db", "backup-db", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*", "anything", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ];
        for (glob, name, want) in cases {
            assert_eq!(glob_matches(glob, name), want, "{glob} ~ {name}");
        }
    }

    #[test]
    fn filters_union_to_every_script_when_either_is() {
        let only = |g: &[&str]| ScriptFilter::Globs(g.iter().map(|s| s.to_string()).collect());
        assert_eq!(only(&["a"]).union(only(&["b"])), only(&["a", "b"]));
        assert_eq!(only(&["a"]).union(ScriptFilter::All), ScriptFilter::All);
        assert!(!only(&["a"]).allows("b"));
    }

    #[test]
    fn keys_are_long_random_and_hashed() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(a.plain.len(), 64, "256 bits as hex");
        assert_ne!(a.plain, b.plain);
        assert_eq!(a.hash, hash_key(&a.plain));
        assert_ne!(a.hash, a.plain);
    }
}
