//! `dfm daemon start | restart` (here), `stop` and `status`.

mod status;
mod stop;

pub use self::status::status;
pub use self::stop::stop;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::client::{self, Connection};
use crate::config::{CliOverrides, Layers};
use crate::plugin::Plugin;
use crate::project::{Probe, Project};
use dfm_wire::ClientCall;

/// How long `start` waits for the new daemon to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct StartArgs {
    pub root: Option<std::path::PathBuf>,
    pub overrides: CliOverrides,
    pub foreground: bool,
}

/// The exit status of `dfm daemon start --foreground` that found the
/// lock taken: another daemon won the race to start.
const LOST_THE_RACE: i32 = 3;

/// Says what became of a stale state file (left alone if a daemon is
/// starting: it holds the lock and will write its own).
pub(super) fn clear_stale(project: &Project, pid: Option<u32>) {
    let who = pid
        .map(|p| format!(" (pid {p} is not a running dfm daemon)"))
        .unwrap_or_default();
    if project.remove_stale_if_unlocked() {
        eprintln!("removed stale {}{who}", project.state_path().display());
    }
}

fn say_already_running(project: &Project, state: &crate::project::DaemonState) {
    println!(
        "dfm daemon already running for {} (pid {}, runner {})",
        project.root.display(),
        state.pid,
        state.runner
    );
}

/// Another `start` won the race: waits until its daemon answers, and says
/// so; an error if it died or never answered.
fn wait_for_the_winner(project: &Project, runtime: &tokio::runtime::Runtime) -> Result<i32> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Probe::Running(state) = project.probe() {
            if runtime.block_on(ping(Path::new(&state.socket))) {
                say_already_running(project, &state);
                return Ok(0);
            }
        } else if !project.lock_is_held() {
            bail!(
                "another dfm daemon was starting for {} but exited; see {}",
                project.root.display(),
                project.log_path().display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "another dfm daemon is starting for {} but did not answer within {START_TIMEOUT:?}; see {}",
                project.root.display(),
                project.log_path().display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn start(args: StartArgs) -> Result<i32> {
    let project = Project::at(args.root.as_deref())?;
    project.ensure_dir()?;
    match project.probe() {
        Probe::Running(state) if args.foreground => {
            eprintln!(
                "a dfm daemon is already running for {} (pid {})",
                project.root.display(),
                state.pid
            );
            return Ok(LOST_THE_RACE);
        }
        Probe::Running(state) => {
            say_already_running(&project, &state);
            return Ok(0);
        }
        Probe::Stale { pid } => clear_stale(&project, pid),
        Probe::Absent => {}
    }
    if args.foreground {
        return Ok(
            match crate::daemon::run_foreground(&project, &args.overrides)? {
                crate::daemon::Served::Ran => 0,
                crate::daemon::Served::LockTaken => {
                    eprintln!(
                        "a dfm daemon is already running or starting for {}",
                        project.root.display()
                    );
                    LOST_THE_RACE
                }
            },
        );
    }
    // Fail here, with a clean message, rather than in the detached child.
    let config = Layers::for_project(&project.root).load(&args.overrides)?;
    Plugin::find(&config.runner)?.new_runner(&config.plugin_config_json())?;

    // Appended to, not truncated: a start that loses the race to another
    // must not wipe the winner's log.
    let log_path = project.log_path();
    let log = OpenOptions::new()
        .create(true)
        .mode(0o600)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let log_err = log.try_clone()?;
    let exe = std::env::current_exe().context("cannot find the dfm executable")?;
    let mut command = Command::new(exe);
    command
        .args(["daemon", "start", "--foreground", "--root"])
        .arg(&project.root)
        .args(["--runner", &config.runner])
        .args(["--pool-size", &config.pool.max_workers.to_string()])
        .env(crate::daemon::FRESH_LOG, "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from our
    // terminal and session so it survives us.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().context("cannot start the daemon process")?;

    let deadline = Instant::now() + START_TIMEOUT;
    let runtime = runtime()?;
    loop {
        if let Some(status) = child.try_wait()? {
            if status.code() == Some(LOST_THE_RACE) {
                return wait_for_the_winner(&project, &runtime);
            }
            bail!(
                "the daemon exited during startup ({status}).\n{}\nFull log: {}",
                log_tail(&log_path, 10),
                log_path.display()
            );
        }
        if runtime.block_on(ping(&project.socket_path())) {
            // Ours, not one another start got running meanwhile.
            if let Probe::Running(state) = project.probe() {
                if state.pid == child.id() {
                    println!(
                        "dfm daemon started (pid {}, runner {})",
                        state.pid, state.runner
                    );
                    return Ok(0);
                }
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the daemon (pid {}) did not answer within {START_TIMEOUT:?}; see {}",
                child.id(),
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `dfm daemon restart`: the daemon stops but leaves its workers running,
/// and a new one (this dfm, perhaps a newer version) adopts them: no new
/// launch. Runs see their daemon go, and send the new one the tasks that
/// had no result. With the old daemon's runner and pool size unless given.
pub fn restart(mut args: StartArgs) -> Result<i32> {
    let project = Project::at(args.root.as_deref())?;
    if let Probe::Running(state) = project.probe() {
        let timeout = client::settings_for(&project.root).timeout;
        let asked = runtime()?.block_on(async {
            let mut connection = Connection::connect(Path::new(&state.socket)).await?;
            let shutdown = ClientCall::Shutdown { keep_workers: true };
            connection.call_within(shutdown, timeout).await
        });
        if asked.is_err() {
            bail!(
                "{} It cannot be restarted.",
                status::not_answering(&project, state.pid, timeout)
            );
        }
        if !stop::gone_within(&project, state.pid, START_TIMEOUT) {
            bail!(
                "the daemon (pid {}) did not exit within {START_TIMEOUT:?} of agreeing to; see {}",
                state.pid,
                project.log_path().display()
            );
        }
        eprintln!(
            "dfm daemon stopped (pid {}), its workers left for the next one",
            state.pid
        );
        args.overrides.runner.get_or_insert(state.runner);
        args.overrides.pool_size.get_or_insert(state.pool_size);
    }
    start(args)
}

/// Whether the daemon on `socket` answers a ping within a second: one
/// starting up answers at once.
async fn ping(socket: &Path) -> bool {
    crate::client::ping(socket, Duration::from_secs(1)).await == crate::client::Ping::Answered
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
