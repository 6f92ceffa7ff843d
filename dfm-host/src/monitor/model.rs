//! What the monitor knows: built from the daemon's `monitor.snapshot` and
//! the events that follow it. No I/O, no clock of its own: times come in.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How many finished tasks the model keeps.
pub const RECENT_CAPACITY: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct RunningTask {
    pub request_id: String,
    pub name: String,
    pub worker_id: String,
    pub hostname: String,
    pub since: Instant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    pub name: String,
    /// The exit status; `None` when dfm ended it (cancelled, worker lost...).
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration: Option<Duration>,
}

impl Completed {
    pub fn passed(&self) -> bool {
        self.status == Some(0)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub workers_total: u64,
    pub workers_busy: u64,
    pub workers_idle: u64,
    pub workers_pending: u64,
    pub queued: u64,
    pub running: u64,
    pub completed: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub pid: u64,
    pub runner: String,
    pub pool_size: u64,
    /// When the daemon started, on our clock.
    pub started: Instant,
    pub running: BTreeMap<String, RunningTask>,
    /// Most recent first.
    pub recent: VecDeque<Completed>,
    pub stats: Stats,
    /// First row of the running table on screen.
    pub scroll: usize,
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_string()
}

fn number(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or_default()
}

fn completed(params: &Value) -> Completed {
    Completed {
        name: text(params, "name"),
        status: params["status"].as_i64(),
        error: params["error"].as_str().map(str::to_string),
        duration: params["duration_secs"]
            .as_f64()
            .and_then(|s| Duration::try_from_secs_f64(s).ok()),
    }
}

fn ago(now: Instant, secs: f64) -> Instant {
    let secs = if secs.is_finite() && secs > 0.0 {
        secs
    } else {
        0.0
    };
    now.checked_sub(Duration::from_secs_f64(secs))
        .unwrap_or(now)
}

impl Model {
    pub fn new(now: Instant) -> Model {
        Model {
            pid: 0,
            runner: String::new(),
            pool_size: 0,
            started: now,
            running: BTreeMap::new(),
            recent: VecDeque::new(),
            stats: Stats::default(),
            scroll: 0,
        }
    }

    /// Applies one event from the daemon.
    pub fn apply(&mut self, method: &str, params: &Value, now: Instant) {
        match method {
            "monitor.snapshot" => self.snapshot(params, now),
            "task.dispatched" => {
                let task = RunningTask {
                    request_id: text(params, "request_id"),
                    name: text(params, "name"),
                    worker_id: text(params, "worker_id"),
                    hostname: text(params, "hostname"),
                    since: now,
                };
                self.running.insert(task.request_id.clone(), task);
            }
            "task.completed" => {
                let was_running = self.running.remove(&text(params, "request_id"));
                let mut done = completed(params);
                if done.name.is_empty() {
                    done.name = was_running.map(|t| t.name).unwrap_or_default();
                }
                self.recent.push_front(done);
                self.recent.truncate(RECENT_CAPACITY);
            }
            "pool.stats" => {
                let workers = &params["workers"];
                self.stats = Stats {
                    workers_total: number(workers, "total"),
                    workers_busy: number(workers, "busy"),
                    workers_idle: number(workers, "idle"),
                    workers_pending: number(workers, "pending"),
                    queued: number(params, "queued"),
                    running: number(params, "running"),
                    completed: number(params, "completed"),
                    failed: number(params, "failed"),
                };
            }
            _ => {}
        }
        self.scroll = self.scroll.min(self.running.len().saturating_sub(1));
    }

    fn snapshot(&mut self, params: &Value, now: Instant) {
        let status = &params["status"];
        self.pid = number(status, "pid");
        self.runner = text(status, "runner");
        self.pool_size = number(status, "pool_size");
        self.started = ago(now, status["uptime_secs"].as_f64().unwrap_or(0.0));
        let counts = &status["counts"];
        self.stats = Stats {
            workers_total: number(counts, "total"),
            workers_busy: number(counts, "busy"),
            workers_idle: number(counts, "idle"),
            workers_pending: number(counts, "pending"),
            queued: number(status, "pending_tasks"),
            running: number(status, "running_tasks"),
            completed: number(status, "completed_tasks"),
            failed: number(status, "failed_tasks"),
        };
        self.running = params["running"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|task| {
                let running = RunningTask {
                    request_id: text(task, "request_id"),
                    name: text(task, "name"),
                    worker_id: text(task, "worker_id"),
                    hostname: text(task, "hostname"),
                    since: ago(now, task["elapsed_secs"].as_f64().unwrap_or(0.0)),
                };
                (running.request_id.clone(), running)
            })
            .collect();
        self.recent = params["recent"]
            .as_array()
            .into_iter()
            .flatten()
            .map(completed)
            .collect();
    }

