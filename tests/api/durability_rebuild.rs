//! Durability of the read model: `scriptd admin rebuild` recreates the
//! `runs` table from the event log, row for row, after a workload with every
//! outcome, a crash and a shutdown. The harness is in `helpers/child.rs`.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use sqlx::{Column, Row, TypeInfo, ValueRef};

use crate::helpers::child::{open_db, Fixture, Server};
use crate::helpers::unix_now;

/// Every column of every `runs` row, as text, ordered by id.
async fn runs_table(storage: &Path) -> Vec<Vec<(String, String)>> {
    if crate::backend::database_url(storage).is_some() {
        return crate::backend::postgres_runs(storage)
            .iter()
            .map(|row| {
                let row: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(row).expect("a runs row as JSON");
                row.into_iter()
                    .map(|(column, value)| {
                        let value = match value {
                            serde_json::Value::Null => "NULL".to_owned(),
                            serde_json::Value::String(text) => format!("text {text}"),
                            // Booleans read as SQLite's integers.
                            serde_json::Value::Bool(b) => format!("int {}", i64::from(b)),
                            serde_json::Value::Number(n) if n.is_i64() => format!("int {n}"),
                            other => format!("real {other}"),
                        };
                        (column, value)
                    })
                    .collect()
            })
            .collect();
    }
    let mut db = open_db(storage).await;
    let rows = sqlx::query("SELECT * FROM runs ORDER BY id")
        .fetch_all(&mut db)
        .await
        .expect("read runs");
    rows.iter()
        .map(|row| {
            row.columns()
                .iter()
                .map(|column| {
                    let i = column.ordinal();
                    let raw = row.try_get_raw(i).expect("column");
                    let value = if raw.is_null() {
                        "NULL".to_owned()
                    } else {
                        match raw.type_info().name() {
                            "INTEGER" => format!("int {}", row.get::<i64, _>(i)),
                            "REAL" => format!("real {:?}", row.get::<f64, _>(i)),
                            "BLOB" => format!("blob {:?}", row.get::<Vec<u8>, _>(i)),
                            _ => format!("text {}", row.get::<String, _>(i)),
                        }
                    };
                    (column.name().to_owned(), value)
                })
                .collect()
        })
        .collect()
}

#[actix_web::test]
async fn admin_rebuild_recreates_the_runs_table_identically_after_a_mixed_workload() {
    // Arrange: every outcome, progress, a forgotten run, a crash, queued runs.
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "60").await;
    fixture.exectab(
        r#"
steps /bin/sh -c "echo '[1/2] One'; echo '[50%] Half'; echo '[2/2] Two'; echo done"
fails /bin/sh -c "echo oops >&2; exit 3"
missing /nonexistent/scriptd-test-binary
-n note /bin/true @@1
-r forget /bin/sh -c "echo $1" sh @@1
-i hold /bin/sh -c "echo $1 $DUR_GEN $$ >> OUT/starts.log; cat > /dev/null; exec sleep $DUR_SLEEP" sh @@1
"#,
    );
    for name in ["steps", "fails", "missing"] {
        let id = server.run(json!({"name": name})).await;
        server.wait_done(&id).await;
    }
    let id = server.run(json!({"name": "note", "args": ["x"]})).await;
    server.wait_done(&id).await;
    let id = server.run(json!({"name": "forget", "args": ["y"]})).await;
    server
        .wait_status(&id, "forgotten", |s| s["errorcode"] == "invalid_id")
        .await;
    let killed = server
        .run(json!({"name": "hold", "args": ["h1"], "stdin": "a"}))
        .await;
    let cancelled = server.run(json!({"name": "hold", "args": ["h2"]})).await;
    fixture.wait_started("h1").await;
    server.cancel(&cancelled).await;
    server.kill(&killed).await;
    server.wait_done(&killed).await;
    server
        .run(json!({"name": "hold", "args": ["h3"], "stdin": "b"}))
        .await;
    server.run(json!({"name": "hold", "args": ["h4"]})).await;
    fixture.wait_started("h3").await;
    server.kill9();
    let server = Server::start(&fixture.storage, "2", "60").await;
    fixture.wait_started("h4").await;
    server
        .run(json!({"name": "hold", "args": ["h5"], "queue": unix_now() + 3600}))
        .await;
    let exit = server.terminate().await;
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0");
    let before = runs_table(&fixture.storage).await;

    // Act
    let output = Command::new(env!("CARGO_BIN_EXE_scriptd"))
        .args(["admin", "rebuild", "--storage"])
        .arg(&fixture.storage)
        .envs(crate::backend::database_env(&fixture.storage))
        .output()
        .expect("run scriptd admin rebuild");

    // Assert
    assert!(
        output.status.success(),
        "rebuild succeeds: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after = runs_table(&fixture.storage).await;
    let column = |row: &Vec<(String, String)>, name: &str| {
        row.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut kinds: Vec<String> = before
        .iter()
        .map(|row| format!("{} {}", column(row, "state"), column(row, "outcome")))
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "text done text cancelled",
            "text done text failed",
            "text done text interrupted",
            "text done text killed",
            "text done text noexec",
            "text done text start_failed",
            "text done text success",
            "text queued NULL",
        ],
        "the workload covers every kind of row"
    );
    assert!(
        before.iter().any(|row| column(row, "forgotten") == "int 1"),
        "the workload has a forgotten run"
    );
    assert_eq!(before.len(), after.len(), "same number of rows");
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old, new, "row rebuilt identically");
    }
}
