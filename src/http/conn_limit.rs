//! Open connections, counted in total and per client address as they are
//! accepted (`HttpServer::on_connect`). A connection over a limit is marked
//! refused: its requests get a JSON 503 at once and it is closed, so one
//! client cannot take every descriptor. The count lives in the
//! connection's data, which actix drops when the connection closes.

use std::any::Any;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::dev::Extensions;

/// The counters shared by every worker.
#[derive(Debug)]
pub struct ConnLimits {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Counts>,
}

/// Refusals are logged at most once a second, with how many there were:
/// a line per refused connection would itself be a way to flood the server.
#[derive(Debug, Default)]
struct RefusalLog {
    since: Option<std::time::Instant>,
    count: u64,
}

#[derive(Debug, Default)]
struct Counts {
    refusals: RefusalLog,
    total: usize,
    /// The most open at once since the last look (see `trim_after_bursts`).
    peak: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Held in a connection's data while it is open; gives its place back on drop.
#[derive(Debug)]
pub struct ConnSlot {
    limits: Arc<ConnLimits>,
    address: Option<IpAddr>,
}

/// Marks a connection over a limit; every request on it is refused.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

impl ConnLimits {
    /// Limits of `max_total` connections, `max_per_address` from one address.
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(ConnLimits {
            max_total,
            max_per_address,
            open: Mutex::default(),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A poisoned lock only means a panic elsewhere; the counts stay usable.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts().total
    }

    /// Counts a new connection from `address`, or says why it is refused.
    pub fn admit(self: &Arc<Self>, address: Option<IpAddr>) -> Result<ConnSlot, Refused> {
        let mut counts = self.counts();
        if counts.total >= self.max_total {
            return Err(Refused("too many open connections"));
        }
        if let Some(ip) = address {
            let from = counts.by_address.entry(ip).or_insert(0);
            if *from >= self.max_per_address {
                return Err(Refused("too many open connections from this address"));
            }
            *from += 1;
        }
        counts.total += 1;
        counts.peak = counts.peak.max(counts.total);
        Ok(ConnSlot {
            limits: self.clone(),
            address,
        })
    }

    fn note_refusal(&self, address: Option<IpAddr>, refused: Refused) {
        let mut counts = self.counts();
        let log = &mut counts.refusals;
        log.count += 1;
        let now = std::time::Instant::now();
        if log
            .since
            .is_none_or(|at| now.duration_since(at).as_secs() >= 1)
        {
            tracing::warn!(
                peer = ?address,
                reason = refused.0,
                refused = log.count,
                "refusing connections"
            );
            log.since = Some(now);
            log.count = 0;
        }
    }

    /// The `on_connect` half: counts the connection or marks it refused.
    pub fn on_connect(self: &Arc<Self>, conn: &dyn Any, ext: &mut Extensions) {
        type TlsStream = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
        let tcp = conn
            .downcast_ref::<actix_web::rt::net::TcpStream>()
            .or_else(|| conn.downcast_ref::<TlsStream>().map(|tls| tls.get_ref().0));
        let address = tcp.and_then(|tcp| tcp.peer_addr().ok()).map(|a| a.ip());
        match self.admit(address) {
            Ok(slot) => {
                ext.insert(slot);
            }
            Err(refused) => {
                self.note_refusal(address, refused);
                ext.insert(refused);
            }
        }
    }
}

/// A burst of connections this large leaves memory worth giving back.
const BURST: usize = 256;

/// Gives memory back to the system after a burst of connections has
/// passed: each connection's buffers are freed when it closes, but glibc
/// keeps the freed pages in its arenas, so after an attack of thousands
/// of connections the server would stay at its peak size. Looks every few
/// seconds; trims only once a burst has mostly gone.
pub async fn trim_after_bursts(limits: Arc<ConnLimits>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3));
    loop {
        every.tick().await;
        let burst_over = {
            let mut counts = limits.counts();
            let over = counts.peak >= BURST && counts.total <= counts.peak / 8;
            if over || counts.peak < BURST {
                counts.peak = counts.total;
            }
            over
        };
        if burst_over {
            trim();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only returns free heap pages; no preconditions.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(
        released,
        "returned free memory after a burst of connections"
    );
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut counts = self.limits.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(ip) = self.address {
            if let Some(from) = counts.by_address.get_mut(&ip) {
                *from -= 1;
                if *from == 0 {
                    counts.by_address.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_per_address_and_in_total_and_free_on_drop() {
        let limits = ConnLimits::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = limits.admit(Some(a)).unwrap();
        let _second = limits.admit(Some(a)).unwrap();
        assert!(limits.admit(Some(a)).is_err(), "third from one address");
        let _third = limits.admit(Some(b)).unwrap();
        assert!(limits.admit(Some(b)).is_err(), "fourth in total");
        drop(first);
        assert_eq!(limits.open(), 2);
        assert!(
            limits.admit(Some(a)).is_ok(),
            "a closed connection frees its place"
        );
    }
}
