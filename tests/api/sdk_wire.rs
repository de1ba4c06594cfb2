//! Wire details the original SDK relies on: `[]` as "no fields", typed
//! JSON fields next to text form and query fields, the cancelled run's
//! `[CANCEL]` lines, and monitor names that must be scripts.

use serde_json::{json, Value};

use super::helpers::{spawn_app, TestApp};
use scriptd::events::types::Outcome;

use crate::helpers::ws::{call_quiet, monitor, subscribe};

/// POSTs `body` as JSON text with the admin key.
async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let mut resp = app
        .client
        .post(format!("{}{}", app.base, path))
        .insert_header(("X-APIKey", app.key.as_str()))
        .insert_header(("Content-Type", content_type))
        .send_body(body.to_owned())
        .await
        .expect("sent");
    let value = resp.json().await.expect("json reply");
    (resp.status().as_u16(), value)
}

#[actix_web::test]
async fn an_empty_json_array_means_no_fields_and_other_non_objects_stay_invalid_data() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("hold /bin/sleep 30\n");
    let json = "application/json";

    // Act
    let run_without_fields = post_raw(&app, "/scripts/v1/run", json, "[]").await;
    let cancel_unknown = post_raw(&app, "/scripts/v1/cancel/nope", json, " [ ] ").await;
    let cases = [
        ("[1]", "a non-empty array"),
        ("\"x\"", "a string"),
        ("7", "a number"),
    ];

    // Assert
    assert_eq!(
        run_without_fields.1["errorcode"], "missing_name",
        "{:?}",
        run_without_fields
    );
    assert_eq!(cancel_unknown.1["errorcode"], "script_not_queued_running");
    for (body, what) in cases {
        let (status, reply) = post_raw(&app, "/scripts/v1/run", json, body).await;
        assert_eq!(
            (status, &reply["errorcode"]),
            (400, &json!("invalid_data")),
            "{what}: {reply}"
        );
    }
}

#[actix_web::test]
async fn queue_is_a_json_integer_in_json_and_a_decimal_string_in_form_and_query_fields() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("later /bin/sh -c \"exit 0\"\n");
    let at = super::helpers::unix_now() + 3600;
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";

    // Act
    let json_string = post_raw(
        &app,
        "/scripts/v1/run",
        json,
        &format!(r#"{{"name":"later","queue":"{at}"}}"#),
    )
    .await;
    let json_integer = post_raw(
        &app,
        "/scripts/v1/run",
        json,
        &format!(r#"{{"name":"later","queue":{at}}}"#),
    )
    .await;
    let form_string = post_raw(
        &app,
        "/scripts/v1/run",
        form,
        &format!("name=later&queue={at}"),
    )
    .await;
    let form_garbage = post_raw(&app, "/scripts/v1/run", form, "name=later&queue=soon").await;
    let query_string = post_raw(
        &app,
        &format!("/scripts/v1/run?queue={at}"),
        json,
        r#"{"name":"later"}"#,
    )
    .await;

    // Assert
    assert_eq!(
        json_string.1["errorcode"], "invalid_queue",
        "{:?}",
        json_string
    );
    assert_eq!(
        form_garbage.1["errorcode"], "invalid_queue",
        "{:?}",
        form_garbage
    );
    for (what, (status, reply)) in [
        ("JSON integer", json_integer),
        ("form", form_string),
        ("query", query_string),
    ] {
        assert_eq!(status, 200, "{what}: {reply}");
        assert_eq!(reply["queued"], at, "{what}: {reply}");
    }
}

#[actix_web::test]
async fn a_cancelled_queued_runs_finished_status_shows_cancel_as_first_and_last_line() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("later /bin/sh -c \"echo ran\"\n");
    let id = app
        .run(json!({"name": "later", "queue": super::helpers::unix_now() + 3600}))
        .await;

    // Act
    let (status, reply) = app
        .post(&format!("/scripts/v1/cancel/{id}"), json!({}))
        .await;
    let done = app.wait_done(&id).await;

    // Assert
    assert_eq!(status, 200, "{reply}");
    assert_eq!(done.outcome, Outcome::Cancelled, "{done}");
    assert_eq!(
        (&done["first"], &done["last"]),
        (&json!("[CANCEL]"), &json!("[CANCEL]")),
        "{done}"
    );
    assert_eq!(done["tasks"], json!([]), "{done}");
}

#[actix_web::test]
async fn a_monitor_of_a_name_that_is_no_script_of_this_user_is_invalid_name() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("quick /bin/sh -c \"exit 0\"\n");
    let mut ws = app.ws().await;
    let mut missing = monitor(1, "x");
    missing.as_object_mut().expect("object").remove("name");

    // Act
    let missing = call_quiet(&mut ws, missing).await;
    let unknown = call_quiet(&mut ws, monitor(2, "nope")).await;
    let malformed = call_quiet(&mut ws, monitor(3, "../etc")).await;

    // Assert
    assert_eq!(missing["errorcode"], "missing_name", "{missing}");
    assert_eq!(unknown["errorcode"], "invalid_name", "{unknown}");
    assert_eq!(malformed["errorcode"], "invalid_name", "{malformed}");
    subscribe(&mut ws, monitor(4, "quick")).await;
    subscribe(&mut ws, monitor(5, "")).await;
}
