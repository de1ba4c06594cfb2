//! The one thread that starts script processes. A launch blocks its
//! caller until the child has exec'd (CLONE_VFORK); done on an actor
//! thread, that stalled every actor once per spawn (BENCHMARKS.md §
//! Profile-driven fixes, 5). This thread lives as long as the
//! process on purpose: PR_SET_PDEATHSIG fires when the *thread* that
//! created a child exits, so a pool thread (retired when idle) would take
//! the scripts down with it.

use std::io;
use std::sync::{mpsc, OnceLock};

use tokio::sync::oneshot;

use super::launch::{Launch, Launched};

type Job = (Launch, oneshot::Sender<io::Result<Launched>>);

static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();

fn start() -> Option<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    let thread = std::thread::Builder::new()
        .name("scriptd-spawner".into())
        .spawn(move || {
            for (launch, reply) in rx {
                if let Err(Ok(child)) = reply.send(launch.start()) {
                    // Nobody waits for this child any more: do not leave it behind.
                    let pid = nix::unistd::Pid::from_raw(child.pid as i32);
                    let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(pid, None);
                }
            }
        });
    match thread {
        Ok(_) => Some(tx),
        Err(err) => {
            tracing::warn!(error = %err, "no spawner thread; forking on the caller's thread");
            None
        }
    }
}

/// Starts `launch` on the spawner thread; the caller's thread keeps running.
pub async fn spawn(launch: Launch) -> io::Result<Launched> {
    let Some(tx) = SPAWNER.get_or_init(start) else {
        return launch.start();
    };
    let (reply, answer) = oneshot::channel();
    if let Err(mpsc::SendError((launch, _))) = tx.send((launch, reply)) {
        return launch.start();
    }
    answer
        .await
        .unwrap_or_else(|_| Err(io::Error::other("the spawner thread stopped")))
}
