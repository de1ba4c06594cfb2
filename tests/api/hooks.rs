//! Webhooks (issue 31) against a real server and a real local receiver:
//! a failed run is delivered signed, a failing receiver gets the same
//! delivery id again, loopback is refused unless `hooks_allow` opens it,
//! guests cannot manage hooks, and the Slack body.

use scriptd::hook::sign;
use scriptd::hook::target::AllowList;
use serde_json::{json, Value};

use crate::helpers::cli::{output, scriptd};
use crate::helpers::receiver::Receiver;
use crate::helpers::{spawn_app, spawn_app_with, unix_now, TestApp};

/// A server whose hooks may reach the loopback receiver.
pub async fn app_reaching_loopback() -> TestApp {
    spawn_app_with(|config| {
        config.hooks_allow = AllowList::parse(&["127.0.0.1/32"]).expect("allow list");
    })
    .await
}

/// Creates a hook with `body`; returns its id and secret.
pub async fn create_hook(app: &TestApp, body: Value) -> (String, String) {
    let (status, reply) = app.post("/scripts/v1/hook/create", body).await;
    assert_eq!(status, 200, "{reply}");
    let id = reply["id"].as_str().expect("an id").to_owned();
    let secret = reply["secret"].as_str().expect("a secret").to_owned();
    (id, secret)
}

/// The deliveries `hook/deliveries` lists for `hook`.
pub async fn deliveries(app: &TestApp, hook: &str) -> Vec<Value> {
    let (status, reply) = app
        .get(&format!("/scripts/v1/hook/deliveries?hook={hook}"))
        .await;
    assert_eq!(status, 200, "{reply}");
    reply["deliveries"].as_array().expect("a list").clone()
}

#[actix_web::test]
async fn a_failed_run_is_delivered_once_with_a_signature_that_verifies() {
    let app = app_reaching_loopback().await;
    app.exectab("fails /bin/sh -c 'exit 3'\n");
    let receiver = Receiver::start(&[]);
    let (hook, secret) = create_hook(&app, json!({"url": receiver.url("hook")})).await;

    let id = app.run(json!({"name": "fails"})).await;
    app.wait_done(&id).await;
    let got = receiver.wait_for(1).await;

    let delivery = &got[0];
    assert_eq!(delivery.path, "/hook");
    let body = delivery.json();
    assert_eq!(body["event"], "failed", "{body}");
    assert_eq!(body["hook"], hook.as_str());
    assert_eq!(body["run"]["id"], id.as_str(), "{body}");
    assert_eq!(body["run"]["state"], "done");
    assert_eq!(body["run"]["outcome"], "failed");
    assert_eq!(body["run"]["exit_code"], 3);
    assert_eq!(delivery.header("content-type"), Some("application/json"));
    assert!(
        delivery
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("scriptd/")),
        "{:?}",
        delivery.headers
    );
    assert_eq!(
        delivery.header("x-scriptd-delivery"),
        body["delivery"].as_str(),
        "the header names the body's delivery"
    );
    let signature = delivery.header("x-scriptd-signature").expect("signed");
    assert_eq!(
        sign::verify(
            secret.as_bytes(),
            signature,
            &delivery.body,
            unix_now(),
            300
        ),
        Ok(()),
        "{signature}"
    );
    assert!(
        sign::verify(
            b"another secret",
            signature,
            &delivery.body,
            unix_now(),
            300
        )
        .is_err(),
        "only the hook's secret verifies it"
    );
    let listed = crate::helpers::eventually_ok("the delivery recorded", || {
        let app = &app;
        let hook = hook.clone();
        async move {
            let rows = deliveries(app, &hook).await;
            match rows.first() {
                Some(row) if row["state"] == "delivered" => Ok(row.clone()),
                _ => Err(format!("{rows:?}")),
            }
        }
    })
    .await;
    assert_eq!(listed["status"], 200);
    assert_eq!(listed["attempts"], 1);
    assert_eq!(listed["run"], id.as_str());
    assert_eq!(receiver.received().len(), 1, "one failed run, one delivery");
}

