//! Where a client command goes (issue 27, item 1): a running server's
//! `<storage>/server.json` beats the configured listen address, a stale
//! one is ignored, and every connection or key error names the URL, where
//! it came from and where the key came from; the wrong scheme says which
//! one the server speaks.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::helpers::cli::{app, bare, one_line_error, output, scriptd};
use crate::helpers::{spawn_app_over, Scheme};

/// A loopback port nothing listens on.
fn closed_port() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    addr
}

#[actix_web::test]
async fn a_client_reading_the_storage_goes_to_the_address_its_server_recorded() {
    // Arrange: the configured address names no server; the recorded one does.
    let app = app().await;
    let storage = app.storage.path().display().to_string();
    let nowhere = closed_port();

    // Act
    let status = output(bare(&[
        "status",
        "--storage",
        &storage,
        "--listen",
        &nowhere,
    ]))
    .await;

    // Assert
    assert_eq!(status.code(), 0, "{status}");
    let file = app.storage.path().join("server.json");
    let record: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("server.json")).expect("JSON");
    assert_eq!(record["url"], app.base.as_str(), "{record}");
    assert_eq!(record["pid"], std::process::id(), "{record}");
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "server.json is the owner's");
}

#[actix_web::test]
async fn a_record_left_by_a_gone_server_is_ignored_and_errors_name_url_and_origin() {
    // Arrange: a record naming a process that does not exist.
    let app = app().await;
    let storage = app.storage.path().display().to_string();
    let nowhere = closed_port();
    let stale = serde_json::json!({"url": app.base, "pid": 0x7fff_fff0_u32});
    std::fs::write(app.storage.path().join("server.json"), stale.to_string()).expect("write");

    // Act
    let status = output(bare(&[
        "status",
        "--storage",
        &storage,
        "--listen",
        &nowhere,
    ]))
    .await;

    // Assert
    one_line_error(
        &status,
        &format!(
            "cannot connect to http://{nowhere} (from the configured listen address {nowhere}): connection refused"
        ),
    );
}

#[actix_web::test]
async fn a_refused_key_names_the_server_and_the_key_file() {
    // Arrange: the storage's key is not this server's.
    let other = app().await;
    let storage = other.storage.path().display().to_string();
    let key_file = other.storage.path().join("admin.key");
    std::fs::write(&key_file, "not-the-key\n").expect("key file");

    // Act
    let status = output(bare(&["status", "--storage", &storage])).await;

    // Assert
    one_line_error(
        &status,
        &format!(
            "the server at {} (from the running server's record {}) refused the API key read from {} (invalid_missing_apikey)",
            other.base,
            other.storage.path().join("server.json").display(),
            key_file.display()
        ),
    );
}

#[actix_web::test]
async fn the_wrong_scheme_says_which_one_the_server_speaks() {
    // Arrange
    let tls = spawn_app_over(Scheme::Tls, |_| {}).await;
    let plain = app().await;
    let http_to_tls = format!("http://127.0.0.1:{}", tls.port);
    let https_to_plain = format!("https://127.0.0.1:{}", plain.port);
    let ca = tls.storage.path().join("tls").join("ca.pem");
    let ca = ca.display().to_string();

    // Act
    let to_tls = output(bare(&["status", "--url", &http_to_tls, "--api-key", "k"])).await;
    let to_plain = output(bare(&[
        "status",
        "--url",
        &https_to_plain,
        "--api-key",
        "k",
        "--ca",
        &ca,
    ]))
    .await;

    // Assert
    one_line_error(&to_tls, "this server speaks https (try --url https://…)");
    assert!(to_tls.stderr.contains(&http_to_tls), "{to_tls}");
    one_line_error(&to_plain, "this server speaks http (try --url http://…)");
}

#[actix_web::test]
async fn connection_options_may_come_before_the_subcommand() {
    let app = app().await;

    let before = output(bare(&[
        "--url",
        &app.base,
        "--api-key",
        &app.key,
        "--json",
        "status",
    ]))
    .await;
    let scripts = output(scriptd(&app, &["scripts"])).await;

    assert_eq!(before.code(), 0, "{before}");
    assert_eq!(before.json()["success"], true, "{before}");
    assert_eq!(scripts.code(), 0, "{scripts}");
}
