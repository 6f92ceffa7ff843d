//! Calls into the runner plugin. Each runs on a blocking thread (a `bsub`
//! may take seconds) and reports back to the core as an [`Event`], so a
//! slow scheduler never stalls dispatch.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use dfm_plugin_api::abi_stable::std_types::{RResult, RString, RVec, Tuple2};
use dfm_plugin_api::{JobHandle, LaunchRequest, Resources, RunnerBox};
use dfm_wire::worker::job_env;
use dfm_wire::ResourceRequest;
use tokio::sync::mpsc;

use super::event::Event;
use crate::config::RunnerConfig;
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
    runner: Arc<RunnerBox>,
    events: mpsc::UnboundedSender<Event>,
    setup: LaunchSetup,
    /// Resources tasks asked for, per class not in the configuration.
    class_resources: HashMap<String, ResourceRequest>,
    poll_in_flight: bool,
    terminations_in_flight: usize,
}

impl RunnerCalls {
    pub fn new(
        runner: RunnerBox,
        events: mpsc::UnboundedSender<Event>,
        setup: LaunchSetup,
    ) -> RunnerCalls {
        RunnerCalls {
            runner: Arc::new(runner),
            events,
            setup,
            class_resources: HashMap::new(),
            poll_in_flight: false,
            terminations_in_flight: 0,
        }
    }

    /// Runs `call` on a blocking thread and sends what `report` makes of
    /// its answer to the core.
    fn call_blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&RunnerBox) -> RResult<T, RString> + Send + 'static,
        report: impl FnOnce(Result<T, String>) -> Event + Send + 'static,
    ) {
        let runner = self.runner.clone();
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || {
            let result = match call(&runner) {
                RResult::ROk(value) => Ok(value),
                RResult::RErr(message) => Err(message.into_string()),
            };
            let _ = events.send(report(result));
        });
    }

    /// Workers of `class` get what its first task asked for, where the
    /// configuration does not say.
    pub fn note_resources(&mut self, class: &str, asked: &ResourceRequest) {
        self.class_resources
            .entry(class.to_string())
            .or_insert_with(|| asked.clone());
    }

    /// Starts a worker job; answers with [`Event::Launched`].
    pub fn launch(&self, slot: SlotId, worker_id: &str, class: &str) {
        let request = self
            .setup
            .request(worker_id, class, self.class_resources.get(class));
        self.call_blocking(
            move |runner| runner.launch(&request),
            move |result| Event::Launched { slot, result },
        );
    }

    /// Stops a job; answers with [`Event::Terminated`].
    pub fn terminate(&mut self, slot: SlotId, job: JobHandle) {
        self.terminations_in_flight += 1;
        self.call_blocking(
            move |runner| runner.terminate(&job),
            move |result| Event::Terminated { slot, result },
        );
    }

    pub fn terminated(&mut self) {
        self.terminations_in_flight = self.terminations_in_flight.saturating_sub(1);
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
            move |runner| runner.poll(RVec::from(handles)),
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
        let setup = self;
        let mut spec = setup.config.resources_for(class);
        if let Some(asked) = asked {
            spec.cores = asked.cores.or(spec.cores);
            spec.memory = asked.memory.clone().or(spec.memory);
            spec.queue = asked.queue.clone().or(spec.queue);
            spec.walltime = asked.walltime.clone().or(spec.walltime);
        }
        let mut argv: Vec<RString> = vec![
            setup.worker_program.to_string_lossy().into_owned().into(),
            "worker".into(),
            "--connect".into(),
            setup.worker_address.as_str().into(),
        ];
        if !class.is_empty() {
            argv.push("--resource-class".into());
            argv.push(class.into());
        }
        let mut env = vec![
            Tuple2(job_env::SECRET.into(), setup.secret.as_str().into()),
            Tuple2(job_env::WORKER_ID.into(), worker_id.into()),
        ];
        if let Some((socket, boot_id)) = &setup.local_worker_socket {
            env.push(Tuple2(
                job_env::SOCKET.into(),
                socket.to_string_lossy().into_owned().into(),
            ));
            env.push(Tuple2(job_env::BOOT_ID.into(), boot_id.as_str().into()));
        }
        LaunchRequest {
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
            log_path: setup
                .workers_log_dir
                .join(format!("worker_{worker_id}.log"))
                .to_string_lossy()
                .into_owned()
                .into(),
        }
    }
}
