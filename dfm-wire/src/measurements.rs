//! What dfm measured of a task: where and when it ran, how long it waited,
//! what it cost. The worker fills in what only it sees (the task's own
//! start and end, the CPU and memory of its processes), the daemon the
//! rest; both travel under `measurements` in the task's result, a field
//! the original's client does not read.

use serde::{Deserialize, Serialize};

/// A task's measurements. Times are seconds since the Unix epoch, as the
/// machine that took them tells it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    /// When the daemon queued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<f64>,
    /// When its process started, and ended, on the worker's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<f64>,
    /// From its submit to its start on a worker, by the daemon's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The worker's batch job (`12345`, an array element `12345[3]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// 1 for its first run; more when it ran again after its worker was
    /// lost (run-limit ends and license retries do not count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// CPU seconds of the task's processes, its children included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_user_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_system_secs: Option<f64>,
    /// The largest resident set of its processes, in KiB (what `wait4`
    /// tells of the task's process and the children it waited for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_kib: Option<u64>,
    /// When its worker's job was launched, and when the worker joined the
    /// pool (by the daemon's clock): the worker's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_launched_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_ready_at: Option<f64>,
}

impl Measurements {
    /// The worker's stamps for a task that ran from `started_at` to
    /// `ended_at` and cost `usage`.
    pub fn on_worker(started_at: f64, ended_at: f64, usage: Option<Usage>) -> Measurements {
        Measurements {
            started_at: Some(started_at),
            ended_at: Some(ended_at),
            cpu_user_secs: usage.map(|u| u.cpu_user_secs),
            cpu_system_secs: usage.map(|u| u.cpu_system_secs),
            max_rss_kib: usage.and_then(|u| u.max_rss_kib),
            ..Measurements::default()
        }
    }

    /// How long it ran, by the worker's clock.
    pub fn duration_secs(&self) -> Option<f64> {
        Some(self.ended_at? - self.started_at?)
    }
}

/// What a task's processes cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub cpu_user_secs: f64,
    pub cpu_system_secs: f64,
    pub max_rss_kib: Option<u64>,
}

/// Now, in seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
