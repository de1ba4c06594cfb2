//! Every process of a run is tracked and nothing outlives it: what a
//! script leaves behind is ended when it exits (unless `-k`), kill and
//! timeout reach every process, and a child gets no descriptor but 0, 1, 2.
//! The process-group tests run everywhere; the cgroup tests create a
//! delegated cgroup v2 (root; see `helpers::cgroup`) and also catch
//! processes that left the group (`setsid`).

use std::path::Path;

use serde_json::json;

use scriptd::events::types::Outcome;
use scriptd::wire::ScriptInfo;

use crate::helpers::cgroup::{cgroup_of, TestCgroup};
use crate::helpers::child::{assert_processes_die, process_gone};
use crate::helpers::{eventually, spawn_app, spawn_app_with};

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[actix_web::test]
async fn a_background_child_is_ended_when_its_script_exits() {
    // Arrange
    let app = spawn_app().await;
    let pid_file = app.storage.path().join("bg.pid");
    app.exectab(&format!(
        "bg /bin/sh -c \"sleep 300 & echo $! > {}\"\n",
        pid_file.display()
    ));

    // Act
    let id = app.run(json!({"name": "bg"})).await;
    let done = app.wait_done(&id).await;

    // Assert: the run is over only once its leftover is.
    assert_eq!(done.outcome, Outcome::Success, "{done}");
    let pid = read_pid(&pid_file).expect("the script wrote its child's pid");
    assert!(
        process_gone(pid),
        "the background sleep {pid} was ended with the run"
    );
}

#[actix_web::test]
async fn a_script_marked_keep_children_leaves_them_running() {
    // Arrange
    let app = spawn_app().await;
    let pid_file = app.storage.path().join("kept.pid");
    app.exectab(&format!(
        "-k keep /bin/sh -c \"sleep 300 & echo $! > {}\"\n",
        pid_file.display()
    ));

    // Act
    let id = app.run(json!({"name": "keep"})).await;
    let done = app.wait_done(&id).await;

    // Assert
    assert_eq!(done.outcome, Outcome::Success, "{done}");
    let pid = read_pid(&pid_file).expect("pid");
    let alive = !process_gone(pid);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(alive, "-k keeps the background sleep running");
    let scripts = app.scripts().await;
    let keep = match &scripts.scripts["keep"] {
        ScriptInfo::Owner(keep) => keep,
        ScriptInfo::Guest(_) => panic!("the owner sees the options: {scripts}"),
    };
    assert!(keep.keep_children, "{scripts}");
}

#[actix_web::test]
async fn a_child_gets_stdin_stdout_and_stderr_and_no_other_descriptor() {
    // Arrange: a descriptor the server holds without close-on-exec, as one
    // inherited from whatever started it would be.
    let leaked = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .expect("open without O_CLOEXEC");
    let app = spawn_app().await;
    let pid_file = app.storage.path().join("fds.pid");
    app.exectab(&format!(
        "fds /bin/sh -c \"echo $$ > {}; exec sleep 300\"\n",
        pid_file.display()
    ));
    let id = app.run(json!({"name": "fds"})).await;
    let pid = eventually("the script's pid", || read_pid(&pid_file)).await;

    // Act: the descriptors of the script once it is `sleep`.
    let fds = eventually("the script to exec sleep", || {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "sleep").then_some(())?;
        let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        fds.sort_unstable();
        Some(fds)
    })
    .await;
    app.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
    let _ = nix::unistd::close(leaked);

    // Assert
    assert_eq!(
        fds,
        vec![0, 1, 2],
        "the server's fd {leaked} must not reach the script"
    );
}

#[actix_web::test]
async fn with_a_cgroup_a_setsid_daemon_is_ended_with_its_run() {
    // Arrange
    if !crate::helpers::root_or_skip("with_a_cgroup_a_setsid_daemon_is_ended_with_its_run") {
        return;
    }
    let cgroup = TestCgroup::create();
    let setting = cgroup.setting.clone();
    let app = spawn_app_with(|c| c.cgroup = setting).await;
    let pid_file = app.storage.path().join("daemon.pid");
    app.exectab(&format!(
        "daemon /bin/sh -c \"setsid sleep 300 & echo $! > {}; sleep 0.5\"\n",
        pid_file.display()
    ));

    // Act
    let id = app.run(json!({"name": "daemon"})).await;
    let pid = eventually("the daemon's pid", || read_pid(&pid_file)).await;
    let inside = eventually("the daemon to be set up", || {
        let own = cgroup_of(pid)?;
        (!own.is_empty()).then_some(own)
    })
    .await;
    let done = app.wait_done(&id).await;

    // Assert
    assert!(
        inside.starts_with(&format!("{}/run-", cgroup.setting)),
        "the daemon left the process group but not the run's cgroup: {inside}"
    );
    assert_eq!(done.outcome, Outcome::Success, "{done}");
    assert!(
        process_gone(pid),
        "the setsid daemon {pid} was ended with the run"
    );
    assert!(
        !cgroup.children().iter().any(|c| c.starts_with("run-")),
        "the run's cgroup is removed: {:?}",
        cgroup.children()
    );
}

#[actix_web::test]
async fn with_a_cgroup_kill_and_timeout_end_every_descendant() {
    // Arrange
    if !crate::helpers::root_or_skip("with_a_cgroup_kill_and_timeout_end_every_descendant") {
        return;
    }
    let cgroup = TestCgroup::create();
    let setting = cgroup.setting.clone();
    let app = spawn_app_with(|c| c.cgroup = setting).await;
    let dir = app.storage.path().to_owned();
    app.exectab(&format!(
        "killme /bin/sh -c \"setsid sleep 300 & echo $! > {d}/k.pid; exec sleep 300\"\n\
         -t=1 slow /bin/sh -c \"setsid sleep 300 & echo $! > {d}/t.pid; exec sleep 300\"\n",
        d = dir.display()
    ));

    // Act
    let killed = app.run(json!({"name": "killme"})).await;
    let timed = app.run(json!({"name": "slow"})).await;
    let k = eventually("killme's daemon", || read_pid(&dir.join("k.pid"))).await;
    let t = eventually("slow's daemon", || read_pid(&dir.join("t.pid"))).await;
    app.kill(&killed).await;

    // Assert
    assert_eq!(app.wait_done(&killed).await.outcome, Outcome::Killed);
    assert_eq!(app.wait_done(&timed).await.outcome, Outcome::Timeout);
    assert_processes_die(&[k, t], "daemons of killed and timed-out runs").await;
}
