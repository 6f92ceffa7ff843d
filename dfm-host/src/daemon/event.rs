//! What the core hears: from client and worker connections, the runner's
//! blocking calls, and signals. Everything the core does starts as one of
//! these.

use dfm_plugin_api::{JobHandle, JobReport};
use dfm_wire::{FromWorker, Register, TaskSpec};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::line_writers::Lines;
use crate::pool::{ClientId, RegisterError, SlotId};

pub enum Event {
    ClientConnected {
        client: ClientId,
        /// Its process, if the socket says.
        pid: Option<u32>,
        lines: Lines,
        writer: JoinHandle<()>,
    },
    ClientRequest {
        client: ClientId,
        /// The `id` the request came with, for its reply.
        id: Value,
        request: Request,
    },
    ClientGone {
        client: ClientId,
    },
    /// An authenticated worker asks to join; `welcome` is sent first if it
    /// may.
    WorkerHello {
        register: Register,
        welcome: String,
        lines: Lines,
        answer: oneshot::Sender<Result<SlotId, RegisterError>>,
    },
    FromWorker {
        slot: SlotId,
        message: FromWorker,
    },
    WorkerGone {
        slot: SlotId,
        reason: String,
    },
    /// The runner's answers, each from a blocking call. A launch is of one
    /// worker or of one job array: its jobs, one per slot, in order.
    Launched {
        slots: Vec<SlotId>,
        result: Result<Vec<JobHandle>, String>,
    },
    Polled {
        result: Result<Vec<(SlotId, JobReport)>, String>,
    },
    Terminated {
        slot: SlotId,
        result: Result<(), String>,
    },
    /// A license query's output (or why it failed), and the tokens the
    /// pool's tasks held when it was run.
    LicenseQueried {
        license: String,
        held_when_asked: u32,
        output: Result<String, String>,
    },
    /// A scrape of the metrics listener: the text, for `answer`.
    MetricsWanted {
        answer: oneshot::Sender<String>,
    },
    /// SIGTERM, SIGINT or SIGHUP.
    Signal(&'static str),
}

/// A client's request as it reaches the core. `ping` never does: the
/// connection answers it at once, whatever the core is doing.
pub enum Request {
    Submit(Box<TaskSpec>),
    Cancel { request_id: String },
    Status,
    Subscribe { own_tasks: bool },
    Shutdown { keep_workers: bool },
}
