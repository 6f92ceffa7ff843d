//! What the monitor knows: built from the daemon's `monitor.snapshot` and
//! the events that follow it. No I/O, no clock of its own: times come in.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use dfm_wire::{ClientStatus, Completion, LicenseStatus, MonitorEvent, PoolCounts};

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

/// A finished task, as the view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    pub name: String,
    /// The exit status; `None` when dfm ended it (cancelled, worker lost...).
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration: Option<Duration>,
}

impl Completed {
    pub fn passed(&self) -> bool {
        self.status == Some(0)
    }
}

impl From<Completion> for Completed {
    fn from(done: Completion) -> Completed {
        Completed {
            name: done.name,
            status: done.status,
            error: done.error,
            duration: done
                .duration_secs
                .and_then(|s| Duration::try_from_secs_f64(s).ok()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub pid: u32,
    pub runner: String,
    pub pool_size: usize,
    /// When the daemon started, on our clock.
    pub started: Instant,
    pub running: BTreeMap<String, RunningTask>,
    /// Most recent first.
    pub recent: VecDeque<Completed>,
    pub stats: PoolCounts,
    /// What each client has in the pool.
    pub clients: Vec<ClientStatus>,
    /// The licenses the daemon schedules.
    pub licenses: Vec<LicenseStatus>,
    /// First row of the running table on screen.
    pub scroll: usize,
    /// Since when the daemon has not answered, if it does not now.
    pub silent_since: Option<Instant>,
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
            stats: PoolCounts::default(),
            clients: Vec::new(),
            licenses: Vec::new(),
            scroll: 0,
            silent_since: None,
        }
    }

    /// Applies one event from the daemon.
    pub fn apply(&mut self, event: MonitorEvent, now: Instant) {
        match event {
            MonitorEvent::Snapshot(snapshot) => {
                let status = snapshot.status;
                self.pid = status.pid;
                self.runner = status.runner;
                self.pool_size = status.pool_size;
                self.started = ago(now, status.uptime_secs);
                self.stats = status.tasks;
                self.clients = status.clients;
                self.licenses = status.licenses;
                self.running = snapshot
                    .running
                    .into_iter()
                    .map(|task| {
                        let running = RunningTask {
                            since: ago(now, task.elapsed_secs),
                            request_id: task.request_id,
                            name: task.name,
                            worker_id: task.worker_id,
                            hostname: task.hostname,
                        };
                        (running.request_id.clone(), running)
                    })
                    .collect();
                self.recent = snapshot.recent.into_iter().map(Completed::from).collect();
            }
            MonitorEvent::TaskDispatched(task) => {
                let task = RunningTask {
                    request_id: task.request_id,
                    name: task.name,
                    worker_id: task.worker_id,
                    hostname: task.hostname,
                    since: now,
                };
                self.running.insert(task.request_id.clone(), task);
            }
            MonitorEvent::TaskCompleted(done) => {
                let was_running = self.running.remove(&done.request_id);
                let mut done = Completed::from(done);
                if done.name.is_empty() {
                    done.name = was_running.map(|t| t.name).unwrap_or_default();
                }
                self.recent.push_front(done);
                self.recent.truncate(RECENT_CAPACITY);
            }
            MonitorEvent::PoolStats(counts) => self.stats = counts,
            MonitorEvent::Clients(clients) => self.clients = clients,
            MonitorEvent::Licenses(licenses) => self.licenses = licenses,
            MonitorEvent::WorkerState(_) | MonitorEvent::ClientConnected { .. } => {}
        }
        self.scroll = self.scroll.min(self.running.len().saturating_sub(1));
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
pub(crate) mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// An event as the daemon would send it.
    pub fn event(method: &str, params: Value) -> MonitorEvent {
        MonitorEvent::parse(method, params)
            .expect("params fit the event")
            .expect("a known event")
    }

    /// A `monitor.snapshot` of a daemon with these counters.
    pub fn snapshot(status: Value, running: Value, recent: Value) -> MonitorEvent {
        let mut full = json!({"pid": 0, "runner": "local", "workers": [], "started": "2026-01-01T00:00:00Z",
                              "uptime_secs": 0.0, "socket": "/s", "worker_port": 1, "pool_size": 1,
                              "pending_tasks": 0, "running_tasks": 0, "completed_tasks": 0, "failed_tasks": 0,
                              "counts": {"total": 0, "busy": 0, "idle": 0, "pending": 0}});
        for (key, value) in status.as_object().into_iter().flatten() {
            full[key] = value.clone();
        }
        event(
            "monitor.snapshot",
            json!({"status": full, "running": running, "recent": recent}),
        )
    }

    #[test]
    fn snapshot_then_events() {
        let t0 = Instant::now() + Duration::from_secs(10_000);
        let mut model = Model::new(t0);
        model.apply(
            snapshot(
                json!({"pid": 42, "runner": "local", "pool_size": 4, "uptime_secs": 65.0,
                       "pending_tasks": 3, "running_tasks": 1, "completed_tasks": 7, "failed_tasks": 1,
                       "counts": {"total": 2, "busy": 1, "idle": 1, "pending": 0}}),
                json!([{"request_id": "r1", "name": "p.a", "worker_id": "w1", "hostname": "h1", "elapsed_secs": 5.0}]),
                json!([{"request_id": "r0", "name": "p.first", "status": 0, "duration_secs": 1.5}]),
            ),
            t0,
        );
        assert_eq!(
            (model.pid, model.runner.as_str(), model.pool_size),
            (42, "local", 4)
        );
        assert_eq!(t0 - model.started, Duration::from_secs(65));
        assert_eq!(model.stats.completed_tasks, 7);
        assert_eq!(model.running["r1"].since, t0 - Duration::from_secs(5));
        assert_eq!(model.recent[0].name, "p.first");
        assert!(model.recent[0].passed());

        let t1 = t0 + Duration::from_secs(1);
        model.apply(
            event(
                "task.dispatched",
                json!({"request_id": "r2", "name": "p.b", "worker_id": "w2", "hostname": "h2"}),
            ),
            t1,
        );
        let names: Vec<&str> = model
            .running_rows()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["p.a", "p.b"]);

        model.apply(
            event(
                "task.completed",
                json!({"request_id": "r1", "name": "p.a", "status": 3, "duration_secs": 6.0}),
            ),
            t1,
        );
        model.apply(
            event(
                "task.completed",
                json!({"request_id": "r9", "name": "p.z", "status": null, "error": "cancelled"}),
            ),
            t1,
        );
        assert_eq!(model.running.len(), 1);
        assert_eq!(model.recent[0].error.as_deref(), Some("cancelled"));
        assert_eq!(model.recent[1].status, Some(3));
        assert!(!model.recent[1].passed());
        assert_eq!(model.recent.len(), 3);

        model.apply(
            event(
                "pool.stats",
                json!({"counts": {"total": 3, "busy": 1, "idle": 1, "pending": 1}, "pending_tasks": 9,
                       "running_tasks": 1, "completed_tasks": 8, "failed_tasks": 2}),
            ),
            t1,
        );
        assert_eq!(model.stats.workers.pending, 1);
        assert_eq!(model.stats.pending_tasks, 9);
    }

    #[test]
    fn scrolling_stays_within_the_rows() {
        let t0 = Instant::now();
        let mut model = Model::new(t0);
        for i in 0..10 {
            model.apply(
                event(
                    "task.dispatched",
                    json!({"request_id": format!("r{i}"), "name": format!("t{i}")}),
                ),
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
