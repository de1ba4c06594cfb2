//! The dashboard's server side: the embedded page and its headers, the key
//! carried as a WebSocket subprotocol (browsers cannot set headers on a
//! WebSocket), and what `GET scripts` tells a client about its key. The page
//! itself is tested in a real browser in `tests/browser`.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, unix_now, TestApp};

async fn get_raw(app: &TestApp, path: &str) -> (u16, String, String, String) {
    let mut resp = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request sent");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (csp, content_type) = (header("content-security-policy"), header("content-type"));
    let body = resp.body().await.expect("body");
    (
        resp.status().as_u16(),
        content_type,
        csp,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[actix_web::test]
async fn the_page_is_served_from_the_binary_with_a_policy_against_inline_and_foreign_code() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (root, root_type, root_csp, root_body) = get_raw(&app, "/").await;
    let (js, js_type, _, js_body) = get_raw(&app, "/ui/app.js").await;
    let (css, css_type, _, _) = get_raw(&app, "/ui/style.css").await;
    let (_, _, _, unknown_asset) = get_raw(&app, "/ui/missing.js").await;
    let (elsewhere, _, _, elsewhere_body) = get_raw(&app, "/index.html").await;

    // Assert
    assert_eq!(root, 200);
    assert!(root_type.starts_with("text/html"), "{root_type}");
    assert!(root_body.contains("src=\"/ui/app.js\""), "{root_body}");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(root_csp.contains(part), "CSP has {part}: {root_csp}");
    }
    assert!(!root_csp.contains("unsafe-inline"), "{root_csp}");
    assert_eq!(js, 200);
    assert!(js_type.starts_with("text/javascript"), "{js_type}");
    assert!(js_body.contains("function signIn"), "the real script");
    assert_eq!(css, 200);
    assert!(css_type.starts_with("text/css"), "{css_type}");
    let unknown: Value = serde_json::from_str(&unknown_asset).expect("json");
    assert_eq!(unknown["errorcode"], "bad_server_extension");
    assert_eq!(elsewhere, 403);
    let other: Value = serde_json::from_str(&elsewhere_body).expect("json");
    assert_eq!(other["errorcode"], "bad_server_extension");
}

#[actix_web::test]
async fn a_websocket_key_offered_as_a_subprotocol_is_accepted_and_never_echoed() {
    // Arrange
    let app = spawn_app().await;
    let url = format!("ws://127.0.0.1:{}/scripts/v1", app.port);
    let key_protocol = format!("scriptd.apikey.{}", app.key);

    // Act
    let (resp, framed) = app
        .client
        .ws(&url)
        .protocols(["scriptd.v1", key_protocol.as_str()])
        .connect()
        .await
        .expect("upgrade accepted with the key in a subprotocol");
    let mut ws = crate::helpers::WsClient { framed };
    ws.send(
        json!({"api_method": "GET", "api_path": "/scripts/v1/monitor",
                   "api_sequence": 1, "name": ""}),
    )
    .await;
    let reply = ws.recv().await.expect("monitor reply");
    let refused = app
        .client
        .ws(&url)
        .protocols(["scriptd.v1", "scriptd.apikey.0000"])
        .connect()
        .await;

    // Assert
    let echoed = resp
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok());
    assert_eq!(
        echoed,
        Some("scriptd.v1"),
        "only the plain protocol is echoed"
    );
    assert_eq!(reply["enabled"], true, "{reply}");
    match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            assert_eq!(status.as_u16(), 403)
        }
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("a wrong key in the subprotocol was accepted"),
    }
}

#[actix_web::test]
async fn scripts_tell_a_key_what_it_is_and_guests_how_many_arguments_to_give() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("two /bin/echo @@1 @@2\nother /bin/true");
    let expires = unix_now() + 3600;
    let (_, guest_key) = app
        .create_guest("two", [true, false, true, false], expires)
        .await;

    // Act
    let (_, user) = app.get("/scripts/v1/scripts").await;
    let (_, guest) = app
        .call_with("GET", "/scripts/v1/scripts", Some(&guest_key), None)
        .await;

    // Assert
    assert_eq!(
        user["access"],
        json!({"kind": "user", "name": "admin", "guests": true})
    );
    assert_eq!(
        guest["access"],
        json!({"kind": "guest", "script": "two", "expires": expires,
               "rights": {"run": true, "cancel": false, "status": true, "monitor": false}})
    );
    assert_eq!(
        guest["scripts"],
        json!({"two": {"stdin": false, "noexec": false, "args": 2, "simultaneous": 1,
                       "max_queued": null, "timeout": null, "forget": false}}),
        "a guest sees how its script is queued and timed, not its command line"
    );
}
