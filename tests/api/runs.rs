//! The run engine over HTTP: validation, queues and limits, schedules,
//! processes, cancel, kill, timeout, status shapes and status files.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{is_root, spawn_app, TestApp};

async fn error(app: &TestApp, path: &str, body: Value) -> String {
    let (status, reply) = app.post(path, body.clone()).await;
    assert_eq!(status, 400, "{path} {body}: {reply}");
    reply["errorcode"].as_str().unwrap_or("").to_owned()
}

#[actix_web::test]
async fn run_validates_in_the_documented_order() {
    let app = spawn_app().await;
    app.exectab("-i -m=1 takes /bin/sleep 30\nplain /bin/echo @@1 @@2\n");
    let busy = app.run(json!({"name": "takes"})).await;
    let cases = [
        ("missing name", json!({}), "missing_name"),
        ("null name", json!({"name": null}), "missing_name"),
        ("unknown name", json!({"name": "nope"}), "invalid_name"),
        ("name not a string", json!({"name": 5}), "invalid_name"),
        (
            "unknown name before bad args",
            json!({"name": "nope", "args": 1}),
            "invalid_name",
        ),
        (
            "args not an array",
            json!({"name": "plain", "args": "x"}),
            "invalid_args",
        ),
        (
            "nested arg",
            json!({"name": "plain", "args": [["x"]]}),
            "invalid_args",
        ),
        (
            "stdin not a string",
            json!({"name": "plain", "stdin": 3}),
            "invalid_stdin",
        ),
        (
            "queue not an integer",
            json!({"name": "plain", "queue": "later"}),
            "invalid_queue",
        ),
        (
            "stdin for a script without -i",
            json!({"name": "plain", "stdin": "x", "args": [1, 2]}),
            "stdin_not_allowed",
        ),
        (
            "stdin over 1 MiB",
            json!({"name": "takes", "stdin": "x".repeat(1024 * 1024 + 1)}),
            "stdin_too_large",
        ),
        ("queue full", json!({"name": "takes"}), "queue_full"),
        (
            "too few args",
            json!({"name": "plain", "args": ["one"]}),
            "invalid_args",
        ),
    ];
    for (what, body, code) in cases {
        assert_eq!(error(&app, "/scripts/v1/run", body).await, code, "{what}");
    }
    let (_, reply) = app
        .post("/scripts/v1/run", json!({"name": "plain", "args": ["one"]}))
        .await;
    assert!(
        reply["error"].as_str().unwrap_or("").contains("at least 2"),
        "{reply}"
    );
    let ok = app
        .run(json!({"name": "plain", "args": ["a", 2], "stdin": ""}))
        .await;
    assert_ne!(ok, busy, "empty stdin is accepted for any script");
    app.post(&format!("/scripts/v1/kill/{busy}"), json!({}))
        .await;
}

