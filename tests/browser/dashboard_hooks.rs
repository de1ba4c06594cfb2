//! Webhooks on the dashboard (issue 31): the owner adds a hook from the
//! Hooks section, sees its signing secret once, sees the hook listed
//! (and served) without it, and deletes it with a confirm.

use serde_json::{json, Value};

use crate::browser::{with_page, Page};
use crate::server::Server;

const URL: &str = "https://hooks.example.com/scriptd";

/// How many times `text` appears in the page's markup.
async fn occurrences(page: &Page, text: &str) -> i64 {
    let script = format!(
        "return document.documentElement.outerHTML.split({}).length - 1",
        json!(text)
    );
    page.js(&script).await.as_i64().expect("a count")
}

/// The id of the first listed hook, once there is one.
async fn wait_listed(page: &Page) -> String {
    let id = page
        .wait_js(
            "the hook listed",
            "const row = document.querySelector('#hooks-body tr[data-hook]'); \
             return row ? row.dataset.hook : null",
        )
        .await;
    id.as_str().expect("a hook id").to_owned()
}

#[tokio::test]
async fn a_hook_is_added_shown_once_with_its_secret_listed_without_it_and_deleted() {
    let server = Server::start();
    // Borrowed, so the server outlives the page (and its failure screenshot).
    let server = &server;
    with_page("hooks", |page| async move {
        page.sign_in_ok(&server.url(), &server.admin_key()).await;

        // Add: a URL, one more trigger than the default, the Slack body.
        page.type_into("#hook-url", URL).await;
        page.click("#hook-on-success").await;
        page.select("#hook-format", "slack").await;
        page.click("#hook-create").await;
        let secret = page
            .wait_js(
                "the secret shown once",
                "const el = document.getElementById('hook-key'); return el ? el.textContent : null",
            )
            .await;
        let secret = secret.as_str().expect("a secret").to_owned();
        assert!(secret.starts_with("whsec_"), "{secret}");
        let id = wait_listed(&page).await;

        // Listed as asked, and the secret is only where it is shown.
        let row = page
            .text(&format!("#hooks-body tr[data-hook=\"{id}\"]"))
            .await;
        let row = row.as_str().unwrap_or_default().to_owned();
        for part in [
            URL,
            "every script",
            "success, failed, timeout, interrupted",
            "slack",
        ] {
            assert!(row.contains(part), "{part} in {row}");
        }
        assert!(!row.contains(&secret), "{row}");
        assert_eq!(occurrences(&page, &secret).await, 1, "the secret, once");
        let listed = page
            .js("return Api.get('/scripts/v1/hook/list').then((r) => JSON.stringify(r))")
            .await;
        let listed = listed.as_str().unwrap_or_default().to_owned();
        assert!(listed.contains(&id), "{listed}");
        assert!(
            !listed.contains(&secret),
            "the server never shows it again: {listed}"
        );

        // A reload lists the hook and shows the secret no more.
        page.goto(&server.url()).await;
        page.wait_js(
            "the dashboard again",
            "return !document.getElementById('dash').hidden",
        )
        .await;
        assert_eq!(wait_listed(&page).await, id);
        assert_eq!(occurrences(&page, &secret).await, 0, "gone after a reload");

        // Delete, confirming the browser's question.
        page.click(&format!("#hook-delete-{id}")).await;
        page.client.accept_alert().await.expect("the confirm");
        page.wait_js(
            "the hook gone",
            "return !document.querySelector('#hooks-body tr[data-hook]')",
        )
        .await;
        let hooks = page
            .js("return Api.get('/scripts/v1/hook/list').then((r) => r.hooks.length)")
            .await;
        assert_eq!(hooks, Value::from(0), "deleted on the server");
    })
    .await;
}
