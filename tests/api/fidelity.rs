//! Output and arguments reach their destination as they were: a line too
//! long to keep is cut with a marker (as the log cap marks its cut), and a
//! JSON number argument reaches the script as the text the client wrote.

use futures_util::SinkExt;
use serde_json::json;

use scriptd::events::types::Outcome;

use crate::helpers::spawn_app;

const CUT: &str = "[scriptd: line cut at the line length cap]";

#[actix_web::test]
async fn a_huge_line_without_newline_is_cut_with_a_marker() {
    // Arrange: 1 MiB of `x` and no newline, then the end of output.
    let app = spawn_app().await;
    app.exectab("long /bin/sh -c \"head -c 1048576 /dev/zero | tr '\\\\0' x\"\n");

    // Act
    let id = app.run(json!({"name": "long"})).await;
    let done = app.wait_done(&id).await;
    let log = app.log(&id).await;

    // Assert
    assert!(
        log.ends_with(&format!(" {CUT}\n")),
        "the cut is marked: …{:?}",
        &log[log.len().saturating_sub(80)..]
    );
    assert_eq!(log.len(), 64 * 1024 + 1 + CUT.len() + 1, "64 KiB kept");
    assert_eq!(done.outcome, Outcome::Success, "{done}");
}

#[actix_web::test]
async fn number_args_reach_the_script_as_the_client_wrote_them() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("args /bin/sh -c \"printf '%s|' \\\"$@\\\"\" sh @@1 @@2 @@3 @@4 @@5\n");
    let body = r#"{"name":"args","args":[1e2, 1234567890123456789012345678901, -0, 1.50, "s"]}"#;
    let expected = "1e2|1234567890123456789012345678901|-0|1.50|s|";

    // Act: over HTTP, as raw JSON text …
    let resp = app
        .client
        .post(format!("{}/scripts/v1/run", app.base))
        .insert_header(("X-APIKey", app.key.as_str()))
        .insert_header(("Content-Type", "application/json"))
        .send_body(body)
        .await;
    let mut resp = resp.expect("sent");
    let reply: serde_json::Value = resp.json().await.expect("json");
    let http_id = reply["id"].as_str().expect("accepted").to_owned();
    // … and over the WebSocket.
    let mut ws = app.ws().await;
    ws.framed
        .send(awc::ws::Message::Text(
            body.replacen(
                '{',
                r#"{"api_method":"POST","api_path":"/scripts/v1/run","api_sequence":7,"#,
                1,
            )
            .into(),
        ))
        .await
        .expect("ws send");
    let reply = ws.recv().await.expect("reply");
    let ws_id = reply["id"].as_str().expect("accepted over ws").to_owned();

    // Assert
    for id in [http_id, ws_id] {
        let done = app.wait_done(&id).await;
        assert_eq!(done["last"], expected, "{done}");
        assert_eq!(done["args"]["params"][0], "1e2", "{done}");
    }
}
