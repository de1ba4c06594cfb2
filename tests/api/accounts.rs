//! Foundation: envelope and error codes, keys checked on every request,
//! guests, first-run bootstrap, the user CLI and the event store.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, DEADLINE};

fn now() -> i64 {
    scriptd::clock::now_secs()
}

async fn create_guest(
    app: &TestApp,
    name: &str,
    rights: [bool; 4],
    expires: i64,
) -> (String, String) {
    let body = json!({"name": name, "run": rights[0], "cancel": rights[1], "status": rights[2],
                      "monitor": rights[3], "expires": expires});
    let (status, reply) = app.post("/scripts/v1/guest/create", body).await;
    assert_eq!(status, 200, "guest created: {reply}");
    let id = reply["id"].as_str().expect("guest id").to_owned();
    let key = reply["info"]["apikey"]
        .as_str()
        .expect("guest key")
        .to_owned();
    (id, key)
}

/// (what, method, path, key, body, status, errorcode)
type Case<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<Value>,
    u16,
    &'a str,
);

#[actix_web::test]
async fn every_envelope_error_has_its_code_and_status() {
    let app = spawn_app_with(|c| c.body_cap_bytes = 4096).await;
    let key = app.key.clone();
    let cases: Vec<Case> = vec![
        (
            "unknown endpoint",
            "GET",
            "/scripts/v1/nope",
            Some(&key),
            None,
            400,
            "invalid_api_call",
        ),
        (
            "run needs POST",
            "GET",
            "/scripts/v1/run",
            Some(&key),
            None,
            400,
            "use_post_request",
        ),
        (
            "cancel needs POST",
            "GET",
            "/scripts/v1/cancel/x",
            Some(&key),
            None,
            400,
            "use_post_request",
        ),
        (
            "status needs GET",
            "POST",
            "/scripts/v1/status",
            Some(&key),
            Some(json!({})),
            400,
            "use_get_request",
        ),
        (
            "guest list needs GET",
            "POST",
            "/scripts/v1/guest/list",
            Some(&key),
            Some(json!({})),
            400,
            "use_get_request",
        ),
        (
            "guest delete needs DELETE",
            "GET",
            "/scripts/v1/guest/delete/x",
            Some(&key),
            None,
            400,
            "use_delete_request",
        ),
        (
            "monitor needs a websocket",
            "GET",
            "/scripts/v1/monitor",
            Some(&key),
            None,
            400,
            "use_websocket",
        ),
        (
            "no key",
            "GET",
            "/scripts/v1/status",
            None,
            None,
            403,
            "invalid_missing_apikey",
        ),
        (
            "wrong key",
            "GET",
            "/scripts/v1/status",
            Some("0123"),
            None,
            403,
            "invalid_missing_apikey",
        ),
        (
            "outside /scripts",
            "GET",
            "/files/v1/list",
            Some(&key),
            None,
            403,
            "bad_server_extension",
        ),
        (
            "root path",
            "GET",
            "/",
            None,
            None,
            403,
            "bad_server_extension",
        ),
    ];
    for (what, method, path, key, body, status, code) in cases {
        let (got_status, reply) = app.call_with(method, path, key, body).await;
        assert_eq!(got_status, status, "{what}: {reply}");
        assert_eq!(reply["success"], false, "{what}: {reply}");
        assert_eq!(reply["errorcode"], code, "{what}: {reply}");
        assert!(
            reply["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: human text"
        );
    }

    let mut resp = app
        .client
        .post(format!("{}/scripts/v1/run", app.base))
        .insert_header(("X-APIKey", app.key.as_str()))
        .insert_header(("Content-Type", "application/json"))
        .send_body("this is not json")
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 400);
    let reply: Value = resp.json().await.expect("json");
    assert_eq!(reply["errorcode"], "invalid_data");

    let big = json!({"name": "demo", "stdin": "x".repeat(8192)});
    let (status, reply) = app.post("/scripts/v1/run", big).await;
    assert_eq!(status, 413, "{reply}");
    assert_eq!(reply["errorcode"], "request_too_large");

    let (status, reply) = app.call_with("GET", "/healthz", None, None).await;
    assert_eq!((status, &reply["success"]), (200, &json!(true)));
}

#[actix_web::test]
async fn the_key_is_accepted_as_header_query_or_form_field() {
    let app = spawn_app().await;
    let (status, _) = app
        .call_with(
            "GET",
            &format!("/scripts/v1/status?apikey={}", app.key),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "query field");
    let mut resp = app
        .client
        .post(format!("{}/scripts/v1/guest/list", app.base))
        .send_form(&[("apikey", app.key.as_str())])
        .await
        .expect("sent");
    let reply: Value = resp.json().await.expect("json");
    assert_eq!(
        reply["errorcode"], "use_get_request",
        "form key authenticates: {reply}"
    );
}

