//! The worker connection (TCP, or the worker socket on the daemon's own
//! machine), one JSON object per line with no ids, and what the daemon
//! tells a worker job in its environment.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::frame::to_line_of_size;
use crate::task::{TaskResult, TaskSpec};

/// The most tasks a worker may hold ahead: more only spreads work unevenly.
pub const MAX_PREFETCH: usize = 64;

/// Variables the daemon sets in a worker job's environment. They hold the
/// secret and the daemon's local addresses: a worker removes them before
/// it runs anything, so no task ever sees them.
pub mod job_env {
    /// The secret the worker proves it knows.
    pub const SECRET: &str = "DFM_WORKER_TOKEN";
    /// The id the daemon launched the worker under.
    pub const WORKER_ID: &str = "DFM_WORKER_ID";
    /// The daemon's worker socket, for a worker on the daemon's machine.
    pub const SOCKET: &str = "DFM_WORKER_SOCKET";
    /// The daemon's boot id: the worker uses the socket only when its own
    /// matches, that is, on the same machine (a shared filesystem may show
    /// the socket's path on other hosts too).
    pub const BOOT_ID: &str = "DFM_DAEMON_BOOT_ID";
    /// `runner.python`: the Python the original's tasks run with.
    pub const PYTHON: &str = "DFM_WORKER_PYTHON";
    /// `1`: run the original's shell steps in the interpreter, with its own
    /// code, rather than natively (a diagnostic; the differential test's
    /// reference). Read from the daemon's environment by the local runner's
    /// workers, which inherit it.
    pub const ORIGINAL_SHELL_IN_PYTHON: &str = "DFM_WORKER_ORIGINAL_SHELL_IN_PYTHON";
    /// For the elements of a job array, instead of [`WORKER_ID`]: their
    /// worker ids, comma-separated, in index order...
    pub const WORKER_IDS: &str = "DFM_WORKER_IDS";
    /// ...and the variable in which each finds its index, from 1.
    pub const ARRAY_INDEX_VAR: &str = "DFM_ARRAY_INDEX_VAR";
    /// All of the above.
    pub const PRIVATE: &[&str] = &[
        SECRET,
        WORKER_ID,
        SOCKET,
        BOOT_ID,
        PYTHON,
        ORIGINAL_SHELL_IN_PYTHON,
        WORKER_IDS,
        ARRAY_INDEX_VAR,
    ];

    /// The worker id of this job: [`WORKER_ID`], or, in an element of a
    /// job array, its own of [`WORKER_IDS`]. `get` reads a variable.
    pub fn worker_id(get: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        if let Some(id) = get(WORKER_ID).filter(|id| !id.is_empty()) {
            return Ok(id);
        }
        let (Some(ids), Some(var)) = (get(WORKER_IDS), get(ARRAY_INDEX_VAR)) else {
            return Err(format!(
                "{WORKER_ID} is not set: workers are started by the dfm daemon"
            ));
        };
        let index = get(&var)
            .and_then(|i| i.trim().parse::<usize>().ok())
            .filter(|i| *i >= 1)
            .ok_or_else(|| {
                format!("{var} (this job array element's index) is not a number from 1")
            })?;
        ids.split(',')
            .nth(index - 1)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("{WORKER_IDS} has no id for array element {index}"))
    }
}

