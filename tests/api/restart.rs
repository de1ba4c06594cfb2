//! Restarts with a deep queue, in process: the real application is built,
//! stopped gracefully (which releases the storage lock) and built again on
//! the same storage, possibly with another config. Every queued run keeps
//! its place and its due time; status files follow `status_files`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use scriptd::app::Application;
use scriptd::config::{Config, StatusFileMode};
use scriptd::wire::IdsOrCount;
use serde_json::{json, Value};

use crate::helpers::server::ServerSpec;
use crate::helpers::server::Stoppable;
use crate::helpers::{eventually, eventually_async, unix_now, Api, Scheme};

fn config(storage: &Path, mode: StatusFileMode) -> Config {
    let mut config = ServerSpec::new(storage, Scheme::Plain).config();
    config.shutdown_grace = Duration::from_secs(2);
    config.status_files = mode;
    config
}

async fn start(storage: &Path, mode: StatusFileMode) -> Stoppable {
    if std::env::var("TEST_LOG").is_ok() {
        scriptd::telemetry::init();
    }
    let app = Application::build(config(storage, mode))
        .await
        .expect("app builds");
    let key = match app.admin_key.clone() {
        Some(key) => key,
        None => std::fs::read_to_string(storage.join("admin.key")).expect("admin.key"),
    };
    let api = Api::new(app.port(), key.trim().to_owned());
    Stoppable::serve(app, api)
}

/// `GET status`: the queued ids of `name`, in queue order.
async fn queued_ids(api: &Api, name: &str) -> Vec<String> {
    match api.status_all().await.queued.get(name) {
        Some(IdsOrCount::Ids(ids)) => ids.iter().map(ToString::to_string).collect(),
        Some(IdsOrCount::Count(n)) => panic!("the owner sees ids, not a count of {n}"),
        None => Vec::new(),
    }
}

fn exectab(storage: &Path, text: &str) {
    std::fs::write(storage.join("1/scripts/exectab.txt"), text).expect("write exectab");
}

/// Where a run's status file is (issue 14 may move the folder).
fn status_file(storage: &Path, id: &str) -> PathBuf {
    storage.join(format!("1/scripts/status/{id}.json"))
}

fn read_status_file(storage: &Path, id: &str) -> Option<Value> {
    let text = std::fs::read_to_string(status_file(storage, id)).ok()?;
    Some(serde_json::from_str(&text).expect("a status file is valid JSON"))
}

#[actix_web::test]
async fn a_restart_keeps_thousands_of_queued_runs_in_their_places_with_their_due_times() {
    // Arrange: 3000 runs due in the next hour, 300 at each due second
    // (their arrival order decides), 100 queued at once. Due times do not
    // decrease from one batch to the next, so that each new run's status
    // file is the only one written (a run queued ahead of others rewrites
    // theirs).
    let temp = tempfile::tempdir().expect("temp dir");
    let storage = temp.path();
    let life = start(storage, StatusFileMode::All).await;
    exectab(storage, "later /bin/true @@1\n");
    let base = unix_now() + 3600;
    let mut ids = Vec::new();
    let api: &Api = &life;
    for chunk in 0..30 {
        let requests = (0..100).map(|i| {
            let n = chunk * 100 + i;
            let due = base + (chunk / 3) * 60;
            let body = json!({"name": "later", "args": [n.to_string()], "queue": due});
            async move { (api.run(body).await, due) }
        });
        ids.extend(join_all(requests).await);
    }
    let order = queued_ids(&life, "later").await;
    assert_eq!(order.len(), 3000, "every run is queued");
    let due_of: std::collections::HashMap<String, i64> = ids.iter().cloned().collect();
    let dues: Vec<i64> = order.iter().map(|id| due_of[id]).collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "in due order");
    eventually("every queued run's status file", || {
        order
            .iter()
            .all(|id| status_file(storage, id).exists())
            .then_some(())
    })
    .await;
    // Files the restart must repair: one missing, one stale.
    std::fs::remove_file(status_file(storage, &order[10])).expect("remove a file");
    std::fs::write(status_file(storage, &order[20]), "{}").expect("spoil a file");

    // Act
    life.stop().await;
    let life = start(storage, StatusFileMode::All).await;

    // Assert: same order, and each run's status is exact.
    assert_eq!(queued_ids(&life, "later").await, order, "same queue order");
    for chunk in order.chunks(100).enumerate() {
        let (offset, chunk) = chunk;
        let statuses = join_all(chunk.iter().map(|id| life.status(id))).await;
        for (i, (id, status)) in chunk.iter().zip(statuses).enumerate() {
            let position = offset * 100 + i;
            assert_eq!(
                (
                    status["state"].as_str(),
                    status["queued"].as_i64(),
                    status["position"].as_u64()
                ),
                (Some("queued"), Some(due_of[id]), Some(position as u64)),
                "run {id} keeps its due time and place: {status}"
            );
        }
    }
    for position in [10, 20] {
        let id = &order[position];
        let file = eventually("the repaired status file", || {
            read_status_file(storage, id).filter(|f| f["position"] == position)
        })
        .await;
        assert_eq!(
            (file["state"].as_str(), file["queued"].as_i64()),
            (Some("queued"), Some(due_of[id])),
            "{file}"
        );
    }
    let last = order.last().expect("runs");
    let file = read_status_file(storage, last).expect("the last run keeps its file");
    assert_eq!(file["position"], 2999, "{file}");
    let late = life
        .run(json!({"name": "later", "args": ["late"], "queue": base + 9 * 60}))
        .await;
    assert_eq!(
        life.status(&late).await["position"],
        3000,
        "a new run due with the last ones queues behind every restored one"
    );
    life.stop().await;
}

