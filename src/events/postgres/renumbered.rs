//! Migrations that changed their version after some databases ran them.
//!
//! The commit function (`…_commit_function.sql`) first took version
//! 20270501000001, the version of the session ends index too, and then
//! 20270501000002 for a while. sqlx's migrator keys applied migrations by
//! version alone: with two files of one version a fresh database applies
//! the first and fails on the second (its `_sqlx_migrations` row clashes),
//! and a database that ran one of them refuses to start (the other's
//! checksum differs). So the function now has a version of its own, and
//! a database that recorded it under an old one (development databases
//! only: no release shipped it) forgets that record before migrating. The
//! migration is written to run again over what it made, and the session
//! ends index, which such a database never got, runs at its own version.

use sqlx::PgConnection;

use crate::events::error::StoreError;

/// Removes the commit function's records under its old versions, if the
/// database has any. Harmless on every other database, and idempotent
/// when nodes start together (the migrator then takes its own lock).
pub(super) async fn forget_old_versions(conn: &mut PgConnection) -> Result<(), StoreError> {
    // `_sqlx_migrations` does not exist yet on a fresh database.
    sqlx::raw_sql(
        "DO $$ BEGIN
             IF to_regclass('_sqlx_migrations') IS NOT NULL THEN
                 DELETE FROM _sqlx_migrations
                 WHERE version IN (20270501000001, 20270501000002)
                   AND description = 'commit function';
             END IF;
         END $$",
    )
    .execute(conn)
    .await
    .map_err(|e| StoreError::from_pg(e, ""))?;
    Ok(())
}
