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

/// SIGKILLs what is left of the process group of a run whose server died:
/// the group leader (the script) got the parent-death signal, but its own
/// children did not. The kernel never hands out a pid that is still some
/// group's id, so a group without a live leader is still ours; a live
/// process with that pid means the number was reused, and it is left alone.
pub fn end_orphaned_group(pgid: u32) -> nix::Result<bool> {
    let leader_alive = std::fs::read_to_string(format!("/proc/{pgid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false);
    if leader_alive {
        return Ok(false);
    }
    signal_group(pgid, Signal::SIGKILL).map(|()| true)
}
