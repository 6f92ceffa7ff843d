//! Where each task of a run stands, and the run's summary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use super::driver::Said;

/// The state of one task of this run.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskProgress {
    Waiting,
    Submitted {
        request_id: String,
        since: Instant,
    },
    Running {
        request_id: String,
        since: Instant,
    },
    Passed {
        secs: f64,
    },
    Failed {
        exit_code: Option<i32>,
        error: Option<String>,
        secs: f64,
    },
    /// Turned off by `iff`.
    Skipped,
    /// Never started: a failure, or an interrupt, came first.
    NotRun,
}

pub struct TaskOutcome {
    pub name: String,
    pub state: TaskProgress,
    pub log: PathBuf,
    /// Its markers and measurements, once it has a result.
    pub said: Said,
}

/// The last `n` lines of a file, for failure reports.
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The `--json` summary.
pub fn json_summary(package: &str, outcomes: &[TaskOutcome], wall: Duration, mode: &str) -> Value {
    let count = |f: fn(&TaskProgress) -> bool| outcomes.iter().filter(|o| f(&o.state)).count();
    let tasks: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let (status, exit_code, error, secs) = match &o.state {
                TaskProgress::Passed { secs } => ("passed", Some(0), None, Some(*secs)),
                TaskProgress::Failed {
                    exit_code,
                    error,
                    secs,
                } => ("failed", *exit_code, error.clone(), Some(*secs)),
                TaskProgress::Skipped => ("skipped", None, None, None),
                _ => ("not_run", None, None, None),
            };
            let mut task = json!({"name": o.name, "status": status, "exit_code": exit_code,
                   "error": error, "duration_secs": secs, "log": o.log});
            if let Some(measured) = &o.said.measurements {
                task["measurements"] = json!(measured);
            }
            task
        })
        .collect();
    json!({
        "package": package,
        "mode": mode,
        "passed": count(|s| matches!(s, TaskProgress::Passed { .. })),
        "failed": count(|s| matches!(s, TaskProgress::Failed { .. })),
        "skipped": count(|s| matches!(s, TaskProgress::Skipped | TaskProgress::NotRun)),
        "wall_secs": wall.as_secs_f64(),
        "tasks": tasks,
    })
}
