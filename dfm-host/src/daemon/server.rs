//! The daemon's core: one task that owns the pool, turns events from
//! connections, the runner and timers into pool calls, and carries out the
//! pool's actions. Runner plugin calls run on blocking threads and report
//! back as events, so a slow `bsub` never stalls dispatch.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dfm_plugin_api::abi_stable::std_types::{RResult, RString, RVec, Tuple2};
use dfm_plugin_api::{JobHandle, JobState, LaunchRequest, Resources, RunnerBox};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::connections::Lines;
use crate::config::RunnerConfig;
use crate::pool::{Action, ClientId, Counts, Outcome, Pool, SlotId, SlotState, WorkerInfo};
use crate::protocol::{
    event_line, reply_error, reply_result, ClientCall, ClientRequest, DaemonStatus, FromWorker,
    Register, ResourceRequest, ToWorker, WorkerCounts, WorkerStatus,
};
use crate::worker;

/// Events from connections, the runner and signals.
pub enum Event {
    ClientConnected {
        client: ClientId,
        lines: Lines,
        writer: JoinHandle<()>,
    },
    ClientRequest {
        client: ClientId,
        request: ClientRequest,
    },
    ClientGone {
        client: ClientId,
    },
    /// An authenticated worker asks to join; `welcome` is sent first if it
    /// may.
    WorkerHello {
        register: Register,
        welcome: String,
        lines: Lines,
        answer: oneshot::Sender<Result<SlotId, String>>,
    },
    FromWorker {
        slot: SlotId,
        message: FromWorker,
    },
    WorkerGone {
        slot: SlotId,
        reason: String,
    },
    Launched {
        slot: SlotId,
        result: Result<JobHandle, String>,
    },
    Polled {
        result: Result<Vec<(SlotId, JobState)>, String>,
    },
    Terminated {
        slot: SlotId,
        result: Result<(), String>,
    },
    /// SIGTERM, SIGINT or SIGHUP.
    Signal(&'static str),
}

struct Client {
    lines: Lines,
    writer: JoinHandle<()>,
    submits: HashMap<String, Submitted>,
    subscription: Subscription,
}

/// A task of a client, from submit to reply.
struct Submitted {
    /// The `id` its submit came with.
    id: Value,
    name: String,
    /// When, and on which worker (id, host), it started.
    started: Option<(Instant, String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Subscription {
    None,
    /// `task.dispatched` of its own tasks only.
    OwnTasks,
    Live,
    /// Events were dropped because the client reads too slowly; it gets a
    /// fresh snapshot once it catches up.
    Lagging,
}

/// How many finished tasks a new monitor is shown.
const RECENT_COMPLETIONS: usize = 50;

/// A finished task, as monitors hear of it (`task.completed`, and the
/// snapshot's `recent`). Kept as it is, and turned into JSON only for a
/// monitor: most daemons have none.
#[derive(Debug, serde::Serialize)]
struct Completion {
    request_id: String,
    name: String,
    status: Option<i32>,
    error: Option<String>,
    worker_id: Option<String>,
    hostname: Option<String>,
    duration_secs: Option<f64>,
}

/// Lines a subscriber may have unwritten before events to it are dropped.
/// Replies are never dropped.
const MAX_EVENT_BACKLOG: usize = 4096;

/// What the core needs to know about the world outside the pool.
pub struct Setup {
    pub config: Arc<RunnerConfig>,
    pub runner: Arc<RunnerBox>,
    pub secret: Arc<String>,
    /// The worker program (`dfm-worker`, or `dfm`), run as
    /// `PROGRAM worker --connect HOST:PORT`.
    pub worker_program: PathBuf,
    /// `HOST:PORT` workers connect to.
    pub worker_address: String,
    /// The worker socket and this machine's boot id, when the socket could
    /// be opened: a worker that finds itself on the same machine connects
    /// there instead of to the TCP port, which costs less per message.
    pub local_worker_socket: Option<(PathBuf, String)>,
    pub workers_log_dir: PathBuf,
    pub status_base: DaemonStatus,
    /// Set while the pool is saturated: clients' writers then send their
    /// lines in batches (see `connections::spawn_writer`).
    pub hold_client_lines: super::connections::Hold,
}

pub struct Core {
    setup: Setup,
    pool: Pool,
    events: mpsc::UnboundedSender<Event>,
    clients: HashMap<ClientId, Client>,
    workers: HashMap<SlotId, Lines>,
    jobs: HashMap<SlotId, JobHandle>,
    /// Resources tasks asked for, per class not in the configuration.
    class_resources: HashMap<String, ResourceRequest>,
    poll_in_flight: bool,
    terminations_in_flight: usize,
    last_counts: Option<Counts>,
    /// The last tasks to finish, most recent first, for new monitors.
    recent: VecDeque<Completion>,
    /// Worker ids of the slots in the pool, for events about gone ones.
    worker_ids: HashMap<SlotId, String>,
    shutting_down: bool,
    started: Instant,
}

impl Core {
    pub fn new(setup: Setup, pool: Pool, events: mpsc::UnboundedSender<Event>) -> Core {
        Core {
            setup,
            pool,
            events,
            clients: HashMap::new(),
            workers: HashMap::new(),
            jobs: HashMap::new(),
            class_resources: HashMap::new(),
            poll_in_flight: false,
            terminations_in_flight: 0,
            last_counts: None,
            worker_ids: HashMap::new(),
            recent: VecDeque::new(),
            shutting_down: false,
            started: Instant::now(),
        }
    }

    /// Runs until shut down and every worker job is stopped. Returns the
    /// writers of connected clients, to be drained before exit.
    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) -> Vec<JoinHandle<()>> {
        let poll_every = crate::config::secs(self.setup.config.pool.poll_interval);
        let mut poll = tokio::time::interval(poll_every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Timeouts are checked on a coarse timer (a tenth of the shortest
        // one), not per event: an event costs the same whatever the pool size.
        let config = self.pool.config();
        let shortest = config
            .heartbeat_timeout
            .min(config.launch_timeout)
            .min(config.idle_timeout);
        let mut timeouts = tokio::time::interval(
            (shortest / 10).clamp(Duration::from_millis(20), Duration::from_secs(1)),
        );
        timeouts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.pool.tick(Instant::now());
        self.apply_actions();
        loop {
            if self.shutting_down
                && self.pool.launches_in_flight() == 0
                && self.terminations_in_flight == 0
            {
                break;
            }
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.handle(event),
                    None => break,
                },
                _ = timeouts.tick() => self.pool.tick(Instant::now()),
                _ = poll.tick() => self.poll_jobs(),
            }
            self.apply_actions();
        }
        let writers: Vec<JoinHandle<()>> = self
            .clients
            .drain()
            .map(|(_, client)| client.writer)
            .collect();
        writers
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::ClientConnected {
                client,
                lines,
                writer,
            } => {
                self.clients.insert(
                    client,
                    Client {
                        lines,
                        writer,
                        submits: HashMap::new(),
                        subscription: Subscription::None,
                    },
                );
                self.publish("client.connected", || json!({ "client": client }));
            }
            Event::ClientRequest { client, request } => self.handle_request(client, request, now),
            Event::ClientGone { client } => {
                self.clients.remove(&client);
                self.pool.client_gone(client, now);
            }
            Event::WorkerHello {
                register,
                welcome,
                lines,
                answer,
            } => {
                let info = WorkerInfo {
                    hostname: register.hostname.clone(),
                    pid: register.pid,
                    job_id: if register.job_id.is_empty() {
                        register.lsf_job_id.clone()
                    } else {
                        register.job_id.clone()
                    },
                    prefetch: register.tasks_ahead(),
                };
                match self
                    .pool
                    .register(&register.worker_id, &register.resource_class, info, now)
                {
                    Ok(slot) => {
                        let _ = lines.send(welcome);
                        self.workers.insert(slot, lines);
                        let _ = answer.send(Ok(slot));
                        tracing::info!(
                            "worker {} registered from {} (pid {})",
                            register.worker_id,
                            register.hostname,
                            register.pid
                        );
                        self.publish_worker(slot);
                    }
                    Err(e) => {
                        let _ = answer.send(Err(e.to_string()));
                    }
                }
            }
            Event::FromWorker { slot, message } => match message {
                FromWorker::Heartbeat { .. } => {
                    self.pool.heard_from(slot, now);
                    self.send_to_worker(slot, &ToWorker::Heartbeat {});
                }
                FromWorker::Result(result) => {
                    let request_id = result.request_id.clone();
                    if let Err(e) = self.pool.task_finished(slot, result, now) {
                        tracing::warn!("worker in slot {slot}: {e}; ignored");
                    } else {
                        tracing::debug!("task {request_id} finished on slot {slot}");
                        self.publish_worker(slot);
                    }
                }
                FromWorker::Withdrawn { request_id } => {
                    if let Err(e) = self.pool.task_withdrawn(slot, &request_id, now) {
                        tracing::warn!("worker in slot {slot}: {e}; ignored");
                    }
                }
                FromWorker::Register(_) => {
                    tracing::warn!("worker in slot {slot} registered twice; ignored");
                }
            },
            Event::WorkerGone { slot, reason } => {
                if self.workers.remove(&slot).is_some() {
                    tracing::warn!("worker in slot {slot} {reason}");
                    self.pool.worker_lost(slot, &reason, now);
                }
            }
            Event::Launched { slot, result } => match result {
                Ok(job) => {
                    if self.pool.slot(slot).is_some() {
                        self.jobs.insert(slot, job);
                        self.pool.launched(slot, now);
                    } else {
                        // Its slot went while the launch was in flight.
                        self.terminate_job(slot, job);
                    }
                }
                Err(message) => {
                    tracing::warn!("worker launch failed: {message}");
                    self.pool.launch_failed(slot, &message, now);
                }
            },
            Event::Polled { result } => {
                self.poll_in_flight = false;
                match result {
                    Ok(states) => {
                        for (slot, state) in states {
                            if let JobState::Exited(code) = state {
                                if self.jobs.contains_key(&slot) && self.pool.slot(slot).is_some() {
                                    self.workers.remove(&slot);
                                    self.pool.job_exited(slot, code, now);
                                }
                            }
                        }
                    }
                    Err(message) => tracing::warn!("runner poll failed: {message}"),
                }
            }
            Event::Terminated { slot, result } => {
                self.terminations_in_flight -= 1;
                if let Err(message) = result {
                    tracing::warn!("stopping the job of slot {slot} failed: {message}");
                }
            }
            Event::Signal(name) => {
                tracing::info!("{name} received: shutting down");
                self.begin_shutdown();
            }
        }
    }

