//! Metrics for site dashboards: `runner.metrics_listen` serves
//! `GET /metrics` in the Prometheus text format (`server.rs`, `text.rs`).
//!
//! What the pool holds (workers, tasks, clients, licenses) is read from it
//! when a scrape comes; what happened over time is kept here as it
//! happens: histograms of queue wait, task duration and dispatch latency,
//! worker launches, and the runner's call latencies (recorded on the
//! blocking threads that make the calls, hence shared). Label values are
//! bounded: classes, states, clients connected, licenses, runner calls;
//! never task names.

pub mod server;
pub mod text;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::text::Histogram;

/// What happened over time, for the scrapes to come (the runner's call
/// times aside: [`RunnerCallTimes`]).
#[derive(Default)]
pub struct Recorder {
    pub queue_wait: Histogram,
    pub task_duration: Histogram,
    pub dispatch_latency: Histogram,
    pub workers_launched: u64,
    pub worker_launches_failed: u64,
}

/// How long each kind of runner call took (`launch`, `launch_array`,
/// `poll`, `terminate`), shared with the threads that make them.
#[derive(Clone, Default)]
pub struct RunnerCallTimes(Arc<Mutex<BTreeMap<&'static str, Histogram>>>);

impl RunnerCallTimes {
    pub fn observe(&self, call: &'static str, took: Duration) {
        if let Ok(mut times) = self.0.lock() {
            times.entry(call).or_default().observe_duration(took);
        }
    }

    /// A copy of them now.
    pub fn snapshot(&self) -> BTreeMap<&'static str, Histogram> {
        self.0.lock().map(|times| times.clone()).unwrap_or_default()
    }
}
