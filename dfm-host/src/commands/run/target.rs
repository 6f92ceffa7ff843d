//! Where a run's tasks go: the project's daemon, or an ephemeral pool of
//! the run's own (the same pool server, in this process, gone when the run
//! ends).

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _, Result};
use dfm_wire::ClientCall;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::args::RunArgs;
use crate::client::Connection;
use crate::config::{CliOverrides, Layers};
use crate::plugin::{self, Plugin};
use crate::project::{Probe, Project};

pub enum Target {
    Daemon {
        pid: u32,
        socket: PathBuf,
        pool_size: usize,
    },
    Ephemeral,
}

/// A pool the run submits to.
pub struct Pool {
    pub socket: PathBuf,
    /// Tasks in flight at once.
    pub jobs: usize,
    /// What the user is told the tasks run on.
    pub mode: String,
    /// The ephemeral pool's server.
    server: Option<JoinHandle<Result<()>>>,
    /// The daemon's pid.
    pid: Option<u32>,
    _socket_dir: Option<PrivateDir>,
}

impl Target {
    /// The project's live daemon, else an ephemeral pool (a stale state
    /// file is removed, and the user told).
    pub fn choose(project: &Project, args: &RunArgs) -> Result<Target> {
        Ok(match project.probe() {
            Probe::Running(state) => {
                if let Some(asked) = &args.runner {
                    let asked = plugin::runner_name(asked);
                    if asked != state.runner {
                        bail!(
                            "this project's daemon (pid {}) runs the '{}' runner, but --runner asks for '{asked}'. \
                             Drop --runner to run on the daemon, or stop it first (dfm daemon stop) to run on an ephemeral '{asked}' pool.",
                            state.pid,
                            state.runner
                        );
                    }
                }
                if !args.runner_opts.is_empty() {
                    eprintln!(
                        "note: --runner-opt is ignored: tasks run on the daemon (pid {}), which has its own configuration",
                        state.pid
                    );
                }
                Target::Daemon {
                    pid: state.pid,
                    socket: PathBuf::from(state.socket),
                    pool_size: state.pool_size,
                }
            }
            Probe::Stale { pid } => {
                if !project.remove_stale_if_unlocked() {
                    // A daemon is starting: its file is not written yet.
                    return Ok(Target::Ephemeral);
                }
                let who = pid
                    .map(|p| format!(" (pid {p} is gone)"))
                    .unwrap_or_default();
                eprintln!(
                    "removed stale {}{who}; running on an ephemeral pool",
                    project.state_path().display()
                );
                Target::Ephemeral
            }
            Probe::Absent => Target::Ephemeral,
        })
    }

    /// The pool to submit to, started if it is ephemeral.
    /// The daemon's pid, for a project daemon.
    pub fn daemon_pid(&self) -> Option<u32> {
        match self {
            Target::Daemon { pid, .. } => Some(*pid),
            Target::Ephemeral => None,
        }
    }

    pub async fn open(self, project: &Project, args: &RunArgs) -> Result<Pool> {
        match self {
            Target::Daemon {
                pid,
                socket,
                pool_size,
            } => Ok(Pool {
                socket,
                jobs: args.jobs.unwrap_or(pool_size.max(1)),
                mode: format!("daemon pid {pid}"),
                server: None,
                pid: Some(pid),
                _socket_dir: None,
            }),
            Target::Ephemeral => start_ephemeral(project, args).await,
        }
    }
}

async fn start_ephemeral(project: &Project, args: &RunArgs) -> Result<Pool> {
    let overrides = CliOverrides {
        runner: args.runner.clone(),
        pool_size: args.jobs,
        options: args.runner_opts.clone(),
    };
    let config = Layers::for_project(&project.root).load(&overrides)?;
    let plugin = Plugin::find(&config.runner)?;
    let runner = plugin.new_runner(&config.plugin_config_json())?;
    let dir = PrivateDir::new()?;
    let socket = dir.path.join("pool.sock");
    let jobs = args.jobs.unwrap_or(config.pool.max_workers);
    let mode = format!("ephemeral {} pool", plugin.name);
    let (ready_tx, ready) = oneshot::channel();
    let listen = crate::daemon::Listen {
        socket: socket.clone(),
        state_file: false,
        handle_signals: false,
        ready: Some(ready_tx),
    };
    let project = project.clone();
    let name = plugin.name.clone();
    let server =
        tokio::spawn(
            async move { crate::daemon::serve(&project, config, name, runner, listen).await },
        );
    if ready.await.is_err() {
        let error = match server.await {
            Ok(Err(e)) => e,
            _ => anyhow!("the ephemeral pool stopped before it was ready"),
        };
        return Err(error.context("cannot start an ephemeral pool"));
    }
    Ok(Pool {
        socket,
        jobs,
        mode,
        server: Some(server),
        pid: None,
        _socket_dir: Some(dir),
    })
}

impl Pool {
    /// Stops an ephemeral pool, which stops its workers (and, on
    /// interrupt, their tasks); a daemon keeps running.
    /// A project daemon's, not an ephemeral pool of this run.
    pub fn is_daemon(&self) -> bool {
        self.server.is_none()
    }

    pub fn daemon_pid(&self) -> Option<u32> {
        self.pid
    }

    pub async fn close(self, mut connection: Connection) -> Result<()> {
        let Some(server) = self.server else {
            return Ok(());
        };
        let _ = connection
            .call(ClientCall::Shutdown {
                keep_workers: false,
            })
            .await;
        drop(connection);
        match server.await {
            Ok(result) => result,
            Err(e) => bail!("the ephemeral pool failed: {e}"),
        }
    }
}

/// A private folder for an ephemeral pool's socket, removed on drop.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn new() -> Result<PrivateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let path = base.join(format!(
            "dfm-run-{}-{}",
            std::process::id(),
            crate::auth::random_hex(4)?
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
