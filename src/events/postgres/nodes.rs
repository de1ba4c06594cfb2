//! The `nodes` table of a cluster: registering an incarnation, renewing
//! its lease, the rescuer's pass over expired nodes, and the cluster view
//! of `/metrics`. Every time is the database's (`clock_timestamp()`), so
//! the nodes' own clocks never decide whose lease holds. `crate::cluster`
//! decides when to call these; the SQL is here.
//!
//! Locks, always taken in this order: the rescue lock (one rescuer at a
//! time; a registration waits for a rescue in progress), then the commit
//! lock (see `writer`), which the rescuer takes and drops at once as a
//! barrier: every commit that passed a lost node's lease check is then
//! visible.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use tokio::time::Instant;

use super::query::{unfinished_from_row, UNFINISHED_COLUMNS, UNFINISHED_FROM};
use super::reads::pg;
use super::writer::COMMIT_LOCK;
use super::{Readers, CONNECT_TIMEOUT};
use crate::events::error::StoreError;
use crate::events::unfinished::Unfinished;
use crate::ids::{RunId, UserId};

/// The key of the advisory lock of the rescuer and of registrations
/// ("rescue" in ASCII).
pub const RESCUE_LOCK: i64 = 0x7265_7363_7565;

/// Connections of the cluster's own work, one per loop (the lease's, the
/// rescuer's): renewals must not wait behind a busy reader pool, nor
/// behind a long rescue.
const CONNECTIONS: u32 = 2;

/// One node as the database sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub name: String,
    pub epoch: i64,
    /// When its lease ends, in seconds since the epoch (database clock).
    pub lease_until: f64,
    /// Its lease is valid now and the rescuer has not given it up.
    pub alive: bool,
    pub lost: bool,
    /// Its runs in the `running` state.
    pub running: i64,
}

/// What a renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The lease holds for another lease time.
    Renewed,
    /// It had expired, or a rescuer marked the node lost.
    Expired,
    /// A newer incarnation registered under the same name (a restart, or
    /// a second process given the same `--node`).
    Replaced,
}

/// A renewal's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Renewed {
    pub renewal: Renewal,
    /// An instant before the lease was extended (not before the wait for
    /// a connection): the holder's deadline counts from it.
    pub sent: Instant,
    /// When renewed: how soon another node's lease runs out (zero when a
    /// rescue is due now); none when no other node holds one.
    pub next_expiry: Option<Duration>,
}

/// A run of a node that a rescuer ended while the node was gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub user: UserId,
    pub run: RunId,
    /// Its process group and boot id, if it was spawned.
    pub group: Option<(u32, String)>,
}

/// The node table's connections.
#[derive(Clone)]
pub struct Nodes {
    pool: PgPool,
}

