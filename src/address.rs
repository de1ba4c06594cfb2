//! Where a running server can be reached, as its storage records it:
//! `serve` writes `<storage>/server.json` (its URL, and the CA that
//! verifies it when it made its own certificate) once it listens, 0600,
//! and removes it on a clean exit; a client that reads its key from that
//! storage reads the address there too, so that `--listen 127.0.0.1:19893`
//! needs no `--url` on the same host. A file left by a crash names a
//! process that is gone, and is ignored.
//!
//! This module only reads and writes the file; which address wins is the
//! client's (`client::target`).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's name inside the storage.
pub const FILE: &str = "server.json";

/// What `server.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advertised {
    /// The base URL, scheme included (`https://127.0.0.1:9893`).
    pub url: String,
    /// The root certificate to verify an `https` URL with, when the server
    /// made its own (absent for plain HTTP and for `--tls-cert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// The serving process, so that a file left by a crash is known stale.
    pub pid: u32,
}

impl Advertised {
    /// The record of a server of this process listening on `addr`.
    pub fn new(addr: SocketAddr, tls: bool, ca: Option<&Path>) -> Self {
        let scheme = if tls { "https" } else { "http" };
        Advertised {
            url: format!("{scheme}://{}", connectable(addr)),
            ca: ca.map(absolute),
            pid: std::process::id(),
        }
    }
}

/// The written file; dropping it (a clean exit) removes it.
#[derive(Debug)]
pub struct AdvertGuard {
    path: PathBuf,
}

impl Drop for AdvertGuard {
    fn drop(&mut self) {
        // Only our own record: a later server may have replaced it.
        if read_at(&self.path).is_some_and(|a| a.pid == std::process::id()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes `advert` to `<storage>/server.json` (0600, replacing any older
/// one atomically).
pub fn write(storage: &Path, advert: &Advertised) -> std::io::Result<AdvertGuard> {
    let path = storage.join(FILE);
    let partial = storage.join(format!("{FILE}.partial"));
    let text = serde_json::to_vec_pretty(advert).map_err(std::io::Error::other)?;
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(&text)?;
    file.write_all(b"\n")?;
    std::fs::rename(&partial, &path)?;
    Ok(AdvertGuard { path })
}

/// The live server's record in `storage`, if any: `None` when there is
/// no file, it does not parse, or its process is gone.
pub fn read(storage: &Path) -> Option<Advertised> {
    read_at(&storage.join(FILE)).filter(|a| alive(a.pid))
}

fn read_at(path: &Path) -> Option<Advertised> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// True while process `pid` exists (signal 0 checks without sending).
fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        // Someone else's process: alive all the same.
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// A wildcard bind address is reached on the loopback of its family.
pub fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// `path` made absolute against the working directory, so that a client
/// started elsewhere finds the same file.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_read_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr: SocketAddr = "0.0.0.0:19893".parse().expect("addr");
        let advert = Advertised::new(addr, true, Some(Path::new("/x/ca.pem")));
        assert_eq!(advert.url, "https://127.0.0.1:19893");
        let guard = write(dir.path(), &advert).expect("write");
        let mode = std::fs::metadata(dir.path().join(FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read(dir.path()), Some(advert));
        drop(guard);
        assert!(!dir.path().join(FILE).exists());
        assert_eq!(read(dir.path()), None);
    }

    #[test]
    fn a_record_of_a_gone_process_is_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut advert = Advertised::new("127.0.0.1:1".parse().expect("addr"), false, None);
        // Beyond any pid_max: no such process.
        advert.pid = 0x7fff_fff0;
        let _guard = write(dir.path(), &advert).expect("write");
        assert_eq!(read(dir.path()), None);
    }
}
