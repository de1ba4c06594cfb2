//! Where the cgroup v2 (unified) hierarchy is, read from
//! `/proc/self/mountinfo` (it may be `/sys/fs/cgroup`, or
//! `/sys/fs/cgroup/unified` beside v1 hierarchies, or anywhere else), and
//! which cgroup of it this process is in, from `/proc/self/cgroup`.

use std::path::PathBuf;

/// The unified hierarchy as mounted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unified {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// The cgroup at that mount point (`/` unless a cgroup namespace or a
    /// bind mount shows only a subtree).
    pub root: String,
}

impl Unified {
    /// The folder of `cgroup` (a path as `/proc/self/cgroup` gives it), if
    /// it is visible through this mount.
    pub fn dir_of(&self, cgroup: &str) -> Option<PathBuf> {
        let root = self.root.trim_end_matches('/');
        let rest = cgroup.strip_prefix(root)?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return None;
        }
        Some(self.mount.join(rest.trim_start_matches('/')))
    }
}

/// The first cgroup2 mount in a mountinfo text.
pub fn find_unified(mountinfo: &str) -> Option<Unified> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mut fields = before.split_whitespace();
        let root = unescape(fields.nth(3)?);
        let mount = unescape(fields.next()?);
        Some(Unified {
            mount: PathBuf::from(mount),
            root,
        })
    })
}

/// This process's cgroup v2 path (the `0::` line of `/proc/self/cgroup`).
pub fn own_cgroup(proc_cgroup: &str) -> Option<String> {
    proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(|path| path.trim().to_owned())
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const PURE: &str = "\
24 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn the_unified_hierarchy_is_found_wherever_it_is_mounted() {
        let hybrid = find_unified(HYBRID).expect("hybrid");
        assert_eq!(hybrid.mount, PathBuf::from("/sys/fs/cgroup/unified"));
        let pure = find_unified(PURE).expect("pure v2, with optional fields");
        assert_eq!(pure.mount, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(find_unified(&HYBRID.replace("cgroup2", "cgroup")), None);
        let spaced = find_unified("1 2 0:3 / /mnt/my\\040cg rw - cgroup2 none rw").expect("x");
        assert_eq!(spaced.mount, PathBuf::from("/mnt/my cg"));
    }

    #[test]
    fn own_cgroup_and_its_folder() {
        let own = own_cgroup("4:memory:/x\n0::/system.slice/scriptd.service\n");
        assert_eq!(own.as_deref(), Some("/system.slice/scriptd.service"));
        let pure = find_unified(PURE).expect("pure");
        assert_eq!(
            pure.dir_of("/system.slice/scriptd.service"),
            Some(PathBuf::from("/sys/fs/cgroup/system.slice/scriptd.service"))
        );
        let namespaced = Unified {
            mount: "/sys/fs/cgroup".into(),
            root: "/a".into(),
        };
        assert_eq!(
            namespaced.dir_of("/a/b"),
            Some(PathBuf::from("/sys/fs/cgroup/b"))
        );
        assert_eq!(namespaced.dir_of("/ab"), None);
    }
}
