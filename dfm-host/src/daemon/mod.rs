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
mod line_writers;
mod runner_calls;
mod worker_links;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};

use dfm_wire::{DaemonStatus, PoolCounts};

use self::connections::WorkerListener;
use self::core::{Core, Setup};
use self::event::Event;
use self::line_writers::Hold;
use self::runner_calls::LaunchSetup;
use crate::auth;
use crate::config::{secs, CliOverrides, Layers, RunnerConfig};
use crate::plugin::Plugin;
use crate::pool::Pool;
use crate::project::{worker_socket_beside, DaemonState, Project};

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

/// Descriptors a pool of `workers` may hold open: a connection per
/// worker and per client, the plugin's pipes, logs, and room to spare.
fn descriptors_needed(workers: usize) -> u64 {
    workers as u64 * 4 + 256
}

/// Raises this process's soft limit on open files to what a pool of
/// `workers` needs, within the hard limit; says what it did, and warns
/// if even the hard limit is short.
fn raise_open_files_limit(workers: usize) {
    let needed = descriptors_needed(workers);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 || limit.rlim_cur >= needed
    {
        return;
    }
    let soft = limit.rlim_cur;
    let raised = libc::rlimit {
        rlim_cur: needed.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads one rlimit we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        tracing::info!(
            "raised the open-files limit from {soft} to {} for a pool of {workers}",
            raised.rlim_cur
        );
    }
    if raised.rlim_cur < needed {
        tracing::warn!(
            "a pool of {workers} workers may need {needed} open files, more than the hard limit of {}: raise it (ulimit -Hn) or lower pool.max_workers",
            limit.rlim_max
        );
    }
}

