//! What the schedules read from the log, on either backend: a schedule's
//! latest tick record (found through the `events_one_tick` index, whose
//! streams sort by time) and the pauses and resumes of every schedule.
//! The tick records themselves are written like any event.

use sqlx::Row;

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
        let row: Option<(String, i64, String)> = match self {
            Readers::Sqlite(r) => sqlx::query_as(LAST_TICK)
                .bind(&prefix)
                .bind(&end)
                .fetch_optional(&r.pool)
                .await
                .map_err(StoreError::Sqlx)?,
            Readers::Postgres(r) => sqlx::query_as(LAST_TICK_PG)
                .bind(&prefix)
                .bind(&end)
                .fetch_optional(&r.pool)
                .await
                .map_err(|e| StoreError::from_pg(e, ""))?,
        };
        let Some((kind, version, data)) = row else {
            return Ok(None);
        };
        Ok(match decode(&kind, version, &data)? {
            Event::ScheduleTicked {
                tick,
                run,
                skipped,
                missed,
                ..
            } => Some(LastTick {
                tick,
                run,
                skipped,
                missed,
            }),
            _ => None,
        })
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
                .collect::<Result<_, sqlx::Error>>()
                .map_err(StoreError::Sqlx)?,
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
