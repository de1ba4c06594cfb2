//! Paging through `GET history` and filling it: the helpers the history,
//! events and `history` command tests share.

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::{eventually_async, Api, TestApp};

/// Queues `count` runs of `name` with at most 32 requests in flight.
pub async fn run_many(app: &TestApp, name: &str, count: usize) -> Vec<String> {
    futures_util::stream::iter(0..count)
        .map(|_| app.run(json!({"name": name})))
        .buffer_unordered(32)
        .collect()
        .await
}

/// Every history row matching `query` (a query string without `before`),
/// fetched in pages of `limit`, checking each page's size and cursor.
pub async fn all_pages(api: &Api, key: &str, query: &str, limit: usize) -> Vec<Value> {
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

/// The `id` of each row.
pub fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Asserts newest first by (finished, id), strictly, so no row repeats.
pub fn assert_ordered(rows: &[Value], what: &str) {
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
pub async fn wait_history_count(app: &TestApp, name: &str, count: usize) {
    let what = format!("{count} runs of {name} in history");
    eventually_async(&what, || async {
        all_pages(app, &app.key, &format!("&name={name}"), 1000)
            .await
            .len()
            == count
    })
    .await;
}
