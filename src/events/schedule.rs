//! What the schedules read from the log, on either backend: a schedule's
//! latest tick record (found through the `events_one_tick` index, whose
//! streams sort by time), the latest of every schedule of a user in one
//! statement, and the pauses and resumes of every schedule.
//! The tick records themselves are written like any event.

use std::collections::HashMap;

use sqlx::Row;

use super::compact::restore;
use super::error::StoreError;
use super::query::decode;
use super::readers::Readers;
use super::types::{tick_prefix, Event};
use crate::ids::{RunId, ScriptName, UserId};
use crate::schedule::{Missed, TickSkip};

/// A schedule's latest tick record.
#[derive(Debug, Clone, PartialEq)]
pub struct LastTick {
    pub tick: i64,
    pub run: Option<RunId>,
    pub skipped: Option<TickSkip>,
    pub missed: Option<Missed>,
}

/// A schedule paused or resumed, in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub user: UserId,
    pub name: ScriptName,
    pub paused: bool,
}

const LAST_TICK: &str = "SELECT kind, version, data FROM events
     WHERE kind = 'ScheduleTicked' AND stream >= ?1 AND stream < ?2
     ORDER BY stream DESC LIMIT 1";
const LAST_TICK_PG: &str = "SELECT kind, version, data::text FROM events
     WHERE kind = 'ScheduleTicked' AND stream >= $1 AND stream < $2
     ORDER BY stream DESC LIMIT 1";
/// The latest tick record of every schedule of one user, by a loose
/// index scan down `events_one_tick`: each step seeks the greatest stream
/// below the previous schedule's prefix (its stream minus the 12-digit
/// instant), so the statement costs one seek per schedule, however many
/// ticks each has recorded.
const LAST_TICKS: &str = "WITH RECURSIVE last(stream) AS (
       SELECT MAX(stream) FROM events
        WHERE kind = 'ScheduleTicked' AND stream >= ?1 AND stream < ?2
       UNION ALL
       SELECT (SELECT MAX(e.stream) FROM events e
                WHERE e.kind = 'ScheduleTicked' AND e.stream >= ?1
                  AND e.stream < substr(last.stream, 1, length(last.stream) - 12))
         FROM last WHERE last.stream IS NOT NULL)
     SELECT e.kind, e.version, e.data FROM last
       JOIN events e ON e.stream = last.stream AND e.kind = 'ScheduleTicked'";
const LAST_TICKS_PG: &str = "WITH RECURSIVE last(stream) AS (
       SELECT MAX(stream) FROM events
        WHERE kind = 'ScheduleTicked' AND stream >= $1 AND stream < $2
       UNION ALL
       SELECT (SELECT MAX(e.stream) FROM events e
                WHERE e.kind = 'ScheduleTicked' AND e.stream >= $1
                  AND e.stream < substr(last.stream, 1, length(last.stream) - 12))
         FROM last WHERE last.stream IS NOT NULL)
     SELECT e.kind, e.version, e.data::text FROM last
       JOIN events e ON e.stream = last.stream AND e.kind = 'ScheduleTicked'";
/// Where the runs of many ticks stand, in one statement: the state of a
/// live run, the outcome of a done one.
const RUN_OUTCOMES: &str = "SELECT id, CASE WHEN state = 'done' THEN COALESCE(outcome, 'done')
                                ELSE state END
     FROM runs WHERE user_id = ?1 AND id IN (SELECT value FROM json_each(?2))";
const RUN_OUTCOMES_PG: &str = "SELECT id, CASE WHEN state = 'done' THEN COALESCE(outcome, 'done')
                                   ELSE state END
     FROM runs WHERE user_id = $1 AND id = ANY($2::text[])";
const SWITCHES: &str = "SELECT user_id, kind, version, data FROM events
     WHERE kind IN ('SchedulePaused', 'ScheduleResumed') ORDER BY seq";
const SWITCHES_PG: &str = "SELECT user_id, kind, version, data::text FROM events
     WHERE kind IN ('SchedulePaused', 'ScheduleResumed') ORDER BY seq";

impl Readers {
    /// The latest tick record of `name`'s schedule, if it ever ticked.
    pub async fn last_tick(
        &self,
        user: UserId,
        name: &ScriptName,
    ) -> Result<Option<LastTick>, StoreError> {
        let prefix = tick_prefix(user, name);
        // `0` follows `/`: every stream of this schedule sorts before it.
        let end = format!("{}0", prefix.trim_end_matches('/'));
        let rows = self
            .tick_records((LAST_TICK, LAST_TICK_PG), &prefix, &end)
            .await?;
        let Some((kind, version, data)) = rows.into_iter().next() else {
            return Ok(None);
        };
        Ok(last_tick_of(decode(&kind, version, &data)?).map(|(_, last)| last))
    }

