//! `dfm run`: loads the flow, runs the selected tasks and what they need
//! through the project's daemon (or an ephemeral pool of our own), and
//! reports.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::readiness::Readiness;
use super::run_display::{Display, Ui};
use crate::client::Connection;
use crate::config::{CliOverrides, Layers};
use crate::flow::{self, Action, Flow};
use crate::plugin::{self, Plugin};
use crate::project::{Probe, Project};
use dfm_wire::{ClientCall, Env, Environment, MonitorEvent, Reply, ResourceRequest, TaskSpec};

/// `dfm run`'s command line.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Tasks to run (`pkg.task`, `task`, or a unique suffix); none lists the root tasks.
    pub tasks: Vec<String>,
    /// Tasks in flight at once (default: the pool size).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Runner plugin for an ephemeral pool: a name or a path to a plugin .so.
    #[arg(long, value_name = "NAME|PATH")]
    pub runner: Option<String>,
    /// Runner configuration for an ephemeral pool, e.g. pool.max_workers=4.
    #[arg(long = "runner-opt", value_name = "KEY=VALUE", value_parser = crate::cli::key_value)]
    pub runner_opts: Vec<(String, String)>,
    /// Override a parameter: NAME=VALUE (package) or TASK.NAME=VALUE.
    #[arg(short = 'D', value_name = "NAME=VALUE", value_parser = crate::cli::key_value)]
    pub defines: Vec<(String, String)>,
    /// Project root (default: the current folder); the flow file is searched from here up.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Remove ./rundir first.
    #[arg(long)]
    pub clean: bool,
    /// Display: log (a line per task) or progress (live view); default by terminal.
    #[arg(short = 'u', long = "ui", value_enum)]
    pub ui: Option<Ui>,
    /// Print one machine-readable summary (JSON) at the end, nothing else.
    #[arg(long)]
    pub json: bool,
}

/// Where the tasks run.
enum Target {
    Daemon {
        pid: u32,
        socket: PathBuf,
        pool_size: usize,
    },
    Ephemeral,
}

/// The state of one task of this run.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    Waiting,
    Submitted {
        request_id: String,
        since: Instant,
    },
    Running {
        request_id: String,
        since: Instant,
    },
    Passed {
        secs: f64,
    },
    Failed {
        exit_code: Option<i32>,
        error: Option<String>,
        secs: f64,
    },
    /// Turned off by `iff`.
    Skipped,
    /// Never started: a failure, or an interrupt, came first.
    NotRun,
}

pub struct Outcome {
    pub name: String,
    pub state: TaskState,
    pub log: PathBuf,
}

