//! What a worker decides, with no I/O: which task to start, what to tell
//! the daemon and when, when to stop.
//!
//! The I/O loop (`serve.rs`) feeds it [`Input`]s (a message from the
//! daemon, a task that ended, a heartbeat tick, a signal) and then carries
//! out its [`Effect`]s, one at a time, in the order [`WorkerState::next`]
//! gives them. Some effects ask a question the loop answers at once with
//! another input: [`Effect::Start`] (did it start?), [`Effect::Defer`]
//! (did the task end in that time?), [`Effect::ConfirmStop`] (did a stop
//! signal come?).
//!
//! The rules:
//! - One task runs at a time; up to `depth` more are held, sent ahead, and
//!   each starts the moment the one before ends, before that one's result
//!   goes out (the daemon counts it as running once it has the result).
//! - `task.withdraw` hands back a held task; `task.cancel` kills the
//!   running one (its end is still reported) or hands back a held one.
//! - A result may wait (see [`DEFER`]) to go out with the next one while
//!   the worker still holds at least as many tasks as it has results.
//! - A task killed by a signal a scheduler stops jobs with may mean the
//!   worker is being stopped too: it waits [`SIGNAL_GRACE`] for its own,
//!   and if one comes, exits without reporting the task (the daemon runs it
//!   elsewhere).
//! - The worker never outlives its daemon: a lost connection, silence for
//!   too long, `worker.shutdown` or a stop signal ends it, and the running
//!   task with it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use dfm_wire::{FromWorker, TaskResult, TaskSpec, ToWorker};

/// How long a worker waits for a task that has just started to end
/// before it listens to the daemon again. A short task usually ends within
/// a few milliseconds; until then, what the daemon sends (most often the
/// next task, sent ahead) waits in the socket and does not wake the worker
/// only to be put aside.
pub const UNDISTURBED: Duration = Duration::from_millis(5);

/// How long a result may wait to go out with the next one.
///
/// A worker that still holds tasks ahead after starting the next one
/// does not need the daemon yet. It keeps the result until that task
/// ends, if it ends within this time, and sends both in one write: the
/// daemon wakes once for the two, and sends their successors in one write.
/// A worker sends its results at once whenever it is left holding fewer
/// tasks ahead than it has results to report, so the daemon refills it
/// while the task just started still runs.
pub const DEFER: Duration = Duration::from_millis(2);

/// How long a worker whose task was killed by a stop signal waits for a
/// termination signal of its own before reporting the task as failed.
pub const SIGNAL_GRACE: Duration = Duration::from_secs(1);

/// What happens to the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Daemon(ToWorker),
    /// The connection ended or failed: why.
    DaemonGone(String),
    /// A sealed frame from the daemon failed to open (someone in the path
    /// altered, replayed or injected bytes): what. The worker tells the
    /// daemon and drops the connection.
    Forged(String),
    /// The task of the last [`Effect::Start`] runs.
    Started,
    /// It could not be started: why.
    StartFailed(String),
    /// The running task ended.
    Ended(Ending),
    /// An [`Effect::Defer`] passed, and the task still runs.
    StillRunning,
    /// Time for a heartbeat; the daemon has been silent this long.
    HeartbeatDue {
        silent: Duration,
    },
    /// SIGTERM, SIGINT or SIGHUP.
    Signal(&'static str),
    /// An [`Effect::ConfirmStop`] passed with no signal.
    NoStopSignal,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub result: TaskResult,
    /// Killed by a signal a scheduler stops jobs with (directly, or as a
    /// shell's 128 + signal).
    pub by_stop_signal: bool,
}

/// What the worker must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start this task; answer [`Input::Started`] or [`Input::StartFailed`].
    Start(Arc<TaskSpec>),
    /// Kill the running task and everything it started.
    Kill,
    /// Send these messages, in one write.
    Send(Vec<FromWorker>),
    /// The running task has just started: give it up to [`UNDISTURBED`] to
    /// end, deaf to the daemon, unless the daemon has already sent
    /// something. Its end is then heard after what the daemon sent
    /// meanwhile (the tasks sent ahead must be on hand when it is).
    Undisturbed,
    /// Results wait for the running task: give it up to [`DEFER`] to end,
    /// unless the daemon has already sent something; answer
    /// [`Input::Ended`] or [`Input::StillRunning`].
    Defer,
    /// The task died of a stop signal: wait up to [`SIGNAL_GRACE`] for one
    /// of the worker's own; answer [`Input::Signal`] or
    /// [`Input::NoStopSignal`].
    ConfirmStop,
    /// A result went out with nothing left to run: wait a moment, awake,
    /// for the next task, unless one is already there.
    Linger,
    /// Kill the running task and exit, for this reason.
    Exit(String),
}

