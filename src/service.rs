//! systemd integration (`Type=notify`): READY=1 once the listener is bound,
//! STOPPING=1 when a graceful shutdown starts, WATCHDOG=1 pings at half the
//! `WatchdogSec` period. The protocol is one datagram per message to the
//! unix socket named by `NOTIFY_SOCKET` (a path, or `@name` for the
//! abstract namespace).
//!
//! Hand-written instead of the sd-notify crate because that crate reads
//! `NOTIFY_SOCKET` from the environment at every call: scriptd takes the
//! variables out of its environment at start, so the scripts it runs (which
//! inherit the environment) cannot speak to systemd in its name.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where to send notifications, and the watchdog period; both empty when
/// not started by systemd.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<String>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Takes `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` out of the
    /// environment. Call at the very start of `main`, before any thread.
    pub fn from_env() -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty());
        let usec = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok());
        // The watchdog is for the process systemd names, when it names one.
        let ours = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(name);
        }
        Notifier {
            socket,
            watchdog: usec
                .filter(|usec| *usec > 0 && ours)
                .map(Duration::from_micros),
        }
    }

    /// The server is listening.
    pub fn ready(&self, status: &str) {
        self.send(&format!(
            "READY=1\nSTATUS={status}\nMAINPID={}",
            std::process::id()
        ));
    }

    /// A graceful shutdown has started.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: interrupting running scripts");
    }

    /// How often to ping the watchdog (half its period), when systemd asks.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|period| period / 2)
    }

    /// Tells systemd the server is alive.
    pub fn ping(&self) {
        self.send("WATCHDOG=1");
    }

    fn send(&self, message: &str) {
        let Some(socket) = &self.socket else {
            return;
        };
        if let Err(err) = send_to(socket, message.as_bytes()) {
            tracing::warn!(socket = %socket, error = %err, "cannot notify systemd");
        }
    }
}

fn send_to(socket: &str, message: &[u8]) -> io::Result<usize> {
    let sock = UnixDatagram::unbound()?;
    match socket.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sock.send_to_addr(message, &addr)
        }
        None => sock.send_to(message, socket),
    }
}

/// Pings the watchdog from the server's own event loop until the process
/// ends: if that loop stalls, the pings stop and systemd restarts scriptd.
pub fn start_watchdog(notifier: &Notifier) {
    let Some(every) = notifier.watchdog_interval() else {
        return;
    };
    let notifier = notifier.clone();
    notifier.ping();
    actix::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            notifier.ping();
        }
    });
}
