//! Where a client command goes and which key it sends. The address is,
//! first to last: the one the user named (`--url` / `SCRIPTD_URL`), the
//! one a running server recorded in the storage (`<storage>/server.json`,
//! see [`crate::address`]), or the one configured for the server
//! (`--listen` / `SCRIPTD_LISTEN` / the config file's `listen`); a key is
//! never sent anywhere else. With the configured address the scheme
//! follows the server's own TLS decision for it (`https` unless plain on
//! loopback). The key is `--api-key` / `SCRIPTD_API_KEY`, else the
//! first-run `<storage>/admin.key`. Errors name both origins.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::api::{Client, Origins};
use super::args::Remote;
use super::error::ClientError;
use crate::address;
use crate::config::Config;
use crate::http::tls::Decision;

/// The base URL for `flag` (from `--url` / `SCRIPTD_URL`), else the
/// server's configured listen address. A bare `host:port` means
/// `http://host:port`.
pub fn resolve_url(flag: Option<&str>, config: &Config) -> Result<String, ClientError> {
    if let Some(url) = flag.map(str::trim).filter(|u| !u.is_empty()) {
        let url = url.trim_end_matches('/');
        return Ok(if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        });
    }
    let listen = config.listen.trim();
    match listen.parse::<SocketAddr>() {
        Ok(addr) if addr.port() == 0 => Err(ClientError::NoUrl(format!(
            "the configured listen address {listen} picks a free port"
        ))),
        Ok(addr) => Ok(format!(
            "{}://{}",
            scheme(config, &addr),
            address::connectable(addr)
        )),
        // A host name (`localhost:9893`) connects as it binds.
        Err(_) => match listen.rsplit_once(':') {
            Some((host, _)) => {
                let ip = match host {
                    "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                };
                let scheme = scheme(config, &SocketAddr::new(ip, 0));
                Ok(format!("{scheme}://{listen}"))
            }
            None => Err(ClientError::NoUrl(format!(
                "the configured listen address {listen:?} has no port"
            ))),
        },
    }
}

/// `https` when the server on `addr` serves TLS (as it decides from the
/// same settings), else `http`.
fn scheme(config: &Config, addr: &SocketAddr) -> &'static str {
    match config.tls.decide(addr) {
        Decision::Tls { .. } => "https",
        Decision::Plain { .. } => "http",
    }
}

/// The client for `remote`: its URL, and the key from the flag or
/// environment, else the first-run admin key of a server on this host.
pub fn client_for(remote: &Remote, config: &Config) -> Result<Client, ClientError> {
    let (url, url_from, ca) = target(remote, config)?;
    let tls = super::tls::client_config(&url, ca.as_deref(), &config.storage)?;
    if let Some(key) = &remote.api_key {
        let origins = Origins {
            url: url_from,
            key: "from --api-key or SCRIPTD_API_KEY".into(),
        };
        return Ok(Client::with_tls(&url, key, tls).origins(origins));
    }
    let path = config.storage.join("admin.key");
    let key = read_key(&path)?;
    let origins = Origins {
        url: url_from,
        key: format!("read from {}", path.display()),
    };
    Ok(Client::with_tls(&url, &key, tls).origins(origins))
}

/// The URL, where it came from, and the CA to verify it with.
fn target(
    remote: &Remote,
    config: &Config,
) -> Result<(String, String, Option<PathBuf>), ClientError> {
    let named = remote.url.as_deref().map(str::trim);
    if named.is_some_and(|u| !u.is_empty()) {
        let url = resolve_url(named, config)?;
        return Ok((url, "--url or SCRIPTD_URL".into(), remote.ca.clone()));
    }
    if let Some(advert) = address::read(&config.storage) {
        let from = config.storage.join(address::FILE).display().to_string();
        let from = format!("the running server's record {from}");
        return Ok((advert.url, from, remote.ca.clone().or(advert.ca)));
    }
    let url = resolve_url(None, config)?;
    let from = format!("the configured listen address {}", config.listen.trim());
    Ok((url, from, remote.ca.clone()))
}

fn read_key(path: &Path) -> Result<String, ClientError> {
    match std::fs::read_to_string(path) {
        Ok(key) => Ok(key.trim().to_owned()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(ClientError::NoKey {
            path: path.display().to_string(),
        }),
        Err(source) => Err(ClientError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_listen(listen: &str) -> Config {
        let mut config = Config::new("unused");
        config.listen = listen.to_owned();
        config
    }

    #[test]
    fn the_url_is_named_or_configured() {
        let cases = [
            (
                "flag wins",
                Some("http://10.0.0.1:1/"),
                "127.0.0.1:9",
                "http://10.0.0.1:1",
            ),
            (
                "bare host:port",
                Some("127.0.0.1:9960"),
                "x",
                "http://127.0.0.1:9960",
            ),
            ("https kept", Some("https://h:1"), "x", "https://h:1"),
            ("listen", None, "127.0.0.1:9960", "http://127.0.0.1:9960"),
            // Not loopback: the server serves TLS there (by default).
            (
                "wildcard v4",
                None,
                "0.0.0.0:9960",
                "https://127.0.0.1:9960",
            ),
            ("wildcard v6", None, "[::]:9960", "https://[::1]:9960"),
            ("host name", None, "localhost:9960", "http://localhost:9960"),
        ];
        for (what, flag, listen, want) in cases {
            let got = resolve_url(flag, &with_listen(listen)).ok();
            assert_eq!(got.as_deref(), Some(want), "{what}");
        }
    }

    #[test]
    fn a_free_port_listen_address_names_no_server() {
        let err = resolve_url(None, &with_listen("127.0.0.1:0")).err();
        assert!(matches!(err, Some(ClientError::NoUrl(_))), "{err:?}");
    }
}
