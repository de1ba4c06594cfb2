//! `-C=skip|once|all`: what to do with the ticks a schedule missed while
//! no server ran or it was paused. Every missed tick is recorded either
//! way; the plan says which ones start a run.

use std::fmt;
use std::str::FromStr;

/// The catch-up mode of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// Missed ticks start nothing (they are recorded as skipped).
    Skip,
    /// One run for all the missed ticks (the default).
    #[default]
    Once,
    /// One run per missed tick, up to [`MAX_CATCH_UP_RUNS`]; past that,
    /// one run for them all.
    All,
}

/// Runs `-C=all` starts for missed ticks at most; more missed ticks
/// start one run, as `-C=once` does.
pub const MAX_CATCH_UP_RUNS: usize = 100;

impl CatchUp {
    /// The mode's name in exectab and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::Once => "once",
            CatchUp::All => "all",
        }
    }
}

impl fmt::Display for CatchUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CatchUp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "skip" => Ok(CatchUp::Skip),
            "once" => Ok(CatchUp::Once),
            "all" => Ok(CatchUp::All),
            _ => Err(format!("-C={s} is not skip, once or all")),
        }
    }
}

/// What to record for a schedule's missed ticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissedPlan {
    /// One record, keyed by the first missed tick, stands for all of
    /// them (`super::Missed`); it starts one run if `run`.
    Summary {
        first: i64,
        last: i64,
        count: u64,
        run: bool,
    },
    /// Each missed tick starts a run of its own, oldest first.
    Each(Vec<i64>),
}

/// The plan for `count` missed ticks, of which `listed` are the earliest
/// (at least one, at most [`MAX_CATCH_UP_RUNS`] + 1) and `last` the
/// latest. `None` when nothing was missed.
pub fn plan_missed(mode: CatchUp, listed: &[i64], last: i64, count: u64) -> Option<MissedPlan> {
    let first = *listed.first()?;
    let summary = |run| MissedPlan::Summary {
        first,
        last,
        count,
        run,
    };
    Some(match mode {
        CatchUp::Skip => summary(false),
        CatchUp::Once => summary(true),
        CatchUp::All if count as usize <= MAX_CATCH_UP_RUNS && listed.len() as u64 == count => {
            MissedPlan::Each(listed.to_vec())
        }
        CatchUp::All => summary(true),
    })
}
