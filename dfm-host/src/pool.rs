//! The pool's decisions, as a state machine with no I/O.
//!
//! The daemon feeds it events (a task submitted, a worker registered, a
//! result, a timeout) with the current time, and carries out the
//! [`Action`]s it returns: launch a worker job, send a task to a worker,
//! reply to a client. Everything here is testable without sockets,
//! processes or clocks.
//!
//! Dispatch is FIFO per resource class (a task of class C only runs on a
//! worker launched for C). Queues and idle workers are kept per class, so a
//! dispatch costs the same whatever the queue length or pool size.
//!
//! With [`PoolConfig::prefetch`], a busy worker is also sent its next tasks
//! (up to that many) while tasks of its class wait and no worker is idle:
//! it starts each the moment the one before ends, without waiting for the
//! daemon. A task sent ahead is *withdrawn* again when a worker of its
//! class goes idle before it started, so a long task never holds up a
//! short one.

use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use self::table::Table;
use crate::protocol::{TaskResult, TaskSpec};

pub type ClientId = u64;
pub type SlotId = u64;
type TaskId = u64;
/// A resource class, as an index into the pool's `classes`.
type ClassId = usize;

/// Tasks a busy worker holds ahead unless configured otherwise. A worker
/// reports its results in batches while it holds more tasks than it has
/// results (see `worker::DEFER`), so with four it reports about three at
/// once and still has two to run while the daemon sends the next ones:
/// enough to hide a network round trip of a few milliseconds.
pub const DEFAULT_PREFETCH: usize = 4;

/// Queued tasks per worker from which the pool counts as saturated.
pub const SATURATED_QUEUE_PER_WORKER: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    pub max_workers: usize,
    /// Workers of the default class kept running even when idle.
    pub min_workers: usize,
    pub idle_timeout: Duration,
    /// Worker launches in flight at once.
    pub launch_batch_size: usize,
    /// How long a launched job may take to register.
    pub launch_timeout: Duration,
    /// How long a registered worker may stay silent.
    pub heartbeat_timeout: Duration,
    /// How often a task is started on a worker that is then lost, before
    /// it fails.
    pub max_task_attempts: u32,
    /// Launch failures in a row (per class) after which waiting tasks fail.
    pub max_launch_failures: u32,
    /// How many tasks a busy worker may hold ahead when tasks wait (see
    /// the module's documentation); 0 sends none.
    pub prefetch: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_workers: 16,
            min_workers: 0,
            idle_timeout: Duration::from_secs(300),
            launch_batch_size: 4,
            launch_timeout: Duration::from_secs(300),
            heartbeat_timeout: Duration::from_secs(30),
            max_task_attempts: 3,
            max_launch_failures: 3,
            prefetch: DEFAULT_PREFETCH,
        }
    }
}

/// What the daemon must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start a worker job for `class`; report back with
    /// [`Pool::launched`] or [`Pool::launch_failed`].
    Launch {
        slot: SlotId,
        worker_id: String,
        class: String,
    },
    /// Send this task (of `client`) to the worker of `slot`. When `ahead`,
    /// the worker is busy and starts it once its current task ends; a
    /// [`Action::Started`] follows then.
    Dispatch {
        slot: SlotId,
        client: ClientId,
        task: Arc<TaskSpec>,
        ahead: bool,
    },
    /// The task sent ahead to the worker of `slot` is now running there.
    Started {
        slot: SlotId,
        client: ClientId,
        request_id: String,
    },
    /// Ask the worker of `slot` to hand back the task sent ahead, if it has
    /// not started it; report its answer with [`Pool::task_withdrawn`].
    Withdraw { slot: SlotId, request_id: String },
    /// Tell the worker of `slot` to kill its task.
    CancelOnWorker { slot: SlotId, request_id: String },
    /// Tell the worker of `slot` to exit, and stop its job. The slot is gone.
    Retire { slot: SlotId },
    /// Stop the job of `slot` (never registered, or lost). The slot is gone.
    Terminate { slot: SlotId },
    /// The final reply to a submitted task.
    Reply {
        client: ClientId,
        request_id: String,
        outcome: Outcome,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished(TaskResult),
    /// The task did not run to completion for a reason of dfm's: launch
    /// failures, lost workers, cancellation, shutdown.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    DuplicateRequestId(String),
    ShuttingDown,
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubmitError::DuplicateRequestId(id) => write!(
                f,
                "duplicate request_id '{id}': a task with this id is already in flight on this connection"
            ),
            SubmitError::ShuttingDown => write!(f, "the daemon is shutting down"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    UnknownWorker(String),
    AlreadyRegistered(String),
    WrongClass { expected: String, got: String },
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegisterError::UnknownWorker(id) => write!(
                f,
                "worker id '{id}' was not launched by this daemon or its launch timed out"
            ),
            RegisterError::AlreadyRegistered(id) => {
                write!(f, "worker id '{id}' is already registered")
            }
            RegisterError::WrongClass { expected, got } => write!(
                f,
                "worker was launched for resource class '{expected}' but registered as '{got}'"
            ),
        }
    }
}

