//! A commit whose `COMMIT` got no answer (the connection dropped while it
//! was on its way): the server may have committed it or not. Rather than
//! answer its callers "unavailable" for events that may be in the log (a
//! client would then retry a run that was accepted), the writer settles
//! the doubt on a new connection: under the commit lock, which the old
//! transaction held until it ended, the log either holds the commit's
//! first `seq` or never will (identity values are not reused).
//!
//! A `scriptd_commit` call (see `call`) is in doubt from the moment it is
//! sent: the server may not even have taken the lock yet. So its backend
//! is ended first (`pg_terminate_backend`, and waited for until gone),
//! which settles its transaction one way or the other; then the answer
//! the call leaves in `commit_answers`, under the commit lock, says
//! whether it landed and with which `seq` numbers.

use std::time::{Duration, Instant};

use sqlx::{PgConnection, Row};

use super::call;
use crate::events::types::NewEvent;

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

/// The server process of a writer's connection.
#[derive(Clone, Copy)]
pub(super) struct Backend {
    pub pid: i32,
    /// When its postmaster started (seconds since the epoch): after a
    /// restart of PostgreSQL the process is gone, and its pid may be
    /// another connection's.
    pub postmaster: f64,
}

/// A `scriptd_commit` call whose answer was lost.
pub(super) struct CallInDoubt<'a> {
    /// The calling writer's token and the call's number.
    pub writer: &'a str,
    pub commit_no: i64,
    /// The server process of the connection the call went on.
    pub backend: Option<Backend>,
    pub groups: &'a [Vec<NewEvent>],
    pub at: f64,
    pub err: StoreError,
}

/// Answers the groups of a call in doubt as the call answered them if it
/// landed, else with its error; `connect` makes a new connection.
pub(super) async fn settle_call<F, Fut>(
    doubt: CallInDoubt<'_>,
    mut connect: F,
) -> Result<GroupResults, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<PgConnection, StoreError>>,
{
    let deadline = Instant::now() + SETTLE_FOR;
    loop {
        let answer = match connect().await {
            Ok(mut conn) => answer(&mut conn, &doubt, deadline).await,
            Err(err) => Err(err),
        };
        match answer {
            Ok(Some((seqs, refused))) => {
                tracing::info!(
                    commit = doubt.commit_no,
                    "a commit whose answer was lost had landed"
                );
                return call::results(doubt.groups, doubt.at, &seqs, &refused);
            }
            Ok(None) => return Err(doubt.err),
            Err(err) if Instant::now() >= deadline => {
                tracing::warn!(commit = doubt.commit_no, error = %err, "cannot tell whether a commit landed; answering unavailable");
                return Err(doubt.err);
            }
            Err(_) => tokio::time::sleep(SETTLE_RETRY).await,
        }
    }
}

/// How a call in doubt was answered, once its backend is gone: `None`
/// when it did not land.
type Answer = Option<(Vec<Option<i64>>, Vec<Option<String>>)>;

async fn answer(
    conn: &mut PgConnection,
    doubt: &CallInDoubt<'_>,
    deadline: Instant,
) -> Result<Answer, StoreError> {
    let pg = |e| StoreError::from_pg(e, "");
    if let Some(backend) = doubt.backend {
        // Its backend may still hold the call, or wait for the lock.
        loop {
            let alive: i64 = sqlx::query_scalar(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE pid = $1 AND extract(epoch FROM pg_postmaster_start_time())::float8 = $2",
            )
            .bind(backend.pid)
            .bind(backend.postmaster)
            .fetch_one(&mut *conn)
            .await
            .map_err(pg)?;
            if alive == 0 {
                break;
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Closed);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let row = sqlx::query("SELECT commit_no, seqs, refused FROM scriptd_commit_answer($1)")
        .bind(doubt.writer)
        .fetch_optional(&mut *conn)
        .await
        .map_err(pg)?;
    let Some(row) = row else { return Ok(None) };
    let commit_no: i64 = row.try_get(0).map_err(pg)?;
    if commit_no != doubt.commit_no {
        return Ok(None);
    }
    Ok(Some((
        row.try_get(1).map_err(pg)?,
        row.try_get(2).map_err(pg)?,
    )))
}
