//! `trace.json`: the run in the Trace Event Format (Perfetto,
//! chrome://tracing), as the original's trace with what only dfm knows:
//! a process per host, a lane (thread) per worker, its start (from its
//! launch to its joining the pool) and a complete event per task with its
//! measurements, its queue wait as an async span, and an arrow from each
//! task to those that needed it.
//!
//! Times are microseconds since the epoch, by the clocks of the hosts.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Report, ReportTask};

pub fn trace_json(report: &Report) -> Value {
    let mut events = vec![json!({
        "name": "metadata", "ph": "M", "pid": 0, "tid": 0,
        "args": {"name": "Task Execution", "timeUnit": "us"}
    })];
    let lanes = Lanes::of(report);
    for (host, pid) in &lanes.hosts {
        events.push(
            json!({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                           "args": {"name": format!("host {host}")}}),
        );
    }
    for ((host, worker), tid) in &lanes.workers {
        events.push(
            json!({"name": "thread_name", "ph": "M", "pid": lanes.hosts[host], "tid": tid,
                           "args": {"name": format!("worker {worker}")}}),
        );
    }
    // Each worker's start, from its launch to its joining the pool, on
    // its lane, once.
    let mut started = std::collections::BTreeSet::new();
    for task in &report.tasks {
        let (Some(m), Some((pid, tid, _, _))) = (task.measurements(), lanes.place(task)) else {
            continue;
        };
        if let (Some(asked), Some(joined)) = (m.worker_launched_at, m.worker_ready_at) {
            if started.insert((pid, tid)) {
                let (start, end) = ((asked * 1e6) as i64, (joined * 1e6) as i64);
                events.push(json!({"name": "worker start", "cat": "worker", "ph": "X",
                                   "pid": pid, "tid": tid, "ts": start, "dur": (end - start).max(0),
                                   "args": {"job_id": m.job_id}}));
            }
        }
    }
    let mut ends = BTreeMap::new();
    for (n, task) in report.tasks.iter().enumerate() {
        let Some((pid, tid, start, end)) = lanes.place(task) else {
            continue;
        };
        let mut args = task.measurements().map(|m| json!(m)).unwrap_or(json!({}));
        args["status"] = json!(task.status());
        args["changed"] = json!(task.outcome.said.changed);
        events.push(
            json!({"name": task.name(), "cat": "task", "ph": "X", "pid": pid, "tid": tid,
                           "ts": start, "dur": end - start, "args": args}),
        );
        if let Some(wait) = task.measurements().and_then(|m| m.queue_wait_secs) {
            let queued = start - (wait * 1e6) as i64;
            for (ph, ts) in [("b", queued), ("e", start)] {
                events.push(
                    json!({"name": format!("{} waits", task.name()), "cat": "queue",
                                   "ph": ph, "id": n, "pid": pid, "tid": tid, "ts": ts}),
                );
            }
        }
        ends.insert(task.name(), (pid, tid, start, end));
    }
    // An arrow from the end of each need to the start of what needed it.
    let mut flow = 0;
    for task in &report.tasks {
        let Some(&(pid, tid, start, _)) = ends.get(task.name()) else {
            continue;
        };
        for need in &task.needs {
            let Some(&(from_pid, from_tid, _, from_end)) = ends.get(need) else {
                continue;
            };
            flow += 1;
            let name = format!("{need} -> {}", task.name());
            events.push(json!({"name": name, "cat": "flow", "ph": "s", "id": flow,
                               "pid": from_pid, "tid": from_tid, "ts": from_end - 1}));
            events.push(
                json!({"name": name, "cat": "flow", "ph": "f", "bp": "e", "id": flow,
                               "pid": pid, "tid": tid, "ts": start}),
            );
        }
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"})
}

/// A process id per host and a thread id per worker, in name order.
struct Lanes<'a> {
    hosts: BTreeMap<&'a str, u32>,
    workers: BTreeMap<(&'a str, &'a str), u32>,
}

impl<'a> Lanes<'a> {
    fn of(report: &'a Report) -> Lanes<'a> {
        let mut hosts = BTreeMap::new();
        let mut workers = BTreeMap::new();
        for m in report.tasks.iter().filter_map(ReportTask::measurements) {
            let host = m.host.as_deref().unwrap_or("?");
            hosts.insert(host, 0);
            workers.insert((host, m.worker_id.as_deref().unwrap_or("?")), 0);
        }
        for (n, pid) in hosts.values_mut().enumerate() {
            *pid = n as u32 + 1;
        }
        for (n, tid) in workers.values_mut().enumerate() {
            *tid = n as u32 + 1;
        }
        Lanes { hosts, workers }
    }

    /// Where a task that ran goes: its host's pid, its worker's tid, its
    /// start and end in microseconds.
    fn place(&self, task: &ReportTask) -> Option<(u32, u32, i64, i64)> {
        let m = task.measurements()?;
        let host = m.host.as_deref().unwrap_or("?");
        let worker = m.worker_id.as_deref().unwrap_or("?");
        let start = (m.started_at? * 1e6) as i64;
        let end = ((m.ended_at? * 1e6) as i64).max(start);
        Some((
            *self.hosts.get(host)?,
            *self.workers.get(&(host, worker))?,
            start,
            end,
        ))
    }
}
