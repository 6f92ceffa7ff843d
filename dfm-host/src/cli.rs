//! The command line, defined once; each subcommand hands off to its module.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

use crate::commands;
use crate::commands::run::RunArgs;
use crate::config::CliOverrides;
use crate::monitor;
use crate::project::Project;
use crate::worker::{self, WorkerArgs};

/// `dfm --version`: dfm's version, the plugin API it speaks, and the
/// source revision it was built from.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (plugin API {}, source {})",
        env!("CARGO_PKG_VERSION"),
        dfm_plugin_api::API_VERSION,
        env!("DFM_SOURCE_REVISION")
    )
});

#[derive(Debug, Parser)]
#[command(
    name = "dfm",
    version = VERSION.as_str(),
    about = "A warm pool of workers for shell tasks on local machines and LSF/SLURM farms"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start, stop or inspect the project's daemon.
    #[command(args_conflicts_with_subcommands = true)]
    Daemon {
        /// Attach the live monitor to the project's running daemon.
        #[arg(long)]
        monitor: bool,
        /// Project root, with --monitor (default: the current folder).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<DaemonAction>,
    },
    /// Run tasks of the project's flow (through its daemon, or an ephemeral pool).
    Run(RunArgs),
    /// List the runner plugins on the search path, and why any cannot load.
    Plugins,
    /// Run tasks for a daemon (started by the runner plugin, not by hand).
    Worker {
        /// The daemon's worker address, HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        connect: String,
        /// The resource class this worker serves.
        #[arg(long, value_name = "CLASS", default_value = "")]
        resource_class: String,
        /// Seconds to keep trying to reach a daemon after losing this one.
        #[arg(long, value_name = "SECS", default_value_t = 0.0)]
        reconnect_grace: f64,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to
    /// stdout; bash and fish also complete `dfm run`'s task names.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (dfm.1 and one per subcommand) into DIR.
    #[command(hide = true)]
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// The task names of the flow here, for shell completion.
    #[command(hide = true)]
    CompleteTasks,
    /// Any other subcommand (graph, show, validate, cache, ...) is the
    /// original dv-flow-mgr's, which runs it with the same arguments.
    #[command(external_subcommand)]
    Original(Vec<OsString>),
}

#[derive(Debug, Subcommand)]
enum DaemonAction {
    /// Start the daemon for this project (detached unless --foreground).
    Start {
        /// Runner plugin: a name (local, lsf, slurm, ...) or a path to a plugin .so.
        #[arg(long, value_name = "NAME|PATH")]
        runner: Option<String>,
        /// Maximum number of workers.
        #[arg(long, value_name = "N")]
        pool_size: Option<usize>,
        /// Project root (default: the current folder).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Run in this process instead of detaching.
        #[arg(long, conflicts_with = "monitor")]
        foreground: bool,
        /// Attach the live monitor once the daemon runs (q detaches; the daemon keeps running).
        #[arg(long)]
        monitor: bool,
    },
    /// Replace the daemon with a new one (this dfm) that adopts its workers:
    /// no new launch; runs send the new daemon the tasks that had no result.
    Restart {
        /// Runner plugin (default: the running daemon's).
        #[arg(long, value_name = "NAME|PATH")]
        runner: Option<String>,
        /// Maximum number of workers (default: the running daemon's).
        #[arg(long, value_name = "N")]
        pool_size: Option<usize>,
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Stop the daemon, its workers and their tasks.
    Stop {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Seconds to wait for the daemon to exit once it agreed to.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
        /// Do not ask: stop the daemon with signals at once, then its workers.
        #[arg(long)]
        force: bool,
    },
    /// Show the daemon's pid, workers and tasks.
    Status {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// A command line of the original dv-flow-mgr's that dfm's own parser
/// would refuse (one that starts with the original's global options), handed
/// over whole.
pub fn hand_over_if_original(args: &[OsString]) -> Option<Result<i32>> {
    let first = args.first()?.to_str()?;
    let option = first.split('=').next().unwrap_or(first);
    if !commands::handover::GLOBAL_OPTIONS.contains(&option) {
        return None;
    }
    let why = format!("'{first}' is an option of the original dv-flow-mgr");
    let root = std::env::current_dir().unwrap_or_default();
    Some(commands::handover::hand_over(&root, args, &why))
}

impl Cli {
    /// Processes that log to a file and want more than warnings.
    pub fn is_daemon_process(&self) -> bool {
        matches!(
            self.command,
            Command::Worker { .. }
                | Command::Daemon {
                    action: Some(DaemonAction::Start {
                        foreground: true,
                        ..
                    }),
                    ..
                }
        )
    }
}

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Daemon {
            monitor,
            root,
            action,
        } => match action {
            None if monitor => monitor::attach(&Project::at(root.as_deref())?),
            None => bail!(
                "dfm daemon needs one of: start, stop, status, --monitor (see dfm daemon --help)"
            ),
            Some(DaemonAction::Start {
                runner,
                pool_size,
                root,
                foreground,
                monitor,
            }) => {
                let code = commands::daemon::start(commands::daemon::StartArgs {
                    root: root.clone(),
                    overrides: CliOverrides {
                        runner,
                        pool_size,
                        options: Vec::new(),
                    },
                    foreground,
                })?;
                if code != 0 || !monitor {
                    return Ok(code);
                }
                monitor::attach(&Project::at(root.as_deref())?)
            }
            Some(DaemonAction::Restart {
                runner,
                pool_size,
                root,
            }) => commands::daemon::restart(commands::daemon::StartArgs {
                root,
                overrides: CliOverrides {
                    runner,
                    pool_size,
                    options: Vec::new(),
                },
                foreground: false,
            }),
            Some(DaemonAction::Stop {
                root,
                timeout,
                force,
            }) => commands::daemon::stop(root.as_deref(), Duration::from_secs(timeout), force),
            Some(DaemonAction::Status { root, json }) => {
                commands::daemon::status(root.as_deref(), json)
            }
        },
        Command::Run(args) => commands::run::run(args),
        Command::Plugins => commands::plugins::list(),
        Command::Completions { shell } => {
            commands::completions::completions(shell, <Cli as clap::CommandFactory>::command())
        }
        Command::Manpages { dir } => {
            commands::completions::manpages(&dir, <Cli as clap::CommandFactory>::command())
        }
        Command::CompleteTasks => commands::completions::task_names(),
        Command::Worker {
            connect,
            resource_class,
            reconnect_grace,
        } => worker::run(WorkerArgs {
            connect,
            resource_class,
            reconnect_grace: crate::config::secs(reconnect_grace.max(0.0)),
        })
        .map(|()| 0),
        Command::Original(args) => {
            let name = args
                .first()
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default();
            let why = format!("'dfm {name}' is a command of the original dv-flow-mgr");
            let root = std::env::current_dir().unwrap_or_default();
            commands::handover::hand_over(&root, &args, &why)
        }
    }
}
