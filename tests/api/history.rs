//! History and audit: `GET history` (paging, filters, cursors, audit
//! fields, guest rules) and the parameter checks it shares with `GET
//! events`, against the real server (paging helpers: `helpers::history`).

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};

use scriptd::wire::HistoryRequest;

use crate::helpers::history::{all_pages, assert_ordered, ids, run_many, wait_history_count};
use crate::helpers::{spawn_app, unix_now, Api};

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
    let first = app.history(&HistoryRequest::default()).await;
    assert_eq!(first.runs.len(), 100, "default limit");
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
    let (guest_id, guest_key) = app
        .create_guest("slow", [true, true, true, false], unix_now() + 3600)
        .await;
    let (runner_id, runner_key) = app
        .create_guest("fast", [true, false, true, false], unix_now() + 3600)
        .await;
    let running = app.run(json!({"name": "slow"})).await;
    app.wait_status(&running, "running", |s| s["state"] == "running")
        .await;
    let waiting = app.run(json!({"name": "slow"})).await;
    let guest_api = Api::new(app.port, guest_key.clone());
    let runner_api = Api::new(app.port, runner_key);
    let by_guest = runner_api.run(json!({"name": "fast"})).await;

    // Act: the admin cancels the queued run, the guest kills the running one.
    app.cancel(&waiting).await;
    guest_api.kill(&running).await;
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
    let (_, reader_key) = app
        .create_guest("mine", [false, false, true, false], unix_now() + 3600)
        .await;
    let (_, blind_key) = app
        .create_guest("mine", [true, true, false, false], unix_now() + 3600)
        .await;
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
