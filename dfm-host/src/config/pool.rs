//! `runner.pool`: the pool's settings, and what they become for the pool.

use std::time::Duration;

use dfm_wire::MAX_PREFETCH;
use serde::Deserialize;

use crate::pool::PoolConfig;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolSettings {
    pub min_workers: usize,
    pub max_workers: usize,
    /// Seconds.
    pub idle_timeout: f64,
    pub launch_batch_size: usize,
    pub launch_timeout: f64,
    pub heartbeat_interval: f64,
    pub heartbeat_timeout: f64,
    pub max_task_attempts: u32,
    pub max_launch_failures: u32,
    /// How often the runner is asked about its jobs, in seconds.
    pub poll_interval: f64,
    /// How many tasks a busy worker is sent ahead while tasks wait.
    pub prefetch: Prefetch,
    /// Launch a batch of workers of one class as one job array, where the
    /// runner has them.
    pub launch_as_array: bool,
    /// Seconds before its job's end from which a worker takes no new task.
    pub drain_before: f64,
    /// Seconds before its job's end at which a worker's replacement is
    /// launched.
    pub replace_ahead: f64,
    /// Seconds a task must leave of its worker's job beyond what it is
    /// expected to take.
    pub walltime_margin: f64,
    /// Seconds a task without a walltime tag that never ran is expected to
    /// take.
    pub default_task_duration: f64,
    /// Seconds a worker whose daemon is gone keeps trying to reach it (or
    /// its replacement) before it exits; and how long a replacement waits
    /// for the workers it adopts to come back.
    pub reconnect_grace: f64,
    /// Seconds a dfm command (`dfm run`, `daemon status`, `stop`, the
    /// monitor) waits for the daemon to answer a ping before it calls it
    /// unresponsive.
    pub client_timeout: f64,
    /// Seconds a resource class may wait for a license before classes
    /// that need the same license make way for it.
    pub license_patience: f64,
}

/// `pool.prefetch`: a number of tasks, or `true` (the default number) or
/// `false` (none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prefetch(pub usize);

impl<'de> Deserialize<'de> for Prefetch {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Flag(bool),
            Depth(u64),
        }
        match Given::deserialize(deserializer) {
            Ok(Given::Flag(true)) => Ok(Prefetch(crate::pool::DEFAULT_PREFETCH)),
            Ok(Given::Flag(false)) => Ok(Prefetch(0)),
            Ok(Given::Depth(n)) => Ok(Prefetch(usize::try_from(n).unwrap_or(usize::MAX))),
            Err(_) => Err(serde::de::Error::custom(
                "pool.prefetch is true, false or a number of tasks (0 for none)",
            )),
        }
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            min_workers: 0,
            max_workers: 16,
            idle_timeout: 300.0,
            launch_batch_size: 4,
            launch_timeout: 300.0,
            heartbeat_interval: 10.0,
            heartbeat_timeout: 30.0,
            max_task_attempts: 3,
            max_launch_failures: 3,
            poll_interval: 1.0,
            prefetch: Prefetch(crate::pool::DEFAULT_PREFETCH),
            launch_as_array: true,
            drain_before: 120.0,
            replace_ahead: 300.0,
            walltime_margin: 60.0,
            default_task_duration: 60.0,
            reconnect_grace: 60.0,
            client_timeout: 5.0,
            license_patience: 60.0,
        }
    }
}

impl PoolSettings {
    pub fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            max_workers: self.max_workers,
            min_workers: self.min_workers,
            idle_timeout: secs(self.idle_timeout),
            launch_batch_size: self.launch_batch_size,
            // The daemon sets it once it knows whether its runner has arrays.
            arrays: false,
            launch_timeout: secs(self.launch_timeout),
            heartbeat_timeout: secs(self.heartbeat_timeout),
            max_task_attempts: self.max_task_attempts,
            max_launch_failures: self.max_launch_failures,
            prefetch: self.prefetch.0,
            drain_before: secs(self.drain_before),
            replace_ahead: secs(self.replace_ahead),
            walltime_margin: secs(self.walltime_margin),
            default_task_duration: secs(self.default_task_duration),
            reconnect_grace: secs(self.reconnect_grace),
            // RunnerConfig::pool_config adds the licenses.
            licenses: crate::pool::LicenseConfig {
                patience: secs(self.license_patience),
                ..Default::default()
            },
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if self.max_workers == 0 {
            return Err("pool.max_workers (--pool-size) must be at least 1".into());
        }
        if self.min_workers > self.max_workers {
            return Err(format!(
                "pool.min_workers ({}) is larger than pool.max_workers ({})",
                self.min_workers, self.max_workers
            ));
        }
        let times = [
            ("idle_timeout", self.idle_timeout),
            ("launch_timeout", self.launch_timeout),
            ("heartbeat_interval", self.heartbeat_interval),
            ("heartbeat_timeout", self.heartbeat_timeout),
            ("poll_interval", self.poll_interval),
            ("reconnect_grace", self.reconnect_grace),
            ("client_timeout", self.client_timeout),
        ];
        for (name, value) in times {
            if !(value > 0.0 && value.is_finite()) {
                return Err(format!(
                    "pool.{name} must be a positive number of seconds, not {value}"
                ));
            }
        }
        let spans = [
            ("drain_before", self.drain_before),
            ("replace_ahead", self.replace_ahead),
            ("walltime_margin", self.walltime_margin),
            ("default_task_duration", self.default_task_duration),
            ("license_patience", self.license_patience),
        ];
        for (name, value) in spans {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(format!(
                    "pool.{name} must be a number of seconds, 0 or more, not {value}"
                ));
            }
        }
        if self.replace_ahead < self.drain_before {
            return Err(format!(
                "pool.replace_ahead ({}) must be at least pool.drain_before ({}): a worker's replacement starts before it stops taking tasks",
                self.replace_ahead, self.drain_before
            ));
        }
        if self.prefetch.0 > MAX_PREFETCH {
            return Err(format!(
                "pool.prefetch ({}) may be at most {MAX_PREFETCH}",
                self.prefetch.0
            ));
        }
        if self.heartbeat_timeout <= self.heartbeat_interval {
            return Err(format!(
                "pool.heartbeat_timeout ({}) must be longer than pool.heartbeat_interval ({})",
                self.heartbeat_timeout, self.heartbeat_interval
            ));
        }
        Ok(())
    }
}

pub fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
}
