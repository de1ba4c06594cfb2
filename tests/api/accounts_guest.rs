//! Guests and rights: every field of guest creation, users without the
//! guest right, and deleted or expired guest keys refused at once, even on
//! a keep-alive connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_app, unix_now, DEADLINE};

#[actix_web::test]
async fn guest_create_checks_every_field() {
    let app = spawn_app().await;
    let full = json!({"name": "demo", "run": 1, "cancel": "0", "status": true, "monitor": false,
                      "expires": unix_now() + 3600});
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
        ("past", json!(unix_now() - 10)),
        ("now", json!(unix_now())),
        ("text", json!("soon")),
    ] {
        let mut body = full.clone();
        body["expires"] = expires;
        let (_, reply) = app.post("/scripts/v1/guest/create", body).await;
        assert_eq!(reply["errorcode"], "invalid_expires", "{what}: {reply}");
    }
    let mut body = full.clone();
    body["expires"] = json!((unix_now() + 60).to_string());
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
    let list = app.guests().await;
    let guests = list["guests"].as_array().expect("guests");
    assert_eq!(list.guests.len(), 2);
    assert_eq!(list.guests[0].id.to_string(), second["id"], "newest first");
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
    let config = app.config();
    let mut db = scriptd::events::store::open(&config.database())
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
    let (id, key) = app
        .create_guest("demo", [true, true, true, true], unix_now() + 3600)
        .await;
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
    app.delete_guest(&id).await;
    let after = actix_web::rt::task::spawn_blocking(move || {
        raw_get(&mut stream, "/scripts/v1/status", &key)
    })
    .await
    .expect("thread");
    assert_eq!(after, 403, "refused on the same keep-alive connection");
    assert!(app.guests().await.guests.is_empty());
}

#[actix_web::test]
async fn an_expired_guest_key_is_refused_even_on_the_same_connection() {
    let app = spawn_app().await;
    let expires = unix_now() + 2;
    let (_, key) = app
        .create_guest("demo", [true, true, true, true], expires)
        .await;
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
