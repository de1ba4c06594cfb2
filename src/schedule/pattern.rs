//! What a schedule keeps between ticks: its expression and zone
//! ([`Pattern`], 24 bytes, the text shared by the schedules of one
//! exectab written alike), not croner's parse of it. A parse keeps a
//! byte per possible value of each field, years 1 to 5000 included
//! (about 5 KiB): 100,000 schedules with distinct expressions held
//! 500 MB of them. The parses of the patterns in use live in a bounded
//! cache ([`Parses`]) instead, made again when one comes back.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono_tz::Tz;

use super::expr::{Cron, CronError};

/// An expression known to parse, and its zone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    expr: Arc<str>,
    zone: Tz,
}

impl Pattern {
    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The IANA name of its zone.
    pub fn zone(&self) -> &'static str {
        self.zone.name()
    }
}

/// Patterns checked so far (by expression and zone as written), so that
/// lines written alike share one text and are parsed once.
#[derive(Debug, Default)]
pub struct Patterns {
    seen: HashMap<(String, String), Result<Pattern, CronError>>,
}

impl Patterns {
    /// `expr` in the IANA zone `zone`, checked (it parses, and comes).
    pub fn check(&mut self, expr: &str, zone: &str) -> Result<Pattern, CronError> {
        self.seen
            .entry((expr.to_owned(), zone.to_owned()))
            .or_insert_with(|| {
                // The parse checks it and is dropped (see the module's doc).
                let cron = Cron::parse(expr, zone)?;
                Ok(Pattern {
                    expr: Arc::from(cron.expr()),
                    zone: Tz::from_str(cron.zone())
                        .map_err(|_| CronError::Zone(zone.to_owned()))?,
                })
            })
            .clone()
    }

    /// `expr` in `zone`, where a parse of the exectab checked it in that
    /// very zone already: only the text is shared, no second croner parse
    /// (a file of 100,000 distinct expressions made 100,000 more).
    pub fn share(&mut self, expr: &str, zone: &str) -> Result<Pattern, CronError> {
        self.seen
            .entry((expr.to_owned(), zone.to_owned()))
            .or_insert_with(|| {
                Ok(Pattern {
                    expr: Arc::from(expr),
                    zone: Tz::from_str(zone).map_err(|_| CronError::Zone(zone.to_owned()))?,
                })
            })
            .clone()
    }
}

/// How many parses [`Parses`] keeps: at most about 5 MiB.
pub const PARSES_KEPT: usize = 1024;

/// How many next instants [`Parses`] remembers before it forgets them all.
const NEXTS_KEPT: usize = 4096;

/// Croner's parses of the patterns used lately, at most [`PARSES_KEPT`],
/// and the next instants worked out lately, at most [`NEXTS_KEPT`]: a
/// next instant depends only on the pattern and the second it is sought
/// after, so the schedules of one pattern that tick at one second (or
/// are taken up at one second) share one search.
#[derive(Debug, Default)]
pub struct Parses {
    kept: HashMap<Pattern, Cron>,
    nexts: HashMap<(Pattern, i64), Option<i64>>,
    /// How many searches croner made (the memo's misses).
    searches: u64,
}

impl Parses {
    /// The parse of `pattern`, made now if it is not kept. `None` only if
    /// it no longer parses (a zone database changed under a running
    /// server cannot happen; the check made it parse once).
    pub fn get(&mut self, pattern: &Pattern) -> Option<Cron> {
        if let Some(cron) = self.kept.get(pattern) {
            return Some(cron.clone());
        }
        let cron = Cron::parse(pattern.expr(), pattern.zone()).ok()?;
        if self.kept.len() >= PARSES_KEPT {
            // Any one goes: the ones in use come back at their next tick.
            if let Some(old) = self.kept.keys().next().cloned() {
                self.kept.remove(&old);
            }
        }
        self.kept.insert(pattern.clone(), cron.clone());
        Some(cron)
    }

