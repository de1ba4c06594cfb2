//! History and audit: `GET history` (filters, cursors, audit fields, guest
//! rules), `GET events`, and retention (`admin prune`), against the real
//! server.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Api, TestApp, DEADLINE};

fn now() -> i64 {
    scriptd::clock::now_secs()
}

/// Creates a guest of the admin for `name` and returns (id, key).
async fn guest(
    app: &TestApp,
    name: &str,
    run: bool,
    cancel: bool,
    status: bool,
) -> (String, String) {
    let body = json!({"name": name, "run": run, "cancel": cancel, "status": status,
                      "monitor": false, "expires": now() + 3600});
    let (code, reply) = app.post("/scripts/v1/guest/create", body).await;
    assert_eq!(code, 200, "guest created: {reply}");
    (
        reply["id"].as_str().expect("guest id").to_owned(),
        reply["info"]["apikey"].as_str().expect("key").to_owned(),
    )
}

/// Queues `count` runs of `name` with at most 32 requests in flight.
async fn run_many(app: &TestApp, name: &str, count: usize) -> Vec<String> {
    futures_util::stream::iter(0..count)
        .map(|_| app.run(json!({"name": name})))
        .buffer_unordered(32)
        .collect()
        .await
}

/// Every history row matching `query` (a query string without `before`),
/// fetched in pages of `limit`, checking each page's size and cursor.
async fn all_pages(api: &Api, key: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let cursor = before
            .as_ref()
            .map(|c| format!("&before={c}"))
            .unwrap_or_default();
        let path = format!("/scripts/v1/history?limit={limit}{query}{cursor}");
        let (code, page) = api.call_with("GET", &path, Some(key), None).await;
        assert_eq!(code, 200, "{path}: {page}");
        let runs = page["runs"].as_array().expect("runs").clone();
        assert!(runs.len() <= limit, "page within limit");
        rows.extend(runs.iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(runs.len(), limit, "only full pages have a next cursor");
                before = Some(next.to_owned());
            }
            None => return rows,
        }
    }
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Asserts newest first by (finished, id), strictly, so no row repeats.
fn assert_ordered(rows: &[Value], what: &str) {
    for pair in rows.windows(2) {
        let key = |r: &Value| {
            (
                r["finished"].as_f64().expect("finished"),
                r["id"].as_str().expect("id").to_owned(),
            )
        };
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        assert!(
            a.0 > b.0 || (a.0 == b.0 && a.1 > b.1),
            "{what}: {a:?} before {b:?}"
        );
    }
}

