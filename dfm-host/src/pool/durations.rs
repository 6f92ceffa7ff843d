//! How long tasks take, learned from their runs: the expected duration of a
//! task without a `walltime` tag is a high percentile of the recent
//! durations of tasks of the same name in this project. The daemon keeps
//! them in `.dfm/` across restarts ([`Durations::to_json`],
//! [`Durations::from_json`]); the pool only reads and records.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Runs remembered per task name.
const KEPT: usize = 20;

/// Task names remembered at most; runs of others are not learned from.
const NAMES: usize = 100_000;

/// Which of the recent durations a task is expected to take: the 90th
/// percentile, so that one slow run in ten may overrun.
const PERCENTILE: f64 = 0.9;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Durations {
    /// Seconds of the last runs, oldest first, by task name.
    by_name: BTreeMap<String, VecDeque<f64>>,
    #[serde(skip)]
    changed: bool,
}

impl Durations {
    /// What `name` is expected to take, if it has run before.
    pub fn expected(&self, name: &str) -> Option<Duration> {
        let runs = self.by_name.get(name)?;
        let mut sorted: Vec<f64> = runs.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let at = ((sorted.len() as f64 * PERCENTILE).ceil() as usize).clamp(1, sorted.len());
        Duration::try_from_secs_f64(sorted[at - 1]).ok()
    }

    /// A run of `name` that took `took`.
    pub fn record(&mut self, name: &str, took: Duration) {
        if !self.by_name.contains_key(name) && self.by_name.len() >= NAMES {
            return;
        }
        let runs = self.by_name.entry(name.to_string()).or_default();
        if runs.len() == KEPT {
            runs.pop_front();
        }
        runs.push_back(took.as_secs_f64());
        self.changed = true;
    }

    /// `name` ran for `ran` without finishing (its job reached its run
    /// limit): from now on it is expected to take at least half as long
    /// again, whatever its earlier runs took.
    pub fn raise(&mut self, name: &str, ran: Duration) {
        let floor = ran.mul_f64(1.5);
        if self.expected(name).is_some_and(|known| known >= floor) {
            return;
        }
        if let Some(runs) = self.by_name.get_mut(name) {
            for run in runs.iter_mut() {
                *run = run.max(floor.as_secs_f64());
            }
            self.changed = true;
        } else {
            self.record(name, floor);
        }
    }

    /// Whether anything was learned since the last [`Durations::saved`].
    pub fn changed(&self) -> bool {
        self.changed
    }

    pub fn saved(&mut self) {
        self.changed = false;
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// What [`Durations::to_json`] wrote; only finite, non-negative
    /// durations are kept.
    pub fn from_json(text: &str) -> Result<Durations, serde_json::Error> {
        let mut durations: Durations = serde_json::from_str(text)?;
        for runs in durations.by_name.values_mut() {
            runs.retain(|secs| secs.is_finite() && *secs >= 0.0);
            while runs.len() > KEPT {
                runs.pop_front();
            }
        }
        durations.by_name.retain(|_, runs| !runs.is_empty());
        Ok(durations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_task_is_expected_to_take_a_high_percentile_of_its_recent_runs() {
        let mut d = Durations::default();
        assert_eq!(d.expected("sim"), None);
        d.record("sim", secs(10.0));
        assert_eq!(d.expected("sim"), Some(secs(10.0)));
        for s in 1..=9 {
            d.record("sim", secs(s as f64));
        }
        // Ten runs: 1..9 and 10; the 90th percentile is the 9th.
        assert_eq!(d.expected("sim"), Some(secs(9.0)));
        // Only the last 20 count: a slow past is forgotten.
        for _ in 0..KEPT {
            d.record("sim", secs(2.0));
        }
        assert_eq!(d.expected("sim"), Some(secs(2.0)));
        assert_eq!(d.expected("other"), None);
    }

    #[test]
    fn a_run_cut_off_at_its_run_limit_raises_the_estimate() {
        let mut d = Durations::default();
        d.record("long", secs(100.0));
        d.raise("long", secs(600.0));
        assert_eq!(d.expected("long"), Some(secs(900.0)));
        d.raise("new", secs(60.0));
        assert_eq!(d.expected("new"), Some(secs(90.0)));
        // Already expected to take longer: unchanged.
        d.raise("long", secs(10.0));
        assert_eq!(d.expected("long"), Some(secs(900.0)));
    }

    #[test]
    fn durations_survive_a_round_trip_and_bad_values_are_dropped() {
        let mut d = Durations::default();
        d.record("a", secs(1.5));
        assert!(d.changed());
        let back = Durations::from_json(&d.to_json()).expect("round trip");
        assert_eq!(back.expected("a"), Some(secs(1.5)));
        assert!(!back.changed());
        let odd = Durations::from_json(r#"{"a": [-1, 3.0], "b": []}"#).expect("parse");
        assert_eq!(odd.expected("a"), Some(secs(3.0)));
        assert_eq!(odd.expected("b"), None);
        assert!(Durations::from_json("[1]").is_err());
    }
}
