//! The two durations of a hook's flood control, set by the operator:
//! the fold window (`hooks_fold_window_secs`: at most one delivery per
//! hook and script in that time, what comes meanwhile is folded into the
//! next) and the give-up time (`hooks_give_up_after_secs`: a delivery
//! still failing that long after it was written is given up and its
//! hook paused). Every node of a cluster should use the same values.

use std::time::Duration;

/// The fold window when none is set: xcron's one message a minute.
pub const FOLD_WINDOW: Duration = Duration::from_secs(60);
/// The give-up time when none is set: a day.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Neither may be shorter: a shorter window is no flood limit, and a
/// shorter give-up would pause a hook on one slow answer.
pub const MIN: Duration = Duration::from_secs(1);

/// A hook's flood control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HookLimits {
    pub fold_window: Duration,
    pub give_up_after: Duration,
}

impl Default for HookLimits {
    fn default() -> Self {
        HookLimits {
            fold_window: FOLD_WINDOW,
            give_up_after: GIVE_UP_AFTER,
        }
    }
}

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a number of seconds, at least 1")]
pub struct TooShort;

/// A duration from a config value in seconds, at least [`MIN`].
pub fn seconds(value: f64) -> Result<Duration, TooShort> {
    match Duration::try_from_secs_f64(value) {
        Ok(d) if d >= MIN => Ok(d),
        _ => Err(TooShort),
    }
}

/// A duration as a person reads it in a reason: "24 h", "90 min", "5 s".
pub fn spoken(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_below_a_second_are_refused_and_durations_are_spoken_whole() {
        assert_eq!(seconds(2.5), Ok(Duration::from_millis(2500)));
        for bad in [0.0, 0.5, -3.0, f64::NAN, f64::INFINITY] {
            assert_eq!(seconds(bad), Err(TooShort), "{bad}");
        }
        let cases = [
            (86_400, "24 h"),
            (5400, "90 min"),
            (60, "1 min"),
            (5, "5 s"),
            (61, "61 s"),
        ];
        for (secs, want) in cases {
            assert_eq!(spoken(Duration::from_secs(secs)), want, "{secs}");
        }
    }
}