/// Polls history until `name` has `count` finished runs.
async fn wait_history_count(app: &TestApp, name: &str, count: usize) {
    let start = Instant::now();
    loop {
        let rows = all_pages(app, &app.key, &format!("&name={name}"), 1000).await;
        if rows.len() == count {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{name}: {} of {count} runs in history",
            rows.len()
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn history_pages_and_filters_over_thousands_of_runs_without_duplicates_or_gaps() {
    // Arrange: 2500 + 500 no-process runs, plus real successes and failures.
    let app = spawn_app().await;
    // -s lets many no-process runs end at once, so their final events share
    // group commits instead of waiting for one fsync each.
    app.exectab("-s=64 -n fast /bin/true\n-s=64 -n other /bin/true\n-s=4 ok /bin/true\n-s=4 fail /bin/sh -c \"exit 3\"\n");
    let fast = run_many(&app, "fast", 2500).await;
    let other = run_many(&app, "other", 500).await;
    let ok = run_many(&app, "ok", 5).await;
    let fail = run_many(&app, "fail", 7).await;
    for (name, count) in [("fast", 2500), ("other", 500), ("ok", 5), ("fail", 7)] {
        wait_history_count(&app, name, count).await;
    }
    let everything: HashSet<String> = [&fast, &other, &ok, &fail]
        .into_iter()
        .flatten()
        .cloned()
        .collect();

    // Act + Assert: paging at several sizes yields every run exactly once, in order.
    let full = all_pages(&app, &app.key, "", 1000).await;
    for limit in [1000, 137, 1] {
        let rows = if limit == 1000 {
            full.clone()
        } else {
            all_pages(&app, &app.key, "&name=other", limit).await
        };
        assert_ordered(&rows, &format!("limit {limit}"));
        let seen: Vec<String> = ids(&rows);
        let unique: HashSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "limit {limit}: no duplicates");
        let want: HashSet<String> = if limit == 1000 {
            everything.clone()
        } else {
            other.iter().cloned().collect()
        };
        assert_eq!(unique, want, "limit {limit}: no gaps, nothing foreign");
    }
    let first = app.get("/scripts/v1/history").await.1;
    assert_eq!(
        first["runs"].as_array().map(Vec::len),
        Some(100),
        "default limit"
    );
    assert_eq!(
        first["runs"][0], full[0],
        "the default page starts at the newest run"
    );

    // Filters: each matches exactly the rows the full list says it should.
    let by = |pred: &dyn Fn(&Value) -> bool| -> HashSet<String> {
        full.iter()
            .filter(|r| pred(r))
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let middle = full[full.len() / 2]["finished"]
        .as_f64()
        .expect("finished")
        .floor() as i64;
    let cases: Vec<(&str, String, HashSet<String>)> = vec![
        ("name", "&name=fast".into(), fast.iter().cloned().collect()),
        (
            "outcome",
            "&outcome=failed".into(),
            fail.iter().cloned().collect(),
        ),
        (
            "outcome success",
            "&outcome=success".into(),
            ok.iter().cloned().collect(),
        ),
        (
            "name and outcome",
            "&name=fail&outcome=failed".into(),
            fail.iter().cloned().collect(),
        ),
        (
            "name and other outcome",
            "&name=fast&outcome=failed".into(),
            HashSet::new(),
        ),
        (
            "since",
            format!("&since={middle}"),
            by(&|r| r["finished"].as_f64() >= Some(middle as f64)),
        ),
        (
            "until",
            format!("&until={middle}"),
            by(&|r| r["finished"].as_f64() < Some(middle as f64)),
        ),
        (
            "name since until",
            format!("&name=other&since={middle}&until={}", middle + 1),
            by(&|r| {
                r["name"] == "other"
                    && (middle as f64..(middle + 1) as f64)
                        .contains(&r["finished"].as_f64().unwrap_or(0.0))
            }),
        ),
    ];
    for (what, query, want) in cases {
        let rows = all_pages(&app, &app.key, &query, 400).await;
        assert_ordered(&rows, what);
        let got: Vec<String> = ids(&rows);
        assert_eq!(got.len(), want.len(), "{what}: count");
        assert_eq!(got.into_iter().collect::<HashSet<_>>(), want, "{what}");
    }
    let failed = all_pages(&app, &app.key, "&outcome=failed", 100).await;
    assert!(
        failed
            .iter()
            .all(|r| r["exit_code"] == 3 && r["state"] == "done"),
        "finished shape"
    );
    assert!(
        failed[0]["args"]["params"].is_array(),
        "owners see args: {}",
        failed[0]
    );
}

#[actix_web::test]
async fn history_and_events_refuse_malformed_parameters() {
    let app = spawn_app().await;
    let cases = [
        ("limit 0", "history?limit=0", "invalid_limit"),
        ("limit 1001", "history?limit=1001", "invalid_limit"),
        ("limit text", "history?limit=ten", "invalid_limit"),
        (
            "unknown outcome",
            "history?outcome=exploded",
            "invalid_outcome",
        ),
        ("garbage cursor", "history?before=zzz", "invalid_before"),
        (
            "run id as cursor",
            "history?before=0190c1f2-0000-7000-8000-000000000000",
            "invalid_before",
        ),
        ("since text", "history?since=yesterday", "invalid_since"),
        ("until float text", "history?until=1.5x", "invalid_until"),
        ("bad name", "history?name=a%2Fb", "invalid_name"),
        ("negative after", "events?after=-1", "invalid_after"),
        ("events limit", "events?limit=5000", "invalid_limit"),
        ("bad run", "events?run=../../etc", "invalid_run"),
    ];
    for (what, path, code) in cases {
        let (status, reply) = app.get(&format!("/scripts/v1/{path}")).await;
        assert_eq!(
            (status, reply["errorcode"].as_str()),
            (400, Some(code)),
            "{what}: {reply}"
        );
    }
    let (status, reply) = app.post("/scripts/v1/history", json!({})).await;
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (400, Some("use_get_request")),
        "{reply}"
    );
    let (status, reply) = app
        .call_with("GET", "/scripts/v1/history", None, None)
        .await;
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (403, Some("invalid_missing_apikey"))
    );
}

#[actix_web::test]
async fn history_names_who_requested_cancelled_and_killed_each_run() {
    // Arrange: one slot, so the second run waits and can be cancelled.
    let app = spawn_app().await;
    app.exectab("-s=1 slow /bin/sleep 30\n-n fast /bin/true\n");
    let (guest_id, guest_key) = guest(&app, "slow", true, true, true).await;
    let (runner_id, runner_key) = guest(&app, "fast", true, false, true).await;
    let running = app.run(json!({"name": "slow"})).await;
    app.wait_status(&running, "running", |s| s["state"] == "running")
        .await;
    let waiting = app.run(json!({"name": "slow"})).await;
    let guest_api = Api::new(app.port, guest_key.clone());
    let runner_api = Api::new(app.port, runner_key);
    let by_guest = runner_api.run(json!({"name": "fast"})).await;

    // Act: the admin cancels the queued run, the guest kills the running one.
    let (code, reply) = app
        .post(&format!("/scripts/v1/cancel/{waiting}"), json!({}))
        .await;
    assert_eq!(code, 200, "cancelled: {reply}");
    let (code, reply) = guest_api
        .post(&format!("/scripts/v1/kill/{running}"), json!({}))
        .await;
    assert_eq!(code, 200, "kill accepted: {reply}");
    app.wait_done(&running).await;
    runner_api.wait_done(&by_guest).await;

    // Assert
    let rows: BTreeMap<String, Value> = all_pages(&app, &app.key, "", 100)
        .await
        .into_iter()
        .map(|r| (r["id"].as_str().expect("id").to_owned(), r))
        .collect();
    let killed = &rows[&running];
    assert_eq!(killed["outcome"], "killed", "{killed}");
    assert_eq!(killed["requested_by"], "user:1", "{killed}");
    assert_eq!(killed["requested_from"], "127.0.0.1", "{killed}");
    assert_eq!(killed["killed_by"], format!("guest:{guest_id}"), "{killed}");
    assert_eq!(killed["killed_from"], "127.0.0.1", "{killed}");
    assert!(killed.get("cancelled_by").is_none(), "{killed}");
    let cancelled = &rows[&waiting];
    assert_eq!(cancelled["outcome"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["cancelled_by"], "user:1", "{cancelled}");
    assert_eq!(cancelled["cancelled_from"], "127.0.0.1", "{cancelled}");
    assert!(cancelled.get("killed_by").is_none(), "{cancelled}");
    let guest_run = &rows[&by_guest];
    assert_eq!(
        guest_run["requested_by"],
        format!("guest:{runner_id}"),
        "{guest_run}"
    );
    assert_eq!(guest_run["outcome"], "noexec", "{guest_run}");

    // The same facts are in the raw log the history was projected from.
    let (_, log) = app.get(&format!("/scripts/v1/events?run={running}")).await;
    let kill = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "RunKillRequested")
        .cloned();
    assert_eq!(
        kill.map(|e| e["data"]["origin"]["guest"].clone()),
        Some(json!(guest_id))
    );
}

#[actix_web::test]
async fn guests_see_only_their_script_without_args_or_audit_and_never_the_event_log() {
    let app = spawn_app().await;
    app.exectab("-n mine /bin/true @@1\n-n theirs /bin/true\n");
    let mine = app.run(json!({"name": "mine", "args": ["secret"]})).await;
    let theirs = app.run(json!({"name": "theirs"})).await;
    app.wait_done(&mine).await;
    app.wait_done(&theirs).await;
    let (_, reader_key) = guest(&app, "mine", false, false, true).await;
    let (_, blind_key) = guest(&app, "mine", true, true, false).await;
    let reader = Api::new(app.port, reader_key.clone());

    let rows = all_pages(&reader, &reader_key, "", 10).await;
    assert_eq!(ids(&rows), vec![mine.clone()], "own script only");
    for field in ["args", "requested_by", "requested_from"] {
        assert!(
            rows[0].get(field).is_none(),
            "guests get no {field}: {}",
            rows[0]
        );
    }
    assert_eq!(
        all_pages(&reader, &reader_key, "&name=mine", 10)
            .await
            .len(),
        1
    );
    let denied = [
        (
            "other script",
            reader_key.as_str(),
            "/scripts/v1/history?name=theirs",
        ),
        ("no status right", blind_key.as_str(), "/scripts/v1/history"),
        ("event log", reader_key.as_str(), "/scripts/v1/events"),
        (
            "event log of own run",
            reader_key.as_str(),
            &*format!("/scripts/v1/events?run={mine}"),
        ),
    ];
    for (what, key, path) in denied {
        let (status, reply) = app.call_with("GET", path, Some(key), None).await;
        assert_eq!(
            (status, reply["errorcode"].as_str()),
            (400, Some("access_denied")),
            "{what}: {reply}"
        );
    }
}

#[actix_web::test]
async fn events_page_through_the_users_log_in_order_without_key_hashes() {
    let app = spawn_app().await;
    app.exectab("-n fast /bin/true\n");
    let runs = run_many(&app, "fast", 30).await;
    for id in &runs {
        app.wait_done(id).await;
    }
    guest(&app, "fast", true, false, false).await;

    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = app
            .get(&format!("/scripts/v1/events?after={after}&limit=7"))
            .await;
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().expect("events").clone();
        if events.is_empty() {
            assert_eq!(page["next"], Value::Null, "no next after the end");
            break;
        }
        assert_eq!(
            page["next"],
            events[events.len() - 1]["seq"],
            "next is the last seq"
        );
        after = page["next"].as_i64().expect("next");
        all.extend(events);
    }
    let seqs: Vec<i64> = all
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {seqs:?}"
    );
    assert_eq!(all[0]["kind"], "UserCreated", "{}", all[0]);
    assert_eq!(all[0]["run"], Value::Null);
    assert!(
        !all.iter().any(|e| e.to_string().contains("key_hash")),
        "no key hash leaves the server"
    );
    assert!(
        all.iter().any(|e| e["kind"] == "GuestCreated"),
        "guest events are listed"
    );
    let queued = all.iter().filter(|e| e["kind"] == "RunQueued").count();
    assert_eq!(queued, runs.len(), "every run's RunQueued");
    assert!(
        all.iter()
            .all(|e| e["at"].is_f64() && e["data"].is_object()),
        "shape"
    );

    let (_, one) = app
        .get(&format!("/scripts/v1/events?run={}", runs[0]))
        .await;
    let kinds: Vec<&str> = one["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds.first(), Some(&"RunQueued"), "{one}");
    assert_eq!(kinds.last(), Some(&"RunFinished"), "{one}");
    assert!(one["events"]
        .as_array()
        .expect("events")
        .iter()
        .all(|e| e["run"] == runs[0].as_str()));
}

