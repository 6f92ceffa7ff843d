//! What a `monitor.subscribe` connection hears, as types: the daemon
//! writes these and the monitor and `dfm run` read them, so a field renamed
//! on one side fails to parse instead of showing nothing.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::frame::to_line;
use crate::splice::Splice;
use crate::status::{ClientStatus, DaemonStatus, LicenseStatus, PoolCounts, WorkerStatus};

/// An event line: `{"method": ..., "params": {...}}`, with no `id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "method", content = "params")]
pub enum MonitorEvent {
    /// The first event of a subscription, and again after events were
    /// dropped for a subscriber that fell behind.
    #[serde(rename = "monitor.snapshot")]
    Snapshot(Snapshot),
    #[serde(rename = "worker.state")]
    WorkerState(WorkerStatus),
    /// A task started on a worker.
    #[serde(rename = "task.dispatched")]
    TaskDispatched(TaskStarted),
    #[serde(rename = "task.completed")]
    TaskCompleted(Completion),
    /// The counters of the status bar, whenever they change.
    #[serde(rename = "pool.stats")]
    PoolStats(PoolCounts),
    #[serde(rename = "client.connected")]
    ClientConnected { client: u64 },
    /// What each client has in the pool, at most a few times a second.
    #[serde(rename = "pool.clients")]
    Clients(Vec<ClientStatus>),
    /// Each license's use, when it has changed, at most a few times a
    /// second.
    #[serde(rename = "pool.licenses")]
    Licenses(Vec<LicenseStatus>),
}

/// Everything a monitor needs to start from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub status: DaemonStatus,
    pub running: Vec<RunningTask>,
    /// Most recent first.
    pub recent: Vec<Completion>,
}

/// A [`Snapshot`] written from borrowed parts, as the same event line
/// ([`SnapshotRef::to_line`]): a snapshot of 10,000 workers copies no
/// string per worker or task. `status` is a [`crate::DaemonStatusRef`],
/// `running` a sequence of [`RunningTaskRef`], `recent` of [`Completion`].
#[derive(Serialize)]
pub struct SnapshotRef<S: Serialize, R: Serialize, C: Serialize> {
    pub status: S,
    pub running: R,
    pub recent: C,
}

impl<S: Serialize, R: Serialize, C: Serialize> SnapshotRef<S, R, C> {
    /// The `monitor.snapshot` event line, as
    /// `MonitorEvent::Snapshot(..).to_line()` writes it.
    pub fn to_line(&self) -> String {
        self.to_line_of_size(256)
    }

    /// [`SnapshotRef::to_line`] into a buffer of `capacity` bytes to begin
    /// with.
    pub fn to_line_of_size(&self, capacity: usize) -> String {
        crate::frame::to_line_of_size(&self.line(), capacity)
    }

    /// [`SnapshotRef::to_line_of_size`], with one value in it written by
    /// `write` in place of `splice`'s placeholder (see [`crate::splice`]).
    pub fn to_line_spliced(
        &self,
        splice: &Splice,
        capacity: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> String {
        splice.to_line(&self.line(), capacity, write)
    }

    fn line(&self) -> SnapshotLine<'_, Self> {
        SnapshotLine {
            method: "monitor.snapshot",
            params: self,
        }
    }
}

#[derive(Serialize)]
struct SnapshotLine<'a, T> {
    method: &'static str,
    params: &'a T,
}

/// A [`RunningTask`] that borrows its strings.
#[derive(Debug, Clone, Serialize)]
pub struct RunningTaskRef<'a> {
    pub request_id: &'a str,
    pub name: &'a str,
    pub worker_id: &'a str,
    pub hostname: &'a str,
    pub elapsed_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningTask {
    pub request_id: String,
    pub name: String,
    pub worker_id: String,
    pub hostname: String,
    pub elapsed_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStarted {
    pub request_id: String,
    pub name: String,
    #[serde(default)]
    pub worker_id: String,
    #[serde(default)]
    pub hostname: String,
}

/// A finished task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub request_id: String,
    pub name: String,
    /// The exit status; `None` when dfm ended it (cancelled, worker lost...).
    pub status: Option<i32>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub duration_secs: Option<f64>,
}

impl MonitorEvent {
    pub fn to_line(&self) -> String {
        to_line(self)
    }

