//! Tracking every process of a run. With cgroup v2, each run gets a cgroup
//! of its own under a cgroup that scriptd owns (its base): a process that
//! leaves the process group (`setsid`, a daemon) is still in it, so it can
//! be signalled, killed, and counted (CPU, memory). Without a base scriptd
//! may use, runs are tracked by process group, as before.
//!
//! The base is the server's own cgroup when the system delegates it
//! (systemd `Delegate=yes`), or a cgroup named in the configuration
//! (`cgroup = "/scriptd"`, relative to the unified hierarchy, which root
//! may create), or, with `auto` and nothing delegated, one that a server
//! running as root makes for itself (`own`). It belongs to one server: at
//! start, every run cgroup left in it is a run of a previous life of this
//! server, and is ended.
//!
//! Layout: `mountinfo` finds the hierarchy, `own` the self-made base,
//! `run` is one run's cgroup.

mod mountinfo;
mod own;
mod run;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use self::own::Owner;
pub use self::run::{CgroupUsage, RunCgroup};

/// Prefix of the run cgroups in the base.
const RUN_PREFIX: &str = "run-";
/// Where the server moves itself when its own cgroup is the base (a
/// cgroup with processes in it cannot hand controllers to its children).
const SERVER_LEAF: &str = "server";
/// Where `-k` runs' leftovers go, so their run cgroup can be removed.
const KEPT: &str = "kept";

/// Which controllers the run cgroups get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Controllers {
    pub memory: bool,
    pub cpu: bool,
    pub pids: bool,
}

/// The cgroup scriptd owns, under which each run gets its own.
#[derive(Debug, Clone)]
pub struct CgroupBase {
    pub dir: PathBuf,
    pub controllers: Controllers,
    /// The server made it for itself (`auto`, as root, nothing delegated),
    /// so it removes it at exit ([`Tracking::release`]).
    pub made: bool,
}

/// How the runs' processes are tracked.
#[derive(Debug, Clone)]
pub enum Tracking {
    /// One cgroup per run under this base.
    Cgroup(CgroupBase),
    /// By process group, because of `why`.
    ProcessGroup { why: String },
}

impl Tracking {
    /// Finds out how runs can be tracked under `setting` (the `cgroup`
    /// configuration key: `auto`, `off`, or a cgroup path such as
    /// `/scriptd`), preparing the base when there is one; `owner` names the
    /// cgroup `auto` makes when it must make its own.
    pub fn detect(setting: &str, owner: Owner<'_>) -> Tracking {
        match detect_base(setting, owner) {
            Ok(base) => Tracking::Cgroup(base),
            Err(why) => Tracking::ProcessGroup { why },
        }
    }

    /// The one short start-up line (the README explains the modes):
    /// `processes: cgroup v2 per run under DIR` or `processes: process
    /// groups (no cgroup: WHY)`.
    pub fn describe(&self) -> String {
        match self {
            Tracking::Cgroup(base) => {
                let c = base.controllers;
                let missing = [("memory", c.memory), ("cpu", c.cpu), ("pids", c.pids)]
                    .iter()
                    .filter(|(_, on)| !*on)
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>();
                let mut notes = Vec::new();
                match missing.len() {
                    0 => {}
                    3 => notes.push("no controllers".to_owned()),
                    1 => notes.push(format!("no {} controller", missing[0])),
                    _ => notes.push(format!("no {} controllers", missing.join(", "))),
                }
                if base.made {
                    notes.push("made by scriptd".to_owned());
                }
                let notes = match notes.is_empty() {
                    true => String::new(),
                    false => format!(" ({})", notes.join("; ")),
                };
                format!(
                    "processes: cgroup v2 per run under {}{notes}",
                    base.dir.display()
                )
            }
            Tracking::ProcessGroup { why } => {
                format!("processes: process groups (no cgroup: {why})")
            }
        }
    }

    /// The base, in cgroup mode.
    pub fn base(&self) -> Option<&CgroupBase> {
        match self {
            Tracking::Cgroup(base) => Some(base),
            Tracking::ProcessGroup { .. } => None,
        }
    }

    /// At the server's exit: a base it made for itself goes, with the run
    /// cgroups still in it (blocking, bounded). Others stay, as found.
    pub fn release(&self) {
        if let Some(base) = self.base().filter(|base| base.made) {
            own::release(&base.dir);
        }
    }
}

