//! Durability under SIGKILL: runs accepted, queued or running when the
//! server is killed each end exactly once after the restart, and no script
//! process (nor a grandchild of an interrupted run) outlives the server.
//! The harness is in `helpers/child.rs`.

use std::collections::HashMap;

use serde_json::json;

use scriptd::events::types::Outcome;

use crate::helpers::child::{assert_processes_die, process_gone, Fixture, Server, Start};
use crate::helpers::{eventually, eventually_async, unix_now};

/// Scripts of the crash workload. Each logs its start, then waits
/// `$DUR_SLEEP` (long before a crash, short after it) via `exec`, so the
/// server's direct child is the sleeping process itself.
const CRASH_EXECTAB: &str = r#"
-s=2 work /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; exec sleep $DUR_SLEEP" sh @@1
-i feed /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; cat > OUT/$1.stdin; exec sleep $DUR_SLEEP" sh @@1
later /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log" sh @@1
-m=2 capped /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; while [ ! -e OUT/gate ]; do sleep 0.05; done" sh @@1
"#;

/// One accepted run of the crash workload.
#[derive(Debug)]
struct Accepted {
    id: String,
    arg: String,
    script: &'static str,
    stdin: Option<String>,
    queue: Option<i64>,
}

/// Queues the mixed workload: `work` runs beyond `-s`, `feed` runs with
/// stdin beyond `-s`, one `later` run scheduled a few seconds ahead, and
/// `capped` runs up to `-m`.
async fn submit_workload(server: &Server) -> Vec<Accepted> {
    let mut accepted = Vec::new();
    for n in 1..=5 {
        let arg = format!("w{n}");
        let id = server.run(json!({"name": "work", "args": [arg]})).await;
        accepted.push(Accepted {
            id,
            arg,
            script: "work",
            stdin: None,
            queue: None,
        });
    }
    for n in 1..=3 {
        let arg = format!("f{n}");
        let stdin = format!("stdin of {arg}\n\"quoted\" $HOME; `x` é\nlast line without newline");
        let id = server
            .run(json!({"name": "feed", "args": [arg], "stdin": stdin}))
            .await;
        accepted.push(Accepted {
            id,
            arg,
            script: "feed",
            stdin: Some(stdin),
            queue: None,
        });
    }
    let queue = unix_now() + 4;
    let id = server
        .run(json!({"name": "later", "args": ["l1"], "queue": queue}))
        .await;
    accepted.push(Accepted {
        id,
        arg: "l1".into(),
        script: "later",
        stdin: None,
        queue: Some(queue),
    });
    for n in 1..=2 {
        let arg = format!("c{n}");
        let id = server.run(json!({"name": "capped", "args": [arg]})).await;
        accepted.push(Accepted {
            id,
            arg,
            script: "capped",
            stdin: None,
            queue: None,
        });
    }
    assert_capped_is_full(server, "-m=2 refuses a third run before the crash").await;
    accepted
}

/// Asserts that another `capped` run is refused with `queue_full`.
async fn assert_capped_is_full(server: &Server, why: &str) {
    let body = json!({"name": "capped", "args": ["c-refused"]});
    let (status, reply) = server.post("/scripts/v1/run", body).await;
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (400, Some("queue_full")),
        "{why}: {reply}"
    );
}

/// After the restart: `-m` counts the restored runs, then the gate opens;
/// every accepted run ends exactly once, never starts twice, and runs not
/// started before the crash run afterwards with their stdin and schedule.
/// Returns the outcome per argument.
async fn check_recovery(
    fixture: &Fixture,
    server: &Server,
    accepted: &mut Vec<Accepted>,
) -> HashMap<String, String> {
    // The gate is closed, so c1 is done now only if the crash interrupted it.
    let c1 = accepted
        .iter()
        .find(|r| r.arg == "c1")
        .expect("c1")
        .id
        .clone();
    if server.status(&c1).await["state"] == "done" {
        let id = server.run(json!({"name": "capped", "args": ["c3"]})).await;
        accepted.push(Accepted {
            id,
            arg: "c3".into(),
            script: "capped",
            stdin: None,
            queue: None,
        });
    }
    assert_capped_is_full(server, "-m=2 counts the runs restored after the crash").await;
    std::fs::write(fixture.out.join("gate"), "").expect("open the gate");

    let mut outcomes = HashMap::new();
    for run in accepted.iter() {
        let status = server.wait_done(&run.id).await;
        let outcome = status["outcome"].as_str().unwrap_or_default().to_owned();
        let kinds = fixture.run_events(&run.id).await;
        let ends = kinds
            .iter()
            .filter(|k| {
                matches!(
                    k.as_str(),
                    "RunFinished" | "RunInterrupted" | "RunStartFailed" | "RunCancelled"
                )
            })
            .count();
        let started = kinds.iter().filter(|k| *k == "RunStarted").count();
        assert_eq!(ends, 1, "{} ends exactly once: {kinds:?}", run.arg);
        assert!(started <= 1, "{} started once at most: {kinds:?}", run.arg);
        outcomes.insert(run.arg.clone(), outcome);
    }

    let starts = fixture.starts();
    for run in accepted.iter() {
        let mine: Vec<&Start> = starts.iter().filter(|s| s.arg == run.arg).collect();
        let outcome = outcomes[&run.arg].as_str();
        assert!(
            mine.len() <= 1,
            "{} started more than once: {mine:?}",
            run.arg
        );
        match outcome {
            "success" => assert_eq!(mine.len(), 1, "{} succeeded, so it started", run.arg),
            "interrupted" => assert!(
                mine.iter().all(|s| s.generation == "1"),
                "{} was interrupted by the crash yet started again: {mine:?}",
                run.arg
            ),
            other => panic!("{} ended {other}, expected success or interrupted", run.arg),
        }
        // `later` does not wait, so it may have finished before the crash.
        let waits = run.script != "later";
        if waits && mine.iter().any(|s| s.generation == "1") {
            assert_eq!(
                outcome, "interrupted",
                "{} was running at the crash",
                run.arg
            );
        }
        if let Some(stdin) = &run.stdin {
            if outcome == "success" {
                let got = std::fs::read_to_string(fixture.out.join(format!("{}.stdin", run.arg)))
                    .expect("stdin copy");
                assert_eq!(&got, stdin, "{} got its stdin after the restart", run.arg);
            }
        }
        if let Some(queue) = run.queue {
            let status = server.status(&run.id).await;
            let started = status["started"].as_f64().expect("started time");
            assert!(
                started >= queue as f64,
                "{} started at {started}, before its queue time {queue}",
                run.arg
            );
        }
    }

    // The queue order survives: feed is -s=1, so f2 starts before f3.
    let position = |arg: &str| starts.iter().position(|s| s.arg == arg).expect("started");
    assert!(
        position("f2") < position("f3"),
        "f2 starts before f3: {starts:?}"
    );

    let kept = crate::backend::count(
        &fixture.storage,
        "SELECT count(*) FROM run_stdin WHERE run_id <> ?",
        "",
    );
    assert_eq!(kept, 0, "stdin is deleted once its run has started");
    outcomes
}