#[actix_web::test]
async fn cancel_kill_status_and_log_report_their_errors() {
    let app = spawn_app().await;
    app.exectab("sleeper /bin/sleep 30\nquick /bin/true\n");
    let running = app.run(json!({"name": "sleeper"})).await;
    app.wait_status(&running, "running", |s| s["state"] == "running")
        .await;
    let queued = app.run(json!({"name": "sleeper"})).await;
    let done = app.run(json!({"name": "quick"})).await;
    app.wait_done(&done).await;
    let unknown = scriptd::ids::RunId::new().to_string();
    let cases = [
        ("/scripts/v1/cancel", "missing_id"),
        ("/scripts/v1/kill", "missing_id"),
        (&*format!("/scripts/v1/cancel/{running}"), "script_running"),
        (
            &*format!("/scripts/v1/cancel/{done}"),
            "script_not_queued_running",
        ),
        (
            &*format!("/scripts/v1/cancel/{unknown}"),
            "script_not_queued_running",
        ),
        (
            "/scripts/v1/cancel/..%2F..%2Fetc",
            "script_not_queued_running",
        ),
        (&*format!("/scripts/v1/kill/{queued}"), "script_not_running"),
        (&*format!("/scripts/v1/kill/{done}"), "script_not_running"),
    ];
    for (path, code) in cases {
        assert_eq!(error(&app, path, json!({})).await, code, "{path}");
    }
    for path in [
        format!("/scripts/v1/status/{unknown}"),
        "/scripts/v1/status/NOT-AN-ID".into(),
        format!("/scripts/v1/log/{unknown}"),
    ] {
        let (status, reply) = app.get(&path).await;
        assert_eq!(
            (status, reply["errorcode"].as_str()),
            (400, Some("invalid_id")),
            "{path}"
        );
    }
    let (status, _) = app
        .post(&format!("/scripts/v1/cancel/{queued}"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.status(&queued).await["outcome"], "cancelled");
    let (status, _) = app
        .post(&format!("/scripts/v1/kill/{running}"), json!({}))
        .await;
    assert_eq!(status, 200);
    let killed = app.wait_done(&running).await;
    assert_eq!(killed["outcome"], "killed");
    assert_eq!(killed["signal"], 15, "SIGTERM ended it");
}

#[actix_web::test]
async fn guests_only_reach_their_own_script_with_their_rights() {
    let app = spawn_app().await;
    app.exectab("mine /bin/sleep 30\nother /bin/sleep 30\n");
    let other = app.run(json!({"name": "other"})).await;
    let body = json!({"name": "mine", "run": true, "cancel": false, "status": true, "monitor": false,
                      "expires": scriptd::clock::now_secs() + 600});
    let (_, guest) = app.post("/scripts/v1/guest/create", body).await;
    let key = guest["info"]["apikey"].as_str().expect("key").to_owned();
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (app, key) = (&app, key.clone());
        async move { app.call_with(method, &path, Some(&key), body).await.1 }
    };
    let mine = call(
        "POST",
        "/scripts/v1/run".into(),
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_eq!(mine["success"], true, "{mine}");
    let mine = mine["id"].as_str().expect("id").to_owned();
    for (what, reply) in [
        (
            "run another script",
            call(
                "POST",
                "/scripts/v1/run".into(),
                Some(json!({"name": "other"})),
            )
            .await,
        ),
        (
            "status of another script's run",
            call("GET", format!("/scripts/v1/status/{other}"), None).await,
        ),
        (
            "cancel without the right",
            call("POST", format!("/scripts/v1/cancel/{mine}"), None).await,
        ),
        (
            "kill without the right",
            call("POST", format!("/scripts/v1/kill/{mine}"), None).await,
        ),
        (
            "read a log",
            call("GET", format!("/scripts/v1/log/{mine}"), None).await,
        ),
    ] {
        assert_eq!(reply["errorcode"], "access_denied", "{what}: {reply}");
    }
    let status = call("GET", format!("/scripts/v1/status/{mine}"), None).await;
    assert_eq!(status["id"], mine.as_str());
    let all = call("GET", "/scripts/v1/status".into(), None).await;
    assert!(
        all["running"]["mine"].is_array(),
        "ids for its own script: {all}"
    );
    assert_eq!(all["running"]["other"], 1, "counts for others: {all}");
    for id in [other, mine] {
        app.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
        app.wait_done(&id).await;
    }
    let done = call("GET", "/scripts/v1/status".into(), None).await;
    assert_eq!(done["running"], json!({}));
}

#[actix_web::test]
async fn status_has_the_queued_running_and_finished_shapes() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let gate = dir.path().join("go");
    app.exectab(&format!(
        "-s=1 steps /bin/sh -c \"echo first line; echo '[1/2] Copy'; echo '[40%] Files'; while [ ! -e {} ]; do sleep 0.02; done; echo '[2/2] Check'; echo bye; exit 3\" @@1\n",
        gate.display()
    ));
    let a = app.run(json!({"name": "steps", "args": ["x"]})).await;
    let b = app.run(json!({"name": "steps", "args": ["y"]})).await;
    let running = app
        .wait_status(&a, "subtask seen", |s| s["subtask"] == "Files")
        .await;
    assert_eq!(running["state"], "running");
    assert_eq!(running["task"], "Copy");
    assert_eq!(
        (running["tasknum"].as_i64(), running["maxtasks"].as_i64()),
        (Some(0), Some(2))
    );
    assert_eq!(running["subtaskpercent"], 40);
    assert!(running["taskstart"].as_f64().is_some_and(|t| t > 1e9));
    let queued = app.status(&b).await;
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["position"], 0);
    assert!(queued["queued"].as_i64().is_some_and(|t| t > 1_000_000_000));
    let file = app.scripts_dir().join("status").join(format!("{b}.json"));
    let on_disk: Value = crate::helpers::eventually("queued status file", || {
        std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    })
    .await;
    assert_eq!(on_disk["state"], "queued");

    std::fs::write(&gate, b"").expect("gate");
    let done = app.wait_done(&a).await;
    assert_eq!(done["outcome"], "failed");
    assert_eq!(done["exit_code"], 3);
    assert_eq!(done["signal"], Value::Null);
    let tasks = done["tasks"].as_array().expect("tasks");
    assert_eq!(
        tasks.iter().map(|t| t["task"].clone()).collect::<Vec<_>>(),
        vec![json!("Copy"), json!("Check")]
    );
    assert!(tasks
        .iter()
        .all(|t| t["end"].as_f64() >= t["start"].as_f64()));
    assert_eq!(
        (done["first"].as_str(), done["last"].as_str()),
        (Some(""), Some("")),
        "tasks replace first/last"
    );
    assert_eq!(done["args"]["params"], json!(["x"]));
    assert_eq!(done["args"]["opts"]["simultaneous"], "1");
    for field in ["started", "finished", "duration", "cpu_user", "cpu_system"] {
        assert!(done[field].as_f64().is_some(), "{field} in {done}");
    }
    assert!(done["max_rss_kb"].as_i64().is_some_and(|kb| kb > 0));
    let log = app.get(&format!("/scripts/v1/log/{a}")).await.1;
    assert_eq!(
        log,
        json!("first line\n[1/2] Copy\n[40%] Files\n[2/2] Check\nbye\n")
    );
    app.wait_done(&b).await;
    crate::helpers::eventually("status files removed", || {
        (!app
            .scripts_dir()
            .join("status")
            .join(format!("{a}.json"))
            .exists())
        .then_some(())
    })
    .await;
}

