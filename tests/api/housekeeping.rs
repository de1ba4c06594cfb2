//! Housekeeping of a live server: online retention (driven through the
//! server's own store, next to runs being accepted), `retention_days`,
//! `admin prune` and `admin backup` while a server runs, and a restore
//! from that backup.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use actix::Addr;
use futures_util::StreamExt;
use rusqlite::{Connection, OpenFlags};
use scriptd::app::Application;
use scriptd::config::Config;
use scriptd::events::EventStore;
use serde_json::{json, Value};

use crate::helpers::server::ServerSpec;
use crate::helpers::{eventually, eventually_async, eventually_within, Api, Scheme, DEADLINE};

/// A server built in this test, with its store.
struct Served {
    api: Api,
    store: Addr<EventStore>,
    config: Config,
}

/// Builds and starts a server on `storage`; `key` for a restored storage
/// (a fresh one makes its own admin key).
async fn serve_on(storage: &Path, key: Option<&str>, adjust: impl FnOnce(&mut Config)) -> Served {
    let mut config = ServerSpec::new(storage, Scheme::Plain).config();
    adjust(&mut config);
    let app = Application::build(config.clone())
        .await
        .expect("app builds");
    let key = app
        .admin_key
        .clone()
        .or(key.map(str::to_owned))
        .expect("a key");
    let api = Api::new(app.port(), key);
    let store = app.store();
    actix::spawn(app.run_until_stopped(std::future::pending()));
    Served { api, store, config }
}

