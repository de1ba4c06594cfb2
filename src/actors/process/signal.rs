//! Owns signalling a spawned script's whole process group (`killpg`).

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Sends `sig` to every process in group `pgid`; a group that no longer exists (ESRCH) is `Ok`.
///
/// `pgid` values 0 and 1 and values above `i32::MAX` are rejected with `EINVAL`,
/// because `killpg(0, ..)` would signal our own group and `1` is init's.
pub fn signal_group(pgid: u32, sig: Signal) -> nix::Result<()> {
    let raw = i32::try_from(pgid).map_err(|_| Errno::EINVAL)?;
    if raw <= 1 {
        return Err(Errno::EINVAL);
    }
    match killpg(Pid::from_raw(raw), sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e),
    }
}