    fn handle_request(&mut self, client: ClientId, request: ClientRequest, now: Instant) {
        let ClientRequest { id, call } = request;
        match call {
            ClientCall::Ping => self.send_to_client(client, reply_result(&id, "pong")),
            ClientCall::Submit(spec) => {
                let request_id = spec.request_id.clone();
                if let Some(resources) = &spec.resources {
                    self.class_resources
                        .entry(spec.resource_class.clone())
                        .or_insert_with(|| resources.clone());
                }
                let name = spec.name.clone();
                match self.pool.submit(client, *spec, now) {
                    Ok(()) => {
                        if let Some(c) = self.clients.get_mut(&client) {
                            let submitted = Submitted {
                                id,
                                name,
                                started: None,
                            };
                            c.submits.insert(request_id, submitted);
                        }
                    }
                    Err(e) => self.send_to_client(client, reply_error(&id, &e.to_string())),
                }
            }
            ClientCall::Cancel { request_id } => {
                let line = if self.pool.cancel(client, &request_id, now) {
                    reply_result(&id, "cancelled")
                } else {
                    reply_error(
                        &id,
                        &format!("no task '{request_id}' in flight on this connection"),
                    )
                };
                // The submit's own (cancelled) reply comes first.
                self.apply_actions();
                self.send_to_client(client, line);
            }
            ClientCall::Status => {
                let status = self.status();
                self.send_to_client(client, reply_result(&id, status));
            }
            ClientCall::Subscribe { own_tasks } => {
                self.send_to_client(client, reply_result(&id, "subscribed"));
                let subscription = if own_tasks {
                    Subscription::OwnTasks
                } else {
                    let snapshot = event_line("monitor.snapshot", self.snapshot());
                    self.send_to_client(client, snapshot);
                    Subscription::Live
                };
                if let Some(c) = self.clients.get_mut(&client) {
                    c.subscription = subscription;
                }
            }
            ClientCall::Shutdown => {
                self.send_to_client(client, reply_result(&id, "shutting_down"));
                self.begin_shutdown();
            }
        }
    }

