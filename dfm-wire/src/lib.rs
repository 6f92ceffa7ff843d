//! Every message that crosses a dfm socket, in one place: daemon, worker,
//! `dfm run`, the monitor and the benchmarks all use these types.
//!
//! - [`frame`]: one JSON object per line, and the size limit on a line;
//! - [`task`]: a task as clients submit it and workers run it, and its result;
//! - [`client`]: the client socket (compatible with the original dv-flow-mgr
//!   daemon): requests and replies;
//! - [`status`]: `status.get`'s answer and the pool's counters;
//! - [`events`]: what a monitor subscription carries;
//! - [`worker`]: the worker connection, and what a worker job is told in its
//!   environment;
//! - [`sealed`]: the worker connection's encryption after the handshake (its
//!   keys, its frames, the sealed streams).

pub mod client;
mod decode;
pub mod events;
pub mod frame;
pub mod measurements;
pub mod sealed;
pub mod splice;
pub mod status;
pub mod task;
pub mod worker;

pub use client::{
    reply_error, reply_result, reply_result_of_size, reply_result_spliced, BadRequest, ClientCall,
    ClientRequest, Reply, ReplyError,
};
pub use events::{
    Completion, MonitorEvent, RunningTask, RunningTaskRef, Snapshot, SnapshotRef, TaskStarted,
};
pub use frame::{read_line, read_message, to_line, FrameError, MessageError, MAX_LINE_BYTES};
pub use measurements::{unix_now, Measurements, Usage};
pub use status::{
    write_worker_entry, ClientStatus, DaemonStatus, DaemonStatusRef, LicenseStatus, PoolCounts,
    WorkerActivity, WorkerCounts, WorkerLicenseStatus, WorkerStatus, WorkerStatusRef,
};
pub use task::{
    Dialect, Env, Environment, EnvironmentError, InvalidTask, Marker, ResourceRequest, Severity,
    TaskResult, TaskSpec, CLIENT_PYTHON, MAX_PRIORITY, PYTASK, SHELLS,
};
pub use worker::{FromWorker, Register, ToWorker, MAX_PREFETCH};
