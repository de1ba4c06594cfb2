//! Who may read what a server stores: the storage is its owner's alone
//! (made so at start when an older version left it open), status files go
//! where the configuration says with the mode and group it says, scripts
//! keep the umask the server was started with, and a run's stdin leaves the
//! database as soon as its process exists.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use serde_json::json;

use crate::helpers::{eventually, spawn_app, spawn_app_with};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .mode()
        & 0o777
}

#[actix_web::test]
async fn the_storage_database_and_logs_are_for_the_owner_only() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("say /bin/echo hello\n");

    // Act
    let id = app.run(json!({"name": "say"})).await;
    app.wait_done(&id).await;

    // Assert
    let storage = app.storage.path();
    assert_eq!(mode(storage), 0o700, "storage folder");
    for file in ["scriptd.db", "scriptd.db-wal", "admin.key", "scriptd.lock"] {
        assert_eq!(mode(&storage.join(file)), 0o600, "{file}");
    }
    let logs = app.scripts_dir().join("logs");
    assert_eq!(mode(&logs), 0o700, "logs folder");
    assert_eq!(mode(&logs.join(format!("{id}.log"))), 0o600, "run log");
}

#[actix_web::test]
async fn an_existing_open_storage_is_closed_at_start() {
    // Arrange: a storage as an older version left it (0755, 0644).
    let temp = tempfile::tempdir().expect("temp");
    let storage = temp.path().join("old");
    let logs = storage.join("1/scripts/logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(logs.join("old.log"), "secret output\n").expect("log");
    for (path, m) in [(&storage, 0o755), (&logs, 0o755)] {
        std::fs::set_permissions(path, PermissionsExt::from_mode(m)).expect("chmod");
    }
    std::fs::set_permissions(logs.join("old.log"), PermissionsExt::from_mode(0o644))
        .expect("chmod");

    // Act
    let dir = storage.clone();
    let _app = spawn_app_with(move |c| c.storage = dir).await;

    // Assert
    assert_eq!(mode(&storage), 0o700);
    assert_eq!(mode(&logs), 0o700);
    assert_eq!(mode(&logs.join("old.log")), 0o600);
}

#[actix_web::test]
async fn status_files_go_to_the_status_dir_with_its_mode_and_group() {
    // Arrange
    let temp = tempfile::tempdir().expect("temp");
    let status_dir = temp.path().join("status");
    let dir = status_dir.clone();
    // A group other than ours when we may give one (root), else our own.
    let group = if crate::helpers::is_root() {
        1
    } else {
        nix::unistd::getegid().as_raw()
    };
    let app = spawn_app_with(move |c| {
        c.status_dir = Some(dir);
        c.status_mode = 0o640;
        c.status_group = Some(group.to_string());
    })
    .await;
    app.exectab("wait /bin/sleep 300\n");

    // Act
    let id = app.run(json!({"name": "wait"})).await;
    let file = status_dir.join(format!("1/scripts/status/{id}.json"));
    eventually("the running status file", || {
        let text = std::fs::read_to_string(&file).ok()?;
        text.contains("running").then_some(())
    })
    .await;

    // Assert
    let meta = std::fs::metadata(&file).expect("status file");
    assert_eq!(meta.mode() & 0o777, 0o640, "file mode");
    assert_eq!(meta.gid(), group, "file group");
    let folder = file.parent().expect("folder");
    assert_eq!(mode(folder), 0o750, "folders get x where files get r");
    assert_eq!(std::fs::metadata(folder).expect("dir").gid(), group);
    assert!(
        !app.scripts_dir().join(format!("status/{id}.json")).exists(),
        "not in the storage"
    );
    app.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
    app.wait_done(&id).await;
    eventually("the status file removed", || (!file.exists()).then_some(())).await;
}

#[actix_web::test]
async fn scripts_keep_the_umask_the_server_was_started_with() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("mask /bin/sh -c umask\n");
    let expected = scriptd::actors::process::umask::for_scripts().expect("server restricted it");

    // Act
    let id = app.run(json!({"name": "mask"})).await;
    let done = app.wait_done(&id).await;

    // Assert
    assert_eq!(done["last"], format!("{expected:04o}"), "{done}");
}

#[actix_web::test]
async fn stdin_leaves_the_database_once_the_process_exists() {
    // Arrange: the first run holds the only slot so the second waits.
    let app = spawn_app().await;
    let gate = app.storage.path().join("gate");
    let got = app.storage.path().join("got");
    app.exectab(&format!(
        "-i feed /bin/sh -c \"cat > {}; while [ ! -e {} ]; do sleep 0.05; done\"\n",
        got.display(),
        gate.display()
    ));
    let first = app
        .run(json!({"name": "feed", "stdin": "first secret"}))
        .await;
    let second = app
        .run(json!({"name": "feed", "stdin": "second secret"}))
        .await;
    let storage = app.storage.path().to_path_buf();
    // (rows kept, of which the second run's)
    let rows = || {
        let sql = "SELECT count(*) FROM run_stdin WHERE run_id <> ?";
        let kept = crate::backend::count(&storage, sql, "");
        let sql = "SELECT count(*) FROM run_stdin WHERE run_id = ?";
        (kept, crate::backend::count(&storage, sql, &second))
    };

    // Assert: the running run's stdin is gone, the queued one's is kept.
    eventually("the first run's stdin to leave the database", || {
        (rows() == (1, 1)).then_some(())
    })
    .await;
    // The row goes once the process exists, which is before `cat` has run:
    // wait for what it writes rather than read the file at once.
    eventually("the first run to write its stdin", || {
        (std::fs::read_to_string(&got).ok()? == "first secret").then_some(())
    })
    .await;
    std::fs::write(&gate, "").expect("gate");
    app.wait_done(&first).await;
    app.wait_done(&second).await;
    assert_eq!(
        std::fs::read_to_string(&got).expect("second"),
        "second secret"
    );
    assert_eq!(rows().0, 0);
}
