//! A worker's status entry written by hand, from a part kept as JSON.
//!
//! Of a registered worker's entry only its state, its tasks and its job's
//! pending reason change; its id, class, host, pid and job do not. The
//! daemon keeps that fixed part as JSON ([`WorkerStatusRef::fixed_json`])
//! and writes each status's entry from it ([`write_worker_entry`]), instead
//! of fetching and escaping five strings per worker each time: at 10,000
//! workers that was most of a status's cost. The JSON is a
//! [`WorkerStatus`](super::WorkerStatus)'s, its fields in another order.

use serde::Serialize;

use super::{WorkerActivity, WorkerStatusRef};

impl WorkerStatusRef<'_> {
    /// The fields of this entry that stay while its worker is registered,
    /// as the opening of a JSON object (`{"worker_id":...,"lsf_job_id":...`,
    /// without the closing brace).
    pub fn fixed_json(&self) -> Box<str> {
        #[derive(Serialize)]
        struct Fixed<'a> {
            worker_id: &'a str,
            resource_class: &'a str,
            hostname: &'a str,
            pid: u32,
            job_id: &'a str,
            lsf_job_id: &'a str,
        }
        let fixed = Fixed {
            worker_id: self.worker_id,
            resource_class: self.resource_class,
            hostname: self.hostname,
            pid: self.pid,
            job_id: self.job_id,
            lsf_job_id: self.lsf_job_id,
        };
        match serde_json::to_string(&fixed) {
            Ok(mut json) => {
                json.pop(); // its closing brace: the changing fields follow
                json.into_boxed_str()
            }
            // A struct of strings and a number always serialises.
            Err(_) => Box::from("{\"worker_id\":\"\""),
        }
    }
}

/// Appends a worker's status entry to `out`: `fixed`, its
/// [`WorkerStatusRef::fixed_json`], then the fields that change.
pub fn write_worker_entry<'a>(
    out: &mut Vec<u8>,
    fixed: &str,
    state: WorkerActivity,
    current_task: Option<&str>,
    tasks_ahead: impl IntoIterator<Item = &'a str>,
    pending_reason: Option<&str>,
) {
    out.extend_from_slice(fixed.as_bytes());
    out.extend_from_slice(b",\"state\":\"");
    out.extend_from_slice(state.as_str().as_bytes());
    out.extend_from_slice(b"\",\"current_task\":");
    match current_task {
        Some(name) => write_str(out, name),
        None => out.extend_from_slice(b"null"),
    }
    let mut ahead = tasks_ahead.into_iter();
    if let Some(first) = ahead.next() {
        out.extend_from_slice(b",\"tasks_ahead\":[");
        write_str(out, first);
        for name in ahead {
            out.push(b',');
            write_str(out, name);
        }
        out.push(b']');
    }
    if let Some(reason) = pending_reason {
        out.extend_from_slice(b",\"pending_reason\":");
        write_str(out, reason);
    }
    out.push(b'}');
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Only so that tests can compare with the owned form.
#[cfg(test)]
fn entry_of(worker: &WorkerStatusRef<'_>) -> serde_json::Value {
    let mut out = Vec::new();
    write_worker_entry(
        &mut out,
        &worker.fixed_json(),
        worker.state,
        worker.current_task,
        worker.tasks_ahead.iter().copied(),
        worker.pending_reason,
    );
    serde_json::from_slice(&out).expect("an entry is one JSON object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::WorkerStatus;

    #[test]
    fn an_entry_written_by_hand_is_the_status_entry_serde_writes() {
        let busy = WorkerStatusRef {
            worker_id: "w\"1\\",
            resource_class: "big\u{1}",
            hostname: "nöde1",
            pid: 7,
            state: WorkerActivity::Busy,
            current_task: Some("p.a\n"),
            tasks_ahead: vec!["p.b", "p.\"c\""],
            job_id: "12.3",
            lsf_job_id: "12.3",
            pending_reason: None,
        };
        let launching = WorkerStatusRef {
            worker_id: "w2",
            resource_class: "",
            hostname: "",
            pid: 0,
            state: WorkerActivity::Launching,
            current_task: None,
            tasks_ahead: Vec::new(),
            job_id: "",
            lsf_job_id: "",
            pending_reason: Some("Licenses"),
        };
        for worker in [busy, launching] {
            let owned: WorkerStatus = worker.to_owned();
            let expected = serde_json::to_value(&owned).expect("serialises");
            assert_eq!(entry_of(&worker), expected);
        }
    }
}
