//! Dependency-ordered execution of one run's tasks: what to submit when,
//! and what each reply means.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use dfm_wire::{
    ClientCall, Env, Environment, Marker, Measurements, MonitorEvent, Reply, ResourceRequest,
    TaskSpec,
};
use serde_json::Value;

use super::display::Display;
use super::outcome::{TaskOutcome, TaskProgress};
use super::readiness::Readiness;
use crate::client::Connection;
use crate::flow::{Action, Flow};

/// How [`Run::drive`] ended.
pub enum Driven {
    /// Every task has ended, or the run stopped at a failure.
    Done,
    /// Ctrl-C: every task in flight was cancelled.
    Interrupted,
    /// The connection to the daemon was lost (why): the tasks in flight
    /// are ready to be sent again, to a replacement.
    DaemonLost(String),
}

/// Dependency-ordered execution of one run's tasks.
pub struct Run<'a> {
    flow: &'a Flow,
    order: Vec<usize>,
    states: BTreeMap<usize, TaskProgress>,
    readiness: Readiness,
    jobs: usize,
    in_flight: BTreeMap<String, usize>,
    run_id: String,
    next: u64,
    stopping: bool,
    /// The run's environment, as sent with each task, and as variables
    /// for tasks that add their parameters to it.
    env: Environment,
    variables: &'a Env,
    /// `--priority`: this run's share of the pool against other runs'.
    priority: Option<u32>,
    /// A ping to the daemon not answered yet, and when it went out: a
    /// daemon that is stopped or hung says nothing, ever.
    ping: Option<Instant>,
    last_ping: Instant,
    /// How long the daemon may take to answer a ping.
    timeout: Duration,
    /// The daemon schedules licenses (`None`: not known yet). A daemon
    /// without any is not asked its status again: status.get is not free
    /// on a big pool, and many runs may share it.
    daemon_licenses: Option<bool>,
    /// What each finished task's result said beyond its status: its
    /// markers and dfm's measurements.
    said: BTreeMap<usize, Said>,
}

/// What a task's result said beyond its status.
#[derive(Debug, Clone, Default)]
pub struct Said {
    /// Whether it changed its outputs (the original's `changed`).
    pub changed: bool,
    pub markers: Vec<Marker>,
    pub measurements: Option<Measurements>,
}

/// How often a run makes sure its daemon still answers.
const PING_EVERY: Duration = Duration::from_secs(1);