#[actix_web::test]
async fn two_hundred_parallel_runs_never_exceed_the_simultaneous_limit() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let slots = dir.path().join("slots");
    std::fs::create_dir(&slots).expect("slots");
    let counts = dir.path().join("counts");
    app.exectab(&format!(
        "-s=2 -m=0 limited /bin/sh -c \"mkdir {s}/$$; ls {s} | wc -l >> {c}; sleep 0.05; rmdir {s}/$$\"\n",
        s = slots.display(),
        c = counts.display()
    ));
    let requests = (0..200).map(|_| app.post("/scripts/v1/run", json!({"name": "limited"})));
    let replies: Vec<(u16, Value)> = futures_util::stream::iter(requests)
        .buffer_unordered(50)
        .collect()
        .await;
    let ids: HashSet<String> = replies
        .iter()
        .map(|(status, reply)| {
            assert_eq!(*status, 200, "{reply}");
            reply["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 200, "all ids distinct");
    for id in &ids {
        assert_eq!(app.wait_done(id).await["outcome"], "success");
    }
    let seen: Vec<usize> = std::fs::read_to_string(&counts)
        .expect("counts")
        .lines()
        .map(|l| l.trim().parse().expect("count"))
        .collect();
    assert_eq!(seen.len(), 200, "every run ran once");
    assert!(
        seen.iter().all(|n| *n <= 2),
        "never more than 2 at once: {seen:?}"
    );
    assert!(seen.contains(&2), "two did run together");
}

#[actix_web::test]
async fn max_queued_is_exact_under_concurrent_requests() {
    let app = spawn_app().await;
    app.exectab("-m=3 capped /bin/sleep 30\n");
    let requests = (0..20).map(|_| app.post("/scripts/v1/run", json!({"name": "capped"})));
    let replies = futures_util::future::join_all(requests).await;
    let accepted: Vec<String> = replies
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, r)| r["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(accepted.len(), 3);
    assert!(replies
        .iter()
        .filter(|(s, _)| *s != 200)
        .all(|(_, r)| r["errorcode"] == "queue_full"));
    let positions: Vec<Value> =
        futures_util::future::join_all(accepted.iter().map(|id| app.status(id))).await;
    let mut queued_positions: Vec<i64> = positions
        .iter()
        .filter_map(|s| s["position"].as_i64())
        .collect();
    queued_positions.sort();
    assert_eq!(
        queued_positions,
        vec![0, 1],
        "one runs, the others wait at 0 and 1"
    );
    for id in &accepted {
        app.post(&format!("/scripts/v1/cancel/{id}"), json!({}))
            .await;
        app.post(&format!("/scripts/v1/kill/{id}"), json!({})).await;
    }
}

#[actix_web::test]
async fn scheduled_runs_start_at_their_time_and_in_order() {
    let app = spawn_app().await;
    app.exectab("-s=5 at /bin/true\n");
    let now = scriptd::clock::now_secs();
    let later = app.run(json!({"name": "at", "queue": now + 3})).await;
    let sooner = app.run(json!({"name": "at", "queue": now + 2})).await;
    let past = app.run(json!({"name": "at", "queue": now - 100})).await;
    let queued = app.status(&later).await;
    assert_eq!(queued["queued"], now + 3);
    assert_eq!(queued["position"], 1, "behind the sooner run");
    let (a, b, c) = (
        app.wait_done(&later).await,
        app.wait_done(&sooner).await,
        app.wait_done(&past).await,
    );
    let started = |s: &Value| s["started"].as_f64().expect("started");
    assert!(
        started(&a) >= (now + 3) as f64 && started(&b) >= (now + 2) as f64,
        "not early"
    );
    assert!(
        started(&a) < (now + 3) as f64 + 1.0,
        "on time: {}",
        started(&a) - (now + 3) as f64
    );
    assert!(started(&b) < started(&a), "in order");
    assert!(started(&c) < started(&b), "a past time means now");
}

#[actix_web::test]
async fn timeout_exit_codes_and_start_failures_are_recorded() {
    let app = spawn_app().await;
    app.exectab(
        "-t=1 slow /bin/sleep 30\nexit7 /bin/sh -c \"exit 7\"\nmissing /no/such/binary\n-d=/no/such/dir nodir /bin/true\nnoop -n /bin/echo @@1\n-n noexec /bin/echo @@1\n",
    );
    let slow = app.run(json!({"name": "slow"})).await;
    let exit7 = app.run(json!({"name": "exit7"})).await;
    let missing = app.run(json!({"name": "missing"})).await;
    let nodir = app.run(json!({"name": "nodir"})).await;
    let noexec = app.run(json!({"name": "noexec", "args": ["hello"]})).await;
    let done = app.wait_done(&exit7).await;
    assert_eq!(
        (done["outcome"].as_str(), done["exit_code"].as_i64()),
        (Some("failed"), Some(7))
    );
    let done = app.wait_done(&missing).await;
    assert_eq!(done["outcome"], "start_failed");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("/no/such/binary")),
        "{done}"
    );
    let done = app.wait_done(&nodir).await;
    assert_eq!(done["outcome"], "start_failed");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("/no/such/dir")),
        "{done}"
    );
    let done = app.wait_done(&noexec).await;
    assert_eq!(done["outcome"], "noexec");
    assert_eq!(done["last"], "/bin/echo hello", "-n substitutes @@N");
    let done = app.wait_done(&slow).await;
    assert_eq!(done["outcome"], "timeout");
    assert!(
        done["duration"]
            .as_f64()
            .is_some_and(|d| (1.0..10.0).contains(&d)),
        "{done}"
    );
}

