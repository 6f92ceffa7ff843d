//! The pool server, from its sockets to its end: what it inherits from
//! the daemon before it, the sockets it opens, what the core is told, the
//! tasks that accept connections, and the cleanup once the core stops.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use dfm_wire::{DaemonStatus, PoolCounts};
use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::connections::{self, WorkerListener};
use super::core::{Core, Setup};
use super::event::Event;
use super::line_writers::{self, Hold};
use super::runner_calls::LaunchSetup;
use super::{adoption, client_thread, durations, journal, rfc3339_now, Listen, DRAIN_TIMEOUT};
use crate::auth;
use crate::config::{secs, RunnerConfig};
use crate::plugin::Runner;
use crate::pool::Pool;
use crate::project::{worker_socket_beside, DaemonState, Project};

/// Runs a pool server: the daemon, or the ephemeral pool of a `dfm run`.
pub async fn serve(
    project: &Project,
    config: RunnerConfig,
    runner_name: String,
    runner: Runner,
    mut listen: Listen,
) -> Result<()> {
    raise_open_files_limit(config.pool.max_workers);
    let (journal_file, inheritance, secret) = inherit(project, &listen, &runner_name, &config)?;
    let mut sockets = Sockets::open(&config, &listen.socket, inheritance.worker_port).await?;
    let state = DaemonState {
        pid: std::process::id(),
        socket: sockets.client_path.to_string_lossy().into_owned(),
        worker_port: sockets.worker_port,
        started: rfc3339_now(),
        runner: runner_name,
        secret: secret.to_string(),
        worker_host: config.worker_host(),
        pool_size: config.pool.max_workers,
    };
    let config = Arc::new(config);
    let journal = match journal_file {
        Some(file) => Some(start_journal(file, project, &state)?),
        None => None,
    };
    let setup = core_setup(project, &config, &secret, &state, &sockets, journal)?;
    let setup = Setup {
        adopted: inheritance.workers,
        ..setup
    };
    let mut pool_config = config.pool_config();
    pool_config.arrays = config.pool.launch_as_array && runner.array_index_variable().is_some();
    let prefix = adoption::fresh_prefix(&setup.adopted, || auth::random_hex(2))?;
    let pool = Pool::new(pool_config, &prefix);

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let accepting = sockets.accept(
        &config,
        &secret,
        connections::Inboxes {
            events: events_tx.clone(),
            control: control_tx,
        },
        setup.hold_client_lines.clone(),
    );
    let metrics = match config.metrics_listen.filter(|_| listen.state_file) {
        Some(address) => Some(serve_metrics(address, &events_tx).await?),
        None => None,
    };
    if listen.handle_signals {
        forward_signals(&events_tx)?;
    }
    if listen.state_file {
        project.write_state(&state)?;
    }
    tracing::info!(
        "pool ready: pid {}, socket {}, worker port {}",
        state.pid,
        state.socket,
        state.worker_port
    );
    if let Some(ready) = listen.ready.take() {
        let _ = ready.send(());
    }

    let core = Core::new(setup, runner, pool, events_tx);
    // Unconstrained: the core takes every event waiting before it yields,
    // instead of 128 at a time with a round of every other task between.
    let poll_every = secs(config.pool.poll_interval);
    let writers = tokio::task::unconstrained(core.run(control_rx, events_rx, poll_every)).await;
    accepting.stop();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    finish(writers, &listen, project, sockets).await;
    Ok(())
}

/// Listens for scrapes at `address` (`runner.metrics_listen`, a project
/// daemon's only: ephemeral pools would fight over the port).
async fn serve_metrics(
    address: std::net::SocketAddr,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| {
        format!("cannot serve metrics on {address} (runner.metrics_listen): choose another address, or leave it out")
    })?;
    tracing::info!("metrics at http://{address}/metrics");
    Ok(tokio::spawn(super::metrics::server::serve(
        listener,
        events.clone(),
    )))
}

