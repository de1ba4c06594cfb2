//! Who may read the storage directory: the server's owner only. The
//! database holds every run's arguments and queued stdin, the logs hold
//! every run's output, so the storage directory is 0700 and what is in it
//! 0600 (0700 for folders). New files get that from the server's umask
//! (077); a storage created by an older version is tightened at start.
//!
//! Status files are the exception: same-host readers are meant to read
//! them. They live in a folder of their own whose mode and group the
//! configuration sets ([`StatusPlacement`]).

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::ids::{RunId, UserId};

/// Mode bits only the owner may have in the storage.
const NOT_OWNER: u32 = 0o077;

/// Makes `storage` and everything in it readable by the owner only. The
/// whole tree is walked at every start: a folder made open by a command
/// run under a loose umask, or by hand, is closed even when the storage
/// folder itself is not open. Returns how many paths changed.
pub fn tighten(storage: &Path) -> io::Result<usize> {
    let meta = fs::symlink_metadata(storage)?;
    let changed = usize::from(restrict(storage, &meta)?);
    Ok(changed + tighten_tree(storage)?)
}

fn tighten_tree(dir: &Path) -> io::Result<usize> {
    let mut changed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let path = entry.path();
        if meta.file_type().is_symlink() {
            continue;
        }
        changed += usize::from(restrict(&path, &meta)?);
        if meta.is_dir() {
            changed += tighten_tree(&path)?;
        }
    }
    Ok(changed)
}

/// Removes group and other bits; true if there were any.
fn restrict(path: &Path, meta: &fs::Metadata) -> io::Result<bool> {
    let mode = meta.mode() & 0o7777;
    if meta.file_type().is_symlink() || mode & NOT_OWNER == 0 {
        return Ok(false);
    }
    fs::set_permissions(path, Permissions::from_mode(mode & !NOT_OWNER))?;
    Ok(true)
}

/// Where status files go and who may read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPlacement {
    /// Root of the status layout: the storage itself (the original layout)
    /// or the configured `status_dir`.
    pub root: PathBuf,
    /// Mode of each status file; folders get the matching `x` bits.
    pub mode: u32,
    /// Group given to the files and their folders.
    pub group: Option<u32>,
}

impl StatusPlacement {
    /// The placement `config` asks for; its root folder is created (with
    /// the status mode and group) when it is not the storage.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, String> {
        let group = match &config.status_group {
            None => None,
            Some(name) => Some(group_id(name)?),
        };
        let placement = StatusPlacement {
            root: config
                .status_dir
                .clone()
                .unwrap_or_else(|| config.storage.clone()),
            mode: config.status_mode & 0o777,
            group,
        };
        if config.status_dir.is_some() {
            let root = &placement.root;
            fs::create_dir_all(root)
                .and_then(|()| placement.apply(root, placement.dir_mode()))
                .map_err(|e| format!("cannot prepare status_dir {}: {e}", root.display()))?;
        }
        Ok(placement)
    }

    /// The original layout, owner only.
    pub fn in_storage(storage: &Path) -> Self {
        StatusPlacement {
            root: storage.to_owned(),
            mode: 0o600,
            group: None,
        }
    }

    /// `<root>/<user>/scripts/status/<id>.json`: the original layout under
    /// whichever root, so a reader only needs to be told the root.
    pub fn path(&self, user: UserId, run: RunId) -> PathBuf {
        self.root
            .join(user.to_string())
            .join("scripts/status")
            .join(format!("{run}.json"))
    }

    /// Mode of the status folders: the file mode plus `x` where it has `r`.
    pub fn dir_mode(&self) -> u32 {
        let mode = self.mode & 0o777;
        mode | ((mode & 0o444) >> 2)
    }

    /// Creates the folder of `path` (and the folders above it, up to the
    /// root) with the status mode and group.
    pub fn create_dir(&self, path: &Path) -> io::Result<()> {
        let Some(dir) = path.parent() else {
            return Ok(());
        };
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut at = dir;
        while !at.is_dir() && at != self.root {
            missing.push(at.to_owned());
            match at.parent() {
                Some(parent) => at = parent,
                None => break,
            }
        }
        for dir in missing.iter().rev() {
            match fs::DirBuilder::new().mode(self.dir_mode()).create(dir) {
                Err(err) if err.kind() != io::ErrorKind::AlreadyExists => return Err(err),
                _ => {}
            }
            // The umask (077) took bits off: set them as configured.
            self.apply(dir, self.dir_mode())?;
        }
        Ok(())
    }

    /// Whether a file created with the configured mode has it, and its
    /// group, with no further call: no group to set, and no bits that the
    /// server's umask (077) takes off.
    pub fn exact_at_creation(&self) -> bool {
        self.group.is_none() && self.mode & 0o077 == 0
    }

    /// Gives `path` the configured mode (or `mode` for folders) and group.
    pub fn apply(&self, path: &Path, mode: u32) -> io::Result<()> {
        if let Some(group) = self.group {
            std::os::unix::fs::chown(path, None, Some(group))?;
        }
        fs::set_permissions(path, Permissions::from_mode(mode))
    }

    /// Gives an open status file the configured mode and group.
    pub fn apply_file(&self, file: &fs::File) -> io::Result<()> {
        if let Some(group) = self.group {
            std::os::unix::fs::fchown(file, None, Some(group))?;
        }
        file.set_permissions(Permissions::from_mode(self.mode & 0o777))
    }
}