#[actix_web::test]
async fn stdin_env_and_dir_reach_the_process() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    std::env::set_var("SCRIPTD_TEST_HIDDEN", "server-only");
    app.exectab(&format!(
        "-i cat /bin/cat\n-d={} -e=GREETING=hi_%HOME% -e=PLAIN=x env /bin/sh -c \"pwd; echo $GREETING $PLAIN; echo hidden=$SCRIPTD_TEST_HIDDEN\"\n",
        dir.path().display()
    ));
    let input: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    let cat = app.run(json!({"name": "cat", "stdin": input})).await;
    let env = app.run(json!({"name": "env"})).await;
    app.wait_done(&cat).await;
    app.wait_done(&env).await;
    let log = app.get(&format!("/scripts/v1/log/{cat}")).await.1;
    assert!(
        log.as_str() == Some(input.as_str()),
        "stdin passed through unchanged ({} bytes logged)",
        log.as_str().map_or(0, str::len)
    );
    let log = app.get(&format!("/scripts/v1/log/{env}")).await.1;
    let home = std::env::var("HOME").unwrap_or_default();
    let expected = format!(
        "{}\nhi_{home} x\nhidden=\n",
        dir.path().canonicalize().expect("dir").display()
    );
    assert_eq!(log.as_str(), Some(expected.as_str()));
}

