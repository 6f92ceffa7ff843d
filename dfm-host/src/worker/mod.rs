//! `dfm worker`: connects to the daemon, proves it knows the secret, and
//! runs one task at a time until the daemon goes away. While busy it may
//! hold more tasks, sent ahead, and starts each the moment the one before
//! ends; the daemon can ask for a task back until then.
//!
//! A worker never outlives its daemon: when the connection drops, or on
//! `worker.shutdown` or a termination signal, it kills its running task's
//! whole process group and exits.
//!
//! - `state.rs`: what the worker decides (pure, unit-tested);
//! - `serve.rs`: the I/O loop that carries it out;
//! - `session.rs`: connecting and the handshake;
//! - `executor.rs`: running a task by its kind: `shell` (dfm's own
//!   clients' shell bodies, on `spawn.rs`, a vfork and exec of its own, and
//!   `child.rs`) or `python` (the original dv-flow-mgr's tasks, in a warm
//!   interpreter); `environment.rs` and `start_error.rs` serve both.

mod child;
mod environment;
mod executor;
mod original_shell;
mod python;
mod serve;
mod session;
mod shell;
mod spawn;
mod start_error;
mod state;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use dfm_wire::worker::job_env;

use crate::auth;

use self::executor::ExecutorSettings;

pub use self::child::Child;
/// The worker's side of the protocol, for tools that speak it without
/// running tasks (`dfm-bench --ceiling`).
pub use self::session::{next_message, open as open_session, send, Identity, Session};
pub use self::shell::{file_stem, ShellExecutor};
pub use self::start_error::StartError;

pub struct WorkerArgs {
    pub connect: String,
    pub resource_class: String,
    /// How long to keep trying to reach a daemon after losing this one
    /// (`pool.reconnect_grace`); zero: exit at once.
    pub reconnect_grace: Duration,
}

/// The longest one attempt to reach a daemon again may take: a daemon that
/// is stopped accepts connections but never answers.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause between attempts to reach a daemon again.
const RETRY_EVERY: Duration = Duration::from_millis(250);

pub fn run(args: WorkerArgs) -> Result<()> {
    let secret = std::env::var(job_env::SECRET).map_err(|_| {
        anyhow!("DFM_WORKER_TOKEN is not set: workers are started by `dfm daemon`, which passes its secret in the environment")
    })?;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let worker_id = match job_env::worker_id(var) {
        Ok(id) => id,
        // Started by hand: a name of its own.
        Err(_) if var(job_env::WORKER_IDS).is_none() => auth::random_hex(4)?,
        Err(why) => bail!("{why}"),
    };
    let job_id = job_id(var);
    let local_socket = std::env::var(job_env::SOCKET)
        .ok()
        .filter(|path| !path.is_empty())
        .filter(|_| {
            std::env::var(job_env::BOOT_ID)
                .ok()
                .is_some_and(|daemon| crate::procfs::boot_id().is_some_and(|mine| mine == daemon))
        });
    let settings = ExecutorSettings {
        python: std::env::var_os(job_env::PYTHON)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        native_dfm_out: native_dfm_out(),
        original_shell_in_python: std::env::var_os(job_env::ORIGINAL_SHELL_IN_PYTHON)
            .is_some_and(|v| v == "1"),
    };
    for name in job_env::PRIVATE {
        // Single-threaded here: the runtime has not started.
        std::env::remove_var(name);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let me = session::Identity {
        worker_id,
        resource_class: args.resource_class.clone(),
        job_id,
        secret,
    };
    runtime.block_on(async {
        let mut signals = serve::StopSignals::new().context("cannot handle signals")?;
        // After the signal handlers: tasks must get them back to default.
        let mut executors =
            executor::Executors::new(settings).context("cannot prepare to run tasks")?;
        let mut session = session::open(&args.connect, local_socket.clone(), &me).await?;
        eprintln!("worker {} registered with {}", me.worker_id, session.daemon);
        loop {
            let stopped = serve::serve(session, &me.worker_id, &mut executors, &mut signals)
                .await
                .context("cannot run tasks")?;
            if !stopped.daemon_lost || args.reconnect_grace.is_zero() {
                eprintln!("worker {} exiting: {}", me.worker_id, stopped.why);
                return Ok(());
            }
            let grace = args.reconnect_grace.as_secs_f64();
            eprintln!(
                "worker {}: {}; trying to reach its daemon or a replacement for {grace:.0} s",
                me.worker_id, stopped.why
            );
            let again = reconnect(&args, local_socket.clone(), &me, &mut signals).await;
            match again {
                Ok(again) => {
                    eprintln!(
                        "worker {} registered again with {}",
                        me.worker_id, again.daemon
                    );
                    session = again;
                }
                Err(why) => {
                    eprintln!("worker {} exiting: {why}", me.worker_id);
                    return Ok(());
                }
            }
        }
    })
}

/// Tries to register with a daemon at the same address until one accepts
/// this worker or the grace is over; a daemon that refuses it (one that
/// did not adopt it) or a stop signal ends the attempts.
async fn reconnect(
    args: &WorkerArgs,
    local_socket: Option<String>,
    me: &session::Identity,
    signals: &mut serve::StopSignals,
) -> Result<Session, String> {
    let deadline = tokio::time::Instant::now() + args.reconnect_grace;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            let grace = args.reconnect_grace.as_secs_f64();
            return Err(format!(
                "no daemon took this worker back within {grace:.0} s"
            ));
        }
        let attempt = session::open_saying(&args.connect, local_socket.clone(), me, false);
        tokio::select! {
            name = signals.next() => return Err(name.to_string()),
            result = tokio::time::timeout(left.min(ATTEMPT_TIMEOUT), attempt) => match result {
                Ok(Ok(session)) => return Ok(session),
                Ok(Err(refused @ session::SessionError::Refused(_))) => return Err(refused.to_string()),
                Ok(Err(_)) | Err(_) => {}
            },
        }
        tokio::select! {
            name = signals.next() => return Err(name.to_string()),
            _ = tokio::time::sleep(RETRY_EVERY.min(left)) => {}
        }
    }
}

