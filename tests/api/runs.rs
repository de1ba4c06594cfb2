//! The run engine over HTTP, requests: validation order, the error codes
//! of cancel, kill, status and log, guest rights, and exectab edits taking
//! effect at once. Queues and schedules are in `runs_queue`, processes in
//! `runs_process`, status shapes and files in `runs_status`.

use serde_json::{json, Value};

use scriptd::events::types::Outcome;

use crate::helpers::{spawn_app, unix_now, TestApp};

async fn error(app: &TestApp, path: &str, body: Value) -> String {
    let (status, reply) = app.post(path, body.clone()).await;
    assert_eq!(status, 400, "{path} {body}: {reply}");
    reply["errorcode"].as_str().unwrap_or("").to_owned()
}

#[actix_web::test]
async fn run_validates_in_the_documented_order() {
    let app = spawn_app().await;
    app.exectab("-i -m=1 takes /bin/sleep 30\nplain /bin/echo @@1 @@2\n");
    let busy = app.run(json!({"name": "takes"})).await;
    let cases = [
        ("missing name", json!({}), "missing_name"),
        ("null name", json!({"name": null}), "missing_name"),
        ("unknown name", json!({"name": "nope"}), "invalid_name"),
        ("name not a string", json!({"name": 5}), "invalid_name"),
        (
            "unknown name before bad args",
            json!({"name": "nope", "args": 1}),
            "invalid_name",
        ),
        (
            "args not an array",
            json!({"name": "plain", "args": "x"}),
            "invalid_args",
        ),
        (
            "nested arg",
            json!({"name": "plain", "args": [["x"]]}),
            "invalid_args",
        ),
        (
            "stdin not a string",
            json!({"name": "plain", "stdin": 3}),
            "invalid_stdin",
        ),
        (
            "queue not an integer",
            json!({"name": "plain", "queue": "later"}),
            "invalid_queue",
        ),
        (
            "stdin for a script without -i",
            json!({"name": "plain", "stdin": "x", "args": [1, 2]}),
            "stdin_not_allowed",
        ),
        (
            "stdin over 1 MiB",
            json!({"name": "takes", "stdin": "x".repeat(1024 * 1024 + 1)}),
            "stdin_too_large",
        ),
        ("queue full", json!({"name": "takes"}), "queue_full"),
        (
            "too few args",
            json!({"name": "plain", "args": ["one"]}),
            "invalid_args",
        ),
    ];
    for (what, body, code) in cases {
        assert_eq!(error(&app, "/scripts/v1/run", body).await, code, "{what}");
    }
    let (_, reply) = app
        .post("/scripts/v1/run", json!({"name": "plain", "args": ["one"]}))
        .await;
    assert!(
        reply["error"].as_str().unwrap_or("").contains("at least 2"),
        "{reply}"
    );
    let ok = app
        .run(json!({"name": "plain", "args": ["a", 2], "stdin": ""}))
        .await;
    assert_ne!(ok, busy, "empty stdin is accepted for any script");
    app.post(&format!("/scripts/v1/kill/{busy}"), json!({}))
        .await;
}

