//! The original PHP SDK's calls, sent exactly as it sends them (see
//! `helpers/sdk.rs`), over plain HTTP and over TLS with GetSSLInfo() and
//! pinning: one keep-alive connection per client, the key on its first
//! request only.

use serde_json::{json, Value};

use crate::helpers::sdk::{get_ssl_info, is_self_signed, pinned_config_tls12, SdkClient, SslInfo};
use crate::helpers::{eventually_with, spawn_app_over, unix_now, Scheme, TestApp, DEADLINE};

const EXECTAB: &str = "quick /bin/sh -c \"echo hello; echo bye\"\nhold /bin/sleep 30\n";

async fn sdk_app(scheme: Scheme) -> (TestApp, Option<SslInfo>) {
    let app = spawn_app_over(scheme, |_| {}).await;
    app.exectab(EXECTAB);
    let ssl = match scheme {
        Scheme::Plain => None,
        Scheme::Tls => Some(
            get_ssl_info(app.port)
                .await
                .expect("GetSSLInfo accepts the chain"),
        ),
    };
    (app, ssl)
}

fn client(app: &TestApp, ssl: &Option<SslInfo>, key: &str) -> SdkClient {
    match ssl {
        Some(ssl) => SdkClient::tls(app.port, key, ssl.clone()),
        None => SdkClient::plain(app.port, key),
    }
}

fn ok(what: &str, (status, reply): &(u16, Value)) {
    assert_eq!(*status, 200, "{what}: {reply}");
    assert_eq!(reply["success"], true, "{what}: {reply}");
}

fn refused(what: &str, (status, reply): &(u16, Value), code: &str) {
    assert_eq!(reply["success"], false, "{what}: {reply}");
    assert_eq!(reply["errorcode"], code, "{what}: {reply}");
    let want = if code == "invalid_missing_apikey" {
        403
    } else {
        400
    };
    assert_eq!(*status, want, "{what}: {reply}");
}

/// `GetStatus($id)` until `state` is `done`, as SDK users loop.
async fn poll_done(sdk: &mut SdkClient, id: &str) -> Value {
    let what = format!("run {id} to be done");
    let path = format!("status/{id}");
    eventually_with(&what, sdk, |sdk| {
        let path = path.clone();
        Box::pin(async move {
            let reply = sdk.call("GET", &path, None).await;
            ok("status", &reply);
            match reply.1["state"] == "done" {
                true => Ok(reply.1),
                false => Err(reply.1),
            }
        })
    })
    .await
}

async fn run(sdk: &mut SdkClient, name: &str) -> String {
    // RunScript($name): the SDK always sends args and an empty stdin.
    let fields = json!({"name": name, "args": [], "stdin": ""});
    let reply = sdk.call("POST", "run", Some(fields)).await;
    ok(&format!("run {name}"), &reply);
    reply.1["id"].as_str().expect("id").to_owned()
}

