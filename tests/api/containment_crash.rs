//! Crash recovery with a cgroup: a `setsid` daemon started by a run escapes
//! the process group, so neither the parent-death signal nor the group
//! clean-up reaches it; the run's cgroup does, when the server starts again.

use serde_json::json;

use scriptd::events::types::Outcome;

use crate::helpers::cgroup::{cgroup_of, TestCgroup};
use crate::helpers::child::{assert_processes_die, process_gone, Fixture, Server};
use crate::helpers::{eventually, spawn_app_with};

#[actix_web::test]
async fn a_restart_ends_a_setsid_daemon_of_a_run_the_crash_interrupted() {
    // Arrange
    if !crate::helpers::root_or_skip(
        "a_restart_ends_a_setsid_daemon_of_a_run_the_crash_interrupted",
    ) {
        return;
    }
    let cgroup = TestCgroup::create();
    let fixture = Fixture::new();
    let config = fixture.out.join("scriptd.toml");
    std::fs::write(&config, format!("cgroup = {:?}\n", cgroup.setting)).expect("config");
    let config = config.to_str().expect("utf-8").to_owned();
    let server = Server::start_with(&fixture.storage, "1", "300", &["--config", &config]).await;
    let pid_file = fixture.out.join("daemon.pid");
    fixture.exectab(&format!(
        "daemon /bin/sh -c \"setsid sleep 300 & echo $! > {}; exec sleep 300\"\n",
        pid_file.display()
    ));
    let id = server.run(json!({"name": "daemon"})).await;
    let daemon: i32 = eventually("the daemon's pid", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    })
    .await;
    let inside = eventually("the daemon in the run's cgroup", || cgroup_of(daemon)).await;
    assert!(inside.starts_with(&cgroup.setting), "{inside}");

    // Act
    server.kill9();
    assert!(!process_gone(daemon), "the daemon outlives the crash");
    let server = Server::start_with(&fixture.storage, "2", "1", &["--config", &config]).await;

    // Assert
    assert_processes_die(&[daemon], "after the restart").await;
    assert_eq!(server.wait_done(&id).await.outcome, Outcome::Interrupted);
    assert!(
        !cgroup.children().iter().any(|c| c.starts_with("run-")),
        "the crashed run's cgroup is gone: {:?}",
        cgroup.children()
    );
}

#[actix_web::test]
async fn a_second_server_refused_by_the_lock_leaves_the_running_runs_alone() {
    // Arrange: a run whose daemon is in the first server's run cgroup.
    if !crate::helpers::root_or_skip(
        "a_second_server_refused_by_the_lock_leaves_the_running_runs_alone",
    ) {
        return;
    }
    let cgroup = TestCgroup::create();
    let setting = cgroup.setting.clone();
    let mut second = None;
    let app = spawn_app_with(|c| {
        c.cgroup = setting;
        second = Some(c.clone());
    })
    .await;
    let pid_file = app.storage.path().join("daemon.pid");
    app.exectab(&format!(
        "daemon /bin/sh -c \"setsid sleep 300 & echo $! > {}; exec sleep 300\"\n",
        pid_file.display()
    ));
    let id = app.run(json!({"name": "daemon"})).await;
    let daemon: i32 = eventually("the daemon's pid", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    })
    .await;
    eventually("the daemon in the run's cgroup", || {
        cgroup_of(daemon).filter(|c| c.starts_with(&cgroup.setting))
    })
    .await;

    // Act: a second server on the same storage and cgroup.
    let config = second.expect("config");
    let refused = scriptd::app::Application::build(config).await;

    // Assert
    assert!(refused.is_err(), "the storage lock refuses a second server");
    let alive = !process_gone(daemon);
    let status = app.status(&id).await;
    app.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
    assert!(
        alive,
        "the refused server ended the running server's daemon {daemon}"
    );
    assert_eq!(status["state"], "running", "{status}");
    assert_processes_die(&[daemon], "after the kill").await;
}
