//! The one connection that writes to PostgreSQL. A group commit is one
//! transaction, which takes a transaction-level advisory lock: it
//! serialises commits of every node on the database, so `seq` numbers
//! become visible in their order (a reader that has seen `seq` n never
//! later finds a smaller one appear), which is what lets every node tail
//! the log by `seq` (`crate::cluster`); each commit also `NOTIFY`s them.
//!
//! In steady state the commit is one round trip: one call of the
//! `scriptd_commit` function (`call`, `plan`). A batch holding an account
//! or hook change, and the redo of a batch that broke a unique rule, take
//! the multi-statement path: `BEGIN` and the lock in one round trip, all
//! the batch's events in one `INSERT … SELECT FROM UNNEST`, the read model
//! in one statement per kind of change, `COMMIT`; a batch that carries
//! claims goes group by group there (`groups`).
//!
//! After a failed call the connection is dropped and made again at the
//! next commit; the groups of a failed commit are answered with the
//! error, never retried behind their callers' backs. A `COMMIT` whose
//! answer was lost is settled first (see `doubt`): its groups are
//! answered as stored if it landed.

use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Executor, PgConnection, Row};

use super::apply;
use super::call::{self, Call, Called};
use super::doubt::{self, Backend, CallInDoubt, Failed, InDoubt};
use super::groups;
use super::guard::LeaseGuard;
use super::plan;
use crate::clock;
use crate::events::error::StoreError;
use crate::events::store::GroupResults;
use crate::events::types::{NewEvent, StoredEvent};

/// The key of the advisory lock every group commit takes ("scriptd" in
/// ASCII): all writers of one database share it.
pub const COMMIT_LOCK: i64 = 0x0073_6372_6970_7464;

/// How long a cluster node's group commit on the multi-statement path
/// (rare since the one-call path: see the module doc) may leave the
/// database waiting between its round trips: past it the server ends the session, and the
/// commit lock with it, so a node paused mid-commit (SIGSTOP, a stalled
/// VM, swapping) stalls every node's commits for this long, not for a
/// lease (issue 29; measured in BENCHMARKS.md). A commit ended so is
/// committed again, on a new connection (nothing of it was written), up
/// to [`IDLE_RETRIES`] times. 50 ms ended live commits of processes merely
/// starved for CPU too often on a loaded 2-core machine (two failures in
/// one PostgreSQL pass of the test suite), so the limit is 200 ms.
pub const COMMIT_IDLE_LIMIT: std::time::Duration = std::time::Duration::from_millis(200);

/// How many times a commit ended for idling is made again.
const IDLE_RETRIES: usize = 3;

/// More idle time a commit may take per MiB of event JSON it carries:
/// between its round trips the writer folds every event into the read
/// model, and events of a MiB or more (megabyte arguments, first and last
/// lines) took longer than [`COMMIT_IDLE_LIMIT`] for that in a debug build,
/// so such commits were ended every time. Ordinary commits carry a few
/// KiB and keep the short limit.
const IDLE_PER_MIB: std::time::Duration = std::time::Duration::from_secs(1);

/// The idle limit of a commit carrying `bytes` of event JSON.
fn idle_limit(bytes: usize) -> std::time::Duration {
    COMMIT_IDLE_LIMIT + IDLE_PER_MIB.mul_f64(bytes as f64 / (1024.0 * 1024.0))
}

/// The writing connection, made on first use.
pub struct Writer {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
    /// The server process of `conn` (see `doubt::settle_call`).
    backend: Option<Backend>,
    /// How many `scriptd_commit` calls this writer made.
    calls: i64,
    /// A cluster node's lease, checked by every commit (none offline).
    guard: Option<Arc<LeaseGuard>>,
    /// Names this writer in the commits' notifications (see `begin`).
    token: String,
}

impl Writer {
    /// A writer for the (already migrated) database of `options`.
    pub fn new(options: PgConnectOptions) -> Self {
        Writer {
            options,
            conn: None,
            backend: None,
            calls: 0,
            guard: None,
            token: uuid::Uuid::now_v7().simple().to_string(),
        }
    }

