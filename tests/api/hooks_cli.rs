//! `scriptd hook add|list|remove|deliveries` against a real server.

use crate::helpers::cli::{output, scriptd};
use crate::helpers::spawn_app;

#[actix_web::test]
async fn hooks_are_added_listed_and_removed_from_the_command_line() {
    let app = spawn_app().await;

    let added = output(scriptd(
        &app,
        &[
            "hook",
            "add",
            "https://hooks.example.com/x",
            "--on",
            "failed,success",
            "--name",
            "job",
            "--json",
        ],
    ))
    .await;
    assert_eq!(added.code(), 0, "{added}");
    let reply = added.json();
    let id = reply["id"].as_str().expect("an id").to_owned();
    assert!(
        reply["secret"].as_str().is_some_and(|s| !s.is_empty()),
        "{added}"
    );

    let listed = output(scriptd(&app, &["hook", "list"])).await;
    assert_eq!(listed.code(), 0, "{listed}");
    assert!(listed.stdout.contains(&id), "{listed}");
    assert!(listed.stdout.contains("success,failed"), "{listed}");
    let secret = reply["secret"].as_str().unwrap_or_default();
    assert!(
        !listed.stdout.contains(secret),
        "no secret in the list: {listed}"
    );

    let none = output(scriptd(&app, &["hook", "deliveries", &id])).await;
    assert_eq!(
        (none.code(), none.stdout.trim()),
        (0, "no deliveries"),
        "{none}"
    );

    let bad = output(scriptd(&app, &["hook", "add", "http://127.0.0.1:1/x"])).await;
    assert_ne!(bad.code(), 0, "{bad}");
    assert!(bad.stderr.contains("internal address"), "{bad}");

    let removed = output(scriptd(&app, &["hook", "remove", &id])).await;
    assert_eq!(removed.code(), 0, "{removed}");
    let again = output(scriptd(&app, &["hook", "remove", &id])).await;
    assert_ne!(again.code(), 0, "{again}");
    assert!(again.stderr.contains("unknown hook id"), "{again}");
}