#[actix_web::test]
async fn prune_removes_old_events_and_logs_keeps_rows_unfinished_runs_and_accounts() {
    // Arrange: two finished runs with logs, one still running.
    let app = spawn_app().await;
    app.exectab("-s=2 echo /bin/echo hello\n-s=1 slow /bin/sleep 30\n");
    let old: Vec<String> = vec![
        app.run(json!({"name": "echo"})).await,
        app.run(json!({"name": "echo"})).await,
    ];
    for id in &old {
        app.wait_done(id).await;
    }
    let running = app.run(json!({"name": "slow"})).await;
    app.wait_status(&running, "running", |s| s["state"] == "running")
        .await;
    let config = scriptd::config::Config::new(app.storage.path());
    let log = |id: &str| app.scripts_dir().join("logs").join(format!("{id}.log"));
    assert!(
        log(&old[0]).exists(),
        "a finished run has a log before the prune"
    );
    let before = scriptd::clock::now() + 1.0;
    let mut db = scriptd::events::store::open(&config.database_path())
        .await
        .expect("db");

    // Act
    let report = scriptd::retention::prune(&mut db, &config, before, false)
        .await
        .expect("prune");

    // Assert: the events and logs of the finished runs are gone, their rows stay.
    assert_eq!(
        (report.runs, report.logs, report.rows),
        (2, 2, 0),
        "{report}"
    );
    assert!(report.events >= 4, "{report}");
    for id in &old {
        assert!(!log(id).exists(), "log of {id} removed");
        let (_, events) = app.get(&format!("/scripts/v1/events?run={id}")).await;
        assert_eq!(events["events"], json!([]), "events of {id} removed");
        assert_eq!(
            app.status(id).await["state"],
            "done",
            "status of {id} stays"
        );
    }
    let history = all_pages(&app, &app.key, "", 100).await;
    assert_eq!(
        ids(&history).into_iter().collect::<HashSet<_>>(),
        old.iter().cloned().collect(),
        "history stays"
    );
    assert_eq!(
        history[0]["requested_by"], "user:1",
        "audit columns outlive the events"
    );
    let (_, events) = app.get(&format!("/scripts/v1/events?run={running}")).await;
    assert!(
        !events["events"].as_array().expect("events").is_empty(),
        "unfinished run untouched"
    );
    let (_, all) = app.get("/scripts/v1/events").await;
    assert_eq!(
        all["events"][0]["kind"], "UserCreated",
        "account events stay"
    );

    // A rebuild after a prune keeps the rows it has no events for.
    scriptd::events::rebuild::rebuild(&mut db.writer).expect("rebuild");
    assert_eq!(
        all_pages(&app, &app.key, "", 100).await.len(),
        2,
        "rebuild keeps pruned rows"
    );

    // --all removes the rows too; the running run still ends normally.
    let report = scriptd::retention::prune(&mut db, &config, before, true)
        .await
        .expect("prune all");
    assert_eq!((report.rows, report.events), (2, 0), "{report}");
    assert!(
        all_pages(&app, &app.key, "", 100).await.is_empty(),
        "rows removed"
    );
    assert_eq!(app.status(&old[0]).await["errorcode"], "invalid_id");
    let (code, reply) = app
        .post(&format!("/scripts/v1/kill/{running}"), json!({}))
        .await;
    assert_eq!(code, 200, "{reply}");
    assert_eq!(app.wait_done(&running).await["outcome"], "killed");
}

