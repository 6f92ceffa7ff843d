//! The daemon process: takes the project's lock, loads the runner plugin,
//! opens the client socket and the worker port, writes `daemon.json`, runs
//! the core until shutdown, and cleans up after itself.

mod adoption;
mod client_thread;
mod clients;
mod connections;
mod core;
mod durations;
mod environments;
mod event;
mod feed;
mod handshake;
pub mod journal;
mod license_queries;
mod line_writers;
mod metrics;
mod runner_calls;
mod server;
mod worker_links;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tokio::sync::oneshot;

pub use self::server::serve;
use crate::config::{CliOverrides, Layers};
use crate::plugin::Plugin;
use crate::project::Project;

/// How long the daemon waits for client replies to drain on exit.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Set by `dfm daemon start` for the daemon it detaches: its stderr is
/// `.dfm/daemon.log`, to be emptied once the daemon holds the lock.
pub const FRESH_LOG: &str = "DFM_DAEMON_FRESH_LOG";

/// What became of [`run_foreground`].
pub enum Served {
    /// The daemon ran and was shut down.
    Ran,
    /// Another daemon holds the project's lock (running, or starting).
    LockTaken,
}

/// Runs the daemon in this process until it is shut down.
pub fn run_foreground(project: &Project, overrides: &CliOverrides) -> Result<Served> {
    project.ensure_dir()?;
    let Some(_lock) = project.try_lock()? else {
        return Ok(Served::LockTaken);
    };
    // `dfm daemon start` opened the log for appending, as several may
    // start at once; the one that won starts it afresh.
    if std::env::var_os(FRESH_LOG).is_some() {
        // Single-threaded still: no runtime or plugin thread has started.
        std::env::remove_var(FRESH_LOG);
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .open(project.log_path())
            .and_then(|log| log.set_len(0));
    }
    // We hold the lock: whatever state a previous daemon left is stale.
    project.remove_stale();

    let config = Layers::for_project(&project.root).load(overrides)?;
    let plugin = Plugin::find(&config.runner)?;
    let runner = plugin.new_runner(&config.plugin_config_json())?;
    tracing::info!(
        "runner '{}' from {} (pool size {})",
        plugin.name,
        plugin.path.display(),
        config.pool.max_workers
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let listen = Listen {
        socket: project.socket_path(),
        state_file: true,
        handle_signals: true,
        ready: None,
    };
    let result = runtime.block_on(serve(project, config, plugin.name.clone(), runner, listen));
    project.remove_stale();
    // Plugin calls may still be winding down on blocking threads.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result.map(|()| Served::Ran)
}

/// Where and how a pool server listens.
pub struct Listen {
    pub socket: PathBuf,
    /// Write `daemon.json` (the project's daemon), or not (an ephemeral
    /// pool inside `dfm run`).
    pub state_file: bool,
    /// Shut down on SIGTERM, SIGINT and SIGHUP.
    pub handle_signals: bool,
    /// Told once clients can connect.
    pub ready: Option<oneshot::Sender<()>>,
}

/// The current UTC time as `2026-01-01T00:00:00Z`.
pub fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
    }
}
