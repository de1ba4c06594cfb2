//! Tests of identity and lifetime of children: unknown user/group errors,
//! running as another user and/or group (as root), the parent-death signal
//! and the EPERM message. The pdeathsig/eperm tests re-run this test binary
//! filtered to a `helper_*` test of this module (found via `module_path!`),
//! so those helpers must stay in this file.

use std::io::Write;

use nix::unistd::{Gid, Group, User};
use tokio::time::timeout;

use super::test_support::{req, run_with, wait_dead, Run, DEADLINE};
use super::*;

const HELPER_ENV: &str = "PROCESS_TEST_HELPER";
const HELPER_USER_ENV: &str = "PROCESS_TEST_HELPER_USER";

/// Prints a loud skip notice straight to fd 2, bypassing libtest's output capture.
fn skip(why: &str) {
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {why}");
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[tokio::test]
async fn unknown_user_and_group() {
    let mut r = req(&["true"]);
    r.user = Some("scriptd-no-such-user".into());
    let err = spawn(r).await.expect_err("must fail");
    assert!(
        matches!(err, SpawnError::UnknownUser(ref u) if u == "scriptd-no-such-user"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "unknown user \"scriptd-no-such-user\"");
    let mut r = req(&["true"]);
    r.group = Some("scriptd-no-such-group".into());
    let err = spawn(r).await.expect_err("must fail");
    assert!(matches!(err, SpawnError::UnknownGroup(_)), "{err:?}");
}

fn id_lines(run: &Run) -> (u32, u32, Vec<u32>, String, String) {
    let out = run.stdout();
    assert_eq!(out.len(), 5, "{out:?} / {:?}", run.lines);
    let uid = out[0].parse().expect("uid");
    let gid = out[1].parse().expect("gid");
    let mut groups: Vec<u32> = out[2]
        .split_whitespace()
        .map(|g| g.parse().expect("gid"))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    (uid, gid, groups, out[3].clone(), out[4].clone())
}

const ID_SCRIPT: &str =
    "id -u; id -g; id -G; grep ^Uid: /proc/self/status; grep ^Gid: /proc/self/status";

fn all_ids(line: &str, prefix: &str, want: u32) {
    let ids: Vec<u32> = line
        .strip_prefix(prefix)
        .expect("prefix")
        .split_whitespace()
        .map(|v| v.parse().expect("id"))
        .collect();
    assert_eq!(
        ids,
        vec![want; 4],
        "{line}: real, effective, saved and fs ids must all be {want}"
    );
}

#[tokio::test]
async fn run_as_nobody() {
    if !is_root() {
        skip("not root (run_as_nobody)");
        return;
    }
    let nobody = User::from_name("nobody")
        .expect("lookup")
        .expect("nobody exists");
    let cname = std::ffi::CString::new("nobody").expect("cstring");
    let mut want_groups: Vec<u32> = nix::unistd::getgrouplist(&cname, nobody.gid)
        .expect("grouplist")
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    want_groups.sort_unstable();
    want_groups.dedup();
    let mut r = req(&["sh", "-c", ID_SCRIPT]);
    r.user = Some("nobody".into());
    r.dir = Some("/".into());
    let run = run_with(r, 4096).await;
    assert_eq!(run.exit.status, ExitStatusKind::Exited(0));
    let (uid, gid, groups, uid_line, gid_line) = id_lines(&run);
    assert_eq!(uid, nobody.uid.as_raw());
    assert_eq!(gid, nobody.gid.as_raw());
    assert_eq!(groups, want_groups);
    all_ids(&uid_line, "Uid:", nobody.uid.as_raw());
    all_ids(&gid_line, "Gid:", nobody.gid.as_raw());
    assert_eq!(run.spawned_user.as_deref(), Some("nobody"));
    let primary = Group::from_gid(nobody.gid).expect("lookup").map(|g| g.name);
    assert_eq!(
        run.spawned_group,
        Some(primary.unwrap_or_else(|| nobody.gid.to_string()))
    );
}

fn other_group() -> Option<Group> {
    // Any group other than root's and nobody's primary group.
    ["daemon", "bin", "sys", "adm"]
        .iter()
        .find_map(|n| Group::from_name(n).ok().flatten())
}

#[tokio::test]
async fn run_with_group_only() {
    if !is_root() {
        skip("not root (run_with_group_only)");
        return;
    }
    let Some(g) = other_group() else {
        skip("no suitable group");
        return;
    };
    let mut r = req(&["sh", "-c", ID_SCRIPT]);
    r.group = Some(g.name.clone());
    r.dir = Some("/".into());
    let run = run_with(r, 4096).await;
    let (uid, gid, groups, uid_line, gid_line) = id_lines(&run);
    assert_eq!(uid, 0, "uid unchanged");
    all_ids(&uid_line, "Uid:", 0);
    assert_eq!(gid, g.gid.as_raw());
    all_ids(&gid_line, "Gid:", g.gid.as_raw());
    assert_eq!(groups, vec![g.gid.as_raw()]);
    assert_eq!(run.spawned_user, None);
    assert_eq!(run.spawned_group.as_deref(), Some(g.name.as_str()));
}

#[tokio::test]
async fn run_with_user_and_group() {
    if !is_root() {
        skip("not root (run_with_user_and_group)");
        return;
    }
    let Some(g) = other_group() else {
        skip("no suitable group");
        return;
    };
    let nobody = User::from_name("nobody")
        .expect("lookup")
        .expect("nobody exists");
    let cname = std::ffi::CString::new("nobody").expect("cstring");
    let mut want: Vec<u32> = nix::unistd::getgrouplist(&cname, nobody.gid)
        .expect("grouplist")
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    want.push(g.gid.as_raw());
    want.sort_unstable();
    want.dedup();
    let mut r = req(&["sh", "-c", ID_SCRIPT]);
    r.user = Some("nobody".into());
    r.group = Some(g.name.clone());
    r.dir = Some("/".into());
    let run = run_with(r, 4096).await;
    let (uid, gid, groups, uid_line, gid_line) = id_lines(&run);
    assert_eq!(uid, nobody.uid.as_raw());
    all_ids(&uid_line, "Uid:", nobody.uid.as_raw());
    assert_eq!(gid, g.gid.as_raw());
    all_ids(&gid_line, "Gid:", g.gid.as_raw());
    assert_eq!(groups, want);
}

// ---- Tests that re-run this test binary as an intermediate process. ----

/// libtest name of a test in this module (module path without the crate name),
/// so the helpers keep working when this folder moves to another crate.
fn helper_test_name(helper: &str) -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::{helper}")
}

/// This test binary at a path that `nobody` can reach and execute.
///
/// The checkout (and so `target/`) may sit in a directory other users cannot
/// enter (root's home, any `mktemp -d`), so the binary is linked, or else
/// copied, into a fresh world-traversable directory under `/tmp`. The
/// returned guard removes it.
fn reachable_copy_of_self() -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let exe = std::env::current_exe().expect("current_exe");
    let dir = tempfile::Builder::new()
        .prefix("scriptd-helper-")
        .tempdir_in("/tmp")
        .expect("temp dir under /tmp");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    let copy = dir.path().join("helper");
    if std::fs::hard_link(&exe, &copy).is_err() {
        std::fs::copy(&exe, &copy).expect("copy test binary");
    }
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
        .expect("chmod test binary");
    (dir, copy)
}

