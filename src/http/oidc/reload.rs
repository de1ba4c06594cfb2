//! A config reload of sign-in (`serve` on SIGHUP): the `[oidc]` section
//! is read again and checked as at start. Its grants and the sessions'
//! lifetimes (and the sign-in page's `name` and `only`) take effect; a
//! live session whose person lost a grant it acts with ends
//! (`grant_removed`, its WebSockets closed with 1008). What the provider
//! knows scriptd by (issuer, client id and secret, scopes, public URL)
//! and the listen address need a restart. A file that cannot be read or
//! checked changes nothing: the settings in force stay, and it is logged.

use std::path::PathBuf;
use std::sync::Arc;

use actix::Addr;

use super::super::sessions::SessionRegistry;
use super::end::end_session;
use super::SignIn;
use crate::config::Config;
use crate::events::EventStore;
use crate::oidc::{OidcSettings, SessionEnd};

/// What a reload needs; made at start, used on every SIGHUP.
#[derive(Clone)]
pub struct Reloader {
    /// The config file read at start; `None`: nothing to re-read.
    pub file: Option<PathBuf>,
    pub sign_in: Option<SignIn>,
    pub store: Addr<EventStore>,
    pub sockets: SessionRegistry,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// The new grants and lifetimes are in force; this many sessions ended.
    Applied { ended: usize },
    /// Nothing changed, for this reason (logged as an error).
    Kept(String),
}

impl Reloader {
    /// Reads the config file again and puts its `[oidc]` grants and
    /// lifetimes in force.
    pub async fn reload(&self) -> Reloaded {
        let reloaded = self.try_reload().await;
        match &reloaded {
            Reloaded::Applied { ended } => {
                tracing::info!(
                    sessions_ended = ended,
                    "config reloaded: sign-in grants and lifetimes"
                )
            }
            Reloaded::Kept(why) => {
                tracing::error!(why = %why, "config not reloaded: the settings in force stay")
            }
        }
        reloaded
    }

    async fn try_reload(&self) -> Reloaded {
        let Some(file) = &self.file else {
            return Reloaded::Kept("the server was started without --config".to_owned());
        };
        let settings = match Config::reread_oidc(file) {
            Ok(settings) => settings,
            Err(err) => return Reloaded::Kept(err.to_string()),
        };
        match (&self.sign_in, settings) {
            (None, None) => Reloaded::Applied { ended: 0 },
            (None, Some(_)) => {
                Reloaded::Kept("sign-in ([oidc]) is turned on by a restart only".to_owned())
            }
            (Some(_), None) => Reloaded::Kept(
                "the file has no [oidc] section; sign-in is turned off by a restart only"
                    .to_owned(),
            ),
            (Some(sign_in), Some(settings)) => {
                let ended = self.apply(sign_in, Arc::new(settings)).await;
                Reloaded::Applied { ended }
            }
        }
    }

    /// Puts `settings` in force and ends the sessions it takes a grant from.
    async fn apply(&self, sign_in: &SignIn, settings: Arc<OidcSettings>) -> usize {
        let old = sign_in.settings();
        if (
            &old.issuer,
            &old.client_id,
            &old.client_secret,
            &old.public_url,
            &old.scopes,
        ) != (
            &settings.issuer,
            &settings.client_id,
            &settings.client_secret,
            &settings.public_url,
            &settings.scopes,
        ) {
            tracing::warn!(
                "[oidc] issuer, client_id, client_secret, public_url and scopes take effect at the next restart"
            );
        }
        sign_in.replace_settings(settings.clone());
        let ended = sign_in.book.regrant(&settings.grants);
        let count = ended.len();
        for session in ended {
            end_session(
                &self.store,
                &self.sockets,
                session,
                SessionEnd::GrantRemoved,
            )
            .await;
        }
        count
    }
}
