//! The cgroup a server makes for itself when `cgroup = "auto"` finds none
//! delegated to it (it runs in the root cgroup, as on CI or a host
//! without systemd) but it runs as root and the unified hierarchy is
//! writable: `/scriptd`, or `/scriptd-<node>` for a cluster node, and in
//! it one cgroup per server instance (`s-<hash of the storage path>`).
//!
//! The instance level is what keeps two servers on one host (two
//! storages, or tests running side by side) from ending each other's
//! runs at start, while a restart of the same storage finds, and ends,
//! what its previous life left. The instance cgroup goes at exit; the top
//! one stays, shared, as an operator's `cgroup = "/scriptd"` would.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::mountinfo::Unified;

/// Who the cgroup is for: the storage names the instance, the node (on
/// PostgreSQL) the top cgroup.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The server's storage folder.
    pub storage: &'a Path,
    /// The cluster node's name, on PostgreSQL.
    pub node: Option<&'a str>,
}

/// Creates (or finds) this server's own cgroup and returns its folder,
/// with controllers handed down from the top cgroup where it can. Fails,
/// saying why, when not root or the hierarchy is not writable.
pub(super) fn make(unified: &Unified, owner: Owner<'_>) -> Result<PathBuf, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("not root to make one".into());
    }
    let top = unified.mount.join(top_name(owner.node));
    let dir = top.join(instance_name(owner.storage));
    // One call creates both: a top cgroup another server removes meanwhile
    // cannot make this fail halfway.
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if !super::writable(&top) || !super::writable(&dir) {
        return Err(format!("{} not writable", dir.display()));
    }
    // The top cgroup holds no process, so it may hand controllers down.
    super::enable_controllers(&top);
    sweep(&top, &dir);
    Ok(dir)
}

/// Removes the empty instance cgroups of servers that ended without
/// removing theirs (killed, crashed: tests kill theirs by the dozen). An
/// empty one may also be a live server's between runs: rmdir refuses any
/// with a process or a run cgroup in it, and a server whose empty cgroup
/// went makes it again for its next run (`RunCgroup::create`).
fn sweep(top: &Path, own: &Path) {
    let Ok(entries) = fs::read_dir(top) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let instance = entry.file_name().to_string_lossy().starts_with("s-");
        if instance && path != own && path.is_dir() {
            let _ = fs::remove_dir(&path);
        }
    }
}

/// `scriptd`, or `scriptd-<node>` with the node's name made a safe folder
/// name, so that nodes on one host never share a top cgroup.
fn top_name(node: Option<&str>) -> String {
    match node {
        None => "scriptd".to_owned(),
        Some(node) => {
            let safe: String = node
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("scriptd-{safe}")
        }
    }
}

/// `s-` and 12 hex digits of the storage's canonical path: stable across
/// restarts of one server, different for two storages.
fn instance_name(storage: &Path) -> String {
    let path = fs::canonicalize(storage).unwrap_or_else(|_| storage.to_owned());
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    format!("s-{}", &hex::encode(digest)[..12])
}

/// Removes the instance cgroup at exit: the runs' cgroups left in it are
/// killed (a run's processes never outlive its server's life in them),
/// then everything empty goes. `-k` leftovers keep theirs, and with it the
/// instance. Blocking, bounded; for the end of the process.
pub(super) fn release(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(super::RUN_PREFIX) {
            let cgroup = super::RunCgroup::existing(path.clone());
            super::kill_and_wait(&cgroup);
        }
        if let Err(err) = remove_empty(&path) {
            tracing::debug!(cgroup = %path.display(), error = %err, "cgroup left in place");
        }
    }
    match remove_empty(dir) {
        Ok(()) => tracing::debug!(cgroup = %dir.display(), "removed the server's own cgroup"),
        Err(err) => tracing::info!(
            cgroup = %dir.display(),
            error = %err,
            "the server's own cgroup stays (processes kept with -k are in it)"
        ),
    }
}

fn remove_empty(dir: &Path) -> io::Result<()> {
    match fs::remove_dir(dir) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_get_top_cgroups_of_their_own_with_safe_names() {
        assert_eq!(top_name(None), "scriptd");
        assert_eq!(top_name(Some("node-a.1")), "scriptd-node-a.1");
        assert_eq!(top_name(Some("../x/y")), "scriptd-.._x_y");
        assert_ne!(top_name(Some("a")), top_name(Some("b")));
    }

    #[test]
    fn an_instance_name_is_stable_per_storage_and_differs_between_storages() {
        let a = instance_name(Path::new("/nonexistent/a"));
        assert_eq!(a, instance_name(Path::new("/nonexistent/a")));
        assert_ne!(a, instance_name(Path::new("/nonexistent/b")));
        assert_eq!(a.len(), 14, "{a}");
    }
}