pub fn run(args: RunArgs) -> Result<i32> {
    let project = Project::at(args.root.as_deref())?;
    let cwd = std::env::current_dir().context("cannot determine the current folder")?;
    let file = flow::find_root_file(&project.root).ok_or_else(|| {
        anyhow!(
            "no flow file ({}) in {} or any folder above it",
            flow::ROOT_FILES.join(", "),
            project.root.display()
        )
    })?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let rundir_base = cwd.join("rundir");
    let flow = flow::load(
        &file,
        &flow::Context {
            overrides: &args.defines,
            rundir_base: &rundir_base,
            env: &env,
        },
    )?;

    if args.tasks.is_empty() {
        println!("Root tasks of {} ({}):", flow.package, file.display());
        for task in flow.root_tasks() {
            println!("  {:<30} {}", task.name, task.desc);
        }
        println!("Run one with: dfm run TASK");
        return Ok(0);
    }
    let selected = args
        .tasks
        .iter()
        .map(|name| flow.resolve(name).map_err(|e| anyhow!(e)))
        .collect::<Result<Vec<usize>>>()?;
    let order = flow.closure(&selected);

    if args.clean && rundir_base.exists() {
        std::fs::remove_dir_all(&rundir_base)
            .with_context(|| format!("cannot remove {}", rundir_base.display()))?;
    }

    let target = match project.probe() {
        Probe::Running(state) => {
            if let Some(asked) = &args.runner {
                let asked = plugin::runner_name(asked);
                if asked != state.runner {
                    bail!(
                        "this project's daemon (pid {}) runs the '{}' runner, but --runner asks for '{asked}'. \
                         Drop --runner to run on the daemon, or stop it first (dfm daemon stop) to run on an ephemeral '{asked}' pool.",
                        state.pid,
                        state.runner
                    );
                }
            }
            if !args.runner_opts.is_empty() {
                eprintln!(
                    "note: --runner-opt is ignored: tasks run on the daemon (pid {}), which has its own configuration",
                    state.pid
                );
            }
            Target::Daemon {
                pid: state.pid,
                socket: PathBuf::from(state.socket),
                pool_size: state.pool_size,
            }
        }
        Probe::Stale { pid } => {
            project.remove_stale();
            let who = pid
                .map(|p| format!(" (pid {p} is gone)"))
                .unwrap_or_default();
            eprintln!(
                "removed stale {}{who}; running on an ephemeral pool",
                project.state_path().display()
            );
            Target::Ephemeral
        }
        Probe::Absent => Target::Ephemeral,
    };

    let ui = if args.json {
        Ui::Quiet
    } else {
        args.ui.unwrap_or(if std::io::stdout().is_terminal() {
            Ui::Progress
        } else {
            Ui::Log
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(execute(&project, &flow, &order, target, &args, ui, &env))
}

async fn execute(
    project: &Project,
    flow: &Flow,
    order: &[usize],
    target: Target,
    args: &RunArgs,
    ui: Ui,
    env: &BTreeMap<String, String>,
) -> Result<i32> {
    let started = Instant::now();
    let (socket, jobs, mode, server, _socket_dir) = match target {
        Target::Daemon {
            pid,
            socket,
            pool_size,
        } => {
            let jobs = args.jobs.unwrap_or(pool_size.max(1));
            (socket, jobs, format!("daemon pid {pid}"), None, None)
        }
        Target::Ephemeral => {
            let overrides = CliOverrides {
                runner: args.runner.clone(),
                pool_size: args.jobs,
                options: args.runner_opts.clone(),
            };
            let config = Layers::for_project(&project.root).load(&overrides)?;
            let plugin = Plugin::find(&config.runner)?;
            let runner = plugin.new_runner(&config.plugin_config_json())?;
            let dir = PrivateDir::new()?;
            let socket = dir.path.join("pool.sock");
            let jobs = args.jobs.unwrap_or(config.pool.max_workers);
            let mode = format!("ephemeral {} pool", plugin.name);
            let (ready_tx, ready) = oneshot::channel();
            let listen = crate::daemon::Listen {
                socket: socket.clone(),
                state_file: false,
                handle_signals: false,
                ready: Some(ready_tx),
            };
            let project = project.clone();
            let name = plugin.name.clone();
            let server = tokio::spawn(async move {
                crate::daemon::serve(&project, config, name, runner, listen).await
            });
            if ready.await.is_err() {
                let error = match server.await {
                    Ok(Err(e)) => e,
                    _ => anyhow!("the ephemeral pool stopped before it was ready"),
                };
                return Err(error.context("cannot start an ephemeral pool"));
            }
            (socket, jobs, mode, Some(server), Some(dir))
        }
    };

    let mut connection = Connection::connect(&socket).await?;
    // Only to hear when our tasks start: the monitor's other events would
    // cost both sides CPU on every task.
    connection
        .call(ClientCall::Subscribe { own_tasks: true })
        .await?;
    let mut display = Display::new(ui, order.len(), &mode);
    let mut run = Run::new(flow, order, jobs.max(1), env);
    let interrupted = run.drive(&mut connection, &mut display).await?;

    if let Some(server) = server {
        // Stopping the pool stops its workers (and, on interrupt, their tasks).
        let _ = connection.call(ClientCall::Shutdown).await;
        drop(connection);
        match server.await {
            Ok(result) => result?,
            Err(e) => bail!("the ephemeral pool failed: {e}"),
        }
    }
    let outcomes = run.outcomes();
    display.summary(&flow.package, &outcomes, started.elapsed(), args.json);
    if interrupted {
        return Ok(130);
    }
    let failed = outcomes
        .iter()
        .any(|o| matches!(o.state, TaskState::Failed { .. }));
    Ok(if failed { 1 } else { 0 })
}

/// A private folder for an ephemeral pool's socket, removed on drop.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn new() -> Result<PrivateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let path = base.join(format!(
            "dfm-run-{}-{}",
            std::process::id(),
            crate::auth::random_hex(4)?
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Dependency-ordered execution of one run's tasks.
struct Run<'a> {
    flow: &'a Flow,
    order: Vec<usize>,
    states: BTreeMap<usize, TaskState>,
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
}

impl<'a> Run<'a> {
    fn new(
        flow: &'a Flow,
        order: &[usize],
        jobs: usize,
        env: &'a BTreeMap<String, String>,
    ) -> Run<'a> {
        Run {
            flow,
            order: order.to_vec(),
            states: order.iter().map(|&i| (i, TaskState::Waiting)).collect(),
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
        }
    }

    /// Starts what can start, in one write to the daemon; returns false
    /// when nothing is left to do.
    async fn fill(&mut self, connection: &mut Connection, display: &mut Display) -> Result<bool> {
        self.queue_ready(connection, display);
        connection.flush().await?;
        Ok(!self.in_flight.is_empty())
    }

    /// Queues the submits of what can start.
    fn queue_ready(&mut self, connection: &mut Connection, display: &mut Display) {
        if self.stopping {
            // A failure or an interrupt: nothing new starts.
            for state in self.states.values_mut() {
                if *state == TaskState::Waiting {
                    *state = TaskState::NotRun;
                }
            }
            return;
        }
        loop {
            if let Some(i) = self.readiness.take_instant() {
                let task = &self.flow.tasks[i];
                // Turned off, or a message: ends here and now.
                let state = if !task.enabled {
                    let state = TaskState::Skipped;
                    display.finished(&task.name, &state, &self.log_of(i));
                    state
                } else {
                    if let Action::Message(msg) = &task.action {
                        display.message(&task.name, msg);
                    }
                    TaskState::Passed { secs: 0.0 }
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
                    value.to_string(),
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
        let spec = TaskSpec {
            request_id: request_id.clone(),
            name: task.name.clone(),
            shell: shell.clone(),
            body: body.clone(),
            srcdir: self.flow.srcdir.display().to_string(),
            rundir: task.rundir.display().to_string(),
            env,
            resource_class,
            resources,
            ..TaskSpec::default()
        };
        connection.queue_with_id(
            Value::String(request_id.clone()),
            ClientCall::Submit(Box::new(spec)),
        );
        self.in_flight.insert(request_id.clone(), i);
        self.states.insert(
            i,
            TaskState::Submitted {
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
            TaskState::Submitted { since, .. } | TaskState::Running { since, .. } => {
                since.elapsed().as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Handles a line from the daemon.
    fn on_reply(&mut self, reply: Reply, display: &mut Display) {
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
                        TaskState::Running {
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
                let state = if status == 0 {
                    TaskState::Passed { secs }
                } else {
                    let error = result["markers"]
                        .as_array()
                        .and_then(|m| m.iter().find_map(|m| m["msg"].as_str()))
                        .map(str::to_string);
                    TaskState::Failed {
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
                            TaskState::Failed {
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

    fn finish(&mut self, i: usize, state: TaskState, display: &mut Display) {
        match state {
            TaskState::Failed { .. } => self.stopping = true,
            TaskState::Passed { .. } => self.readiness.met(i),
            _ => {}
        }
        display.finished(&self.flow.tasks[i].name, &state, &self.log_of(i));
        self.states.insert(i, state);
    }

    /// Runs to the end; returns true when interrupted (Ctrl-C).
    async fn drive(&mut self, connection: &mut Connection, display: &mut Display) -> Result<bool> {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        while self.fill(connection, display).await? {
            tokio::select! {
                reply = connection.next_reply() => match reply? {
                    Some(reply) => {
                        self.on_reply(reply, display);
                        // Replies that came together are answered with one
                        // write of what they let start.
                        while connection.reply_ready() {
                            match connection.next_reply().await? {
                                Some(reply) => self.on_reply(reply, display),
                                None => break,
                            }
                        }
                    }
                    None => bail!("the daemon closed the connection; see its log (.dfm/daemon.log)"),
                },
                _ = &mut interrupt => {
                    self.cancel_all(connection, display).await;
                    return Ok(true);
                }
                _ = tick.tick() => {
                    display.flush();
                    display.redraw(&self.running());
                }
            }
        }
        Ok(false)
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
            if *state == TaskState::Waiting {
                *state = TaskState::NotRun;
            }
        }
    }

    /// Running tasks, longest-running first.
    fn running(&self) -> Vec<(String, f64)> {
        let mut running: Vec<(String, f64)> = self
            .in_flight
            .values()
            .filter(|&&i| matches!(self.states[&i], TaskState::Running { .. }))
            .map(|&i| (self.flow.tasks[i].name.clone(), self.elapsed(i)))
            .collect();
        running.sort_by(|a, b| b.1.total_cmp(&a.1));
        running
    }

    fn outcomes(&self) -> Vec<Outcome> {
        self.order
            .iter()
            .map(|&i| Outcome {
                name: self.flow.tasks[i].name.clone(),
                state: self.states[&i].clone(),
                log: self.log_of(i),
            })
            .collect()
    }
}

/// The last `n` lines of a file, for failure reports.
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The `--json` summary.
pub fn json_summary(package: &str, outcomes: &[Outcome], wall: Duration, mode: &str) -> Value {
    let count = |f: fn(&TaskState) -> bool| outcomes.iter().filter(|o| f(&o.state)).count();
    let tasks: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let (status, exit_code, error, secs) = match &o.state {
                TaskState::Passed { secs } => ("passed", Some(0), None, Some(*secs)),
                TaskState::Failed {
                    exit_code,
                    error,
                    secs,
                } => ("failed", *exit_code, error.clone(), Some(*secs)),
                TaskState::Skipped => ("skipped", None, None, None),
                _ => ("not_run", None, None, None),
            };
            json!({"name": o.name, "status": status, "exit_code": exit_code, "error": error,
                   "duration_secs": secs, "log": o.log})
        })
        .collect();
    json!({
        "package": package,
        "mode": mode,
        "passed": count(|s| matches!(s, TaskState::Passed { .. })),
        "failed": count(|s| matches!(s, TaskState::Failed { .. })),
        "skipped": count(|s| matches!(s, TaskState::Skipped | TaskState::NotRun)),
        "wall_secs": wall.as_secs_f64(),
        "tasks": tasks,
    })
}
