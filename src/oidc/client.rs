//! The OpenID Connect protocol, all of it through the `openidconnect`
//! crate: discovery of the issuer's endpoints and keys, the authorization
//! URL with PKCE, `state` and `nonce`, the code exchange, and the ID
//! token's checks (JWKS signature, `iss`, `aud`, `exp`, `nonce`). Its HTTP
//! client follows no redirects (a provider's answer cannot send scriptd
//! elsewhere). The discovered provider is kept for an hour, then fetched
//! again so that rotated signing keys are picked up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    reqwest, AdditionalClaims, AuthenticationFlow, AuthorizationCode, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::grant::Claims;
use super::settings::OidcSettings;

/// How long a discovered provider (endpoints and keys) is trusted.
const REDISCOVER: Duration = Duration::from_secs(3600);

/// The `groups` claim, which the standard claims lack.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupsClaim {
    #[serde(default)]
    groups: Vec<String>,
}

impl AdditionalClaims for GroupsClaim {}

type TokenReply = StandardTokenResponse<
    IdTokenFields<
        GroupsClaim,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type Discovered = Client<
    GroupsClaim,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenReply,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in failed; the callback page says which.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the identity provider cannot be reached or described itself wrongly: {0}")]
    Discovery(String),
    #[error("the sign-in is unknown or expired (state); start again")]
    UnknownState,
    #[error("the sign-in was started in another browser; start again")]
    OtherBrowser,
    #[error("the identity provider refused the sign-in: {0}")]
    Provider(String),
    #[error("the code could not be exchanged: {0}")]
    Exchange(String),
    #[error("the identity provider sent no ID token")]
    NoIdToken,
    #[error("the ID token is not valid: {0}")]
    BadIdToken(String),
    #[error("no grant of this server matches you ({0}); ask its administrator for one")]
    NoGrant(String),
    #[error("the account '{0}' of your grant does not exist on this server")]
    NoAccount(String),
    #[error("the sign-in could not be recorded; try again shortly")]
    NotRecorded,
}

/// What the callback needs to finish a sign-in it started.
#[derive(Clone)]
pub struct PendingLogin {
    pub nonce: String,
    pub verifier: String,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingLogin(hidden)")
    }
}

/// A started sign-in: where to send the browser, its `state` and what the
/// callback will need.
pub struct Started {
    pub url: String,
    pub state: String,
    pub pending: PendingLogin,
}

/// The relying party of one `[oidc]` section.
pub struct OidcClient {
    settings: Arc<OidcSettings>,
    redirect: RedirectUrl,
    http: reqwest::Client,
    discovered: Mutex<Option<(Instant, Arc<Discovered>)>>,
}

impl OidcClient {
    /// A client for `settings`, redirecting to `<public_url>/ui/oidc/callback`.
    pub fn new(settings: Arc<OidcSettings>, public_url: &str) -> Result<Self, SignInError> {
        let redirect = RedirectUrl::new(format!("{public_url}/ui/oidc/callback"))
            .map_err(|e| SignInError::Discovery(format!("redirect URI: {e}")))?;
        let http = reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            // The HTTP workers each run their own runtime: no connection
            // is kept for another to reuse.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| SignInError::Discovery(e.to_string()))?;
        Ok(OidcClient {
            settings,
            redirect,
            http,
            discovered: Mutex::new(None),
        })
    }

    /// The redirect URI registered with the provider.
    pub fn redirect_uri(&self) -> &str {
        self.redirect.as_str()
    }

    async fn provider(&self) -> Result<Arc<Discovered>, SignInError> {
        let mut slot = self.discovered.lock().await;
        if let Some((at, client)) = slot.as_ref() {
            if at.elapsed() < REDISCOVER {
                return Ok(client.clone());
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| SignInError::Discovery(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| SignInError::Discovery(chain(&e)))?;
        let client = Discovered::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone());
        let client = Arc::new(client);
        *slot = Some((Instant::now(), client.clone()));
        Ok(client)
    }

    /// Starts a sign-in: the provider's authorization URL (code flow, PKCE
    /// S256, a fresh `state` and `nonce`).
    pub async fn begin(&self) -> Result<Started, SignInError> {
        let client = self.provider().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = self.settings.scopes.iter().cloned().map(Scope::new);
        let (url, state, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(scopes)
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            pending: PendingLogin {
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
            },
        })
    }

    /// Finishes a sign-in: exchanges `code` (with the PKCE verifier) and
    /// checks the ID token against the provider's keys and the `nonce`.
    pub async fn finish(&self, pending: PendingLogin, code: String) -> Result<Claims, SignInError> {
        let client = self.provider().await?;
        let reply = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Exchange(chain(&e)))?;
        let token = reply.id_token().ok_or(SignInError::NoIdToken)?;
        let verifier = client.id_token_verifier();
        let claims = token
            .claims(&verifier, &Nonce::new(pending.nonce))
            .map_err(|e| SignInError::BadIdToken(chain(&e)))?;
        Ok(Claims {
            sub: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            groups: claims.additional_claims().groups.clone(),
        })
    }
}

/// An error and its causes on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