#[actix_web::test]
async fn cancel_kill_status_and_log_report_their_errors() {
    let app = spawn_app().await;
    app.exectab("sleeper /bin/sleep 30\nquick /bin/true\n");
    let running = app.run(json!({"name": "sleeper"})).await;
    app.wait_status(&running, "running", |s| s["state"] == "running")
        .await;
    let queued = app.run(json!({"name": "sleeper"})).await;
    let done = app.run(json!({"name": "quick"})).await;
    app.wait_done(&done).await;
    let unknown = scriptd::ids::RunId::new().to_string();
    let cases = [
        ("/scripts/v1/cancel", "missing_id"),
        ("/scripts/v1/kill", "missing_id"),
        (&*format!("/scripts/v1/cancel/{running}"), "script_running"),
        (
            &*format!("/scripts/v1/cancel/{done}"),
            "script_not_queued_running",
        ),
        (
            &*format!("/scripts/v1/cancel/{unknown}"),
            "script_not_queued_running",
        ),
        (
            "/scripts/v1/cancel/..%2F..%2Fetc",
            "script_not_queued_running",
        ),
        (&*format!("/scripts/v1/kill/{queued}"), "script_not_running"),
        (&*format!("/scripts/v1/kill/{done}"), "script_not_running"),
    ];
    for (path, code) in cases {
        assert_eq!(error(&app, path, json!({})).await, code, "{path}");
    }
    for path in [
        format!("/scripts/v1/status/{unknown}"),
        "/scripts/v1/status/NOT-AN-ID".into(),
        format!("/scripts/v1/log/{unknown}"),
    ] {
        let (status, reply) = app.get(&path).await;
        assert_eq!(
            (status, reply["errorcode"].as_str()),
            (400, Some("invalid_id")),
            "{path}"
        );
    }
    app.cancel(&queued).await;
    assert_eq!(app.status(&queued).await["outcome"], "cancelled");
    app.kill(&running).await;
    let killed = app.wait_done(&running).await;
    assert_eq!(killed.outcome, Outcome::Killed);
    assert_eq!(killed.signal, Some(15), "SIGTERM ended it");
}

#[actix_web::test]
async fn guests_only_reach_their_own_script_with_their_rights() {
    let app = spawn_app().await;
    app.exectab("mine /bin/sleep 30\nother /bin/sleep 30\n");
    let other = app.run(json!({"name": "other"})).await;
    let (_, key) = app
        .create_guest("mine", [true, false, true, false], unix_now() + 600)
        .await;
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (app, key) = (&app, key.clone());
        async move { app.call_with(method, &path, Some(&key), body).await.1 }
    };
    let mine = call(
        "POST",
        "/scripts/v1/run".into(),
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_eq!(mine["success"], true, "{mine}");
    let mine = mine["id"].as_str().expect("id").to_owned();
    for (what, reply) in [
        (
            "run another script",
            call(
                "POST",
                "/scripts/v1/run".into(),
                Some(json!({"name": "other"})),
            )
            .await,
        ),
        (
            "status of another script's run",
            call("GET", format!("/scripts/v1/status/{other}"), None).await,
        ),
        (
            "cancel without the right",
            call("POST", format!("/scripts/v1/cancel/{mine}"), None).await,
        ),
        (
            "kill without the right",
            call("POST", format!("/scripts/v1/kill/{mine}"), None).await,
        ),
        (
            "read a log",
            call("GET", format!("/scripts/v1/log/{mine}"), None).await,
        ),
    ] {
        assert_eq!(reply["errorcode"], "access_denied", "{what}: {reply}");
    }
    let status = call("GET", format!("/scripts/v1/status/{mine}"), None).await;
    assert_eq!(status["id"], mine.as_str());
    let all = call("GET", "/scripts/v1/status".into(), None).await;
    assert!(
        all["running"]["mine"].is_array(),
        "ids for its own script: {all}"
    );
    assert_eq!(all["running"]["other"], 1, "counts for others: {all}");
    for id in [other, mine] {
        app.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
        app.wait_done(&id).await;
    }
    let done = call("GET", "/scripts/v1/status".into(), None).await;
    assert_eq!(done["running"], json!({}));
}

#[actix_web::test]
async fn exectab_edits_apply_to_the_very_next_request() {
    let app = spawn_app().await;
    for round in 0..5 {
        app.exectab(&format!("v{round} /bin/true\n"));
        let (status, reply) = app
            .post("/scripts/v1/run", json!({"name": format!("v{round}")}))
            .await;
        assert_eq!(status, 200, "edit {round} used at once: {reply}");
        let (_, reply) = app
            .post(
                "/scripts/v1/run",
                json!({"name": format!("v{}", round + 9)}),
            )
            .await;
        assert_eq!(reply["errorcode"], "invalid_name");
    }
    app.exectab("-s=abc broken /bin/true\ngood /bin/true\n");
    let (status, _) = app.post("/scripts/v1/run", json!({"name": "good"})).await;
    assert_eq!(status, 200, "a malformed line does not stop the rest");
}
