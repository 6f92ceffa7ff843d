//! Calls into the runner plugin. Each runs on a blocking thread (a `bsub`
//! may take seconds) and reports back to the core as an [`Event`], so a
//! slow scheduler never stalls dispatch.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dfm_plugin_api::units::walltime_seconds;
use dfm_plugin_api::{JobHandle, LaunchRequest, Resources, ARRAY_INDEX_PLACEHOLDER};
use dfm_wire::worker::job_env;
use dfm_wire::ResourceRequest;
use tokio::sync::mpsc;

use super::event::Event;
use super::license_queries::Query;
use super::metrics::RunnerCallTimes;
use crate::config::{ResourceSpec, RunnerConfig};
use crate::plugin::Runner;
use crate::pool::SlotId;

/// How a worker job is started: what the daemon knows that the pool does
/// not.
pub struct LaunchSetup {
    pub config: Arc<RunnerConfig>,
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
}

pub struct RunnerCalls {
    runner: Arc<Runner>,
    /// The variable array elements find their index in; `None`: the
    /// runner has no job arrays.
    array_index_variable: Option<String>,
    events: mpsc::UnboundedSender<Event>,
    setup: LaunchSetup,
    /// Resources tasks asked for, per class not in the configuration.
    class_resources: HashMap<String, ResourceRequest>,
    poll_in_flight: bool,
    terminations_in_flight: usize,
    /// How long its calls take, for the metrics.
    call_times: RunnerCallTimes,
}

impl RunnerCalls {
    pub fn new(
        runner: Runner,
        events: mpsc::UnboundedSender<Event>,
        setup: LaunchSetup,
    ) -> RunnerCalls {
        RunnerCalls {
            array_index_variable: runner
                .array_index_variable()
                .filter(|_| setup.config.pool.launch_as_array),
            runner: Arc::new(runner),
            events,
            setup,
            class_resources: HashMap::new(),
            poll_in_flight: false,
            terminations_in_flight: 0,
            call_times: RunnerCallTimes::default(),
        }
    }

    /// How long its calls have taken, by kind.
    pub fn call_times(&self) -> &RunnerCallTimes {
        &self.call_times
    }

    /// Runs `call` on a blocking thread and sends what `report` makes of
    /// its answer to the core.
    fn call_blocking<T: Send + 'static>(
        &self,
        what: &'static str,
        call: impl FnOnce(&Runner) -> Result<T, String> + Send + 'static,
        report: impl FnOnce(Result<T, String>) -> Event + Send + 'static,
    ) {
        let runner = self.runner.clone();
        let events = self.events.clone();
        let times = self.call_times.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let answer = call(&runner);
            times.observe(what, started.elapsed());
            let _ = events.send(report(answer));
        });
    }

    /// Workers of `class` get what its first task asked for, where the
    /// configuration does not say.
    pub fn note_resources(&mut self, class: &str, asked: &ResourceRequest) {
        self.class_resources
            .entry(class.to_string())
            .or_insert_with(|| asked.clone());
    }

    /// The run limit `class`'s worker jobs are launched with.
    pub fn walltime(&self, class: &str) -> Option<Duration> {
        let spec = self.setup.resources(class, self.class_resources.get(class));
        let seconds = walltime_seconds(spec.walltime.as_deref()?).ok()?;
        Some(Duration::from_secs(seconds))
    }

    /// Starts the jobs of `workers` (slot, worker id) of `class`: one job
    /// array if there are several and the runner has arrays, else one job
    /// each. Answers with an [`Event::Launched`] per scheduler call.
    pub fn launch(&self, workers: Vec<(SlotId, String)>, class: &str) {
        let asked = self.class_resources.get(class);
        match &self.array_index_variable {
            Some(index_variable) if workers.len() > 1 => {
                let ids: Vec<&str> = workers.iter().map(|(_, id)| id.as_str()).collect();
                let request = self.setup.array_request(&ids, index_variable, class, asked);
                let count = workers.len() as u32;
                let slots: Vec<SlotId> = workers.iter().map(|(slot, _)| *slot).collect();
                self.call_blocking(
                    "launch_array",
                    move |runner| runner.launch_array(&request, count),
                    move |result| Event::Launched { slots, result },
                );
            }
            _ => {
                for (slot, worker_id) in workers {
                    let request = self.setup.request(&worker_id, class, asked);
                    self.call_blocking(
                        "launch",
                        move |runner| runner.launch(&request),
                        move |result| Event::Launched {
                            slots: vec![slot],
                            result: result.map(|job| vec![job]),
                        },
                    );
                }
            }
        }
    }

    /// Stops a job; answers with [`Event::Terminated`].
    pub fn terminate(&mut self, slot: SlotId, job: JobHandle) {
        self.terminations_in_flight += 1;
        self.call_blocking(
            "terminate",
            move |runner| runner.terminate(&job),
            move |result| Event::Terminated { slot, result },
        );
    }

    pub fn terminated(&mut self) {
        self.terminations_in_flight = self.terminations_in_flight.saturating_sub(1);
    }

    /// The configuration the daemon runs with.
    pub fn config(&self) -> &RunnerConfig {
        &self.setup.config
    }

    /// Runs a license query on a blocking thread (not a runner call, but
    /// as slow as one); answers with [`Event::LicenseQueried`].
    pub fn query_license(&self, query: Query, held_when_asked: u32) {
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new("sh");
            command.args(["-c", &query.command]);
            let output = dfm_plugin_api::command::run_with_timeout(&mut command, query.timeout)
                .and_then(|out| {
                    if out.success() {
                        Ok(out.stdout)
                    } else {
                        Err(out.failure())
                    }
                });
            let _ = events.send(Event::LicenseQueried {
                license: query.license,
                held_when_asked,
                output,
            });
        });
    }

    /// Whether several workers of a class go out as one job array: only
    /// then is there anything to gain from gathering launches.
    pub fn launches_arrays(&self) -> bool {
        self.array_index_variable.is_some()
    }

    pub fn terminations_in_flight(&self) -> usize {
        self.terminations_in_flight
    }

    /// Asks for the states of `jobs` in one call, unless a poll is still
    /// out; answers with [`Event::Polled`].
    pub fn poll(&mut self, jobs: Vec<(SlotId, JobHandle)>) {
        if self.poll_in_flight || jobs.is_empty() {
            return;
        }
        self.poll_in_flight = true;
        let (slots, handles): (Vec<SlotId>, Vec<JobHandle>) = jobs.into_iter().unzip();
        self.call_blocking(
            "poll",
            move |runner| runner.poll(handles),
            move |result| Event::Polled {
                result: result.map(|states| slots.into_iter().zip(states).collect()),
            },
        );
    }

    pub fn polled(&mut self) {
        self.poll_in_flight = false;
    }
}

