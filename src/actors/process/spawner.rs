//! The one thread that forks script processes. `Command::spawn` blocks its
//! caller until the child has exec'd (std waits on a close-on-exec pipe),
//! and the fork copies the page tables of the whole server. Done on the
//! actor thread, that stalled every actor once per spawn (profiled: the two
//! slots of a `-s=2` script never overlapped). This thread lives as long as
//! the process on purpose: PR_SET_PDEATHSIG fires when the *thread* that
//! forked a child exits, so a pool thread (retired when idle) would take
//! the scripts down with it.

use std::io;
use std::process::{Child, Command};
use std::sync::{mpsc, OnceLock};

use tokio::sync::oneshot;

type Job = (Command, oneshot::Sender<io::Result<Child>>);

static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();

fn start() -> Option<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    let thread = std::thread::Builder::new()
        .name("scriptd-spawner".into())
        .spawn(move || {
            for (mut cmd, reply) in rx {
                if let Err(Ok(mut child)) = reply.send(cmd.spawn()) {
                    // Nobody waits for this child any more: do not leave it behind.
                    let _ = child.kill();
                    let _ = child.wait();
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

/// Spawns `cmd` on the spawner thread; the caller's thread keeps running.
pub async fn spawn(mut cmd: Command) -> io::Result<Child> {
    let Some(tx) = SPAWNER.get_or_init(start) else {
        return cmd.spawn();
    };
    let (reply, answer) = oneshot::channel();
    if let Err(mpsc::SendError((mut cmd, _))) = tx.send((cmd, reply)) {
        return cmd.spawn();
    }
    answer
        .await
        .unwrap_or_else(|_| Err(io::Error::other("the spawner thread stopped")))
}