#[actix_web::test]
async fn hostile_arguments_reach_the_script_literally() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let marker = dir.path().join("pwned");
    app.exectab("args /usr/bin/printf %s| @@1 @@2 @@3 @@4 @@5 @@6\n");
    let m = marker.display();
    let hostile = vec![
        format!("$(touch {m})"),
        format!("; touch {m}"),
        format!("`touch {m}`"),
        format!("a\ntouch {m}"),
        "'quoted' \"double\"".to_owned(),
        "@@1".to_owned(),
    ];
    let id = app.run(json!({"name": "args", "args": hostile})).await;
    app.wait_done(&id).await;
    let log = app.get(&format!("/scripts/v1/log/{id}")).await.1;
    let expected = format!(
        "{}|{}|{}|{}|{}|{}|",
        hostile[0], hostile[1], hostile[2], hostile[3], hostile[4], hostile[5]
    );
    assert_eq!(log.as_str().map(str::trim_end), Some(expected.as_str()));
    assert!(!marker.exists(), "no shell ran the arguments");
}

#[actix_web::test]
async fn exectab_edits_apply_to_the_very_next_request() {
    let app = spawn_app().await;
    for round in 0..5 {
        app.exectab(&format!("v{round} /bin/true\n"));
        let (status, reply) = app
            .post("/scripts/v1/run", json!({"name": format!("v{round}")}))
            .await;
        assert_eq!(status, 200, "edit {round} used at once: {reply}");
        let (_, reply) = app
            .post(
                "/scripts/v1/run",
                json!({"name": format!("v{}", round + 9)}),
            )
            .await;
        assert_eq!(reply["errorcode"], "invalid_name");
    }
    app.exectab("-s=abc broken /bin/true\ngood /bin/true\n");
    let (status, _) = app.post("/scripts/v1/run", json!({"name": "good"})).await;
    assert_eq!(status, 200, "a malformed line does not stop the rest");
}

#[actix_web::test]
async fn forgetting_scripts_answer_invalid_id_once_finished() {
    let app = spawn_app().await;
    app.exectab("-r gone /bin/echo hi\n-r fails /bin/false\n");
    let gone = app.run(json!({"name": "gone"})).await;
    let fails = app.run(json!({"name": "fails"})).await;
    let status = app
        .wait_status(&gone, "forgotten", |s| s["errorcode"] == "invalid_id")
        .await;
    assert_eq!(status["success"], false);
    let kept = app.wait_done(&fails).await;
    assert_eq!(kept["outcome"], "failed", "failures are kept");
    assert_eq!(kept["removelog"], true);
}