/// Worker → daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum FromWorker {
    #[serde(rename = "worker.register")]
    Register(Register),
    #[serde(rename = "task.result")]
    Result(TaskResult),
    #[serde(rename = "worker.heartbeat")]
    Heartbeat { worker_id: String },
    /// The task held ahead, handed back unstarted (after `task.withdraw`
    /// or `task.cancel`).
    #[serde(rename = "task.withdrawn")]
    Withdrawn { request_id: String },
    /// The worker's last words before it drops a sealed connection on
    /// which a frame from the daemon failed to open: the daemon logs an
    /// attack it could not see itself. (A peer in the path may drop these
    /// words too; it cannot forge them.)
    #[serde(rename = "worker.attacked")]
    Attacked { what: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Register {
    pub worker_id: String,
    pub hostname: String,
    pub pid: u32,
    #[serde(default)]
    pub resource_class: String,
    /// The scheduler's job id (LSF, SLURM), or empty.
    #[serde(default)]
    pub job_id: String,
    /// Upstream's name for `job_id`.
    #[serde(default)]
    pub lsf_job_id: String,
    /// Proof that the worker knows the secret, for the daemon's nonce.
    pub auth: String,
    /// The worker's own nonce, which the daemon must answer to prove it
    /// knows the secret too.
    pub nonce: String,
    /// The worker takes a `task.execute` while busy, runs it as soon as its
    /// current task ends, and answers `task.withdraw`.
    #[serde(default)]
    pub prefetch: bool,
    /// How many such tasks it holds at once; absent (0) with `prefetch`
    /// means one, as workers that predate it hold.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prefetch_depth: u32,
    /// The worker seals its traffic after the handshake (see
    /// [`crate::sealed`]); workers that predate sealing send none.
    #[serde(default)]
    pub seal: bool,
}

impl Register {
    /// How many tasks the worker accepts ahead while busy.
    pub fn tasks_ahead(&self) -> usize {
        match (self.prefetch, self.prefetch_depth) {
            (false, _) => 0,
            (true, 0) => 1,
            (true, depth) => depth as usize,
        }
    }

    /// Everything the worker says about itself, as its proof binds it
    /// (every field but the proof): a peer in the path that rewrites any of
    /// it (the hostname status shows, the job id adoption matches, the
    /// prefetch depth the pool trusts) makes the proof fail.
    pub fn transcript(&self) -> Vec<u8> {
        // Destructured, so that a new field cannot be left out unseen.
        let Register {
            worker_id,
            hostname,
            pid,
            resource_class,
            job_id,
            lsf_job_id,
            auth: _,
            nonce,
            prefetch,
            prefetch_depth,
            seal,
        } = self;
        transcript(&[
            b"worker.register",
            worker_id.as_bytes(),
            hostname.as_bytes(),
            &pid.to_be_bytes(),
            resource_class.as_bytes(),
            job_id.as_bytes(),
            lsf_job_id.as_bytes(),
            nonce.as_bytes(),
            &[u8::from(*prefetch)],
            &prefetch_depth.to_be_bytes(),
            &[u8::from(*seal)],
        ])
    }

    /// The scheduler's job id, under either name.
    pub fn job_id(&self) -> &str {
        if self.job_id.is_empty() {
            &self.lsf_job_id
        } else {
            &self.job_id
        }
    }
}

/// What the daemon's proof binds of its `worker.registered`, after the
/// worker's [`Register::transcript`]: a peer in the path can change neither
/// the heartbeat interval nor whether the connection is sealed.
pub fn welcome_transcript(heartbeat_interval_ms: u64, sealed: bool) -> Vec<u8> {
    transcript(&[
        b"worker.registered",
        &heartbeat_interval_ms.to_be_bytes(),
        &[u8::from(sealed)],
    ])
}

/// `parts`, each after its length: no two lists of parts give the same
/// bytes.
fn transcript(parts: &[&[u8]]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for part in parts {
        bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
        bytes.extend_from_slice(part);
    }
    bytes
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Daemon → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum ToWorker {
    /// First message on every worker connection.
    #[serde(rename = "auth.challenge")]
    Challenge { nonce: String },
    #[serde(rename = "worker.registered")]
    Registered {
        /// The daemon's answer to the worker's nonce.
        auth: String,
        heartbeat_interval_ms: u64,
        /// Everything after this message is sealed (see [`crate::sealed`]).
        #[serde(default)]
        sealed: bool,
    },
    #[serde(rename = "worker.rejected")]
    Rejected { reason: String },
    #[serde(rename = "task.execute")]
    Execute(Arc<TaskSpec>),
    /// Kill the task if it runs; hand it back if it is held ahead.
    #[serde(rename = "task.cancel")]
    Cancel { request_id: String },
    /// Hand back the task held ahead if it has not started; else nothing.
    #[serde(rename = "task.withdraw")]
    Withdraw { request_id: String },
    #[serde(rename = "worker.shutdown")]
    Shutdown {},
    /// The answer to each `worker.heartbeat`: the daemon is alive.
    #[serde(rename = "daemon.heartbeat")]
    Heartbeat {},
}

impl ToWorker {
    /// The message as a protocol line.
    pub fn to_line(&self) -> String {
        let capacity = match self {
            ToWorker::Execute(spec) => {
                let text = [
                    &spec.name,
                    &spec.body,
                    &spec.srcdir,
                    &spec.rundir,
                    &spec.request_id,
                ];
                spec.env.as_json().len() + text.iter().map(|t| t.len()).sum::<usize>() + 256
            }
            _ => 256,
        };
        to_line_of_size(self, capacity)
    }

    /// Reads a message from the daemon. A task's environment is read
    /// straight from the text (see [`crate::Environment`]), whatever the
    /// order of the fields.
    pub fn parse(line: &[u8]) -> serde_json::Result<ToWorker> {
        #[derive(Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            method: Cow<'a, str>,
            #[serde(borrow)]
            params: &'a RawValue,
        }
        match serde_json::from_slice::<Envelope>(line) {
            Ok(envelope) if envelope.method == "task.execute" => {
                serde_json::from_str(envelope.params.get()).map(ToWorker::Execute)
            }
            _ => serde_json::from_slice(line),
        }
    }
}

#[cfg(test)]
mod tests;
