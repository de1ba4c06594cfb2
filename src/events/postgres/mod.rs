//! The PostgreSQL backend: the same events and read model as SQLite, for
//! a database that operators already run and replicate. One connection
//! writes, on the store's own thread and runtime (group commit: a batch
//! of appends per transaction, serialised across nodes by an advisory
//! lock so that `seq` order is visibility order); reads take a pooled
//! connection of their own. Event data is `jsonb`; migrations are
//! `migrations/postgres`, applied at start.

pub mod apply;
pub mod apply_batch;
pub mod apply_single;
mod call;
pub mod chunks;
pub mod claim;
mod doubt;
pub mod follow;
mod groups;
pub mod guard;
pub mod history;
pub mod import;
pub mod nodes;
pub mod outbox;
mod plan;
pub mod prune;
pub mod query;
pub mod reads;
pub mod sessions;
pub mod store;
pub mod writer;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::error::StoreError;
pub use writer::Writer;

/// The read side: a pool of connections, never the writer's.
#[derive(Clone)]
pub struct Readers {
    pub pool: PgPool,
}

/// Read connections at most; a key check waits for a free one, not for
/// the writer.
const READERS: u32 = 8;

/// How long connecting (or waiting for a pooled connection) may take
/// before the database counts as unavailable.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connection options from a `postgres://` URL (`sslmode`, `host`, …
/// as libpq reads them; TLS through rustls with the system's roots).
pub fn options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::from_pg(e, ""))?;
    // Statements are logged by scriptd's own tracing when wanted, not per call.
    Ok(options
        .application_name("scriptd")
        .disable_statement_logging())
}

/// Connects, migrates, and opens the writer and the reader pool.
pub async fn open(url: &str) -> Result<(Writer, Readers), StoreError> {
    let options = options(url)?;
    let mut migrator = connect(&options).await?;
    sqlx::migrate!("./migrations/postgres")
        .run(&mut migrator)
        .await?;
    migrator
        .close()
        .await
        .map_err(|e| StoreError::from_pg(e, ""))?;
    let pool = PgPoolOptions::new()
        .max_connections(READERS)
        .min_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(|e| StoreError::from_pg(e, ""))?;
    Ok((Writer::new(options), Readers { pool }))
}

/// One connection, within [`CONNECT_TIMEOUT`].
pub(crate) async fn connect(options: &PgConnectOptions) -> Result<PgConnection, StoreError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(conn) => conn.map_err(|e| StoreError::from_pg(e, "")),
        Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
    }
}

/// `url` with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "postgres://(unparsable URL)".to_owned(),
    }
}