#[derive(Debug)]
struct Current {
    request_id: String,
    /// Killed on the daemon's request, not by whoever stops the worker.
    cancelled: bool,
    /// Started since the worker last listened to the daemon.
    fresh: bool,
}

#[derive(Debug)]
pub struct WorkerState {
    worker_id: String,
    /// How many tasks it holds ahead at most, as it told the daemon.
    depth: usize,
    /// Silence from the daemon for this long means it is gone (even where no
    /// connection reset ever arrives, e.g. a vanished host).
    silence_limit: Duration,
    current: Option<Current>,
    held: VecDeque<Arc<TaskSpec>>,
    /// Messages to send in the next write.
    outbox: Vec<FromWorker>,
    /// The outbox holds results of tasks that ended: they may wait for the
    /// next one (see [`DEFER`]).
    results_may_wait: bool,
    /// An [`Effect::Defer`] is out, not answered yet.
    deferring: bool,
    /// A task ended by a stop signal, reported only if the worker is not
    /// being stopped; `true` once the loop has been asked to find out.
    confirming: Option<(TaskResult, bool)>,
    kill: bool,
    /// The last write held a result.
    sent_result: bool,
    /// Why it stops, once it does.
    exit: Option<String>,
    /// It stops because its daemon is gone (not asked to, not signalled):
    /// it may wait for a replacement.
    daemon_lost: bool,
    /// What to tell the daemon before the [`Effect::Exit`].
    last_words: Option<FromWorker>,
    /// The [`Effect::Exit`] is out: nothing follows it.
    exited: bool,
}

impl WorkerState {
    /// A worker that holds up to `depth` tasks ahead and hears from its
    /// daemon at least every `silence_limit`.
    pub fn new(worker_id: &str, depth: usize, silence_limit: Duration) -> WorkerState {
        WorkerState {
            worker_id: worker_id.to_string(),
            depth,
            silence_limit,
            current: None,
            held: VecDeque::new(),
            outbox: Vec::new(),
            results_may_wait: false,
            deferring: false,
            confirming: None,
            kill: false,
            sent_result: false,
            exit: None,
            daemon_lost: false,
            last_words: None,
            exited: false,
        }
    }

    /// The request id of the running task.
    #[cfg(test)]
    pub fn running(&self) -> Option<&str> {
        self.current.as_ref().map(|c| c.request_id.as_str())
    }

    /// The tasks held ahead, in the order they will start.
    #[cfg(test)]
    pub fn held(&self) -> impl Iterator<Item = &str> {
        self.held.iter().map(|spec| spec.request_id.as_str())
    }

    pub fn handle(&mut self, input: Input) {
        match input {
            Input::Daemon(message) => self.daemon_said(message),
            Input::DaemonGone(why) => self.lose_daemon(why),
            Input::Forged(what) => {
                self.last_words = Some(FromWorker::Attacked { what: what.clone() });
                self.lose_daemon(format!("dropped the connection to the daemon: {what}"));
            }
            Input::Started => {}
            Input::StartFailed(message) => {
                if let Some(failed) = self.current.take() {
                    self.report(TaskResult::error(&failed.request_id, message));
                }
            }
            Input::Ended(ending) => {
                self.deferring = false;
                let Some(ended) = self.current.take() else {
                    return;
                };
                if ending.by_stop_signal && !ended.cancelled {
                    self.confirming = Some((ending.result, false));
                } else {
                    self.report(ending.result);
                }
            }
            Input::StillRunning => {
                if std::mem::take(&mut self.deferring) {
                    self.results_may_wait = false;
                }
            }
            Input::HeartbeatDue { silent } => {
                if silent > self.silence_limit {
                    let secs = silent.as_secs_f64();
                    self.lose_daemon(format!("no word from the daemon for {secs:.1}s"));
                } else {
                    let worker_id = self.worker_id.clone();
                    self.outbox.push(FromWorker::Heartbeat { worker_id });
                }
            }
            Input::Signal(name) => match self.confirming {
                Some(_) => self.stop(format!("{name} (its task was signalled too; not reported)")),
                None => self.stop(name.to_string()),
            },
            Input::NoStopSignal => {
                if let Some((result, _)) = self.confirming.take() {
                    self.report(result);
                }
            }
        }
    }

