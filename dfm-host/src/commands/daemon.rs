//! `dfm daemon start | stop | status`.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::client::Connection;
use crate::config::{CliOverrides, Layers};
use crate::plugin::Plugin;
use crate::project::{Probe, Project};
use dfm_wire::{ClientCall, DaemonStatus};

/// How long `start` waits for the new daemon to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct StartArgs {
    pub root: Option<std::path::PathBuf>,
    pub overrides: CliOverrides,
    pub foreground: bool,
}

/// Says what became of a stale state file.
fn clear_stale(project: &Project, pid: Option<u32>) {
    let who = pid
        .map(|p| format!(" (pid {p} is not a running dfm daemon)"))
        .unwrap_or_default();
    project.remove_stale();
    eprintln!("removed stale {}{who}", project.state_path().display());
}

pub fn start(args: StartArgs) -> Result<i32> {
    let project = Project::at(args.root.as_deref())?;
    project.ensure_dir()?;
    match project.probe() {
        Probe::Running(state) => {
            println!(
                "dfm daemon already running for {} (pid {}, runner {})",
                project.root.display(),
                state.pid,
                state.runner
            );
            return Ok(0);
        }
        Probe::Stale { pid } => clear_stale(&project, pid),
        Probe::Absent => {}
    }
    if args.foreground {
        crate::daemon::run_foreground(&project, &args.overrides)?;
        return Ok(0);
    }
    // Fail here, with a clean message, rather than in the detached child.
    let config = Layers::for_project(&project.root).load(&args.overrides)?;
    Plugin::find(&config.runner)?.new_runner(&config.plugin_config_json())?;

    let log_path = project.log_path();
    let log = OpenOptions::new()
        .create(true)
        .mode(0o600)
        .write(true)
        .truncate(true)
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
            bail!(
                "the daemon exited during startup ({status}).\n{}\nFull log: {}",
                log_tail(&log_path, 10),
                log_path.display()
            );
        }
        if runtime.block_on(ping(&project.socket_path())) {
            if let Probe::Running(state) = project.probe() {
                println!(
                    "dfm daemon started (pid {}, runner {})",
                    state.pid, state.runner
                );
                return Ok(0);
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

pub fn stop(root: Option<&Path>, timeout: Duration) -> Result<i32> {
    let project = Project::at(root)?;
    let state = match project.probe() {
        Probe::Absent => {
            eprintln!("no dfm daemon is running for {}", project.root.display());
            return Ok(1);
        }
        Probe::Stale { pid } => {
            clear_stale(&project, pid);
            eprintln!("no dfm daemon is running for {}", project.root.display());
            return Ok(1);
        }
        Probe::Running(state) => state,
    };
    let runtime = runtime()?;
    runtime
        .block_on(async {
            let mut connection = Connection::connect(Path::new(&state.socket)).await?;
            connection.call(ClientCall::Shutdown).await
        })
        .with_context(|| format!("cannot ask the daemon (pid {}) to stop", state.pid))?;
    // The lock goes a moment before the process does; "stopped" means gone.
    let deadline = Instant::now() + timeout;
    while project.lock_is_held() || crate::procfs::is_live(state.pid) {
        if Instant::now() > deadline {
            bail!(
                "the daemon (pid {}) did not exit within {timeout:?}; see {}. To force it: kill {}",
                state.pid,
                project.log_path().display(),
                state.pid
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // It removes these itself; this covers a daemon that died mid-way.
    project.remove_stale();
    println!("dfm daemon stopped (pid {})", state.pid);
    Ok(0)
}

pub fn status(root: Option<&Path>, as_json: bool) -> Result<i32> {
    let project = Project::at(root)?;
    let state = match project.probe() {
        Probe::Absent => {
            if as_json {
                println!("{}", json!({"running": false}));
            } else {
                println!("no dfm daemon is running for {}", project.root.display());
            }
            return Ok(1);
        }
        Probe::Stale { pid } => {
            if as_json {
                println!("{}", json!({"running": false, "stale": true, "pid": pid}));
            } else {
                let who = pid.map(|p| format!(" for pid {p}")).unwrap_or_default();
                println!(
                    "stale {}{who}: that daemon is gone. `dfm daemon start` or `dfm run` will clean it up.",
                    project.state_path().display()
                );
            }
            return Ok(1);
        }
        Probe::Running(state) => state,
    };
    let status: DaemonStatus = runtime()?.block_on(async {
        let mut connection = Connection::connect(Path::new(&state.socket)).await?;
        let value = connection.call(ClientCall::Status).await?;
        serde_json::from_value(value)
            .context("the daemon sent a status this dfm does not understand")
    })?;
    if as_json {
        let mut value = serde_json::to_value(&status)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("running".into(), json!(true));
            object.insert("stale".into(), json!(false));
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render_status(&status));
    }
    Ok(0)
}

fn render_status(status: &DaemonStatus) -> String {
    let (c, tasks) = (&status.tasks.workers, &status.tasks);
    let mut text = format!(
        "dfm daemon running\n  pid:      {}\n  runner:   {}\n  uptime:   {}\n  socket:   {}\n  workers:  {} total, {} busy, {} idle, {} pending launch (pool size {})\n  tasks:    {} pending, {} running, {} completed, {} failed\n",
        status.pid,
        status.runner,
        format_duration(status.uptime_secs),
        status.socket,
        c.total,
        c.busy,
        c.idle,
        c.pending,
        status.pool_size,
        tasks.pending_tasks,
        tasks.running_tasks,
        tasks.completed_tasks,
        tasks.failed_tasks,
    );
    if !status.clients.is_empty() {
        text.push_str(&format!(
            "\n  {:<8} {:>8} {:>8} {:>8} {:>8}\n",
            "CLIENT", "PID", "QUEUED", "HELD", "RUNNING"
        ));
        for c in &status.clients {
            let pid = c.pid.map_or("-".to_string(), |p| p.to_string());
            text.push_str(&format!(
                "  {:<8} {:>8} {:>8} {:>8} {:>8}\n",
                c.client, pid, c.queued, c.held, c.running
            ));
        }
    }
    if !status.workers.is_empty() {
        text.push_str(&format!(
            "\n  {:<10} {:<16} {:>8} {:<10} {:<12} {}\n",
            "WORKER", "HOST", "PID", "STATE", "JOB", "TASK"
        ));
        for w in &status.workers {
            text.push_str(&format!(
                "  {:<10} {:<16} {:>8} {:<10} {:<12} {}\n",
                w.worker_id,
                w.hostname,
                w.pid,
                w.state,
                w.job_id,
                w.current_task.as_deref().unwrap_or("-")
            ));
        }
    }
    text
}

fn format_duration(secs: f64) -> String {
    let secs = secs as u64;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn ping(socket: &Path) -> bool {
    match Connection::connect(socket).await {
        Ok(mut connection) => {
            matches!(connection.call(ClientCall::Ping).await, Ok(v) if v == "pong")
        }
        Err(_) => false,
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
