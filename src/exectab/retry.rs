//! `-R=N` and `-B=SECONDS`: how often a failed run is tried again, and
//! how long it waits before each next attempt. The wait's formula is
//! `hook::backoff::delay`'s (shared with webhook deliveries); this file
//! only fixes a run's bounds and the range of the options.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::hook::backoff;

/// Most retries `-R` may ask for.
pub const MAX_RETRIES: u32 = 100;
/// `-B` when absent: seconds before the first retry.
pub const DEFAULT_BASE: u64 = 10;
/// Longest wait before any attempt, and the largest `-B`.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// A script's retries, fixed in each run's spec when it is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// `-R`: attempts after the first, at most.
    pub retries: u32,
    /// `-B`: the wait before the first retry, in seconds.
    pub base: u64,
}

impl RetryPolicy {
    /// How many attempts a run may make in all.
    pub fn attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    /// The wait after attempt `ended` (1-based) ended, before the next:
    /// `base × 2^(ended−1)`, moved by `jitter` (drawn from [−1, 1]) by up
    /// to 20 %, at most [`MAX_WAIT`].
    pub fn wait(&self, ended: u32, jitter: f64) -> Duration {
        backoff::delay(Duration::from_secs(self.base), ended, jitter, MAX_WAIT)
    }
}

/// Parses `-R`'s value: retries from 0 to [`MAX_RETRIES`].
pub(super) fn parse_retries(v: &str) -> Result<u32, String> {
    match super::line::parse_number::<u32>(v) {
        Some(n) if n <= MAX_RETRIES => Ok(n),
        _ => Err(format!(
            "-R={v} is not a number of retries from 0 to {MAX_RETRIES}"
        )),
    }
}

/// Parses `-B`'s value: seconds from 1 to an hour.
pub(super) fn parse_base(v: &str) -> Result<u64, String> {
    match super::line::parse_number::<u64>(v) {
        Some(n) if (1..=MAX_WAIT.as_secs()).contains(&n) => Ok(n),
        _ => Err(format!(
            "-B={v} is not a backoff base from 1 to {} seconds",
            MAX_WAIT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wait_stays_within_a_fifth_of_the_doubling_and_under_an_hour() {
        let policy = RetryPolicy {
            retries: 100,
            base: 10,
        };
        for ended in 1..=100u32 {
            let nominal = (10.0 * 2f64.powi(ended as i32 - 1)).min(3600.0);
            for jitter in [-1.0, -0.5, 0.0, 0.5, 1.0] {
                let wait = policy.wait(ended, jitter).as_secs_f64();
                assert!(wait <= 3600.0, "attempt {ended}: {wait} over the cap");
                if nominal < 3600.0 / 1.2 {
                    assert!(
                        (nominal * 0.8 - 1e-9..=nominal * 1.2 + 1e-9).contains(&wait),
                        "attempt {ended} jitter {jitter}: {wait} not within 20 % of {nominal}"
                    );
                }
            }
        }
        assert_eq!(policy.wait(1, 0.0), Duration::from_secs(10));
        assert_eq!(policy.wait(2, 0.0), Duration::from_secs(20));
        assert_eq!(policy.wait(1, -1.0), Duration::from_secs(8));
        assert_eq!(policy.wait(1, 1.0), Duration::from_secs(12));
    }

    #[test]
    fn the_options_refuse_what_is_out_of_range() {
        let cases = [
            ("-R=0 is no retry", parse_retries("0"), Ok(0)),
            ("-R=100 is the most", parse_retries("100"), Ok(100)),
        ];
        for (what, got, want) in cases {
            assert_eq!(got, want, "{what}");
        }
        for bad in ["101", "-1", "", "x", "+2", "1.5"] {
            assert!(parse_retries(bad).is_err(), "-R={bad}");
        }
        assert_eq!(parse_base("1"), Ok(1));
        assert_eq!(parse_base("3600"), Ok(3600));
        for bad in ["0", "3601", "", "ten", "-5"] {
            assert!(parse_base(bad).is_err(), "-B={bad}");
        }
    }
}
