//! Small protocol gaps closed: every reply says `Cache-Control: no-store`,
//! `/ui/` is the dashboard, a WebSocket message over the cap gets 1009
//! however it is framed, a request from another site's page never borrows
//! its connection's remembered key, and an argument with a NUL is refused
//! when it is queued.

use awc::ws::{CloseCode, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::raw::{connect_from, read_response};
use crate::helpers::{spawn_app, spawn_app_with, unix_now, WsClient, DEADLINE};

/// The `Cache-Control` of a raw response head.
fn cache_control(head: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("cache-control")
            .then(|| value.trim().to_owned())
    })
}

/// One request on a fresh connection; the status and the head.
async fn head_of(port: u16, request: String) -> (u16, String) {
    let mut stream = connect_from("127.0.0.1", port).await;
    stream.write_all(request.as_bytes()).await.expect("request");
    let raw = read_response(&mut stream).await;
    (raw.status, raw.head)
}

#[actix_web::test]
async fn every_api_reply_says_no_store_and_ui_slash_is_the_dashboard() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("say /bin/echo secret output\n");
    let id = app.run(json!({"name": "say"})).await;
    app.wait_done(&id).await;
    let guest = json!({"name": "say", "expires": unix_now() + 3600, "run": true,
                       "cancel": false, "status": true, "monitor": false})
    .to_string();
    let key = &app.key;
    let get = |path: &str, key: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-APIKey: {key}\r\nConnection: close\r\n\r\n")
    };

    // Act
    let replies = [
        (
            "a log",
            head_of(app.port, get(&format!("/scripts/v1/log/{id}"), key)).await,
        ),
        (
            "a status",
            head_of(app.port, get("/scripts/v1/status", key)).await,
        ),
        (
            "a refusal",
            head_of(app.port, get("/scripts/v1/status", "wrong")).await,
        ),
        (
            "a new guest key",
            head_of(
                app.port,
                format!(
                    "POST /scripts/v1/guest/create HTTP/1.1\r\nHost: x\r\nX-APIKey: {key}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{guest}",
                    guest.len()
                ),
            )
            .await,
        ),
        (
            "outside the API",
            head_of(app.port, get("/nowhere", key)).await,
        ),
    ];
    let ui = head_of(app.port, get("/ui/", "")).await;

    // Assert
    for (what, (status, head)) in &replies {
        assert_eq!(
            cache_control(head).as_deref(),
            Some("no-store"),
            "{what} ({status}): {head}"
        );
    }
    assert_eq!(replies[0].1 .0, 200, "the log was served");
    assert_eq!(replies[3].1 .0, 200, "the guest was made");
    assert_eq!(ui.0, 200, "GET /ui/ is the dashboard: {}", ui.1);
    assert!(ui.1.contains("text/html"), "{}", ui.1);
}

/// The close code the server ends `ws` with.
async fn close_code(ws: &mut WsClient) -> CloseCode {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match actix_rt::time::timeout(left, ws.framed.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Frame::Close(reason))) => return reason.expect("a close reason").code,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[actix_web::test]
async fn one_unfragmented_websocket_frame_over_the_cap_is_closed_with_1009_whatever_its_size() {
    // Arrange: the default cap (2 MiB).
    let app = spawn_app().await;
    let message = |pad: usize| {
        json!({"api_method": "GET", "api_path": "/scripts/v1/status",
               "api_sequence": 1, "pad": "x".repeat(pad)})
        .to_string()
    };

    // Act: 3 MiB (over the cap, under the old frame limit) and 5 MiB.
    let mut codes = Vec::new();
    for size in [3 << 20, 5 << 20] {
        let mut ws = app.ws().await;
        ws.framed
            .send(Message::Text(message(size).into()))
            .await
            .expect("send one frame");
        codes.push((size, close_code(&mut ws).await));
    }
    let mut ws = app.ws().await;
    ws.framed
        .send(Message::Text(message(1 << 20).into()))
        .await
        .expect("send one frame");
    let under = ws.recv().await.expect("a reply");

    // Assert
    for (size, code) in codes {
        assert_eq!(code, CloseCode::Size, "a {size}-byte frame");
    }
    assert_eq!(under["success"], true, "1 MiB is under the cap: {under}");
}

/// One request on a kept-alive connection, and its response.
async fn send(stream: &mut tokio::net::TcpStream, text: String) -> crate::helpers::raw::Raw {
    stream.write_all(text.as_bytes()).await.expect("write");
    read_response(stream).await
}

#[actix_web::test]
async fn a_cross_site_request_does_not_borrow_its_connections_remembered_key() {
    // Arrange: a connection that presented the admin key once.
    let app = spawn_app().await;
    let mut stream = connect_from("127.0.0.1", app.port).await;
    let port = app.port;
    let request = |extra: &str, key: &str| {
        let key = if key.is_empty() {
            String::new()
        } else {
            format!("X-APIKey: {key}\r\n")
        };
        format!("GET /scripts/v1/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{key}{extra}\r\n")
    };
    let first = send(&mut stream, request("", &app.key)).await;

    // Act
    let foreign_origin = send(&mut stream, request("Origin: https://evil.example\r\n", "")).await;
    let cross_site = send(&mut stream, request("Sec-Fetch-Site: cross-site\r\n", "")).await;
    let same_origin = send(
        &mut stream,
        request(&format!("Origin: http://127.0.0.1:{port}\r\n"), ""),
    )
    .await;
    let sdk_like = send(&mut stream, request("", "")).await;

    // Assert
    assert_eq!(first.status, 200, "{}", first.body);
    for (what, reply) in [
        ("another Origin", &foreign_origin),
        ("cross-site", &cross_site),
    ] {
        assert_eq!(reply.status, 403, "{what}: {}", reply.body);
        assert_eq!(reply.body["errorcode"], "invalid_missing_apikey", "{what}");
    }
    assert_eq!(same_origin.status, 200, "same origin: {}", same_origin.body);
    assert_eq!(
        sdk_like.status, 200,
        "the PHP SDK's keyless request: {}",
        sdk_like.body
    );
}

#[actix_web::test]
async fn an_argument_with_a_nul_is_refused_when_queued() {
    // Arrange
    let app = spawn_app_with(|_| {}).await;
    app.exectab("echo /bin/echo @@1\n");

    // Act
    let (status, reply) = app
        .post(
            "/scripts/v1/run",
            json!({"name": "echo", "args": ["a\u{0}b"]}),
        )
        .await;

    // Assert
    assert_eq!(reply["errorcode"], "invalid_args", "{status}: {reply}");
    let (_, list) = app.get("/scripts/v1/status").await;
    assert_eq!(list["running"], json!({}), "nothing was queued: {list}");
    assert_eq!(list["queued"], json!({}), "nothing was queued: {list}");
}
