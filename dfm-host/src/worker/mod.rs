//! `dfm worker`: connects to the daemon, proves it knows the secret, and
//! runs one shell task at a time until the daemon goes away. While busy it
//! may hold more tasks, sent ahead, and starts each the moment the one
//! before ends; the daemon can ask for a task back until then. While it
//! holds tasks ahead, it may report a result together with the next one's
//! (see [`DEFER`]).
//!
//! A worker never outlives its daemon: when the connection drops, or on
//! `worker.shutdown` or a termination signal, it kills its running task's
//! whole process group and exits.

pub mod launch;

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::signal::unix::{signal, SignalKind};

use self::launch::{Child, Launcher};
use crate::auth;
use dfm_wire::worker::job_env;
use dfm_wire::{
    read_line, to_line, FromWorker, Marker, Register, Severity, TaskResult, TaskSpec, ToWorker,
    MAX_PREFETCH,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct WorkerArgs {
    pub connect: String,
    pub resource_class: String,
}

pub fn run(args: WorkerArgs) -> Result<()> {
    let secret = std::env::var(job_env::SECRET).map_err(|_| {
        anyhow!("DFM_WORKER_TOKEN is not set: workers are started by `dfm daemon`, which passes its secret in the environment")
    })?;
    let worker_id = match std::env::var(job_env::WORKER_ID) {
        Ok(id) if !id.is_empty() => id,
        _ => auth::random_hex(4)?,
    };
    let job_id = ["DFM_JOB_ID", "LSB_JOBID", "SLURM_JOB_ID"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default();
    let local_socket = std::env::var(job_env::SOCKET)
        .ok()
        .filter(|path| !path.is_empty())
        .filter(|_| {
            std::env::var(job_env::BOOT_ID)
                .ok()
                .is_some_and(|daemon| crate::procfs::boot_id().is_some_and(|mine| mine == daemon))
        });
    for name in job_env::PRIVATE {
        // Single-threaded here: the runtime has not started.
        std::env::remove_var(name);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, local_socket, secret, worker_id, job_id))
}

type ReadHalf = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
type WriteHalf = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

/// Connects to the daemon: on its worker socket when this worker runs on
/// the daemon's machine (fewer kernel cycles per message than TCP), else,
/// or if that fails, on its TCP port. Returns the halves and where they go.
async fn connect(
    address: &str,
    local_socket: Option<String>,
) -> Result<(ReadHalf, WriteHalf, String, RawFd)> {
    if let Some(path) = local_socket {
        match tokio::net::UnixStream::connect(&path).await {
            Ok(stream) => {
                let fd = stream.as_raw_fd();
                let (read, write) = crate::quiet::split(stream)
                    .with_context(|| format!("cannot use the worker socket {path}"))?;
                return Ok((Box::new(read), Box::new(write), path, fd));
            }
            Err(e) => eprintln!("worker socket {path} unusable ({e}); using {address}"),
        }
    }
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| anyhow!("no answer from the daemon at {address} within {CONNECT_TIMEOUT:?}"))?
        .with_context(|| format!("cannot connect to the daemon at {address}"))?;
    let _ = stream.set_nodelay(true);
    let fd = stream.as_raw_fd();
    let (read, write) = stream.into_split();
    Ok((Box::new(read), Box::new(write), address.to_string(), fd))
}

/// How long a worker that has just reported a result waits on the CPU for
/// its next task before it sleeps.
const LINGER: Duration = Duration::from_micros(300);

