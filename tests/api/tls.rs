//! TLS on the listener: the certificates made under `<storage>/tls/`, an
//! operator's own chain, the `serve` log line, and the CLI client over
//! https:// (trusting the server's CA, `--ca`, and refusing otherwise).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::helpers::{spawn_app_over, spawn_app_with, Scheme, TestApp, DEADLINE};
use crate::helpers::cli::{bare, output};
use crate::helpers::sdk::{get_ssl_info, SdkClient};
use scriptd::http::tls::{fingerprint, load_certs, server_tls, TlsMode, TlsSettings};

fn tls_dir(app: &TestApp) -> std::path::PathBuf {
    app.storage.path().join("tls")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("file").permissions().mode() & 0o777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read")
}

#[actix_web::test]
async fn the_first_tls_start_makes_a_root_and_a_server_chain_kept_and_reused() {
    // Arrange
    let app = spawn_app_over(Scheme::Tls, |_| {}).await;
    let dir = tls_dir(&app);
    let addr = format!("127.0.0.1:{}", app.port).parse().expect("addr");
    let settings = TlsSettings {
        mode: TlsMode::On,
        ..TlsSettings::default()
    };
    let before = (read(&dir.join("ca.pem")), read(&dir.join("server.pem")));

    // Act: what the next start does, then a start with one more name.
    server_tls(&settings, app.storage.path(), &addr).expect("reuse");
    let reused = (read(&dir.join("ca.pem")), read(&dir.join("server.pem")));
    let renamed = TlsSettings {
        names: vec!["scripts.example".into()],
        ..settings
    };
    server_tls(&renamed, app.storage.path(), &addr).expect("reissue");
    let reissued = (read(&dir.join("ca.pem")), read(&dir.join("server.pem")));

    // Assert
    assert_eq!(mode(&dir.join("ca.key")), 0o600);
    assert_eq!(mode(&dir.join("server.key")), 0o600);
    let chain = load_certs(&dir.join("server.pem")).expect("chain");
    let root = load_certs(&dir.join("ca.pem")).expect("root");
    assert_eq!(chain.len(), 2, "leaf + root");
    assert_eq!(chain[1], root[0], "the chain ends in ca.pem");
    assert_eq!(reused, before, "a later start reuses both");
    assert_eq!(reissued.0, before.0, "the root is kept");
    assert_ne!(reissued.1, before.1, "the leaf is re-issued for new names");
    let (code, reply) = app.get("/scripts/v1/status").await;
    assert_eq!(
        (code, &reply["success"]),
        (200, &json!(true)),
        "https works: {reply}"
    );
}

#[actix_web::test]
async fn an_operators_certificate_chain_is_served_instead() {
    // Arrange: a chain and key made elsewhere, as an operator would bring.
    let elsewhere = tempfile::tempdir().expect("dir");
    let made =
        scriptd::http::cert::ensure(elsewhere.path(), &["127.0.0.1".to_owned()]).expect("chain");
    let (chain, key) = (made.chain.clone(), made.key.clone());
    let app = spawn_app_with(|config| {
        config.tls.mode = TlsMode::On;
        config.tls.cert = Some(chain);
        config.tls.key = Some(key);
    })
    .await;

    // Act
    let ssl = get_ssl_info(app.port).await.expect("GetSSLInfo");
    let mut sdk = SdkClient::tls(app.port, &app.key, ssl.clone());
    let (code, reply) = sdk.call("GET", "status", None).await;

    // Assert
    assert_eq!(
        ssl.chain,
        load_certs(&made.chain).expect("chain"),
        "the operator's chain"
    );
    assert!(!tls_dir(&app).exists(), "nothing made under <storage>/tls");
    assert_eq!((code, &reply["success"]), (200, &json!(true)), "{reply}");
}

#[actix_web::test]
async fn serve_logs_the_https_address_and_the_root_fingerprint() {
    // Arrange
    let storage = tempfile::tempdir().expect("dir");
    let dir = storage.path().display().to_string();
    let mut command = bare(&[
        "serve",
        "--tls",
        "--listen",
        "127.0.0.1:0",
        "--storage",
        &dir,
    ]);
    let mut child = command.spawn().expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();

    // Act
    let mut seen = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            seen.push(line.clone());
            if line.contains("listening on") {
                return;
            }
        }
    };
    actix_rt::time::timeout(DEADLINE, read)
        .await
        .expect("log lines in time");
    let _ = child.kill().await;

    // Assert
    let root = load_certs(&storage.path().join("tls").join("ca.pem")).expect("ca.pem");
    let log = seen.join("\n");
    assert!(log.contains("listening on https://127.0.0.1:"), "{log}");
    assert!(
        log.contains(&fingerprint(&root[0])),
        "the root's SHA-256 is logged: {log}"
    );
}

#[actix_web::test]
async fn the_cli_client_verifies_https_with_the_servers_ca_or_ca_and_says_why_it_refuses() {
    // Arrange
    let app = spawn_app_over(Scheme::Tls, |_| {}).await;
    let other = spawn_app_over(Scheme::Tls, |_| {}).await;
    let storage = app.storage.path().display().to_string();
    let own_ca = tls_dir(&app).join("ca.pem").display().to_string();
    let wrong_ca = tls_dir(&other).join("ca.pem").display().to_string();
    let remote = ["--url", app.base.as_str(), "--api-key", app.key.as_str()];
    let with = |extra: &[&str]| {
        let mut args = vec!["status", "--json"];
        args.extend(remote);
        args.extend(extra);
        bare(&args)
    };

    // Act
    let on_the_host = output(with(&["--storage", &storage])).await;
    let with_ca = output(with(&["--ca", &own_ca])).await;
    let wrong = output(with(&["--ca", &wrong_ca])).await;
    app.exectab("quick /bin/sh -c \"exit 0\"\n");
    let mut args = vec!["run", "quick", "--wait", "--ca", &own_ca];
    args.extend(remote);
    let waited = output(bare(&args)).await;

    // Assert
    assert_eq!(
        on_the_host.code(),
        0,
        "<storage>/tls/ca.pem trusted: {on_the_host}"
    );
    assert_eq!(with_ca.code(), 0, "--ca trusted: {with_ca}");
    assert_eq!(with_ca.json()["success"], true, "{with_ca}");
    assert_eq!(waited.code(), 0, "run --wait follows over wss: {waited}");
    assert!(waited.stdout.contains("success"), "{waited}");
    // With --json, the error is a JSON object on stdout (issue 22).
    assert_eq!(wrong.code(), 1, "{wrong}");
    let error = wrong.json();
    assert_eq!(error["errorcode"], "tls_failed", "{wrong}");
    let message = error["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("not trusted") && message.contains("--ca"),
        "{wrong}"
    );
}

#[test]
fn the_config_file_sets_keep_alive_and_tls() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("scriptd.toml");
    std::fs::write(
        &file,
        "keep_alive_secs = 7\ntls = true\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\ntls_names = [\"scripts.example\"]\n",
    )
    .expect("write");
    let mut config = scriptd::config::Config::new(dir.path());

    // Act
    scriptd::config::FileConfig::load(&file)
        .expect("parses")
        .apply(&mut config)
        .expect("applies");

    // Assert
    assert_eq!(config.keep_alive, std::time::Duration::from_secs(7));
    assert_eq!(config.tls.mode, TlsMode::On);
    assert_eq!(config.tls.cert.as_deref(), Some(Path::new("c.pem")));
    assert_eq!(config.tls.key.as_deref(), Some(Path::new("k.pem")));
    assert_eq!(config.tls.names, ["scripts.example"]);
}
