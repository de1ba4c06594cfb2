//! Keys from the command line: `guest create|list|delete`, and where the
//! URL and API key come from (flags, environment, the admin key file).
//! The harness is in `helpers/cli.rs`.

use std::path::Path;

use serde_json::Value;

use crate::helpers::cli::{app, bare, one_line_error, output, scriptd};

#[actix_web::test]
async fn guest_create_list_and_delete() {
    let app = app().await;

    let created = output(scriptd(
        &app,
        &[
            "guest",
            "create",
            "ok",
            "--run",
            "--status",
            "--expires",
            "+1h",
            "--json",
        ],
    ))
    .await;
    assert_eq!(created.code(), 0, "{created}");
    let reply = created.json();
    let id = reply["id"].as_str().expect("guest id").to_owned();
    let guest_key = reply["info"]["apikey"]
        .as_str()
        .expect("guest key")
        .to_owned();
    let text = output(scriptd(
        &app,
        &["guest", "create", "ok", "--monitor", "--expires", "+1d"],
    ))
    .await;
    assert!(text.stdout.contains("API key (shown once): "), "{text}");

    let as_guest = output(bare(&[
        "status",
        "--url",
        &app.base,
        "--api-key",
        &guest_key,
    ]))
    .await;
    assert_eq!(as_guest.code(), 0, "{as_guest}");
    let list = output(scriptd(&app, &["guest", "list"])).await;
    let row = list.stdout.lines().find(|l| l.starts_with(&id));
    assert!(row.is_some_and(|r| r.contains("run,status")), "{list}");
    assert_eq!(
        list.stdout.lines().count(),
        3,
        "header and two guests: {list}"
    );

    let deleted = output(scriptd(&app, &["guest", "delete", &id])).await;

    assert_eq!(deleted.code(), 0, "{deleted}");
    let list = output(scriptd(&app, &["guest", "list", "--json"])).await;
    let ids: Vec<Value> = list.json()["guests"]
        .as_array()
        .expect("guests")
        .iter()
        .map(|g| g["id"].clone())
        .collect();
    assert_eq!(ids.len(), 1, "{list}");
    assert!(!ids.contains(&Value::from(id.as_str())), "{list}");
    let refused = output(bare(&[
        "status",
        "--url",
        &app.base,
        "--api-key",
        &guest_key,
    ]))
    .await;
    one_line_error(&refused, "invalid_missing_apikey");
}

#[actix_web::test]
async fn url_and_key_come_from_the_environment_or_the_admin_key_file() {
    let app = app().await;
    let storage = app.storage.path().display().to_string();
    assert!(Path::new(&storage).join("admin.key").exists());

    let mut from_env = bare(&["status", "--json"]);
    from_env
        .env("SCRIPTD_URL", &app.base)
        .env("SCRIPTD_API_KEY", &app.key);
    let from_file = bare(&["--storage", &storage, "status", "--url", &app.base]);
    let no_key = bare(&["status", "--url", &app.base]);

    let env_out = output(from_env).await;
    let file_out = output(from_file).await;
    let no_key_out = output(no_key).await;

    assert_eq!(env_out.json()["success"], true, "{env_out}");
    assert_eq!(file_out.code(), 0, "{file_out}");
    assert_eq!(file_out.stdout.trim(), "nothing queued or running");
    one_line_error(&no_key_out, "no API key");
}