/// After a result, the next task of a busy pool follows within a few
/// hundred microseconds. Waiting for it awake, rather than asleep in the
/// kernel, spares a wakeup, and on a virtual machine keeps this CPU from
/// halting, after which the next task starts measurably slower. The cost
/// is bounded: at most [`LINGER`] of CPU per task, and only when no task
/// is waiting. Returns as soon as the socket has data, an end or an error.
fn linger_for_next_task(fd: RawFd) {
    let deadline = std::time::Instant::now() + LINGER;
    let mut byte = 0u8;
    while std::time::Instant::now() < deadline {
        // SAFETY: `fd` is the daemon connection, open for the worker's
        // whole life; recv writes at most one byte into `byte`.
        let n = unsafe {
            libc::recv(
                fd,
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock {
            return;
        }
        // Anything else runnable on this CPU (the daemon, another task)
        // goes first: lingering only ever uses a CPU nobody else wants.
        // SAFETY: sched_yield has no preconditions.
        unsafe {
            libc::sched_yield();
        }
    }
}

/// How long a worker waits for a task that has just started to end
/// before it listens to the daemon again.
const UNDISTURBED: Duration = Duration::from_millis(5);

/// How long a result may wait to go out with the next one.
///
/// A worker that still holds tasks ahead after starting the next one
/// does not need the daemon yet. It keeps the result until that task
/// ends, if it ends within this time, and sends both in one write: the
/// daemon wakes once for the two, and sends their successors in one write.
/// A worker sends its results at once whenever it is left holding fewer
/// tasks ahead than it has results to report, so the daemon refills it
/// while the task just started still runs.
const DEFER: Duration = Duration::from_millis(2);

async fn serve(
    args: WorkerArgs,
    local_socket: Option<String>,
    secret: String,
    worker_id: String,
    job_id: String,
) -> Result<()> {
    let (read, mut write, daemon, fd) = connect(&args.connect, local_socket).await?;
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();

    let nonce =
        match tokio::time::timeout(CONNECT_TIMEOUT, next_message(&mut reader, &mut buf)).await {
            Ok(Ok(Some(ToWorker::Challenge { nonce }))) => nonce,
            Ok(Ok(_)) => bail!("the daemon at {} did not send a challenge", daemon),
            Ok(Err(e)) => return Err(e),
            Err(_) => bail!("no challenge from the daemon at {}", daemon),
        };
    let my_nonce = auth::random_hex(16)?;
    let register = FromWorker::Register(Register {
        worker_id: worker_id.clone(),
        hostname: crate::procfs::hostname(),
        pid: std::process::id(),
        resource_class: args.resource_class.clone(),
        job_id: job_id.clone(),
        lsf_job_id: job_id,
        auth: auth::worker_proof(&secret, &nonce, &worker_id, &my_nonce),
        nonce: my_nonce.clone(),
        prefetch: true,
        prefetch_depth: MAX_PREFETCH as u32,
    });
    write.write_all(to_line(&register).as_bytes()).await?;
    let heartbeat_every =
        match tokio::time::timeout(CONNECT_TIMEOUT, next_message(&mut reader, &mut buf)).await {
            Ok(Ok(Some(ToWorker::Registered {
                auth: proof,
                heartbeat_interval_ms,
            }))) => {
                let expected = auth::daemon_proof(&secret, &nonce, &worker_id, &my_nonce);
                if !auth::proofs_match(&expected, &proof) {
                    bail!(
                        "the listener at {} could not prove it is our daemon; refusing its work",
                        daemon
                    );
                }
                Duration::from_millis(heartbeat_interval_ms.max(10))
            }
            Ok(Ok(Some(ToWorker::Rejected { reason }))) => {
                bail!("the daemon refused this worker: {reason}")
            }
            Ok(Ok(_)) => bail!("unexpected answer to registration"),
            Ok(Err(e)) => return Err(e),
            Err(_) => bail!("no answer to registration from {}", daemon),
        };
    eprintln!("worker {worker_id} registered with {daemon}");

    let mut heartbeat = tokio::time::interval(heartbeat_every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut task: Option<Running> = None;
    let mut launcher = Launcher::new().context("cannot prepare to run tasks")?;
    // The tasks sent ahead, to start in this order as `task` ends.
    let mut next: VecDeque<Arc<TaskSpec>> = VecDeque::new();

    // Silence from the daemon for this long means it is gone (even where no
    // connection reset ever arrives, e.g. a vanished host).
    let silence_limit = heartbeat_every * 5 / 2;
    let mut last_heard = tokio::time::Instant::now();
    let why = loop {
        // More messages to send with `reply`, in one write.
        let mut also = Vec::new();
        let reply = tokio::select! {
            // What the daemon sent comes first: when a task ends, the tasks
            // sent ahead meanwhile must be on hand.
            biased;
            message = next_message(&mut reader, &mut buf) => {
                last_heard = tokio::time::Instant::now();
                match message {
                    Ok(Some(ToWorker::Execute(spec))) => {
                        if task.is_none() {
                            launch(spec, &mut task, &mut launcher).err()
                        } else if next.len() < MAX_PREFETCH {
                            next.push_back(spec);
                            None
                        } else {
                            Some(TaskResult::error(&spec.request_id, "worker is busy with another task".into()))
                        }
                        .map(FromWorker::Result)
                    }
                    Ok(Some(ToWorker::Cancel { request_id })) => {
                        if let Some(running) = task.as_mut().filter(|t| t.request_id == request_id) {
                            running.cancelled = true;
                            running.kill();
                            None
                        } else {
                            hand_back(&mut next, request_id)
                        }
                    }
                    Ok(Some(ToWorker::Withdraw { request_id })) => hand_back(&mut next, request_id),
                    Ok(Some(ToWorker::Shutdown {})) => break "asked to shut down".to_string(),
                    Ok(Some(_)) => None,
                    Ok(None) => break "lost the connection to the daemon".to_string(),
                    Err(e) => break format!("connection to the daemon failed: {e:#}"),
                }
            }
            status = wait(&mut task) => {
                let Some(running) = task.take() else { continue };
                // scancel and bkill signal every process of the job at once,
                // so a task killed by such a signal may be the first sign
                // that this worker is being stopped too. Then the task is
                // not at fault: exit without a result, and the daemon runs
                // it again elsewhere.
                if !running.cancelled && killed_by_stop_signal(&status) {
                    let stopping = tokio::select! {
                        _ = terminate.recv() => Some("SIGTERM"),
                        _ = interrupt.recv() => Some("SIGINT"),
                        _ = hangup.recv() => Some("SIGHUP"),
                        _ = tokio::time::sleep(SIGNAL_GRACE) => None,
                    };
                    if let Some(signal) = stopping {
                        break format!("{signal} (its task was signalled too; not reported)");
                    }
                }
                // The next task starts before this result goes out: the
                // daemon counts it as running once it has the result.
                let mut results = vec![running.result(status)];
                start_next(&mut next, &mut task, &mut launcher, &mut results);
                // See `DEFER`. Messages already read are heard first.
                while results.len() <= next.len() && reader.buffer().is_empty() {
                    let Some(running) = task.as_mut() else { break };
                    running.fresh = false;
                    running.child.wait_for_end(DEFER);
                    let status = match running.child.try_wait() {
                        Ok(Some(status)) if running.cancelled || !killed_by_stop_signal(&Ok(status)) => status,
                        // Still running, or for the branch above to judge.
                        _ => break,
                    };
                    results.push(running.result(Ok(status)));
                    task = None;
                    start_next(&mut next, &mut task, &mut launcher, &mut results);
                }
                let mut results = results.into_iter().map(FromWorker::Result);
                let first = results.next();
                also.extend(results);
                first
            }
            _ = heartbeat.tick() => {
                let silent = last_heard.elapsed();
                if silent > silence_limit {
                    break format!("no word from the daemon for {:.1}s", silent.as_secs_f64());
                }
                Some(FromWorker::Heartbeat { worker_id: worker_id.clone() })
            }
            _ = terminate.recv() => break "SIGTERM".to_string(),
            _ = interrupt.recv() => break "SIGINT".to_string(),
            _ = hangup.recv() => break "SIGHUP".to_string(),
        };
        if let Some(message) = reply {
            if let Err(e) = send(&mut write, &message, &also).await {
                break format!("{e:#}");
            }
            if task.is_none()
                && reader.buffer().is_empty()
                && matches!(message, FromWorker::Result(_))
            {
                linger_for_next_task(fd);
            }
        }
        // A task that has just started: give it a moment to end before
        // listening again (see `Child::wait_for_end`), once every message
        // already read is handled.
        if let Some(running) = task.as_mut().filter(|running| running.fresh) {
            if reader.buffer().is_empty() {
                running.fresh = false;
                running.child.wait_for_end(UNDISTURBED);
                // The runtime looks for input before this task resumes:
                // what arrived during the wait is read before the task's
                // end is handled.
                tokio::task::yield_now().await;
            }
        }
    };
    if let Some(mut running) = task.take() {
        running.kill();
        let _ = running.child.wait().await;
    }
    eprintln!("worker {worker_id} exiting: {why}");
    Ok(())
}

/// Starts `spec` as the worker's running task; on failure, the result
/// that says why.
fn launch(
    spec: Arc<TaskSpec>,
    task: &mut Option<Running>,
    launcher: &mut Launcher,
) -> Result<(), TaskResult> {
    let child = launcher
        .start(&spec)
        .map_err(|message| TaskResult::error(&spec.request_id, message))?;
    // The worker holds the only reference: nothing is copied.
    let spec = Arc::unwrap_or_clone(spec);
    *task = Some(Running {
        request_id: spec.request_id,
        rundir: spec.rundir.into(),
        child,
        cancelled: false,
        fresh: true,
    });
    Ok(())
}

/// Starts the first task held ahead that starts; each that cannot adds
/// its failure to `results`.
fn start_next(
    next: &mut VecDeque<Arc<TaskSpec>>,
    task: &mut Option<Running>,
    launcher: &mut Launcher,
    results: &mut Vec<TaskResult>,
) {
    while let Some(spec) = next.pop_front() {
        match launch(spec, task, launcher) {
            Ok(()) => return,
            Err(failed) => results.push(failed),
        }
    }
}

/// Hands back the task held ahead that is `request_id`, if any.
fn hand_back(next: &mut VecDeque<Arc<TaskSpec>>, request_id: String) -> Option<FromWorker> {
    let at = next.iter().position(|spec| spec.request_id == request_id)?;
    next.remove(at);
    Some(FromWorker::Withdrawn { request_id })
}

struct Running {
    request_id: String,
    rundir: std::path::PathBuf,
    child: Child,
    /// Killed on the daemon's request, not by whoever stops this worker.
    cancelled: bool,
    /// Started since the worker last listened to the daemon.
    fresh: bool,
}

impl Running {
    fn result(&self, status: std::io::Result<ExitStatus>) -> TaskResult {
        let mut result = TaskResult::new(&self.request_id, exit_code(status));
        // A task that failed on a full disk rarely says so clearly itself.
        if result.status != 0 && filesystem_is_full(&self.rundir) {
            result.markers.push(Marker {
                msg: format!(
                    "No space left on device: the filesystem of {} is full",
                    self.rundir.display()
                ),
                severity: Severity::Error,
            });
        }
        result
    }

    /// Kills the task's whole process group.
    fn kill(&self) {
        self.child.kill();
    }
}

async fn wait(task: &mut Option<Running>) -> std::io::Result<ExitStatus> {
    match task {
        Some(running) => running.child.wait().await,
        None => std::future::pending().await,
    }
}

/// How long a worker whose task was killed by a signal waits for a
/// termination signal of its own before reporting the task as failed.
const SIGNAL_GRACE: Duration = Duration::from_secs(1);

/// Whether the task died of a signal a scheduler uses to stop jobs
/// (directly, or as a shell's 128 + signal). A crash (SIGSEGV, SIGABRT...)
/// is the task's own failure and is reported at once.
fn killed_by_stop_signal(status: &std::io::Result<ExitStatus>) -> bool {
    use std::os::unix::process::ExitStatusExt;
    const STOP_SIGNALS: [i32; 4] = [libc::SIGTERM, libc::SIGKILL, libc::SIGINT, libc::SIGHUP];
    match status {
        Ok(status) => status
            .signal()
            .or_else(|| status.code().filter(|c| *c > 128).map(|c| c - 128))
            .is_some_and(|signal| STOP_SIGNALS.contains(&signal)),
        Err(_) => false,
    }
}

fn exit_code(status: std::io::Result<ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => status
            .code()
            .or_else(|| status.signal().map(|sig| 128 + sig))
            .unwrap_or(1),
        Err(_) => 1,
    }
}

/// The next message from the daemon; cancel-safe (see [`read_line`]).
async fn next_message<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Option<ToWorker>> {
    if !read_line(reader, buf).await? {
        return Ok(None);
    }
    let message = ToWorker::parse(buf).context("invalid message from the daemon");
    buf.clear();
    Ok(Some(message?))
}

/// Sends `message` and `more` in one write.
async fn send<W: AsyncWriteExt + Unpin>(
    write: &mut W,
    message: &FromWorker,
    more: &[FromWorker],
) -> Result<()> {
    let mut lines = to_line(message);
    for message in more {
        lines.push_str(&to_line(message));
    }
    write
        .write_all(lines.as_bytes())
        .await
        .context("lost the connection to the daemon")
}

fn filesystem_is_full(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs is plain data; the call only writes into it.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    rc == 0 && stat.f_bavail == 0
}
