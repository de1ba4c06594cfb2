//! The `[oidc]` section of the config file and its `[[oidc.grant]]`
//! entries, checked once at start: a bad value is a startup error that
//! names it, never a sign-in that fails later.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::accounts::{Role, ScriptFilter};

/// The scopes asked for besides `openid` when `scopes` is not given.
pub const DEFAULT_SCOPES: [&str; 3] = ["email", "profile", "groups"];

/// `[oidc]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcFile {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// A file holding the secret (first line), instead of `client_secret`.
    pub client_secret_file: Option<PathBuf>,
    /// The URL people reach scriptd at (the redirect URI's base).
    pub public_url: Option<String>,
    /// The provider's name on the sign-in button (default "single sign-on").
    pub name: Option<String>,
    /// `true`: no API-key form on the sign-in page.
    pub only: Option<bool>,
    /// Scopes asked for besides `openid` (default email, profile, groups).
    pub scopes: Option<Vec<String>>,
    /// A session's longest life, in seconds (default 12 h).
    pub session_max_secs: Option<u64>,
    /// A session unused this long ends, in seconds (default 1 h).
    pub session_idle_secs: Option<u64>,
    #[serde(default)]
    pub grant: Vec<GrantFile>,
}

/// One `[[oidc.grant]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantFile {
    pub group: Option<String>,
    pub email: Option<String>,
    pub sub: Option<String>,
    pub user: Option<String>,
    pub role: Option<String>,
    pub scripts: Option<Vec<String>>,
}

/// Whose claims a grant matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantMatch {
    /// A member of this group (the `groups` claim).
    Group(String),
    /// This email, compared without case, and only when verified.
    Email(String),
    /// This subject (the provider's id of the person).
    Sub(String),
}

/// One checked grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub matches: GrantMatch,
    /// The scriptd account (user name) the person acts in.
    pub user: String,
    pub role: Role,
    pub scripts: ScriptFilter,
}

/// The checked `[oidc]` settings.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub public_url: Option<String>,
    pub name: String,
    pub only: bool,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    pub session_max: Duration,
    pub session_idle: Duration,
    pub grants: Vec<Grant>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"hidden")
            .field("public_url", &self.public_url)
            .field("grants", &self.grants.len())
            .finish_non_exhaustive()
    }
}

/// Why `[oidc]` cannot be used; the message names the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("[oidc] {key}: {why}")]
pub struct BadOidc {
    pub key: String,
    pub why: String,
}

fn bad(key: impl Into<String>, why: impl Into<String>) -> BadOidc {
    BadOidc {
        key: key.into(),
        why: why.into(),
    }
}

fn required(value: Option<String>, key: &str) -> Result<String, BadOidc> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| bad(key, "is required"))
}