#[actix_web::test]
async fn a_reader_of_the_status_file_always_parses_valid_json() {
    let app = spawn_app().await;
    // Progress at full speed, with pauses so that the run outlives the
    // status writer's 20 ms window many times over.
    app.exectab("busy /bin/sh -c \"i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo \\\"[$((i % 100))%] step $i\\\"; [ $((i % 100)) -eq 0 ] && sleep 0.02; done; true\"\n");
    let id = app.run(json!({"name": "busy"})).await;
    let file = app.scripts_dir().join("status").join(format!("{id}.json"));
    let reader = actix_web::rt::task::spawn_blocking(move || {
        let (mut reads, mut misses) = (0, 0);
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(20) && misses < 2000 {
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
                    assert!(
                        parsed.is_ok(),
                        "partial JSON: {}",
                        String::from_utf8_lossy(&bytes)
                    );
                    reads += 1;
                }
                Err(_) if reads > 0 => misses += 1,
                Err(_) => {}
            }
        }
        reads
    });
    app.wait_done(&id).await;
    let reads = reader.await.expect("reader");
    assert!(reads > 0, "the status file was read while the run was live");
}

#[actix_web::test]
async fn runs_as_nobody_have_nobodys_real_ids() {
    if !is_root() {
        eprintln!("SKIPPED runs_as_nobody_have_nobodys_real_ids: needs root (CI runs as root)");
        return;
    }
    let app = spawn_app().await;
    app.exectab("-u=nobody who /bin/sh -c \"id -u; id -ru; id -g; grep ^Uid /proc/self/status\"\n-u=no_such_user_x bad /bin/true\n");
    let id = app.run(json!({"name": "who"})).await;
    let done = app.wait_done(&id).await;
    assert_eq!(done["outcome"], "success", "{done}");
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("lookup")
        .expect("nobody exists");
    let log = app.get(&format!("/scripts/v1/log/{id}")).await.1;
    let lines: Vec<&str> = log.as_str().expect("log").lines().collect();
    let uid = nobody.uid.to_string();
    assert_eq!(
        &lines[..3],
        &[uid.as_str(), uid.as_str(), nobody.gid.to_string().as_str()]
    );
    assert!(
        lines[3].split_whitespace().skip(1).all(|v| v == uid),
        "real, effective, saved: {}",
        lines[3]
    );
    let group = nix::unistd::Group::from_name("nogroup")
        .expect("lookup")
        .expect("nogroup exists");
    let gid = group.gid.to_string();
    app.exectab("-g=nogroup grp /bin/sh -c \"id -u; id -g; id -rg; id -G\"\n");
    let id = app.run(json!({"name": "grp"})).await;
    assert_eq!(app.wait_done(&id).await["outcome"], "success");
    let log = app.get(&format!("/scripts/v1/log/{id}")).await.1;
    let lines: Vec<&str> = log.as_str().expect("log").lines().collect();
    assert_eq!(
        lines,
        vec!["0", gid.as_str(), gid.as_str(), gid.as_str()],
        "-g alone: uid kept, only that group"
    );
    app.exectab("-u=no_such_user_x bad /bin/true\n");
    let bad = app.run(json!({"name": "bad"})).await;
    let done = app.wait_done(&bad).await;
    assert_eq!(done["outcome"], "start_failed");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("no_such_user_x")),
        "{done}"
    );
}

#[actix_web::test]
async fn a_run_that_prints_nothing_has_no_log_file_and_an_empty_log() {
    let app = spawn_app().await;
    app.exectab("silent /bin/true\nloud /bin/echo hello\n");
    let silent = app.run(json!({"name": "silent"})).await;
    let loud = app.run(json!({"name": "loud"})).await;
    app.wait_done(&silent).await;
    app.wait_done(&loud).await;
    let logs = app.scripts_dir().join("logs");
    assert!(
        !logs.join(format!("{silent}.log")).exists(),
        "no file for a silent run"
    );
    assert!(
        logs.join(format!("{loud}.log")).exists(),
        "a file once it prints"
    );
    let (code, log) = app.get(&format!("/scripts/v1/log/{silent}")).await;
    assert_eq!((code, log), (200, json!("")));
    let (code, log) = app.get(&format!("/scripts/v1/log/{loud}")).await;
    assert_eq!((code, log), (200, json!("hello\n")));
}