    /// The first due instant of `pattern` strictly after `after`, as
    /// [`Cron::next_after`], searched once per pattern and second.
    pub fn next_after(&mut self, pattern: &Pattern, after: i64) -> Option<i64> {
        let key = (pattern.clone(), after);
        if let Some(next) = self.nexts.get(&key) {
            return *next;
        }
        let next = self.get(pattern)?.next_after(after);
        self.searches += 1;
        if self.nexts.len() >= NEXTS_KEPT {
            // All go at once: the ones in use come back at their next tick.
            self.nexts.clear();
        }
        self.nexts.insert(key, next);
        next
    }

    /// How many searches for a next instant were made (not remembered).
    pub fn searches(&self) -> u64 {
        self.searches
    }

    /// How many parses are kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_written_alike_share_one_text_and_bad_ones_say_why() {
        let mut patterns = Patterns::default();
        let a = patterns.check("*/5 * * * *", "UTC").expect("parses");
        let b = patterns.check("*/5 * * * *", "UTC").expect("parses");
        assert!(Arc::ptr_eq(&a.expr, &b.expr), "one text");
        let berlin = patterns
            .check("*/5 * * * *", "Europe/Berlin")
            .expect("parses");
        assert_ne!(a, berlin, "the zone is part of it");
        assert_eq!(berlin.zone(), "Europe/Berlin");
        assert!(matches!(
            patterns.check("* * * * *", "Nowhere"),
            Err(CronError::Zone(_))
        ));
        assert!(patterns.check("61 * * * *", "UTC").is_err());
    }

    #[test]
    fn parses_are_kept_up_to_the_bound_and_made_again_after() {
        let mut patterns = Patterns::default();
        let mut parses = Parses::default();
        let all: Vec<Pattern> = (0..PARSES_KEPT + 10)
            .map(|i| {
                let expr = format!("{} {} * * *", i % 60, (i / 60) % 24);
                patterns.check(&expr, "UTC")
            })
            .collect::<Result<_, _>>()
            .expect("all parse");
        for pattern in &all {
            let cron = parses.get(pattern).expect("a parse");
            assert_eq!(cron.expr(), pattern.expr());
        }
        assert_eq!(parses.len(), PARSES_KEPT, "bounded");
        let first = parses.get(&all[0]).expect("made again");
        assert_eq!(first.expr(), all[0].expr());
        assert_eq!(first.next_after(0), Some(86_400), "00:00 of the next day");
    }

    #[test]
    fn one_search_per_pattern_and_second_and_text_shared_without_a_parse() {
        let mut patterns = Patterns::default();
        let daily = patterns.share("0 0 * * *", "UTC").expect("a zone");
        let again = patterns.share("0 0 * * *", "UTC").expect("a zone");
        assert!(Arc::ptr_eq(&daily.expr, &again.expr), "one text");
        assert!(matches!(
            patterns.share("0 0 * * *", "Nowhere"),
            Err(CronError::Zone(_))
        ));
        let hourly = patterns.check("0 * * * *", "UTC").expect("parses");
        let mut parses = Parses::default();
        for _ in 0..1000 {
            assert_eq!(parses.next_after(&daily, 10), Some(86_400));
            assert_eq!(parses.next_after(&hourly, 10), Some(3_600));
        }
        assert_eq!(parses.searches(), 2, "one per pattern at one second");
        assert_eq!(parses.next_after(&daily, 86_400), Some(2 * 86_400));
        assert_eq!(parses.searches(), 3, "another second, another search");
        for after in 0..(NEXTS_KEPT as i64 + 10) {
            let want = Some((after / 3_600 + 1) * 3_600);
            assert_eq!(
                parses.next_after(&hourly, after),
                want,
                "bounded, still right"
            );
        }
        assert!(parses.nexts.len() <= NEXTS_KEPT, "bounded");
    }
}