#[actix_web::test]
async fn a_receiver_that_answers_500_twice_gets_the_same_delivery_id_three_times() {
    let app = app_reaching_loopback().await;
    app.exectab("fails /bin/false\n");
    let receiver = Receiver::start(&[500, 500]);
    let (hook, _) = create_hook(&app, json!({"url": receiver.url("flaky")})).await;

    let id = app.run(json!({"name": "fails"})).await;
    app.wait_done(&id).await;
    let got = receiver.wait_for(3).await;

    let ids: Vec<_> = got
        .iter()
        .map(|r| r.header("x-scriptd-delivery").expect("an id").to_owned())
        .collect();
    assert_eq!(ids[0], ids[1], "{ids:?}");
    assert_eq!(ids[1], ids[2], "{ids:?}");
    assert!(got[1].at > got[0].at && got[2].at > got[1].at);
    let row = crate::helpers::eventually_ok("the third attempt recorded", || {
        let app = &app;
        let hook = hook.clone();
        async move {
            let rows = deliveries(app, &hook).await;
            match rows.first() {
                Some(row) if row["state"] == "delivered" && row["attempts"] == 3 => Ok(row.clone()),
                _ => Err(format!("{rows:?}")),
            }
        }
    })
    .await;
    assert_eq!(receiver.received().len(), 3, "delivered once it got a 200");
    // Each attempt is listed, not only the last.
    let log = row["attempt_log"].as_array().expect("an attempt log");
    let tries: Vec<(i64, i64, Option<&str>)> = log
        .iter()
        .map(|a| {
            let (number, status) = (a["attempt"].as_i64(), a["status"].as_i64());
            (
                number.unwrap_or(0),
                status.unwrap_or(0),
                a["error"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        tries,
        [
            (1, 500, Some("HTTP 500")),
            (2, 500, Some("HTTP 500")),
            (3, 200, None)
        ],
        "{row}"
    );
    for pair in log.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let times = [a["at"].as_f64(), a["ended"].as_f64(), b["at"].as_f64()];
        assert!(times.windows(2).all(|t| t[0] <= t[1]), "in order: {log:?}");
    }
    let cli = output(scriptd(&app, &["hook", "deliveries", &hook])).await;
    assert_eq!(cli.code(), 0, "{cli}");
    for line in ["attempt 1", "attempt 2", "attempt 3"] {
        assert!(cli.stdout.contains(line), "{line}: {cli}");
    }
    assert_eq!(cli.stdout.matches("HTTP 500").count(), 2, "{cli}");
    assert!(cli.stdout.contains("HTTP 200"), "{cli}");
}

#[actix_web::test]
async fn loopback_is_refused_without_hooks_allow_and_reached_with_it() {
    let app = spawn_app().await;
    app.exectab("fails /bin/false\n");
    let receiver = Receiver::start(&[]);

    for url in [
        receiver.url("x"),
        "http://[::1]/x".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.1/x".to_owned(),
        "ftp://example.com/x".to_owned(),
        "not a url".to_owned(),
    ] {
        let (status, reply) = app
            .post("/scripts/v1/hook/create", json!({"url": url}))
            .await;
        assert_eq!(status, 400, "{url}: {reply}");
        assert_eq!(reply["errorcode"], "invalid_url", "{url}: {reply}");
        assert_eq!(reply["success"], false);
    }
    // A name is only resolved at delivery: there it is refused too.
    let by_name = format!("http://localhost:{}/x", receiver.port);
    let (hook, _) = create_hook(&app, json!({"url": by_name})).await;
    let id = app.run(json!({"name": "fails"})).await;
    app.wait_done(&id).await;
    let row = crate::helpers::eventually_ok("the delivery refused", || {
        let app = &app;
        let hook = hook.clone();
        async move {
            let rows = deliveries(app, &hook).await;
            match rows.first() {
                Some(row) if row["state"] == "failed" => Ok(row.clone()),
                _ => Err(format!("{rows:?}")),
            }
        }
    })
    .await;
    assert!(
        row["error"]
            .as_str()
            .is_some_and(|e| e.contains("internal address")),
        "{row}"
    );
    assert!(receiver.received().is_empty(), "nothing reached loopback");

    let open = app_reaching_loopback().await;
    let (status, reply) = open
        .post("/scripts/v1/hook/create", json!({"url": receiver.url("x")}))
        .await;
    assert_eq!(status, 200, "hooks_allow opens 127.0.0.1/32: {reply}");
}

#[actix_web::test]
async fn a_guest_cannot_create_list_or_delete_hooks() {
    let app = spawn_app().await;
    app.exectab("job /bin/true\n");
    let (_, guest_key) = app
        .create_guest("job", [true, true, true, true], unix_now() + 3600)
        .await;
    let calls = [
        (
            "POST",
            "/scripts/v1/hook/create",
            Some(json!({"url": "https://example.com/"})),
        ),
        ("GET", "/scripts/v1/hook/list", None),
        ("GET", "/scripts/v1/hook/deliveries", None),
        (
            "POST",
            "/scripts/v1/hook/delete/0190b8a4-0000-7000-8000-000000000000",
            None,
        ),
    ];
    for (method, path, body) in calls {
        let (status, reply) = app.call_with(method, path, Some(&guest_key), body).await;
        assert_eq!(status, 400, "{path}: {reply}");
        assert_eq!(reply["errorcode"], "access_denied", "{path}: {reply}");
    }
    let (_, list) = app.get("/scripts/v1/hook/list").await;
    assert_eq!(list["hooks"], json!([]), "nothing was created");
}

#[actix_web::test]
async fn hooks_are_listed_without_secrets_and_deleted() {
    let app = spawn_app().await;
    let (id, secret) = create_hook(
        &app,
        json!({"url": "https://hooks.example.com/a", "on": ["started", "success"],
               "name": "job", "format": "slack"}),
    )
    .await;
    assert!(secret.len() >= 32, "{secret}");
    let (_, list) = app.get("/scripts/v1/hook/list").await;
    let hooks = list["hooks"].as_array().expect("hooks");
    assert_eq!(hooks.len(), 1, "{list}");
    assert_eq!(hooks[0]["id"], id.as_str());
    assert_eq!(hooks[0]["on"], json!(["started", "success"]));
    assert_eq!(hooks[0]["name"], "job");
    assert_eq!(hooks[0]["format"], "slack");
    assert!(!list.to_string().contains(&secret), "{list}");
    let (_, events) = app.get("/scripts/v1/events").await;
    assert!(!events.to_string().contains(&secret), "{events}");

    let (_, defaults) = app
        .post(
            "/scripts/v1/hook/create",
            json!({"url": "https://hooks.example.com/b"}),
        )
        .await;
    assert_eq!(
        defaults["hook"]["on"],
        json!(["failed", "timeout", "interrupted"]),
        "{defaults}"
    );
    for (body, code) in [
        (json!({}), "missing_url"),
        (
            json!({"url": "https://x.example/", "on": ["exploded"]}),
            "invalid_on",
        ),
        (json!({"url": "https://x.example/", "on": []}), "invalid_on"),
        (
            json!({"url": "https://x.example/", "format": "xml"}),
            "invalid_format",
        ),
        (
            json!({"url": "https://x.example/", "name": "a b"}),
            "invalid_name",
        ),
    ] {
        let (status, reply) = app.post("/scripts/v1/hook/create", body.clone()).await;
        assert_eq!(
            (status, reply["errorcode"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }

    let (status, reply) = app
        .post(&format!("/scripts/v1/hook/delete/{id}"), json!({}))
        .await;
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = app
        .post(&format!("/scripts/v1/hook/delete/{id}"), json!({}))
        .await;
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (400, Some("invalid_id"))
    );
    let (_, list) = app.get("/scripts/v1/hook/list").await;
    assert_eq!(list["hooks"].as_array().map(Vec::len), Some(1), "{list}");
}

#[actix_web::test]
async fn a_slack_hook_gets_a_text_body_and_only_its_script_and_triggers() {
    let app = app_reaching_loopback().await;
    app.exectab("job /bin/sh -c 'exit 4'\nother /bin/false\nfine /bin/true\n");
    let receiver = Receiver::start(&[]);
    create_hook(
        &app,
        json!({"url": receiver.url("slack"), "format": "slack", "name": "job"}),
    )
    .await;

    for name in ["other", "fine", "job"] {
        let id = app.run(json!({ "name": name })).await;
        app.wait_done(&id).await;
    }
    let got = receiver.wait_for(1).await;

    let body = got[0].json();
    let text = body["text"].as_str().expect("a text body");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    assert!(text.contains("job failed"), "{text}");
    assert!(text.contains("exit code 4"), "{text}");
    assert_eq!(receiver.received().len(), 1, "other scripts are not sent");
}

#[actix_web::test]
async fn a_retried_attempt_is_delivered_as_retrying_with_the_attempts_end() {
    let app = app_reaching_loopback().await;
    app.exectab("-R=1 -B=1 fails /bin/sh -c 'exit 3'\n");
    let receiver = Receiver::start(&[]);
    create_hook(
        &app,
        json!({"url": receiver.url("hook"), "on": ["retrying"]}),
    )
    .await;

    let id = app.run(json!({"name": "fails"})).await;
    let done = app.wait_done(&id).await;
    let got = receiver.wait_for(1).await;

    assert_eq!(done["outcome"], "failed", "{done}");
    let body = got[0].json();
    assert_eq!(body["event"], "retrying", "{body}");
    assert_eq!(body["run"]["id"], id.as_str(), "{body}");
    assert_eq!(
        body["run"]["outcome"], "failed",
        "the first attempt's end: {body}"
    );
    assert_eq!(body["run"]["exit_code"], 3, "{body}");
    assert_eq!(
        receiver.received().len(),
        1,
        "one retried attempt; the final failure is not subscribed"
    );
}
