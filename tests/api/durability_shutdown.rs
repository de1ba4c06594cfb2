//! Durability at the edges of a server's life: a SIGTERM shutdown keeps
//! queued runs, the storage lock refuses a second server or a rebuild, and
//! a garbage database stops the server untouched. The harness is in
//! `helpers/child.rs`.

use serde_json::json;

use scriptd::events::types::Outcome;

use crate::helpers::child::{process_gone, spawn_scriptd, Fixture, Server};
use crate::helpers::unix_now;

#[actix_web::test]
async fn sigterm_interrupts_running_runs_keeps_queued_ones_and_exits_zero() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "60").await;
    fixture.exectab(
        r#"
work /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; exec sleep $DUR_SLEEP" sh @@1
later /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log" sh @@1
"#,
    );
    let w1 = server.run(json!({"name": "work", "args": ["w1"]})).await;
    let w2 = server.run(json!({"name": "work", "args": ["w2"]})).await;
    let w3 = server.run(json!({"name": "work", "args": ["w3"]})).await;
    let queue = unix_now() + 3600;
    let l1 = server
        .run(json!({"name": "later", "args": ["l1"], "queue": queue}))
        .await;
    let w1_pid = fixture.wait_started("w1").await.pid;

    // Act
    let exit = server.terminate().await;

    // Assert
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0: {exit}");
    assert!(process_gone(w1_pid), "the running script was stopped");
    let server = Server::start(&fixture.storage, "2", "0.2").await;
    let status = server.status(&w1).await;
    assert_eq!(
        (status["state"].as_str(), status["outcome"].as_str()),
        (Some("done"), Some("interrupted")),
        "w1 was running at the shutdown: {status}"
    );
    for (id, arg) in [(&w2, "w2"), (&w3, "w3")] {
        let status = server.wait_done(id).await;
        assert_eq!(
            status.outcome,
            Outcome::Success,
            "{arg} ran after the restart: {status}"
        );
    }
    let status = server.status(&l1).await;
    assert_eq!(
        (status["state"].as_str(), status["queued"].as_i64()),
        (Some("queued"), Some(queue)),
        "the scheduled run is still waiting for its time: {status}"
    );
    let starts = fixture.starts();
    let summary: Vec<(&str, &str)> = starts
        .iter()
        .map(|s| (s.arg.as_str(), s.generation.as_str()))
        .collect();
    assert_eq!(
        summary,
        [("w1", "1"), ("w2", "2"), ("w3", "2")],
        "each run started once, in queue order"
    );
}

#[actix_web::test]
async fn a_second_server_on_the_same_storage_is_refused_while_the_first_keeps_serving() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "1").await;
    let key = std::fs::read(fixture.storage.join("admin.key")).expect("admin.key");
    let dir = fixture.storage.to_str().expect("utf-8 temp path");

    // Act
    let (exit, log) = spawn_scriptd(
        &["serve", "--storage", dir, "--listen", "127.0.0.1:0"],
        "2",
        "1",
    )
    .exit()
    .await;

    // Assert
    assert!(!exit.success(), "the second server fails: {exit}\n{log}");
    assert!(
        log.contains(dir),
        "the message names the storage directory:\n{log}"
    );
    assert!(!log.contains("listening on"), "it never listened:\n{log}");
    let (status, reply) = server.get("/scripts/v1/status").await;
    assert_eq!(status, 200, "the first server still serves: {reply}");
    assert_eq!(
        std::fs::read(fixture.storage.join("admin.key")).expect("admin.key"),
        key,
        "the admin key is untouched"
    );
}

#[actix_web::test]
async fn a_start_waits_for_a_storage_lock_held_a_moment_after_a_kill() {
    // Arrange: a storage a server used, its lock held by another process
    // (as a child of a killed server holds it until its exec).
    let fixture = Fixture::new();
    Server::start(&fixture.storage, "1", "1").await.kill9();
    let file = std::fs::File::open(fixture.storage.join("scriptd.lock")).expect("lock file");
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, errno)| errno)
        .expect("the test takes the lock");
    let dir = fixture.storage.to_str().expect("utf-8 temp path");

    // Act: a restart, and the lock let go once it waits
    let spawned = spawn_scriptd(
        &["serve", "--storage", dir, "--listen", "127.0.0.1:0"],
        "2",
        "1",
    );
    crate::helpers::eventually("the restart to wait for the lock", || {
        spawned
            .log()
            .contains("waiting for the storage lock")
            .then_some(())
    })
    .await;
    drop(held);
    let server = Server::listening(spawned, &fixture.storage).await;

    // Assert
    let (status, reply) = server.get("/scripts/v1/status").await;
    assert_eq!(status, 200, "the restarted server serves: {reply}");
}

#[actix_web::test]
async fn admin_rebuild_is_refused_while_a_server_holds_the_storage() {
    let fixture = Fixture::new();
    let _server = Server::start(&fixture.storage, "1", "1").await;
    let dir = fixture.storage.to_str().expect("utf-8 temp path");
    let (exit, log) = spawn_scriptd(&["admin", "rebuild", "--storage", dir], "2", "1")
        .exit()
        .await;
    assert!(!exit.success(), "rebuild refused: {exit}\n{log}");
    assert!(log.contains("another scriptd server"), "says why:\n{log}");
}

#[actix_web::test]
async fn a_garbage_database_file_stops_the_server_with_a_clear_message() {
    // Arrange
    let fixture = Fixture::new();
    std::fs::create_dir_all(&fixture.storage).expect("storage dir");
    let db = fixture.storage.join("scriptd.db");
    let junk = "this is not an SQLite database\n".repeat(200);
    std::fs::write(&db, &junk).expect("write junk");
    let dir = fixture.storage.to_str().expect("utf-8 temp path");

    // Act
    let (exit, log) = spawn_scriptd(
        &["serve", "--storage", dir, "--listen", "127.0.0.1:0"],
        "1",
        "1",
    )
    .exit()
    .await;

    // Assert
    assert!(
        !exit.success(),
        "the server refuses to start: {exit}\n{log}"
    );
    assert!(
        log.contains(db.to_str().expect("utf-8 path")),
        "the message names the database file:\n{log}"
    );
    assert!(!log.contains("listening on"), "it never listened:\n{log}");
    assert_eq!(
        std::fs::read_to_string(&db).expect("database file"),
        junk,
        "the file is left as it was"
    );
    assert!(
        !fixture.storage.join("admin.key").exists(),
        "no fresh admin was created"
    );
}
