//! Where a user's hook may send (SSRF): only `http`/`https` URLs, and by
//! default no address of the server's own networks: loopback, link-local
//! (with the cloud metadata address 169.254.169.254), private (RFC 1918,
//! fc00::/7), carrier-grade NAT, multicast and reserved ranges. The
//! operator's `hooks_allow` (CIDRs and host names) opens what it lists.
//! A URL is checked at create time, and its resolved addresses again at
//! each delivery, so a name that later resolves inside (DNS rebinding)
//! is still refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why a hook target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL.
    #[error("not a URL: {0}")]
    Invalid(String),
    /// A scheme other than http and https.
    #[error("only http and https URLs are allowed, not {0}")]
    Scheme(String),
    /// No host to send to.
    #[error("the URL has no host")]
    NoHost,
    /// The address is on an internal network not opened by `hooks_allow`.
    #[error("{host} is {addr}, an internal address (open it with hooks_allow)")]
    Internal {
        /// The URL's host.
        host: String,
        /// The address it is or resolved to.
        addr: IpAddr,
    },
    /// The name resolved to no address at all.
    #[error("{0} resolves to no address")]
    Unresolved(String),
    /// An entry of `hooks_allow` is neither a CIDR nor a host name.
    #[error("hooks_allow: {0:?} is neither a CIDR (10.0.0.0/8) nor a host name")]
    BadAllow(String),
}

/// One entry of `hooks_allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Net { addr: IpAddr, prefix: u8 },
    Host(String),
}

/// The operator's `hooks_allow`: what internal targets hooks may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<Allowed>);

impl AllowList {
    /// Parses the config's list: `"127.0.0.1/32"`, `"fd00::/8"`, a bare
    /// address (one host), or a host name.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, TargetError> {
        entries
            .iter()
            .map(|entry| allowed(entry.as_ref()))
            .collect::<Result<_, _>>()
            .map(AllowList)
    }

    fn allows_addr(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|entry| match entry {
            Allowed::Net { addr, prefix } => in_net(ip, *addr, *prefix),
            Allowed::Host(_) => false,
        })
    }

    fn allows_host(&self, host: &str) -> bool {
        self.0
            .iter()
            .any(|entry| matches!(entry, Allowed::Host(h) if h.eq_ignore_ascii_case(host)))
    }
}

