//! Who sees what: a guest key sees its one script and no guest management,
//! sign-out forgets the key, and a wrong key gets a clear message.

use serde_json::Value;

use crate::browser::with_page;
use crate::server::Server;

#[tokio::test]
async fn a_guest_key_sees_only_its_script_and_no_guest_management() {
    let server = Server::start();
    // Borrowed, so the server outlives the page (and its failure screenshot).
    let server = &server;
    with_page("guest", |page| async move {
        page.sign_in_ok(&server.url(), &server.admin_key()).await;
        let visible = page
            .js("return !document.getElementById('guests').hidden")
            .await;
        assert_eq!(visible, Value::Bool(true), "the admin manages guests");
        page.select("#guest-name", "demo").await;
        page.click("#guest-create").await;
        let key = page
            .wait_js(
                "the new guest key",
                "const k = document.getElementById('guest-key'); return k ? k.textContent : null",
            )
            .await;
        let key = key.as_str().expect("key text").to_owned();
        assert_eq!(key.len(), 64, "a full key is shown once: {key}");

        page.click("#signout").await;
        let stored = page.js("return sessionStorage.length").await;
        assert_eq!(stored, Value::from(0), "sign-out forgets the key");
        page.sign_in_ok(&server.url(), &key).await;
        let url = page.client.current_url().await.expect("url");
        assert!(!url.as_str().contains(&key), "the key is not in the URL");
        let names = page
            .wait_js(
                "the guest's scripts",
                "const rows = [...document.querySelectorAll('#scripts-body tr[data-script]')]; \
                 return rows.length ? rows.map((r) => r.dataset.script) : null",
            )
            .await;
        assert_eq!(names, serde_json::json!(["demo"]), "only its script");
        let hidden = page
            .js("return document.getElementById('guests').hidden \
                 && document.getElementById('nav-guests').hidden")
            .await;
        assert_eq!(hidden, Value::Bool(true), "no guest management for a guest");
        let options = page
            .js("return [...document.querySelectorAll('#start-name option')].map((o) => o.value)")
            .await;
        assert_eq!(
            options,
            serde_json::json!(["demo"]),
            "it can start only its script"
        );
        page.wait_js(
            "the guest's monitor live",
            "return document.getElementById('conn').dataset.state === 'live'",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_key_gets_a_clear_message() {
    let server = Server::start();
    // Borrowed, so the server outlives the page (and its failure screenshot).
    let server = &server;
    with_page("wrong_key", |page| async move {
        // By keyboard: the key field has the focus, Enter submits.
        page.goto(&server.url()).await;
        let focused = page.js("return document.activeElement.id").await;
        assert_eq!(focused, "apikey", "the key field has the focus");
        let field = page.client.active_element().await.expect("focused field");
        let enter = "\u{e007}";
        field
            .send_keys(&format!("{}{enter}", "0".repeat(64)))
            .await
            .expect("type and press Enter");
        let message = page
            .wait_js(
                "the sign-in error",
                "return document.getElementById('signin-error').textContent || null",
            )
            .await;
        assert!(
            message
                .as_str()
                .unwrap_or_default()
                .contains("did not accept this API key"),
            "{message}"
        );
        let dash = page
            .js("return document.getElementById('dash').hidden")
            .await;
        assert_eq!(
            dash,
            Value::Bool(true),
            "nothing is shown without a valid key"
        );
        let stored = page.js("return sessionStorage.length").await;
        assert_eq!(stored, Value::from(0), "a refused key is not kept");
    })
    .await;
}
