//! The client's side of TLS: which root certificates an `https://` URL is
//! verified against. `--ca FILE` when given, else the server's own root
//! (`<storage>/tls/ca.pem`) on the server's host, else the system's bundle.
//! Verification is never turned off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};

use super::error::ClientError;
use crate::http::tls::{load_certs, provider};

/// The system bundles tried last (Debian/Ubuntu, Fedora/RHEL, Alpine…).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The TLS config for `url`, or `None` for a plain `http://` URL.
pub fn client_config(
    url: &str,
    ca: Option<&Path>,
    storage: &Path,
) -> Result<Option<Arc<ClientConfig>>, ClientError> {
    if !url.to_ascii_lowercase().starts_with("https://") {
        return Ok(None);
    }
    let file = trusted_file(ca, storage).ok_or_else(|| ClientError::Tls {
        url: url.to_owned(),
        reason: format!(
            "no CA to verify it with: pass --ca FILE (the server's {})",
            storage.join("tls").join("ca.pem").display()
        ),
    })?;
    let mut roots = RootCertStore::empty();
    let certs = load_certs(&file).map_err(|err| ClientError::Tls {
        url: url.to_owned(),
        reason: err.to_string(),
    })?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ClientError::Tls {
            url: url.to_owned(),
            reason: format!("{} holds no usable CA certificate", file.display()),
        });
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| ClientError::Tls {
            url: url.to_owned(),
            reason: err.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The WebSocket upgrade needs HTTP/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

fn trusted_file(ca: Option<&Path>, storage: &Path) -> Option<PathBuf> {
    if let Some(ca) = ca {
        return Some(ca.to_owned());
    }
    let own = storage.join("tls").join("ca.pem");
    if own.exists() {
        return Some(own);
    }
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        return Some(PathBuf::from(file));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// One line for a connection that failed in the TLS handshake; `None`
/// when `err` is not a TLS failure.
pub fn describe(err: &std::io::Error) -> Option<String> {
    let tls = err.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(match tls {
        rustls::Error::InvalidCertificate(why) => format!(
            "the server's TLS certificate is not trusted ({why:?}); \
             pass --ca FILE with the server's <storage>/tls/ca.pem"
        ),
        other => format!("TLS handshake failed: {other}"),
    })
}