    /// What its commits' notifications carry (see `begin`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// From now on every commit checks this node's lease first, and may
    /// idle for [`COMMIT_IDLE_LIMIT`] at most. Other transactions of the
    /// writer (retention) hold no lock another node needs: the server
    /// ends them once they idled for `ttl`, the lease time.
    pub fn guard(&mut self, guard: Arc<LeaseGuard>, ttl: std::time::Duration) {
        let idle = ttl.as_millis().to_string();
        self.options = self
            .options
            .clone()
            .options([("idle_in_transaction_session_timeout", idle.as_str())]);
        self.conn = None;
        self.guard = Some(guard);
    }

    /// The connection, made again if the last one was lost.
    pub(super) async fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        if self.conn.is_none() {
            let mut conn = super::connect(&self.options).await?;
            let (pid, postmaster): (i32, f64) = sqlx::query_as(
                "SELECT pg_backend_pid(), extract(epoch FROM pg_postmaster_start_time())::float8",
            )
            .fetch_one(&mut conn)
            .await
            .map_err(|e| StoreError::from_pg(e, ""))?;
            self.backend = Some(Backend { pid, postmaster });
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or(StoreError::Closed)
    }

    /// Forgets the connection after a failed call: it may be gone, or left
    /// inside a transaction the error interrupted. (A refused group is not
    /// an error of the call; it is answered in the group's result.)
    pub(super) fn check<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    /// Whether the database answers again (after a failed commit).
    pub async fn probe(&mut self) -> Result<(), StoreError> {
        let result = match self.connection().await {
            Ok(conn) => conn
                .execute("SELECT 1")
                .await
                .map(drop)
                .map_err(|e| StoreError::from_pg(e, "")),
            Err(err) => Err(err),
        };
        self.check(result)
    }

    /// Appends groups of events in one transaction. Each group is
    /// all-or-nothing on its own, so one refused group does not fail the
    /// others. A commit the database ended for idling (this process was
    /// paused or starved mid-commit) wrote nothing: it is made again.
    pub async fn commit(&mut self, groups: &[Vec<NewEvent>]) -> Result<GroupResults, StoreError> {
        let mut retries = 0;
        loop {
            match self.commit_once(groups).await {
                Err(err) if err.is_idle_timeout() && retries < IDLE_RETRIES => {
                    retries += 1;
                    tracing::warn!(
                        limit_ms = COMMIT_IDLE_LIMIT.as_millis() as u64,
                        retries,
                        "a group commit idled past its limit and was ended; committing it again"
                    );
                }
                other => return other,
            }
        }
    }

    async fn commit_once(&mut self, groups: &[Vec<NewEvent>]) -> Result<GroupResults, StoreError> {
        let at = clock::now();
        let data: Vec<Vec<String>> = groups
            .iter()
            .map(|group| group.iter().map(json).collect())
            .collect::<Result<_, _>>()?;
        let redo = match plan::plan(groups, &data)? {
            Some(plan) => match self.call(groups, &data, &plan, at).await {
                Some(answer) => return answer,
                None => true,
            },
            None => false,
        };
        let (guard, token) = (self.guard.clone(), self.token.clone());
        let attempt = match self.connection().await {
            Ok(conn) if redo => {
                commit_isolated(conn, groups, &data, at, guard.as_deref(), &token).await
            }
            Ok(conn) => commit_on(conn, groups, &data, at, guard.as_deref(), &token).await,
            Err(err) => Err(Failed::Store(err)),
        };
        match attempt {
            Ok(results) => Ok(results),
            Err(Failed::Store(err)) => self.check(Err(err)),
            Err(Failed::InDoubt(doubt)) => {
                self.conn = None;
                let options = &self.options;
                doubt::settle(doubt, || super::connect(options)).await
            }
        }
    }

    /// The batch in one `scriptd_commit` call; `None` when it must be
    /// redone group by group (it broke a unique rule, nothing written).
    async fn call(
        &mut self,
        groups: &[Vec<NewEvent>],
        data: &[Vec<String>],
        plan: &plan::Plan<'_>,
        at: f64,
    ) -> Option<Result<GroupResults, StoreError>> {
        self.calls += 1;
        let (guard, token) = (self.guard.clone(), self.token.clone());
        let call = Call {
            writer: &token,
            commit_no: self.calls,
            guard: guard.as_deref(),
            at,
        };
        let called = match self.connection().await {
            Ok(conn) => call::call(conn, &call, groups, data, plan).await,
            Err(err) => Called::Failed(err),
        };
        Some(match called {
            Called::Done(results) => Ok(results),
            Called::Redo => return None,
            Called::Failed(err) => self.check(Err(err)),
            Called::InDoubt(err) => {
                self.conn = None;
                let doubt = CallInDoubt {
                    writer: &token,
                    commit_no: call.commit_no,
                    backend: self.backend.take(),
                    groups,
                    at,
                    err,
                };
                let options = &self.options;
                doubt::settle_call(doubt, || super::connect(options)).await
            }
        })
    }
}