    fn begin_shutdown(&mut self) {
        if !self.shutting_down {
            self.shutting_down = true;
            self.pool.shutdown();
        }
    }

    fn send_to_client(&self, client: ClientId, line: String) {
        if let Some(c) = self.clients.get(&client) {
            c.lines.send(line);
        }
    }

    fn send_to_worker(&mut self, slot: SlotId, message: &ToWorker) -> bool {
        match self.workers.get(&slot) {
            Some(lines) => lines.send(message.to_line()),
            None => false,
        }
    }

    /// Sends an event to every subscriber; `params` is built only if there
    /// is one. A subscriber that has fallen behind misses events (memory
    /// stays bounded and the daemon never waits for it) and gets a fresh
    /// snapshot once it has caught up.
    fn has_subscribers(&self) -> bool {
        self.clients
            .values()
            .any(|c| matches!(c.subscription, Subscription::Live | Subscription::Lagging))
    }

    fn publish(&mut self, method: &str, params: impl FnOnce() -> Value) {
        if !self.has_subscribers() {
            return;
        }
        let line = event_line(method, params());
        let mut snapshot = None;
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        for client in ids {
            let Some(c) = self.clients.get(&client) else {
                continue;
            };
            let backlog = c.lines.backlog();
            let next = match c.subscription {
                Subscription::None | Subscription::OwnTasks => continue,
                Subscription::Live if backlog < MAX_EVENT_BACKLOG => {
                    self.send_to_client(client, line.clone());
                    Subscription::Live
                }
                Subscription::Lagging if backlog < MAX_EVENT_BACKLOG / 2 => {
                    let text = snapshot
                        .get_or_insert_with(|| event_line("monitor.snapshot", self.snapshot()))
                        .clone();
                    self.send_to_client(client, text);
                    Subscription::Live
                }
                _ => Subscription::Lagging,
            };
            if let Some(c) = self.clients.get_mut(&client) {
                c.subscription = next;
            }
        }
    }