    /// The latest tick record of each schedule of `user` that ever
    /// ticked (those of scripts no longer scheduled included), in one
    /// statement: adopting many schedules at start costs one read per
    /// user, not one per schedule.
    pub async fn last_ticks(
        &self,
        user: UserId,
    ) -> Result<HashMap<ScriptName, LastTick>, StoreError> {
        let prefix = format!("tick/{user}/");
        let end = format!("tick/{user}0");
        let rows = self
            .tick_records((LAST_TICKS, LAST_TICKS_PG), &prefix, &end)
            .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for (kind, version, data) in rows {
            if let Some((name, last)) = last_tick_of(decode(&kind, version, &data)?) {
                out.insert(name, last);
            }
        }
        Ok(out)
    }

    /// The tick records `sql` (its SQLite and PostgreSQL forms) reads
    /// from the streams from `prefix` up to `end`: kind, version, JSON.
    async fn tick_records(
        &self,
        (sqlite, postgres): (&'static str, &'static str),
        prefix: &str,
        end: &str,
    ) -> Result<Vec<(String, i64, String)>, StoreError> {
        match self {
            Readers::Sqlite(r) => sqlx::query_as(sqlite)
                .bind(prefix)
                .bind(end)
                .fetch_all(&r.pool)
                .await
                .map(restored)
                .map_err(StoreError::Sqlx),
            Readers::Postgres(r) => sqlx::query_as(postgres)
                .bind(prefix)
                .bind(end)
                .fetch_all(&r.pool)
                .await
                .map_err(|e| StoreError::from_pg(e, "")),
        }
    }

    /// How the runs `runs` of `user` stand: `queued`, `running`, or how
    /// they ended. One statement for them all: `GET schedules` shows the
    /// run of each schedule's latest tick, and a read per schedule was
    /// most of the time of a long list (BENCHMARKS.md § Schedules).
    pub async fn run_outcomes(
        &self,
        user: UserId,
        runs: &[RunId],
    ) -> Result<HashMap<RunId, String>, StoreError> {
        if runs.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = runs.iter().map(ToString::to_string).collect();
        let rows: Vec<(String, String)> = match self {
            Readers::Sqlite(r) => {
                let ids = serde_json::to_string(&ids)?;
                sqlx::query_as(RUN_OUTCOMES)
                    .bind(user.0)
                    .bind(ids)
                    .fetch_all(&r.pool)
                    .await
                    .map_err(StoreError::Sqlx)?
            }
            Readers::Postgres(r) => sqlx::query_as(RUN_OUTCOMES_PG)
                .bind(user.0)
                .bind(&ids)
                .fetch_all(&r.pool)
                .await
                .map_err(|e| StoreError::from_pg(e, ""))?,
        };
        Ok(rows
            .into_iter()
            .filter_map(|(id, outcome)| Some((RunId::parse(&id)?, outcome)))
            .collect())
    }

    /// Every pause and resume of a schedule, oldest first.
    pub async fn schedule_switches(&self) -> Result<Vec<Switch>, StoreError> {
        let rows: Vec<(i64, String, i64, String)> = match self {
            Readers::Sqlite(r) => sqlx::query(SWITCHES)
                .fetch_all(&r.pool)
                .await
                .map_err(StoreError::Sqlx)?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get(0)?,
                        row.try_get(1)?,
                        row.try_get(2)?,
                        row.try_get(3)?,
                    ))
                })
                .collect::<Result<Vec<(i64, String, i64, String)>, sqlx::Error>>()
                .map_err(StoreError::Sqlx)?
                .into_iter()
                .map(|(user, kind, version, data)| {
                    let data = restore(&kind, None, &data).into_owned();
                    (user, kind, version, data)
                })
                .collect(),
            Readers::Postgres(r) => sqlx::query(SWITCHES_PG)
                .fetch_all(&r.pool)
                .await
                .map_err(|e| StoreError::from_pg(e, ""))?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get(0)?,
                        row.try_get(1)?,
                        row.try_get(2)?,
                        row.try_get(3)?,
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(|e| StoreError::from_pg(e, ""))?,
        };
        let mut out = Vec::with_capacity(rows.len());
        for (user, kind, version, data) in rows {
            let (name, paused) = match decode(&kind, version, &data)? {
                Event::SchedulePaused { name, .. } => (name, true),
                Event::ScheduleResumed { name, .. } => (name, false),
                _ => continue,
            };
            out.push(Switch {
                user: UserId(user),
                name,
                paused,
            });
        }
        Ok(out)
    }
}

/// The schedule and the record of a tick event.
fn last_tick_of(event: Event) -> Option<(ScriptName, LastTick)> {
    match event {
        Event::ScheduleTicked {
            name,
            tick,
            run,
            skipped,
            missed,
            ..
        } => Some((
            name,
            LastTick {
                tick,
                run,
                skipped,
                missed,
            },
        )),
        _ => None,
    }
}

/// SQLite's tick records in their full form (tick streams are no run's;
/// see [`super::compact`]). PostgreSQL stores the full form already.
fn restored(rows: Vec<(String, i64, String)>) -> Vec<(String, i64, String)> {
    rows.into_iter()
        .map(|(kind, version, data)| {
            let data = restore(&kind, None, &data).into_owned();
            (kind, version, data)
        })
        .collect()
}
