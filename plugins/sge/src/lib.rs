//! The `sge` runner: each worker is one Grid Engine job (Sun/Son of Grid
//! Engine, Altair Grid Engine).
//!
//! Submits with `qsub -terse -b y` (a batch of workers as one job array,
//! `-t 1-N`, each element finding its index in `SGE_TASK_ID`), polls every
//! job in one `qstat -xml` call (read as XML), asks `qacct` how the jobs
//! `qstat` no longer holds ended (their exit status; `failed 37`, a job
//! ended at its `h_rt`, is a run-limit end), stops them with `qdel`
//! (`qdel 42.3` for an element). A job in error (`Eqw`) never runs: it is
//! deleted and reported ended. The worker's secret reaches the job through
//! `qsub`'s environment, passed by name (`-v NAME`, which copies qsub's own
//! value), never on the command line, which `qstat -j` shows everyone;
//! `-V` would copy the whole environment, the daemon's included.
//!
//! Configuration (`runner.sge`):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `qsub_cmd`, `qstat_cmd`, `qdel_cmd`, `qacct_cmd` | `qsub`, `qstat`, `qdel`, `qacct` | the commands (a site wrapper is fine) |
//! | `queue` | Grid Engine's choice | `-q`, unless the resource class names a queue |
//! | `project` | none | `-P` |
//! | `parallel_environment` | none | `-pe PE N` for a class's cores (none: cores are not asked for) |
//! | `qsub_extra` | `[]` | more qsub arguments |
//! | `worker_dfm_path` | the daemon's own `dfm` | `dfm` as the compute nodes see it |
//! | `command_timeout` | `60` | seconds before a hanging Grid Engine command is killed |
//!
//! Memory is `-l h_vmem`, walltime `-l h_rt=H:MM:SS`, licenses of a class
//! with `license_scope: worker` `-l name=n` (consumables).

mod qacct;
mod qstat;
mod qsub;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dfm_plugin_api::batch::{BatchRunner, BatchScheduler, Commands};
use dfm_plugin_api::command::{self, CommandOutput};
use dfm_plugin_api::{
    export_runner, JobHandle, JobReport, JobState, JobStatus, LaunchRequest, RunnerPlugin,
};

use self::qacct::Ended;
use self::qstat::Seen;
use self::qsub::Config;

/// How long a job `qstat` no longer holds may be missing from `qacct`
/// (written a moment after the job ends) before it counts as ended, how
/// unknown.
const ACCOUNTING_GRACE: Duration = Duration::from_secs(30);

/// The exit code reported for a job that ended, how no longer known.
const FORGOTTEN_EXIT_CODE: i32 = -1;

struct GridEngine {
    config: Config,
    commands: Commands,
}

impl BatchScheduler for GridEngine {
    const ARRAY_INDEX_VARIABLE: &'static str = "SGE_TASK_ID";

    fn commands(&self) -> &Commands {
        &self.commands
    }

    fn submit_args(
        &self,
        request: &LaunchRequest,
        array: Option<u32>,
    ) -> Result<Vec<String>, String> {
        self.config.qsub_args(request, array)
    }

    fn submitted_job_id(&self, stdout: &str) -> Option<String> {
        qsub::parse_submitted(stdout)
    }

    fn array_element(&self, array_job_id: &str, index: u32) -> String {
        format!("{array_job_id}.{index}")
    }

    /// All of this user's jobs, in one call.
    fn status_args(&self, _job_ids: &[&str]) -> Vec<String> {
        vec!["-xml".into()]
    }

    /// What `qstat` alone says (jobs it does not hold have ended);
    /// [`Sge::poll_reports`] asks `qacct` how.
    fn parse_statuses(
        &self,
        job_ids: &[&str],
        output: &CommandOutput,
    ) -> Result<Vec<JobStatus>, String> {
        Ok(qstat::reports(job_ids, output)?
            .into_iter()
            .map(|seen| match seen {
                Some(Seen::Held(state)) => JobStatus::new(state),
                Some(Seen::Failed) => JobStatus::new(JobState::Exited(1)),
                None => JobStatus::new(JobState::Exited(FORGOTTEN_EXIT_CODE)),
            })
            .collect())
    }

