//! A run's processes as a whole: its cgroup, or its process group. Stop
//! signals go to all of them, and when the script itself has exited, what
//! it left behind is ended: SIGTERM, then SIGKILL after the grace.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::cgroup::RunCgroup;
use super::signal::signal_group;

/// How often an ending run is checked for processes still alive.
const POLL: Duration = Duration::from_millis(20);
/// How long SIGKILLed processes may take to be gone before we give up.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Every process of one run.
#[derive(Debug, Clone)]
pub enum Descendants {
    /// All of them, whatever they did: the run's cgroup.
    Cgroup(Arc<RunCgroup>),
    /// Those still in the script's process group.
    Group(u32),
}

impl Descendants {
    /// Sends `signal` to all of them.
    pub fn signal(&self, signal: Signal) {
        match self {
            Descendants::Cgroup(cgroup) => cgroup.signal(signal),
            Descendants::Group(pgid) => {
                if let Err(err) = signal_group(*pgid, signal) {
                    tracing::warn!(pgid, error = %err, "cannot signal a process group");
                }
            }
        }
    }

    /// Whether any is alive. Call after the script itself was reaped (a
    /// zombie leader still counts as a member of its group).
    pub fn alive(&self) -> bool {
        match self {
            Descendants::Cgroup(cgroup) => cgroup.populated(),
            Descendants::Group(pgid) => {
                let Ok(raw) = i32::try_from(*pgid) else {
                    return false;
                };
                raw > 1 && killpg(Pid::from_raw(raw), None).is_ok()
            }
        }
    }

    /// Ends what is left: SIGTERM, SIGKILL after `grace`, then waits (a
    /// few seconds at most) until none is left. True if any was left.
    pub async fn end(&self, grace: Duration) -> bool {
        if !self.alive() {
            return false;
        }
        self.signal(Signal::SIGTERM);
        if !self.gone_within(grace).await {
            self.signal(Signal::SIGKILL);
            if !self.gone_within(KILL_WAIT).await {
                tracing::warn!(descendants = ?self, "processes of a run survived SIGKILL");
            }
        }
        true
    }

    async fn gone_within(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if !self.alive() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