/// What a worker says about itself when it registers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerInfo {
    pub hostname: String,
    pub pid: u32,
    pub job_id: String,
    /// How many tasks the worker accepts ahead while busy (older workers:
    /// none).
    pub prefetch: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// The runner has been asked to start the job.
    Launching,
    /// The job has started; the worker has not registered yet.
    Starting,
    Idle,
    Busy(TaskId),
}

#[derive(Debug, Clone)]
pub struct Slot {
    pub worker_id: String,
    /// Its resource class: see [`Pool::class_of`].
    class_id: ClassId,
    pub state: SlotState,
    pub info: WorkerInfo,
    /// When the slot entered its current state.
    pub since: Instant,
    /// The last message from its worker.
    last_seen: Instant,
    /// The tasks sent ahead, to start in this order as the current one
    /// ends.
    next: VecDeque<TaskId>,
    /// In its class's `open` list.
    open: bool,
}

impl Slot {
    /// Busy, and holding fewer tasks ahead than both the pool's `depth`
    /// and its worker allow.
    fn can_hold_more(&self, depth: usize) -> bool {
        matches!(self.state, SlotState::Busy(_)) && self.next.len() < depth.min(self.info.prefetch)
    }
}

#[derive(Debug)]
struct Task {
    client: ClientId,
    spec: Arc<TaskSpec>,
    class: ClassId,
    attempts: u32,
    /// The worker it was sent to (running it, or holding it ahead).
    running_on: Option<SlotId>,
    /// Sent ahead and not started yet (as far as the pool knows).
    ahead: bool,
    /// Sent ahead, and asked back (withdrawn, or cancelled).
    withdrawing: bool,
    /// Cancelled while running: the worker is still killing it.
    cancelled: bool,
}

#[derive(Debug, Default)]
struct ClassState {
    name: String,
    /// FIFO of queued tasks; may hold ids of cancelled tasks, skipped when
    /// popped.
    queue: VecDeque<TaskId>,
    /// Live entries in `queue`.
    queued: usize,
    /// Idle workers, most recently idle last.
    idle: Vec<SlotId>,
    /// Busy workers that may take a task ahead, in the order they became
    /// able to; may hold slots that no longer can, checked when popped.
    open: VecDeque<SlotId>,
    /// Tasks held ahead by workers and not asked back.
    ahead: usize,
    /// Tasks held ahead and asked back, answer pending.
    withdrawing: usize,
    /// Slots launching or starting.
    starting: usize,
    /// All slots of this class, in any state.
    slots: usize,
    launch_failures: u32,
}

/// Counters for status displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub busy: usize,
    pub idle: usize,
    pub pending: usize,
    pub queued: usize,
    pub running: usize,
    pub completed: u64,
    pub failed: u64,
}

pub struct Pool {
    config: PoolConfig,
    worker_id_prefix: String,
    next_id: u64,
    slots: BTreeMap<SlotId, Slot>,
    by_worker_id: HashMap<String, SlotId>,
    tasks: Table<Task>,
    by_request: HashMap<(ClientId, String), TaskId>,
    /// By [`ClassId`]; a class, once seen, stays.
    classes: Vec<ClassState>,
    class_ids: BTreeMap<String, ClassId>,
    /// Class ids in the order of their names: the order classes are
    /// served in.
    class_order: Vec<ClassId>,
    launching: usize,
    completed: u64,
    failed: u64,
    shutting_down: bool,
    actions: Vec<Action>,
}

