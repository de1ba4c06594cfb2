//! The HTTP client of deliveries: awc (already the tests' client and a
//! dependency of the server, on the same actix runtime and rustls), with
//! a resolver that checks every address a host name resolves to against
//! the SSRF policy and hands the connector only those, so the request
//! goes to the very address that was checked (no second lookup that a
//! DNS rebinding could answer differently). Redirects are not followed.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_tls::connect::{Connector as TcpConnector, Resolve, Resolver};
use awc::http::header;
use futures_util::future::LocalBoxFuture;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::body::Answer;
use crate::hook::target::{self, AllowList, TargetError};

/// A delivery's whole attempt, connection included, ends after this.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The system bundles TLS receivers are verified against.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Resolves with the system's resolver, then refuses internal addresses
/// that `hooks_allow` does not open.
struct CheckedResolver {
    allow: AllowList,
}

impl Resolve for CheckedResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn StdError>>> {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            let ips: Vec<_> = addrs.iter().map(SocketAddr::ip).collect();
            target::check_addrs(host, &ips, &self.allow)?;
            Ok(addrs)
        })
    }
}

/// The system's root certificates (an empty store if no bundle is
/// found: then every https receiver fails, and says why).
fn tls_config() -> Option<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.exists()) {
        if let Ok(certs) = CertificateDer::pem_file_iter(bundle) {
            roots.add_parsable_certificates(certs.flatten());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| tracing::error!(error = %err, "hooks: cannot set up TLS"))
        .ok()?;
    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(Arc::new(config))
}

/// The client every delivery of this worker goes through.
pub fn client(allow: AllowList) -> awc::Client {
    let tcp = TcpConnector::new(Resolver::custom(CheckedResolver { allow })).service();
    let mut connector = awc::Connector::new().connector(tcp).timeout(TIMEOUT);
    if let Some(tls) = tls_config() {
        connector = connector.rustls_0_23(tls);
    }
    awc::Client::builder()
        .connector(connector)
        .timeout(TIMEOUT)
        .disable_redirects()
        .finish()
}

/// One signed POST of `body` to `url`.
pub async fn post(
    client: &awc::Client,
    allow: &AllowList,
    url: &str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
) -> Answer {
    // A literal address is never resolved, so it is checked here.
    if let Err(err) = target::check_url(url, allow) {
        return Answer::Refused(err.to_string());
    }
    let mut request = client
        .post(url)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((
            header::USER_AGENT,
            format!("scriptd/{}", env!("CARGO_PKG_VERSION")),
        ));
    for (name, value) in headers {
        request = request.insert_header((name, value));
    }
    match request.send_body(body).await {
        Ok(response) => Answer::Status {
            code: response.status().as_u16(),
            retry_after: response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        },
        Err(err) => classify(err),
    }
}

/// A refused target is final; anything else may work later.
fn classify(err: awc::error::SendRequestError) -> Answer {
    if let awc::error::SendRequestError::Connect(awc::error::ConnectError::Resolver(inner)) = &err {
        if let Some(refused) = inner.downcast_ref::<TargetError>() {
            return Answer::Refused(refused.to_string());
        }
    }
    Answer::Unreachable(err.to_string())
}