/// What the daemon before this one left it (the project's daemon keeps a
/// journal, and adopts that daemon's workers; an ephemeral pool does
/// neither), and the workers' secret: inherited, or new.
fn inherit(
    project: &Project,
    listen: &Listen,
    runner_name: &str,
    config: &RunnerConfig,
) -> Result<(
    Option<journal::JournalFile>,
    adoption::Inheritance,
    Arc<String>,
)> {
    let journal_file = listen
        .state_file
        .then(|| journal::JournalFile::new(project.journal_path()));
    let inheritance = journal_file.as_ref().map_or_else(Default::default, |file| {
        adoption::inherit(
            file,
            &project.root,
            runner_name,
            secs(config.pool.reconnect_grace),
        )
    });
    let secret = match inheritance.secret.clone() {
        Some(secret) => Arc::new(secret),
        None => Arc::new(auth::random_hex(32).context("cannot read /dev/urandom")?),
    };
    Ok((journal_file, inheritance, secret))
}

/// The journal's writer, starting from this daemon's state.
fn start_journal(
    file: journal::JournalFile,
    project: &Project,
    state: &DaemonState,
) -> Result<journal::Keeper> {
    let base = journal::new_journal(
        &project.root,
        &state.runner,
        &state.secret,
        &state.worker_host,
        state.worker_port,
    );
    journal::Keeper::start(file, base).context("cannot start the journal's writer")
}

/// Once the core has stopped: the state file or sockets removed, and every
/// client given a moment to read its last reply (e.g. "the daemon is
/// shutting down").
async fn finish(
    writers: Vec<tokio::task::JoinHandle<()>>,
    listen: &Listen,
    project: &Project,
    sockets: Sockets,
) {
    if listen.state_file {
        project.remove_stale();
    } else {
        let _ = std::fs::remove_file(&sockets.client_path);
        let _ = std::fs::remove_file(&sockets.worker_path);
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        for writer in writers {
            let _ = writer.await;
        }
    })
    .await;
    drop(sockets);
    tracing::info!("pool stopped");
}

/// The pool server's sockets: the client socket (on a thread of its own),
/// the worker port, and the worker socket for workers on this machine.
struct Sockets {
    client_thread: client_thread::ClientThread,
    client_path: PathBuf,
    client: Option<UnixListener>,
    worker_port: u16,
    worker_tcp: Option<tokio::net::TcpListener>,
    worker_path: PathBuf,
    /// The worker socket and this machine's boot id, if it could be opened.
    local_workers: Option<(UnixListener, String)>,
}