impl LaunchSetup {
    /// What a worker of `class` gets: the configuration's resources, with
    /// what the class's first task asked for (`asked`) over them. A
    /// walltime a task asked for is what it is expected to take: its
    /// worker's job gets `pool.walltime_margin` and `pool.drain_before`
    /// more, so that the task fits a fresh worker.
    fn resources(&self, class: &str, asked: Option<&ResourceRequest>) -> ResourceSpec {
        let mut spec = self.config.resources_for(class);
        if let Some(asked) = asked {
            spec.cores = asked.cores.or(spec.cores);
            spec.memory = asked.memory.clone().or(spec.memory);
            spec.queue = asked.queue.clone().or(spec.queue);
            if let Some(tag) = &asked.walltime {
                let pool = &self.config.pool;
                let room = pool.walltime_margin + pool.drain_before;
                spec.walltime = Some(match walltime_seconds(tag) {
                    Ok(seconds) => hms(seconds + room.ceil() as u64),
                    // Unreadable: the plugin says so, in its words.
                    Err(_) => tag.clone(),
                });
            }
        }
        spec
    }

    /// The job array that runs a worker of `class` for each of
    /// `worker_ids`: as [`LaunchSetup::request`], with the ids in the
    /// environment for each element to find its own by its index.
    fn array_request(
        &self,
        worker_ids: &[&str],
        index_variable: &str,
        class: &str,
        asked: Option<&ResourceRequest>,
    ) -> LaunchRequest {
        let first = worker_ids.first().copied().unwrap_or_default();
        let ids = worker_ids.join(",");
        let log = format!("workers_{first}.{ARRAY_INDEX_PLACEHOLDER}.log");
        let name = format!("dfm-workers-{first}");
        let env = [
            (job_env::WORKER_IDS, ids.as_str()),
            (job_env::ARRAY_INDEX_VAR, index_variable),
        ];
        self.job(&name, &env, &log, class, asked)
    }

    /// The job that runs a worker for `class`: its command line, the
    /// secret and worker id in its environment (never on the command line),
    /// and its resources.
    /// `asked`: what the class's first task asked for, where the
    /// configuration does not say.
    fn request(
        &self,
        worker_id: &str,
        class: &str,
        asked: Option<&ResourceRequest>,
    ) -> LaunchRequest {
        let name = format!("dfm-worker-{worker_id}");
        let log = format!("worker_{worker_id}.log");
        self.job(
            &name,
            &[(job_env::WORKER_ID, worker_id)],
            &log,
            class,
            asked,
        )
    }

