//! `scriptd admin migrate-to postgres://…`: moves a SQLite storage to an
//! empty PostgreSQL database without losing history. Copies the event log
//! (with its `seq`s), the accounts, queued runs' stdin, the runs rows and
//! the run log files, in one PostgreSQL transaction; then PostgreSQL's own
//! read model is rebuilt from the copied events (rows whose events `admin
//! prune` removed stay as copied). The server must be stopped (the storage
//! lock is taken), and a target that holds anything is refused, so the
//! move never mixes two histories. The SQLite storage is left untouched.

use std::fmt;

use crate::config::Config;
use crate::events::postgres::import;
use crate::events::sqlite::export;
use crate::events::transfer::{Table, PAGE};
use crate::events::StoreError;
use crate::ids::{RunId, UserId};
use crate::lock::LockError;

/// Why a move failed; the target is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migrate-to needs a PostgreSQL URL (postgres://user@host/database), not {0:?}")]
    NotPostgres(String),
    #[error("no scriptd storage in {0}: it has no scriptd.db — check --storage / SCRIPTD_STORAGE")]
    NoStorage(String),
    #[error("the PostgreSQL database {url} is not empty (it holds {rows} rows of scriptd tables); migrate-to copies into an empty database only: create a new one (createdb NAME) and name it in the URL")]
    NotEmpty { url: String, rows: i64 },
    #[error("{0} (stop the server before moving its storage)")]
    Lock(#[from] LockError),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
}

/// What was copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Rows per table, in [`Table::ALL`] order.
    pub rows: Vec<(Table, u64)>,
    pub logs: usize,
    /// The target, password hidden.
    pub target: String,
}

impl fmt::Display for MigrateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "copied to {}:", self.target)?;
        for (table, rows) in &self.rows {
            write!(f, " {rows} {}", table.name())?;
        }
        write!(
            f,
            ", {} run logs; the runs read model was rebuilt from the events. Start the server with --database (or SCRIPTD_DATABASE) set to that URL.",
            self.logs
        )
    }
}

/// Copies the storage of `config` into the empty database at `url`.
pub async fn migrate_to(config: &Config, url: &str) -> Result<MigrateReport, MigrateError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(MigrateError::NotPostgres(url.to_owned()));
    }
    let path = config.database_path();
    if !path.is_file() {
        return Err(MigrateError::NoStorage(
            config.storage.display().to_string(),
        ));
    }
    // A server on this storage would go on appending after the copy.
    let _lock = crate::lock::lock(&config.storage)?;
    let source = export::open(&path)?;
    let target = crate::events::postgres::redact(url);
    let (mut writer, readers) = crate::events::postgres::open(url).await?;
    let mut tx = readers
        .pool
        .begin()
        .await
        .map_err(|e| StoreError::from_pg(e, ""))?;
    let rows = import::lock_and_count(&mut tx).await?;
    if rows > 0 {
        return Err(MigrateError::NotEmpty { url: target, rows });
    }
    let mut report = MigrateReport {
        target,
        ..MigrateReport::default()
    };
    for table in Table::ALL {
        let (mut after, mut copied) = (0, 0);
        loop {
            let (rows, last) = export::page(&source, table, after, PAGE)?;
            if rows.is_empty() {
                break;
            }
            copied += import::insert(&mut tx, table, rows).await?;
            after = last;
        }
        report.rows.push((table, copied));
    }
    import::continue_sequence(&mut tx).await?;
    for (user, run) in export::runs_with_logs(&source)? {
        let Some(id) = RunId::parse(&run) else {
            continue;
        };
        match tokio::fs::read(config.log_path(UserId(user), id)).await {
            Ok(bytes) if !bytes.is_empty() => {
                import::log(&mut tx, &run, &bytes).await?;
                report.logs += 1;
            }
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err.into()),
        }
    }
    tx.commit().await.map_err(|e| StoreError::from_pg(e, ""))?;
    // The copied rows of runs with events are refolded by PostgreSQL's own
    // projection; rows whose events were pruned stay as copied.
    writer.rebuild().await?;
    Ok(report)
}