    /// The event `method` names, read from its `params`; `None` for a method
    /// this dfm does not know (a newer daemon's), an error for a known one
    /// whose params do not fit.
    pub fn parse(method: &str, params: Value) -> Result<Option<MonitorEvent>, serde_json::Error> {
        fn read<T: DeserializeOwned>(params: Value) -> Result<T, serde_json::Error> {
            serde_json::from_value(params)
        }
        Ok(Some(match method {
            "monitor.snapshot" => MonitorEvent::Snapshot(read(params)?),
            "worker.state" => MonitorEvent::WorkerState(read(params)?),
            "task.dispatched" => MonitorEvent::TaskDispatched(read(params)?),
            "task.completed" => MonitorEvent::TaskCompleted(read(params)?),
            "pool.stats" => MonitorEvent::PoolStats(read(params)?),
            "pool.clients" => MonitorEvent::Clients(read(params)?),
            "pool.licenses" => MonitorEvent::Licenses(read(params)?),
            "client.connected" => {
                #[derive(Deserialize)]
                struct Connected {
                    client: u64,
                }
                let Connected { client } = read(params)?;
                MonitorEvent::ClientConnected { client }
            }
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Reply;
    use crate::status::WorkerCounts;

    fn round_trip(event: MonitorEvent) {
        let line = event.to_line();
        let Ok(Reply::Event { method, params }) = Reply::parse(line.trim_end().as_bytes()) else {
            panic!("not an event line: {line}");
        };
        assert_eq!(
            MonitorEvent::parse(&method, params).expect("parses"),
            Some(event),
            "{line}"
        );
    }

    #[test]
    fn every_event_reads_back_as_it_was_written() {
        let counts = PoolCounts {
            pending_tasks: 4,
            running_tasks: 2,
            completed_tasks: 10,
            failed_tasks: 1,
            workers: WorkerCounts {
                total: 2,
                busy: 2,
                idle: 0,
                pending: 0,
            },
        };
        let completion = Completion {
            request_id: "r1".into(),
            name: "p.a".into(),
            status: Some(3),
            error: None,
            worker_id: Some("w1".into()),
            hostname: Some("h".into()),
            duration_secs: Some(1.5),
        };
        let snapshot = Snapshot {
            status: DaemonStatus {
                pid: 1,
                runner: "local".into(),
                workers: vec![WorkerStatus::gone("w")],
                tasks: counts,
                started: "2026-01-01T00:00:00Z".into(),
                uptime_secs: 3.0,
                socket: "/s".into(),
                worker_port: 5,
                pool_size: 2,
                clients: vec![ClientStatus {
                    client: 1,
                    pid: Some(9),
                    queued: 2,
                    held: 0,
                    running: 1,
                }],
                licenses: Vec::new(),
                worker_licenses: Vec::new(),
            },
            running: vec![RunningTask {
                request_id: "r2".into(),
                name: "p.b".into(),
                worker_id: "w2".into(),
                hostname: "h".into(),
                elapsed_secs: 0.5,
            }],
            recent: vec![completion.clone()],
        };
        // Written from borrowed parts, the same line.
        let running: Vec<RunningTaskRef> = snapshot
            .running
            .iter()
            .map(|t| RunningTaskRef {
                request_id: &t.request_id,
                name: &t.name,
                worker_id: &t.worker_id,
                hostname: &t.hostname,
                elapsed_secs: t.elapsed_secs,
            })
            .collect();
        let borrowed = SnapshotRef {
            status: &snapshot.status,
            running,
            recent: &snapshot.recent,
        };
        assert_eq!(
            borrowed.to_line(),
            MonitorEvent::Snapshot(snapshot.clone()).to_line()
        );
        round_trip(MonitorEvent::Snapshot(snapshot));
        round_trip(MonitorEvent::WorkerState(WorkerStatus::gone("w3")));
        round_trip(MonitorEvent::TaskDispatched(TaskStarted {
            request_id: "r".into(),
            name: "n".into(),
            worker_id: "w".into(),
            hostname: "h".into(),
        }));
        round_trip(MonitorEvent::TaskCompleted(completion));
        round_trip(MonitorEvent::PoolStats(counts));
        round_trip(MonitorEvent::Clients(Vec::new()));
        round_trip(MonitorEvent::Licenses(vec![LicenseStatus {
            name: "vcs".into(),
            in_use: 3,
            allowed: 5,
            count: 8,
            others: Some(3),
            waiting: 7,
            note: None,
        }]));
        round_trip(MonitorEvent::ClientConnected { client: 9 });
    }

    #[test]
    fn unknown_events_are_skipped_and_broken_ones_are_errors() {
        assert_eq!(
            MonitorEvent::parse("something.new", serde_json::json!({})).expect("fine"),
            None
        );
        let renamed = serde_json::json!({"pending": 1});
        assert!(MonitorEvent::parse("pool.stats", renamed).is_err());
    }
}
