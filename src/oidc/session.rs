//! Sessions of signed-in people, kept on the server: the browser holds
//! only a random token (the `scriptd_session` cookie), and this book holds
//! its SHA-256 with the person, their account and grants, and the
//! session's two deadlines (absolute and idle). Also the sign-ins under
//! way, by `state`, each usable once. A plain map under a lock: no lock is
//! held across an await, and nothing here does I/O (the caller records a
//! session's start and end as events). Sessions are not restored after a
//! restart (the next start records their ends): the book is memory only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::accounts::{generate_key, hash_key, Person, PersonRef, Reach, User};

use super::client::{PendingLogin, SignInError};
use super::grant::{self, Claims};
use super::settings::Grant;

/// How long a started sign-in may take at the provider.
const SIGN_IN_SECS: i64 = 600;
/// At most this many sign-ins under way (older ones are dropped first).
const MAX_PENDING: usize = 10_000;

/// Why a session ended, as its `SessionEnded` event and the WebSocket's
/// close reason say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// `POST /ui/oidc/logout`.
    Logout,
    /// Its absolute lifetime ran out.
    Expired,
    /// Unused for longer than the idle lifetime.
    Idle,
    /// A config reload took away a grant the session acted with.
    GrantRemoved,
    /// The server that held it stopped: recorded at its next start.
    Restart,
    /// The cluster node that held it lost its lease.
    NodeLost,
}

impl SessionEnd {
    /// The reason's name in events and close frames.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::Logout => "signed out",
            SessionEnd::Expired => "session expired",
            SessionEnd::Idle => "session idle too long",
            SessionEnd::GrantRemoved => "grant_removed",
            SessionEnd::Restart => "restart",
            SessionEnd::NodeLost => "node_lost",
        }
    }
}

/// One signed-in person's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Names the session in its events (not the cookie: that is secret).
    pub id: String,
    pub account: User,
    pub who: PersonRef,
    pub grants: Vec<Reach>,
    /// What the ID token said, so that a config reload can match the
    /// person against the new grants (memory only, never recorded).
    pub claims: Claims,
    pub started: i64,
    pub last_seen: i64,
}

impl Session {
    /// The person acting in this session.
    pub fn person(&self) -> Person {
        Person {
            user: self.account.clone(),
            who: self.who.clone(),
            grants: self.grants.clone(),
            session: self.id.clone(),
        }
    }
}

struct Pending {
    login: PendingLogin,
    /// SHA-256 of the browser's sign-in cookie: the callback must come
    /// from the browser that started the sign-in.
    browser: String,
    started: i64,
}

#[derive(Default)]
struct Book {
    /// By the SHA-256 of the cookie.
    sessions: HashMap<String, Session>,
    pending: HashMap<String, Pending>,
    /// The name each person signed in under, by `sub`, for the audit.
    people: HashMap<String, String>,
    /// A session's longest life and longest idle time, in seconds (a
    /// config reload may change them).
    max: i64,
    idle: i64,
}

impl Book {
    fn end_of(&self, session: &Session, now: i64) -> Option<SessionEnd> {
        if now >= session.started + self.max {
            Some(SessionEnd::Expired)
        } else if now >= session.last_seen + self.idle {
            Some(SessionEnd::Idle)
        } else {
            None
        }
    }
}

/// Every live session and sign-in under way.
#[derive(Clone)]
pub struct SessionBook {
    inner: Arc<Mutex<Book>>,
}

impl SessionBook {
    /// A book whose sessions last at most `max`, and `idle` unused.
    pub fn new(max: Duration, idle: Duration) -> Self {
        let book = SessionBook {
            inner: Arc::default(),
        };
        book.set_lifetimes(max, idle);
        book
    }

    /// From now on sessions last at most `max`, and `idle` unused (the
    /// live ones too, counted from their start and last use).
    pub fn set_lifetimes(&self, max: Duration, idle: Duration) {
        let mut book = self.book();
        book.max = max.as_secs() as i64;
        book.idle = idle.as_secs() as i64;
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // A poisoned lock only means a panic elsewhere; the map stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a started sign-in under its `state`.
    pub fn add_pending(&self, state: String, login: PendingLogin, browser: &str, now: i64) {
        let mut book = self.book();
        book.pending.retain(|_, p| now - p.started < SIGN_IN_SECS);
        if book.pending.len() >= MAX_PENDING {
            if let Some(oldest) = book
                .pending
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(k, _)| k.clone())
            {
                book.pending.remove(&oldest);
            }
        }
        let pending = Pending {
            login,
            browser: hash_key(browser),
            started: now,
        };
        book.pending.insert(state, pending);
    }

