//! The pool's settings (from `runner.pool` and `runner.licenses`).

use std::time::Duration;

use super::licenses::LicenseConfig;

/// Tasks a busy worker holds ahead unless configured otherwise. A worker
/// reports its results in batches while it holds more tasks than it has
/// results (see the worker's `DEFER`), so with four it reports about three
/// at once and still has two to run while the daemon sends the next ones:
/// enough to hide a network round trip of a few milliseconds.
pub const DEFAULT_PREFETCH: usize = 4;

/// Queued tasks per worker from which the pool counts as saturated.
pub const SATURATED_QUEUE_PER_WORKER: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    pub max_workers: usize,
    /// Workers of the default class kept running even when idle.
    pub min_workers: usize,
    pub idle_timeout: Duration,
    /// Worker launches in flight at once...
    pub launch_batch_size: usize,
    /// ...unless the runner launches job arrays: then one call starts many
    /// workers, and only `max_workers` limits them.
    pub arrays: bool,
    /// How long a launched job may take to register.
    pub launch_timeout: Duration,
    /// How long a registered worker may stay silent.
    pub heartbeat_timeout: Duration,
    /// How often a task is started on a worker that is then lost, before
    /// it fails.
    pub max_task_attempts: u32,
    /// Launch failures in a row (per class) after which waiting tasks fail.
    pub max_launch_failures: u32,
    /// How many tasks a busy worker may hold ahead when tasks wait (see
    /// the module's documentation); 0 sends none.
    pub prefetch: usize,
    /// A worker whose job ends sooner than this takes no new task: it
    /// finishes what it has, and exits.
    pub drain_before: Duration,
    /// A worker whose job ends sooner than this gets its replacement
    /// launched, so that the pool's capacity does not dip.
    pub replace_ahead: Duration,
    /// What a task must leave of its worker's job beyond what it is
    /// expected to take.
    pub walltime_margin: Duration,
    /// What a task without a `walltime` tag that never ran is expected to
    /// take.
    pub default_task_duration: Duration,
    /// How long a worker adopted from a daemon that died has to register
    /// with this one (see [`Pool::adopt`]).
    pub reconnect_grace: Duration,
    /// The licenses the pool schedules (see [`licenses`]).
    pub licenses: LicenseConfig,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_workers: 16,
            min_workers: 0,
            idle_timeout: Duration::from_secs(300),
            launch_batch_size: 4,
            arrays: false,
            launch_timeout: Duration::from_secs(300),
            heartbeat_timeout: Duration::from_secs(30),
            max_task_attempts: 3,
            max_launch_failures: 3,
            prefetch: DEFAULT_PREFETCH,
            drain_before: Duration::from_secs(120),
            replace_ahead: Duration::from_secs(300),
            walltime_margin: Duration::from_secs(60),
            default_task_duration: Duration::from_secs(60),
            reconnect_grace: Duration::from_secs(60),
            licenses: LicenseConfig::default(),
        }
    }
}