/// Opens a group transaction: `BEGIN`, the commit lock, the `NOTIFY`
/// that wakes every node's follower once it commits and, on a cluster
/// node, the idle limit and the lease check, in one round trip. The
/// check runs under the lock, so a rescuer that waits for the lock after
/// the lease expired (see `nodes::barrier`) knows no commit of the lost
/// node is in flight.
/// The notification names this writer (`token`), so this node's own
/// follower, which its writer tells directly, does not read again.
pub(super) async fn begin(
    conn: &mut PgConnection,
    guard: Option<&LeaseGuard>,
    token: &str,
    bytes: usize,
) -> Result<(), StoreError> {
    let mut sql = format!(
        "BEGIN; SELECT pg_advisory_xact_lock({COMMIT_LOCK}); NOTIFY {}, '{token}'",
        super::follow::CHANNEL
    );
    if let Some(guard) = guard {
        // For this transaction only: retention's may idle longer.
        sql.push_str(&format!(
            "; SET LOCAL idle_in_transaction_session_timeout = {}; ",
            idle_limit(bytes).as_millis()
        ));
        sql.push_str(&guard.check_sql());
    }
    sqlx::raw_sql(&sql)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, ""))?;
    Ok(())
}

/// Ends a transaction with `sql` (`COMMIT` or `ROLLBACK`).
pub(super) async fn end(conn: &mut PgConnection, sql: &'static str) -> Result<(), StoreError> {
    sqlx::raw_sql(sql)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_pg(e, ""))?;
    Ok(())
}

async fn commit_on(
    conn: &mut PgConnection,
    groups: &[Vec<NewEvent>],
    data: &[Vec<String>],
    at: f64,
    guard: Option<&LeaseGuard>,
    token: &str,
) -> Result<GroupResults, Failed> {
    // Groups are refused rarely (rules are checked by the actors), so the
    // batch first goes as a whole and is redone group by group, each in a
    // savepoint, only if something failed.
    let bytes = data.iter().flatten().map(String::len).sum();
    begin(conn, guard, token, bytes).await?;
    if groups.iter().flatten().any(|e| e.expect.is_some()) {
        // Claims are checked group by group, each against what the
        // groups before it changed.
        return match groups::commit_claimed(conn, groups, data, at).await {
            groups::Pass::Done(result) => result,
            groups::Pass::Redo => {
                end(conn, "ROLLBACK").await?;
                commit_isolated(conn, groups, data, at, guard, token).await
            }
        };
    }
    let all: Vec<&NewEvent> = groups.iter().flatten().collect();
    let texts: Vec<&str> = data.iter().flatten().map(String::as_str).collect();
    match append(conn, &all, &texts, at).await {
        Ok(stored) => {
            let mut stored = stored.into_iter();
            let results = groups
                .iter()
                .map(|group| Ok(stored.by_ref().take(group.len()).collect()))
                .collect();
            commit(conn, results).await
        }
        Err(err) if err.is_unavailable() => Err(err.into()),
        Err(_) => {
            end(conn, "ROLLBACK").await?;
            commit_isolated(conn, groups, data, at, guard, token).await
        }
    }
}

/// The batch with a savepoint per group, so a refused group fails alone.
async fn commit_isolated(
    conn: &mut PgConnection,
    groups: &[Vec<NewEvent>],
    data: &[Vec<String>],
    at: f64,
    guard: Option<&LeaseGuard>,
    token: &str,
) -> Result<GroupResults, Failed> {
    let bytes = data.iter().flatten().map(String::len).sum();
    begin(conn, guard, token, bytes).await?;
    groups::commit_isolated(conn, groups, data, at).await
}

/// Sends `COMMIT`; a lost answer leaves the groups in doubt (see `doubt`).
pub(super) async fn commit(
    conn: &mut PgConnection,
    results: GroupResults,
) -> Result<GroupResults, Failed> {
    match end(conn, "COMMIT").await {
        Ok(()) => Ok(results),
        Err(err) if err.is_unavailable() => Err(Failed::InDoubt(InDoubt { results, err })),
        Err(err) => Err(Failed::Store(err)),
    }
}