    /// Takes the sign-in of `state` (once: a second callback with the same
    /// state, a replay, finds nothing), if `browser` started it.
    pub fn take_pending(
        &self,
        state: &str,
        browser: Option<&str>,
        now: i64,
    ) -> Result<PendingLogin, SignInError> {
        let pending = self
            .book()
            .pending
            .remove(state)
            .filter(|p| now - p.started < SIGN_IN_SECS)
            .ok_or(SignInError::UnknownState)?;
        match browser {
            Some(cookie) if hash_key(cookie) == pending.browser => Ok(pending.login),
            _ => Err(SignInError::OtherBrowser),
        }
    }

    /// Starts a session; its cookie value is returned once, never kept.
    pub fn start(
        &self,
        account: User,
        claims: Claims,
        grants: Vec<Reach>,
        now: i64,
    ) -> (String, Session) {
        let token = generate_key();
        let session = Session {
            id: uuid::Uuid::now_v7().simple().to_string(),
            account,
            who: claims.person(),
            grants,
            claims,
            started: now,
            last_seen: now,
        };
        let mut book = self.book();
        book.people
            .insert(session.who.sub.clone(), session.who.display.clone());
        book.sessions.insert(token.hash, session.clone());
        (token.plain, session)
    }

    /// The live session of this cookie, marked as used now; `None` when
    /// unknown or past a deadline (the sweep then ends it).
    pub fn touch(&self, token: &str, now: i64) -> Option<Session> {
        let hash = hash_key(token);
        let mut book = self.book();
        let session = book.sessions.get(&hash)?;
        if book.end_of(session, now).is_some() {
            return None;
        }
        let session = book.sessions.get_mut(&hash)?;
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session of this cookie (sign-out).
    pub fn end(&self, token: &str) -> Option<Session> {
        self.book().sessions.remove(&hash_key(token))
    }

    /// Ends every session past a deadline at `now`.
    pub fn sweep(&self, now: i64) -> Vec<(Session, SessionEnd)> {
        let mut book = self.book();
        let ended: Vec<(String, SessionEnd)> = book
            .sessions
            .iter()
            .filter_map(|(hash, s)| book.end_of(s, now).map(|end| (hash.clone(), end)))
            .collect();
        ended
            .into_iter()
            .filter_map(|(hash, end)| book.sessions.remove(&hash).map(|s| (s, end)))
            .collect()
    }

    /// Ends every session whose person no longer holds, under `grants`,
    /// each grant the session acts with in its account (a reload took
    /// one away). A session whose person gained a grant keeps what it
    /// had; the new grant counts from their next sign-in.
    pub fn regrant(&self, grants: &[Grant]) -> Vec<Session> {
        let mut book = self.book();
        let gone: Vec<String> = book
            .sessions
            .iter()
            .filter(|(_, s)| !still_granted(s, grants))
            .map(|(hash, _)| hash.clone())
            .collect();
        gone.iter()
            .filter_map(|hash| book.sessions.remove(hash))
            .collect()
    }

    /// Ends every session (a cluster node that lost its lease drops
    /// them: the rescuer or its next incarnation records their ends).
    pub fn clear(&self) -> Vec<Session> {
        self.book().sessions.drain().map(|(_, s)| s).collect()
    }

    /// Whether the session with this id is live here.
    pub fn holds(&self, session: &str) -> bool {
        self.book().sessions.values().any(|s| s.id == session)
    }

    /// The name a person (by `sub`) last signed in under, since start.
    pub fn display_of(&self, sub: &str) -> Option<String> {
        self.book().people.get(sub).cloned()
    }

    /// Sessions live now.
    pub fn len(&self) -> usize {
        self.book().sessions.len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether `grants` still give the session's person every grant the
/// session acts with, in the same account.
fn still_granted(session: &Session, grants: &[Grant]) -> bool {
    grant::access(grants, &session.claims).is_some_and(|access| {
        access.user == session.account.name
            && session.grants.iter().all(|g| access.grants.contains(g))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Role, ScriptFilter};
    use crate::ids::UserId;

    fn book() -> SessionBook {
        SessionBook::new(Duration::from_secs(100), Duration::from_secs(10))
    }

    fn start(book: &SessionBook, now: i64) -> String {
        start_in(book, "admin", &["viewers"], Role::Viewer, now)
    }

    fn start_in(book: &SessionBook, user: &str, groups: &[&str], role: Role, now: i64) -> String {
        let account = User {
            id: UserId(1),
            name: user.into(),
            guests: false,
            created: 0,
        };
        let claims = Claims {
            sub: "s1".into(),
            email: Some("a@x.test".into()),
            email_verified: true,
            name: None,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        let grants = vec![Reach {
            role,
            scripts: ScriptFilter::All,
        }];
        book.start(account, claims, grants, now).0
    }

    fn grant(group: &str, role: Role) -> Grant {
        Grant {
            matches: crate::oidc::GrantMatch::Group(group.into()),
            user: "admin".into(),
            role,
            scripts: ScriptFilter::All,
        }
    }

    #[test]
    fn a_reload_ends_the_sessions_whose_grants_are_gone_and_keeps_the_others() {
        let book = book();
        let viewer = start(&book, 0);
        let operator = start_in(&book, "admin", &["ops"], Role::Operator, 0);
        let elsewhere = start_in(&book, "other", &["viewers"], Role::Viewer, 0);
        let grants = vec![
            grant("viewers", Role::Viewer),
            grant("ops", Role::Viewer),
            grant("admins", Role::Owner),
        ];

        let ended = book.regrant(&grants);

        let roles: Vec<Role> = ended.iter().map(|s| s.grants[0].role).collect();
        assert_eq!(
            ended.len(),
            2,
            "the demoted operator and the other account's viewer"
        );
        assert!(roles.contains(&Role::Operator), "{roles:?}");
        assert!(
            book.touch(&viewer, 1).is_some(),
            "the viewer keeps their grant"
        );
        assert!(book.touch(&operator, 1).is_none());
        assert!(book.touch(&elsewhere, 1).is_none());
    }

    #[test]
    fn new_lifetimes_apply_to_live_sessions() {
        let book = book();
        let token = start(&book, 0);
        book.set_lifetimes(Duration::from_secs(100), Duration::from_secs(3));
        assert!(book.touch(&token, 3).is_none(), "idle under the new limit");
        assert_eq!(book.sweep(3)[0].1, SessionEnd::Idle);
    }

    #[test]
    fn a_session_ends_when_idle_or_past_its_lifetime() {
        let book = book();
        let token = start(&book, 0);
        assert!(book.touch(&token, 9).is_some(), "used within the idle time");
        assert!(
            book.touch(&token, 18).is_some(),
            "idle time counts from the last use"
        );
        assert!(book.touch(&token, 29).is_none(), "idle too long");
        let ended = book.sweep(29);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, SessionEnd::Idle);
        assert!(book.is_empty());
        let token = start(&book, 0);
        for now in (5..100).step_by(5) {
            assert!(book.touch(&token, now).is_some(), "at {now}");
        }
        assert!(book.touch(&token, 100).is_none(), "absolute lifetime");
        assert_eq!(book.sweep(100)[0].1, SessionEnd::Expired);
    }

    #[test]
    fn a_sign_in_is_finished_once_and_by_the_browser_that_started_it() {
        let book = book();
        let login = || PendingLogin {
            nonce: "n".into(),
            verifier: "v".into(),
        };
        book.add_pending("st".into(), login(), "browser-a", 0);
        assert!(matches!(
            book.take_pending("st", Some("browser-b"), 1),
            Err(SignInError::OtherBrowser)
        ));
        book.add_pending("st".into(), login(), "browser-a", 0);
        assert!(book.take_pending("st", Some("browser-a"), 1).is_ok());
        assert!(matches!(
            book.take_pending("st", Some("browser-a"), 2),
            Err(SignInError::UnknownState)
        ));
        book.add_pending("old".into(), login(), "browser-a", 0);
        assert!(book
            .take_pending("old", Some("browser-a"), SIGN_IN_SECS)
            .is_err());
    }

    #[test]
    fn a_cookie_is_not_kept_and_sign_out_ends_its_session() {
        let book = book();
        let token = start(&book, 0);
        assert!(!book.book().sessions.contains_key(&token), "only its hash");
        assert!(book.end(&token).is_some());
        assert!(book.touch(&token, 1).is_none());
    }
}
