//! What is stored: no API key in plain text, the `scriptd user` CLI
//! editing users under a running server, and event-store appends committed
//! in order without gaps.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, unix_now};

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[actix_web::test]
async fn no_api_key_is_stored_in_plain_text() {
    let app = spawn_app().await;
    let (_, guest_key) = app
        .create_guest("demo", [true, false, true, false], unix_now() + 3600)
        .await;
    let config = app.config();
    let mut db = scriptd::events::store::open(&config.database())
        .await
        .expect("db");
    let user = scriptd::admin::add_user(&mut db, &config, "carol", true)
        .await
        .expect("user");
    let rotated = scriptd::admin::rotate_key(&mut db, &config, "carol")
        .await
        .expect("rotate");
    drop(db);
    app.exectab("echo /bin/echo hi\n");
    let id = app.run(json!({"name": "echo"})).await;
    app.wait_done(&id).await;

    let keys = [&app.key, &guest_key, &user.apikey, &rotated.apikey];
    let files = files_under(app.storage.path());
    assert!(
        files.iter().any(|f| f.ends_with("scriptd.db")),
        "the database was scanned"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for key in keys {
            if text.contains(key.as_str()) {
                assert!(
                    file.ends_with("admin.key") && *key == app.key,
                    "key found in {}",
                    file.display()
                );
            }
        }
    }
}

fn cli(storage: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"))
        .args(args)
        .arg("--storage")
        .arg(storage)
        .envs(crate::backend::database_env(storage))
        .env("RUST_LOG", "warn")
        .output()
        .expect("scriptd runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn the_user_cli_adds_lists_rotates_and_removes() {
    let app = spawn_app().await;
    let dir = app.storage.path();
    let (ok, out, err) = cli(dir, &["user", "add", "bob", "--guests", "--json"]);
    assert!(ok, "{err}");
    let added: Value = serde_json::from_str(&out).expect("json");
    let first_key = added["apikey"].as_str().expect("key").to_owned();
    assert_eq!(added["name"], "bob");
    assert!(std::path::Path::new(added["exectab"].as_str().expect("path")).exists());

    let (ok, _, err) = cli(dir, &["user", "add", "bob"]);
    assert!(
        !ok && err.contains("already exists"),
        "duplicate refused: {err}"
    );

    let (_, out, _) = cli(dir, &["user", "list", "--json"]);
    let list: Value = serde_json::from_str(&out).expect("json");
    let names: Vec<_> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("admin"), json!("bob")]);

    let status_with = |key: String| {
        let app = &app;
        async move {
            app.call_with("GET", "/scripts/v1/status", Some(&key), None)
                .await
                .0
        }
    };
    assert_eq!(
        status_with(first_key.clone()).await,
        200,
        "the running server accepts the new key"
    );

    let (ok, out, _) = cli(dir, &["user", "rotate-key", "bob", "--json"]);
    assert!(ok);
    let rotated: Value = serde_json::from_str(&out).expect("json");
    let second_key = rotated["apikey"].as_str().expect("key").to_owned();
    assert_ne!(first_key, second_key);
    assert_eq!(
        status_with(first_key).await,
        403,
        "the old key stops working"
    );
    assert_eq!(status_with(second_key.clone()).await, 200);

    let (ok, _, _) = cli(dir, &["user", "remove", "bob"]);
    assert!(ok);
    assert_eq!(
        status_with(second_key).await,
        403,
        "a removed user's key stops working"
    );
    let (ok, _, err) = cli(dir, &["user", "remove", "bob"]);
    assert!(!ok && err.contains("no user"), "{err}");
}

#[actix_web::test]
async fn concurrent_appends_are_all_committed_in_order_without_gaps() {
    use actix::Actor;
    use scriptd::events::types::{Event, Origin};
    use scriptd::events::{store, Append, EventStore, NewEvent};
    use scriptd::ids::{RunId, ScriptName, UserId};

    let dir = tempfile::tempdir().expect("dir");
    let db = store::open(&crate::helpers::config_for(dir.path()).database())
        .await
        .expect("db");
    let readers = db.readers.clone();
    let store = EventStore::new(db.writer, scriptd::metrics::Metrics::default()).start();
    let name = ScriptName::parse("x").expect("name");
    let appends = (0..50).map(|_| {
        let store = store.clone();
        let readers = readers.clone();
        let event = Event::RunKillRequested {
            run: RunId::new(),
            name: name.clone(),
            origin: Origin::default(),
        };
        async move {
            let stored = store
                .send(Append {
                    events: vec![NewEvent::new(UserId(1), event)],
                })
                .await
                .expect("mailbox")
                .expect("committed");
            let seq = stored[0].seq;
            // Answered only after commit: a fresh reader sees it already.
            let found = readers
                .events_after(UserId(1), seq - 1, 1, None)
                .await
                .expect("query")
                .iter()
                .filter(|e| e.seq == seq)
                .count();
            (seq, found)
        }
    });
    let results = futures_util::future::join_all(appends).await;
    assert!(
        results.iter().all(|(_, found)| *found == 1),
        "every answer came after its commit"
    );
    let mut seqs: Vec<i64> = results.iter().map(|(seq, _)| *seq).collect();
    seqs.sort();
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + 50).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
}

#[actix_web::test]
async fn the_store_refuses_a_second_final_event_of_a_run() {
    use actix::Actor;
    use scriptd::events::types::Event;
    use scriptd::events::{store, Append, EventStore, NewEvent};
    use scriptd::ids::{RunId, UserId};

    let app = spawn_app().await;
    app.exectab("echo /bin/echo hi\n");
    let id = app.run(json!({"name": "echo"})).await;
    app.wait_done(&id).await;
    let run = RunId::parse(&id).expect("run id");

    let db = store::open(&app.config().database()).await.expect("db");
    let readers = db.readers.clone();
    let store = EventStore::new(db.writer, scriptd::metrics::Metrics::default()).start();
    let finals = || async {
        readers
            .events_after(UserId(1), 0, 1000, Some(run))
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.event.final_record().is_some())
            .collect::<Vec<_>>()
    };
    let first = finals().await;
    assert_eq!(first.len(), 1, "the run ended once: {first:?}");
    let Event::RunFinished { record, .. } = first[0].event.clone() else {
        panic!("a finished run: {first:?}");
    };

    // The same end again (a retry after a lost COMMIT answer) and another
    // one (a rescuer's `interrupted`) are refused, each on its own, while
    // a group beside them in the same commit goes in.
    let again = NewEvent::new(UserId(1), first[0].event.clone());
    let interrupted = NewEvent::new(UserId(1), Event::RunInterrupted { run, record });
    let other = NewEvent::new(
        UserId(1),
        Event::RunKillRequested {
            run: RunId::new(),
            name: scriptd::ids::ScriptName::parse("echo").expect("name"),
            origin: Default::default(),
        },
    );
    let (again, interrupted, other) = futures_util::join!(
        store.send(Append {
            events: vec![again]
        }),
        store.send(Append {
            events: vec![interrupted]
        }),
        store.send(Append {
            events: vec![other]
        }),
    );
    for (what, result) in [("repeat", again), ("interrupted", interrupted)] {
        let err = result.expect("mailbox").expect_err(what);
        assert!(err.is_already_ended(), "{what}: {err:?}");
    }
    other
        .expect("mailbox")
        .expect("the unrelated group commits");
    assert_eq!(finals().await.len(), 1, "still one final event");
    let status = app.wait_done(&id).await;
    assert_eq!(status.json["outcome"], "success", "the first end stands");
}