fn read_db(storage: &Path) -> Connection {
    Connection::open_with_flags(storage.join("scriptd.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database")
}

/// How many events of `run` the storage's database holds (either backend).
fn events_of(storage: &Path, run: &str) -> i64 {
    crate::backend::count(storage, "SELECT COUNT(*) FROM events WHERE stream = ?", run)
}

/// One count from the storage's database; `sql` has no parameter.
fn count(storage: &Path, sql: &str) -> i64 {
    // A parameter that is always true keeps one query shape for both backends.
    crate::backend::count(storage, &format!("{sql} AND ? = ''"), "")
}

fn pragma(conn: &Connection, name: &str) -> i64 {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .expect("pragma")
}

/// Queues `count` runs of `name`, 16 at a time; returns their ids in order.
async fn queue(api: &Api, name: &str, count: usize) -> Vec<String> {
    futures_util::stream::iter(0..count)
        .map(|_| api.run(json!({"name": name})))
        .buffered(16)
        .collect()
        .await
}

/// Waits until nothing is queued or running, within `limit`.
async fn wait_idle(api: &Api, limit: Duration) {
    eventually_within(limit, "nothing queued or running", || async {
        let (_, list) = api.get("/scripts/v1/status").await;
        let empty = |key: &str| {
            list[key].as_object().is_some_and(|m| {
                m.values()
                    .all(|v| v.as_array().is_some_and(|a| a.is_empty()))
            })
        };
        match empty("queued") && empty("running") {
            true => Ok(()),
            false => Err(format!("still busy: {list}")),
        }
    })
    .await
}

/// One value of `/metrics`.
async fn metric(api: &Api, name: &str) -> f64 {
    let (_, text) = api.get("/metrics").await;
    let text = text.as_str().expect("metrics text").to_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[actix_web::test]
async fn online_retention_removes_exactly_the_old_runs_while_runs_are_accepted() {
    // Arrange: 150 finished runs with logs, then a cutoff after them.
    let storage = tempfile::tempdir().expect("dir");
    let server = serve_on(storage.path(), None, |_| {}).await;
    let api = &server.api;
    std::fs::write(
        storage.path().join("1/scripts/exectab.txt"),
        "-s=4 echo /bin/echo hi\n",
    )
    .expect("exectab");
    let old = queue(api, "echo", 150).await;
    wait_idle(api, DEADLINE).await;
    let before = scriptd::clock::now();
    for id in &old {
        assert_eq!(api.log(id).await, "hi\n", "old run {id} has a log");
    }

    // Act: prune through the server's store while 150 more runs are queued.
    let accepted = AtomicUsize::new(0);
    let newer = Mutex::new(Vec::new());
    let submit = async {
        for _ in 0..15 {
            let ids = queue(api, "echo", 10).await;
            accepted.fetch_add(ids.len(), Ordering::SeqCst);
            newer.lock().expect("ids").extend(ids);
        }
    };
    let prune = async {
        eventually("20 runs accepted", || {
            (accepted.load(Ordering::SeqCst) >= 20).then_some(())
        })
        .await;
        scriptd::retention::online::prune_pass(&server.store, &server.config, before, false).await
    };
    let ((), report) = futures_util::join!(submit, prune);
    let report = report.expect("prune pass");
    wait_idle(api, DEADLINE).await;
    let newer = newer.into_inner().expect("ids");

    // Assert: exactly the old runs lost their events and logs; rows stay.
    assert_eq!(
        (report.runs, report.logs, report.rows),
        (150, 150, 0),
        "{report}"
    );
    let db = storage.path();
    for id in &old {
        assert_eq!(events_of(db, id), 0, "events of old run {id} pruned");
        assert_eq!(api.log(id).await, "", "log of old run {id} removed");
    }
    assert_eq!(newer.len(), 150);
    for id in &newer {
        assert!(events_of(db, id) >= 3, "newer run {id} keeps its events");
        assert_eq!(api.log(id).await, "hi\n", "newer run {id} keeps its log");
    }
    let rows = count(db, "SELECT COUNT(*) FROM runs WHERE state = 'done'");
    assert_eq!(rows, 300, "history rows stay");
    assert_eq!(
        api.status(&old[0]).await["state"],
        "done",
        "status still answers"
    );
    let accounts = count(db, "SELECT COUNT(*) FROM events WHERE kind = 'UserCreated'");
    assert_eq!(accounts, 1, "account events stay");
    // Space goes back: a new SQLite storage uses incremental vacuum
    // (PostgreSQL vacuums by itself).
    if crate::backend::database_url(db).is_none() {
        let conn = read_db(db);
        assert_eq!(pragma(&conn, "auto_vacuum"), 2, "incremental auto_vacuum");
        assert!(report.pages_freed > 0, "{report}");
        assert_eq!(pragma(&conn, "freelist_count"), 0, "no free page left");
    }

    // A second pass finds nothing; --all then takes the kept rows.
    let again =
        scriptd::retention::online::prune_pass(&server.store, &server.config, before, false)
            .await
            .expect("second pass");
    assert_eq!((again.runs, again.events), (0, 0), "{again}");
    let all = scriptd::retention::online::prune_pass(&server.store, &server.config, before, true)
        .await
        .expect("all pass");
    assert_eq!((all.runs, all.rows), (0, 150), "{all}");
    assert_eq!(api.status(&old[0]).await["errorcode"], "invalid_id");
    assert_eq!(api.status(&newer[0]).await["state"], "done");

    // The figure for the report: how long a commit could wait for retention.
    let max = metric(api, "scriptd_housekeeping_max_seconds").await;
    let count = metric(api, "scriptd_housekeeping_seconds_count").await;
    let sum = metric(api, "scriptd_housekeeping_seconds_sum").await;
    let (_, text) = api.get("/metrics").await;
    for line in text.as_str().unwrap_or_default().lines() {
        if line.starts_with("scriptd_housekeeping_seconds_bucket")
            || line.starts_with("scriptd_commit_seconds")
        {
            eprintln!("{line}");
        }
    }
    eprintln!(
        "retention: {count} housekeeping steps, mean {:.2} ms, max {:.2} ms (a commit waits at most one step)",
        sum / count * 1e3,
        max * 1e3
    );
}

#[actix_web::test]
async fn retention_days_prunes_in_the_running_server_by_itself() {
    let storage = tempfile::tempdir().expect("dir");
    let server = serve_on(storage.path(), None, |config| {
        config.retention = Some(Duration::from_secs(1));
        config.retention_interval = Duration::from_millis(100);
    })
    .await;
    let api = &server.api;
    std::fs::write(
        storage.path().join("1/scripts/exectab.txt"),
        "echo /bin/echo hi\nsleeper /bin/sleep 30\n",
    )
    .expect("exectab");
    let done = api.run(json!({"name": "echo"})).await;
    api.wait_done(&done).await;
    let running = api.run(json!({"name": "sleeper"})).await;
    api.wait_status(&running, "running", |s| s["state"] == "running")
        .await;

    let db = storage.path();
    // A log file goes right after its batch commits (database logs with it).
    eventually_async("the finished run's events and log pruned", || async {
        events_of(db, &done) == 0 && api.log(&done).await.is_empty()
    })
    .await;
    assert_eq!(
        api.status(&done).await["state"],
        "done",
        "its history row stays"
    );
    assert!(
        events_of(db, &running) >= 2,
        "a running run is never pruned"
    );
    api.kill(&running).await;
    api.wait_done(&running).await;
}

fn rfc3339(secs: f64) -> String {
    let time = chrono::DateTime::from_timestamp_micros((secs * 1e6) as i64).expect("time");
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `scriptd ARGS --storage DIR`, awaited without blocking this thread (it
/// also runs the server).
async fn scriptd(args: &[&str], storage: &Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_scriptd"))
        .args(args)
        .arg("--storage")
        .arg(storage)
        .envs(crate::backend::database_env(storage))
        .env_remove("SCRIPTD_CONFIG")
        .output()
        .await
        .expect("scriptd runs")
}

#[actix_web::test]
async fn admin_prune_works_while_a_server_runs_and_accepts_runs() {
    let storage = tempfile::tempdir().expect("dir");
    let server = serve_on(storage.path(), None, |_| {}).await;
    let api = &server.api;
    std::fs::write(
        storage.path().join("1/scripts/exectab.txt"),
        "-s=2 echo /bin/echo hi\n",
    )
    .expect("exectab");
    let old = queue(api, "echo", 20).await;
    wait_idle(api, DEADLINE).await;
    // Idle in the status list is not yet on disk for another process: wait
    // until the database holds every old run's end.
    eventually("the old runs' ends in the database", || {
        old.iter()
            .all(|id| {
                crate::backend::count(
                    storage.path(),
                    "SELECT COUNT(*) FROM events WHERE stream = ? AND kind = 'RunFinished'",
                    id,
                ) == 1
            })
            .then_some(())
    })
    .await;
    // Prune never takes the run that holds the log's newest event (see
    // prune_batch); make that something else, or whether the last old
    // run goes depends on how soon the new runs below are queued.
    api.create_guest(
        "echo",
        [true, false, true, false],
        crate::helpers::unix_now() + 3600,
    )
    .await;
    let before = rfc3339(scriptd::clock::now());

    let args = ["admin", "prune", "--before", before.as_str()];
    let (out, newer) = futures_util::join!(scriptd(&args, storage.path()), queue(api, "echo", 40));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pruned 20 finished runs"), "{stdout}");
    wait_idle(api, DEADLINE).await;
    let db = storage.path();
    assert!(
        old.iter().all(|id| events_of(db, id) == 0),
        "old events gone"
    );
    assert!(
        newer.iter().all(|id| events_of(db, id) >= 3),
        "new runs intact"
    );
}

#[actix_web::test]
async fn a_backup_taken_while_1000_runs_are_queued_restores_every_run_in_it() {
    // Arrange: runs wait for a gate file, closed until the restore.
    let storage = tempfile::tempdir().expect("dir");
    let server = serve_on(storage.path(), None, |_| {}).await;
    let api = &server.api;
    let exectab = |gate: &Path| {
        format!(
            "-s=4 -t=120 gated /bin/sh -c \"while [ ! -e '{}' ]; do sleep 0.05; done\"\n",
            gate.display()
        )
    };
    let gate = storage.path().join("gate");
    std::fs::write(storage.path().join("1/scripts/exectab.txt"), exectab(&gate)).expect("exectab");

    // Act: queue 1000 runs; once 300 are acknowledged, back up.
    let acked = Mutex::new(Vec::new());
    let copy = storage.path().join("backup.db");
    let submit = async {
        for _ in 0..50 {
            let ids = queue(api, "gated", 20).await;
            acked.lock().expect("ids").extend(ids);
        }
    };
    let backup = async {
        eventually("300 runs acknowledged", || {
            (acked.lock().expect("ids").len() >= 300).then_some(())
        })
        .await;
        let before: HashSet<String> = acked.lock().expect("ids").iter().cloned().collect();
        let out = scriptd(
            &["admin", "backup", copy.to_str().expect("utf-8")],
            storage.path(),
        )
        .await;
        (before, out)
    };
    let ((), (acked_before, out)) = futures_util::join!(submit, backup);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("backed up"), "{stdout}");
    let all: HashSet<String> = acked.into_inner().expect("ids").into_iter().collect();
    assert_eq!(all.len(), 1000);

    // The copy holds every run acknowledged before the backup started.
    let in_copy: Vec<(String, String)> = {
        let conn =
            Connection::open_with_flags(&copy, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("copy");
        let mut select = conn.prepare("SELECT id, state FROM runs").expect("select");
        let rows = select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    };
    let copied: HashSet<String> = in_copy.iter().map(|(id, _)| id.clone()).collect();
    assert!(
        acked_before.is_subset(&copied),
        "acknowledged runs are in the copy"
    );
    assert!(copied.is_subset(&all), "the copy holds only real runs");
    let was_running: HashSet<&str> = in_copy
        .iter()
        .filter(|(_, state)| state == "running")
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(
        in_copy.iter().all(|(_, s)| s != "done"),
        "nothing had finished"
    );

    // Restore: the copy is the database; the exectab comes along as a file.
    // A queued run keeps the command it was queued with, so the restored
    // runs wait on the same gate: open it now (the original's runs go too).
    let restored = tempfile::tempdir().expect("dir");
    std::fs::copy(&copy, restored.path().join("scriptd.db")).expect("restore");
    std::fs::create_dir_all(restored.path().join("1/scripts")).expect("dirs");
    std::fs::write(
        restored.path().join("1/scripts/exectab.txt"),
        exectab(&gate),
    )
    .expect("exectab");
    std::fs::write(&gate, "").expect("open the gate");
    let second = serve_on(restored.path(), Some(&api.key), |_| {}).await;
    wait_idle(&second.api, Duration::from_secs(240)).await;

    // Assert: every run of the copy finished there.
    let conn = read_db(restored.path());
    let mut select = conn
        .prepare("SELECT id, outcome FROM runs")
        .expect("select");
    let outcomes: Vec<(String, String)> = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        outcomes.len(),
        copied.len(),
        "the restored server has exactly the copy's runs"
    );
    for (id, outcome) in &outcomes {
        let want = if was_running.contains(id.as_str()) {
            "interrupted"
        } else {
            "success"
        };
        assert_eq!(outcome, want, "run {id}");
    }
    let last: Value = second.api.status(&outcomes[0].0).await.json;
    assert_eq!(last["state"], "done");
}

#[actix_web::test]
async fn admin_vacuum_converts_an_older_database_but_not_under_a_server() {
    let storage = tempfile::tempdir().expect("dir");
    // Only `serve` creates a storage (issue 22); this one is made as it would be.
    drop(
        scriptd::events::store::open(&crate::helpers::config_for(storage.path()).database())
            .await
            .expect("new database"),
    );
    let made = scriptd(&["user", "add", "alice"], storage.path()).await;
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    {
        // As databases made before incremental vacuum are.
        let conn = Connection::open(storage.path().join("scriptd.db")).expect("open");
        conn.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;")
            .expect("make it old");
        assert_eq!(pragma(&conn, "auto_vacuum"), 0);
    }

    let out = scriptd(&["admin", "vacuum"], storage.path()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("now Incremental"), "{stdout}");
    assert_eq!(pragma(&read_db(storage.path()), "auto_vacuum"), 2);
    let users = scriptd(&["user", "list"], storage.path()).await;
    assert!(
        String::from_utf8_lossy(&users.stdout).contains("alice"),
        "data kept"
    );

    let _server = serve_on(storage.path(), Some("unused"), |_| {}).await;
    let busy = scriptd(&["admin", "vacuum"], storage.path()).await;
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(!busy.status.success(), "refused while a server runs");
    assert!(stderr.contains("another scriptd server"), "{stderr}");
    assert!(stderr.contains("stop the server first"), "{stderr}");
}