async fn the_sdk_drives_every_call_over_one_keep_alive_connection(scheme: Scheme) {
    // Arrange
    let (app, ssl) = sdk_app(scheme).await;
    let mut admin = client(&app, &ssl, &app.key);

    // Act + Assert: run, poll, list.
    let id = run(&mut admin, "quick").await;
    let done = poll_done(&mut admin, &id).await;
    assert_eq!(
        (&done["outcome"], &done["first"], &done["last"]),
        (&json!("success"), &json!("hello"), &json!("bye")),
        "{done}"
    );
    let holding = run(&mut admin, "hold").await;
    let waiting = run(&mut admin, "hold").await;
    let list = admin.call("GET", "status", None).await;
    ok("status list", &list);
    assert_eq!(list.1["queued"]["hold"], json!([waiting]), "{}", list.1);

    // Cancel: the SDK sends `[]`.
    ok(
        "cancel",
        &admin.call("POST", &format!("cancel/{waiting}"), None).await,
    );
    let cancelled = poll_done(&mut admin, &waiting).await;
    assert_eq!(cancelled["outcome"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["first"], "[CANCEL]", "{cancelled}");

    // Guests: create, list, their run and refusals, delete.
    let fields = json!({"name": "quick", "run": 1, "cancel": 0, "status": 1, "monitor": 1,
                        "expires": unix_now() + 3600});
    let created = admin.call("POST", "guest/create", Some(fields)).await;
    ok("guest create", &created);
    let guest_id = created.1["id"].as_str().expect("guest id").to_owned();
    let guest_key = created.1["info"]["apikey"]
        .as_str()
        .expect("key")
        .to_owned();
    let listed = admin.call("GET", "guest/list", None).await;
    ok("guest list", &listed);
    assert_eq!(listed.1["guests"][0]["id"], json!(guest_id), "{}", listed.1);

    let mut guest = client(&app, &ssl, &guest_key);
    let guest_run = run(&mut guest, "quick").await;
    assert_eq!(
        poll_done(&mut guest, &guest_run).await["outcome"],
        "success"
    );
    let other = guest
        .call(
            "POST",
            "run",
            Some(json!({"name": "hold", "args": [], "stdin": ""})),
        )
        .await;
    refused("a guest runs another script", &other, "access_denied");
    let cancel = guest
        .call("POST", &format!("cancel/{guest_run}"), None)
        .await;
    refused("a guest without cancel", &cancel, "access_denied");
    let guests = guest.call("GET", "guest/list", None).await;
    refused("a guest lists guests", &guests, "access_denied");

    // A monitor (its own WebSocket), then a run it sees start and end.
    let (mut ws, reply) = admin.monitor("quick", 1).await;
    assert_eq!(reply["enabled"], true, "{reply}");
    let watched = run(&mut admin, "quick").await;
    let mut states = Vec::new();
    while states.last() != Some(&json!("done")) {
        let push = ws.recv().await.expect("push before close");
        if push["id"] == json!(watched) {
            assert_eq!(push["api_sequence"], 1, "{push}");
            states.push(push["state"].clone());
        }
    }
    assert_eq!(states, [json!("running"), json!("done")]);

    let path = format!("guest/delete/{guest_id}");
    ok("guest delete", &admin.call("DELETE", &path, None).await);
    let after = guest
        .call("GET", &format!("status/{guest_run}"), None)
        .await;
    refused(
        "a deleted guest's next request",
        &after,
        "invalid_missing_apikey",
    );
    ok(
        "kill",
        &admin.call("POST", &format!("kill/{holding}"), None).await,
    );

    // One connection each, the key sent once on it.
    assert_eq!(admin.connections, 1, "the admin client kept one connection");
    assert_eq!(guest.connections, 1, "the guest client kept one connection");
    assert!(
        admin.sent_on_connection > 10,
        "{}",
        admin.sent_on_connection
    );
}

#[actix_web::test]
async fn the_php_sdk_works_over_plain_http() {
    the_sdk_drives_every_call_over_one_keep_alive_connection(Scheme::Plain).await;
}

#[actix_web::test]
async fn the_php_sdk_works_over_https_with_get_ssl_info_and_pinning() {
    the_sdk_drives_every_call_over_one_keep_alive_connection(Scheme::Tls).await;
}

#[actix_web::test]
async fn get_ssl_info_sees_a_chain_ending_in_the_stored_self_signed_root() {
    // Arrange
    let (app, ssl) = sdk_app(Scheme::Tls).await;
    let ssl = ssl.expect("tls");

    // Assert: leaf + root, the root is the server's ca.pem, the leaf is not self-signed.
    let ca = scriptd::http::tls::load_certs(&app.storage.path().join("tls").join("ca.pem"))
        .expect("ca.pem");
    assert_eq!(ssl.chain.len(), 2);
    assert_eq!(
        ca,
        vec![ssl.root.clone()],
        "the served root is <storage>/tls/ca.pem"
    );
    assert!(is_self_signed(&ssl.root));
    assert!(!is_self_signed(&ssl.leaf), "the leaf is signed by the root");
}

#[actix_web::test]
async fn pinning_refuses_a_server_whose_leaf_is_not_the_saved_one() {
    // Arrange: what GetSSLInfo saved from one server, used against another.
    let (first, _) = sdk_app(Scheme::Tls).await;
    let saved = get_ssl_info(first.port).await.expect("first server");
    let (second, _) = sdk_app(Scheme::Tls).await;
    let other = get_ssl_info(second.port).await.expect("second server");
    let mixed = SslInfo {
        leaf: other.leaf.clone(),
        ..saved.clone()
    };
    let same_root_other_leaf = SslInfo {
        leaf: saved.root.clone(),
        ..other.clone()
    };

    // Act: a handshake with the pinned config of another server.
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", second.port))
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let wrong_root = tokio_rustls::TlsConnector::from(crate::helpers::sdk::pinned_config(&mixed))
        .connect(name.clone(), tcp)
        .await;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", second.port))
        .await
        .expect("connect");
    let wrong_leaf =
        tokio_rustls::TlsConnector::from(crate::helpers::sdk::pinned_config(&same_root_other_leaf))
            .connect(name, tcp)
            .await;

    // Assert
    assert!(
        wrong_root.is_err(),
        "a root that did not sign the chain is refused"
    );
    assert!(
        wrong_leaf.is_err(),
        "a leaf other than the saved one is refused"
    );
}

#[actix_web::test]
async fn the_first_sdks_websocket_upgrade_at_scripts_is_accepted() {
    // Arrange: the stand-alone 2016 SDK connected to `ws://HOST/scripts`.
    let (app, ssl) = sdk_app(Scheme::Plain).await;
    let sdk = client(&app, &ssl, &app.key);

    // Act
    let (_ws, reply) = sdk.monitor_at("/scripts", "quick", 1).await;

    // Assert
    assert_eq!(
        (&reply["success"], &reply["enabled"]),
        (&json!(true), &json!(true)),
        "{reply}"
    );
}

#[actix_web::test]
async fn an_sdk_limited_to_tls_1_2_and_its_cipher_list_connects_and_pins() {
    // Arrange
    let (app, ssl) = sdk_app(Scheme::Tls).await;
    let ssl = ssl.expect("tls");

    // Act: the handshake, then one API call on it.
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let mut tls = tokio_rustls::TlsConnector::from(pinned_config_tls12(&ssl))
        .connect(name, tcp)
        .await
        .expect("a TLS 1.2 handshake with the SDK's ciphers");
    let version = tls.get_ref().1.protocol_version();
    let request = format!(
        "GET /scripts/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-APIKey: {}\r\n\r\n",
        app.key
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = actix_rt::time::timeout(DEADLINE, tls.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);

    // Assert
    assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_2));
    assert!(read.is_ok(), "answered in time");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"success\":true"), "{answer}");
}