    fn publish_worker(&mut self, slot: SlotId) {
        if !self.has_subscribers() {
            return;
        }
        if let Some(status) = self.worker_status(slot) {
            self.publish("worker.state", || {
                serde_json::to_value(status).unwrap_or(Value::Null)
            });
        }
    }

    fn publish_worker_gone(&mut self, slot: SlotId, worker_id: String) {
        self.publish(
            "worker.state",
            || json!({"worker_id": worker_id, "slot": slot, "state": "gone"}),
        );
    }

    /// Everything a monitor needs to start from.
    fn snapshot(&self) -> Value {
        let running: Vec<Value> = self
            .clients
            .values()
            .flat_map(|c| c.submits.iter())
            .filter_map(|(request_id, s)| {
                let (since, worker_id, hostname) = s.started.as_ref()?;
                Some(json!({
                    "request_id": request_id,
                    "name": s.name,
                    "worker_id": worker_id,
                    "hostname": hostname,
                    "elapsed_secs": since.elapsed().as_secs_f64(),
                }))
            })
            .collect();
        json!({"status": self.status(), "running": running, "recent": self.recent})
    }

    /// The counters of the status bar, after every batch of actions.
    fn publish_stats(&mut self) {
        if !self.has_subscribers() {
            return;
        }
        let counts = self.pool.counts();
        if Some(counts) == self.last_counts {
            return;
        }
        self.last_counts = Some(counts);
        self.publish("pool.stats", || {
            json!({
                "workers": {"total": counts.total, "busy": counts.busy, "idle": counts.idle, "pending": counts.pending},
                "queued": counts.queued,
                "running": counts.running,
                "completed": counts.completed,
                "failed": counts.failed,
            })
        });
    }

    fn apply_actions(&mut self) {
        loop {
            let actions = self.pool.take_actions();
            if actions.is_empty() {
                self.publish_stats();
                let hold = !self.shutting_down && self.pool.saturated();
                self.setup.hold_client_lines.set(hold);
                return;
            }
            for action in actions {
                self.apply(action);
            }
        }
    }

