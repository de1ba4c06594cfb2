//! Hostile and careless clients, part 1: connection exhaustion. Raw TCP
//! where a well-behaved client library would not send what an attacker
//! does. Limits are lowered in each test's config so that a handful of
//! connections shows the limit and that other clients are still served.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::raw::{closed, connect_from, raw_from, read_response};
use crate::helpers::{eventually_ok, spawn_app_with, TestApp, WsClient, DEADLINE};

fn healthz() -> &'static [u8] {
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
}

#[actix_web::test]
async fn a_request_without_a_key_is_refused_before_its_body_is_read() {
    let app = spawn_app_with(|_| {}).await;
    let request = b"POST /scripts/v1/run HTTP/1.1\r\nHost: x\r\n\
        Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
    let (mut stream, raw) = raw_from("127.0.0.1", app.port, request).await;
    assert_eq!(raw.status, 403, "{}", raw.head);
    assert_eq!(
        raw.body["errorcode"], "invalid_missing_apikey",
        "{}",
        raw.body
    );
    assert!(
        closed(&mut stream).await,
        "the connection with an unread body is closed"
    );
}

#[actix_web::test]
async fn a_wrong_key_in_the_header_is_refused_before_the_body() {
    let app = spawn_app_with(|_| {}).await;
    let request = b"POST /scripts/v1/run HTTP/1.1\r\nHost: x\r\nX-APIKey: nope\r\n\
        Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
    let (_stream, raw) = raw_from("127.0.0.1", app.port, request).await;
    assert_eq!(raw.status, 403, "{}", raw.head);
    assert_eq!(raw.body["errorcode"], "invalid_missing_apikey");
}