impl Pool {
    /// `worker_id_prefix` makes worker ids unique across daemons.
    pub fn new(config: PoolConfig, worker_id_prefix: &str) -> Pool {
        Pool {
            config,
            worker_id_prefix: worker_id_prefix.to_string(),
            next_id: 1,
            slots: BTreeMap::new(),
            by_worker_id: HashMap::new(),
            tasks: Table::default(),
            by_request: HashMap::new(),
            classes: Vec::new(),
            class_ids: BTreeMap::new(),
            class_order: Vec::new(),
            launching: 0,
            completed: 0,
            failed: 0,
            shutting_down: false,
            actions: Vec::new(),
        }
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The actions decided since the last call, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    pub fn slot(&self, slot: SlotId) -> Option<&Slot> {
        self.slots.get(&slot)
    }

    pub fn slots(&self) -> impl Iterator<Item = (SlotId, &Slot)> {
        self.slots.iter().map(|(id, slot)| (*id, slot))
    }

    /// The resource class the worker of `slot` was launched for.
    pub fn class_of(&self, slot: &Slot) -> &str {
        &self.classes[slot.class_id].name
    }

    pub fn slot_of_worker(&self, worker_id: &str) -> Option<SlotId> {
        self.by_worker_id.get(worker_id).copied()
    }

    /// The request id of the task running on `slot`.
    pub fn current_task(&self, slot: SlotId) -> Option<&TaskSpec> {
        match self.slots.get(&slot)?.state {
            SlotState::Busy(task) => self.tasks.get(&task).map(|t| t.spec.as_ref()),
            _ => None,
        }
    }

    /// Whether at least [`SATURATED_QUEUE_PER_WORKER`] tasks per worker
    /// wait in the queue (not sent to any worker yet): the workers have
    /// work for a while, whatever arrives next.
    pub fn saturated(&self) -> bool {
        let queued: usize = self.classes.iter().map(|c| c.queued).sum();
        !self.slots.is_empty() && queued >= SATURATED_QUEUE_PER_WORKER * self.slots.len()
    }

    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            total: self.slots.len(),
            completed: self.completed,
            failed: self.failed,
            ..Counts::default()
        };
        for slot in self.slots.values() {
            match slot.state {
                SlotState::Launching | SlotState::Starting => counts.pending += 1,
                SlotState::Idle => counts.idle += 1,
                SlotState::Busy(_) => counts.busy += 1,
            }
        }
        // Tasks held ahead by busy workers are waiting too.
        counts.queued = self
            .classes
            .iter()
            .map(|c| c.queued + c.ahead + c.withdrawing)
            .sum();
        // A busy worker runs exactly one task (perhaps being killed): no need
        // to go through every task, queued ones included, on each event.
        counts.running = counts.busy;
        counts
    }

    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        self.tasks.is_empty()
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The default class (workers started without a resource class).
    fn default_class(&self) -> Option<&ClassState> {
        self.class_ids.get("").map(|&id| &self.classes[id])
    }

    /// The id of the class named `name`, which exists from then on.
    fn class_id(&mut self, name: &str) -> ClassId {
        if let Some(&id) = self.class_ids.get(name) {
            return id;
        }
        let id = self.classes.len();
        self.classes.push(ClassState {
            name: name.to_string(),
            ..ClassState::default()
        });
        self.class_ids.insert(name.to_string(), id);
        let classes = &self.classes;
        let at = self
            .class_order
            .partition_point(|&other| classes[other].name.as_str() < name);
        self.class_order.insert(at, id);
        id
    }

    /// Classes are only made by [`Pool::class_id`], and never removed.
    fn class_mut(&mut self, class: ClassId) -> &mut ClassState {
        &mut self.classes[class]
    }

    // ------------------------------------------------------------ events

    pub fn submit(
        &mut self,
        client: ClientId,
        spec: TaskSpec,
        now: Instant,
    ) -> Result<(), SubmitError> {
        if self.shutting_down {
            return Err(SubmitError::ShuttingDown);
        }
        let key = (client, spec.request_id.clone());
        if self.by_request.contains_key(&key) {
            return Err(SubmitError::DuplicateRequestId(spec.request_id));
        }
        let id = self.fresh_id();
        let class = self.class_id(&spec.resource_class);
        self.by_request.insert(key, id);
        let state = self.class_mut(class);
        state.queue.push_back(id);
        state.queued += 1;
        self.tasks.insert(
            id,
            Task {
                client,
                spec: Arc::new(spec),
                class,
                attempts: 0,
                running_on: None,
                ahead: false,
                withdrawing: false,
                cancelled: false,
            },
        );
        self.schedule(now);
        Ok(())
    }

    /// Cancels one task of `client`; false if there is no such task.
    pub fn cancel(&mut self, client: ClientId, request_id: &str, now: Instant) -> bool {
        let Some(&id) = self.by_request.get(&(client, request_id.to_string())) else {
            return false;
        };
        self.cancel_task(id, true);
        self.schedule(now);
        true
    }

    /// The client went away: its tasks go without replies.
    pub fn client_gone(&mut self, client: ClientId, now: Instant) {
        let ids: Vec<TaskId> = self
            .by_request
            .iter()
            .filter(|((owner, _), _)| *owner == client)
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            self.cancel_task(id, false);
        }
        self.schedule(now);
    }

    fn cancel_task(&mut self, id: TaskId, reply: bool) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        if task.cancelled {
            return;
        }
        let (client, request_id) = (task.client, task.spec.request_id.clone());
        match task.running_on {
            Some(slot) => {
                // The worker stays busy until it reports the killed task,
                // or hands back the one it held ahead.
                task.cancelled = true;
                if task.ahead && !task.withdrawing {
                    task.withdrawing = true;
                    let state = &mut self.classes[task.class];
                    state.ahead -= 1;
                    state.withdrawing += 1;
                }
                self.by_request.remove(&(client, request_id.clone()));
                self.actions.push(Action::CancelOnWorker {
                    slot,
                    request_id: request_id.clone(),
                });
            }
            None => {
                self.classes[task.class].queued -= 1;
                self.forget_task(id);
            }
        }
        if reply {
            self.failed += 1;
            self.actions.push(Action::Reply {
                client,
                request_id,
                outcome: Outcome::Failed("cancelled".into()),
            });
        }
    }

    fn forget_task(&mut self, id: TaskId) -> Option<Task> {
        let task = self.tasks.remove(&id)?;
        let key = (task.client, task.spec.request_id.clone());
        if self.by_request.get(&key) == Some(&id) {
            self.by_request.remove(&key);
        }
        Some(task)
    }

    /// The runner started the job of `slot`.
    pub fn launched(&mut self, slot: SlotId, now: Instant) {
        let mut retire = false;
        if let Some(s) = self.slots.get_mut(&slot) {
            if s.state == SlotState::Launching {
                s.state = SlotState::Starting;
                s.since = now;
                self.launching -= 1;
            }
            retire = self.shutting_down;
        }
        if retire {
            self.remove_slot(slot, Action::Terminate { slot });
        }
        self.schedule(now);
    }

    /// The runner could not start the job of `slot`.
    pub fn launch_failed(&mut self, slot: SlotId, message: &str, now: Instant) {
        let Some(s) = self.slots.get(&slot) else {
            return;
        };
        let class = s.class_id;
        self.remove_slot(slot, Action::Terminate { slot });
        self.note_launch_failure(class, message);
        self.schedule(now);
    }

    fn note_launch_failure(&mut self, class: ClassId, message: &str) {
        let limit = self.config.max_launch_failures.max(1);
        let state = self.class_mut(class);
        state.launch_failures += 1;
        if state.launch_failures < limit {
            return;
        }
        state.launch_failures = 0;
        let queued: Vec<TaskId> = state.queue.drain(..).collect();
        state.queued = 0;
        let what = if state.name.is_empty() {
            String::from("worker")
        } else {
            format!("worker of resource class '{}'", state.name)
        };
        let reason =
            format!("could not start a {what} ({limit} launches failed in a row): {message}");
        for id in queued {
            if let Some(task) = self.forget_task(id) {
                self.failed += 1;
                self.actions.push(Action::Reply {
                    client: task.client,
                    request_id: task.spec.request_id.clone(),
                    outcome: Outcome::Failed(reason.clone()),
                });
            }
        }
    }

    /// A worker presents itself (after authenticating).
    pub fn register(
        &mut self,
        worker_id: &str,
        class: &str,
        info: WorkerInfo,
        now: Instant,
    ) -> Result<SlotId, RegisterError> {
        let slot_id = self
            .slot_of_worker(worker_id)
            .ok_or_else(|| RegisterError::UnknownWorker(worker_id.to_string()))?;
        let Some(slot) = self.slots.get_mut(&slot_id) else {
            return Err(RegisterError::UnknownWorker(worker_id.to_string()));
        };
        match slot.state {
            SlotState::Launching | SlotState::Starting => {}
            _ => return Err(RegisterError::AlreadyRegistered(worker_id.to_string())),
        }
        let expected = &self.classes[slot.class_id].name;
        if expected != class {
            return Err(RegisterError::WrongClass {
                expected: expected.clone(),
                got: class.to_string(),
            });
        }
        if slot.state == SlotState::Launching {
            self.launching -= 1;
        }
        slot.state = SlotState::Idle;
        slot.info = info;
        slot.since = now;
        slot.last_seen = now;
        let state = &mut self.classes[slot.class_id];
        state.starting -= 1;
        state.launch_failures = 0;
        state.idle.push(slot_id);
        if self.shutting_down {
            self.remove_slot(slot_id, Action::Retire { slot: slot_id });
        }
        self.schedule(now);
        Ok(slot_id)
    }

    /// Any message from the worker of `slot` shows it is alive.
    pub fn heard_from(&mut self, slot: SlotId, now: Instant) {
        if let Some(s) = self.slots.get_mut(&slot) {
            s.last_seen = now;
        }
    }

    /// The worker of `slot` reports a result. Returns an error when the
    /// worker was not running that task.
    pub fn task_finished(
        &mut self,
        slot: SlotId,
        result: TaskResult,
        now: Instant,
    ) -> Result<(), String> {
        let Some(s) = self.slots.get_mut(&slot) else {
            return Err("result from a worker that is not in the pool".into());
        };
        s.last_seen = now;
        let SlotState::Busy(task_id) = s.state else {
            return Err(format!(
                "result for '{}' from an idle worker",
                result.request_id
            ));
        };
        let matches = self
            .tasks
            .get(&task_id)
            .is_some_and(|t| t.spec.request_id == result.request_id);
        if !matches {
            return Err(format!(
                "result for '{}', a task this worker was not given",
                result.request_id
            ));
        }
        s.since = now;
        let class = s.class_id;
        match s.next.pop_front() {
            // The worker started the task it held as soon as this one ended.
            Some(next) => {
                s.state = SlotState::Busy(next);
                self.start_ahead(slot, next);
            }
            None => {
                s.state = SlotState::Idle;
                self.class_mut(class).idle.push(slot);
            }
        }
        let task = self.forget_task(task_id);
        // The freed worker gets its next task before the client hears of
        // this one: the worker's wait is on the critical path, the reply is
        // not.
        self.schedule(now);
        if let Some(task) = task {
            if !task.cancelled {
                if result.status == 0 {
                    self.completed += 1;
                } else {
                    self.failed += 1;
                }
                self.actions.push(Action::Reply {
                    client: task.client,
                    request_id: task.spec.request_id.clone(),
                    outcome: Outcome::Finished(result),
                });
            }
        }
        Ok(())
    }

    /// A task held ahead by the worker of `slot` is now running there.
    fn start_ahead(&mut self, slot: SlotId, id: TaskId) {
        let Some(task) = self.unhold(id) else {
            return;
        };
        task.attempts += 1;
        let (client, request_id, cancelled) =
            (task.client, task.spec.request_id.clone(), task.cancelled);
        self.offer(slot);
        if !cancelled {
            self.actions.push(Action::Started {
                slot,
                client,
                request_id,
            });
        }
    }

    /// The worker of `slot` handed back a task it held ahead, unstarted.
    /// Returns an error when it held no such task.
    pub fn task_withdrawn(
        &mut self,
        slot: SlotId,
        request_id: &str,
        now: Instant,
    ) -> Result<(), String> {
        let Some(s) = self.slots.get_mut(&slot) else {
            return Err("withdrawal from a worker that is not in the pool".into());
        };
        s.last_seen = now;
        let tasks = &self.tasks;
        let held = s.next.iter().position(|id| {
            tasks
                .get(id)
                .is_some_and(|t| t.spec.request_id == request_id)
        });
        let Some(id) = held.and_then(|at| s.next.remove(at)) else {
            return Err(format!(
                "'{request_id}' handed back, but this worker held no such task"
            ));
        };
        self.put_back_ahead(id);
        self.offer(slot);
        self.schedule(now);
        Ok(())
    }

    /// A task held ahead goes back to the front of its queue, unless it was
    /// cancelled. It was never started: no attempt is counted.
    fn put_back_ahead(&mut self, id: TaskId) {
        let Some(task) = self.unhold(id) else {
            return;
        };
        task.running_on = None;
        let (cancelled, class) = (task.cancelled, task.class);
        if cancelled {
            self.forget_task(id);
        } else {
            let state = self.class_mut(class);
            state.queue.push_front(id);
            state.queued += 1;
        }
    }

    /// Task `id` is no longer held ahead (it started, or came back): off its
    /// class's counts of held tasks.
    fn unhold(&mut self, id: TaskId) -> Option<&mut Task> {
        let task = self.tasks.get_mut(&id)?;
        let withdrawing = std::mem::take(&mut task.withdrawing);
        task.ahead = false;
        let state = self.classes.get_mut(task.class)?;
        if withdrawing {
            state.withdrawing -= 1;
        } else {
            state.ahead -= 1;
        }
        Some(task)
    }

    /// The tasks `slot` holds ahead that have not been asked back, in line
    /// order.
    fn still_held<'a>(&'a self, slot: &'a Slot) -> impl Iterator<Item = TaskId> + 'a {
        slot.next
            .iter()
            .copied()
            .filter(|id| self.tasks.get(id).is_some_and(|t| !t.withdrawing))
    }

    /// Lists a busy `slot` as able to take a task ahead, if it is.
    fn offer(&mut self, slot: SlotId) {
        let depth = self.config.prefetch;
        let Some(s) = self.slots.get_mut(&slot) else {
            return;
        };
        if s.open || !s.can_hold_more(depth) {
            return;
        }
        s.open = true;
        self.classes[s.class_id].open.push_back(slot);
    }

    /// The worker of `slot` disconnected, or its job ended.
    pub fn worker_lost(&mut self, slot: SlotId, reason: &str, now: Instant) {
        let Some(s) = self.slots.get(&slot) else {
            return;
        };
        let (state, class) = (s.state, s.class_id);
        let next = s.next.clone();
        let who = format!(
            "worker {} on {}",
            s.worker_id,
            if s.info.hostname.is_empty() {
                "an unknown host"
            } else {
                &s.info.hostname
            }
        );
        self.remove_slot(slot, Action::Terminate { slot });
        // Held ahead, never started: back in line in their order, behind
        // the running task.
        for &id in next.iter().rev() {
            self.put_back_ahead(id);
        }
        match state {
            SlotState::Launching | SlotState::Starting => {
                self.note_launch_failure(class, &format!("{who} {reason} before registering"));
            }
            SlotState::Busy(task_id) => self.requeue_or_fail(task_id, &who, reason),
            SlotState::Idle => {}
        }
        self.schedule(now);
    }

    fn requeue_or_fail(&mut self, task_id: TaskId, who: &str, reason: &str) {
        let limit = self.config.max_task_attempts.max(1);
        let Some(task) = self.tasks.get_mut(&task_id) else {
            return;
        };
        task.running_on = None;
        if task.cancelled {
            self.forget_task(task_id);
            return;
        }
        if task.attempts >= limit {
            let message = format!(
                "worker lost: {who} {reason} while running task '{}' (started {} times, giving up)",
                task.spec.name, task.attempts
            );
            if let Some(task) = self.forget_task(task_id) {
                self.failed += 1;
                self.actions.push(Action::Reply {
                    client: task.client,
                    request_id: task.spec.request_id.clone(),
                    outcome: Outcome::Failed(message),
                });
            }
            return;
        }
        // First in line again: it was dispatched before anything queued now.
        let state = &mut self.classes[task.class];
        state.queue.push_front(task_id);
        state.queued += 1;
    }

    /// The runner reports that the job of `slot` ended.
    pub fn job_exited(&mut self, slot: SlotId, code: i32, now: Instant) {
        self.worker_lost(slot, &format!("exited (job exit code {code})"), now);
    }

    /// Applies timeouts; call it periodically (the daemon does, at a tenth of
    /// the shortest timeout).
    pub fn tick(&mut self, now: Instant) {
        let mut lost = Vec::new();
        let mut unregistered = Vec::new();
        for (&id, slot) in &self.slots {
            match slot.state {
                SlotState::Starting if now >= slot.since + self.config.launch_timeout => {
                    unregistered.push(id)
                }
                SlotState::Idle | SlotState::Busy(_)
                    if now >= slot.last_seen + self.config.heartbeat_timeout =>
                {
                    lost.push(id)
                }
                _ => {}
            }
        }
        let timeout = self.config.launch_timeout.as_secs_f64();
        for id in unregistered {
            self.worker_lost(id, &format!("did not register within {timeout:.0} s"), now);
        }
        let silence = self.config.heartbeat_timeout.as_secs_f64();
        for id in lost {
            self.worker_lost(id, &format!("sent no heartbeat for {silence:.1} s"), now);
        }
        self.retire_idle(now);
        self.schedule(now);
    }

    /// Stop everything: every task gets a final reply, every worker goes.
    pub fn shutdown(&mut self) {
        self.shutting_down = true;
        let mut tasks: Vec<(TaskId, ClientId, String, bool)> = self
            .tasks
            .iter()
            .map(|(id, t)| (id, t.client, t.spec.request_id.clone(), t.cancelled))
            .collect();
        tasks.sort_unstable();
        for (id, client, request_id, cancelled) in tasks {
            self.forget_task(id);
            if !cancelled {
                self.failed += 1;
                self.actions.push(Action::Reply {
                    client,
                    request_id,
                    outcome: Outcome::Failed("the daemon is shutting down".into()),
                });
            }
        }
        for class in &mut self.classes {
            class.queue.clear();
            class.queued = 0;
        }
        let slots: Vec<(SlotId, SlotState)> =
            self.slots.iter().map(|(id, s)| (*id, s.state)).collect();
        for (slot, state) in slots {
            match state {
                // Its launch is still in flight: terminated when it reports.
                SlotState::Launching => {}
                SlotState::Starting => self.remove_slot(slot, Action::Terminate { slot }),
                SlotState::Idle | SlotState::Busy(_) => {
                    self.remove_slot(slot, Action::Retire { slot })
                }
            }
        }
    }

    /// Launches still waiting for the runner to answer.
    pub fn launches_in_flight(&self) -> usize {
        self.launching
    }

    // ------------------------------------------------------------ decisions

    fn remove_slot(&mut self, id: SlotId, action: Action) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        self.by_worker_id.remove(&slot.worker_id);
        let class = self.class_mut(slot.class_id);
        class.slots -= 1;
        match slot.state {
            SlotState::Launching | SlotState::Starting => class.starting -= 1,
            SlotState::Idle => class.idle.retain(|s| *s != id),
            SlotState::Busy(_) => {}
        }
        if slot.state == SlotState::Launching {
            self.launching -= 1;
            // The runner still owes an answer for this launch; the daemon
            // terminates the job when it comes, as the slot is gone.
        }
        self.actions.push(action);
    }

    fn retire_idle(&mut self, now: Instant) {
        let timeout = self.config.idle_timeout;
        let mut default_class_count = self.default_class().map_or(0, |c| c.slots);
        let expired: Vec<SlotId> = self
            .slots
            .iter()
            .filter(|(_, s)| s.state == SlotState::Idle && now >= s.since + timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let is_default = self
                .slots
                .get(&id)
                .is_some_and(|s| self.classes[s.class_id].name.is_empty());
            if is_default {
                if default_class_count <= self.config.min_workers {
                    continue;
                }
                default_class_count -= 1;
            }
            self.remove_slot(id, Action::Retire { slot: id });
        }
    }

    fn schedule(&mut self, now: Instant) {
        if self.shutting_down {
            return;
        }
        self.dispatch(now);
        self.launch_for_demand(now);
    }

    fn dispatch(&mut self, now: Instant) {
        let prefetch = self.config.prefetch > 0;
        for k in 0..self.class_order.len() {
            let class = self.class_order[k];
            let c = &self.classes[class];
            let work = (c.queued > 0 && (!c.idle.is_empty() || (prefetch && !c.open.is_empty())))
                || (c.ahead > 0 && c.idle.len() > c.withdrawing);
            if !work {
                continue;
            }
            while let Some((slot_id, ahead)) = self.destination(class) {
                let Some(task_id) = self.pop_queued(class) else {
                    // Nothing to send after all: the worker stays available.
                    if ahead {
                        self.offer(slot_id);
                    } else {
                        self.class_mut(class).idle.push(slot_id);
                    }
                    break;
                };
                let Some(task) = self.tasks.get_mut(&task_id) else {
                    continue;
                };
                task.running_on = Some(slot_id);
                task.ahead = ahead;
                let spec = Arc::clone(&task.spec);
                let client = task.client;
                if ahead {
                    self.class_mut(class).ahead += 1;
                    if let Some(slot) = self.slots.get_mut(&slot_id) {
                        slot.next.push_back(task_id);
                    }
                    self.offer(slot_id);
                } else {
                    task.attempts += 1;
                    if let Some(slot) = self.slots.get_mut(&slot_id) {
                        slot.state = SlotState::Busy(task_id);
                        slot.since = now;
                    }
                    self.offer(slot_id);
                }
                self.actions.push(Action::Dispatch {
                    slot: slot_id,
                    client,
                    task: spec,
                    ahead,
                });
            }
            self.withdraw_for_idle(class);
        }
    }

    /// Where the next queued task of `class` should go, if anywhere: an idle
    /// worker, else (with prefetch) a busy one that can hold one more task
    /// ahead, once the pool is full (a new worker would run it sooner) and
    /// no worker of the class is starting (the first tasks in line are its).
    /// Busy workers take turns, so they fill up evenly.
    fn destination(&mut self, class: ClassId) -> Option<(SlotId, bool)> {
        let depth = self.config.prefetch;
        let prefetch = depth > 0 && self.slots.len() >= self.config.max_workers;
        let state = self.classes.get_mut(class)?;
        if state.queued == 0 {
            return None;
        }
        if let Some(slot) = state.idle.pop() {
            return Some((slot, false));
        }
        if !prefetch || state.starting > 0 {
            return None;
        }
        while let Some(slot_id) = state.open.pop_front() {
            let Some(slot) = self.slots.get_mut(&slot_id) else {
                continue;
            };
            slot.open = false;
            if slot.can_hold_more(depth) {
                return Some((slot_id, true));
            }
        }
        None
    }

    /// The first live queued task of `class`, taken off the queue.
    fn pop_queued(&mut self, class: ClassId) -> Option<TaskId> {
        let state = self.classes.get_mut(class)?;
        while state.queued > 0 {
            let task_id = state.queue.pop_front()?;
            // Skip tasks cancelled while queued.
            if self
                .tasks
                .get(&task_id)
                .is_some_and(|t| t.running_on.is_none())
            {
                state.queued -= 1;
                return Some(task_id);
            }
        }
        None
    }

    /// Idle workers of `class` while others hold tasks ahead: ask those
    /// tasks back, so that they run now rather than after a task that may
    /// be long. One request per idle worker not already covered, each for
    /// the task last in line on a worker that holds the most.
    fn withdraw_for_idle(&mut self, class: ClassId) {
        let Some(state) = self.classes.get(class) else {
            return;
        };
        let wanted = state.idle.len().saturating_sub(state.withdrawing);
        if wanted == 0 || state.ahead == 0 {
            return;
        }
        // (tasks held and not asked back, slot), most first.
        let mut holders: BinaryHeap<(usize, SlotId)> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.class_id == class)
            .map(|(&id, slot)| (self.still_held(slot).count(), id))
            .filter(|(held, _)| *held > 0)
            .collect();
        let mut asked = Vec::new();
        while asked.len() < wanted {
            let Some((held, slot_id)) = holders.pop() else {
                break;
            };
            let last = self
                .slots
                .get(&slot_id)
                .and_then(|slot| self.still_held(slot).last());
            let Some(task) = last.and_then(|id| self.tasks.get_mut(&id)) else {
                continue;
            };
            task.withdrawing = true;
            asked.push((slot_id, task.spec.request_id.clone()));
            if held > 1 {
                holders.push((held - 1, slot_id));
            }
        }
        let state = self.class_mut(class);
        state.ahead -= asked.len();
        state.withdrawing += asked.len();
        for (slot, request_id) in asked {
            self.actions.push(Action::Withdraw { slot, request_id });
        }
    }

    /// Launches workers for the tasks no worker is starting for, class by
    /// class, then for `min_workers` default ones.
    fn launch_for_demand(&mut self, now: Instant) {
        let default_count = self.default_class().map_or(0, |c| c.slots);
        let default_ok = self.default_class().is_none_or(|c| c.launch_failures == 0);
        let mut default_extra = (default_count < self.config.min_workers && default_ok)
            .then(|| self.config.min_workers - default_count);
        for k in 0..self.class_order.len() {
            let class = self.class_order[k];
            let c = &self.classes[class];
            if c.queued <= c.starting {
                continue;
            }
            let mut need = c.queued - c.starting;
            if c.name.is_empty() {
                need = need.max(default_extra.take().unwrap_or(0));
            }
            if !self.launch_some(class, need, now) {
                return;
            }
        }
        if let Some(extra) = default_extra {
            let class = self.class_id("");
            self.launch_some(class, extra, now);
        }
    }

    /// Launches up to `need` workers of `class`, within the launch batch;
    /// false once the pool is full with nothing to retire.
    fn launch_some(&mut self, class: ClassId, mut need: usize, now: Instant) -> bool {
        while need > 0 && self.launching < self.config.launch_batch_size.max(1) {
            if self.slots.len() >= self.config.max_workers && !self.retire_one_unneeded() {
                return false;
            }
            self.launch(class, now);
            need -= 1;
        }
        true
    }

    /// Frees a slot held by an idle worker of a class nothing waits for.
    fn retire_one_unneeded(&mut self) -> bool {
        let victim = self
            .class_order
            .iter()
            .map(|&id| &self.classes[id])
            .filter(|c| c.queued == 0)
            .find_map(|c| c.idle.first().copied());
        match victim {
            Some(slot) => {
                self.remove_slot(slot, Action::Retire { slot });
                true
            }
            None => false,
        }
    }

    fn launch(&mut self, class: ClassId, now: Instant) {
        let id = self.fresh_id();
        let worker_id = format!("{}{:04x}", self.worker_id_prefix, id);
        let name = self.classes[class].name.clone();
        self.slots.insert(
            id,
            Slot {
                worker_id: worker_id.clone(),
                class_id: class,
                state: SlotState::Launching,
                info: WorkerInfo::default(),
                since: now,
                last_seen: now,
                next: VecDeque::new(),
                open: false,
            },
        );
        self.by_worker_id.insert(worker_id.clone(), id);
        let state = self.class_mut(class);
        state.starting += 1;
        state.slots += 1;
        self.launching += 1;
        self.actions.push(Action::Launch {
            slot: id,
            worker_id,
            class: name,
        });
    }
}

mod table;
#[cfg(test)]
mod tests;
