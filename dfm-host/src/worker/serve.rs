//! The worker's I/O loop: it listens (the daemon, the running task, the
//! heartbeat timer, signals), tells [`WorkerState`] what happened, and
//! carries out what it decides.

use std::os::fd::RawFd;
use std::time::Duration;

use dfm_wire::{unix_now, Measurements, MAX_PREFETCH};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::executor::{Execution, Executors};
use super::session::{next_message, send, Session};
use super::state::{Effect, Ending, Input, WorkerState, DEFER, SIGNAL_GRACE, UNDISTURBED};

/// How long a worker that has just reported a result waits on the CPU for
/// its next task before it sleeps. Only after dfm's own tasks: the
/// original's client is a Python process that needs the CPU a lingering
/// worker would take (measured with `dfm-bench --original`, see
/// docs/performance.md).
const LINGER: Duration = Duration::from_micros(300);

/// The termination signals, heard as inputs.
pub struct StopSignals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl StopSignals {
    /// Make it before the [`Executors`]: tasks must get the handlers back
    /// to default.
    pub fn new() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// Why [`serve`] returned.
pub struct Stopped {
    pub why: String,
    /// The daemon went away or fell silent: not told or signalled to stop.
    pub daemon_lost: bool,
}

/// Runs tasks for the daemon of `session` until it goes away, or the
/// worker is told or signalled to stop. Returns why it stopped.
pub async fn serve(
    session: Session,
    worker_id: &str,
    executors: &mut Executors,
    signals: &mut StopSignals,
) -> std::io::Result<Stopped> {
    let mut heartbeat = tokio::time::interval(session.heartbeat_every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let silence_limit = session.heartbeat_every * 5 / 2;
    let mut state = WorkerState::new(worker_id, MAX_PREFETCH, silence_limit);
    let mut io = Io {
        session,
        executors,
        signals,
        task: None,
        started_at: 0.0,
        lingers: true,
    };
    let mut buf = Vec::new();
    let mut last_heard = tokio::time::Instant::now();
    loop {
        let input = tokio::select! {
            // What the daemon sent comes first: when a task ends, the tasks
            // sent ahead meanwhile must be on hand.
            biased;
            message = next_message(&mut io.session.reader, &mut buf) => {
                last_heard = tokio::time::Instant::now();
                match message {
                    Ok(Some(message)) => Input::Daemon(message),
                    Ok(None) => Input::DaemonGone("lost the connection to the daemon".into()),
                    Err(e) if e.is_forgery() => Input::Forged(e.to_string()),
                    Err(e) => Input::DaemonGone(format!("connection to the daemon failed: {e}")),
                }
            }
            ending = ended(&mut io.task) => io.finished(ending),
            _ = heartbeat.tick() => Input::HeartbeatDue { silent: last_heard.elapsed() },
            name = io.signals.next() => Input::Signal(name),
        };
        state.handle(input);
        while let Some(effect) = state.next() {
            match io.carry_out(effect).await {
                Step::Done => {}
                Step::Answer(answer) => state.handle(answer),
                Step::Exit(why) => {
                    return Ok(Stopped {
                        why,
                        daemon_lost: state.daemon_lost(),
                    })
                }
            }
        }
    }
}

/// What the loop holds while it serves: the connection, the running task.
struct Io<'a> {
    session: Session,
    executors: &'a mut Executors,
    signals: &'a mut StopSignals,
    task: Option<Execution>,
    /// When the running task started, in seconds since the epoch.
    started_at: f64,
    /// Whose task the worker ran last: it lingers only after dfm's own.
    lingers: bool,
}

/// What came of an [`Effect`].
enum Step {
    Done,
    /// Something [`WorkerState`] asked to hear.
    Answer(Input),
    /// The worker stops, for this reason.
    Exit(String),
}

impl Io<'_> {
    /// Whether the daemon has sent something not yet handled.
    fn daemon_spoke(&self) -> bool {
        !self.session.reader.buffer().is_empty()
    }

    async fn carry_out(&mut self, effect: Effect) -> Step {
        match effect {
            Effect::Start(spec) => match self.executors.start(&spec) {
                Ok(started) => {
                    self.lingers = spec.dialect() == dfm_wire::Dialect::Native;
                    self.started_at = unix_now();
                    self.task = Some(started);
                    Step::Answer(Input::Started)
                }
                Err(e) => Step::Answer(Input::StartFailed(e.to_string())),
            },
            Effect::Kill => {
                if let Some(running) = &self.task {
                    running.kill();
                }
                Step::Done
            }
            Effect::Send(messages) => match send(&mut self.session.writer, &messages).await {
                Ok(()) => Step::Done,
                Err(e) => Step::Answer(Input::DaemonGone(format!(
                    "lost the connection to the daemon: {e}"
                ))),
            },
            Effect::Defer => Step::Answer(self.defer()),
            Effect::Undisturbed => {
                if let Some(running) = self.task.as_ref().filter(|_| !self.daemon_spoke()) {
                    running.give_time(UNDISTURBED);
                    // The runtime looks for input before this task resumes:
                    // what arrived during the wait is read before the
                    // task's end is handled.
                    tokio::task::yield_now().await;
                }
                Step::Done
            }
            Effect::ConfirmStop => Step::Answer(tokio::select! {
                name = self.signals.next() => Input::Signal(name),
                _ = tokio::time::sleep(SIGNAL_GRACE) => Input::NoStopSignal,
            }),
            Effect::Linger => {
                if self.lingers && self.task.is_none() && !self.daemon_spoke() {
                    linger_for_next_task(self.session.fd);
                }
                Step::Done
            }
            Effect::Exit(why) => {
                if let Some(mut running) = self.task.take() {
                    running.kill();
                    let _ = running.ended().await;
                }
                Step::Exit(why)
            }
        }
    }

    /// Gives the running task up to [`DEFER`] to end, unless the daemon
    /// has already sent something (heard first).
    fn defer(&mut self) -> Input {
        if self.daemon_spoke() {
            return Input::StillRunning;
        }
        let Some(running) = self.task.as_mut() else {
            return Input::StillRunning;
        };
        running.give_time(DEFER);
        match running.try_ended() {
            Some(ending) => self.finished(ending),
            None => Input::StillRunning,
        }
    }

    /// The task has ended: its result gets the worker's measurements, and
    /// its executor what it lent.
    fn finished(&mut self, mut ending: Ending) -> Input {
        if let Some(ended) = self.task.take() {
            let measured = Measurements::on_worker(self.started_at, unix_now(), ended.usage());
            ending.result.measurements = Some(Box::new(measured));
            self.executors.reclaim(ended);
        }
        Input::Ended(ending)
    }
}

async fn ended(task: &mut Option<Execution>) -> super::state::Ending {
    match task {
        Some(running) => running.ended().await,
        None => std::future::pending().await,
    }
}

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