/// A group name or number, as `status_group` gives it.
fn group_id(name: &str) -> Result<u32, String> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        _ => name
            .parse()
            .map_err(|_| format!("status_group: no group named {name:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("stat").mode() & 0o777
    }

    #[test]
    fn an_open_storage_is_closed_to_everyone_but_the_owner() {
        let dir = tempfile::tempdir().expect("dir");
        let storage = dir.path().join("s");
        let logs = storage.join("1/scripts/logs");
        fs::create_dir_all(&logs).expect("mkdir");
        fs::write(storage.join("scriptd.db"), b"x").expect("db");
        fs::write(logs.join("a.log"), b"x").expect("log");
        for (path, m) in [
            (storage.clone(), 0o755),
            (storage.join("scriptd.db"), 0o644),
            (logs.clone(), 0o755),
            (logs.join("a.log"), 0o664),
        ] {
            fs::set_permissions(&path, Permissions::from_mode(m)).expect("chmod");
        }
        let changed = tighten(&storage).expect("tighten");
        assert!(changed >= 4, "{changed} paths changed");
        assert_eq!(mode(&storage), 0o700);
        assert_eq!(mode(&storage.join("scriptd.db")), 0o600);
        assert_eq!(mode(&logs), 0o700);
        assert_eq!(mode(&logs.join("a.log")), 0o600);
        assert_eq!(tighten(&storage).expect("again"), 0, "nothing left to do");
    }

    #[test]
    fn open_paths_deep_in_a_closed_storage_are_closed_too() {
        let dir = tempfile::tempdir().expect("dir");
        let storage = dir.path().join("s");
        let status = storage.join("2/scripts/status");
        fs::create_dir_all(&status).expect("mkdir");
        fs::write(storage.join("2/scripts/exectab.txt"), b"").expect("exectab");
        for (path, m) in [
            (storage.clone(), 0o700),
            (storage.join("2"), 0o755),
            (storage.join("2/scripts"), 0o700),
            (status.clone(), 0o755),
            (storage.join("2/scripts/exectab.txt"), 0o644),
        ] {
            fs::set_permissions(&path, Permissions::from_mode(m)).expect("chmod");
        }
        assert_eq!(tighten(&storage).expect("tighten"), 3);
        assert_eq!(mode(&storage.join("2")), 0o700);
        assert_eq!(mode(&status), 0o700);
        assert_eq!(mode(&storage.join("2/scripts/exectab.txt")), 0o600);
    }

    #[test]
    fn status_folders_get_x_where_files_get_r() {
        let placement = StatusPlacement {
            root: "/r".into(),
            mode: 0o640,
            group: None,
        };
        assert_eq!(placement.dir_mode(), 0o750);
        assert_eq!(
            StatusPlacement::in_storage(Path::new("/s")).dir_mode(),
            0o700
        );
    }
}
