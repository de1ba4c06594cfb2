//! A PostgreSQL database that recorded the commit function under one of
//! its old versions (20270501000001, which the session ends index has
//! too, or 20270501000002) still opens and migrates: the function runs
//! again at its own version, and the session ends index gets made if the
//! clash had kept it out (see `events/postgres/renumbered.rs`).

use scriptd::events::store::{self, Location};
use sqlx::{Connection, PgConnection, Row};

const SESSION_ENDS: i64 = 20270501000001;
const COMMIT_FUNCTION: i64 = 20271201000001;

/// `(version, description)` of every applied migration, in order.
async fn applied(conn: &mut PgConnection) -> Vec<(i64, String)> {
    sqlx::query("SELECT version, description FROM _sqlx_migrations ORDER BY version")
        .fetch_all(conn)
        .await
        .expect("read _sqlx_migrations")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[actix_web::test]
async fn a_database_with_the_commit_function_under_an_old_version_still_migrates() {
    for old in [SESSION_ENDS, 20270501000002] {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = crate::backend::fresh_postgres_database(dir.path());
        drop(
            store::open(&Location::Postgres(url.clone()))
                .await
                .expect("first open"),
        );
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        // As such a database stands. Under 20270501000001 the function
        // took the session ends index's place, so the index was never made.
        let mut doctor = format!(
            "UPDATE _sqlx_migrations SET version = {old} WHERE version = {COMMIT_FUNCTION}"
        );
        if old == SESSION_ENDS {
            doctor = format!(
                "DROP INDEX events_one_session_end; DROP INDEX events_sessions_started;
                 DELETE FROM _sqlx_migrations WHERE version = {SESSION_ENDS}; {doctor}"
            );
        }
        sqlx::raw_sql(&doctor)
            .execute(&mut conn)
            .await
            .expect("record the function under its old version");

        let db = store::open(&Location::Postgres(url.clone()))
            .await
            .unwrap_or_else(|err| panic!("reopen after {old}: {err:?}"));
        let versions = applied(&mut conn).await;
        assert!(
            versions.contains(&(SESSION_ENDS, "session ends".to_owned()))
                && versions.contains(&(COMMIT_FUNCTION, "commit function".to_owned()))
                && !versions.iter().any(|(v, _)| *v == 20270501000002),
            "after {old}: {versions:?}"
        );
        let index: bool = sqlx::query_scalar(
            "SELECT to_regclass('events_one_session_end') IS NOT NULL
                AND to_regproc('scriptd_commit') IS NOT NULL",
        )
        .fetch_one(&mut conn)
        .await
        .expect("catalog");
        assert!(index, "after {old}: the index and the function are there");
        drop(db);
    }
}
