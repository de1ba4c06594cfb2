//! Wall-clock time as the wire shows it: UNIX seconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as float UNIX seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Now, as whole UNIX seconds.
pub fn now_secs() -> i64 {
    now().floor() as i64
}
