//! The wait before a next attempt, for run retries (`-R`, `-B`) and
//! hook deliveries: `base × 2^(attempt−1)`, times a jitter factor in
//! [0.8, 1.2] so that runs failing together do not retry together,
//! capped. Pure: the caller draws the jitter, so tests need no randomness.

use std::time::Duration;

/// How far the jitter may move a wait, each way.
pub const JITTER: f64 = 0.2;

/// The wait before retry number `attempt` (1 = the first retry).
/// `jitter` is drawn uniformly from [-1, 1] by the caller; values outside
/// are clamped.
pub fn delay(base: Duration, attempt: u32, jitter: f64, cap: Duration) -> Duration {
    let exponent = attempt.saturating_sub(1).min(63);
    let factor = 1.0 + JITTER * jitter.clamp(-1.0, 1.0);
    let secs = base.as_secs_f64() * 2f64.powi(exponent as i32) * factor;
    if secs.is_finite() && secs < cap.as_secs_f64() {
        Duration::from_secs_f64(secs.max(0.0))
    } else {
        cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn doubles_from_the_base_and_stops_at_the_cap() {
        let base = Duration::from_secs(10);
        let waits: Vec<u64> = (1..=10)
            .map(|k| delay(base, k, 0.0, HOUR).as_secs())
            .collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
        assert_eq!(delay(base, u32::MAX, 1.0, HOUR), HOUR, "no overflow");
    }

    #[test]
    fn jitter_moves_a_wait_by_at_most_a_fifth() {
        let base = Duration::from_secs(10);
        assert_eq!(delay(base, 2, -1.0, HOUR), Duration::from_secs(16));
        assert_eq!(delay(base, 2, 1.0, HOUR), Duration::from_secs(24));
        assert_eq!(
            delay(base, 2, 7.0, HOUR),
            Duration::from_secs(24),
            "clamped"
        );
        assert_eq!(
            delay(base, 1, f64::NAN, HOUR),
            HOUR,
            "a broken draw waits the most"
        );
    }
}