/// An issuer must be https, except on a loopback address (a provider run
/// on the same machine, as the tests do).
fn check_issuer(issuer: &str) -> Result<(), BadOidc> {
    let url = url::Url::parse(issuer).map_err(|e| bad("issuer", format!("not a URL ({e})")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(bad(
            "issuer",
            "must be an https:// URL (http:// only on a loopback address)",
        )),
    }
}

fn check_public_url(text: String) -> Result<String, BadOidc> {
    let url = url::Url::parse(&text).map_err(|e| bad("public_url", format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad("public_url", "must be an http:// or https:// URL"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

impl GrantFile {
    fn check(self, at: usize) -> Result<Grant, BadOidc> {
        let key = |field: &str| format!("grant[{at}].{field}");
        let matches = match (self.group, self.email, self.sub) {
            (Some(g), None, None) => GrantMatch::Group(g),
            (None, Some(e), None) => GrantMatch::Email(e.to_lowercase()),
            (None, None, Some(s)) => GrantMatch::Sub(s),
            _ => {
                return Err(bad(
                    format!("grant[{at}]"),
                    "needs exactly one of group, email or sub",
                ))
            }
        };
        let user = required(self.user, &key("user"))?;
        let role_text = required(self.role, &key("role"))?;
        let role = Role::parse(&role_text)
            .ok_or_else(|| bad(key("role"), "must be viewer, operator or owner"))?;
        let scripts = match self.scripts {
            None => ScriptFilter::All,
            Some(globs) if globs.is_empty() => {
                return Err(bad(
                    key("scripts"),
                    "is empty (leave it out for every script)",
                ))
            }
            Some(globs) => {
                let valid = |g: &String| {
                    !g.is_empty()
                        && g.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.*?".contains(c))
                };
                if !globs.iter().all(valid) {
                    return Err(bad(
                        key("scripts"),
                        "holds script names or globs (letters, digits, - _ . * ?)",
                    ));
                }
                ScriptFilter::Globs(globs)
            }
        };
        Ok(Grant {
            matches,
            user,
            role,
            scripts,
        })
    }
}

impl OidcFile {
    /// Checks every value (and reads `client_secret_file`, at start).
    pub fn check(self) -> Result<OidcSettings, BadOidc> {
        let issuer = required(self.issuer, "issuer")?;
        check_issuer(&issuer)?;
        let client_id = required(self.client_id, "client_id")?;
        let client_secret = match (self.client_secret, self.client_secret_file) {
            (Some(secret), None) => secret,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|e| bad("client_secret_file", format!("{}: {e}", path.display())))?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned(),
            (Some(_), Some(_)) => {
                return Err(bad(
                    "client_secret",
                    "give client_secret or client_secret_file, not both",
                ))
            }
            (None, None) => {
                return Err(bad("client_secret", "is required (or client_secret_file)"))
            }
        };
        if client_secret.is_empty() {
            return Err(bad("client_secret", "is empty"));
        }
        let public_url = self.public_url.map(check_public_url).transpose()?;
        let scopes = match self.scopes {
            None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            Some(scopes) if scopes.iter().all(|s| !s.is_empty() && !s.contains(' ')) => {
                scopes.into_iter().filter(|s| s != "openid").collect()
            }
            Some(_) => return Err(bad("scopes", "are single words, such as email")),
        };
        let secs = |value: Option<u64>, default: u64, key: &str| match value {
            Some(0) => Err(bad(key, "must be at least one second")),
            other => Ok(Duration::from_secs(other.unwrap_or(default))),
        };
        let session_max = secs(self.session_max_secs, 12 * 3600, "session_max_secs")?;
        let session_idle = secs(self.session_idle_secs, 3600, "session_idle_secs")?;
        if self.grant.is_empty() {
            return Err(bad("grant", "no [[oidc.grant]]: nobody could sign in"));
        }
        let grants = self
            .grant
            .into_iter()
            .enumerate()
            .map(|(at, g)| g.check(at))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OidcSettings {
            issuer,
            client_id,
            client_secret,
            public_url,
            name: self.name.unwrap_or_else(|| "single sign-on".to_owned()),
            only: self.only.unwrap_or(false),
            scopes,
            session_max,
            session_idle,
            grants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OidcSettings, BadOidc> {
        toml::from_str::<OidcFile>(text).expect("toml").check()
    }

    const BASE: &str = r#"
        issuer = "https://id.example.com/realms/ops"
        client_id = "scriptd"
        client_secret = "s3cret"
    "#;

    #[test]
    fn a_full_section_parses_with_its_defaults() {
        let text = format!(
            "{BASE}\n[[grant]]\ngroup = \"ops\"\nuser = \"admin\"\nrole = \"operator\"\nscripts = [\"backup\", \"deploy-*\"]\n"
        );
        let settings = parse(&text).expect("valid");
        assert_eq!(settings.session_max, Duration::from_secs(12 * 3600));
        assert_eq!(settings.session_idle, Duration::from_secs(3600));
        assert!(!settings.only);
        assert_eq!(
            settings.grants[0],
            Grant {
                matches: GrantMatch::Group("ops".into()),
                user: "admin".into(),
                role: Role::Operator,
                scripts: ScriptFilter::Globs(vec!["backup".into(), "deploy-*".into()]),
            }
        );
        assert!(!format!("{settings:?}").contains("s3cret"), "secret hidden");
    }

    #[test]
    fn bad_values_are_named() {
        let grant = "[[grant]]\ngroup = \"ops\"\nuser = \"admin\"\nrole = \"operator\"\n";
        let cases = [
            (
                "plain http issuer",
                "issuer = \"http://id.example.com\"\nclient_id = \"a\"\nclient_secret = \"b\"\n".to_owned() + grant,
                "issuer",
            ),
            ("no grant", BASE.to_owned(), "grant"),
            (
                "unknown role",
                format!("{BASE}[[grant]]\ngroup = \"ops\"\nuser = \"admin\"\nrole = \"god\"\n"),
                "grant[0].role",
            ),
            (
                "two matchers",
                format!("{BASE}[[grant]]\ngroup = \"ops\"\nsub = \"x\"\nuser = \"admin\"\nrole = \"viewer\"\n"),
                "grant[0]",
            ),
            (
                "no client id",
                "issuer = \"https://id.example.com\"\nclient_secret = \"b\"\n".to_owned() + grant,
                "client_id",
            ),
            (
                "a glob with a slash",
                format!("{BASE}[[grant]]\ngroup = \"ops\"\nuser = \"admin\"\nrole = \"viewer\"\nscripts = [\"a/b\"]\n"),
                "grant[0].scripts",
            ),
        ];
        for (what, text, key) in cases {
            let err = parse(&text).expect_err(what);
            assert_eq!(err.key, key, "{what}: {err}");
        }
    }

    #[test]
    fn a_loopback_issuer_may_be_plain_http() {
        for issuer in [
            "http://127.0.0.1:8080",
            "http://localhost:9000/x",
            "http://[::1]:1",
        ] {
            assert_eq!(check_issuer(issuer), Ok(()), "{issuer}");
        }
        assert!(check_issuer("http://10.0.0.1").is_err());
    }
}