/// Spawns this test binary running only `helper`, with the helper env var set.
///
/// Run as another user, it runs from a copy that user can reach; keep the
/// returned guard alive until the helper has exited.
async fn spawn_helper(
    helper: &str,
    mode: &str,
    user: Option<&str>,
    helper_user: Option<&str>,
) -> (Spawned, Option<tempfile::TempDir>) {
    let (guard, exe) = match user {
        Some(_) => {
            let (dir, exe) = reachable_copy_of_self();
            (Some(dir), exe)
        }
        None => (None, std::env::current_exe().expect("current_exe")),
    };
    let mut r = req(&[
        &exe.display().to_string(),
        &helper_test_name(helper),
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ]);
    r.env.push((HELPER_ENV.into(), mode.into()));
    if let Some(u) = helper_user {
        r.env.push((HELPER_USER_ENV.into(), u.into()));
    }
    r.user = user.map(str::to_string);
    r.dir = Some("/".into());
    (spawn(r).await.expect("spawn helper"), guard)
}

/// Reads the helper's stdout until a line starting with `prefix`.
async fn helper_line(sp: Spawned, prefix: &str) -> (String, ExitInfo, String) {
    let pid = sp.pid;
    let mut found = None;
    let mut all = String::new();
    let _ = read_lines(
        sp.stdout,
        sp.stderr,
        4096,
        |_, l| {
            let l = String::from_utf8_lossy(l).into_owned();
            if found.is_none() {
                // libtest prints "test name ... " without a newline before our output.
                if let Some(i) = l.find(prefix) {
                    found = Some(l[i + prefix.len()..].to_string());
                }
            }
            all.push_str(&l);
            all.push('\n');
        },
        std::future::pending(),
    )
    .await;
    let exit = wait_exit(pid).await.expect("wait helper");
    (found.unwrap_or_default(), exit, all)
}

