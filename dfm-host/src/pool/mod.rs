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
//!
//! Where things are: [`task`] holds a task's states and the one function
//! that moves a task between them (and keeps the counters); `dispatch` the
//! queues and what goes where; `prefetch` tasks held ahead and asked back;
//! `workers` the life of a worker slot, from launch to retirement;
//! `walltime` what a worker's job has left and what fits in it, with
//! `durations` what tasks are expected to take.

mod dispatch;
mod durations;
mod fair;
mod ids;
#[cfg(test)]
mod invariants;
pub mod licenses;
mod prefetch;
mod requests;
mod settings;
mod slots;
mod table;
mod task;
#[cfg(test)]
mod tests;
mod walltime;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use dfm_wire::{PoolCounts, TaskResult, TaskSpec, WorkerCounts};

use self::table::Table;
use self::task::{Counter, Task, TaskState};

pub use self::durations::Durations;
use self::ids::ClassId;
pub use self::ids::{ClientId, SlotId, TaskId};
pub use self::licenses::{LicenseConfig, LicenseUse};
pub use self::settings::{PoolConfig, DEFAULT_PREFETCH, SATURATED_QUEUE_PER_WORKER};
pub use self::table::IdHasher;
pub use self::task::Needs;

/// What the daemon must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start a worker job for `class` for each of `workers` (slot, worker
    /// id), decided at once (the daemon may launch them, and others of
    /// the class decided right after, as one job array); report back with
    /// [`Pool::launched`] or [`Pool::launch_failed`].
    Launch {
        workers: Vec<(SlotId, String)>,
        class: String,
    },
    /// Send this task (of `client`) to the worker of `slot`. When `ahead`,
    /// the worker is busy and starts it once its current task ends; a
    /// [`Action::Started`] follows then.
    Dispatch {
        slot: SlotId,
        client: ClientId,
        id: TaskId,
        task: std::sync::Arc<TaskSpec>,
        ahead: bool,
    },
    /// The task sent ahead to the worker of `slot` is now running there.
    Started {
        slot: SlotId,
        client: ClientId,
        id: TaskId,
    },
    /// Ask the worker of `slot` to hand back the task sent ahead, if it has
    /// not started it; report its answer with [`Pool::task_withdrawn`].
    Withdraw { slot: SlotId, request_id: String },
    /// Tell the worker of `slot` to kill its task.
    CancelOnWorker { slot: SlotId, request_id: String },
    /// Tell the worker of `slot` to exit, and stop its job. The slot is gone.
    Retire { slot: SlotId, worker_id: String },
    /// Stop the job of `slot` (never registered, or lost). The slot is gone.
    Terminate { slot: SlotId, worker_id: String },
    /// The final reply to a submitted task.
    Reply {
        client: ClientId,
        id: TaskId,
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error(
        "duplicate request_id '{0}': a task with this id is already in flight on this connection"
    )]
    DuplicateRequestId(String),
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("worker id '{0}' was not launched by this daemon or its launch timed out")]
    UnknownWorker(String),
    #[error("worker id '{0}' is already registered")]
    AlreadyRegistered(String),
    #[error("worker was launched for resource class '{expected}' but registered as '{got}'")]
    WrongClass { expected: String, got: String },
}

/// A worker's report that does not fit what the pool knows of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnexpectedReport {
    #[error("result from a worker that is not in the pool")]
    ResultFromUnknownWorker,
    #[error("result for '{0}' from an idle worker")]
    ResultWhileIdle(String),
    #[error("result for '{0}', a task this worker was not given")]
    ResultForAnotherTask(String),
    #[error("withdrawal from a worker that is not in the pool")]
    WithdrawalFromUnknownWorker,
    #[error("'{0}' handed back, but this worker held no such task")]
    NotHeld(String),
}

/// A client's tasks in the pool, by where they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCounts {
    pub queued: usize,
    /// Sent ahead to busy workers.
    pub held: usize,
    pub running: usize,
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
    /// When its job reaches its run limit, once known.
    ends_at: Option<Instant>,
    /// Its replacement has been launched: it no longer counts against
    /// `max_workers`.
    replaced: bool,
    /// Tasks it holds ahead, not asked back (kept by `set_task_state`).
    held: usize,
    /// Launched by a daemon that died; its worker has the reconnect grace,
    /// not the launch timeout, to register.
    adopted: bool,
}

impl Slot {
    /// When its job reaches its run limit, once known.
    pub fn ends_at(&self) -> Option<Instant> {
        self.ends_at
    }
}

impl Slot {
    /// Busy, and holding fewer tasks ahead than both the pool's `depth`
    /// and its worker allow.
    fn can_hold_more(&self, depth: usize) -> bool {
        matches!(self.state, SlotState::Busy(_)) && self.next.len() < depth.min(self.info.prefetch)
    }
}

