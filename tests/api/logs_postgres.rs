//! Run logs on PostgreSQL live in the database (`run_log_chunks`), not in
//! the storage directory: a server on another storage directory (another
//! node) reads them; reads from an offset, the cap and the `-r` and
//! retention removals behave as with files.

use std::path::Path;
use std::time::Duration;

use scriptd::app::Application;
use serde_json::json;
use sqlx::Connection as _;

use crate::helpers::server::ServerSpec;
use crate::helpers::server::Stoppable;
use crate::helpers::{Api, Database, Scheme};

async fn start(storage: &Path, database: &str, key: Option<String>) -> Stoppable {
    let mut config = ServerSpec::new(storage, Scheme::Plain)
        .on(Database::Postgres(database.to_owned()))
        .config();
    config.log_cap_bytes = 64;
    config.shutdown_grace = Duration::from_secs(2);
    let app = Application::build(config).await.expect("app builds");
    let key = key.or(app.admin_key.clone()).expect("a key");
    let api = Api::new(app.port(), key);
    Stoppable::serve(app, api)
}

async fn chunks(database: &str, run: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(database)
        .await
        .expect("connect");
    sqlx::query_scalar("SELECT count(*) FROM run_log_chunks WHERE run_id = $1")
        .bind(run)
        .fetch_one(&mut conn)
        .await
        .expect("count chunks")
}

#[actix_web::test]
async fn logs_are_in_the_database_readable_by_another_node_capped_and_removed() {
    let first = tempfile::tempdir().expect("storage");
    let database = crate::backend::fresh_postgres_database(first.path());
    let node = start(first.path(), &database, None).await;
    std::fs::write(
        first.path().join("1/scripts/exectab.txt"),
        "lines /bin/sh -c \"echo one; sleep 0.2; echo two >&2; sleep 0.3; echo three\"\n\
         many /bin/sh -c \"for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line-$i; done\"\n\
         -r forget /bin/echo gone\n",
    )
    .expect("exectab");
    let api = &node.api;
    let lines = api.run(json!({"name": "lines"})).await;
    let many = api.run(json!({"name": "many"})).await;
    let forget = api.run(json!({"name": "forget"})).await;
    for id in [&lines, &many] {
        api.wait_done(id).await;
    }

    let (code, log) = api.get(&format!("/scripts/v1/log/{lines}")).await;
    assert_eq!((code, log), (200, json!("one\ntwo\nthree\n")));
    let (code, tail) = api.get(&format!("/scripts/v1/log/{lines}?offset=4")).await;
    assert_eq!((code, tail), (200, json!("two\nthree\n")), "from an offset");
    assert!(
        chunks(&database, &lines).await >= 2,
        "written in chunks as the run went on"
    );
    let (_, capped) = api.get(&format!("/scripts/v1/log/{many}")).await;
    let capped = capped.as_str().expect("text").to_owned();
    assert!(
        capped.starts_with("line-1\nline-2\n")
            && capped.ends_with("[scriptd: output truncated at the log cap]\n"),
        "capped as files are: {capped:?}"
    );
    assert!(
        !first
            .path()
            .join("1/scripts/logs")
            .join(format!("{lines}.log"))
            .exists(),
        "no log file on PostgreSQL"
    );
    crate::helpers::eventually_async("the forgotten run's log goes", || {
        let (database, forget) = (database.clone(), forget.clone());
        async move { chunks(&database, &forget).await == 0 }
    })
    .await;
    let key = api.key.clone();
    node.stop().await;

    // Another node: its own storage directory, the same database.
    let second = tempfile::tempdir().expect("storage");
    let other = start(second.path(), &database, Some(key)).await;
    let (code, log) = other.api.get(&format!("/scripts/v1/log/{lines}")).await;
    assert_eq!(
        (code, log),
        (200, json!("one\ntwo\nthree\n")),
        "read on another node"
    );
    // Retention keeps the run of the newest event for a later pass: let
    // that be a newer run, so every run above is pruned now.
    let scripts = second.path().join("1/scripts");
    std::fs::create_dir_all(&scripts).expect("scripts dir");
    std::fs::write(scripts.join("exectab.txt"), "-n fast /bin/true\n").expect("exectab");
    let newest = other.api.run(json!({"name": "fast"})).await;
    other.api.wait_done(&newest).await;
    let pruned = scriptd::retention::prune_storage(
        &ServerSpec::new(second.path(), Scheme::Plain)
            .on(Database::Postgres(database.clone()))
            .storage_config(),
        &(scriptd::clock::now_secs() + 10).to_string(),
        false,
    )
    .await
    .expect("admin prune");
    assert!(pruned.runs >= 3 && pruned.logs >= 2, "{pruned}");
    assert_eq!(chunks(&database, &lines).await, 0, "pruned with its events");
    other.stop().await;
}
