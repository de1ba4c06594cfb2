//! Tests of what the vfork-style launch does in the child, with real
//! processes: the execvp search, the `/bin/sh` fallback, clean signals.

use std::os::unix::fs::PermissionsExt;

use tokio::io::AsyncReadExt;

use super::*;

fn req(cmd: &[&str]) -> SpawnRequest {
    SpawnRequest {
        command: cmd.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Starts `request`, retrying while a script this test just wrote is
/// "text file busy": another test's child, between its clone and its exec,
/// can still hold the write descriptor (a known hazard of tests that write
/// executables while others spawn; the server never writes its scripts).
async fn spawn_written(request: SpawnRequest) -> Result<Spawned, SpawnError> {
    let mut tries = 0;
    loop {
        match spawn(request.clone()).await {
            Err(SpawnError::Io { source, .. })
                if source.raw_os_error() == Some(libc::ETXTBSY) && tries < 500 =>
            {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            other => return other,
        }
    }
}

/// Runs `request` and returns its whole stdout.
async fn stdout_of(request: SpawnRequest) -> String {
    let mut spawned = spawn_written(request).await.expect("spawn");
    let mut out = String::new();
    spawned
        .stdout
        .read_to_string(&mut out)
        .await
        .expect("read stdout");
    wait_exit(spawned.pid).await.expect("reap");
    out
}

fn script(dir: &std::path::Path, name: &str, body: &str, mode: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[tokio::test]
async fn a_program_is_found_through_the_childs_own_path() {
    let dir = tempfile::tempdir().expect("dir");
    script(
        dir.path(),
        "scriptd-found",
        "#!/bin/sh\necho found\n",
        0o755,
    );
    let mut request = req(&["scriptd-found"]);
    let path = format!("/nonexistent:{}", dir.path().display());
    request.env = vec![("PATH".into(), path)];
    assert_eq!(stdout_of(request).await, "found\n");
}

#[tokio::test]
async fn a_script_without_shebang_runs_under_sh_like_execvp() {
    let dir = tempfile::tempdir().expect("dir");
    let path = script(dir.path(), "plain", "echo \"plain $1\"\n", 0o755);
    let request = req(&[path.to_str().expect("utf-8"), "arg"]);
    assert_eq!(stdout_of(request).await, "plain arg\n");
}

#[tokio::test]
async fn a_file_that_is_not_executable_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = script(dir.path(), "data", "#!/bin/sh\necho no\n", 0o644);
    let err = spawn_written(req(&[path.to_str().expect("utf-8")]))
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, SpawnError::PermissionDenied { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_bare_name_found_in_path_but_not_executable_is_refused_not_missing() {
    let dir = tempfile::tempdir().expect("dir");
    script(dir.path(), "scriptd-data", "#!/bin/sh\necho no\n", 0o644);
    let mut request = req(&["scriptd-data"]);
    let path = format!("/nonexistent:{}", dir.path().display());
    request.env = vec![("PATH".into(), path)];
    let err = spawn_written(request).await.expect_err("must fail");
    assert!(
        matches!(&err, SpawnError::PermissionDenied { path } if path == "scriptd-data"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_script_starts_with_no_signal_ignored_or_blocked() {
    // The server ignores SIGPIPE (Rust's runtime does) and blocks every
    // signal on the launching thread around the clone. grep reads its own
    // status: a shell would block all signals itself around its forks.
    let out = stdout_of(req(&["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"])).await;
    assert_eq!(
        out,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
}

#[tokio::test]
async fn environment_overrides_replace_inherited_values() {
    let mut request = req(&["/bin/sh", "-c", "echo \"$HOME\"; env | grep -c '^HOME='"]);
    request.env = vec![("HOME".into(), "/scriptd-home".into())];
    assert_eq!(stdout_of(request).await, "/scriptd-home\n1\n");
}
