//! TLS for the listener (rustls, through actix-web): HTTPS and WSS on the
//! same port. Decides whether TLS is on (plain HTTP on loopback by
//! default, TLS on any other address unless turned off), and builds the
//! server config from the operator's PEM files or from the certificates
//! [`super::cert`] makes under `<storage>/tls/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use sha2::{Digest, Sha256};

use super::cert::{self, CertError};

pub use crate::config::{TlsMode, TlsSettings};

/// What the listener serves, and why (for the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Plain { because: &'static str },
    Tls { because: &'static str },
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("--tls-cert and --tls-key go together")]
    HalfPair,
    #[error("the certificate and key cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsSettings {
    /// Plain or TLS for a listener on `addr`.
    pub fn decide(&self, addr: &SocketAddr) -> Decision {
        match self.mode {
            TlsMode::On => Decision::Tls { because: "--tls" },
            TlsMode::Off => Decision::Plain {
                because: "--no-tls",
            },
            TlsMode::Auto if addr.ip().is_loopback() => Decision::Plain {
                because: "loopback; --tls to enable TLS",
            },
            TlsMode::Auto => Decision::Tls {
                because: "not loopback; --no-tls to serve plain HTTP",
            },
        }
    }
}

/// A ready server config and what to log about it.
pub struct ServerTls {
    pub config: ServerConfig,
    /// SHA-256 of the chain's last certificate (the root), `AB:CD:…`.
    pub root_fingerprint: String,
    /// Where clients find the root to trust, when scriptd made it.
    pub ca_file: Option<PathBuf>,
}

/// Builds the rustls config for a listener on `addr`.
pub fn server_tls(
    settings: &TlsSettings,
    storage: &Path,
    addr: &SocketAddr,
) -> Result<ServerTls, TlsError> {
    let (chain_file, key_file, ca_file) = match (&settings.cert, &settings.key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone(), None),
        (None, None) => {
            let made = cert::ensure(&storage.join("tls"), &names(settings, addr))?;
            (made.chain, made.key, Some(made.ca_cert))
        }
        _ => return Err(TlsError::HalfPair),
    };
    let chain = load_certs(&chain_file)?;
    let key = PrivateKeyDer::from_pem_file(&key_file).map_err(|source| TlsError::Read {
        path: key_file.clone(),
        source,
    })?;
    let root = chain.last().ok_or(TlsError::NoCertificate(chain_file))?;
    let root_fingerprint = fingerprint(root);
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(ServerTls {
        config,
        root_fingerprint,
        ca_file,
    })
}

/// What a listener on `addr` serves, ready to hand to actix-web.
pub struct Listening {
    decision: Decision,
    tls: Option<ServerTls>,
}

impl Listening {
    /// Decides plain or TLS and, for TLS, loads or makes the certificates.
    pub fn prepare(
        settings: &TlsSettings,
        storage: &Path,
        addr: &SocketAddr,
    ) -> Result<Listening, TlsError> {
        let decision = settings.decide(addr);
        let tls = match decision {
            Decision::Tls { .. } => Some(server_tls(settings, storage, addr)?),
            Decision::Plain { .. } => None,
        };
        Ok(Listening { decision, tls })
    }

    /// The rustls config, when serving TLS.
    pub fn server_config(&self) -> Option<ServerConfig> {
        self.tls.as_ref().map(|tls| tls.config.clone())
    }

    /// True when serving TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The root clients verify this server with, when scriptd made it.
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().and_then(|tls| tls.ca_file.as_deref())
    }

    /// Logs `listening on http(s)://ADDR`, why, and the root fingerprint.
    pub fn log(&self, addr: &SocketAddr) {
        match (&self.decision, &self.tls) {
            (Decision::Tls { because }, Some(tls)) => {
                let ca = tls
                    .ca_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the --tls-cert chain".into());
                tracing::info!(
                    root_sha256 = %tls.root_fingerprint,
                    ca = %ca,
                    "listening on https://{addr} (TLS: {because})"
                );
            }
            (Decision::Plain { because }, _) | (Decision::Tls { because }, None) => {
                tracing::info!("listening on http://{addr} (plain HTTP: {because})")
            }
        }
    }
}

/// The crypto provider scriptd uses everywhere (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file, in order.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |source| TlsError::Read {
        path: path.to_owned(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// `AB:CD:…`, the SHA-256 of a certificate as browsers and openssl show it.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The generated leaf's names: the listen host, localhost, 127.0.0.1 and
/// any `--tls-name`, without repeats.
fn names(settings: &TlsSettings, addr: &SocketAddr) -> Vec<String> {
    let mut names = Vec::new();
    let ip = addr.ip();
    if !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    names.extend(["localhost".to_owned(), "127.0.0.1".to_owned()]);
    names.extend(settings.names.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_on_off_loopback_unless_turned_off() {
        let loopback: SocketAddr = "127.0.0.1:9893".parse().unwrap();
        let v6_loopback: SocketAddr = "[::1]:9893".parse().unwrap();
        let anywhere: SocketAddr = "0.0.0.0:9893".parse().unwrap();
        let auto = TlsSettings::default();
        let off = TlsSettings {
            mode: TlsMode::Off,
            ..TlsSettings::default()
        };
        let on = TlsSettings {
            mode: TlsMode::On,
            ..TlsSettings::default()
        };
        assert!(matches!(auto.decide(&loopback), Decision::Plain { .. }));
        assert!(matches!(auto.decide(&v6_loopback), Decision::Plain { .. }));
        assert!(matches!(auto.decide(&anywhere), Decision::Tls { .. }));
        assert!(matches!(off.decide(&anywhere), Decision::Plain { .. }));
        assert!(matches!(on.decide(&loopback), Decision::Tls { .. }));
    }

    #[test]
    fn generated_names_cover_the_listen_host_localhost_and_extra_names() {
        let settings = TlsSettings {
            names: vec!["scripts.example".into(), "localhost".into()],
            ..TlsSettings::default()
        };
        let addr: SocketAddr = "192.0.2.7:443".parse().unwrap();
        assert_eq!(
            names(&settings, &addr),
            ["192.0.2.7", "localhost", "127.0.0.1", "scripts.example"]
        );
        let any: SocketAddr = "0.0.0.0:443".parse().unwrap();
        assert_eq!(
            names(&TlsSettings::default(), &any),
            ["localhost", "127.0.0.1"]
        );
    }
}
