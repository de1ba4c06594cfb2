//! Supervision: a queue or run actor that panics (fault injection) is
//! rebuilt from the event log or ended on record; nothing accepted is lost,
//! nothing runs twice, and other scripts and users carry on.

use actix::Addr;
use scriptd::actors::account::{self, AccountSupervisor};
use scriptd::actors::directory::GetAccount;
use scriptd::actors::queue::{GetProcess, ScriptQueue};
use scriptd::actors::run::Crash;
use scriptd::events::types::Outcome;
use scriptd::ids::{RunId, ScriptName, UserId};
use serde_json::json;

use crate::helpers::{eventually, eventually_ok, spawn_app, TestApp};

async fn account(app: &TestApp, user: i64) -> Addr<AccountSupervisor> {
    app.directory
        .send(GetAccount { user: UserId(user) })
        .await
        .expect("directory")
        .expect("account")
}

async fn queue(app: &TestApp, name: &str) -> Addr<ScriptQueue> {
    let name = ScriptName::parse(name).expect("name");
    account(app, 1)
        .await
        .send(account::GetQueue { name })
        .await
        .expect("account")
        .expect("queue exists")
}

/// Polls until the admin's queue for `name` is a new, live actor.
async fn wait_rebuilt(app: &TestApp, name: &str, old: &Addr<ScriptQueue>) -> Addr<ScriptQueue> {
    let what = format!("queue {name} to be rebuilt");
    eventually_ok(&what, || async move {
        let current = queue(app, name).await;
        match current.connected() && current != *old {
            true => Ok(current),
            false => Err("still the old actor"),
        }
    })
    .await
}

#[actix_web::test]
async fn a_failed_queue_is_rebuilt_from_the_log_and_keeps_its_runs_and_limits() {
    // Arrange: one run holds the only slot, two wait behind it.
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let (gate, starts) = (dir.path().join("gate"), dir.path().join("starts"));
    app.exectab(&format!(
        "held /bin/sh -c \"echo $1 >> {s}; while [ ! -e {g} ]; do sleep 0.02; done\" sh @@1\nother /bin/true\n",
        s = starts.display(),
        g = gate.display()
    ));
    let first = app.run(json!({"name": "held", "args": ["a"]})).await;
    app.wait_status(&first, "first running", |s| s["state"] == "running")
        .await;
    let waiting: Vec<String> = [
        app.run(json!({"name": "held", "args": ["b"]})).await,
        app.run(json!({"name": "held", "args": ["c"]})).await,
    ]
    .into();
    let old = queue(&app, "held").await;

    // Act
    let _ = old.send(Crash).await;

    // Assert: rebuilt with the same runs in the same places, and the
    // running process reports to the new queue.
    let new = wait_rebuilt(&app, "held", &old).await;
    assert!(!old.connected());
    let other = app.run(json!({"name": "other"})).await;
    assert_eq!(
        app.wait_done(&other).await.outcome,
        Outcome::Success,
        "other scripts carry on"
    );
    assert_eq!(app.status(&first).await["state"], "running");
    for (position, id) in waiting.iter().enumerate() {
        let status = app.status(id).await;
        assert_eq!(
            (status["state"].as_str(), status["position"].as_u64()),
            (Some("queued"), Some(position as u64))
        );
    }
    let late = app.run(json!({"name": "held", "args": ["d"]})).await;
    assert_eq!(
        app.status(&late).await["position"],
        2,
        "new runs queue behind the restored ones"
    );
    std::fs::write(&gate, b"").expect("open the gate");
    for id in [&first, &waiting[0], &waiting[1], &late] {
        assert_eq!(
            app.wait_done(id).await.outcome,
            Outcome::Success,
            "run {id}"
        );
    }
    let order = std::fs::read_to_string(&starts).expect("starts");
    assert_eq!(order, "a\nb\nc\nd\n", "each run started once, in order");
    assert!(new.connected());
}

#[actix_web::test]
async fn a_failed_run_actor_kills_its_processes_and_ends_the_run_on_record() {
    // Arrange
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let pid_file = dir.path().join("pid");
    app.exectab(&format!(
        "victim /bin/sh -c \"echo $$ > {}; exec sleep 300\"\nnext /bin/true\n",
        pid_file.display()
    ));
    let id = app.run(json!({"name": "victim"})).await;
    let pid: i32 = eventually("the script's pid", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    })
    .await;
    let run = RunId::parse(&id).expect("id");
    let process = queue(&app, "victim")
        .await
        .send(GetProcess { id: run })
        .await
        .expect("queue")
        .expect("process actor");

    // Act
    let _ = process.send(Crash).await;

    // Assert
    let done = app.wait_done(&id).await;
    assert_eq!(done.outcome, Outcome::Interrupted);
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("supervisor failed")),
        "{done}"
    );
    eventually("the script's process is killed", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        stat.is_none_or(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
            .then_some(())
    })
    .await;
    let again = app.run(json!({"name": "victim"})).await;
    app.wait_status(&again, "the slot is free again", |s| {
        s["state"] == "running"
    })
    .await;
    app.post(&format!("/scripts/v1/kill/{again}"), json!({}))
        .await;
    app.wait_done(&again).await;
}

#[actix_web::test]
async fn one_users_failed_queue_does_not_touch_another_users_runs() {
    let app = spawn_app().await;
    let config = app.config();
    let mut db = scriptd::events::store::open(&config.database())
        .await
        .expect("db");
    let bob = scriptd::admin::add_user(&mut db, &config, "bob", false)
        .await
        .expect("bob");
    std::fs::write(bob.exectab, "slow /bin/sleep 0.3\n").expect("bob's exectab");
    app.exectab("crashy /bin/sleep 30\n");
    let crashy = app.run(json!({"name": "crashy"})).await;
    app.wait_status(&crashy, "running", |s| s["state"] == "running")
        .await;
    let (_, reply) = app
        .call_with(
            "POST",
            "/scripts/v1/run",
            Some(&bob.apikey),
            Some(json!({"name": "slow"})),
        )
        .await;
    let bobs = reply["id"].as_str().expect("bob's run").to_owned();

    let old = queue(&app, "crashy").await;
    let _ = old.send(Crash).await;
    wait_rebuilt(&app, "crashy", &old).await;

    let path = format!("/scripts/v1/status/{bobs}");
    let status = eventually_ok("bob's run to finish", || async {
        let (_, status) = app.call_with("GET", &path, Some(&bob.apikey), None).await;
        match status["state"] == "done" {
            true => Ok(status),
            false => Err(format!("last status {status}")),
        }
    })
    .await;
    assert_eq!(status["outcome"], "success");
    assert_eq!(
        app.status(&crashy).await["state"],
        "running",
        "the adopted run still runs"
    );
    app.post(&format!("/scripts/v1/kill/{crashy}"), json!({}))
        .await;
    assert_eq!(
        app.wait_done(&crashy).await.outcome,
        Outcome::Killed,
        "kill reaches the adopted process"
    );
}
