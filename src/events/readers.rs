//! The read side of the event store, whichever backend holds it: key
//! checks, runs, accounts, history, the event log and replay's read of the
//! unfinished runs. Everything above `events` reads through [`Readers`]
//! and never learns which database answers. On SQLite the point reads are
//! in-place reads of the calling thread (no await inside); on PostgreSQL
//! every read takes a pooled connection, never the writer's, so a key
//! check does not queue behind a commit.

use super::error::StoreError;
use super::history::{HistoryPage, HistoryQuery};
use super::query::RunRow;
use super::session::OpenSession;
use super::types::StoredEvent;
use super::unfinished::Unfinished;
use super::watch::AccountChange;
use super::{postgres, sqlite};
use crate::accounts::{Guest, Principal, User};
use crate::ids::{GuestId, RunId, ScriptName, UserId};

/// Pooled read connections of one database.
#[derive(Clone)]
pub enum Readers {
    Sqlite(sqlite::Readers),
    Postgres(postgres::Readers),
}

/// What replay folds the unfinished runs into, one at a time.
pub trait FoldUnfinished: Send + 'static {
    /// Takes one unfinished run.
    fn add(&mut self, run: Unfinished);
}

impl Readers {
    /// The cluster's node table, on PostgreSQL (a connection pool of its
    /// own); `None` on SQLite, which has no cluster.
    /// `ttl` is the nodes' lease time.
    pub fn nodes(&self, ttl: std::time::Duration) -> Option<postgres::nodes::Nodes> {
        match self {
            Readers::Sqlite(_) => None,
            Readers::Postgres(r) => Some(postgres::nodes::Nodes::open(r, ttl)),
        }
    }

