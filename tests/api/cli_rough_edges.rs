//! The command line's rough edges a new user met (issue 27, item 6):
//! missing arguments name the usage, an expiry in the past is refused,
//! `--json` usage errors keep the whole message, `events` says how to see
//! more, a cancelled run reads `cancelled`, and `HEAD /` answers as
//! `GET /`.

use serde_json::json;

use crate::helpers::cli::{app, bare, one_line_error, output, scriptd};

#[actix_web::test]
async fn missing_arguments_name_the_scripts_usage() {
    let app = app().await;

    let out = output(scriptd(&app, &["run", "echo"])).await;
    let waited = output(scriptd(&app, &["run", "echo", "only-one", "--wait"])).await;

    one_line_error(&out, "usage: scriptd run echo A B");
    one_line_error(&waited, "usage: scriptd run echo A B");
}

#[actix_web::test]
async fn an_expiry_in_the_past_is_refused_before_asking() {
    let app = app().await;

    let out = output(scriptd(
        &app,
        &["guest", "create", "ok", "--run", "--expires", "-1h"],
    ))
    .await;

    one_line_error(&out, "is in the past");
    let guests = app.guests().await;
    assert_eq!(guests["guests"], json!([]), "no guest made");
}

#[actix_web::test]
async fn a_json_usage_error_keeps_the_whole_message() {
    let out = output(bare(&["run", "--json"])).await;

    assert_eq!(out.code(), 2, "{out}");
    let error = out.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        error.contains("required arguments were not provided") && error.contains("<NAME>"),
        "{out}"
    );
}

#[actix_web::test]
async fn events_say_how_to_see_more() {
    let app = app().await;
    let id = app.run(json!({"name": "ok"})).await;
    app.wait_done(&id).await;

    let page = output(scriptd(&app, &["events", "--limit", "1"])).await;

    assert_eq!(page.code(), 0, "{page}");
    let hint = page.stdout.lines().last().unwrap_or_default();
    assert!(hint.starts_with("(more: --after "), "{page}");
    let after: String = hint.chars().filter(char::is_ascii_digit).collect();
    let next = output(scriptd(&app, &["events", "--after", &after, "--json"])).await;
    assert!(!next.stdout.trim().is_empty(), "the hint leads on: {next}");
}

#[actix_web::test]
async fn a_cancelled_run_reads_cancelled_to_a_person() {
    let app = app().await;
    let future = crate::helpers::unix_now() + 3600;
    let id = app.run(json!({"name": "ok", "queue": future})).await;
    app.cancel(&id).await;

    let text = output(scriptd(&app, &["status", &id])).await;
    let json = output(scriptd(&app, &["status", &id, "--json"])).await;

    assert!(text.stdout.contains("cancelled"), "{text}");
    assert!(!text.stdout.contains("[CANCEL]"), "{text}");
    assert_eq!(json.json()["last"], "[CANCEL]", "the SDK's marker: {json}");
}

#[actix_web::test]
async fn head_of_the_root_answers_as_get() {
    let app = app().await;
    let client = awc::Client::default();

    let head = client
        .head(format!("{}/", app.base))
        .send()
        .await
        .expect("HEAD /");

    assert_eq!(head.status().as_u16(), 200);
}

#[actix_web::test]
async fn monitor_prints_why_the_server_closed_it() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    // Arrange: a monitor on a guest key.
    let app = app().await;
    let expires = crate::helpers::unix_now() + 3600;
    let (guest, key) = app
        .create_guest("ok", [false, false, false, true], expires)
        .await;
    let mut monitor = bare(&["monitor", "ok", "--url", &app.base, "--api-key", &key])
        .spawn()
        .expect("monitor starts");
    let stderr = monitor.stderr.take().expect("piped stderr");
    let mut notes = BufReader::new(stderr).lines();
    let first = actix_rt::time::timeout(crate::helpers::DEADLINE, notes.next_line()).await;
    assert!(
        matches!(&first, Ok(Ok(Some(line))) if line.starts_with("monitoring")),
        "{first:?}"
    );

    // Act: the key goes.
    app.delete_guest(&guest).await;

    // Assert
    let mut seen = Vec::new();
    let read = async {
        while let Ok(Some(line)) = notes.next_line().await {
            seen.push(line);
        }
    };
    let _ = actix_rt::time::timeout(crate::helpers::DEADLINE, read).await;
    let _ = monitor.kill().await;
    assert!(
        seen.iter()
            .any(|l| l.contains("closed the connection: guest key deleted")),
        "{seen:?}"
    );
}

#[test]
fn client_commands_read_the_system_config_when_no_config_is_given() {
    let dir = tempfile::tempdir().expect("temp dir");
    let system = dir.path().join("scriptd.toml");
    std::fs::write(&system, "listen = \"127.0.0.1:19893\"\n").expect("config");
    let mut global = scriptd::cli::Global {
        storage: None,
        database: None,
        listen: None,
        config: None,
        log_format: None,
        log_level: None,
    };

    let followed = global.config_or(Some(&system)).expect("config");
    let missing = global
        .config_or(Some(&dir.path().join("absent.toml")))
        .expect("config");
    global.config = Some(dir.path().join("absent.toml"));
    let named = global.config_or(Some(&system));

    assert_eq!(followed.listen, "127.0.0.1:19893");
    assert_eq!(missing.listen, "127.0.0.1:9893", "no file, the default");
    assert!(named.is_err(), "--config wins, and must exist");
}
