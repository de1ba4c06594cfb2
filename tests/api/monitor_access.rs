//! Who may use the WebSocket and what it answers: guest monitor rights,
//! envelope errors, HTTP calls over the socket, the key rechecked on every
//! message and sockets closed when their guest is deleted.

use awc::ws::Message;
use futures_util::SinkExt;
use serde_json::{json, Value};

use crate::helpers::ws::{call_quiet, monitor, of_run, pushes_until_done, states, subscribe};
use crate::helpers::{spawn_app, unix_now, TestApp};

/// A guest of the admin for `script` with the given monitor and status
/// rights, valid for an hour.
async fn create_guest(
    app: &TestApp,
    script: &str,
    monitor: bool,
    status: bool,
) -> (String, String) {
    app.create_guest(script, [false, false, status, monitor], unix_now() + 3600)
        .await
}

#[actix_web::test]
async fn a_guest_may_monitor_only_its_own_script_and_only_with_the_monitor_right() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("mine /bin/sh -c \"exit 0\"\ntheirs /bin/sh -c \"exit 0\"");
    let (_, allowed) = create_guest(&app, "mine", true, false).await;
    let (_, refused) = create_guest(&app, "mine", false, true).await;
    let mut guest = app.ws_with(&allowed).await;
    let mut without = app.ws_with(&refused).await;

    // Act
    let denied_other = call_quiet(&mut guest, monitor(1, "theirs")).await;
    let denied_all = call_quiet(&mut guest, monitor(2, "")).await;
    let denied_right = call_quiet(&mut without, monitor(3, "mine")).await;
    subscribe(&mut guest, monitor(4, "mine")).await;
    let id = app.run(json!({"name": "mine"})).await;

    // Assert
    for (what, reply, sequence) in [
        ("another script", &denied_other, 1),
        ("every script", &denied_all, 2),
        ("no monitor right", &denied_right, 3),
    ] {
        assert_eq!(reply["success"], false, "{what}: {reply}");
        assert_eq!(reply["errorcode"], "access_denied", "{what}: {reply}");
        assert_eq!(reply["api_sequence"], sequence, "{what}: {reply}");
    }
    let pushes = pushes_until_done(&mut guest, &id).await;
    assert_eq!(states(&of_run(&pushes, &id)), ["running", "done"]);
    assert!(
        pushes[1].get("args").is_none(),
        "guests never see args: {}",
        pushes[1]
    );
}

#[actix_web::test]
async fn envelope_errors_over_the_socket_have_their_codes_and_no_api_sequence() {
    // Arrange
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("a JSON array", json!([1, 2]), "invalid_data"),
        (
            "no api_method",
            json!({"api_path": "/scripts/v1/status", "api_sequence": 1}),
            "missing_invalid_api_method",
        ),
        (
            "numeric api_method",
            json!({"api_method": 1, "api_path": "/scripts/v1/status", "api_sequence": 1}),
            "missing_invalid_api_method",
        ),
        (
            "no api_path",
            json!({"api_method": "GET", "api_sequence": 1}),
            "missing_invalid_api_path",
        ),
        (
            "no api_sequence",
            json!({"api_method": "GET", "api_path": "/scripts/v1/status"}),
            "missing_invalid_api_sequence",
        ),
        (
            "string api_sequence",
            json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": "1"}),
            "missing_invalid_api_sequence",
        ),
        (
            "fractional api_sequence",
            json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 1.5}),
            "missing_invalid_api_sequence",
        ),
    ];

    // Act + Assert
    ws.framed
        .send(Message::Text("this is not json".into()))
        .await
        .expect("ws send");
    let reply = ws.recv().await.expect("reply to non-JSON");
    assert_eq!(reply["success"], false, "non-JSON: {reply}");
    assert_eq!(reply["errorcode"], "invalid_data", "non-JSON: {reply}");
    assert!(reply.get("api_sequence").is_none(), "non-JSON: {reply}");
    for (what, message, code) in cases {
        ws.send(message).await;
        let reply = ws.recv().await.expect("reply");
        assert_eq!(reply["success"], false, "{what}: {reply}");
        assert_eq!(reply["errorcode"], code, "{what}: {reply}");
        assert!(reply["error"].is_string(), "{what}: {reply}");
        assert!(reply.get("api_sequence").is_none(), "{what}: {reply}");
    }
}

#[actix_web::test]
async fn an_api_call_over_the_socket_answers_the_http_body_plus_its_api_sequence() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("hold /bin/sleep 30");
    let id = app.run(json!({"name": "hold"})).await;
    app.wait_status(&id, "hold running", |s| s["state"] == "running")
        .await;
    let mut ws = app.ws().await;

    // Act
    let (code, over_http) = app.get("/scripts/v1/status").await;
    let over_ws = call_quiet(
        &mut ws,
        json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 31}),
    )
    .await;
    let error_ws = call_quiet(
        &mut ws,
        json!({"api_method": "GET", "api_path": "/scripts/v1/status/nope", "api_sequence": 32}),
    )
    .await;
    let (monitor_code, monitor_http) = app.get("/scripts/v1/monitor?name=hold").await;

    // Assert
    assert_eq!(code, 200);
    assert_eq!(over_http["running"]["hold"], json!([id]), "{over_http}");
    let mut expected = over_http.clone();
    expected["api_sequence"] = json!(31);
    assert_eq!(over_ws, expected);
    assert_eq!(error_ws["errorcode"], "invalid_id", "{error_ws}");
    assert_eq!(error_ws["api_sequence"], 32, "{error_ws}");
    assert_eq!(monitor_code, 400, "{monitor_http}");
    assert_eq!(monitor_http["errorcode"], "use_websocket", "{monitor_http}");
    app.kill(&id).await;
}

#[actix_web::test]
async fn a_socket_rechecks_the_key_on_every_message_and_closes_once_it_is_invalid() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("mine /bin/sh -c \"exit 0\"");
    let (guest_id, key) = create_guest(&app, "mine", false, true).await;
    let mut ws = app.ws_with(&key).await;
    let status = json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 1});
    let before = call_quiet(&mut ws, status.clone()).await;
    assert_eq!(before["success"], true, "the guest key works: {before}");

    // Act
    app.delete_guest(&guest_id).await;
    ws.send(json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 2}))
        .await;

    // Assert
    let refused = ws.recv().await.expect("a refusal before the close");
    assert_eq!(refused["success"], false, "{refused}");
    assert_eq!(refused["errorcode"], "invalid_missing_apikey", "{refused}");
    assert_eq!(refused["api_sequence"], 2, "{refused}");
    assert!(ws.recv().await.is_none(), "the socket is closed");
}

#[actix_web::test]
async fn deleting_a_guest_closes_its_monitor_socket() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("mine /bin/sh -c \"exit 0\"");
    let (guest_id, key) = create_guest(&app, "mine", true, false).await;
    let mut ws = app.ws_with(&key).await;
    subscribe(&mut ws, monitor(1, "mine")).await;

    // Act
    app.delete_guest(&guest_id).await;

    // Assert: closed without the client sending anything.
    assert!(ws.recv().await.is_none(), "the monitor socket is closed");
}
