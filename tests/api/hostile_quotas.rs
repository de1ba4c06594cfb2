//! Hostile and careless clients, part 3: quotas, bounded replies and
//! who may read `/metrics`.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, unix_now, Api, TestApp};

async fn add_user(app: &TestApp, name: &str, exectab: &str) -> Api {
    let config = app.config();
    let mut db = scriptd::events::store::open(&config.database())
        .await
        .expect("db");
    let user = scriptd::admin::add_user(&mut db, &config, name, false)
        .await
        .expect("user");
    std::fs::write(&user.exectab, exectab).expect("exectab");
    Api::new(app.port, user.apikey)
}

fn tomorrow() -> i64 {
    unix_now() + 86_400
}

#[actix_web::test]
async fn args_over_the_cap_are_refused_with_their_own_errorcode() {
    let app = spawn_app_with(|c| c.limits.args_cap_bytes = 1000).await;
    app.exectab("x /bin/echo @@1 @@2\n");
    let (status, reply) = app
        .post(
            "/scripts/v1/run",
            json!({"name": "x", "args": ["a".repeat(600), "b".repeat(600)]}),
        )
        .await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["errorcode"], "args_too_large", "{reply}");
    let (status, reply) = app
        .post(
            "/scripts/v1/run",
            json!({"name": "x", "args": ["a".repeat(400), "b".repeat(400)]}),
        )
        .await;
    assert_eq!(status, 200, "args under the cap are accepted: {reply}");
}

#[actix_web::test]
async fn a_user_may_hold_only_so_many_queued_runs_and_others_are_unaffected() {
    let app = spawn_app_with(|c| c.limits.max_queued_runs_per_user = 3).await;
    app.exectab("later /bin/true\n");
    for _ in 0..3 {
        app.run(json!({"name": "later", "queue": tomorrow()})).await;
    }
    let (status, reply) = app
        .post(
            "/scripts/v1/run",
            json!({"name": "later", "queue": tomorrow()}),
        )
        .await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["errorcode"], "user_queue_full", "{reply}");

    let bob = add_user(&app, "bob", "later /bin/true\n").await;
    bob.run(json!({"name": "later", "queue": tomorrow()})).await;
}

#[actix_web::test]
async fn the_bytes_held_by_a_users_queued_runs_are_capped() {
    let app = spawn_app_with(|c| {
        c.limits.max_queued_bytes_per_user = 40_000;
        c.limits.args_cap_bytes = 20_000;
    })
    .await;
    app.exectab("later /bin/echo @@1\n");
    let big = "z".repeat(15_000);
    let mut accepted = 0;
    let refusal = loop {
        let (status, reply) = app
            .post(
                "/scripts/v1/run",
                json!({"name": "later", "args": [big], "queue": tomorrow()}),
            )
            .await;
        if status != 200 {
            break reply;
        }
        accepted += 1;
        assert!(accepted < 10, "the byte quota stops a user");
    };
    assert_eq!(refusal["errorcode"], "user_queue_full", "{refusal}");
    assert!(
        (1..=2).contains(&accepted),
        "{accepted} runs of 15 kB fit in 40 kB"
    );
}

/// Follows `next` through every page of `path`; returns the rows, and the
/// largest reply's size.
async fn all_pages(
    app: &TestApp,
    path: &str,
    rows: &str,
    cursor: &str,
) -> (Vec<Value>, usize, usize) {
    let mut all = Vec::new();
    let mut largest = 0;
    let mut pages = 0;
    let mut next = String::new();
    loop {
        let (status, reply) = app.get(&format!("{path}{next}")).await;
        assert_eq!(status, 200, "{reply}");
        largest = largest.max(reply.to_string().len());
        pages += 1;
        let page = reply[rows].as_array().expect("rows").clone();
        if page.is_empty() {
            break;
        }
        all.extend(page);
        match &reply["next"] {
            Value::Null => break,
            Value::String(c) => next = format!("&{cursor}={c}"),
            other => next = format!("&{cursor}={other}"),
        }
        assert!(pages < 100, "paging ends");
    }
    (all, largest, pages)
}

#[actix_web::test]
async fn events_and_history_replies_are_bounded_in_bytes_and_the_cursor_continues() {
    let app = spawn_app_with(|c| c.limits.reply_cap_bytes = 30_000).await;
    app.exectab("-n quick /bin/echo @@1\n");
    let mut ids = HashSet::new();
    for i in 0..8 {
        let id = app
            .run(json!({"name": "quick", "args": [format!("{i}{}", "p".repeat(10_000))]}))
            .await;
        app.wait_done(&id).await;
        ids.insert(id);
    }

    let (events, largest, pages) =
        all_pages(&app, "/scripts/v1/events?limit=1000", "events", "after").await;
    assert!(
        pages > 2,
        "the byte cap split the events into pages ({pages})"
    );
    assert!(
        largest < 30_000 + 12_000,
        "each reply stays near the cap: {largest}"
    );
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "no duplicate, in order: {seqs:?}"
    );
    let queued: HashSet<&str> = events
        .iter()
        .filter(|e| e["kind"] == "RunQueued")
        .filter_map(|e| e["run"].as_str())
        .collect();
    assert_eq!(
        queued.len(),
        8,
        "every run's RunQueued is reached through the cursor"
    );

    let (runs, largest, pages) =
        all_pages(&app, "/scripts/v1/history?limit=1000", "runs", "before").await;
    assert!(
        pages > 2,
        "the byte cap split the history into pages ({pages})"
    );
    assert!(
        largest < 30_000 + 12_000,
        "each reply stays near the cap: {largest}"
    );
    let seen: HashSet<String> = runs
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(runs.len(), 8, "no run twice");
    assert_eq!(seen, ids, "every run once");
}

#[actix_web::test]
async fn metrics_show_a_user_only_its_own_series_and_the_server_to_operators() {
    let app = spawn_app_with(|c| c.limits.metrics_token = Some("s3cret-token".into())).await;
    app.exectab("adminscript /bin/true\n");
    app.run(json!({"name": "adminscript", "queue": tomorrow()}))
        .await;
    let bob = add_user(&app, "bob", "bobscript /bin/true\n").await;
    bob.run(json!({"name": "bobscript", "queue": tomorrow()}))
        .await;

    let text = |key: Option<&str>, bearer: Option<&str>| {
        let client = &app.client;
        let mut req = client.get(format!("{}/metrics", app.base));
        if let Some(key) = key {
            req = req.insert_header(("X-APIKey", key.to_owned()));
        }
        if let Some(token) = bearer {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        async move {
            let mut resp = req.send().await.expect("metrics");
            let body = resp.body().await.expect("body");
            (
                resp.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
    };
    let (status, bobs) = text(Some(&bob.key), None).await;
    assert_eq!(status, 200, "{bobs}");
    assert!(bobs.contains("script=\"bobscript\""), "{bobs}");
    assert!(
        !bobs.contains("adminscript"),
        "a user sees no other user's series: {bobs}"
    );
    assert!(
        !bobs.contains("scriptd_commit_seconds"),
        "nor the server's: {bobs}"
    );

    for (who, key, bearer) in [
        ("admin", Some(app.key.as_str()), None),
        ("token", None, Some("s3cret-token")),
    ] {
        let (status, all) = text(key, bearer).await;
        assert_eq!(status, 200, "{who}: {all}");
        assert!(
            all.contains("adminscript") && all.contains("bobscript"),
            "{who}: {all}"
        );
        assert!(all.contains("scriptd_commit_seconds"), "{who}: {all}");
    }
    let (status, refused) = text(None, Some("wrong")).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.contains("invalid_missing_apikey"), "{refused}");
}
