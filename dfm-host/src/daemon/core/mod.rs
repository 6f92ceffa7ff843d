//! The daemon's core: one task that owns the pool, turns [`Event`]s into
//! pool calls, and carries out the pool's [`Action`]s (`actions.rs`): messages to workers
//! and clients, runner calls, the monitor feed.

mod actions;
mod metrics;
mod status;

use std::time::{Duration, Instant};

use dfm_plugin_api::JobState;
use dfm_wire::{
    reply_error, reply_result, DaemonStatus, FromWorker, MonitorEvent, Register, ToWorker,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::clients::Clients;
use super::durations::DurationsFile;
use super::event::{Event, Request};
use super::feed::Feed;
use super::journal::{JournalWorker, Keeper};
use super::license_queries::LicenseQueries;
use super::line_writers::{Hold, Lines};
use super::metrics::Recorder;
use super::runner_calls::{LaunchSetup, RunnerCalls};
use super::worker_links::WorkerLinks;
use crate::plugin::Runner;
use crate::pool::{ClientId, Pool, RegisterError, SlotId, WorkerInfo};

/// How long launches gathered wait for more, once the events in hand are
/// handled: a burst of submissions becomes one job array (a runner without
/// arrays launches at once). A client's burst
/// reaches the core from the client thread a few at a time; on a loaded
/// 2-core machine (CI, with SLURM beside) 2 ms once split a run's 8 launches
/// into an array of 7 and one job. 20 ms is nothing beside a scheduler's
/// start of a job (SLURM's next pass, up to a second).
const GATHER_LAUNCHES: Duration = Duration::from_millis(20);

/// The core's clock: tokio's, so that tests can pause and advance it (a
/// paused clock stands still until they do).
fn clock_now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// What the core needs to know about the world outside the pool.
pub struct Setup {
    pub launch: LaunchSetup,
    /// `status.get`'s answer, but for what changes.
    pub status_base: DaemonStatus,
    /// Set while the pool is saturated: clients' writers then send their
    /// lines in batches (see [`Hold`]).
    pub hold_client_lines: Hold,
    /// Where what tasks took is kept across restarts.
    pub durations: DurationsFile,
    /// The project daemon's journal (an ephemeral pool keeps none).
    pub journal: Option<Keeper>,
    /// Workers of a daemon that died, to adopt.
    pub adopted: Vec<JournalWorker>,
}

pub struct Core {
    pool: Pool,
    runner: RunnerCalls,
    clients: Clients,
    workers: WorkerLinks,
    feed: Feed,
    status_base: DaemonStatus,
    hold_client_lines: Hold,
    shutting_down: bool,
    started: Instant,
    durations: DurationsFile,
    journal: Option<Keeper>,
    /// Shut down but leave the workers running, for the daemon that
    /// replaces this one (`dfm daemon restart`).
    keep_workers: bool,
    /// Workers to launch, by class, gathered while events keep coming:
    /// launched together (one job array, where the runner has them) once
    /// the events in hand are handled.
    launches: std::collections::BTreeMap<String, Vec<(SlotId, String)>>,
    /// When the first of them was gathered.
    gathered_at: Option<tokio::time::Instant>,
    /// Classes whose walltime the pool has been told.
    classes_known: std::collections::HashSet<String>,
    /// The license servers' answers.
    license_queries: LicenseQueries,
    /// What the metrics record over time; `None` without
    /// `runner.metrics_listen` (nothing is recorded then).
    metrics: Option<Box<Recorder>>,
    /// The last status's and snapshot's lengths: the next is written into
    /// a buffer that size (docs/performance.md, "Written into a buffer of
    /// its size").
    big_lines: status::LineSizes,
}

impl Core {
    pub fn new(
        setup: Setup,
        runner: Runner,
        mut pool: Pool,
        events: mpsc::UnboundedSender<Event>,
    ) -> Core {
        pool.load_durations(setup.durations.load());
        let mut workers = WorkerLinks::default();
        let now = clock_now();
        for adopted in setup.adopted {
            let slot = pool.adopt(&adopted.worker_id, &adopted.resource_class, now);
            let job = match adopted.pid {
                Some(pid) => dfm_plugin_api::JobHandle::with_pid(&adopted.job_id, pid),
                None => dfm_plugin_api::JobHandle::new(&adopted.job_id),
            };
            workers.adopted(slot, job, adopted.launched_at);
        }
        let license_queries = LicenseQueries::new(&setup.launch.config.licenses, now);
        let metrics = setup
            .launch
            .config
            .metrics_listen
            .map(|_| Box::<Recorder>::default());
        // A license with a query allows nothing until its first answer (or
        // its failure): tasks started before could take what others hold.
        for license in license_queries.licenses() {
            pool.set_license_allowed(license, 0, now);
        }
        Core {
            pool,
            license_queries,
            runner: RunnerCalls::new(runner, events, setup.launch),
            clients: Clients::default(),
            workers,
            feed: Feed::default(),
            status_base: setup.status_base,
            hold_client_lines: setup.hold_client_lines,
            shutting_down: false,
            started: clock_now(),
            durations: setup.durations,
            journal: setup.journal,
            keep_workers: false,
            launches: Default::default(),
            gathered_at: None,
            classes_known: Default::default(),
            metrics,
            big_lines: Default::default(),
        }
    }

    /// Runs until shut down and every worker job is stopped. Returns the
    /// writers of connected clients, to be drained before exit.
    pub async fn run(
        mut self,
        mut control: mpsc::UnboundedReceiver<Event>,
        mut events: mpsc::UnboundedReceiver<Event>,
        poll_every: Duration,
    ) -> Vec<JoinHandle<()>> {
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
        self.pool.tick(clock_now());
        self.apply_actions();
        loop {
            // Clients' submissions arrive from their own thread, a few at a
            // time: launches wait a moment for the rest of a burst.
            let launch_at = self.gathered_at.map(|at| at + GATHER_LAUNCHES);
            if events.is_empty() && launch_at.is_some_and(|at| at <= tokio::time::Instant::now()) {
                self.launch_gathered();
            }
            let launch_at = self.gathered_at.map(|at| at + GATHER_LAUNCHES);
            if self.shutting_down
                && self.pool.launches_in_flight() == 0
                && self.runner.terminations_in_flight() == 0
            {
                break;
            }
            tokio::select! {
                // Control first: status and new monitors are answered at
                // once, however many events wait; then the timers, which a
                // busy stream of events must not starve.
                biased;
                Some(event) = control.recv() => self.handle(event),
                _ = timeouts.tick() => {
                    self.pool.tick(clock_now());
                    self.query_licenses();
                    self.durations.save_now_and_then(self.pool.durations());
                    if let Some(journal) = &mut self.journal {
                        journal.touch_now_and_then();
                    }
                    let clients = self.client_statuses();
                    let caught_up = self.feed.clients(clients);
                    self.catch_up(caught_up);
                    if self.feed.active() {
                        let caught_up = self.feed.licenses(self.license_statuses());
                        self.catch_up(caught_up);
                    }
                }
                _ = poll.tick() => self.runner.poll(self.workers.jobs()),
                _ = tokio::time::sleep_until(launch_at.unwrap_or_else(tokio::time::Instant::now)), if launch_at.is_some() => {
                    // Waited long enough, events or not.
                    self.launch_gathered();
                }
                event = events.recv() => match event {
                    Some(event) => self.handle(event),
                    None => break,
                },
            }
            self.apply_actions();
            self.keep_journal();
        }
        self.durations.save(self.pool.durations());
        if let Some(journal) = &mut self.journal {
            // Kept (restart): it names the workers as they are now, since
            // every turn of the loop keeps it so.
            if !self.keep_workers {
                // Every worker job is stopped: none to adopt.
                journal.remove();
            }
        }
        self.clients.into_writers()
    }

    /// Writes the journal when the set of worker jobs has changed.
    fn keep_journal(&mut self) {
        if !self.workers.take_changed() {
            return;
        }
        if let Some(journal) = &mut self.journal {
            journal.record(self.workers.journal(&self.pool));
        }
    }

    fn handle(&mut self, event: Event) {
        let now = clock_now();
        match event {
            Event::ClientConnected {
                client,
                pid,
                lines,
                writer,
            } => {
                self.clients.connected(client, pid, lines, writer);
                self.publish(|| MonitorEvent::ClientConnected { client });
            }
            Event::ClientRequest {
                client,
                id,
                request,
            } => self.handle_request(client, id, request, now),
            Event::ClientGone { client } => {
                self.clients.gone(client);
                self.feed.unsubscribe(client);
                self.pool.client_gone(client, now);
            }
            Event::WorkerHello {
                register,
                welcome,
                lines,
                answer,
            } => self.worker_hello(register, welcome, lines, answer, now),
            Event::FromWorker { slot, message } => self.worker_said(slot, message, now),
            Event::WorkerGone { slot, reason } => {
                if self.workers.disconnected(slot) {
                    tracing::warn!("worker in slot {slot} {reason}");
                    self.pool.worker_lost(slot, &reason, now);
                }
            }
            Event::Launched { slots, result } => {
                if let Some(metrics) = self.metrics.as_mut() {
                    match &result {
                        Ok(_) => metrics.workers_launched += slots.len() as u64,
                        Err(_) => metrics.worker_launches_failed += slots.len() as u64,
                    }
                }
                match result {
                    Ok(jobs) => {
                        for (slot, job) in slots.into_iter().zip(jobs) {
                            self.launched(slot, job, now);
                        }
                    }
                    Err(message) => {
                        tracing::warn!("worker launch failed: {message}");
                        self.pool.launch_failed(&slots, &message, now);
                    }
                }
            }
            Event::Polled { result } => {
                self.runner.polled();
                match result {
                    Ok(reports) => {
                        for (slot, report) in reports {
                            if !self.workers.has_job(slot) || self.pool.slot(slot).is_none() {
                                continue;
                            }
                            let status = report.status();
                            self.workers.pending_reason(slot, report.pending_reason());
                            match status.state() {
                                JobState::Exited(code) => {
                                    self.workers.disconnected(slot);
                                    self.pool.job_exited(slot, code, status.hit_walltime(), now);
                                    continue;
                                }
                                JobState::Running => {
                                    self.pool.job_running(slot, now);
                                    if let Some(left) = status.seconds_left() {
                                        let left = Duration::from_secs(left);
                                        self.pool.job_time_left(slot, left, now);
                                    }
                                }
                                JobState::Pending | JobState::Unknown => {}
                            }
                        }
                    }
                    Err(message) => tracing::warn!("runner poll failed: {message}"),
                }
            }
            Event::Terminated { slot, result } => {
                self.runner.terminated();
                if let Err(message) = result {
                    tracing::warn!("stopping the job of slot {slot} failed: {message}");
                }
            }
            Event::LicenseQueried {
                license,
                held_when_asked,
                output,
            } => {
                let answer = self
                    .license_queries
                    .answered(&license, output, held_when_asked, now);
                if let Some(allowed) = answer {
                    self.pool.set_license_allowed(&license, allowed, now);
                }
            }
            Event::MetricsWanted { answer } => {
                let _ = answer.send(self.metrics_text());
            }
            Event::Signal(name) => {
                tracing::info!("{name} received: shutting down");
                self.begin_shutdown();
            }
        }
    }

    /// Runs the license queries that are due.
    fn query_licenses(&mut self) {
        for query in self.license_queries.due(clock_now()) {
            let held = self.pool.tokens_in_use(&query.license);
            self.runner.query_license(query, held);
        }
    }

    /// Launches the workers gathered, class by class.
    fn launch_gathered(&mut self) {
        self.gathered_at = None;
        for (class, workers) in std::mem::take(&mut self.launches) {
            self.runner.launch(workers, &class);
        }
    }

    /// The runner started the job of `slot`.
    fn launched(&mut self, slot: SlotId, job: dfm_plugin_api::JobHandle, now: Instant) {
        if self.pool.slot(slot).is_none() {
            // Its slot went while the launch was in flight.
            self.runner.terminate(slot, job);
            return;
        }
        match self.workers.launched(slot, job) {
            Ok(()) => self.pool.launched(slot, now),
            Err(job) => self.runner.terminate(slot, job),
        }
    }

    fn worker_hello(
        &mut self,
        register: Register,
        welcome: String,
        lines: Lines,
        answer: oneshot::Sender<Result<SlotId, RegisterError>>,
        now: Instant,
    ) {
        let info = WorkerInfo {
            hostname: register.hostname.clone(),
            pid: register.pid,
            job_id: register.job_id().to_string(),
            prefetch: register.tasks_ahead(),
        };
        match self
            .pool
            .register(&register.worker_id, &register.resource_class, info, now)
        {
            Ok(slot) => {
                let _ = lines.send(welcome);
                self.workers.connected(slot, lines);
                let _ = answer.send(Ok(slot));
                tracing::info!(
                    "worker {} registered from {} (pid {})",
                    register.worker_id,
                    register.hostname,
                    register.pid
                );
                self.publish_worker(slot);
            }
            Err(refused) => {
                let _ = answer.send(Err(refused));
            }
        }
    }

    fn worker_said(&mut self, slot: SlotId, message: FromWorker, now: Instant) {
        match message {
            FromWorker::Heartbeat { .. } => {
                self.pool.heard_from(slot, now);
                self.workers.send(slot, &ToWorker::Heartbeat {});
            }
            FromWorker::Result(result) => {
                let request_id = result.request_id.clone();
                match self.pool.task_finished(slot, result, now) {
                    Ok(()) => {
                        tracing::debug!("task {request_id} finished on slot {slot}");
                        self.publish_worker(slot);
                    }
                    Err(e) => tracing::warn!("worker in slot {slot}: {e}; ignored"),
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
            // Logged where it arrives, with the peer's address
            // (connections.rs); never forwarded here.
            FromWorker::Attacked { .. } => {}
        }
    }

    fn handle_request(&mut self, client: ClientId, id: Value, request: Request, now: Instant) {
        match request {
            Request::Submit(spec) => {
                if let Some(resources) = &spec.resources {
                    self.runner.note_resources(&spec.resource_class, resources);
                }
                if !self.classes_known.contains(&spec.resource_class) {
                    let class = spec.resource_class.clone();
                    self.pool
                        .set_class_walltime(&class, self.runner.walltime(&class));
                    self.classes_known.insert(class);
                }
                let (request_id, name) = (spec.request_id.clone(), spec.name.clone());
                match self.pool.submit(client, *spec, now) {
                    Ok(task) => self
                        .clients
                        .submitted(client, task, request_id, id, name, now),
                    Err(e) => self.clients.send(client, reply_error(&id, &e.to_string())),
                }
            }
            Request::Cancel { request_id } => {
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
                self.clients.send(client, line);
            }
            Request::Status => {
                let line = self.status_reply(&id);
                self.clients.send(client, line);
            }
            Request::Subscribe { own_tasks } => {
                self.clients.send(client, reply_result(&id, "subscribed"));
                if own_tasks {
                    self.clients.hear_own_tasks(client);
                } else if let Some(lines) = self.clients.lines(client).cloned() {
                    let snapshot = self.snapshot_line();
                    self.feed.subscribe(client, lines, snapshot, clock_now());
                }
            }
            Request::Shutdown { keep_workers } => {
                self.clients
                    .send(client, reply_result(&id, "shutting_down"));
                if keep_workers {
                    self.leave_workers();
                } else {
                    self.begin_shutdown();
                }
            }
        }
    }

    /// `dfm daemon restart`: exit once the launches in flight are in, and
    /// leave every worker running, named in the journal, for the next
    /// daemon to adopt. Clients lose their connection with no final reply,
    /// and send their tasks again to that daemon.
    fn leave_workers(&mut self) {
        if self.shutting_down || self.journal.is_none() {
            // An ephemeral pool has no successor: it stops as usual.
            self.begin_shutdown();
            return;
        }
        tracing::info!("stopping, leaving the workers to the next daemon");
        self.shutting_down = true;
        self.keep_workers = true;
    }

    fn begin_shutdown(&mut self) {
        if !self.shutting_down {
            self.shutting_down = true;
            self.pool.shutdown();
        }
    }
}

#[cfg(test)]
mod tests;