/// Inserts `events` (with their JSON `data`) in one statement and updates
/// the read model; answers them as stored, in order.
pub(super) async fn append(
    conn: &mut PgConnection,
    events: &[&NewEvent],
    data: &[&str],
    at: f64,
) -> Result<Vec<StoredEvent>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<i64> = events.iter().map(|e| e.user.0).collect();
    let streams: Vec<String> = events.iter().map(|e| e.stream()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.kind()).collect();
    let versions: Vec<i64> = events.iter().map(|e| e.event.version()).collect();
    // Each stream's numbers go on from its last one; several events of
    // one stream in the batch take the next ones in batch order. Rows go
    // in (and take their `seq`) in batch order.
    let rows = sqlx::query(
        "INSERT INTO events (at, user_id, stream, stream_seq, kind, version, data)
         SELECT $1, u.user_id, u.stream,
                COALESCE((SELECT max(e.stream_seq) FROM events e WHERE e.stream = u.stream), 0)
                  + row_number() OVER (PARTITION BY u.stream ORDER BY u.ord),
                u.kind, u.version, u.data::jsonb
         FROM UNNEST($2::int8[], $3::text[], $4::text[], $5::int8[], $6::text[])
              WITH ORDINALITY AS u(user_id, stream, kind, version, data, ord)
         ORDER BY u.ord
         RETURNING seq",
    )
    .bind(at)
    .bind(&users)
    .bind(&streams)
    .bind(&kinds)
    .bind(&versions)
    .bind(data)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| StoreError::from_pg(e, "event already recorded"))?;
    let mut seqs = rows
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::from_pg(e, ""))?;
    // Identity values are drawn in insertion order, which is batch order.
    seqs.sort_unstable();
    apply::apply(conn, events, data).await?;
    // Not in `apply`: a rebuild refolds the read model, but must not
    // send anything again.
    super::outbox::insert(conn, events, &seqs, at).await?;
    Ok(events
        .iter()
        .zip(seqs)
        .map(|(new, seq)| StoredEvent {
            seq,
            at,
            user: new.user,
            event: new.event.clone(),
        })
        .collect())
}

/// The event's JSON for the `jsonb` column. jsonb cannot hold U+0000 (a
/// script may print it in its first or last line): it is stored as
/// U+FFFD. The runs row keeps the exact text either way.
fn json(new: &NewEvent) -> Result<String, serde_json::Error> {
    let text = serde_json::to_string(&new.event)?;
    if !text.contains("\\u0000") {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut backslashes = 0usize;
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        // A backslash after an even number of them starts an escape;
        // `\\u0000` is an escaped backslash, then the text "u0000".
        if c == '\\' && backslashes.is_multiple_of(2) && rest.starts_with("\\u0000") {
            out.push_str("\\ufffd");
            rest = &rest[6..];
            backslashes = 0;
            continue;
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::types::Event;
    use crate::ids::UserId;

    #[test]
    fn a_commit_may_idle_longer_only_in_proportion_to_what_it_carries() {
        assert_eq!(idle_limit(0), COMMIT_IDLE_LIMIT);
        assert_eq!(
            idle_limit(4096).as_millis(),
            203,
            "a few KiB: the short limit"
        );
        assert_eq!(
            idle_limit(2 * 1024 * 1024),
            COMMIT_IDLE_LIMIT + 2 * IDLE_PER_MIB
        );
    }

    #[test]
    fn nul_characters_become_replacement_characters_and_nothing_else_changes() {
        for (name, want) in [
            ("a\0b", "a\u{fffd}b"),
            ("a\\u0000b", "a\\u0000b"),
            ("\\\0", "\\\u{fffd}"),
            ("plain", "plain"),
        ] {
            let new = NewEvent::new(
                UserId(1),
                Event::UserCreated {
                    user: UserId(1),
                    name: name.into(),
                    key_hash: "h".into(),
                    guests: false,
                    created: 0,
                },
            );
            let text = json(&new).expect("json");
            let back: Event = serde_json::from_str(&text).expect("parses");
            let Event::UserCreated { name: got, .. } = back else {
                unreachable!()
            };
            assert_eq!(got, want, "{name:?} -> {text}");
        }
    }
}
