//! The default `cgroup = "auto"` on a host where the server runs as root in
//! the root cgroup (CI, a container, a host without systemd delegation):
//! the server makes a cgroup of its own (`/scriptd/s-<storage hash>`), so a
//! `setsid` escapee dies with its run, its kill, its timeout and a crash
//! restart, while two servers on one host leave each other's runs alone.
//! These tests need root and a writable cgroup v2 (CI has both), and fail
//! saying so where the server could not make its cgroup.

use serde_json::json;

use scriptd::events::types::Outcome;

use crate::helpers::cgroup::{cgroup_of, unified_mount};
use crate::helpers::child::{assert_processes_die, process_gone, Fixture, Server};
use crate::helpers::server::{config_for, Stoppable};
use crate::helpers::{eventually, spawn_app, Api};

/// Whether `cgroup` is a run's in a cgroup `auto` made: `/scriptd/s-…`
/// (SQLite) or `/scriptd-<node>/s-…` (a node on PostgreSQL).
fn in_own(cgroup: &str) -> bool {
    let mut parts = cgroup.trim_start_matches('/').split('/');
    let top = parts.next().unwrap_or_default();
    let instance = parts.next().unwrap_or_default();
    let run = parts.next().unwrap_or_default();
    (top == "scriptd" || top.starts_with("scriptd-"))
        && instance.starts_with("s-")
        && run.starts_with("run-")
}

fn read_pid(path: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The cgroup of `pid` once it is in a run's cgroup of a self-made base.
async fn in_own_run_cgroup(pid: i32) -> String {
    let inside = eventually("the daemon in a cgroup", || cgroup_of(pid)).await;
    assert!(
        in_own(&inside),
        "THIS TEST NEEDS ROOT AND A WRITABLE cgroup v2: with cgroup = \"auto\" the \
         server made no cgroup of its own, the daemon is in {inside:?}"
    );
    inside
}

#[actix_web::test]
async fn by_default_as_root_a_setsid_daemon_dies_with_its_run_its_kill_and_its_timeout() {
    // Arrange
    if !crate::helpers::root_or_skip(
        "by_default_as_root_a_setsid_daemon_dies_with_its_run_its_kill_and_its_timeout",
    ) {
        return;
    }
    let app = spawn_app().await;
    let dir = app.storage.path().to_owned();
    app.exectab(&format!(
        "ends /bin/sh -c \"setsid sleep 305 & echo $! > {d}/e.pid; sleep 0.5\"\n\
         killme /bin/sh -c \"setsid sleep 305 & echo $! > {d}/k.pid; exec sleep 300\"\n\
         -t=1 slow /bin/sh -c \"setsid sleep 305 & echo $! > {d}/t.pid; exec sleep 300\"\n",
        d = dir.display()
    ));

    // Act
    let ends = app.run(json!({"name": "ends"})).await;
    let killed = app.run(json!({"name": "killme"})).await;
    let timed = app.run(json!({"name": "slow"})).await;
    let e = eventually("ends's daemon", || read_pid(&dir.join("e.pid"))).await;
    let k = eventually("killme's daemon", || read_pid(&dir.join("k.pid"))).await;
    let t = eventually("slow's daemon", || read_pid(&dir.join("t.pid"))).await;
    in_own_run_cgroup(e).await;
    in_own_run_cgroup(k).await;
    app.kill(&killed).await;

    // Assert
    assert_eq!(app.wait_done(&ends).await.outcome, Outcome::Success);
    assert_eq!(app.wait_done(&killed).await.outcome, Outcome::Killed);
    assert_eq!(app.wait_done(&timed).await.outcome, Outcome::Timeout);
    assert_processes_die(
        &[e, k, t],
        "setsid daemons of ended, killed and timed-out runs",
    )
    .await;
}

#[actix_web::test]
async fn two_servers_on_one_host_leave_each_others_runs_alone_and_remove_their_cgroup() {
    // Arrange: a run of the first server whose daemon escaped its group.
    if !crate::helpers::root_or_skip(
        "two_servers_on_one_host_leave_each_others_runs_alone_and_remove_their_cgroup",
    ) {
        return;
    }
    let first = spawn_app().await;
    let pid_file = first.storage.path().join("daemon.pid");
    first.exectab(&format!(
        "daemon /bin/sh -c \"setsid sleep 305 & echo $! > {}; exec sleep 300\"\n",
        pid_file.display()
    ));
    let id = first.run(json!({"name": "daemon"})).await;
    let daemon = eventually("the daemon's pid", || read_pid(&pid_file)).await;
    let first_cgroup = in_own_run_cgroup(daemon).await;

    // Act: a second server starts, runs one of its own, and stops.
    let storage = tempfile::tempdir().expect("temp dir");
    let mut config = config_for(storage.path());
    config.listen = "127.0.0.1:0".into();
    let second = scriptd::app::Application::build(config)
        .await
        .expect("the second server builds");
    let port = second.port();
    let key = second.admin_key.clone().expect("first run creates admin");
    let second = Stoppable::serve(second, Api::new(port, key));
    let q_file = storage.path().join("q.pid");
    std::fs::write(
        storage.path().join("1/scripts/exectab.txt"),
        format!(
            "quick /bin/sh -c \"setsid sleep 305 & echo $! > {}\"\n",
            q_file.display()
        ),
    )
    .expect("exectab");
    let quick = second.run(json!({"name": "quick"})).await;
    let q = eventually("the second server's daemon", || read_pid(&q_file)).await;
    let second_cgroup = in_own_run_cgroup(q).await;
    assert_eq!(second.wait_done(&quick).await.outcome, Outcome::Success);
    second.stop().await;

    // Assert
    let base = |cgroup: &str| cgroup.rsplit_once("/run-").map(|(b, _)| b.to_owned());
    assert_ne!(
        base(&first_cgroup),
        base(&second_cgroup),
        "each server has a cgroup of its own"
    );
    assert_processes_die(&[q], "the second server's daemon").await;
    let alive = !process_gone(daemon);
    let status = first.status(&id).await;
    first.kill(&id).await;
    assert!(
        alive,
        "the second server's start or stop ended the first server's daemon"
    );
    assert_eq!(status["state"], "running", "{status}");
    assert_processes_die(&[daemon], "after the kill").await;
    let second_dir = unified_mount().expect("cgroup v2").join(
        base(&second_cgroup)
            .expect("a base")
            .trim_start_matches('/'),
    );
    assert!(
        !second_dir.exists(),
        "the stopped server's own cgroup {} is removed",
        second_dir.display()
    );
}

#[actix_web::test]
async fn by_default_as_root_a_restart_ends_the_setsid_daemon_of_a_run_the_crash_interrupted() {
    // Arrange
    if !crate::helpers::root_or_skip(
        "by_default_as_root_a_restart_ends_the_setsid_daemon_of_a_run_the_crash_interrupted",
    ) {
        return;
    }
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "300").await;
    let pid_file = fixture.out.join("daemon.pid");
    fixture.exectab(&format!(
        "daemon /bin/sh -c \"setsid sleep 305 & echo $! > {}; exec sleep 300\"\n",
        pid_file.display()
    ));
    let id = server.run(json!({"name": "daemon"})).await;
    let daemon = eventually("the daemon's pid", || read_pid(&pid_file)).await;
    in_own_run_cgroup(daemon).await;

    // Act
    server.kill9();
    assert!(!process_gone(daemon), "the daemon outlives the crash");
    let server = Server::start(&fixture.storage, "2", "1").await;

    // Assert
    assert_processes_die(&[daemon], "after the restart").await;
    assert_eq!(server.wait_done(&id).await.outcome, Outcome::Interrupted);
}