#[actix_web::test]
async fn admin_prune_is_refused_while_a_server_holds_the_storage() {
    let app = spawn_app().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"))
        .args([
            "admin",
            "prune",
            "--before",
            "2030-01-01T00:00:00Z",
            "--storage",
        ])
        .arg(app.storage.path())
        .output()
        .expect("run scriptd admin prune");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "refused: {stderr}");
    assert!(stderr.contains("another scriptd server"), "{stderr}");
}

#[actix_web::test]
async fn admin_prune_on_an_idle_storage_reports_and_rejects_bad_dates() {
    let dir = tempfile::tempdir().expect("dir");
    let scriptd = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"))
            .args(args)
            .arg("--storage")
            .arg(dir.path())
            .output()
            .expect("run scriptd")
    };
    assert!(
        scriptd(&["user", "add", "alice"]).status.success(),
        "user add"
    );
    let ok = scriptd(&["admin", "prune", "--before", "1700000000", "--all"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("pruned 0 finished runs"), "{stdout}");
    let bad = scriptd(&["admin", "prune", "--before", "last tuesday"]);
    assert!(!bad.status.success(), "bad date refused");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid date"));
}

fn scriptd_client(app: &TestApp, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scriptd"));
    command
        .args(args)
        .args(["--url", &app.base, "--api-key", &app.key])
        .env_remove("SCRIPTD_URL")
        .env_remove("SCRIPTD_API_KEY");
    command
}