/// The tasks accepting connections, stopped when the core has.
struct Accepting {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Accepting {
    fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

impl Sockets {
    async fn open(config: &RunnerConfig, client_path: &Path, port: Option<u16>) -> Result<Sockets> {
        // Cluster workers connect from other hosts; they authenticate with
        // the secret and their traffic is sealed, so listening beyond
        // loopback is safe.
        let worker_bind = config.worker_bind();
        let worker_tcp = adoption::open_worker_port(&worker_bind, port)
            .await
            .with_context(|| {
                format!("cannot open the worker port on {worker_bind} (runner.worker_bind)")
            })?;
        let worker_port = worker_tcp.local_addr()?.port();

        let _ = std::fs::remove_file(client_path);
        let client_thread = client_thread::ClientThread::start()?;
        let client = {
            let _on_client_thread = client_thread.handle().enter();
            UnixListener::bind(client_path)
                .with_context(|| format!("cannot listen on {}", client_path.display()))?
        };
        std::fs::set_permissions(client_path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot set permissions of {}", client_path.display()))?;
        // Only workers that can tell they share this machine (its boot id)
        // use the worker socket; without a boot id to hand them, nobody would.
        let worker_path = worker_socket_beside(client_path);
        let local_workers = crate::procfs::boot_id()
            .filter(|_| config.worker_socket)
            .and_then(|boot_id| Some((listen_for_local_workers(&worker_path)?, boot_id)));
        Ok(Sockets {
            client_thread,
            client_path: client_path.to_path_buf(),
            client: Some(client),
            worker_port,
            worker_tcp: Some(worker_tcp),
            worker_path,
            local_workers,
        })
    }

    /// Starts accepting clients (on the client thread) and workers.
    fn accept(
        &mut self,
        config: &RunnerConfig,
        secret: &Arc<String>,
        inboxes: connections::Inboxes,
        hold_client_lines: Hold,
    ) -> Accepting {
        let heartbeat_interval = secs(config.pool.heartbeat_interval);
        let events = inboxes.events.clone();
        let mut tasks = Vec::new();
        if let Some(client) = self.client.take() {
            tasks.push(
                self.client_thread
                    .handle()
                    .spawn(connections::accept_clients(
                        client,
                        inboxes,
                        hold_client_lines,
                    )),
            );
        }
        if let Some((local, _)) = self.local_workers.take() {
            tasks.push(tokio::spawn(connections::accept_workers(
                WorkerListener::Unix(local),
                events.clone(),
                secret.clone(),
                heartbeat_interval,
                config.seal_local_socket,
            )));
        }
        if let Some(tcp) = self.worker_tcp.take() {
            tasks.push(tokio::spawn(connections::accept_workers(
                WorkerListener::Tcp(tcp),
                events,
                secret.clone(),
                heartbeat_interval,
                true,
            )));
        }
        Accepting { tasks }
    }
}

/// What the core needs to know of the world outside the pool; `adopted`
/// is the caller's.
fn core_setup(
    project: &Project,
    config: &Arc<RunnerConfig>,
    secret: &Arc<String>,
    state: &DaemonState,
    sockets: &Sockets,
    journal: Option<journal::Keeper>,
) -> Result<Setup> {
    let dfm = std::env::current_exe().context("cannot find the dfm executable")?;
    // The worker-only binary costs each warm worker half the memory; plain
    // `dfm worker` does the same job where it is not installed.
    let worker_program = Some(dfm.with_file_name("dfm-worker"))
        .filter(|p| p.is_file())
        .unwrap_or(dfm);
    let workers_log_dir = project.workers_dir();
    std::fs::create_dir_all(&workers_log_dir)
        .with_context(|| format!("cannot create {}", workers_log_dir.display()))?;
    let (host, port) = (&state.worker_host, state.worker_port);
    Ok(Setup {
        launch: LaunchSetup {
            config: config.clone(),
            secret: secret.clone(),
            worker_program,
            worker_address: if host.contains(':') {
                format!("[{host}]:{port}") // an IPv6 address
            } else {
                format!("{host}:{port}")
            },
            local_worker_socket: sockets
                .local_workers
                .as_ref()
                .map(|(_, boot_id)| (sockets.worker_path.clone(), boot_id.clone())),
            workers_log_dir,
        },
        hold_client_lines: Hold::new(line_writers::HOLD),
        durations: durations::DurationsFile::new(project.durations_path()),
        journal,
        adopted: Vec::new(),
        status_base: DaemonStatus {
            pid: state.pid,
            runner: state.runner.clone(),
            workers: Vec::new(),
            tasks: PoolCounts::default(),
            started: state.started.clone(),
            uptime_secs: 0.0,
            socket: state.socket.clone(),
            worker_port: port,
            pool_size: config.pool.max_workers,
            clients: Vec::new(),
            licenses: Vec::new(),
            worker_licenses: Vec::new(),
        },
    })
}

/// SIGTERM, SIGINT and SIGHUP become [`Event::Signal`]s: a clean shutdown.
fn forward_signals(events: &mpsc::UnboundedSender<Event>) -> Result<()> {
    let signals = [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::hangup(), "SIGHUP"),
    ];
    for (kind, name) in signals {
        let mut stream = signal(kind).with_context(|| format!("cannot handle {name}"))?;
        let events = events.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if events.send(Event::Signal(name)).is_err() {
                    return;
                }
            }
        });
    }
    Ok(())
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
