//! A cgroup v2 that a test server may use as its base, created the way an
//! operator would (as root, in the unified hierarchy found through
//! `/proc/self/mountinfo`), and removed afterwards with whatever is left
//! in it. Tests that need one fail, loudly, where it cannot be had.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A delegated cgroup for one test.
pub struct TestCgroup {
    /// The `cgroup` setting that names it (`/scriptd-test-…`).
    pub setting: String,
    /// Its folder.
    pub dir: PathBuf,
}

/// The mount point of the unified hierarchy.
pub fn unified_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        (after.split_whitespace().next()? == "cgroup2")
            .then(|| before.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

impl TestCgroup {
    /// Creates `/scriptd-test-<random>` in the unified hierarchy, or fails
    /// the test saying how to get one.
    pub fn create() -> TestCgroup {
        assert!(
            crate::helpers::is_root(),
            "THIS TEST NEEDS ROOT: it creates a cgroup v2 for the server to own \
             (CI runs as root). Run `sudo -E cargo test --test api cgroup`."
        );
        let mount = unified_mount().expect(
            "THIS TEST NEEDS cgroup v2: no cgroup2 (unified) hierarchy is mounted \
             (mount -t cgroup2 none /sys/fs/cgroup/unified)",
        );
        let setting = format!("/scriptd-test-{}", uuid::Uuid::now_v7().simple());
        let dir = mount.join(setting.trim_start_matches('/'));
        std::fs::create_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "THIS TEST NEEDS a writable cgroup v2: cannot create {}: {e}",
                dir.display()
            )
        });
        TestCgroup { setting, dir }
    }

    /// The run cgroups (and others) in it now.
    pub fn children(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Kills what is in `dir` and below, then removes them, deepest first.
fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                remove_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::write(dir.join("cgroup.kill"), "1");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::remove_dir(dir).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        remove_tree(&self.dir);
    }
}

/// The cgroup v2 path `pid` is in, if it is alive.
pub fn cgroup_of(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::to_owned)
}