fn allowed(entry: &str) -> Result<Allowed, TargetError> {
    let bad = || TargetError::BadAllow(entry.to_owned());
    let entry = entry.trim();
    if let Some((addr, prefix)) = entry.split_once('/') {
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        return if prefix <= max {
            Ok(Allowed::Net { addr, prefix })
        } else {
            Err(bad())
        };
    }
    if let Ok(addr) = entry.parse::<IpAddr>() {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        return Ok(Allowed::Net { addr, prefix });
    }
    let name_like = !entry.is_empty()
        && entry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if name_like {
        Ok(Allowed::Host(entry.to_ascii_lowercase()))
    } else {
        Err(bad())
    }
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (unmapped(ip), net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is its IPv4 address.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` belongs to a network a hook may not reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match unmapped(ip) {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    const NETS: [([u8; 4], u8); 11] = [
        ([0, 0, 0, 0], 8),      // "this network"
        ([10, 0, 0, 0], 8),     // RFC 1918
        ([100, 64, 0, 0], 10),  // carrier-grade NAT
        ([127, 0, 0, 0], 8),    // loopback
        ([169, 254, 0, 0], 16), // link-local, metadata 169.254.169.254
        ([172, 16, 0, 0], 12),  // RFC 1918
        ([192, 0, 0, 0], 24),   // IETF protocol assignments
        ([192, 168, 0, 0], 16), // RFC 1918
        ([198, 18, 0, 0], 15),  // benchmarking
        ([224, 0, 0, 0], 4),    // multicast
        ([240, 0, 0, 0], 4),    // reserved and broadcast
    ];
    NETS.iter()
        .any(|(net, prefix)| in_net(IpAddr::V4(ip), IpAddr::V4(Ipv4Addr::from(*net)), *prefix))
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    const NETS: [(u16, u8); 3] = [
        (0xfc00, 7),  // unique local
        (0xfe80, 10), // link-local
        (0xff00, 8),  // multicast
    ];
    if ip.is_unspecified() || ip.is_loopback() {
        return true;
    }
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return internal_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    NETS.iter().any(|(first, prefix)| {
        let net = Ipv6Addr::new(*first, 0, 0, 0, 0, 0, 0, 0);
        in_net(IpAddr::V6(ip), IpAddr::V6(net), *prefix)
    })
}

/// Create time: the URL parses, is http(s), has a host, and a literal
/// address in it is not internal (unless allowed). A host name is
/// checked again by [`check_addrs`] once resolved, at each delivery.
pub fn check_url(text: &str, allow: &AllowList) -> Result<Url, TargetError> {
    let url = Url::parse(text).map_err(|e| TargetError::Invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Scheme(url.scheme().to_owned()));
    }
    let literal = match url.host() {
        None => return Err(TargetError::NoHost),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    if let Some(addr) = literal {
        check_addrs(url.host_str().unwrap_or_default(), &[addr], allow)?;
    }
    Ok(url)
}

/// Delivery time: every address `host` resolved to must be reachable; a
/// host named in `hooks_allow` is trusted whatever it resolves to.
pub fn check_addrs(host: &str, addrs: &[IpAddr], allow: &AllowList) -> Result<(), TargetError> {
    if allow.allows_host(host) {
        return Ok(());
    }
    if addrs.is_empty() {
        return Err(TargetError::Unresolved(host.to_owned()));
    }
    match addrs
        .iter()
        .find(|addr| is_internal(**addr) && !allow.allows_addr(**addr))
    {
        Some(addr) => Err(TargetError::Internal {
            host: host.to_owned(),
            addr: *addr,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn internal_and_public_addresses() {
        let internal = [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "ff02::1",
        ];
        for addr in internal {
            assert!(is_internal(ip(addr)), "{addr} is internal");
        }
        let public = [
            "93.184.216.34",
            "172.32.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ];
        for addr in public {
            assert!(!is_internal(ip(addr)), "{addr} is public");
        }
    }

    #[test]
    fn urls_at_create_time() {
        let none = AllowList::default();
        let cases: [(&str, Result<(), &str>); 7] = [
            ("https://hooks.example.com/x", Ok(())),
            ("http://93.184.216.34:8080/", Ok(())),
            ("ftp://example.com/", Err("only http and https")),
            ("http://127.0.0.1:9/", Err("internal address")),
            ("http://[::1]/", Err("internal address")),
            (
                "http://169.254.169.254/latest/meta-data",
                Err("internal address"),
            ),
            ("not a url", Err("not a URL")),
        ];
        for (url, want) in cases {
            let got = check_url(url, &none).map(|_| ()).map_err(|e| e.to_string());
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(part)) => assert!(e.contains(part), "{url}: {e}"),
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn hooks_allow_opens_what_it_lists() {
        let allow = AllowList::parse(&[
            "127.0.0.1/32",
            "10.0.0.0/8",
            "hooks.internal.example",
            "fd00::1",
        ])
        .expect("parses");
        assert!(check_url("http://127.0.0.1:9/", &allow).is_ok());
        assert!(
            check_url("http://127.0.0.2:9/", &allow).is_err(),
            "only the /32"
        );
        assert!(check_addrs("x", &[ip("10.9.8.7")], &allow).is_ok());
        assert!(check_addrs("x", &[ip("fd00::1")], &allow).is_ok());
        assert!(check_addrs("x", &[ip("fd00::2")], &allow).is_err());
        assert!(
            check_addrs("Hooks.Internal.Example", &[ip("192.168.1.1")], &allow).is_ok(),
            "a named host is trusted whatever it resolves to"
        );
    }

    #[test]
    fn a_rebinding_name_is_refused_at_delivery() {
        let none = AllowList::default();
        assert!(
            check_url("https://rebind.example/", &none).is_ok(),
            "a name passes at create time"
        );
        let got = check_addrs(
            "rebind.example",
            &[ip("93.184.216.34"), ip("127.0.0.1")],
            &none,
        );
        assert!(
            matches!(got, Err(TargetError::Internal { addr, .. }) if addr == ip("127.0.0.1")),
            "any internal address refuses the delivery: {got:?}"
        );
        assert_eq!(
            check_addrs("gone.example", &[], &none),
            Err(TargetError::Unresolved("gone.example".into()))
        );
    }

    #[test]
    fn bad_allow_entries_are_named() {
        for bad in ["", "10.0.0.0/33", "::/129", "a b", "10.0.0.0/x", "http://x"] {
            assert_eq!(
                AllowList::parse(&[bad]),
                Err(TargetError::BadAllow(bad.to_owned())),
                "{bad:?}"
            );
        }
    }
}
