//! Sign-in sessions in a cluster (issue 32): a session lives in the
//! memory of the node it signed in on, and its `SessionStarted` names that
//! node and incarnation. When the node is lost, the rescuer that marks it
//! lost records the session's end (`node_lost`), once; the node itself,
//! when it finds its lease gone, drops the session and closes its
//! WebSockets, and records no second end when it rejoins.

use std::time::Duration;

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::helpers::cluster::Cluster;
use crate::helpers::oidc::{closed, config_file, cookie_ws, events_of_kind, Browser};
use crate::helpers::{eventually, eventually_within, Api};

/// Short leases keep the test fast (as in `cluster_liveness`).
const LEASE: [&str; 4] = ["--lease-renew-ms", "200", "--lease-ms", "2000"];
const LEASE_TIME: Duration = Duration::from_secs(2);

/// The reasons of every `SessionEnded` on record.
async fn end_reasons(api: &Api) -> Vec<String> {
    events_of_kind(api, "SessionEnded")
        .await
        .iter()
        .map(|e| e["reason"].as_str().expect("reason").to_owned())
        .collect()
}

#[actix_web::test]
async fn a_paused_node_s_session_ends_once_node_lost_and_the_node_drops_it_when_it_resumes() {
    // Arrange: otto signs in on n1 and holds a WebSocket there.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("scriptd.toml");
    std::fs::write(&config, config_file(&[("ops", "operator")])).expect("write config");
    let mut flags = LEASE.to_vec();
    flags.extend(["--config", config.to_str().expect("utf-8 temp path")]);
    let cluster = Cluster::start_with(2, "", &flags).await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let otto = Browser::signed_in(a.port(), "otto").await;
    let mut ws = cookie_ws(a, &otto, &a.base)
        .await
        .expect("the socket opens");
    let started = events_of_kind(b, "SessionStarted").await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["node"], "n1", "{started:?}");
    assert!(started[0]["epoch"].as_i64().is_some(), "{started:?}");

    // Act: n1 is paused past its lease; n2 rescues; n1 resumes.
    let pid = Pid::from_raw(a.pid());
    signal::kill(pid, Signal::SIGSTOP).expect("SIGSTOP n1");
    let rescued = eventually_within(
        LEASE_TIME + Duration::from_secs(20),
        "n2 to end the paused node's session",
        || async {
            let reasons = end_reasons(b).await;
            if reasons.is_empty() {
                Err("no end yet".to_owned())
            } else {
                Ok(reasons)
            }
        },
    )
    .await;
    signal::kill(pid, Signal::SIGCONT).expect("SIGCONT n1");

    // Assert
    assert_eq!(rescued, ["node_lost"]);
    let (code, reason) = closed(&mut ws).await;
    assert_eq!((code, reason.as_str()), (1008, "node_lost"));
    let (status, reply) = otto.api("GET", "/scripts/v1/status", None, true).await;
    assert_eq!(status, 403, "the node dropped the session: {reply}");
    eventually("n1 to rejoin", || {
        a.stderr().contains("rejoined the cluster").then_some(())
    })
    .await;
    assert_eq!(end_reasons(b).await, ["node_lost"], "{}", cluster.logs());
}