/// The scheduler's name for this job: an element of a job array as the
/// scheduler writes it (`12[3]` for LSF, `12_3` for SLURM, `12.3` for Grid
/// Engine, which sets `SGE_TASK_ID=undefined` outside an array).
fn job_id(var: impl Fn(&str) -> Option<String>) -> String {
    if let (Some(job), Some(index)) = (var("LSB_JOBID"), var("LSB_JOBINDEX")) {
        if index != "0" {
            return format!("{job}[{index}]");
        }
    }
    if let (Some(job), Some(index)) = (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        return format!("{job}_{index}");
    }
    if let (Some(job), Some(index)) = (var("JOB_ID"), var("SGE_TASK_ID")) {
        return match index.as_str() {
            "undefined" => job,
            index => format!("{job}.{index}"),
        };
    }
    ["DFM_JOB_ID", "LSB_JOBID", "SLURM_JOB_ID"]
        .iter()
        .find_map(|name| var(name))
        .unwrap_or_default()
}

/// dfm's dfm-out, beside this worker's program (`dfm-worker` or `dfm`).
fn native_dfm_out() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.with_file_name("dfm-out")).filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::job_id;

    fn from(vars: &[(&str, &str)]) -> String {
        job_id(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn a_job_is_named_as_its_scheduler_names_it() {
        assert_eq!(from(&[("LSB_JOBID", "12"), ("LSB_JOBINDEX", "3")]), "12[3]");
        assert_eq!(from(&[("LSB_JOBID", "12"), ("LSB_JOBINDEX", "0")]), "12");
        let slurm = [("SLURM_ARRAY_JOB_ID", "12"), ("SLURM_ARRAY_TASK_ID", "3")];
        assert_eq!(from(&slurm), "12_3");
        assert_eq!(from(&[("JOB_ID", "12"), ("SGE_TASK_ID", "3")]), "12.3");
        assert_eq!(
            from(&[("JOB_ID", "12"), ("SGE_TASK_ID", "undefined")]),
            "12"
        );
        // JOB_ID alone is any program's: not Grid Engine's.
        assert_eq!(from(&[("JOB_ID", "12")]), "");
    }
}