    fn apply(&mut self, action: Action) {
        let now = Instant::now();
        match action {
            Action::Launch {
                slot,
                worker_id,
                class,
            } => {
                self.worker_ids.insert(slot, worker_id.clone());
                self.launch(slot, worker_id, class);
                self.publish_worker(slot);
            }
            Action::Dispatch {
                slot,
                client,
                task,
                ahead,
            } => {
                let request_id = task.request_id.clone();
                if !self.send_to_worker(slot, &ToWorker::Execute(task)) {
                    self.pool.worker_lost(slot, "is not connected", now);
                    return;
                }
                if !ahead {
                    self.task_started(slot, client, request_id, now);
                }
            }
            Action::Started {
                slot,
                client,
                request_id,
            } => self.task_started(slot, client, request_id, now),
            Action::Withdraw { slot, request_id } => {
                self.send_to_worker(slot, &ToWorker::Withdraw { request_id });
            }
            Action::CancelOnWorker { slot, request_id } => {
                self.send_to_worker(slot, &ToWorker::Cancel { request_id });
            }
            Action::Retire { slot } | Action::Terminate { slot } => {
                if self.workers.contains_key(&slot) {
                    self.send_to_worker(slot, &ToWorker::Shutdown {});
                }
                self.workers.remove(&slot);
                if let Some(job) = self.jobs.remove(&slot) {
                    self.terminate_job(slot, job);
                }
                if let Some(worker_id) = self.worker_ids.remove(&slot) {
                    self.publish_worker_gone(slot, worker_id);
                }
            }
            Action::Reply {
                client,
                request_id,
                outcome,
            } => {
                let Some(c) = self.clients.get_mut(&client) else {
                    return;
                };
                let submitted = c.submits.remove(&request_id);
                let id = submitted
                    .as_ref()
                    .map(|s| s.id.clone())
                    .unwrap_or(Value::String(request_id.clone()));
                let (line, status, error) = match &outcome {
                    Outcome::Finished(result) => {
                        (reply_result(&id, result), Some(result.status), None)
                    }
                    Outcome::Failed(message) => {
                        (reply_error(&id, message), None, Some(message.clone()))
                    }
                };
                let (name, started) = submitted.map(|s| (s.name, s.started)).unwrap_or_default();
                let (duration, worker_id, hostname) = match started {
                    Some((since, worker_id, hostname)) => (
                        Some(now.duration_since(since).as_secs_f64()),
                        Some(worker_id),
                        Some(hostname),
                    ),
                    None => (None, None, None),
                };
                let completed = Completion {
                    request_id,
                    name,
                    status,
                    error,
                    worker_id,
                    hostname,
                    duration_secs: duration,
                };
                let event = self
                    .has_subscribers()
                    .then(|| serde_json::to_value(&completed).unwrap_or(Value::Null));
                if self.recent.len() >= RECENT_COMPLETIONS {
                    self.recent.pop_back();
                }
                self.recent.push_front(completed);
                // Subscribers hear of it no later than the client (and one
                // given a snapshot now finds it among the recent).
                if let Some(event) = event {
                    self.publish("task.completed", || event);
                }
                self.send_to_client(client, line);
            }
        }
    }

    /// Bookkeeping once a task runs on a worker: its start time, and the
    /// monitor's `task.dispatched`.
    fn task_started(&mut self, slot: SlotId, client: ClientId, request_id: String, now: Instant) {
        let (worker_id, hostname) = self
            .pool
            .slot(slot)
            .map(|w| (w.worker_id.clone(), w.info.hostname.clone()))
            .unwrap_or_default();
        let Some(owner) = self.clients.get_mut(&client) else {
            return;
        };
        let Some(submitted) = owner.submits.get_mut(&request_id) else {
            return;
        };
        submitted.started = Some((now, worker_id.clone(), hostname.clone()));
        let name = submitted.name.clone();
        let tell_owner = owner.subscription == Subscription::OwnTasks;
        let event = move || json!({"request_id": request_id, "name": name, "worker_id": worker_id, "hostname": hostname});
        if tell_owner {
            let params = event();
            self.send_to_client(client, event_line("task.dispatched", params.clone()));
            self.publish("task.dispatched", || params);
        } else {
            self.publish("task.dispatched", event);
        }
        self.publish_worker(slot);
    }

