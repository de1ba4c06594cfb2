//! A run's figures are its own: peak memory of a script that allocates a
//! known amount (not the server's peak, which a child started on the
//! server's memory inherits in `ru_maxrss`), its CPU time, and with a
//! cgroup the CPU of descendants nobody waited for. Limits from exectab go
//! through the run's cgroup where its controllers are delegated.

use serde_json::json;

use scriptd::events::types::Outcome;

use crate::helpers::cgroup::TestCgroup;
use crate::helpers::spawn_app_with;

/// 100 MiB, zero-filled and resident, held for a moment.
const ALLOCATE: &str =
    "perl -e 'vec($x, 100*1024*1024-1, 8) = 1; $x =~ tr/\\0/a/; select(undef,undef,undef,0.4)'";
/// Half a second of CPU in user space.
const BURN: &str = "perl -e '1 while (times)[0] < 0.5'";

#[actix_web::test]
async fn peak_memory_and_cpu_are_the_scripts_own() {
    // Arrange
    let app = spawn_app_with(|_| {}).await;
    app.exectab(&format!(
        "big /bin/sh -c \"exec {ALLOCATE}\"\nsmall /bin/sleep 0.3\nburn /bin/sh -c \"exec {BURN}\"\n"
    ));

    // Act
    let big = app.run(json!({"name": "big"})).await;
    let small = app.run(json!({"name": "small"})).await;
    let burn = app.run(json!({"name": "burn"})).await;
    let (big, small, burn) = (
        app.wait_done(&big).await,
        app.wait_done(&small).await,
        app.wait_done(&burn).await,
    );

    // Assert
    let big_kb = big["max_rss_kb"].as_i64().expect("big's peak");
    assert!(
        (100 * 1024..100 * 1024 + 40 * 1024).contains(&big_kb),
        "100 MiB script peaks at {big_kb} KiB: {big}"
    );
    let small_kb = small["max_rss_kb"].as_i64().expect("sleep's peak");
    assert!(
        small_kb > 0 && small_kb < 20 * 1024,
        "sleep's peak is its own, not the server's: {small_kb} KiB"
    );
    let cpu = burn["cpu_user"].as_f64().expect("cpu_user");
    assert!(
        (0.45..5.0).contains(&cpu),
        "half a second of CPU, got {cpu}: {burn}"
    );
}

#[actix_web::test]
async fn with_a_cgroup_cpu_counts_descendants_nobody_waited_for() {
    // Arrange: the burner is a setsid daemon; the script does not wait for
    // it, so its CPU never reaches the script's rusage.
    if !crate::helpers::root_or_skip("with_a_cgroup_cpu_counts_descendants_nobody_waited_for") {
        return;
    }
    let cgroup = TestCgroup::create();
    let setting = cgroup.setting.clone();
    let app = spawn_app_with(|c| c.cgroup = setting).await;
    let done_file = app.storage.path().join("burned");
    let burner = app.storage.path().join("burn.sh");
    std::fs::write(&burner, format!("{BURN}\ntouch {}\n", done_file.display())).expect("burner");
    app.exectab(&format!(
        "orphanburn /bin/sh -c \"setsid /bin/sh {b} & while [ ! -e {f} ]; do sleep 0.05; done\"\n",
        b = burner.display(),
        f = done_file.display()
    ));

    // Act
    let id = app.run(json!({"name": "orphanburn"})).await;
    let done = app.wait_done(&id).await;

    // Assert
    let cpu = done["cpu_user"].as_f64().expect("cpu_user");
    assert!(
        cpu >= 0.45,
        "the daemon's half second is the run's: {cpu}: {done}"
    );
}

#[actix_web::test]
async fn limits_go_through_the_cgroup_where_its_controllers_are_delegated() {
    // Arrange
    if !crate::helpers::root_or_skip(
        "limits_go_through_the_cgroup_where_its_controllers_are_delegated",
    ) {
        return;
    }
    let cgroup = TestCgroup::create();
    let setting = cgroup.setting.clone();
    let controllers =
        std::fs::read_to_string(cgroup.dir.join("cgroup.controllers")).unwrap_or_default();
    let app = spawn_app_with(|c| c.cgroup = setting).await;
    app.exectab(&format!(
        "-M=32M -P=8 -W=50 limited /bin/sh -c \"exec {ALLOCATE}\"\n"
    ));

    // Act
    let id = app.run(json!({"name": "limited"})).await;
    let done = app.wait_done(&id).await;

    // Assert
    if controllers.split_whitespace().any(|c| c == "memory") {
        assert_eq!(
            done.outcome,
            Outcome::Killed,
            "-M=32M stops a 100 MiB script: {done}"
        );
    } else {
        eprintln!(
            "NOTE: no memory controller in cgroup v2 here (controllers: {controllers:?}; on a \
             hybrid system it is on v1): -M is not enforced, the run goes on, as documented"
        );
        assert_eq!(
            done.outcome,
            Outcome::Success,
            "an unenforced limit does not fail the run"
        );
    }
}
