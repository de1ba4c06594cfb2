//! The raw event log and its retention: `GET events` paging, and `admin
//! prune` (with a rebuild after it), against the real server.

use std::collections::HashSet;

use serde_json::{json, Value};

use scriptd::events::types::Outcome;
use scriptd::wire::EventsRequest;

use crate::helpers::history::{all_pages, ids, run_many};
use crate::helpers::{spawn_app, unix_now};

#[actix_web::test]
async fn events_page_through_the_users_log_in_order_without_key_hashes() {
    let app = spawn_app().await;
    app.exectab("-n fast /bin/true\n");
    let runs = run_many(&app, "fast", 30).await;
    for id in &runs {
        app.wait_done(id).await;
    }
    app.create_guest("fast", [true, false, false, false], unix_now() + 3600)
        .await;

    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = app
            .get(&format!("/scripts/v1/events?after={after}&limit=7"))
            .await;
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().expect("events").clone();
        if events.is_empty() {
            assert_eq!(page["next"], Value::Null, "no next after the end");
            break;
        }
        assert_eq!(
            page["next"],
            events[events.len() - 1]["seq"],
            "next is the last seq"
        );
        after = page["next"].as_i64().expect("next");
        all.extend(events);
    }
    let seqs: Vec<i64> = all
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {seqs:?}"
    );
    assert_eq!(all[0]["kind"], "UserCreated", "{}", all[0]);
    assert_eq!(all[0]["run"], Value::Null);
    assert!(
        !all.iter().any(|e| e.to_string().contains("key_hash")),
        "no key hash leaves the server"
    );
    assert!(
        all.iter().any(|e| e["kind"] == "GuestCreated"),
        "guest events are listed"
    );
    let queued = all.iter().filter(|e| e["kind"] == "RunQueued").count();
    assert_eq!(queued, runs.len(), "every run's RunQueued");
    assert!(
        all.iter()
            .all(|e| e["at"].is_f64() && e["data"].is_object()),
        "shape"
    );

    let one = app
        .events(&EventsRequest {
            run: Some(runs[0].clone()),
            ..EventsRequest::default()
        })
        .await;
    let kinds: Vec<&str> = one.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"RunQueued"), "{one}");
    assert_eq!(kinds.last(), Some(&"RunFinished"), "{one}");
    assert!(one
        .events
        .iter()
        .all(|e| e.run.map(|r| r.to_string()).as_ref() == Some(&runs[0])));
}

#[actix_web::test]
async fn prune_removes_old_events_and_logs_keeps_rows_unfinished_runs_and_accounts() {
    // Arrange: two finished runs with logs, one still running.
    let app = spawn_app().await;
    app.exectab("-s=2 echo /bin/echo hello\n-s=1 slow /bin/sleep 30\n");
    let old: Vec<String> = vec![
        app.run(json!({"name": "echo"})).await,
        app.run(json!({"name": "echo"})).await,
    ];
    for id in &old {
        app.wait_done(id).await;
    }
    let running = app.run(json!({"name": "slow"})).await;
    app.wait_status(&running, "running", |s| s["state"] == "running")
        .await;
    let config = app.config();
    assert_eq!(
        app.log(&old[0]).await,
        "hello\n",
        "a finished run has a log before the prune"
    );
    let before = scriptd::clock::now() + 1.0;
    let mut db = scriptd::events::store::open(&config.database())
        .await
        .expect("db");

    // Act
    let report = scriptd::retention::prune(&mut db, &config, before, false)
        .await
        .expect("prune");

    // Assert: the events and logs of the finished runs are gone, their rows stay.
    assert_eq!(
        (report.runs, report.logs, report.rows),
        (2, 2, 0),
        "{report}"
    );
    assert!(report.events >= 4, "{report}");
    for id in &old {
        assert_eq!(app.log(id).await, "", "log of {id} removed");
        let (_, events) = app.get(&format!("/scripts/v1/events?run={id}")).await;
        assert_eq!(events["events"], json!([]), "events of {id} removed");
        assert_eq!(
            app.status(id).await["state"],
            "done",
            "status of {id} stays"
        );
    }
    let history = all_pages(&app, &app.key, "", 100).await;
    assert_eq!(
        ids(&history).into_iter().collect::<HashSet<_>>(),
        old.iter().cloned().collect(),
        "history stays"
    );
    assert_eq!(
        history[0]["requested_by"], "user:1",
        "audit columns outlive the events"
    );
    let (_, events) = app.get(&format!("/scripts/v1/events?run={running}")).await;
    assert!(
        !events["events"].as_array().expect("events").is_empty(),
        "unfinished run untouched"
    );
    let (_, all) = app.get("/scripts/v1/events").await;
    assert_eq!(
        all["events"][0]["kind"], "UserCreated",
        "account events stay"
    );

    // A rebuild after a prune keeps the rows it has no events for.
    db.writer.rebuild().await.expect("rebuild");
    assert_eq!(
        all_pages(&app, &app.key, "", 100).await.len(),
        2,
        "rebuild keeps pruned rows"
    );

    // --all removes the rows too; the running run still ends normally.
    let report = scriptd::retention::prune(&mut db, &config, before, true)
        .await
        .expect("prune all");
    assert_eq!((report.rows, report.events), (2, 0), "{report}");
    assert!(
        all_pages(&app, &app.key, "", 100).await.is_empty(),
        "rows removed"
    );
    assert_eq!(app.status(&old[0]).await["errorcode"], "invalid_id");
    app.kill(&running).await;
    assert_eq!(app.wait_done(&running).await.outcome, Outcome::Killed);
}

#[actix_web::test]
async fn admin_prune_on_an_idle_storage_reports_and_rejects_bad_dates() {
    let dir = tempfile::tempdir().expect("dir");
    let scriptd = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"))
            .args(args)
            .arg("--storage")
            .arg(dir.path())
            .envs(crate::backend::database_env(dir.path()))
            .output()
            .expect("run scriptd")
    };
    // Only `serve` creates a storage; this one is made as it would be.
    drop(
        scriptd::events::store::open(&crate::helpers::config_for(dir.path()).database())
            .await
            .expect("new database"),
    );
    drop(scriptd::lock::lock(dir.path()).expect("the storage's lock file"));
    assert!(
        scriptd(&["user", "add", "alice"]).status.success(),
        "user add"
    );
    let ok = scriptd(&["admin", "prune", "--before", "1700000000", "--all"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("pruned 0 finished runs"), "{stdout}");
    let bad = scriptd(&["admin", "prune", "--before", "last tuesday"]);
    assert!(!bad.status.success(), "bad date refused");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid date"));
}