fn detect_base(setting: &str, owner: Owner<'_>) -> Result<CgroupBase, String> {
    if setting == "off" {
        return Err("cgroup = \"off\"".into());
    }
    // A cgroup of its own: not the root of the hierarchy, nothing above it.
    let path_like = setting.starts_with('/')
        && !setting.trim_matches('/').is_empty()
        && !setting.split('/').any(|part| part == "..");
    if setting != "auto" && !path_like {
        return Err(format!(
            "cgroup = {setting:?} is neither \"auto\", \"off\" nor a /path"
        ));
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let unified = mountinfo::find_unified(&mountinfo).ok_or("no cgroup v2 mounted")?;
    let mut made = false;
    let dir = if setting == "auto" {
        match delegated(&unified) {
            Ok(dir) => dir,
            Err(why) => {
                made = true;
                own::make(&unified, owner).map_err(|cannot| format!("{why}, and {cannot}"))?
            }
        }
    } else {
        let dir = unified.mount.join(setting.trim_start_matches('/'));
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if !writable(&dir) {
            return Err(format!("{} not writable", dir.display()));
        }
        dir
    };
    let controllers = enable_controllers(&dir);
    Ok(CgroupBase {
        dir,
        controllers,
        made,
    })
}

/// The server's own cgroup when the system delegated it; the server moves
/// into a leaf of it.
fn delegated(unified: &mountinfo::Unified) -> Result<PathBuf, String> {
    let own = fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| mountinfo::own_cgroup(&text))
        .ok_or("in no cgroup v2")?;
    if own == "/" || own.is_empty() {
        // Short: the README says what to do (Delegate=yes, cgroup = "/path").
        return Err("none delegated".to_owned());
    }
    let mut dir = unified
        .dir_of(&own)
        .ok_or_else(|| format!("own cgroup {own} not visible"))?;
    // Already in the leaf an earlier start (or server) made: its
    // parent is the base.
    if dir.file_name().is_some_and(|name| name == SERVER_LEAF) {
        if let Some(parent) = dir.parent().filter(|p| writable(p)) {
            dir = parent.to_owned();
        }
    }
    if !writable(&dir) {
        return Err(format!("own cgroup {own} not delegated (not writable)"));
    }
    leave_for_leaf(&dir)?;
    Ok(dir)
}

fn writable(dir: &Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    ["", "cgroup.procs", "cgroup.subtree_control"]
        .iter()
        .all(|file| access(&dir.join(file), AccessFlags::W_OK).is_ok())
}

/// Moves this process into a leaf under its own cgroup, so the own cgroup
/// can enable controllers for the run cgroups beside it.
fn leave_for_leaf(dir: &Path) -> Result<(), String> {
    let leaf = dir.join(SERVER_LEAF);
    match fs::create_dir(&leaf) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", leaf.display())),
    }
    fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())
        .map_err(|e| format!("cannot move the server into {}: {e}", leaf.display()))
}

/// Turns on what the base may hand down of memory, cpu and pids.
fn enable_controllers(dir: &Path) -> Controllers {
    let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    for name in ["memory", "cpu", "pids"] {
        if available.split_whitespace().any(|c| c == name) {
            if let Err(err) = fs::write(dir.join("cgroup.subtree_control"), format!("+{name}")) {
                tracing::warn!(controller = name, error = %err, "cannot enable a cgroup controller");
            }
        }
    }
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let has = |name: &str| enabled.split_whitespace().any(|c| c == name);
    Controllers {
        memory: has("memory"),
        cpu: has("cpu"),
        pids: has("pids"),
    }
}

impl CgroupBase {
    /// The run cgroup named after `run`.
    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.dir.join(format!("{RUN_PREFIX}{run}"))
    }

    /// Where `-k` leftovers go.
    pub fn kept_dir(&self) -> PathBuf {
        self.dir.join(KEPT)
    }

    /// Ends whatever run cgroups a previous life of this server left
    /// (it crashed, or was killed): SIGKILL to all their processes, then
    /// the cgroups go. Blocking; for start-up. Returns how many it ended.
    pub fn end_orphans(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut ended = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with(RUN_PREFIX) {
                continue;
            }
            let cgroup = RunCgroup::existing(entry.path());
            if kill_and_wait(&cgroup) {
                ended += 1;
            }
            if let Err(err) = cgroup.remove() {
                tracing::warn!(cgroup = %entry.path().display(), error = %err, "cannot remove a left-over run cgroup");
            }
        }
        ended
    }
}

/// SIGKILLs what is in `cgroup` and waits (5 s at most) until it is
/// empty. Blocking. Returns whether anything was there.
fn kill_and_wait(cgroup: &RunCgroup) -> bool {
    if !cgroup.populated() {
        return false;
    }
    cgroup.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    while cgroup.populated() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_and_nonsense_settings_mean_process_groups_with_the_reason() {
        for (setting, why) in [
            ("off", "\"off\""),
            ("scriptd", "neither"),
            ("/a/../b", "neither"),
            ("/", "neither"),
            ("//", "neither"),
        ] {
            let owner = Owner {
                storage: Path::new("/nonexistent"),
                node: None,
            };
            match Tracking::detect(setting, owner) {
                Tracking::ProcessGroup { why: reason } => {
                    assert!(reason.contains(why), "{setting}: {reason}")
                }
                Tracking::Cgroup(base) => panic!("{setting} gave a cgroup: {base:?}"),
            }
        }
    }
}