    fn job(
        &self,
        name: &str,
        identity: &[(&str, &str)],
        log: &str,
        class: &str,
        asked: Option<&ResourceRequest>,
    ) -> LaunchRequest {
        let spec = self.resources(class, asked);
        let program = self.worker_program.to_string_lossy();
        let mut argv = vec![
            program.as_ref(),
            "worker",
            "--connect",
            self.worker_address.as_str(),
        ];
        if !class.is_empty() {
            argv.extend(["--resource-class", class]);
        }
        let grace = self.config.pool.reconnect_grace.to_string();
        argv.extend(["--reconnect-grace", grace.as_str()]);
        let mut env = vec![(job_env::SECRET, self.secret.as_str())];
        env.extend_from_slice(identity);
        let local_socket = self
            .local_worker_socket
            .as_ref()
            .map(|(socket, boot_id)| (socket.to_string_lossy(), boot_id));
        if let Some((socket, boot_id)) = &local_socket {
            env.push((job_env::SOCKET, socket.as_ref()));
            env.push((job_env::BOOT_ID, boot_id.as_str()));
        }
        if let Some(python) = &self.config.python {
            env.push((job_env::PYTHON, python.as_str()));
        }
        let log_path = self.workers_log_dir.join(log);
        LaunchRequest::new(
            name,
            &argv,
            &env,
            Resources::new(
                spec.cores.unwrap_or(0),
                spec.memory.as_deref().unwrap_or_default(),
                spec.walltime.as_deref().unwrap_or_default(),
                spec.queue.as_deref().unwrap_or_default(),
                class,
            ),
            &log_path.to_string_lossy(),
        )
    }
}

/// `H:MM:SS`, as run limits are written.
fn hms(seconds: u64) -> String {
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CliOverrides, Layers};

    fn setup(local_socket: bool) -> LaunchSetup {
        let layers = Layers {
            files: Vec::new(),
            env_runner: None,
        };
        let config = layers.load(&CliOverrides::default()).expect("defaults");
        LaunchSetup {
            config: Arc::new(config),
            secret: Arc::new("s3cret".into()),
            worker_program: PathBuf::from("/opt/dfm/bin/dfm-worker"),
            worker_address: "head:4000".into(),
            local_worker_socket: local_socket
                .then(|| (PathBuf::from("/p/.dfm/daemon.workers.sock"), "boot".into())),
            workers_log_dir: PathBuf::from("/p/.dfm/workers"),
        }
    }

    #[test]
    fn a_worker_job_gets_the_secret_in_its_environment_never_on_its_command_line() {
        let request = setup(true).request("w1", "large", None);
        let argv: Vec<&str> = request
            .program()
            .into_iter()
            .chain(request.args())
            .collect();
        assert_eq!(
            argv,
            [
                "/opt/dfm/bin/dfm-worker",
                "worker",
                "--connect",
                "head:4000",
                "--resource-class",
                "large",
                "--reconnect-grace",
                "60"
            ]
        );
        let env: Vec<(&str, &str)> = request.env_pairs().collect();
        assert_eq!(
            env,
            [
                (job_env::SECRET, "s3cret"),
                (job_env::WORKER_ID, "w1"),
                (job_env::SOCKET, "/p/.dfm/daemon.workers.sock"),
                (job_env::BOOT_ID, "boot"),
            ]
        );
        assert!(!request.job_name().contains("s3cret"));
        assert_eq!(request.job_name(), "dfm-worker-w1");
        assert_eq!(request.log_path(), "/p/.dfm/workers/worker_w1.log");
    }

    #[test]
    fn what_a_class_s_first_task_asked_for_fills_what_the_configuration_leaves_open() {
        let asked = ResourceRequest {
            cores: Some(4),
            memory: Some("8G".into()),
            queue: None,
            walltime: Some("2:00".into()),
        };
        let request = setup(false).request("w2", "", Some(&asked));
        let resources = request.resources();
        // Two hours for the task, and the pool's margin and drain time.
        assert_eq!(
            (resources.cores(), resources.memory(), resources.walltime()),
            (4, "8G", "2:03:00")
        );
        assert_eq!(resources.resource_class(), "");
        assert!(!request.args().any(|arg| arg == "--resource-class"));
        assert_eq!(request.env_pairs().count(), 2, "no local socket to hand on");
    }
}
