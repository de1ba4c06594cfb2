//! Percentiles of latency samples.

/// The `p`-th percentile (0..=100) of `samples`, sorted in place; 0 if empty.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

/// "p50 X ms, p99 Y ms, max Z ms (n samples)" for samples in seconds.
pub fn summary(samples: &mut [f64]) -> String {
    let p50 = percentile(samples, 50.0) * 1e3;
    let p99 = percentile(samples, 99.0) * 1e3;
    let max = samples.last().copied().unwrap_or(0.0) * 1e3;
    format!(
        "p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms (n={})",
        samples.len()
    )
}
