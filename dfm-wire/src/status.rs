//! `status.get`'s answer, and the pool's counters: one schema, used by the
//! status, the monitor's snapshot and its `pool.stats` events alike.

use serde::{Deserialize, Serialize};

mod worker_json;
pub use worker_json::write_worker_entry;

/// Workers by what they are doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCounts {
    pub total: usize,
    pub busy: usize,
    pub idle: usize,
    /// Launched, not registered yet.
    pub pending: usize,
}

/// The pool's counters. The names are the original's `status.get` fields
/// (`pending_tasks`), then ours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCounts {
    /// Tasks waiting: queued, or held ahead by a busy worker.
    pub pending_tasks: usize,
    pub running_tasks: usize,
    pub completed_tasks: u64,
    pub failed_tasks: u64,
    #[serde(rename = "counts")]
    pub workers: WorkerCounts,
}

/// A client's tasks in the pool (a client is a connection: a `dfm run`,
/// the original's, or any other).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStatus {
    pub client: u64,
    /// The client's process, where the daemon can tell (same machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub queued: usize,
    /// Sent ahead to busy workers.
    pub held: usize,
    pub running: usize,
}

/// `status.get`'s result. Upstream's fields first; the rest are ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub runner: String,
    pub workers: Vec<WorkerStatus>,
    #[serde(flatten)]
    pub tasks: PoolCounts,
    pub started: String,
    pub uptime_secs: f64,
    pub socket: String,
    pub worker_port: u16,
    pub pool_size: usize,
    /// Clients with tasks in the pool, by client.
    #[serde(default)]
    pub clients: Vec<ClientStatus>,
    /// The licenses the daemon schedules (`runner.licenses`), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseStatus>,
    /// The licenses the scheduler holds for each worker job of some
    /// classes (`license_scope: worker`), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worker_licenses: Vec<WorkerLicenseStatus>,
}

/// A license the scheduler holds for each worker job of some classes
/// (`license_scope: worker`): dfm does not count it, the scheduler runs
/// only as many such workers as it has; status shows how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLicenseStatus {
    pub name: String,
    /// Workers of those classes in the pool (each holds the license).
    pub workers_holding: usize,
    /// Their jobs the scheduler keeps pending for a license.
    pub workers_waiting: usize,
}

impl WorkerLicenseStatus {
    /// `sim_seat per worker: 2 held, 2 workers waiting`.
    pub fn summary(&self) -> String {
        format!(
            "{} per worker: {} held, {} workers waiting",
            self.name, self.workers_holding, self.workers_waiting
        )
    }
}

/// One license the daemon schedules, as status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseStatus {
    pub name: String,
    /// Tokens held by this daemon's running tasks.
    pub in_use: u32,
    /// Tokens its tasks may hold now: `count`, or fewer while others hold
    /// some (from the license query).
    pub allowed: u32,
    /// `runner.licenses.<name>.count`.
    pub count: u32,
    /// In use by others (other daemons, people), when queried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others: Option<u32>,
    /// Tasks waiting that need it.
    pub waiting: usize,
    /// Why `allowed` is not from a fresh query (it failed), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl LicenseStatus {
    /// `vcs 3/5 in use, 2 others, 7 waiting`: one line, as the monitor and
    /// `dfm run` show it.
    pub fn summary(&self) -> String {
        let others = self
            .others
            .map(|n| format!(", {n} others"))
            .unwrap_or_default();
        format!(
            "{} {}/{} in use{others}, {} waiting",
            self.name, self.in_use, self.allowed, self.waiting
        )
    }
}

/// What a worker is doing, as status and monitors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerActivity {
    /// Its job is being started, or has not registered yet.
    Launching,
    Idle,
    Busy,
    /// It has left the pool (only in `worker.state` events).
    Gone,
}

impl WorkerActivity {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerActivity::Launching => "launching",
            WorkerActivity::Idle => "idle",
            WorkerActivity::Busy => "busy",
            WorkerActivity::Gone => "gone",
        }
    }
}

impl std::fmt::Display for WorkerActivity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub worker_id: String,
    pub resource_class: String,
    pub hostname: String,
    pub pid: u32,
    pub state: WorkerActivity,
    pub current_task: Option<String>,
    /// The tasks it holds ahead, to run in this order after the current
    /// one (dfm's; the original's status has no such field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks_ahead: Vec<String>,
    pub job_id: String,
    /// Upstream's name for `job_id`.
    pub lsf_job_id: String,
    /// Why the scheduler keeps its job pending, in the scheduler's words
    /// (`Licenses`), while it does and says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<String>,
}

/// A [`WorkerStatus`] that borrows what it shows: written as the same
/// JSON, without copying a string per worker (a status of 10,000 workers
/// is written from these).
#[derive(Debug, Clone, Serialize)]
pub struct WorkerStatusRef<'a> {
    pub worker_id: &'a str,
    pub resource_class: &'a str,
    pub hostname: &'a str,
    pub pid: u32,
    pub state: WorkerActivity,
    pub current_task: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks_ahead: Vec<&'a str>,
    pub job_id: &'a str,
    pub lsf_job_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<&'a str>,
}

