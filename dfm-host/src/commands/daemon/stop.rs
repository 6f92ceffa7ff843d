//! `dfm daemon stop [--force]`: asks the daemon to stop and waits until it
//! is gone. A daemon that does not answer within `pool.client_timeout`,
//! or does not exit within `--timeout`, is stopped by force: SIGTERM (and
//! SIGCONT, so that a stopped daemon can still shut down cleanly), then
//! SIGKILL, of the daemon only and only while it still holds the project's
//! lock; then dfm does what the daemon would have done: terminates the
//! worker jobs of its journal through its runner plugin (cluster jobs
//! included) and removes its state file, sockets and journal.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use dfm_plugin_api::JobHandle;
use dfm_wire::ClientCall;

use super::status::not_answering;
use crate::client::{self, Connection};
use crate::config::{CliOverrides, Layers};
use crate::daemon::journal::JournalFile;
use crate::plugin::Plugin;
use crate::project::{DaemonState, Probe, Project};

/// How long a daemon has to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(5);

pub fn stop(root: Option<&Path>, timeout: Duration, force: bool) -> Result<i32> {
    let project = Project::at(root)?;
    let state = match project.probe() {
        Probe::Absent => {
            eprintln!("no dfm daemon is running for {}", project.root.display());
            return Ok(1);
        }
        Probe::Stale { pid } => {
            super::clear_stale(&project, pid);
            if !project.lock_is_held() {
                end_leftover_jobs(&project);
            }
            eprintln!("no dfm daemon is running for {}", project.root.display());
            return Ok(1);
        }
        Probe::Running(state) => state,
    };
    if !force && asked_and_gone(&project, &state, timeout)? {
        project.remove_stale_if_unlocked();
        println!("dfm daemon stopped (pid {})", state.pid);
        return Ok(0);
    }
    force_stop(&project, &state)?;
    end_leftover_jobs(&project);
    project.remove_stale_if_unlocked();
    println!("dfm daemon stopped by force (pid {})", state.pid);
    Ok(0)
}

/// Asks the daemon to shut down; true once it is gone, false if it did
/// not answer or exit in time (it is then stopped by force).
fn asked_and_gone(project: &Project, state: &DaemonState, timeout: Duration) -> Result<bool> {
    let answer_within = client::settings_for(&project.root).timeout;
    let asked = super::runtime()?.block_on(async {
        let mut connection = Connection::connect(Path::new(&state.socket)).await?;
        let shutdown = ClientCall::Shutdown {
            keep_workers: false,
        };
        connection.call_within(shutdown, answer_within).await
    });
    if asked.is_err() {
        eprintln!("{}", not_answering(project, state.pid, answer_within));
        eprintln!("stopping it by force");
        return Ok(false);
    }
    // The lock goes a moment before the process does; "stopped" means gone.
    if gone_within(project, state.pid, timeout) {
        return Ok(true);
    }
    eprintln!(
        "the daemon (pid {}) did not exit within {:.0} s of agreeing to (see {}); stopping it by force",
        state.pid,
        timeout.as_secs_f64(),
        project.log_path().display()
    );
    Ok(false)
}

pub(super) fn gone_within(project: &Project, pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while project.lock_is_held() || crate::procfs::is_live(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// SIGTERM, then SIGKILL, to the daemon of `state`, while it holds the lock.
fn force_stop(project: &Project, state: &DaemonState) -> Result<()> {
    let pid = state.pid;
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGKILL, "SIGKILL")] {
        match project.lock_holder() {
            Some(holder) if holder != pid => bail!(
                "the lock of {} is held by pid {holder}, not by the daemon of daemon.json (pid {pid}): \
                 not signalling anything; look at that process",
                project.root.display()
            ),
            Some(_) => {}
            None if !project.lock_is_held() => return Ok(()), // it is gone
            // Held, but the kernel does not say by whom (a lock on NFS from
            // another host?): only a process that is this project's daemon.
            None if project.is_daemon_process(pid) => {}
            None => bail!(
                "the lock of {} is held, and pid {pid} is not its daemon: not signalling anything. \
                 Is the daemon running on another host?",
                project.root.display()
            ),
        }
        eprintln!("sending {name} to the daemon (pid {pid})");
        // SAFETY: kill has no memory-safety preconditions; the pid holds
        // our lock, so it is our daemon.
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
            if signal == libc::SIGTERM {
                // A stopped daemon handles SIGTERM only once it runs.
                libc::kill(pid as libc::pid_t, libc::SIGCONT);
            }
        }
        if gone_within(project, pid, TERM_GRACE) {
            return Ok(());
        }
    }
    bail!("the daemon (pid {pid}) is still there after SIGKILL: it may be stuck in the kernel (a dead NFS mount?)")
}

/// Terminates the worker jobs a daemon that is gone left in its journal,
/// through its runner plugin, and removes the journal.
pub fn end_leftover_jobs(project: &Project) {
    let file = JournalFile::new(project.journal_path());
    let journal = match file.load(&project.root) {
        Ok(Some(journal)) => journal,
        Ok(None) => return,
        Err(e) => {
            eprintln!("{e}; its worker jobs, if any, exit by themselves");
            file.set_aside();
            return;
        }
    };
    if !journal.workers.is_empty() {
        match runner_of(project, &journal.runner) {
            Ok(runner) => {
                for worker in &journal.workers {
                    let job = match worker.pid {
                        Some(pid) => JobHandle::with_pid(&worker.job_id, pid),
                        None => JobHandle::new(&worker.job_id),
                    };
                    if let Err(e) = runner.terminate(&job) {
                        eprintln!("cannot terminate worker job {}: {e}", worker.job_id);
                    }
                }
                eprintln!(
                    "terminated the {} worker jobs of the daemon",
                    journal.workers.len()
                );
            }
            Err(e) => eprintln!(
                "cannot load the '{}' runner to terminate the daemon's {} worker jobs ({e:#}); they exit by themselves within pool.reconnect_grace",
                journal.runner,
                journal.workers.len()
            ),
        }
    }
    let _ = std::fs::remove_file(file.path());
}

fn runner_of(project: &Project, name: &str) -> Result<crate::plugin::Runner> {
    let overrides = CliOverrides {
        runner: Some(name.to_string()),
        ..CliOverrides::default()
    };
    let config = Layers::for_project(&project.root).load(&overrides)?;
    let plugin = Plugin::find(&config.runner)?;
    Ok(plugin.new_runner(&config.plugin_config_json())?)
}
