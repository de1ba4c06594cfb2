//! Sign-in through OpenID Connect (issue 32): the `[oidc]` settings and
//! their grants ([`settings`]), which grants a person's claims match
//! ([`grant`], pure), the protocol against the provider through the
//! `openidconnect` crate ([`client`]) and the server-side sessions a
//! sign-in makes ([`session`]). It feeds [`crate::rights`] a
//! [`crate::accounts::Person`]; it knows nothing of HTTP (that is
//! `http::oidc`) and writes no SQL.

pub mod client;
pub mod grant;
pub mod session;
pub mod settings;

pub use self::client::{OidcClient, SignInError};
pub use self::grant::Claims;
pub use self::session::{SessionBook, SessionEnd};
pub use self::settings::{Grant, GrantMatch, OidcFile, OidcSettings};
