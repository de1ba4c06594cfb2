//! Low-level process layer: spawning scripts (no shell, own process group,
//! parent-death signal, optional user/group switch), reaping them with
//! `pidfd` + `wait4` (exit status and rusage), signalling their process
//! group or cgroup (every descendant), measuring them, and reading their
//! stdout/stderr as capped lines.

pub mod boot;
pub mod cgroup;
pub mod descendants;
pub mod exit;
mod identity;
mod launch;
pub mod memory;
pub mod output;
pub mod signal;
pub mod spawn;
mod spawner;
pub mod umask;

pub use boot::boot_id;
pub use cgroup::{CgroupUsage, RunCgroup, Tracking};
pub use descendants::Descendants;
pub use exit::{has_exited, wait_exit, ExitInfo, ExitStatusKind};
pub use output::{read_lines, OutputReader, ReadSummary, Stream, CUT_MARKER};
pub use signal::{end_orphaned_group, signal_group};
pub use spawn::{spawn, SpawnError, SpawnRequest, Spawned};

#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod launch_tests;
#[cfg(test)]
mod output_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
