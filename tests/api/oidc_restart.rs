//! Sign-in sessions across the server's life (issue 32): sessions live in
//! the server's memory, so a restart (kill -9 or graceful) ends them, and
//! the next start records each end exactly once (`restart`); a config
//! reload (SIGHUP) that takes a grant away ends the sessions acting with
//! it (`grant_removed`) and closes their WebSockets with 1008, and a bad
//! file on reload changes nothing. Real `scriptd serve` children against
//! the real provider, on this run's backend.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::helpers::child::{Fixture, Server};
use crate::helpers::oidc::{closed, config_file, cookie_ws, events_of_kind, Browser};
use crate::helpers::{eventually, eventually_async, Api};

const GRANTS: [(&str, &str); 2] = [("viewers", "viewer"), ("ops", "operator")];

/// A child server on `fixture`'s storage with `--config <config>`.
async fn serve(fixture: &Fixture, config: &Path, generation: &str) -> Server {
    let path = config.to_str().expect("utf-8 temp path");
    Server::start_with(&fixture.storage, generation, "30", &["--config", path]).await
}

fn write_config(fixture: &Fixture, text: &str) -> PathBuf {
    let path = fixture.out.join("scriptd.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Every `SessionEnded` by session id; fails on a session ended twice.
async fn ends_by_session(api: &Api) -> HashMap<String, String> {
    let mut ends = HashMap::new();
    for end in events_of_kind(api, "SessionEnded").await {
        let id = end["session"].as_str().expect("session id").to_owned();
        let reason = end["reason"].as_str().expect("reason").to_owned();
        assert!(
            ends.insert(id.clone(), reason).is_none(),
            "session {id} ended twice"
        );
    }
    ends
}

/// Asserts that each started session has exactly one end, and answers
/// the reasons by the person's `sub`.
async fn each_session_ended_once(api: &Api) -> HashMap<String, String> {
    let ends = ends_by_session(api).await;
    let started = events_of_kind(api, "SessionStarted").await;
    assert_eq!(started.len(), ends.len(), "ends: {ends:?}");
    started
        .iter()
        .map(|s: &Value| {
            let id = s["session"].as_str().expect("session id");
            let reason = ends
                .get(id)
                .unwrap_or_else(|| panic!("session {id} never ended: {ends:?}"));
            let sub = s["person"]["sub"].as_str().expect("sub").to_owned();
            (sub, reason.clone())
        })
        .collect()
}

/// Two people signed in, one of them signed out again: the open session
/// and the ended one.
async fn two_sessions(server: &Server) -> (Browser, Browser) {
    let otto = Browser::signed_in(server.port(), "otto").await;
    let vera = Browser::signed_in(server.port(), "vera").await;
    assert_eq!(vera.sign_out().await, 200);
    (otto, vera)
}

async fn after_restart_each_session_ended_once(server: &Server, otto: &Browser) {
    let reasons = each_session_ended_once(server).await;
    assert_eq!(reasons["otto"], "restart", "{reasons:?}");
    assert_eq!(reasons["vera"], "signed out", "{reasons:?}");
    let (status, reply) = otto
        .facing(server.port())
        .api("GET", "/scripts/v1/status", None, true)
        .await;
    assert_eq!(
        status, 403,
        "a session is not kept across a restart: {reply}"
    );
}

#[actix_web::test]
async fn sessions_a_kill_9_left_open_end_once_at_the_next_start() {
    // Arrange
    let fixture = Fixture::new();
    let config = write_config(&fixture, &config_file(&GRANTS));
    let server = serve(&fixture, &config, "1").await;
    let (otto, _vera) = two_sessions(&server).await;

    // Act
    server.kill9();
    let server = serve(&fixture, &config, "2").await;

    // Assert
    after_restart_each_session_ended_once(&server, &otto).await;
    let started = events_of_kind(&server, "SessionStarted").await;
    let on_postgres = crate::backend::backend_here() == crate::backend::Backend::Postgres;
    assert_eq!(
        started[0]["node"].is_string(),
        on_postgres,
        "a cluster node names itself in its sessions, a single server does not: {started:?}"
    );
}

#[actix_web::test]
async fn sessions_end_once_across_graceful_restarts() {
    // Arrange
    let fixture = Fixture::new();
    let config = write_config(&fixture, &config_file(&GRANTS));
    let server = serve(&fixture, &config, "1").await;
    let (otto, _vera) = two_sessions(&server).await;

    // Act: stopped and started twice; the second start finds nothing open.
    let (exit, log) = server.terminate_logged().await;
    assert!(exit.success(), "the first stop is clean ({exit}):\n{log}");
    let server = serve(&fixture, &config, "2").await;
    let (exit, log) = server.terminate_logged().await;
    assert!(exit.success(), "the second stop is clean ({exit}):\n{log}");
    let server = serve(&fixture, &config, "3").await;

    // Assert
    after_restart_each_session_ended_once(&server, &otto).await;
}

#[actix_web::test]
async fn a_grant_removed_by_a_reload_ends_its_sessions_and_closes_their_websockets() {
    // Arrange: otto (ops, operator) and vera (viewers) each hold a socket.
    let fixture = Fixture::new();
    let config = write_config(&fixture, &config_file(&GRANTS));
    let server = serve(&fixture, &config, "1").await;
    let otto = Browser::signed_in(server.port(), "otto").await;
    let vera = Browser::signed_in(server.port(), "vera").await;
    let mut otto_ws = cookie_ws(&server, &otto, &server.base)
        .await
        .expect("opens");
    let mut vera_ws = cookie_ws(&server, &vera, &server.base)
        .await
        .expect("opens");
    let hang_up = || signal::kill(Pid::from_raw(server.pid()), Signal::SIGHUP).expect("SIGHUP");

    // Act 1: a file that does not check is refused whole.
    let broken = config_file(&[("viewers", "viewer"), ("ops", "god")]);
    write_config(&fixture, &broken);
    hang_up();
    eventually("the bad reload to be logged", || {
        server
            .stderr()
            .contains("config not reloaded")
            .then_some(())
    })
    .await;

    // Assert 1: nothing changed.
    let (kept, reply) = otto.api("GET", "/scripts/v1/status", None, true).await;
    assert_eq!(kept, 200, "a bad file keeps the grants in force: {reply}");

    // Act 2: the ops grant goes.
    write_config(&fixture, &config_file(&[("viewers", "viewer")]));
    hang_up();

    // Assert 2
    let (code, reason) = closed(&mut otto_ws).await;
    assert_eq!((code, reason.as_str()), (1008, "grant_removed"));
    let (status, reply) = otto.api("GET", "/scripts/v1/status", None, true).await;
    assert_eq!(status, 403, "{reply}");
    let (viewer, reply) = vera.api("GET", "/scripts/v1/status", None, true).await;
    assert_eq!(viewer, 200, "vera's grant stays: {reply}");
    // The socket closes first; the end is recorded right after.
    eventually_async("otto's end to be recorded", || async {
        !ends_by_session(&server).await.is_empty()
    })
    .await;
    let ends = ends_by_session(&server).await;
    assert_eq!(
        ends.values().collect::<Vec<_>>(),
        ["grant_removed"],
        "{ends:?}"
    );
    vera_ws_still_open(&mut vera_ws).await;
}

/// The socket of a session that kept its grant still answers.
async fn vera_ws_still_open(ws: &mut crate::helpers::oidc::CookieSocket) {
    use futures_util::{SinkExt, StreamExt};
    let request = serde_json::json!({
        "api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 1
    });
    ws.send(awc::ws::Message::Text(request.to_string().into()))
        .await
        .expect("send");
    let frame = actix_rt::time::timeout(crate::helpers::DEADLINE, ws.next())
        .await
        .expect("an answer in time");
    match frame {
        Some(Ok(awc::ws::Frame::Text(text))) => {
            let reply: Value = serde_json::from_slice(&text).expect("json");
            assert_eq!(reply["success"], true, "{reply}");
        }
        other => panic!("the socket should answer: {other:?}"),
    }
}
