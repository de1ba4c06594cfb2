//! Foundation: the envelope and its error codes, where the key may be
//! sent, and the first-run bootstrap. Guests are in `accounts_guest`; keys
//! at rest, the user CLI and the event store in `accounts_store`.

use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with};

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
            // `/` is the dashboard (issue 18); paths beside it are not.
            "a path beside the dashboard",
            "GET",
            "/index.html",
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
    // A connection of its own: a pooled one could carry a remembered key.
    let mut resp = awc::Client::default()
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
    let scripts = app.scripts().await;
    assert!(
        scripts.scripts.contains_key("demo"),
        "demo seeded: {scripts}"
    );
    let exectab = std::fs::read_to_string(app.scripts_dir().join("exectab.txt")).expect("exectab");
    assert!(
        exectab.contains("[1/3]") && exectab.contains("%]"),
        "demo prints progress"
    );
}