impl<'a> Run<'a> {
    pub fn new(
        flow: &'a Flow,
        order: &[usize],
        jobs: usize,
        env: &'a BTreeMap<String, String>,
        priority: Option<u32>,
        timeout: Duration,
    ) -> Run<'a> {
        Run {
            flow,
            order: order.to_vec(),
            states: order.iter().map(|&i| (i, TaskProgress::Waiting)).collect(),
            readiness: Readiness::new(
                order,
                |i| &flow.tasks[i].needs,
                |i| !flow.tasks[i].enabled || !matches!(flow.tasks[i].action, Action::Shell { .. }),
            ),
            jobs,
            in_flight: BTreeMap::new(),
            run_id: crate::auth::random_hex(4).unwrap_or_else(|_| std::process::id().to_string()),
            next: 0,
            stopping: false,
            env: Environment::new(env),
            variables: env,
            priority,
            ping: None,
            last_ping: Instant::now(),
            daemon_licenses: None,
            timeout,
            said: BTreeMap::new(),
        }
    }

    /// Starts what can start, in one write to the daemon; returns false
    /// when nothing is left to do.
    async fn fill(&mut self, connection: &mut Connection, display: &mut Display) -> Result<bool> {
        self.queue_ready(connection, display);
        connection.flush().await?;
        Ok(!self.in_flight.is_empty())
    }

    /// The daemon is gone: the tasks it had, with no result, are ready to
    /// be sent again (they may have run, or be running still, on a worker
    /// that lost it). Returns how many.
    fn take_back_in_flight(&mut self) -> usize {
        let taken = std::mem::take(&mut self.in_flight);
        for &i in taken.values() {
            self.states.insert(i, TaskProgress::Waiting);
            self.readiness.again(i);
        }
        taken.len()
    }

    /// Queues the submits of what can start.
    fn queue_ready(&mut self, connection: &mut Connection, display: &mut Display) {
        if self.stopping {
            // A failure or an interrupt: nothing new starts.
            for state in self.states.values_mut() {
                if *state == TaskProgress::Waiting {
                    *state = TaskProgress::NotRun;
                }
            }
            return;
        }
        loop {
            if let Some(i) = self.readiness.take_instant() {
                let task = &self.flow.tasks[i];
                // Turned off, or a message: ends here and now.
                let state = if !task.enabled {
                    let state = TaskProgress::Skipped;
                    display.finished(&task.name, &state, &self.log_of(i));
                    state
                } else {
                    if let Action::Message(msg) = &task.action {
                        display.message(&task.name, msg);
                    }
                    TaskProgress::Passed { secs: 0.0 }
                };
                self.states.insert(i, state);
                self.readiness.met(i);
                continue;
            }
            if self.in_flight.len() >= self.jobs {
                break;
            }
            let Some(i) = self.readiness.take() else {
                break;
            };
            self.submit(i, connection);
        }
    }

    fn submit(&mut self, i: usize, connection: &mut Connection) {
        let task = &self.flow.tasks[i];
        let Action::Shell { shell, body } = &task.action else {
            return;
        };
        self.next += 1;
        let request_id = format!("{}-{}", self.run_id, self.next);
        // Tasks without parameters share the run's environment.
        let env = if task.params.is_empty() {
            self.env.clone()
        } else {
            let mut env = self.variables.clone();
            for (name, value) in &task.params {
                env.insert(
                    format!("DFM_PARAM_{}", name.to_uppercase()),
                    value.env_value(),
                );
            }
            Environment::new(&env)
        };
        let r = &task.resources;
        let resources =
            (r.cores.is_some() || r.memory.is_some() || r.queue.is_some() || r.walltime.is_some())
                .then(|| ResourceRequest {
                    cores: r.cores,
                    memory: r.memory.clone(),
                    queue: r.queue.clone(),
                    walltime: r.walltime.clone(),
                });
        // Tasks with their own resources but no class get a class of their
        // own, so they land on workers launched with those resources.
        let resource_class = match (&resources, r.resource_class.is_empty()) {
            (Some(req), true) => format!(
                "cores={};memory={};queue={};walltime={}",
                req.cores.map(|c| c.to_string()).unwrap_or_default(),
                req.memory.clone().unwrap_or_default(),
                req.queue.clone().unwrap_or_default(),
                req.walltime.clone().unwrap_or_default()
            ),
            _ => r.resource_class.clone(),
        };
        let mut spec = TaskSpec {
            request_id: request_id.clone(),
            name: task.name.clone(),
            shell: shell.clone(),
            body: body.clone(),
            srcdir: self.flow.srcdir.display().to_string(),
            rundir: task.rundir.display().to_string(),
            env,
            resource_class,
            resources,
            priority: self.priority,
            ..TaskSpec::default()
        };
        if !r.licenses.is_empty() {
            let licenses = r.licenses.iter().map(|(l, n)| (l.clone(), (*n).into()));
            spec.extra.insert(
                dfm_wire::task::LICENSES.into(),
                Value::Object(licenses.collect()),
            );
        }
        connection.queue_with_id(
            Value::String(request_id.clone()),
            ClientCall::Submit(Box::new(spec)),
        );
        self.in_flight.insert(request_id.clone(), i);
        self.states.insert(
            i,
            TaskProgress::Submitted {
                request_id,
                since: Instant::now(),
            },
        );
    }

    fn log_of(&self, i: usize) -> PathBuf {
        let task = &self.flow.tasks[i];
        task.rundir.join(format!("{}.log", task.name))
    }

    fn elapsed(&self, i: usize) -> f64 {
        match &self.states[&i] {
            TaskProgress::Submitted { since, .. } | TaskProgress::Running { since, .. } => {
                since.elapsed().as_secs_f64()
            }
            _ => 0.0,
        }
    }

    fn ping_id(&self) -> String {
        format!("{}-ping", self.run_id)
    }

    fn status_id(&self) -> String {
        format!("{}-status", self.run_id)
    }

    /// Pings the daemon now and then; says why it counts as lost if a ping
    /// went unanswered for the timeout.
    fn check_daemon(&mut self, connection: &mut Connection) -> Option<String> {
        match self.ping {
            Some(sent) if sent.elapsed() > self.timeout => Some(format!(
                "the daemon has not answered for {:.0} s: it may be stopped or hung",
                self.timeout.as_secs_f64()
            )),
            Some(_) => None,
            None if self.last_ping.elapsed() >= PING_EVERY => {
                connection.queue_with_id(Value::String(self.ping_id()), ClientCall::Ping);
                // While tasks wait, the status says whether for licenses.
                let waiting = self
                    .states
                    .values()
                    .any(|s| matches!(s, TaskProgress::Submitted { .. }));
                if waiting && self.daemon_licenses != Some(false) {
                    connection.queue_with_id(Value::String(self.status_id()), ClientCall::Status);
                }
                self.ping = Some(Instant::now());
                self.last_ping = Instant::now();
                None
            }
            None => None,
        }
    }

    /// Handles a line from the daemon.
    fn on_reply(&mut self, reply: Reply, display: &mut Display) {
        if let Reply::Result { id, result } = &reply {
            if id.as_str() == Some(self.ping_id().as_str()) {
                self.ping = None;
                return;
            }
            if id.as_str() == Some(self.status_id().as_str()) {
                let licenses: Vec<dfm_wire::LicenseStatus> =
                    serde_json::from_value(result["licenses"].clone()).unwrap_or_default();
                self.daemon_licenses = Some(!licenses.is_empty());
                display.licenses(licenses);
                return;
            }
        }
        match reply {
            Reply::Event { method, params } => {
                let Ok(Some(MonitorEvent::TaskDispatched(task))) =
                    MonitorEvent::parse(&method, params)
                else {
                    return;
                };
                if let Some(&i) = self.in_flight.get(&task.request_id) {
                    self.states.insert(
                        i,
                        TaskProgress::Running {
                            request_id: task.request_id,
                            since: Instant::now(),
                        },
                    );
                    display.started(&self.flow.tasks[i].name);
                }
            }
            Reply::Result { id, result } => {
                let Some(i) = id.as_str().and_then(|id| self.in_flight.remove(id)) else {
                    return;
                };
                let secs = self.elapsed(i);
                let status = result["status"].as_i64().unwrap_or(1) as i32;
                let said = Said {
                    changed: result["changed"].as_bool().unwrap_or(true),
                    markers: serde_json::from_value(result["markers"].clone()).unwrap_or_default(),
                    measurements: serde_json::from_value(result["measurements"].clone()).ok(),
                };
                self.said.insert(i, said);
                let state = if status == 0 {
                    TaskProgress::Passed { secs }
                } else {
                    let error = result["markers"]
                        .as_array()
                        .and_then(|m| m.iter().find_map(|m| m["msg"].as_str()))
                        .map(str::to_string);
                    TaskProgress::Failed {
                        exit_code: Some(status),
                        error,
                        secs,
                    }
                };
                self.finish(i, state, display);
            }
            Reply::Error { id, error } => {
                match id.as_str().and_then(|id| self.in_flight.remove(id)) {
                    Some(i) => {
                        let secs = self.elapsed(i);
                        self.finish(
                            i,
                            TaskProgress::Failed {
                                exit_code: None,
                                error: Some(error),
                                secs,
                            },
                            display,
                        );
                    }
                    None => display.warning(&format!("the daemon said: {error}")),
                }
            }
        }
    }

    fn finish(&mut self, i: usize, state: TaskProgress, display: &mut Display) {
        match state {
            TaskProgress::Failed { .. } => self.stopping = true,
            TaskProgress::Passed { .. } => self.readiness.met(i),
            _ => {}
        }
        display.finished(&self.flow.tasks[i].name, &state, &self.log_of(i));
        self.states.insert(i, state);
    }

    /// Runs to the end, an interrupt, or the loss of the daemon.
    pub async fn drive(
        &mut self,
        connection: &mut Connection,
        display: &mut Display,
    ) -> Result<Driven> {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        let lost = |run: &mut Run, why: String| {
            run.take_back_in_flight();
            Ok(Driven::DaemonLost(why))
        };
        loop {
            match self.fill(connection, display).await {
                Ok(true) => {}
                Ok(false) => return Ok(Driven::Done),
                Err(e) => return lost(self, format!("{e:#}")),
            }
            tokio::select! {
                reply = connection.next_reply() => match reply {
                    Ok(Some(reply)) => {
                        self.on_reply(reply, display);
                        // Replies that came together are answered with one
                        // write of what they let start.
                        while connection.reply_ready() {
                            match connection.next_reply().await {
                                Ok(Some(reply)) => self.on_reply(reply, display),
                                _ => break,
                            }
                        }
                    }
                    Ok(None) => return lost(self, "the daemon closed the connection".into()),
                    Err(e) => return lost(self, format!("{e:#}")),
                },
                _ = &mut interrupt => {
                    self.cancel_all(connection, display).await;
                    return Ok(Driven::Interrupted);
                }
                _ = tick.tick() => {
                    display.flush();
                    display.redraw(&self.running());
                    if let Some(why) = self.check_daemon(connection) {
                        return lost(self, why);
                    }
                }
            }
        }
    }

    /// A connection to a new daemon (or pool): pings start afresh.
    pub fn reconnected(&mut self) {
        self.ping = None;
        self.last_ping = Instant::now();
    }

    /// Cancels every task in flight and waits (briefly) for their replies.
    async fn cancel_all(&mut self, connection: &mut Connection, display: &mut Display) {
        self.stopping = true;
        display.warning(&format!(
            "interrupted: cancelling {} running task(s)",
            self.in_flight.len()
        ));
        let ids: Vec<String> = self.in_flight.keys().cloned().collect();
        for request_id in ids {
            let _ = connection.send(ClientCall::Cancel { request_id }).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, connection.next_reply()).await {
                Ok(Ok(Some(reply))) => self.on_reply(reply, display),
                _ => break,
            }
        }
        for state in self.states.values_mut() {
            if *state == TaskProgress::Waiting {
                *state = TaskProgress::NotRun;
            }
        }
    }

    /// Running tasks, longest-running first.
    fn running(&self) -> Vec<(String, f64)> {
        let mut running: Vec<(String, f64)> = self
            .in_flight
            .values()
            .filter(|&&i| matches!(self.states[&i], TaskProgress::Running { .. }))
            .map(|&i| (self.flow.tasks[i].name.clone(), self.elapsed(i)))
            .collect();
        running.sort_by(|a, b| b.1.total_cmp(&a.1));
        running
    }

    pub fn outcomes(&self) -> Vec<TaskOutcome> {
        self.order
            .iter()
            .map(|&i| TaskOutcome {
                name: self.flow.tasks[i].name.clone(),
                state: self.states[&i].clone(),
                log: self.log_of(i),
                said: self.said.get(&i).cloned().unwrap_or_default(),
            })
            .collect()
    }
}