    /// Running tasks, longest-running first.
    pub fn running_rows(&self) -> Vec<&RunningTask> {
        let mut rows: Vec<&RunningTask> = self.running.values().collect();
        rows.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.name.cmp(&b.name)));
        rows
    }

    /// Moves the running table by `delta` rows; `visible` is how many fit.
    pub fn scroll_by(&mut self, delta: isize, visible: usize) {
        let target = self.scroll.saturating_add_signed(delta);
        self.scroll = target;
        self.clamp_scroll(visible);
    }

    fn clamp_scroll(&mut self, visible: usize) {
        let visible = visible.max(1);
        let max = self
            .running
            .len()
            .saturating_sub(visible.min(self.running.len()));
        self.scroll = self.scroll.min(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snapshot_then_events() {
        let t0 = Instant::now() + Duration::from_secs(10_000);
        let mut model = Model::new(t0);
        model.apply(
            "monitor.snapshot",
            &json!({
                "status": {"pid": 42, "runner": "local", "pool_size": 4, "uptime_secs": 65.0,
                           "pending_tasks": 3, "running_tasks": 1, "completed_tasks": 7, "failed_tasks": 1,
                           "counts": {"total": 2, "busy": 1, "idle": 1, "pending": 0}},
                "running": [{"request_id": "r1", "name": "p.a", "worker_id": "w1", "hostname": "h1", "elapsed_secs": 5.0}],
                "recent": [{"request_id": "r0", "name": "p.first", "status": 0, "duration_secs": 1.5}]
            }),
            t0,
        );
        assert_eq!(
            (model.pid, model.runner.as_str(), model.pool_size),
            (42, "local", 4)
        );
        assert_eq!(t0 - model.started, Duration::from_secs(65));
        assert_eq!(model.stats.completed, 7);
        assert_eq!(model.running["r1"].since, t0 - Duration::from_secs(5));
        assert_eq!(model.recent[0].name, "p.first");
        assert!(model.recent[0].passed());

        let t1 = t0 + Duration::from_secs(1);
        model.apply(
            "task.dispatched",
            &json!({"request_id": "r2", "name": "p.b", "worker_id": "w2", "hostname": "h2"}),
            t1,
        );
        let names: Vec<&str> = model
            .running_rows()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["p.a", "p.b"]);

        model.apply(
            "task.completed",
            &json!({"request_id": "r1", "name": "p.a", "status": 3, "duration_secs": 6.0}),
            t1,
        );
        model.apply(
            "task.completed",
            &json!({"request_id": "r9", "name": "p.z", "status": null, "error": "cancelled"}),
            t1,
        );
        assert_eq!(model.running.len(), 1);
        assert_eq!(model.recent[0].error.as_deref(), Some("cancelled"));
        assert_eq!(model.recent[1].status, Some(3));
        assert!(!model.recent[1].passed());
        assert_eq!(model.recent.len(), 3);

        model.apply(
            "pool.stats",
            &json!({"workers": {"total": 3, "busy": 1, "idle": 1, "pending": 1}, "queued": 9,
                    "running": 1, "completed": 8, "failed": 2}),
            t1,
        );
        assert_eq!(model.stats.workers_pending, 1);
        assert_eq!(model.stats.queued, 9);
    }

    #[test]
    fn scrolling_stays_within_the_rows() {
        let t0 = Instant::now();
        let mut model = Model::new(t0);
        for i in 0..10 {
            model.apply(
                "task.dispatched",
                &json!({"request_id": format!("r{i}"), "name": format!("t{i}")}),
                t0,
            );
        }
        model.scroll_by(3, 4);
        assert_eq!(model.scroll, 3);
        model.scroll_by(100, 4);
        assert_eq!(model.scroll, 6);
        model.scroll_by(-100, 4);
        assert_eq!(model.scroll, 0);
    }
}
