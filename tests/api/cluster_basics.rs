//! Two nodes on one PostgreSQL database behave as one server: a key made
//! on one works on the other, and a run accepted and run by one is in the
//! status, history, log and event log of the other, with the node that
//! started it on record.

use scriptd::wire;
use serde_json::json;

use crate::helpers::cluster::{query_json, Cluster};

#[actix_web::test]
async fn two_nodes_share_accounts_runs_history_logs_and_events() {
    // Only A defines the script, so A runs it (any node that defines a
    // script may claim its runs).
    let cluster = Cluster::start_each(&[
        "hello /bin/sh -c \"echo hi from @@1; touch OUT/ran-@@1\"\n",
        "",
    ])
    .await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    assert_eq!((a.name.as_str(), b.name.as_str()), ("n1", "n2"));
    assert_ne!(a.storage, b.storage, "each node has its own storage");

    // An account change made on A is in force on B.
    let (guest, guest_key) = a
        .create_guest(
            "hello",
            [false, false, true, false],
            crate::helpers::unix_now() + 3600,
        )
        .await;
    let listed = b.guests().await;
    assert!(
        listed.json.to_string().contains(&guest),
        "B lists the guest A made: {listed}"
    );

    let id = a.run(json!({"name": "hello", "args": ["a"]})).await;
    a.wait_done(&id).await;
    let done = b.wait_done(&id).await;
    assert_eq!(done["state"], "done", "B sees the run A ran: {done}");
    assert!(
        cluster.out.join("ran-a").exists(),
        "it ran:\n{}",
        cluster.logs()
    );
    assert_eq!(b.log(&id).await, "hi from a\n", "B reads its log");
    let (code, as_guest) = b
        .call_with(
            "GET",
            &format!("/scripts/v1/status/{id}"),
            Some(&guest_key),
            None,
        )
        .await;
    assert_eq!(code, 200, "A's guest key works on B: {as_guest}");

    let history = b.history(&wire::HistoryRequest::default()).await;
    let ids: Vec<String> = history.runs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, vec![id.clone()], "B's history holds A's run");

    let events = b
        .events(&wire::EventsRequest {
            run: Some(id.clone()),
            ..wire::EventsRequest::default()
        })
        .await;
    let started: Vec<&wire::EventRow> = events
        .events
        .iter()
        .filter(|e| e.kind == "RunStarted")
        .collect();
    assert_eq!(started.len(), 1, "one start: {events}");
    assert_eq!(started[0].data["node"], "n1", "the start names its node");
    let rows = query_json(
        &cluster.database,
        &format!("SELECT node, state FROM runs WHERE id = '{id}'"),
    );
    assert_eq!(rows, vec![r#"{"node":"n1","state":"done"}"#.to_owned()]);
}