/// A resource class: its queue, its workers, and its counters. The task
/// counters are kept by [`Pool::set_task_state`] alone.
#[derive(Debug, Default)]
struct ClassState {
    name: String,
    /// Queued tasks, a line per client taking turns; may hold ids of tasks
    /// no longer queued (cancelled), skipped when reached.
    queue: fair::FairQueue,
    /// Tasks queued (in `queue`).
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
    /// Its busy workers that hold tasks ahead, by how many: (held, slot).
    holders: std::collections::BTreeSet<(usize, SlotId)>,
    /// Slots launching or starting.
    starting: usize,
    /// All slots of this class, in any state.
    slots: usize,
    launch_failures: u32,
    /// The run limit of its workers' jobs; `None`: none known.
    walltime: Option<Duration>,
    /// The licenses each of its tasks holds while it runs.
    licenses: std::sync::Arc<Needs>,
    /// Some of its tasks name licenses of their own (`task.submit`'s
    /// `licenses`): from then on, its tasks are gated one by one.
    own_licenses: bool,
    /// Since when its next task has waited for a license.
    starved_since: Option<Instant>,
}

/// A class's tasks and workers now: queued, held ahead by busy workers,
/// and its workers launching, idle and busy (each running one task).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassCounts<'a> {
    pub class: &'a str,
    pub queued: usize,
    pub held: usize,
    pub launching: usize,
    pub idle: usize,
    pub busy: usize,
}

pub struct Pool {
    config: PoolConfig,
    worker_id_prefix: String,
    next_id: u64,
    slots: BTreeMap<SlotId, Slot>,
    by_worker_id: HashMap<String, SlotId>,
    tasks: Table<Task>,
    /// Tasks a client may still cancel, by the id it gave them.
    by_request: requests::RequestIds,
    /// By [`ClassId`]; a class, once seen, stays.
    classes: Vec<ClassState>,
    class_ids: BTreeMap<String, ClassId>,
    /// Class ids in the order of their names: the order classes are
    /// served in.
    class_order: Vec<ClassId>,
    /// Slots launching (the runner owes an answer).
    launching: usize,
    /// Slots whose replacement has been launched.
    replaced: usize,
    durations: Durations,
    /// By client, its tasks' counts (clients with none are not there).
    clients: HashMap<ClientId, ClientCounts>,
    completed: u64,
    failed: u64,
    shutting_down: bool,
    actions: Vec<Action>,
    tokens: licenses::Tokens,
}