    fn daemon_said(&mut self, message: ToWorker) {
        match message {
            ToWorker::Execute(spec) => {
                if self.current.is_some() && self.held.len() >= self.depth {
                    let busy = "worker is busy with another task".to_string();
                    self.outbox.push(FromWorker::Result(TaskResult::error(
                        &spec.request_id,
                        busy,
                    )));
                } else {
                    self.held.push_back(spec);
                }
            }
            ToWorker::Cancel { request_id } => match self.current.as_mut() {
                Some(running) if running.request_id == request_id => {
                    running.cancelled = true;
                    self.kill = true;
                }
                _ => self.hand_back(request_id),
            },
            ToWorker::Withdraw { request_id } => self.hand_back(request_id),
            ToWorker::Shutdown {} => self.stop("asked to shut down".into()),
            ToWorker::Heartbeat {}
            | ToWorker::Challenge { .. }
            | ToWorker::Registered { .. }
            | ToWorker::Rejected { .. } => {}
        }
    }

    /// Hands back the held task `request_id`, if it holds it.
    fn hand_back(&mut self, request_id: String) {
        if let Some(at) = self.held.iter().position(|s| s.request_id == request_id) {
            self.held.remove(at);
            self.outbox.push(FromWorker::Withdrawn { request_id });
        }
    }

    /// A result to send, with the others of its batch.
    fn report(&mut self, result: TaskResult) {
        self.outbox.push(FromWorker::Result(result));
        self.results_may_wait = true;
    }

    fn stop(&mut self, why: String) {
        self.exit.get_or_insert(why);
    }

    fn lose_daemon(&mut self, why: String) {
        if self.exit.is_none() {
            self.daemon_lost = true;
        }
        self.stop(why);
    }

    /// Whether it stopped because its daemon went away (or fell silent),
    /// rather than being told or signalled to.
    pub fn daemon_lost(&self) -> bool {
        self.daemon_lost
    }

    fn results_in_outbox(&self) -> usize {
        self.outbox
            .iter()
            .filter(|m| matches!(m, FromWorker::Result(_)))
            .count()
    }

    /// What to do next, until there is nothing (then wait for the next
    /// input).
    pub fn next(&mut self) -> Option<Effect> {
        if self.exited {
            return None;
        }
        if let Some(why) = &self.exit {
            if let Some(words) = self.last_words.take() {
                return Some(Effect::Send(vec![words]));
            }
            self.exited = true;
            return Some(Effect::Exit(why.clone()));
        }
        if std::mem::take(&mut self.kill) {
            return Some(Effect::Kill);
        }
        if let Some((_, asked)) = &mut self.confirming {
            // What already ended goes out first: it is reported either way.
            if !self.outbox.is_empty() {
                return Some(self.send());
            }
            if !*asked {
                *asked = true;
                return Some(Effect::ConfirmStop);
            }
            return None;
        }
        if self.current.is_none() {
            if let Some(spec) = self.held.pop_front() {
                self.current = Some(Current {
                    request_id: spec.request_id.clone(),
                    cancelled: false,
                    fresh: true,
                });
                return Some(Effect::Start(spec));
            }
        }
        if self.deferring {
            return None;
        }
        let results = self.results_in_outbox();
        if self.results_may_wait && results > 0 && results <= self.held.len() {
            if let Some(running) = self.current.as_mut() {
                running.fresh = false;
                self.deferring = true;
                return Some(Effect::Defer);
            }
        }
        if !self.outbox.is_empty() {
            return Some(self.send());
        }
        if std::mem::take(&mut self.sent_result) && self.current.is_none() {
            return Some(Effect::Linger);
        }
        if let Some(running) = self.current.as_mut().filter(|c| c.fresh) {
            running.fresh = false;
            return Some(Effect::Undisturbed);
        }
        None
    }

    fn send(&mut self) -> Effect {
        self.sent_result = self.results_in_outbox() > 0;
        self.results_may_wait = false;
        Effect::Send(std::mem::take(&mut self.outbox))
    }
}

#[cfg(test)]
mod tests;