/// Runs a pool server: the daemon, or the ephemeral pool of a `dfm run`.
pub async fn serve(
    project: &Project,
    config: RunnerConfig,
    runner_name: String,
    runner: crate::plugin::Runner,
    listen: Listen,
) -> Result<()> {
    raise_open_files_limit(config.pool.max_workers);
    // The project's daemon keeps a journal, and adopts the workers of the
    // one before it; an ephemeral pool does neither.
    let journal_file = listen
        .state_file
        .then(|| journal::JournalFile::new(project.journal_path()));
    let inheritance = journal_file.as_ref().map_or_else(Default::default, |file| {
        adoption::inherit(
            file,
            &project.root,
            &runner_name,
            secs(config.pool.reconnect_grace),
        )
    });
    let secret = match inheritance.secret.clone() {
        Some(secret) => Arc::new(secret),
        None => Arc::new(auth::random_hex(32).context("cannot read /dev/urandom")?),
    };
    // Cluster workers connect from other hosts; they authenticate with the
    // secret and their traffic is sealed, so listening beyond loopback is
    // safe.
    let worker_bind = config.worker_bind();
    let worker_host = config.worker_host();
    let worker_listener = adoption::open_worker_port(&worker_bind, inheritance.worker_port)
        .await
        .with_context(|| {
            format!("cannot open the worker port on {worker_bind} (runner.worker_bind)")
        })?;
    let worker_port = worker_listener.local_addr()?.port();

    let socket_path = listen.socket.clone();
    let _ = std::fs::remove_file(&socket_path);
    let client_thread = client_thread::ClientThread::start()?;
    let client_listener = {
        let _on_client_thread = client_thread.handle().enter();
        UnixListener::bind(&socket_path)
            .with_context(|| format!("cannot listen on {}", socket_path.display()))?
    };
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set permissions of {}", socket_path.display()))?;
    // Only workers that can tell they share this machine (its boot id) use
    // the worker socket; without a boot id to hand them, nobody would.
    let worker_socket = worker_socket_beside(&socket_path);
    let local_listener = crate::procfs::boot_id()
        .filter(|_| config.worker_socket)
        .and_then(|boot_id| Some((listen_for_local_workers(&worker_socket)?, boot_id)));

    let started = rfc3339_now();
    let state = DaemonState {
        pid: std::process::id(),
        socket: socket_path.to_string_lossy().into_owned(),
        worker_port,
        started: started.clone(),
        runner: runner_name.clone(),
        secret: secret.to_string(),
        worker_host: worker_host.clone(),
        pool_size: config.pool.max_workers,
    };
    let dfm = std::env::current_exe().context("cannot find the dfm executable")?;
    // The worker-only binary costs each warm worker half the memory; plain
    // `dfm worker` does the same job where it is not installed.
    let worker_program = Some(dfm.with_file_name("dfm-worker"))
        .filter(|p| p.is_file())
        .unwrap_or(dfm);
    let workers_log_dir = project.workers_dir();
    std::fs::create_dir_all(&workers_log_dir)
        .with_context(|| format!("cannot create {}", workers_log_dir.display()))?;

    let config = Arc::new(config);
    let heartbeat_interval = secs(config.pool.heartbeat_interval);
    let poll_every = secs(config.pool.poll_interval);
    let mut pool_config = config.pool.pool_config();
    pool_config.arrays = config.pool.launch_as_array && runner.array_index_variable().is_some();
    let prefix = adoption::fresh_prefix(&inheritance.workers, || auth::random_hex(2))?;
    let pool = Pool::new(pool_config, &prefix);
    let hold_client_lines = Hold::new(line_writers::HOLD);
    let setup = Setup {
        launch: LaunchSetup {
            config: config.clone(),
            secret: secret.clone(),
            worker_program,
            worker_address: if worker_host.contains(':') {
                format!("[{worker_host}]:{worker_port}") // an IPv6 address
            } else {
                format!("{worker_host}:{worker_port}")
            },
            local_worker_socket: local_listener
                .as_ref()
                .map(|(_, boot_id)| (worker_socket.clone(), boot_id.clone())),
            workers_log_dir,
        },
        hold_client_lines: hold_client_lines.clone(),
        durations: durations::DurationsFile::new(project.durations_path()),
        journal: match journal_file {
            Some(file) => Some(
                journal::Keeper::start(
                    file,
                    journal::new_journal(
                        &project.root,
                        &runner_name,
                        &secret,
                        &worker_host,
                        worker_port,
                    ),
                )
                .context("cannot start the journal's writer")?,
            ),
            None => None,
        },
        adopted: inheritance.workers,
        status_base: DaemonStatus {
            pid: state.pid,
            runner: runner_name,
            workers: Vec::new(),
            tasks: PoolCounts::default(),
            started,
            uptime_secs: 0.0,
            socket: state.socket.clone(),
            worker_port,
            pool_size: config.pool.max_workers,
            clients: Vec::new(),
        },
    };

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let clients = client_thread.handle().spawn(connections::accept_clients(
        client_listener,
        connections::Inboxes {
            events: events_tx.clone(),
            control: control_tx,
        },
        hold_client_lines,
    ));
    let local_workers = local_listener.map(|(listener, _)| {
        tokio::spawn(connections::accept_workers(
            WorkerListener::Unix(listener),
            events_tx.clone(),
            secret.clone(),
            heartbeat_interval,
            config.seal_local_socket,
        ))
    });
    let workers = tokio::spawn(connections::accept_workers(
        WorkerListener::Tcp(worker_listener),
        events_tx.clone(),
        secret,
        heartbeat_interval,
        true,
    ));
    let signals: &[(SignalKind, &'static str)] = if listen.handle_signals {
        &[
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::hangup(), "SIGHUP"),
        ]
    } else {
        &[]
    };
    for &(kind, name) in signals {
        let mut stream = signal(kind).with_context(|| format!("cannot handle {name}"))?;
        let events = events_tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if events.send(Event::Signal(name)).is_err() {
                    return;
                }
            }
        });
    }

    if listen.state_file {
        project.write_state(&state)?;
    }
    tracing::info!(
        "pool ready: pid {}, socket {}, worker port {worker_port}",
        state.pid,
        state.socket
    );
    if let Some(ready) = listen.ready {
        let _ = ready.send(());
    }

    let core = Core::new(setup, runner, pool, events_tx);
    // Unconstrained: the core takes every event waiting before it yields,
    // instead of 128 at a time with a round of every other task between.
    let writers = tokio::task::unconstrained(core.run(control_rx, events_rx, poll_every)).await;
    clients.abort();
    workers.abort();
    if let Some(local_workers) = local_workers {
        local_workers.abort();
    }
    if listen.state_file {
        project.remove_stale();
    } else {
        let _ = std::fs::remove_file(&socket_path);
        let _ = std::fs::remove_file(&worker_socket);
    }
    // Let every client read its last reply (e.g. "the daemon is shutting down").
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        for writer in writers {
            let _ = writer.await;
        }
    })
    .await;
    drop(client_thread);
    tracing::info!("pool stopped");
    Ok(())
}

/// Opens the worker socket (0600). Without it (a path too long for a Unix
/// socket, say) every worker uses the TCP port, which works as well.
fn listen_for_local_workers(path: &Path) -> Option<UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener = match UnixListener::bind(path) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::info!(
                "no worker socket at {} ({e}); local workers use the TCP port",
                path.display()
            );
            return None;
        }
    };
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!("cannot set permissions of {}: {e}", path.display());
        let _ = std::fs::remove_file(path);
        return None;
    }
    Some(listener)
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