#[actix_web::test]
async fn nodes_of_a_cluster_on_one_host_get_cgroups_of_their_own() {
    // Arrange: two nodes, each with a script whose daemon escapes its group.
    if !crate::helpers::root_or_skip("nodes_of_a_cluster_on_one_host_get_cgroups_of_their_own") {
        return;
    }
    let cluster = crate::helpers::cluster::Cluster::start_each(&[
        "d1 /bin/sh -c \"setsid sleep 305 & echo $! > OUT/d1.pid; exec sleep 300\"\n",
        "d2 /bin/sh -c \"setsid sleep 305 & echo $! > OUT/d2.pid; exec sleep 300\"\n",
    ])
    .await;
    let (n1, n2) = (cluster.node(0), cluster.node(1));
    let first = n1.run(json!({"name": "d1"})).await;
    let second = n2.run(json!({"name": "d2"})).await;
    let d1 = eventually("d1's daemon", || read_pid(&cluster.out.join("d1.pid"))).await;
    let d2 = eventually("d2's daemon", || read_pid(&cluster.out.join("d2.pid"))).await;
    let c1 = in_own_run_cgroup(d1).await;
    let c2 = in_own_run_cgroup(d2).await;

    // Act
    n1.kill(&first).await;

    // Assert
    let top = |cgroup: &str| cgroup.split('/').nth(1).unwrap_or_default().to_owned();
    assert_eq!(top(&c1), format!("scriptd-{}", n1.name), "{c1}");
    assert_eq!(top(&c2), format!("scriptd-{}", n2.name), "{c2}");
    assert_processes_die(&[d1], "the killed run's daemon").await;
    let alive = !process_gone(d2);
    n2.kill(&second).await;
    assert!(alive, "the other node's daemon lives on");
    assert_processes_die(&[d2], "after its own kill").await;
}

#[actix_web::test]
async fn a_server_whose_idle_cgroup_a_newer_server_swept_makes_it_again() {
    // Arrange: the first server's cgroup, empty between runs.
    if !crate::helpers::root_or_skip(
        "a_server_whose_idle_cgroup_a_newer_server_swept_makes_it_again",
    ) {
        return;
    }
    let first = spawn_app().await;
    let dir = first.storage.path().to_owned();
    first.exectab(&format!(
        "where /bin/sh -c \"cat /proc/self/cgroup > {d}/where\"\n\
         daemon /bin/sh -c \"setsid sleep 305 & echo $! > {d}/daemon.pid; sleep 0.2\"\n",
        d = dir.display()
    ));
    let id = first.run(json!({"name": "where"})).await;
    first.wait_done(&id).await;
    let text = std::fs::read_to_string(dir.join("where")).expect("where");
    let run = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a v2 line");
    let instance = run
        .rsplit_once("/run-")
        .expect("in a run cgroup")
        .0
        .to_owned();
    let instance_dir = unified_mount()
        .expect("cgroup v2")
        .join(instance.trim_start_matches('/'));

    // Act: a second server starts beside it and sweeps empty cgroups.
    let _second = spawn_app().await;
    let swept = !instance_dir.exists();
    let id = first.run(json!({"name": "daemon"})).await;
    let daemon = eventually("the daemon's pid", || read_pid(&dir.join("daemon.pid"))).await;
    let inside = in_own_run_cgroup(daemon).await;
    let done = first.wait_done(&id).await;

    // Assert
    assert!(swept, "the idle {instance} was swept");
    assert!(
        inside.starts_with(&format!("{instance}/run-")),
        "made again: {inside}"
    );
    assert_eq!(done.outcome, Outcome::Success, "{done}");
    assert_processes_die(&[daemon], "the daemon of a run in the remade cgroup").await;
}