#[actix_web::test]
async fn guest_create_checks_every_field() {
    let app = spawn_app().await;
    let full = json!({"name": "demo", "run": 1, "cancel": "0", "status": true, "monitor": false,
                      "expires": now() + 3600});
    for field in ["name", "run", "cancel", "status", "monitor", "expires"] {
        let mut body = full.clone();
        body.as_object_mut().expect("object").remove(field);
        let (status, reply) = app.post("/scripts/v1/guest/create", body).await;
        assert_eq!(status, 400, "without {field}");
        assert_eq!(
            reply["errorcode"],
            format!("missing_{field}"),
            "without {field}: {reply}"
        );
    }
    for (what, expires) in [
        ("past", json!(now() - 10)),
        ("now", json!(now())),
        ("text", json!("soon")),
    ] {
        let mut body = full.clone();
        body["expires"] = expires;
        let (_, reply) = app.post("/scripts/v1/guest/create", body).await;
        assert_eq!(reply["errorcode"], "invalid_expires", "{what}: {reply}");
    }
    let mut body = full.clone();
    body["expires"] = json!((now() + 60).to_string());
    let (status, reply) = app.post("/scripts/v1/guest/create", body).await;
    assert_eq!(status, 200, "numeric string expiry: {reply}");
    let info = &reply["info"];
    assert_eq!(info["id"], reply["id"]);
    assert_eq!(
        info["info"],
        json!({"name": "demo", "run": true, "cancel": false, "status": true, "monitor": false})
    );
    assert_eq!(
        info["apikey"].as_str().map(str::len),
        Some(64),
        "256-bit key shown once"
    );

    let (_, second) = app.post("/scripts/v1/guest/create", full.clone()).await;
    let (_, list) = app.get("/scripts/v1/guest/list").await;
    let guests = list["guests"].as_array().expect("guests");
    assert_eq!(guests.len(), 2);
    assert_eq!(guests[0]["id"], second["id"], "newest first");
    assert!(
        guests.iter().all(|g| g.get("apikey").is_none()),
        "keys are shown only at creation"
    );

    let guest_key = second["info"]["apikey"].as_str().expect("key");
    let (status, reply) = app
        .call_with("GET", "/scripts/v1/guest/list", Some(guest_key), None)
        .await;
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (400, Some("access_denied")),
        "guests cannot manage guests"
    );
    let (_, reply) = app
        .call_with(
            "DELETE",
            "/scripts/v1/guest/delete/not-an-id",
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(reply["errorcode"], "invalid_id");
}

#[actix_web::test]
async fn users_without_the_guest_right_cannot_manage_guests() {
    let app = spawn_app().await;
    let config = scriptd::config::Config::new(app.storage.path());
    let mut db = scriptd::events::store::open(&config.database_path())
        .await
        .expect("db");
    let plain = scriptd::admin::add_user(&mut db, &config, "plain", false)
        .await
        .expect("user");
    let (status, reply) = app
        .call_with("GET", "/scripts/v1/guest/list", Some(&plain.apikey), None)
        .await;
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (400, Some("access_denied"))
    );
    let (status, _) = app
        .call_with("GET", "/scripts/v1/status", Some(&plain.apikey), None)
        .await;
    assert_eq!(status, 200, "the new user's key works at once");
}

/// One request on an existing keep-alive connection; returns the status.
fn raw_get(stream: &mut TcpStream, path: &str, key: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nX-APIKey: {key}\r\nConnection: keep-alive\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read head");
        assert_eq!(n, 1, "connection closed early");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().expect("len"))
        })
        .expect("content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("body");
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status")
}

#[actix_web::test]
async fn a_deleted_guest_key_is_refused_at_once_even_on_the_same_connection() {
    let app = spawn_app().await;
    let (id, key) = create_guest(&app, "demo", [true, true, true, true], now() + 3600).await;
    let port = app.port;
    let guest_key = key.clone();
    // Blocking socket work runs off the test thread, which also runs the server's actors.
    let (mut stream, before) = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let status = raw_get(&mut stream, "/scripts/v1/status", &guest_key);
        (stream, status)
    })
    .await
    .expect("thread");
    assert_eq!(before, 200, "the guest key works before deletion");
    let (status, reply) = app
        .call_with(
            "DELETE",
            &format!("/scripts/v1/guest/delete/{id}"),
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let after = actix_web::rt::task::spawn_blocking(move || {
        raw_get(&mut stream, "/scripts/v1/status", &key)
    })
    .await
    .expect("thread");
    assert_eq!(after, 403, "refused on the same keep-alive connection");
    let (_, list) = app.get("/scripts/v1/guest/list").await;
    assert_eq!(list["guests"], json!([]));
}

#[actix_web::test]
async fn an_expired_guest_key_is_refused_even_on_the_same_connection() {
    let app = spawn_app().await;
    let expires = now() + 2;
    let (_, key) = create_guest(&app, "demo", [true, true, true, true], expires).await;
    let port = app.port;
    let result = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let before = raw_get(&mut stream, "/scripts/v1/status", &key);
        let start = Instant::now();
        // Poll on the same connection until the key expires.
        loop {
            let status = raw_get(&mut stream, "/scripts/v1/status", &key);
            if status != 200 {
                return (before, status, scriptd::clock::now_secs());
            }
            assert!(start.elapsed() < DEADLINE, "key never expired");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .expect("thread");
    assert_eq!(result.0, 200, "works before expiry");
    assert_eq!(result.1, 403, "refused after expiry");
    assert!(result.2 >= expires, "refused only once expired");
}

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
    let (_, guest_key) = create_guest(&app, "demo", [true, false, true, false], now() + 3600).await;
    let config = scriptd::config::Config::new(app.storage.path());
    let mut db = scriptd::events::store::open(&config.database_path())
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

#[actix_web::test]
async fn first_run_writes_a_private_key_file_and_a_demo_script() {
    let app = spawn_app().await;
    let key_file = app.storage.path().join("admin.key");
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&key_file).expect("read").trim(),
        app.key
    );
    let (_, scripts) = app.get("/scripts/v1/scripts").await;
    assert!(
        scripts["scripts"]["demo"].is_object(),
        "demo seeded: {scripts}"
    );
    let exectab = std::fs::read_to_string(app.scripts_dir().join("exectab.txt")).expect("exectab");
    assert!(
        exectab.contains("[1/3]") && exectab.contains("%]"),
        "demo prints progress"
    );
}

fn cli(storage: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"))
        .args(args)
        .arg("--storage")
        .arg(storage)
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
    let db = store::open(&dir.path().join("scriptd.db"))
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
            let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE seq = ?")
                .bind(seq)
                .fetch_one(&readers)
                .await
                .expect("query");
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