#[actix_web::test]
async fn runs_accepted_right_before_a_kill_9_each_finish_once_after_the_restart() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "60").await;
    fixture.exectab(CRASH_EXECTAB);

    // Act: crash right after the last run was accepted.
    let mut accepted = submit_workload(&server).await;
    server.kill9();
    let server = Server::start(&fixture.storage, "2", "0.2").await;

    // Assert
    let outcomes = check_recovery(&fixture, &server, &mut accepted).await;
    for arg in ["w3", "w4", "w5", "f2", "f3", "l1", "c2"] {
        assert_eq!(
            outcomes[arg], "success",
            "{arg} was queued behind -s at the crash"
        );
    }
}

#[actix_web::test]
async fn runs_running_at_a_kill_9_end_interrupted_and_queued_ones_run_once_after_the_restart() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "60").await;
    fixture.exectab(CRASH_EXECTAB);
    let mut accepted = submit_workload(&server).await;
    for arg in ["w1", "w2", "f1", "c1"] {
        fixture.wait_started(arg).await;
    }
    let w1 = &accepted[0].id;
    server
        .wait_status(w1, "w1 running", |s| s["state"] == "running")
        .await;

    // Act
    server.kill9();
    let server = Server::start(&fixture.storage, "2", "0.2").await;

    // Assert
    let outcomes = check_recovery(&fixture, &server, &mut accepted).await;
    for arg in ["w1", "w2", "f1", "c1"] {
        assert_eq!(
            outcomes[arg], "interrupted",
            "{arg} was running at the crash"
        );
    }
    for arg in ["w3", "w4", "w5", "f2", "f3", "l1", "c2", "c3"] {
        assert_eq!(outcomes[arg], "success", "{arg} was queued at the crash");
    }
    let status = server.status(&accepted[0].id).await;
    assert!(
        status["error"].as_str().is_some_and(|e| !e.is_empty()),
        "an interrupted run says why: {status}"
    );
}

#[actix_web::test]
async fn a_kill_9_of_the_server_takes_its_script_processes_with_it() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "300").await;
    fixture.exectab(CRASH_EXECTAB);
    server.run(json!({"name": "work", "args": ["w1"]})).await;
    server.run(json!({"name": "work", "args": ["w2"]})).await;
    server
        .run(json!({"name": "feed", "args": ["f1"], "stdin": "x"}))
        .await;
    let mut pids = Vec::new();
    for arg in ["w1", "w2", "f1"] {
        pids.push(fixture.wait_started(arg).await.pid);
    }
    assert!(
        pids.iter().all(|&pid| !process_gone(pid)),
        "the scripts run before the kill"
    );

    // Act
    server.kill9();

    // Assert
    assert_processes_die(&pids, "after SIGKILL of scriptd").await;
}

#[actix_web::test]
async fn a_restart_ends_the_grandchildren_an_interrupted_run_left_behind() {
    // Arrange: the script's own child has no parent-death signal.
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "1").await;
    let pid_file = fixture.out.join("grandchild");
    fixture.exectab(&format!(
        "orphan /bin/sh -c \"sleep 300 & echo $! > {}; wait\"\n",
        pid_file.display()
    ));
    let id = server.run(json!({"name": "orphan"})).await;
    let grandchild: i32 = eventually("the grandchild's pid", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    })
    .await;
    eventually_async("RunSpawned recorded", || async {
        fixture
            .run_events(&id)
            .await
            .iter()
            .any(|k| k == "RunSpawned")
    })
    .await;

    // Act
    server.kill9();
    assert!(
        !process_gone(grandchild),
        "the grandchild outlives the crash"
    );
    let server = Server::start(&fixture.storage, "2", "1").await;

    // Assert
    assert_processes_die(&[grandchild], "after the restart").await;
    assert_eq!(server.wait_done(&id).await.outcome, Outcome::Interrupted);
}