    fn launch(&mut self, slot: SlotId, worker_id: String, class: String) {
        let mut spec = self.setup.config.resources_for(&class);
        if let Some(asked) = self.class_resources.get(&class) {
            spec.cores = asked.cores.or(spec.cores);
            spec.memory = asked.memory.clone().or(spec.memory);
            spec.queue = asked.queue.clone().or(spec.queue);
            spec.walltime = asked.walltime.clone().or(spec.walltime);
        }
        let mut argv: Vec<RString> = vec![
            self.setup
                .worker_program
                .to_string_lossy()
                .into_owned()
                .into(),
            "worker".into(),
            "--connect".into(),
            self.setup.worker_address.clone().into(),
        ];
        if !class.is_empty() {
            argv.push("--resource-class".into());
            argv.push(class.clone().into());
        }
        let mut env = vec![
            Tuple2(
                RString::from("DFM_WORKER_TOKEN"),
                RString::from(self.setup.secret.as_str()),
            ),
            Tuple2(
                RString::from("DFM_WORKER_ID"),
                RString::from(worker_id.as_str()),
            ),
        ];
        if let Some((socket, boot_id)) = &self.setup.local_worker_socket {
            env.push(Tuple2(
                worker::SOCKET_ENV.into(),
                socket.to_string_lossy().into_owned().into(),
            ));
            env.push(Tuple2(worker::BOOT_ID_ENV.into(), boot_id.as_str().into()));
        }
        let request = LaunchRequest {
            job_name: format!("dfm-worker-{worker_id}").into(),
            argv: RVec::from(argv),
            env: RVec::from(env),
            resources: Resources {
                cores: spec.cores.unwrap_or(0),
                memory: spec.memory.unwrap_or_default().into(),
                walltime: spec.walltime.unwrap_or_default().into(),
                queue: spec.queue.unwrap_or_default().into(),
                resource_class: class.into(),
            },
            log_path: self
                .setup
                .workers_log_dir
                .join(format!("worker_{worker_id}.log"))
                .to_string_lossy()
                .into_owned()
                .into(),
        };
        let runner = self.setup.runner.clone();
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || {
            let result = match runner.launch(&request) {
                RResult::ROk(job) => Ok(job),
                RResult::RErr(message) => Err(message.into_string()),
            };
            let _ = events.send(Event::Launched { slot, result });
        });
    }

    fn terminate_job(&mut self, slot: SlotId, job: JobHandle) {
        self.terminations_in_flight += 1;
        let runner = self.setup.runner.clone();
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || {
            let result = match runner.terminate(&job) {
                RResult::ROk(()) => Ok(()),
                RResult::RErr(message) => Err(message.into_string()),
            };
            let _ = events.send(Event::Terminated { slot, result });
        });
    }

    fn poll_jobs(&mut self) {
        if self.poll_in_flight || self.jobs.is_empty() {
            return;
        }
        self.poll_in_flight = true;
        let (slots, handles): (Vec<SlotId>, Vec<JobHandle>) = self
            .jobs
            .iter()
            .map(|(slot, job)| (*slot, job.clone()))
            .unzip();
        let runner = self.setup.runner.clone();
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || {
            let result = match runner.poll(RVec::from(handles)) {
                RResult::ROk(states) => Ok(slots.into_iter().zip(states).collect()),
                RResult::RErr(message) => Err(message.into_string()),
            };
            let _ = events.send(Event::Polled { result });
        });
    }

    fn worker_status(&self, slot: SlotId) -> Option<WorkerStatus> {
        let s = self.pool.slot(slot)?;
        let job_id = self
            .jobs
            .get(&slot)
            .map(|job| job.job_id.to_string())
            .unwrap_or_else(|| s.info.job_id.clone());
        let state = match s.state {
            SlotState::Launching | SlotState::Starting => "launching",
            SlotState::Idle => "idle",
            SlotState::Busy(_) => "busy",
        };
        Some(WorkerStatus {
            worker_id: s.worker_id.clone(),
            resource_class: self.pool.class_of(s).to_string(),
            hostname: s.info.hostname.clone(),
            pid: s.info.pid,
            state: state.to_string(),
            current_task: self.pool.current_task(slot).map(|t| t.name.clone()),
            lsf_job_id: job_id.clone(),
            job_id,
        })
    }

    fn status(&self) -> DaemonStatus {
        let counts = self.pool.counts();
        let workers = self
            .pool
            .slots()
            .filter_map(|(slot, _)| self.worker_status(slot))
            .collect();
        DaemonStatus {
            workers,
            pending_tasks: counts.queued,
            uptime_secs: self.started.elapsed().as_secs_f64(),
            running_tasks: counts.running,
            completed_tasks: counts.completed,
            failed_tasks: counts.failed,
            counts: WorkerCounts {
                total: counts.total,
                busy: counts.busy,
                idle: counts.idle,
                pending: counts.pending,
            },
            ..self.setup.status_base.clone()
        }
    }
}