    fn cancelled_or_gone(&self, output: &CommandOutput) -> bool {
        let said = format!("{}{}", output.stdout, output.stderr);
        output.success() || said.contains("does not exist") || said.contains("already")
    }
}

/// The runner: Grid Engine's batch calls, and `qacct` for ended jobs.
struct Sge {
    batch: BatchRunner<GridEngine>,
    /// Since when each job missing from both `qstat` and `qacct` has been.
    missing_since: Mutex<HashMap<String, Instant>>,
}

impl Sge {
    fn run(&self, program: &str, args: &[String]) -> Result<CommandOutput, String> {
        command::run(program, args, [], self.batch.0.commands.timeout_secs)
    }

    /// How a job `qstat` no longer holds ended.
    fn ended(&self, id: &str) -> JobStatus {
        let asked = self.run(&self.batch.0.config.qacct_cmd, &qacct::args(id));
        let mut missing = self.missing_since.lock().unwrap_or_else(|e| e.into_inner());
        match asked.map(|output| qacct::ended(&output)) {
            Ok(Ended::Known(status)) => {
                missing.remove(id);
                status
            }
            Ok(Ended::NotYet) => {
                let since = *missing.entry(id.to_string()).or_insert_with(Instant::now);
                if since.elapsed() < ACCOUNTING_GRACE {
                    JobStatus::new(JobState::Unknown)
                } else {
                    missing.remove(id);
                    JobStatus::new(JobState::Exited(FORGOTTEN_EXIT_CODE))
                }
            }
            Ok(Ended::Unknowable) | Err(_) => JobStatus::new(JobState::Exited(FORGOTTEN_EXIT_CODE)),
        }
    }
}

impl RunnerPlugin for Sge {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        self.batch.launch(request)
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        self.batch.terminate(job)
    }

    fn array_index_variable(&self) -> Option<String> {
        self.batch.array_index_variable()
    }

    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        self.batch.launch_array(request, count)
    }

    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        Ok(self
            .poll_status(jobs)?
            .iter()
            .map(JobStatus::state)
            .collect())
    }

    fn poll_status(&self, jobs: &[JobHandle]) -> Result<Vec<JobStatus>, String> {
        Ok(self
            .poll_reports(jobs)?
            .iter()
            .map(JobReport::status)
            .collect())
    }

    fn poll_reports(&self, jobs: &[JobHandle]) -> Result<Vec<JobReport>, String> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = jobs.iter().map(JobHandle::job_id).collect();
        let scheduler = &self.batch.0;
        let output = self.run(&scheduler.commands.status, &scheduler.status_args(&ids))?;
        let seen = qstat::reports(&ids, &output)?;
        Ok(jobs
            .iter()
            .zip(seen)
            .map(|(job, seen)| match seen {
                Some(Seen::Held(state)) => qstat::report(state),
                Some(Seen::Failed) => {
                    // It will never run: delete it, so that nothing is left.
                    let _ = self.batch.terminate(job);
                    JobReport::new(JobStatus::new(JobState::Exited(1)))
                }
                None => JobReport::new(self.ended(job.job_id())),
            })
            .collect())
    }
}

fn new_runner(config_json: &str) -> Result<Sge, String> {
    let config = Config::parse(config_json)?;
    let commands = Commands::new(
        &config.qsub_cmd,
        &config.qstat_cmd,
        &config.qdel_cmd,
        config.command_timeout,
    );
    Ok(Sge {
        batch: BatchRunner(GridEngine { config, commands }),
        missing_since: Mutex::new(HashMap::new()),
    })
}

export_runner!("sge", new_runner);