    /// Who the key with this hash belongs to, if it is valid at `now`.
    pub async fn principal(
        &self,
        key_hash: &str,
        now: i64,
    ) -> Result<Option<Principal>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.principal(key_hash, now),
            Readers::Postgres(r) => r.principal(key_hash, now).await,
        }
    }

    /// One run of a user from the read model.
    pub async fn run(&self, user: UserId, run: RunId) -> Result<Option<RunRow>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.run(user, run),
            Readers::Postgres(r) => r.run(user, run).await,
        }
    }

    /// A user's not forgotten runs whose ids start with `prefix`, at most `limit`.
    pub async fn runs_with_prefix(
        &self,
        user: UserId,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<(RunId, ScriptName)>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.runs_with_prefix(user, prefix, limit),
            Readers::Postgres(r) => r.runs_with_prefix(user, prefix, limit).await,
        }
    }

    /// A user's not forgotten runs whose ids end with `suffix` (lowercase
    /// hex and '-'), with their script names; at most `limit`.
    pub async fn runs_with_suffix(
        &self,
        user: UserId,
        suffix: &str,
        limit: u32,
    ) -> Result<Vec<(RunId, ScriptName)>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.runs_with_suffix(user, suffix, limit),
            Readers::Postgres(r) => r.runs_with_suffix(user, suffix, limit).await,
        }
    }

    /// A user by name.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.user_by_name(name),
            Readers::Postgres(r) => r.user_by_name(name).await,
        }
    }

    /// Every user, by id.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.users(),
            Readers::Postgres(r) => r.users().await,
        }
    }

    /// The id the next new user gets (ids are never reused).
    pub async fn next_user_id(&self) -> Result<UserId, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.next_user_id(),
            Readers::Postgres(r) => r.next_user_id().await,
        }
    }

    /// A user's guests, newest first.
    pub async fn guests(&self, user: UserId) -> Result<Vec<Guest>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.guests(user),
            Readers::Postgres(r) => r.guests(user).await,
        }
    }

    /// One guest of a user.
    pub async fn guest(&self, user: UserId, guest: GuestId) -> Result<Option<Guest>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.guest(user, guest),
            Readers::Postgres(r) => r.guest(user, guest).await,
        }
    }

    /// The number of a user's queued runs and the bytes they hold.
    pub async fn queued_load(&self, user: UserId) -> Result<(u64, u64), StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.queued_load(user),
            Readers::Postgres(r) => r.queued_load(user).await,
        }
    }

    /// The sequence number of the last event committed (by any process).
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.last_seq(),
            Readers::Postgres(r) => r.last_seq().await,
        }
    }

    /// Key rotations, user removals and guest deletions after `seq`.
    pub async fn account_changes_after(&self, seq: i64) -> Result<Vec<AccountChange>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.account_changes_after(seq),
            Readers::Postgres(r) => r.account_changes_after(seq).await,
        }
    }

    /// Users that no longer exist but still have runs not finished.
    pub async fn removed_users_with_live_runs(&self) -> Result<Vec<UserId>, StoreError> {
        match self {
            Readers::Sqlite(r) => r.lookup.removed_users_with_live_runs(),
            Readers::Postgres(r) => r.removed_users_with_live_runs().await,
        }
    }

    /// One page of history, newest first.
    pub async fn history(&self, q: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        match self {
            Readers::Sqlite(r) => sqlite::history::history(&r.pool, q).await,
            Readers::Postgres(r) => r.history(q).await,
        }
    }

    /// A user's events after `after`, oldest first, at most `limit`; only
    /// those of one run when given.
    pub async fn events_after(
        &self,
        user: UserId,
        after: i64,
        limit: i64,
        run: Option<RunId>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            Readers::Sqlite(r) => {
                sqlite::query::events_after(&r.pool, user, after, limit, run).await
            }
            Readers::Postgres(r) => r.events_after(user, after, limit, run).await,
        }
    }

    /// The events of one script's unfinished runs, in log order.
    pub async fn unfinished_run_events_of(
        &self,
        user: UserId,
        name: &ScriptName,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            Readers::Sqlite(r) => {
                sqlite::query::unfinished_run_events_of(&r.pool, user, name).await
            }
            Readers::Postgres(r) => r.unfinished_run_events_of(user, name).await,
        }
    }

    /// The running runs of one script, and those of `queued` that still
    /// are (PostgreSQL: a queue's periodic sweep; SQLite's one node
    /// needs none).
    pub async fn live_runs_of(
        &self,
        user: UserId,
        name: &ScriptName,
        queued: &[RunId],
    ) -> Result<Vec<postgres::follow::LiveRow>, StoreError> {
        match self {
            Readers::Sqlite(_) => Err(StoreError::Unsupported("a cluster needs PostgreSQL")),
            Readers::Postgres(r) => r.live_runs_of(user, name, queued).await,
        }
    }

    /// The stdin kept for a queued run.
    pub async fn stdin(&self, run: RunId) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Readers::Sqlite(r) => sqlite::query::stdin(&r.pool, run).await,
            Readers::Postgres(r) => r.stdin(run).await,
        }
    }

    /// The sign-in sessions on record that have not ended and that this
    /// server held: all of them on SQLite (one server); on PostgreSQL
    /// those of `node` (any incarnation) and those that name no node.
    pub async fn open_sessions(&self, node: &str) -> Result<Vec<OpenSession>, StoreError> {
        match self {
            Readers::Sqlite(r) => sqlite::query::open_sessions(&r.pool).await,
            Readers::Postgres(r) => r.open_sessions_of(node).await,
        }
    }

    /// Hands every unfinished run to `fold`, in no particular order, and
    /// gives it back. Startup only: streamed, so a long queue is never
    /// held twice in memory.
    pub async fn fold_unfinished<F: FoldUnfinished>(&self, mut fold: F) -> Result<F, StoreError> {
        match self {
            Readers::Sqlite(r) => {
                let path = r.lookup.path().to_path_buf();
                tokio::task::spawn_blocking(move || {
                    sqlite::unfinished::for_each(&path, |run| fold.add(run)).map(|()| fold)
                })
                .await
                .map_err(|_| StoreError::Closed)?
            }
            Readers::Postgres(r) => {
                r.for_each_unfinished(|run| fold.add(run)).await?;
                Ok(fold)
            }
        }
    }
}
