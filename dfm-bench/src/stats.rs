//! Summaries of repeated measurements, and ratios against the limit
//! measured around each.

use std::time::Duration;

pub(crate) struct Latency {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

pub(crate) fn percentiles(mut samples: Vec<Duration>) -> Latency {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Latency {
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Runs `run` `repeat` times, each between two measurements of `limit`
/// (the one after a run is the one before the next). Returns each run's
/// figure, and its ratio to the mean of the limits on either side of it:
/// this machine's speed drifts, and a limit taken on both sides of a run
/// follows the drift better than one taken before it only.
pub(crate) fn between_limits(
    repeat: usize,
    mut limit: impl FnMut() -> f64,
    mut run: impl FnMut() -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut before = limit();
    let mut runs = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..repeat {
        let figure = run();
        let after = limit();
        ratios.push(figure / ((before + after) / 2.0));
        runs.push(figure);
        before = after;
    }
    (runs, ratios)
}

pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The smallest and largest of some values.
pub(crate) fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)))
}

pub(crate) fn rate(values: &[f64]) -> String {
    let (min, max) = min_max(values);
    format!("{:.0} tasks/s [{min:.0}-{max:.0}]", median(values))
}

/// The median of some ratios, with their range.
pub(crate) fn ratio(values: &[f64]) -> String {
    let (min, max) = min_max(values);
    format!("{:.2} [{min:.2}-{max:.2}]", median(values))
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn ms_range(values: &[Duration]) -> String {
    let secs: Vec<f64> = values.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    let (min, max) = min_max(&secs);
    format!("{:.2} ms [{min:.2}-{max:.2}]", median(&secs))
}
