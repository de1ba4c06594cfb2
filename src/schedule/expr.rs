//! A cron expression read in a time zone: parsing (croner), the zone
//! database (chrono-tz) and the next due instants as UNIX seconds.
//!
//! Daylight saving follows croner's rules (those of the Open Cron Pattern
//! Specification): a wall-clock time in a skipped hour runs once, at the
//! first valid instant after it; a fixed wall-clock time in a repeated
//! hour runs once, in its first pass; interval patterns (`*/5` in the
//! seconds, minutes or hours) follow real time through both.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

/// Why an expression or a zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("bad cron expression '{expr}': {why}")]
    Expression { expr: String, why: String },
    #[error("unknown time zone '{0}' (an IANA name such as Europe/Berlin)")]
    Zone(String),
    #[error("cron expression '{0}' never matches")]
    Never(String),
}

/// A parsed `-c=CRON` in its zone. Cloning shares it: croner's pattern
/// keeps a byte per possible value of each field, years 1 to 5000
/// included (about 5 KiB), so a schedule keeps a [`super::Pattern`] and
/// the parses in use are shared in a bounded [`super::Parses`].
#[derive(Debug, Clone)]
pub struct Cron(Arc<Parsed>);

#[derive(Debug)]
struct Parsed {
    expr: String,
    zone: Tz,
    cron: croner::Cron,
}

/// Five fields, or six with leading seconds; no year field (croner would
/// take a seventh), aliases such as `@daily` allowed.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

impl Cron {
    /// Parses `expr` read in the IANA zone `zone`.
    pub fn parse(expr: &str, zone: &str) -> Result<Cron, CronError> {
        let zone = Tz::from_str(zone).map_err(|_| CronError::Zone(zone.to_owned()))?;
        let bad = |why: String| CronError::Expression {
            expr: expr.to_owned(),
            why,
        };
        if expr.trim().is_empty() {
            return Err(bad("empty".to_owned()));
        }
        let fields = expr.split_whitespace().count();
        if !expr.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
            return Err(bad(format!("{fields} fields (5, or 6 with seconds)")));
        }
        let cron = parser().parse(expr).map_err(|e| bad(e.to_string()))?;
        let parsed = Cron(Arc::new(Parsed {
            expr: expr.to_owned(),
            zone,
            cron,
        }));
        // A pattern such as `0 0 30 2 *` parses but never comes.
        if parsed.next_after(0).is_none() {
            return Err(CronError::Never(expr.to_owned()));
        }
        Ok(parsed)
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.0.expr
    }

    /// The IANA name of its zone.
    pub fn zone(&self) -> &'static str {
        self.0.zone.name()
    }

    /// The first due instant strictly after `after` (UNIX seconds).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start: DateTime<Tz> = self.0.zone.timestamp_opt(after, 0).single()?;
        self.0
            .cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|t| t.timestamp())
    }

    /// The latest due instant at or before `until`.
    pub fn latest_until(&self, until: i64) -> Option<i64> {
        let start: DateTime<Tz> = self.0.zone.timestamp_opt(until, 0).single()?;
        self.0
            .cron
            .find_previous_occurrence(&start, true)
            .ok()
            .map(|t| t.timestamp())
    }

    /// The next `n` due instants after `after`.
    pub fn upcoming(&self, after: i64, n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    /// The due instants in `(after, until]`, at most `cap` of them (the
    /// earliest), and how many there are in all.
    pub fn due_between(&self, after: i64, until: i64, cap: usize) -> (Vec<i64>, u64) {
        let (mut out, mut count, mut t) = (Vec::new(), 0u64, after);
        while let Some(next) = self.next_after(t).filter(|n| *n <= until) {
            if out.len() < cap {
                out.push(next);
            }
            count += 1;
            t = next;
        }
        (out, count)
    }

    /// The schedule in English words, as croner describes it.
    pub fn describe(&self) -> String {
        self.0.cron.describe()
    }
}
