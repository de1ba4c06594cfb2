//! Private files whatever the umask: the commands run beside a server
//! (`scriptd user add`, `scriptd admin backup`) make owner-only files and
//! folders under a caller's umask of 022, and a start closes an open path
//! anywhere in the storage, also when the storage folder itself is closed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt as _;
use std::path::Path;

use crate::helpers::{spawn_app, spawn_app_with};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .mode()
        & 0o777
}

/// `scriptd ARGS --storage S` as a person with umask 022 runs it.
async fn under_umask_022(storage: &Path, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"));
    command
        .args(args)
        .arg("--storage")
        .arg(storage)
        .envs(crate::backend::database_env(storage))
        .env("RUST_LOG", "warn");
    // SAFETY: umask is async-signal-safe and touches no shared state.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let out = tokio::process::Command::from(command)
        .output()
        .await
        .expect("scriptd runs");
    assert!(
        out.status.success(),
        "scriptd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[actix_web::test]
async fn user_add_under_umask_022_makes_owner_only_folders_and_exectab() {
    // Arrange
    let app = spawn_app().await;
    let storage = app.storage.path();

    // Act
    under_umask_022(storage, &["user", "add", "carol"]).await;

    // Assert
    let carol = storage.join("2");
    for dir in [&carol, &carol.join("scripts"), &carol.join("scripts/logs")] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    assert_eq!(mode(&carol.join("scripts/status")), 0o700, "status folder");
    assert_eq!(mode(&carol.join("scripts/exectab.txt")), 0o600, "exectab");
}

#[actix_web::test]
async fn admin_backup_under_umask_022_writes_an_owner_only_copy() {
    // Arrange
    let app = spawn_app().await;
    let out = tempfile::tempdir().expect("temp");
    let copy = out.path().join("backup.db");

    // Act
    under_umask_022(
        app.storage.path(),
        &["admin", "backup", copy.to_str().expect("utf-8")],
    )
    .await;

    // Assert
    assert_eq!(mode(&copy), 0o600, "the backup holds the whole database");
    assert!(
        std::fs::metadata(&copy).expect("copy").len() > 0,
        "a real copy"
    );
}

#[actix_web::test]
async fn an_open_path_deep_in_a_closed_storage_is_closed_at_start() {
    // Arrange: a closed storage (0700) with open paths below, as a command
    // under umask 022 or a person's chmod leaves them.
    let temp = tempfile::tempdir().expect("temp");
    let storage = temp.path().join("storage");
    let scripts = storage.join("1/scripts");
    std::fs::create_dir_all(scripts.join("status")).expect("mkdir");
    std::fs::write(scripts.join("exectab.txt"), "").expect("exectab");
    for (path, m) in [
        (storage.clone(), 0o700),
        (storage.join("1"), 0o755),
        (scripts.clone(), 0o755),
        (scripts.join("status"), 0o755),
        (scripts.join("exectab.txt"), 0o644),
    ] {
        std::fs::set_permissions(&path, PermissionsExt::from_mode(m)).expect("chmod");
    }

    // Act
    let dir = storage.clone();
    let _app = spawn_app_with(move |c| c.storage = dir).await;

    // Assert
    assert_eq!(mode(&storage), 0o700, "storage folder");
    assert_eq!(mode(&storage.join("1")), 0o700, "user folder");
    assert_eq!(mode(&scripts), 0o700, "scripts folder");
    assert_eq!(mode(&scripts.join("status")), 0o700, "status folder");
    assert_eq!(mode(&scripts.join("exectab.txt")), 0o600, "exectab");
}