#[actix_web::test]
async fn a_form_body_without_a_key_is_read_only_up_to_a_small_cap() {
    let app = spawn_app_with(|c| c.limits.unauthenticated_body_cap = 1024).await;
    let big = format!("apikey={}&name=x&pad={}", app.key, "a".repeat(4000));
    let request = format!(
        "POST /scripts/v1/status HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    let (_s, raw) = raw_from("127.0.0.1", app.port, request.as_bytes()).await;
    assert_eq!(raw.status, 413, "{}", raw.body);
    assert_eq!(raw.body["errorcode"], "request_too_large");

    let small = format!("apikey={}", app.key);
    let request = format!(
        "GET /scripts/v1/status HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{small}",
        small.len()
    );
    let (_s, raw) = raw_from("127.0.0.1", app.port, request.as_bytes()).await;
    assert_eq!(
        raw.status, 200,
        "a small form carrying the key works: {}",
        raw.body
    );
}

#[actix_web::test]
async fn a_stalled_body_is_answered_408_after_the_idle_timeout() {
    let app = spawn_app_with(|c| c.limits.body_idle_timeout = Duration::from_millis(500)).await;
    let request = format!(
        "POST /scripts/v1/run HTTP/1.1\r\nHost: x\r\nX-APIKey: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{",
        app.key
    );
    let (mut stream, raw) = raw_from("127.0.0.1", app.port, request.as_bytes()).await;
    assert_eq!(raw.status, 408, "{}", raw.head);
    assert_eq!(raw.body["errorcode"], "request_timeout", "{}", raw.body);
    assert!(
        closed(&mut stream).await,
        "the stalled connection is closed"
    );
}

#[actix_web::test]
async fn a_body_that_trickles_past_the_deadline_is_answered_408() {
    let app = spawn_app_with(|c| {
        c.limits.body_idle_timeout = Duration::from_secs(5);
        c.limits.request_deadline = Duration::from_secs(1);
    })
    .await;
    let mut stream = connect_from("127.0.0.1", app.port).await;
    let head = format!(
        "POST /scripts/v1/run HTTP/1.1\r\nHost: x\r\nX-APIKey: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        app.key
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    // One byte every 200 ms never trips the idle timeout; the deadline ends it.
    let start = Instant::now();
    let raw = loop {
        assert!(
            start.elapsed() < DEADLINE,
            "the deadline ends a trickling body"
        );
        if stream.write_all(b" ").await.is_err() {
            break read_response(&mut stream).await;
        }
        let mut peek = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(200), stream.peek(&mut peek)).await {
            Ok(_) => break read_response(&mut stream).await,
            Err(_) => continue,
        }
    };
    assert_eq!(raw.status, 408, "{}", raw.head);
    assert_eq!(raw.body["errorcode"], "request_timeout");
}

#[actix_web::test]
async fn connections_over_the_per_address_limit_get_a_json_503_and_others_are_served() {
    let app = spawn_app_with(|c| {
        c.limits.max_connections_per_address = 3;
        c.limits.header_timeout = Duration::from_secs(60);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(connect_from("127.0.0.1", app.port).await);
    }
    // The server counts a connection when it accepts it: wait until the
    // fourth is refused.
    let start = Instant::now();
    let refused = loop {
        let (_s, raw) = raw_from("127.0.0.1", app.port, healthz()).await;
        if raw.status == 503 {
            break raw;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the fourth connection is refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        refused.body["errorcode"], "too_many_connections",
        "{}",
        refused.body
    );
    assert!(
        refused
            .head
            .to_ascii_lowercase()
            .contains("connection: close"),
        "{}",
        refused.head
    );

    let (_s, other) = raw_from("127.0.0.2", app.port, healthz()).await;
    assert_eq!(
        other.status, 200,
        "another address is served: {}",
        other.body
    );

    drop(idle.pop());
    let start = Instant::now();
    loop {
        let (_s, raw) = raw_from("127.0.0.1", app.port, healthz()).await;
        if raw.status == 200 {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "a closed connection frees its place"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn connections_over_the_total_limit_are_refused_at_once() {
    let app = spawn_app_with(|c| {
        c.limits.max_connections = Some(4);
        c.limits.header_timeout = Duration::from_secs(60);
    })
    .await;
    let mut idle = Vec::new();
    for from in ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"] {
        idle.push(connect_from(from, app.port).await);
    }
    let start = Instant::now();
    loop {
        let (_s, raw) = raw_from("127.0.0.7", app.port, healthz()).await;
        if raw.status == 503 {
            assert_eq!(raw.body["errorcode"], "too_many_connections");
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the fifth connection is refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(idle);
    let start = Instant::now();
    loop {
        let (_s, raw) = raw_from("127.0.0.7", app.port, healthz()).await;
        if raw.status == 200 {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "closed connections free their places"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn websocket_sessions_per_key_are_capped() {
    let app = spawn_app_with(|c| c.limits.max_websockets_per_key = 2).await;
    let _a = app.ws().await;
    let _b = app.ws().await;
    let refused = app
        .client
        .ws(format!("ws://127.0.0.1:{}/scripts/v1", app.port))
        .set_header("X-APIKey", app.key.as_str())
        .connect()
        .await;
    match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            assert_eq!(status.as_u16(), 429)
        }
        Err(other) => panic!("expected a 429 refusal, got {other}"),
        Ok(_) => panic!("a third session on one key was accepted"),
    }
    let (_id, guest) = app
        .create_guest(
            "x",
            [false, false, false, true],
            crate::helpers::unix_now() + 3600,
        )
        .await;
    let mut other = app.ws_with(&guest).await;
    let mut pushes = Vec::new();
    let reply = other
        .call(
            json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 1}),
            &mut pushes,
        )
        .await;
    assert_eq!(
        reply["errorcode"], "access_denied",
        "another key still connects: {reply}"
    );
}

#[actix_web::test]
async fn an_exectab_that_cannot_be_read_is_a_503_not_invalid_name() {
    let app = spawn_app_with(|_| {}).await;
    app.exectab("x /bin/true\n");
    assert_eq!(
        app.post("/scripts/v1/run", json!({"name": "nope"})).await.1["errorcode"],
        "invalid_name"
    );
    // Any read failure other than "no such file" (EMFILE, ENOMEM, here
    // EISDIR) must not look like an empty exectab.
    let path = app.scripts_dir().join("exectab.txt");
    std::fs::remove_file(&path).expect("remove exectab");
    std::fs::create_dir(&path).expect("a directory in its place");
    let (status, reply) = app.post("/scripts/v1/run", json!({"name": "x"})).await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["errorcode"], "temporarily_unavailable", "{reply}");
    let mut ws = app.ws().await;
    let mut pushes = Vec::new();
    let reply = ws
        .call(
            json!({"api_method": "POST", "api_path": "/scripts/v1/run", "api_sequence": 7, "name": "x"}),
            &mut pushes,
        )
        .await;
    assert_eq!(
        reply["errorcode"], "temporarily_unavailable",
        "over a WebSocket too: {reply}"
    );
}

#[actix_web::test]
async fn connections_that_served_requests_give_their_places_back() {
    let app = spawn_app_with(|c| c.limits.max_connections_per_address = 3).await;
    for i in 0..20 {
        let request = format!(
            "GET /scripts/v1/status HTTP/1.1\r\nHost: x\r\nX-APIKey: {}\r\nConnection: close\r\n\r\n",
            app.key
        );
        let (mut stream, raw) = raw_from("127.0.0.1", app.port, request.as_bytes()).await;
        assert!(closed(&mut stream).await);
        if raw.status == 503 {
            // The server may not have dropped the last connection yet.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(raw.status, 200, "request {i}: {}", raw.body);
    }
    let mut pushes = Vec::new();
    for i in 0..10 {
        let mut ws = ws_once_admitted(&app).await;
        let reply = ws
            .call(
                json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": i}),
                &mut pushes,
            )
            .await;
        assert_eq!(reply["success"], true, "socket {i}: {reply}");
        drop(ws);
    }
}

/// Opens a WebSocket once the server admits the connection: it counts a
/// closed socket until it has noticed the close, which a loaded machine
/// may delay; only that 503 is waited out.
async fn ws_once_admitted(app: &TestApp) -> WsClient {
    let what = "the server to let go of the closed sockets";
    eventually_ok(what, || async {
        let attempt = app
            .client
            .ws(format!("ws://127.0.0.1:{}/scripts/v1", app.port))
            .set_header("X-APIKey", app.key.as_str())
            .connect()
            .await;
        match attempt {
            Ok((_, framed)) => Ok(WsClient { framed }),
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) if status == 503 => {
                Err(status)
            }
            Err(err) => panic!("websocket connects: {err}"),
        }
    })
    .await
}
