//! A commit whose `COMMIT` got no answer (the connection dropped while it
//! was on its way): the server may have committed it or not. Rather than
//! answer its callers "unavailable" for events that may be in the log (a
//! client would then retry a run that was accepted), the writer settles
//! the doubt on a new connection: under the commit lock, which the old
//! transaction held until it ended, the log either holds the commit's
//! first `seq` or never will (identity values are not reused).

use std::time::{Duration, Instant};

use sqlx::{PgConnection, Row};

use super::writer::COMMIT_LOCK;
use crate::events::error::StoreError;
use crate::events::store::GroupResults;

/// How long the writer tries to reach the database again to settle a
/// doubt; past it the callers are answered unavailable (the commit may
/// still have landed, see README "Running on PostgreSQL").
pub(super) const SETTLE_FOR: Duration = Duration::from_secs(5);
const SETTLE_RETRY: Duration = Duration::from_millis(100);

/// The groups of a commit in doubt, as they stand if it landed, and the
/// error its `COMMIT` got.
pub(super) struct InDoubt {
    pub results: GroupResults,
    pub err: StoreError,
}

impl InDoubt {
    /// The `seq` of the commit's first stored event; none when every
    /// group was refused (then nothing was to be written).
    fn first_seq(&self) -> Option<i64> {
        self.results
            .iter()
            .filter_map(|group| group.as_ref().ok())
            .find_map(|events| events.first())
            .map(|event| event.seq)
    }
}

/// How a commit failed.
pub(super) enum Failed {
    /// Before `COMMIT` was sent, or with the server's answer: nothing
    /// was written.
    Store(StoreError),
    /// `COMMIT` was sent and its answer lost.
    InDoubt(InDoubt),
}

impl From<StoreError> for Failed {
    fn from(err: StoreError) -> Self {
        Failed::Store(err)
    }
}

/// Answers the groups of `doubt` as stored if their commit landed, else
/// with its error; `connect` makes a new connection.
pub(super) async fn settle<F, Fut>(
    doubt: InDoubt,
    mut connect: F,
) -> Result<GroupResults, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<PgConnection, StoreError>>,
{
    let Some(seq) = doubt.first_seq() else {
        return Ok(doubt.results);
    };
    let deadline = Instant::now() + SETTLE_FOR;
    loop {
        let landed = match connect().await {
            Ok(mut conn) => landed(&mut conn, seq).await,
            Err(err) => Err(err),
        };
        match landed {
            Ok(true) => {
                tracing::info!(seq, "a commit whose answer was lost had landed");
                return Ok(doubt.results);
            }
            Ok(false) => return Err(doubt.err),
            Err(err) if Instant::now() >= deadline => {
                tracing::warn!(seq, error = %err, "cannot tell whether a commit landed; answering unavailable");
                return Err(doubt.err);
            }
            Err(_) => tokio::time::sleep(SETTLE_RETRY).await,
        }
    }
}

/// Whether `seq` is in the log, once no commit is in flight: one round
/// trip, so the commit lock is never held while the database waits on
/// this process (each statement of a simple query reads afresh, so the
/// read sees what the lock waited for).
async fn landed(conn: &mut PgConnection, seq: i64) -> Result<bool, StoreError> {
    let rows = sqlx::raw_sql(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock({COMMIT_LOCK});
         SELECT EXISTS (SELECT 1 FROM events WHERE seq = {seq}); COMMIT"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| StoreError::from_pg(e, ""))?;
    let found = rows.last().ok_or(StoreError::Closed)?;
    found.try_get(0).map_err(|e| StoreError::from_pg(e, ""))
}
