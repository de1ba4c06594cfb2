//! What a run leaves to read: status shapes while queued, running and
//! done, status files that always parse, forgotten runs, and logs.

use std::time::Duration;

use serde_json::{json, Value};

use scriptd::events::types::Outcome;

use crate::helpers::{spawn_app, spawn_app_over, Scheme};

#[actix_web::test]
async fn status_has_the_queued_running_and_finished_shapes() {
    status_shapes(Scheme::Plain).await;
}

#[actix_web::test]
async fn status_has_the_queued_running_and_finished_shapes_over_tls() {
    status_shapes(Scheme::Tls).await;
}

async fn status_shapes(scheme: Scheme) {
    let app = spawn_app_over(scheme, |_| {}).await;
    let dir = tempfile::tempdir().expect("dir");
    let gate = dir.path().join("go");
    app.exectab(&format!(
        "-s=1 steps /bin/sh -c \"echo first line; echo '[1/2] Copy'; echo '[40%] Files'; while [ ! -e {} ]; do sleep 0.02; done; echo '[2/2] Check'; echo bye; exit 3\" @@1\n",
        gate.display()
    ));
    let a = app.run(json!({"name": "steps", "args": ["x"]})).await;
    let b = app.run(json!({"name": "steps", "args": ["y"]})).await;
    let running = app
        .wait_status(&a, "subtask seen", |s| s["subtask"] == "Files")
        .await;
    assert_eq!(running["state"], "running");
    assert_eq!(running["task"], "Copy");
    assert_eq!(
        (running["tasknum"].as_i64(), running["maxtasks"].as_i64()),
        (Some(0), Some(2))
    );
    assert_eq!(running["subtaskpercent"], 40);
    assert!(running["taskstart"].as_f64().is_some_and(|t| t > 1e9));
    let queued = app.status(&b).await;
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["position"], 0);
    assert!(queued["queued"].as_i64().is_some_and(|t| t > 1_000_000_000));
    let file = app.scripts_dir().join("status").join(format!("{b}.json"));
    let on_disk: Value = crate::helpers::eventually("queued status file", || {
        std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    })
    .await;
    assert_eq!(on_disk["state"], "queued");

    std::fs::write(&gate, b"").expect("gate");
    let done = app.wait_done(&a).await;
    assert_eq!(done.outcome, Outcome::Failed);
    assert_eq!(done.exit_code, Some(3));
    assert_eq!(done["signal"], Value::Null);
    assert_eq!(
        done.tasks
            .iter()
            .map(|t| t.task.as_str())
            .collect::<Vec<_>>(),
        vec!["Copy", "Check"]
    );
    assert!(done.tasks.iter().all(|t| t.end >= t.start));
    assert_eq!(
        (done.first.as_str(), done.last.as_str()),
        ("", ""),
        "tasks replace first/last"
    );
    assert_eq!(done["args"]["params"], json!(["x"]));
    assert_eq!(done["args"]["opts"]["simultaneous"], "1");
    for field in ["started", "finished", "duration", "cpu_user", "cpu_system"] {
        assert!(done[field].as_f64().is_some(), "{field} in {done}");
    }
    assert!(done["max_rss_kb"].as_i64().is_some_and(|kb| kb > 0));
    let log = app.get(&format!("/scripts/v1/log/{a}")).await.1;
    assert_eq!(
        log,
        json!("first line\n[1/2] Copy\n[40%] Files\n[2/2] Check\nbye\n")
    );
    app.wait_done(&b).await;
    crate::helpers::eventually("status files removed", || {
        (!app
            .scripts_dir()
            .join("status")
            .join(format!("{a}.json"))
            .exists())
        .then_some(())
    })
    .await;
}

#[actix_web::test]
async fn forgetting_scripts_answer_invalid_id_once_finished() {
    let app = spawn_app().await;
    app.exectab("-r gone /bin/echo hi\n-r fails /bin/false\n");
    let gone = app.run(json!({"name": "gone"})).await;
    let fails = app.run(json!({"name": "fails"})).await;
    let status = app
        .wait_status(&gone, "forgotten", |s| s["errorcode"] == "invalid_id")
        .await;
    assert_eq!(status["success"], false);
    let kept = app.wait_done(&fails).await;
    assert_eq!(kept.outcome, Outcome::Failed, "failures are kept");
    assert_eq!(kept["removelog"], true);
}

#[actix_web::test]
async fn a_reader_of_the_status_file_always_parses_valid_json() {
    let app = spawn_app().await;
    // Progress at full speed, with pauses so that the run outlives the
    // status writer's 20 ms window many times over.
    app.exectab("busy /bin/sh -c \"i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo \\\"[$((i % 100))%] step $i\\\"; [ $((i % 100)) -eq 0 ] && sleep 0.02; done; true\"\n");
    let id = app.run(json!({"name": "busy"})).await;
    let file = app.scripts_dir().join("status").join(format!("{id}.json"));
    let reader = actix_web::rt::task::spawn_blocking(move || {
        let (mut reads, mut misses) = (0, 0);
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(20) && misses < 2000 {
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
                    assert!(
                        parsed.is_ok(),
                        "partial JSON: {}",
                        String::from_utf8_lossy(&bytes)
                    );
                    reads += 1;
                }
                Err(_) if reads > 0 => misses += 1,
                Err(_) => {}
            }
        }
        reads
    });
    app.wait_done(&id).await;
    let reads = reader.await.expect("reader");
    assert!(reads > 0, "the status file was read while the run was live");
}

#[actix_web::test]
async fn a_run_that_prints_nothing_has_no_log_file_and_an_empty_log() {
    let app = spawn_app().await;
    app.exectab("silent /bin/true\nloud /bin/echo hello\n");
    let silent = app.run(json!({"name": "silent"})).await;
    let loud = app.run(json!({"name": "loud"})).await;
    app.wait_done(&silent).await;
    app.wait_done(&loud).await;
    let logs = app.scripts_dir().join("logs");
    assert!(
        !logs.join(format!("{silent}.log")).exists(),
        "no file for a silent run"
    );
    assert!(
        logs.join(format!("{loud}.log")).exists(),
        "a file once it prints"
    );
    let (code, log) = app.get(&format!("/scripts/v1/log/{silent}")).await;
    assert_eq!((code, log), (200, json!("")));
    let (code, log) = app.get(&format!("/scripts/v1/log/{loud}")).await;
    assert_eq!((code, log), (200, json!("hello\n")));
}