/// Runs a client command off the test thread, which the server runs on.
async fn output(mut command: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("run scriptd"))
        .await
        .expect("join")
}

#[actix_web::test]
async fn history_command_prints_a_table_or_json_lines_across_server_pages() {
    let app = spawn_app().await;
    app.exectab("-s=64 -n fast /bin/true\n-s=2 fail /bin/sh -c \"exit 2\"\n");
    let fast = run_many(&app, "fast", 1205).await;
    let failed = app.run(json!({"name": "fail"})).await;
    app.wait_done(&failed).await;
    wait_history_count(&app, "fast", fast.len()).await;

    // --limit above one server page: the command follows the cursor.
    let out = output(scriptd_client(
        &app,
        &["history", "--name", "fast", "--limit", "1200", "--json"],
    ))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1200, "exactly --limit rows");
    assert_eq!(
        lines
            .iter()
            .map(|r| r["id"].clone())
            .collect::<HashSet<_>>()
            .len(),
        1200,
        "no duplicates"
    );
    assert_ordered(&lines, "history --json");

    let out = output(scriptd_client(
        &app,
        &[
            "history",
            "--outcome",
            "failed",
            "--since",
            "2000-01-01T00:00:00Z",
        ],
    ))
    .await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.starts_with("ID"), "header: {table}");
    assert_eq!(
        table.lines().count(),
        2,
        "header and the one failed run: {table}"
    );
    assert!(
        table.contains(&failed) && table.contains("failed") && table.contains("user:1"),
        "{table}"
    );

    let out = output(scriptd_client(&app, &["history", "--outcome", "exploded"])).await;
    assert!(!out.status.success(), "an API error fails the command");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_outcome"));
}