impl Pool {
    /// `worker_id_prefix` makes worker ids unique across daemons.
    pub fn new(config: PoolConfig, worker_id_prefix: &str) -> Pool {
        Pool {
            tokens: licenses::Tokens::new(&config.licenses),
            config,
            worker_id_prefix: worker_id_prefix.to_string(),
            next_id: 1,
            slots: BTreeMap::new(),
            by_worker_id: HashMap::new(),
            tasks: Table::default(),
            by_request: requests::RequestIds::default(),
            classes: Vec::new(),
            class_ids: BTreeMap::new(),
            class_order: Vec::new(),
            launching: 0,
            replaced: 0,
            durations: Durations::default(),
            clients: HashMap::new(),
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

    /// The task running on `slot`.
    pub fn current_task(&self, slot: SlotId) -> Option<&TaskSpec> {
        self.current_task_of(self.slots.get(&slot)?)
    }

    /// The same, given the slot (no lookup: a status of every worker).
    pub fn current_task_of(&self, slot: &Slot) -> Option<&TaskSpec> {
        match slot.state {
            SlotState::Busy(task) => self.tasks.get(&task).map(|t| t.spec.as_ref()),
            _ => None,
        }
    }

    /// The tasks the worker of `slot` holds ahead, in the order it will run
    /// them.
    pub fn tasks_ahead(&self, slot: SlotId) -> impl Iterator<Item = &TaskSpec> {
        self.slots
            .get(&slot)
            .into_iter()
            .flat_map(|s| self.tasks_ahead_of(s))
    }

    /// The same, given the slot.
    pub fn tasks_ahead_of<'a>(&'a self, slot: &'a Slot) -> impl Iterator<Item = &'a TaskSpec> {
        slot.next
            .iter()
            .filter_map(|task| self.tasks.get(task).map(|t| t.spec.as_ref()))
    }

    /// Whether at least [`SATURATED_QUEUE_PER_WORKER`] tasks per worker
    /// wait in the queue (not sent to any worker yet): the workers have
    /// work for a while, whatever arrives next.
    pub fn saturated(&self) -> bool {
        let queued: usize = self.classes.iter().map(|c| c.queued).sum();
        !self.slots.is_empty() && queued >= SATURATED_QUEUE_PER_WORKER * self.slots.len()
    }

    /// The counters, from each class's books: the daemon asks after
    /// every event, so this must not go through the slots.
    pub fn counts(&self) -> PoolCounts {
        let total = self.slots.len();
        let pending: usize = self.classes.iter().map(|c| c.starting).sum();
        let idle: usize = self.classes.iter().map(|c| c.idle.len()).sum();
        let workers = WorkerCounts {
            total,
            busy: total - pending - idle,
            idle,
            pending,
        };
        PoolCounts {
            // Tasks held ahead by busy workers are waiting too.
            pending_tasks: self
                .classes
                .iter()
                .map(|c| c.queued + c.ahead + c.withdrawing)
                .sum(),
            // A busy worker runs exactly one task (perhaps being killed): no
            // need to go through every task, queued ones included, on each
            // event.
            running_tasks: workers.busy,
            completed_tasks: self.completed,
            failed_tasks: self.failed,
            workers,
        }
    }

    /// Each class's tasks and workers, from its books, for the metrics.
    pub fn class_counts(&self) -> impl Iterator<Item = ClassCounts<'_>> + '_ {
        self.classes.iter().map(|c| {
            let busy = c.slots.saturating_sub(c.starting + c.idle.len());
            ClassCounts {
                class: &c.name,
                queued: c.queued,
                held: c.ahead + c.withdrawing,
                launching: c.starting,
                idle: c.idle.len(),
                busy,
            }
        })
    }

    /// Each client's tasks in the pool, for `status.get` and monitors.
    pub fn client_counts(&self) -> impl Iterator<Item = (ClientId, ClientCounts)> + '_ {
        self.clients
            .iter()
            .map(|(client, counts)| (*client, *counts))
    }

    /// Launches still waiting for the runner to answer.
    pub fn launches_in_flight(&self) -> usize {
        self.launching
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
            licenses: std::sync::Arc::new(self.needs_of_class(name)),
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

    /// The final reply to a task, counted as completed or failed.
    fn reply(&mut self, client: ClientId, id: TaskId, request_id: String, outcome: Outcome) {
        match &outcome {
            Outcome::Finished(result) if result.status == 0 => self.completed += 1,
            _ => self.failed += 1,
        }
        self.actions.push(Action::Reply {
            client,
            id,
            request_id,
            outcome,
        });
    }
}

/// The one way a task's state changes: these keep the class counters.
impl Pool {
    /// Adds `state`'s count to `class` (`by` = 1), or takes it off (-1).
    fn tally(&mut self, class: ClassId, client: ClientId, state: TaskState, by: isize) {
        self.tally_client(client, state, by);
        if let TaskState::Held(slot) = state {
            self.tally_held(class, slot, by);
        }
        let Some(counter) = state.counter() else {
            return;
        };
        let class = &mut self.classes[class];
        let count = match counter {
            Counter::Queued => &mut class.queued,
            Counter::Ahead => &mut class.ahead,
            Counter::Withdrawing => &mut class.withdrawing,
        };
        *count = count.saturating_add_signed(by);
    }

    /// One more (`by` = 1) or one fewer (-1) task held ahead, not asked
    /// back, by the worker of `slot`: its count, and its place among its
    /// class's holders.
    fn tally_held(&mut self, class: ClassId, slot: SlotId, by: isize) {
        let Some(s) = self.slots.get_mut(&slot) else {
            return;
        };
        let holders = &mut self.classes[class].holders;
        holders.remove(&(s.held, slot));
        s.held = s.held.saturating_add_signed(by);
        if s.held > 0 {
            holders.insert((s.held, slot));
        }
    }

    /// Adds `state`'s count to `client`'s (`by` = 1), or takes it off (-1);
    /// a client with nothing left is forgotten.
    fn tally_client(&mut self, client: ClientId, state: TaskState, by: isize) {
        // Cancelled: the client no longer has it.
        if state.cancelled() {
            return;
        }
        let counts = self.clients.entry(client).or_default();
        let count = match state {
            TaskState::Queued => &mut counts.queued,
            TaskState::Held(_) | TaskState::Withdrawing(_) => &mut counts.held,
            _ => &mut counts.running,
        };
        *count = count.saturating_add_signed(by);
        if *counts == ClientCounts::default() {
            self.clients.remove(&client);
        }
    }

    /// A new task, in `state`.
    fn add_task(&mut self, id: TaskId, task: Task) {
        self.tally(task.class, task.client, task.state, 1);
        self.tasks.insert(id, task);
    }

    /// Moves task `id` to `state`; its previous state, if it exists.
    fn set_task_state(&mut self, id: TaskId, state: TaskState) -> Option<TaskState> {
        let task = self.tasks.get_mut(&id)?;
        let (class, client, before) = (task.class, task.client, task.state);
        let needs = std::sync::Arc::clone(&task.needs);
        task.state = state;
        self.tally(class, client, before, -1);
        self.tally(class, client, state, 1);
        self.move_tokens(&needs, before, Some(state));
        Some(before)
    }

    /// Takes task `id` out of the pool; its client can no longer name it.
    fn forget_task(&mut self, id: TaskId) -> Option<Task> {
        let task = self.tasks.remove(&id)?;
        self.tally(task.class, task.client, task.state, -1);
        self.move_tokens(&task.needs, task.state, None);
        self.by_request
            .remove_if(task.client, &task.spec.request_id, id);
        Some(task)
    }
}