/// Drains the status-file writer: three runs of `probe`, one after the
/// other, each with a status file (its own, or one planted when the mode
/// writes none), ended, and waited for until the writer removed that file.
/// Every change sent before the first round is on disk once three rounds
/// are done (one to be gathered, one to be due, one to see that batch
/// finished).
async fn drain_status_writer(api: &Api, storage: &Path, gates: &Path, mode: StatusFileMode) {
    static PROBES: AtomicUsize = AtomicUsize::new(0);
    for _round in 0..3 {
        let arg = format!("p{}", PROBES.fetch_add(1, Ordering::Relaxed));
        let id = api.run(json!({"name": "probe", "args": [arg]})).await;
        api.wait_status(&id, "probe running", |s| s["state"] == "running")
            .await;
        let file = status_file(storage, &id);
        if mode.running() {
            eventually("the probe's running status file", || {
                read_status_file(storage, &id).filter(|f| f["state"] == "running")
            })
            .await;
        } else {
            std::fs::create_dir_all(file.parent().expect("dir")).expect("status dir");
            std::fs::write(&file, "{}").expect("plant a file");
        }
        std::fs::write(gates.join(&arg), b"").expect("open the gate");
        api.wait_done(&id).await;
        eventually(
            &format!("the probe's file removed: {}", file.display()),
            || (!file.exists()).then_some(()),
        )
        .await;
    }
}

fn gated_exectab(storage: &Path, gates: &Path) {
    exectab(
        storage,
        &format!(
            "held /bin/sh -c \"while [ ! -e {g}/$1 ]; do sleep 0.02; done\" sh @@1\n\
             -s=8 probe /bin/sh -c \"while [ ! -e {g}/$1 ]; do sleep 0.02; done\" sh @@1\n",
            g = gates.display()
        ),
    );
}

#[actix_web::test]
async fn status_files_all_running_and_none_decide_which_runs_have_a_file() {
    for mode in [
        StatusFileMode::All,
        StatusFileMode::Running,
        StatusFileMode::None,
    ] {
        // Arrange: `a` holds the only slot, `b` waits behind it.
        let temp = tempfile::tempdir().expect("temp dir");
        let (storage, gates) = (temp.path().join("storage"), temp.path().join("gates"));
        std::fs::create_dir_all(&gates).expect("gates");
        let life = start(&storage, mode).await;
        gated_exectab(&storage, &gates);
        let a = life.run(json!({"name": "held", "args": ["a"]})).await;
        life.wait_status(&a, "a running", |s| s["state"] == "running")
            .await;
        let b = life.run(json!({"name": "held", "args": ["b"]})).await;

        // Act
        drain_status_writer(&life, &storage, &gates, mode).await;

        // Assert: the files the mode promises, and GET status exact anyway.
        let has = |id: &str| status_file(&storage, id).exists();
        assert_eq!(has(&a), mode.running(), "{mode:?}: the running run's file");
        assert_eq!(has(&b), mode.queued(), "{mode:?}: the queued run's file");
        if mode.queued() {
            let file = read_status_file(&storage, &b).expect("file");
            assert_eq!(
                (file["state"].as_str(), file["position"].as_u64()),
                (Some("queued"), Some(0))
            );
        }
        let status = life.status(&b).await;
        assert_eq!(
            (status["state"].as_str(), status["position"].as_u64()),
            (Some("queued"), Some(0)),
            "{mode:?}: GET status is the source of truth: {status}"
        );

        // Act: `b` starts.
        std::fs::write(gates.join("a"), b"").expect("open a");
        life.wait_status(&b, "b running", |s| s["state"] == "running")
            .await;
        drain_status_writer(&life, &storage, &gates, mode).await;

        // Assert
        assert!(!has(&a), "{mode:?}: an ended run has no file");
        assert_eq!(has(&b), mode.running(), "{mode:?}: b's running file");
        if mode.running() {
            let file = read_status_file(&storage, &b).expect("file");
            assert_eq!(file["state"], "running", "{mode:?}: {file}");
        }
        std::fs::write(gates.join("b"), b"").expect("open b");
        life.wait_done(&b).await;
        life.stop().await;
    }
}

#[actix_web::test]
async fn a_restart_with_status_files_running_removes_the_files_of_queued_runs() {
    // Arrange: 50 queued runs with files, written under `all`.
    let temp = tempfile::tempdir().expect("temp dir");
    let (storage, gates) = (temp.path().join("storage"), temp.path().join("gates"));
    std::fs::create_dir_all(&gates).expect("gates");
    let life = start(&storage, StatusFileMode::All).await;
    gated_exectab(&storage, &gates);
    let queue = unix_now() + 3600;
    let ids = join_all(
        (0..50)
            .map(|i| life.run(json!({"name": "held", "args": [format!("q{i}")], "queue": queue}))),
    )
    .await;
    eventually("the queued runs' files", || {
        ids.iter()
            .all(|id| status_file(&storage, id).exists())
            .then_some(())
    })
    .await;
    life.stop().await;

    // Act
    let life = start(&storage, StatusFileMode::Running).await;

    // Assert
    eventually_async("the queued runs' files removed", || async {
        ids.iter().all(|id| !status_file(&storage, id).exists())
    })
    .await;
    for (position, id) in queued_ids(&life, "held").await.iter().enumerate() {
        let status = life.status(id).await;
        assert_eq!(
            status["position"].as_u64(),
            Some(position as u64),
            "{status}"
        );
    }
    drain_status_writer(&life, &storage, &gates, StatusFileMode::Running).await;
    assert!(
        ids.iter().all(|id| !status_file(&storage, id).exists()),
        "and they stay removed"
    );
    life.stop().await;
}
