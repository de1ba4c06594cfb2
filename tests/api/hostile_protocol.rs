//! Hostile and careless clients, part 4: WebSocket framing and malformed
//! HTTP. Fragmented messages are assembled (up to the cap), and the errors
//! the HTTP layer makes itself carry the JSON envelope where the framework
//! lets a body through (README: "Errors of the HTTP layer").

use actix_http::ws::Item;
use awc::ws::{CloseCode, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::raw::{closed, connect_from, raw_from, read_response};
use crate::helpers::{spawn_app, spawn_app_with, WsClient, DEADLINE};

async fn send_fragments(ws: &mut WsClient, text: &str, pieces: usize) {
    let bytes = text.as_bytes();
    let size = bytes.len().div_ceil(pieces);
    let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let chunk = actix_web::web::Bytes::copy_from_slice(chunk);
        let item = match i {
            0 => Item::FirstText(chunk),
            n if n + 1 == chunks.len() => Item::Last(chunk),
            _ => Item::Continue(chunk),
        };
        ws.framed
            .send(Message::Continuation(item))
            .await
            .expect("send a fragment");
    }
}

#[actix_web::test]
async fn a_fragmented_text_message_is_assembled_and_answered() {
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    let message = json!({"api_method": "GET", "api_path": "/scripts/v1/status",
                         "api_sequence": 42, "pad": "x".repeat(3000)})
    .to_string();
    send_fragments(&mut ws, &message, 4).await;
    let reply = ws.recv().await.expect("a reply");
    assert_eq!(reply["api_sequence"], 42, "{reply}");
    assert_eq!(reply["success"], true, "{reply}");
}

#[actix_web::test]
async fn a_fragmented_message_over_the_cap_closes_the_socket_with_1009() {
    let app = spawn_app_with(|c| c.body_cap_bytes = 4096).await;
    let mut ws = app.ws().await;
    let message = json!({"api_method": "GET", "api_path": "/scripts/v1/status",
                         "api_sequence": 1, "pad": "x".repeat(10_000)})
    .to_string();
    send_fragments(&mut ws, &message, 5).await;
    let deadline = std::time::Instant::now() + DEADLINE;
    let reason = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match actix_rt::time::timeout(left, ws.framed.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Frame::Close(reason))) => break reason.expect("a close reason"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(reason.code, CloseCode::Size, "{reason:?}");
    let (status, _) = app.get("/scripts/v1/status").await;
    assert_eq!(status, 200, "the server keeps serving");
}

/// Sends `request` raw and returns the status and whether the body was a
/// JSON envelope (`None`: the framework gave no body).
async fn malformed(port: u16, request: &[u8]) -> (u16, Option<serde_json::Value>) {
    let (_stream, raw) = raw_from("127.0.0.1", port, request).await;
    let body = match raw.body {
        serde_json::Value::String(s) if s.is_empty() => None,
        other => Some(other),
    };
    (raw.status, body)
}

#[actix_web::test]
async fn a_url_over_32_kb_is_a_json_400() {
    let app = spawn_app().await;
    // 40 kB: past the server's own cap, short of the 64 kB beyond which
    // the framework refuses the URL itself, without a body.
    let request = format!(
        "GET /scripts/v1/status?x={} HTTP/1.1\r\nHost: x\r\nX-APIKey: {}\r\n\r\n",
        "a".repeat(40 * 1024),
        app.key
    );
    let (status, body) = malformed(app.port, request.as_bytes()).await;
    assert_eq!(status, 400);
    let body = body.expect("a JSON body");
    assert_eq!(body["errorcode"], "uri_too_long", "{body}");
}

#[actix_web::test]
async fn malformed_requests_get_the_right_status_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1024 * 1024)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    let long_url = format!(
        "GET /scripts/v1/status?x={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let cases: [(&str, Vec<u8>, u16); 6] = [
        ("70 kB URL", long_url.into_bytes(), 400),
        ("1 MB header", huge_header.into_bytes(), 431),
        ("200 headers", many_headers.into_bytes(), 431),
        (
            "Content-Length and Transfer-Encoding",
            b"POST /scripts/v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            400,
        ),
        (
            "negative Content-Length",
            b"POST /scripts/v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".to_vec(),
            400,
        ),
        (
            "HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            400,
        ),
    ];
    for (what, request, want) in cases {
        let mut stream = connect_from("127.0.0.1", app.port).await;
        // A peer may close while a huge request is still being written.
        let _ = stream.write_all(&request).await;
        let raw = read_response(&mut stream).await;
        assert_eq!(raw.status, want, "{what}: {}", raw.head);
        // Where the framework lets a body through it is the JSON envelope;
        // where it cannot, there is none (documented in the README).
        match &raw.body {
            serde_json::Value::String(s) => assert!(s.is_empty(), "{what}: non-JSON body {s}"),
            body => assert_eq!(body["success"], false, "{what}: {body}"),
        }
        assert!(
            closed(&mut stream).await,
            "{what}: the connection is closed"
        );
        let (status, _) = app.get("/scripts/v1/status").await;
        assert_eq!(status, 200, "{what}: the server keeps serving");
    }
}

#[actix_web::test]
async fn a_request_head_that_never_completes_is_answered_408() {
    let app =
        spawn_app_with(|c| c.limits.header_timeout = std::time::Duration::from_millis(500)).await;
    let mut stream = connect_from("127.0.0.1", app.port).await;
    stream
        .write_all(b"GET /scripts/v1/status HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("half a head");
    let raw = read_response(&mut stream).await;
    assert_eq!(raw.status, 408, "{}", raw.head);
}

#[actix_web::test]
async fn a_replay_larger_than_the_session_buffer_reaches_a_reader_that_keeps_reading() {
    let app = spawn_app().await;
    app.exectab("-n big /bin/echo @@1\n");
    // 12 finished pushes of 1 MiB each: more than the 8 MiB a session may
    // hold unwritten, so only a paced replay delivers them all.
    const RUNS: usize = 12;
    let mut ids = Vec::new();
    for i in 0..RUNS {
        let arg = format!("{i}{}", "r".repeat(1024 * 1024 - 8));
        let id = app.run(json!({"name": "big", "args": [arg]})).await;
        ids.push(id);
    }
    for id in &ids {
        app.wait_done(id).await;
    }
    let mut ws = app.ws().await;
    let mut pushes = Vec::new();
    let reply = ws
        .call(
            json!({"api_method": "GET", "api_path": "/scripts/v1/monitor", "api_sequence": 5,
                   "name": "", "after": 0}),
            &mut pushes,
        )
        .await;
    assert_eq!(reply["enabled"], true, "{reply}");
    while pushes.iter().filter(|p| p["state"] == "done").count() < RUNS {
        let push = ws.recv().await.expect("the replay continues while we read");
        pushes.push(push);
    }
    let done: Vec<&str> = pushes
        .iter()
        .filter(|p| p["state"] == "done")
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(
        done,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "every run, in order"
    );
}