/// The interval `$n` milliseconds, in SQL.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Nodes {
    /// A small pool of its own on the readers' database (connected lazily).
    pub fn open(readers: &Readers, ttl: Duration) -> Nodes {
        // A rescuer paused inside its transaction (SIGSTOP, swapping) must
        // not hold the rescue lock for longer than a lease: the server
        // ends such a session, and the lock with it.
        let idle = millis(ttl).to_string();
        let options = (*readers.pool.connect_options())
            .clone()
            .options([("idle_in_transaction_session_timeout", idle.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        Nodes { pool }
    }

    /// Registers a new incarnation of `node` with a lease of `ttl` and
    /// answers its epoch and an instant before the lease was granted
    /// (the holder's deadline counts from it). Waits for a rescue in progress, so no rescuer
    /// still works on the incarnation this one replaces; then waits for
    /// commits in flight, so the old incarnation's last commits are visible
    /// to whoever cleans up after it.
    pub async fn register(&self, node: &str, ttl: Duration) -> Result<(i64, Instant), StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(RESCUE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
        // Counted from here, not from before the waits for a connection
        // and the lock: after an outage those can take most of a lease,
        // and a deadline counted from before them ran out at once (a
        // second incarnation 200 ms after the first, issue 29).
        let sent = Instant::now();
        let epoch: i64 = sqlx::query_scalar(
            "INSERT INTO nodes (name, epoch, lease_until, started, renewed, lost)
             VALUES ($1, 1, clock_timestamp() + $2 * interval '1 millisecond',
                     clock_timestamp(), clock_timestamp(), false)
             ON CONFLICT (name) DO UPDATE SET
                 epoch = nodes.epoch + 1, lease_until = EXCLUDED.lease_until,
                 started = EXCLUDED.started, renewed = EXCLUDED.renewed, lost = false
             RETURNING epoch",
        )
        .bind(node)
        .bind(millis(ttl))
        .fetch_one(&mut *tx)
        .await
        .map_err(pg)?;
        barrier(&mut tx).await?;
        tx.commit().await.map_err(pg)?;
        Ok((epoch, sent))
    }

    /// Extends the lease of `node`'s incarnation `epoch` by `ttl` although
    /// it ran out, if no rescuer has given the incarnation up since: then
    /// nobody has touched its runs, and it may carry on as if its lease
    /// had held (issue 29: a lone node, or every node, through a database
    /// outage longer than the lease). Answers an instant before the lease
    /// was extended, or none when the incarnation is lost or replaced.
    pub async fn revive(
        &self,
        node: &str,
        epoch: i64,
        ttl: Duration,
    ) -> Result<Option<Instant>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(pg)?;
        let sent = Instant::now();
        // The row lock orders this against a rescuer marking the node
        // lost: whichever commits second sees the other's change.
        let revived = sqlx::query(
            "UPDATE nodes
             SET lease_until = clock_timestamp() + $3 * interval '1 millisecond',
                 renewed = clock_timestamp()
             WHERE name = $1 AND epoch = $2 AND NOT lost",
        )
        .bind(node)
        .bind(epoch)
        .bind(millis(ttl))
        .execute(&mut *conn)
        .await
        .map_err(pg)?;
        Ok((revived.rows_affected() == 1).then_some(sent))
    }

    /// Extends the lease of `node`'s incarnation `epoch` by `ttl`, if it is
    /// still valid; the same statement tells how soon a rescuer may have
    /// work, so an idle node's rescuer asks nothing more (issue 29).
    pub async fn renew(
        &self,
        node: &str,
        epoch: i64,
        ttl: Duration,
    ) -> Result<Renewed, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(pg)?;
        let sent = Instant::now();
        let renewed: Option<Option<f64>> = sqlx::query_scalar(
            "UPDATE nodes
             SET lease_until = clock_timestamp() + $3 * interval '1 millisecond',
                 renewed = clock_timestamp()
             WHERE name = $1 AND epoch = $2 AND NOT lost AND lease_until > clock_timestamp()
             RETURNING CASE
                 WHEN EXISTS (SELECT 1 FROM runs r JOIN nodes n ON n.name = r.node
                              WHERE n.lost AND r.state = 'running') THEN 0::float8
                 ELSE (SELECT greatest(0, extract(epoch FROM
                                  min(o.lease_until) - clock_timestamp()))::float8
                       FROM nodes o WHERE NOT o.lost AND o.name <> $1)
             END",
        )
        .bind(node)
        .bind(epoch)
        .bind(millis(ttl))
        .fetch_optional(&mut *conn)
        .await
        .map_err(pg)?;
        if let Some(next) = renewed {
            return Ok(Renewed {
                renewal: Renewal::Renewed,
                sent,
                next_expiry: next.map(|s| Duration::from_secs_f64(s.max(0.0))),
            });
        }
        let newest: Option<i64> = sqlx::query_scalar("SELECT epoch FROM nodes WHERE name = $1")
            .bind(node)
            .fetch_optional(&mut *conn)
            .await
            .map_err(pg)?;
        let renewal = match newest {
            Some(newest) if newest > epoch => Renewal::Replaced,
            _ => Renewal::Expired,
        };
        Ok(Renewed {
            renewal,
            sent,
            next_expiry: None,
        })
    }

    /// Whether a rescuer has work: a node but `me` whose lease expired,
    /// or a lost node with runs still running. One autocommit read, so an
    /// idle cluster's rescuers open no transaction at every renewal.
    pub async fn anything_to_rescue(&self, me: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (
                        SELECT 1 FROM nodes
                        WHERE NOT lost AND lease_until < clock_timestamp() AND name <> $1)
                    OR EXISTS (
                        SELECT 1 FROM runs r JOIN nodes n ON n.name = r.node
                        WHERE n.lost AND r.state = 'running')",
        )
        .bind(me)
        .fetch_one(&self.pool)
        .await
        .map_err(pg)
    }

    /// The rescue lock, if no other node holds it; held until the
    /// [`Rescue`] is finished or dropped.
    pub async fn try_rescue(&self) -> Result<Option<Rescue>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg)?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(RESCUE_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(pg)?;
        if !locked {
            tx.rollback().await.map_err(pg)?;
            return Ok(None);
        }
        Ok(Some(Rescue { tx }))
    }

    /// The running runs on record for `node` (its incarnation that just
    /// registered has started none yet: they are a former one's).
    pub async fn running_of(&self, node: &str) -> Result<Vec<Unfinished>, StoreError> {
        let sql = format!(
            "SELECT {UNFINISHED_COLUMNS} {UNFINISHED_FROM}
             WHERE r.state = 'running' AND r.node = $1"
        );
        let rows = sqlx::query(&sql)
            .bind(node)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        rows.iter().map(unfinished_from_row).collect()
    }

    /// Takes the runs of `node` that a rescuer ended while it was gone.
    pub async fn take_leftovers(&self, node: &str) -> Result<Vec<Leftover>, StoreError> {
        let rows: Vec<(i64, String, Option<i64>, Option<String>)> = sqlx::query_as(
            "DELETE FROM node_leftovers WHERE node = $1 RETURNING user_id, run_id, pgid, boot",
        )
        .bind(node)
        .fetch_all(&self.pool)
        .await
        .map_err(pg)?;
        let mut leftovers: Vec<Leftover> = rows
            .into_iter()
            .filter_map(|(user, run, pgid, boot)| {
                Some(Leftover {
                    user: UserId(user),
                    run: RunId::parse(&run)?,
                    group: match (pgid.and_then(|p| u32::try_from(p).ok()), boot) {
                        (Some(pgid), Some(boot)) => Some((pgid, boot)),
                        _ => None,
                    },
                })
            })
            .collect();
        // A pass that failed after noting its runs noted them again.
        leftovers.sort_unstable_by_key(|l| l.run);
        leftovers.dedup_by_key(|l| l.run);
        Ok(leftovers)
    }

    /// Every node, with its lease and its running runs.
    pub async fn view(&self) -> Result<Vec<NodeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.name, n.epoch, extract(epoch FROM n.lease_until)::float8,
                    NOT n.lost AND n.lease_until > clock_timestamp(), n.lost,
                    (SELECT count(*) FROM runs r WHERE r.node = n.name AND r.state = 'running')
             FROM nodes n ORDER BY n.name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(pg)?;
        rows.iter()
            .map(|row| {
                Ok(NodeRow {
                    name: row.try_get(0)?,
                    epoch: row.try_get(1)?,
                    lease_until: row.try_get(2)?,
                    alive: row.try_get(3)?,
                    lost: row.try_get(4)?,
                    running: row.try_get(5)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(pg)
    }
}

/// Waits until no commit holds the commit lock: any commit that passed
/// a lease check before the lease expired has then committed.
async fn barrier(tx: &mut Transaction<'static, Postgres>) -> Result<(), StoreError> {
    sqlx::raw_sql(&format!(
        "SELECT pg_advisory_lock({COMMIT_LOCK}); SELECT pg_advisory_unlock({COMMIT_LOCK})"
    ))
    .execute(&mut **tx)
    .await
    .map_err(pg)?;
    Ok(())
}

/// The rescuer's turn: the rescue lock is held until this is finished.
pub struct Rescue {
    pub(super) tx: Transaction<'static, Postgres>,
}

impl Rescue {
    /// Marks lost every node but `me` whose lease expired and answers the
    /// running runs of lost nodes (those just marked and any a former
    /// rescue did not finish), with their node's name.
    pub async fn runs_of_lost_nodes(
        &mut self,
        me: &str,
    ) -> Result<Vec<(String, Unfinished)>, StoreError> {
        let marked: Vec<String> = sqlx::query_scalar(
            "UPDATE nodes SET lost = true
             WHERE NOT lost AND lease_until < clock_timestamp() AND name <> $1
             RETURNING name",
        )
        .bind(me)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(pg)?;
        if !marked.is_empty() {
            tracing::warn!(nodes = ?marked, "node leases expired: their running runs end");
            barrier(&mut self.tx).await?;
        }
        let sql = format!(
            "SELECT {UNFINISHED_COLUMNS}, r.node AS node_name {UNFINISHED_FROM}
             JOIN nodes n ON n.name = r.node AND n.lost
             WHERE r.state = 'running'"
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(pg)?;
        let runs = rows
            .iter()
            .map(|row| {
                let node: String = row.try_get("node_name").map_err(pg)?;
                Ok((node, unfinished_from_row(row)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.keep_leftovers(&runs).await?;
        Ok(runs)
    }

    /// Notes `runs` (and their process groups) for their node's next start.
    async fn keep_leftovers(&mut self, runs: &[(String, Unfinished)]) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        let nodes: Vec<&str> = runs.iter().map(|(node, _)| node.as_str()).collect();
        let users: Vec<i64> = runs.iter().map(|(_, run)| run.user.0).collect();
        let ids: Vec<String> = runs
            .iter()
            .map(|(_, run)| run.queued.run.to_string())
            .collect();
        let spawned = runs.iter().map(|(_, run)| run.spawned.as_ref());
        let pgids: Vec<Option<i64>> = spawned
            .clone()
            .map(|s| s.map(|(pgid, _)| i64::from(*pgid)))
            .collect();
        let boots: Vec<Option<&str>> = spawned.map(|s| s.map(|(_, boot)| boot.as_str())).collect();
        sqlx::query(
            "INSERT INTO node_leftovers (node, user_id, run_id, pgid, boot)
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::int8[], $5::text[])",
        )
        .bind(&nodes)
        .bind(&users)
        .bind(&ids)
        .bind(&pgids)
        .bind(&boots)
        .execute(&mut *self.tx)
        .await
        .map_err(pg)?;
        Ok(())
    }

    /// Commits the marks and lets the next rescuer in.
    pub async fn finish(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(pg)
    }
}
