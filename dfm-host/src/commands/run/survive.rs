//! A run that outlives its daemon. When the daemon dies or stops
//! answering, the run waits `pool.reconnect_grace` for a replacement (a
//! `dfm daemon start` or `restart`, which adopts the old daemon's
//! workers), sends it again every task that had no result, and otherwise
//! finishes on an ephemeral pool of its own. A task whose worker or daemon
//! died may so run twice; the run counts its last result only.

use std::time::{Duration, Instant};

use anyhow::Result;
use dfm_wire::ClientCall;

use super::args::RunArgs;
use super::target::{Pool, Target};
use crate::client::{self, Connection, Ping};
use crate::project::{Probe, Project};

/// How often the run looks for a replacement daemon.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// A connection to the replacement of a daemon that was lost: the
/// project's new daemon within `grace`, else an ephemeral pool.
pub async fn replacement(
    project: &Project,
    args: &RunArgs,
    lost_pid: Option<u32>,
    grace: Duration,
    timeout: Duration,
    warn: &mut dyn FnMut(&str),
) -> Result<(Pool, Connection)> {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Probe::Running(state) = project.probe() {
            let socket = std::path::PathBuf::from(&state.socket);
            if Some(state.pid) != lost_pid && client::ping(&socket, timeout).await == Ping::Answered
            {
                warn(&format!(
                    "a new daemon (pid {}) took over: sending it the tasks that had no result",
                    state.pid
                ));
                let target = Target::Daemon {
                    pid: state.pid,
                    socket,
                    pool_size: state.pool_size,
                };
                if let Ok(found) = connect(target.open(project, args).await?, timeout).await {
                    return Ok(found);
                }
            }
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
    warn(&format!(
        "no daemon took over within {:.0} s: finishing on an ephemeral pool",
        grace.as_secs_f64()
    ));
    connect(Target::Ephemeral.open(project, args).await?, timeout).await
}

/// Connects to `pool` and asks to hear when the run's tasks start; an
/// error if it does not answer within `timeout`.
pub async fn connect(pool: Pool, timeout: Duration) -> Result<(Pool, Connection)> {
    let mut connection = tokio::time::timeout(timeout, Connection::connect(&pool.socket))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {:.0} s", timeout.as_secs_f64()))??;
    // Only to hear when our tasks start: the monitor's other events would
    // cost both sides CPU on every task.
    connection
        .call_within(ClientCall::Subscribe { own_tasks: true }, timeout)
        .await?;
    Ok((pool, connection))
}
