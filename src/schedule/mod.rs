//! Recurring schedules, the pure part: a script's `-c=CRON` read in its
//! `-z=ZONE` ([`Cron`]), its next due instants, and what a catch-up mode
//! makes of the ticks missed while no server ran ([`plan_missed`]). No
//! I/O and no clock of its own: every function takes "now" as an
//! argument, so DST and missed ticks are tested with a fake clock. The
//! timer that fires the ticks is `crate::actors::timer`.

mod catch_up;
mod expr;
mod pattern;
mod tick;

pub use catch_up::{plan_missed, CatchUp, MissedPlan, MAX_CATCH_UP_RUNS};
pub use expr::{Cron, CronError};
pub use pattern::{Parses, Pattern, Patterns, PARSES_KEPT};
pub use tick::{Missed, TickSkip};

#[cfg(test)]
mod tests;