#[actix_web::test]
async fn events_follow_prints_events_recorded_after_it_started() {
    use std::io::{BufRead, BufReader};
    let app = spawn_app().await;
    app.exectab("-n fast /bin/true\n");
    let mut child = scriptd_client(&app, &["events", "--follow", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn scriptd events --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx
                .send(serde_json::from_str(&line).unwrap_or(Value::Null))
                .is_err()
            {
                return;
            }
        }
    });
    // Polls without blocking the thread: the server under test runs on it.
    let next_kind = |want: &'static str, run: Option<String>| {
        let rx = &rx;
        async move {
            let start = Instant::now();
            loop {
                match rx.try_recv() {
                    Ok(event)
                        if event["kind"] == want
                            && run.as_deref().is_none_or(|r| event["run"] == r) =>
                    {
                        return event
                    }
                    Ok(_) => continue,
                    Err(_) => {
                        assert!(start.elapsed() < DEADLINE, "no {want} line");
                        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                }
            }
        }
    };
    next_kind("UserCreated", None).await;
    // It follows over a monitor socket, not by polling alone.
    crate::helpers::eventually_async("a monitor socket is open", || async {
        let (_, text) = app.get("/metrics").await;
        text.as_str()
            .is_some_and(|t| t.lines().any(|l| l == "scriptd_monitors_connected 1"))
    })
    .await;

    let id = app.run(json!({"name": "fast"})).await;

    let finished = next_kind("RunFinished", Some(id.clone())).await;
    assert_eq!(
        finished["data"]["record"]["outcome"], "noexec",
        "{finished}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