/// Helper body (inert unless run by `pdeathsig_*`): spawns `sleep 1000`, prints its pid, exits.
#[tokio::test]
async fn helper_pdeathsig_inner() {
    if std::env::var(HELPER_ENV).as_deref() != Ok("pdeathsig") {
        return;
    }
    let mut r = req(&["sleep", "1000"]);
    r.user = std::env::var(HELPER_USER_ENV).ok();
    let sp = spawn(r).await.expect("spawn sleep");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "HELPER-PID {}", sp.pid);
    let _ = out.flush();
    // Die without reaping: the sleeping grandchild must get SIGKILL from PDEATHSIG.
    std::process::exit(0);
}

async fn check_pdeathsig(user: Option<&str>) {
    timeout(DEADLINE, async {
        let (sp, _copy) = spawn_helper("helper_pdeathsig_inner", "pdeathsig", None, user).await;
        let (pid, exit, all) = helper_line(sp, "HELPER-PID ").await;
        assert_eq!(exit.status, ExitStatusKind::Exited(0), "{all}");
        let pid: i32 = pid
            .parse()
            .unwrap_or_else(|_| panic!("no pid from helper: {all}"));
        wait_dead(pid).await;
    })
    .await
    .expect("deadline");
}

#[tokio::test]
async fn pdeathsig_kills_child_when_parent_dies() {
    check_pdeathsig(None).await;
}

#[tokio::test]
async fn pdeathsig_survives_user_switch() {
    if !is_root() {
        skip("not root (pdeathsig_survives_user_switch)");
        return;
    }
    check_pdeathsig(Some("nobody")).await;
}

/// Helper body (inert unless run by `eperm_message`): as non-root, tries to switch to root.
#[tokio::test]
async fn helper_eperm_inner() {
    if std::env::var(HELPER_ENV).as_deref() != Ok("eperm") {
        return;
    }
    let mut r = req(&["true"]);
    r.user = Some("root".into());
    let msg = match spawn(r).await {
        Ok(_) => "spawned".to_string(),
        Err(e) => format!("{e:?} | {e}"),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "HELPER-ERR {msg}");
    let _ = out.flush();
}

#[tokio::test]
async fn eperm_message() {
    if !is_root() {
        // As non-root we can test it directly.
        let mut r = req(&["true"]);
        r.user = Some("root".into());
        let err = spawn(r).await.expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "cannot switch to user root: Operation not permitted"
        );
        return;
    }
    let (sp, _copy) = timeout(
        DEADLINE,
        spawn_helper("helper_eperm_inner", "eperm", Some("nobody"), None),
    )
    .await
    .expect("deadline");
    let (msg, _exit, all) = timeout(DEADLINE, helper_line(sp, "HELPER-ERR "))
        .await
        .expect("deadline");
    assert!(msg.starts_with("SwitchIdentity"), "{all}");
    assert!(
        msg.ends_with("| cannot switch to user root: Operation not permitted"),
        "{all}"
    );
}