impl WorkerStatusRef<'_> {
    pub fn to_owned(&self) -> WorkerStatus {
        WorkerStatus {
            worker_id: self.worker_id.to_string(),
            resource_class: self.resource_class.to_string(),
            hostname: self.hostname.to_string(),
            pid: self.pid,
            state: self.state,
            current_task: self.current_task.map(str::to_string),
            tasks_ahead: self.tasks_ahead.iter().map(|t| t.to_string()).collect(),
            job_id: self.job_id.to_string(),
            lsf_job_id: self.lsf_job_id.to_string(),
            pending_reason: self.pending_reason.map(str::to_string),
        }
    }
}

/// `status.get`'s answer written from borrowed workers ([`DaemonStatus`]'s
/// JSON, with `workers` from an iterator of [`WorkerStatusRef`]).
#[derive(Serialize)]
pub struct DaemonStatusRef<'a, W: Serialize> {
    pub pid: u32,
    pub runner: &'a str,
    pub workers: W,
    #[serde(flatten)]
    pub tasks: PoolCounts,
    pub started: &'a str,
    pub uptime_secs: f64,
    pub socket: &'a str,
    pub worker_port: u16,
    pub pool_size: usize,
    pub clients: Vec<ClientStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub worker_licenses: Vec<WorkerLicenseStatus>,
}

impl<W: Serialize> DaemonStatusRef<'_, W> {
    /// The owned status, with these `workers` (for monitors' snapshots).
    pub fn to_owned_with(self, workers: Vec<WorkerStatus>) -> DaemonStatus {
        DaemonStatus {
            pid: self.pid,
            runner: self.runner.to_string(),
            workers,
            tasks: self.tasks,
            started: self.started.to_string(),
            uptime_secs: self.uptime_secs,
            socket: self.socket.to_string(),
            worker_port: self.worker_port,
            pool_size: self.pool_size,
            clients: self.clients,
            licenses: self.licenses,
            worker_licenses: self.worker_licenses,
        }
    }
}

impl WorkerStatus {
    /// A worker that has left the pool.
    pub fn gone(worker_id: &str) -> WorkerStatus {
        WorkerStatus {
            worker_id: worker_id.to_string(),
            resource_class: String::new(),
            hostname: String::new(),
            pid: 0,
            state: WorkerActivity::Gone,
            current_task: None,
            tasks_ahead: Vec::new(),
            job_id: String::new(),
            lsf_job_id: String::new(),
            pending_reason: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The borrowed forms write what the owned ones do.
    #[test]
    fn a_status_written_from_borrowed_workers_is_the_same_json() {
        let worker = WorkerStatusRef {
            worker_id: "w1",
            resource_class: "big",
            hostname: "node1",
            pid: 7,
            state: WorkerActivity::Busy,
            current_task: Some("p.a"),
            tasks_ahead: vec!["p.b"],
            job_id: "12.3",
            lsf_job_id: "12.3",
            pending_reason: None,
        };
        let status = DaemonStatus {
            pid: 1,
            runner: "sge".into(),
            workers: vec![worker.to_owned()],
            tasks: PoolCounts::default(),
            started: "now".into(),
            uptime_secs: 2.5,
            socket: "/s".into(),
            worker_port: 3,
            pool_size: 4,
            clients: Vec::new(),
            licenses: Vec::new(),
            worker_licenses: Vec::new(),
        };
        let borrowed = DaemonStatusRef {
            pid: 1,
            runner: "sge",
            workers: [worker],
            tasks: PoolCounts::default(),
            started: "now",
            uptime_secs: 2.5,
            socket: "/s",
            worker_port: 3,
            pool_size: 4,
            clients: Vec::new(),
            licenses: Vec::new(),
            worker_licenses: Vec::new(),
        };
        assert_eq!(
            serde_json::to_string(&borrowed).expect("serialises"),
            serde_json::to_string(&status).expect("serialises")
        );
    }

    #[test]
    fn the_status_keeps_the_originals_field_names() {
        let status = DaemonStatus {
            pid: 7,
            runner: "local".into(),
            workers: vec![WorkerStatus::gone("w1")],
            tasks: PoolCounts {
                pending_tasks: 3,
                running_tasks: 1,
                completed_tasks: 9,
                failed_tasks: 2,
                workers: WorkerCounts {
                    total: 1,
                    busy: 1,
                    idle: 0,
                    pending: 0,
                },
            },
            started: "2026-01-01T00:00:00Z".into(),
            uptime_secs: 1.5,
            socket: "/s".into(),
            worker_port: 4,
            pool_size: 2,
            clients: vec![ClientStatus {
                client: 3,
                pid: None,
                queued: 5,
                held: 1,
                running: 1,
            }],
            licenses: Vec::new(),
            worker_licenses: Vec::new(),
        };
        let value = serde_json::to_value(&status).expect("serialises");
        assert_eq!(
            value["clients"],
            json!([{"client": 3, "queued": 5, "held": 1, "running": 1}])
        );
        for (key, expected) in [
            ("pid", json!(7)),
            ("pending_tasks", json!(3)),
            ("running_tasks", json!(1)),
            ("completed_tasks", json!(9)),
            ("failed_tasks", json!(2)),
            (
                "counts",
                json!({"total": 1, "busy": 1, "idle": 0, "pending": 0}),
            ),
        ] {
            assert_eq!(value[key], expected, "{key}");
        }
        assert_eq!(value["workers"][0]["state"], "gone");
        let back: DaemonStatus = serde_json::from_value(value).expect("reads back");
        assert_eq!(back, status);
    }
}
