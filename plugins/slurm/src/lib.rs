//! The `slurm` runner: each worker is one SLURM batch job (or, with
//! `launch: srun`, one `srun`: see `srun.rs`).
//!
//! Submits with `sbatch --parsable --wrap` (a batch of workers as one job
//! array, `--array=1-N`, each element finding its index in
//! `SLURM_ARRAY_TASK_ID`), polls every job and array element in one
//! `squeue` call (their state and time left, `%L`), stops them with
//! `scancel`. The worker's secret reaches the job
//! through the environment of `sbatch` (`--export=ALL`, given explicitly so
//! a site's `SBATCH_EXPORT=NONE` cannot drop it), never through the command
//! line or the job script, which other users can read with `scontrol`.
//!
//! The calls themselves (timeouts, arrays, errors) are
//! `dfm_plugin_api::batch`'s; this crate says how SLURM does each.
//!
//! Configuration (`runner.slurm`):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `launch` | `sbatch` | `sbatch`: batch jobs, arrays; `srun`: an `srun` per worker on this host, started at once when SLURM has room |
//! | `sbatch_cmd`, `srun_cmd`, `squeue_cmd`, `scancel_cmd` | `sbatch`, `srun`, `squeue`, `scancel` | the commands (a site wrapper is fine) |
//! | `partition` (or `queue`) | SLURM's default | `-p`, unless the resource class names a queue |
//! | `account` | none | `-A` |
//! | `sbatch_extra`, `srun_extra` | `[]` | more sbatch (srun) arguments |
//! | `worker_dfm_path` | the daemon's own `dfm` | `dfm` as the compute nodes see it |
//! | `command_timeout` | `60` | seconds before a hanging SLURM command is killed |

mod sbatch;
mod squeue;
mod srun;

use dfm_plugin_api::batch::{BatchRunner, BatchScheduler, Commands};
use dfm_plugin_api::command::CommandOutput;
use dfm_plugin_api::{
    export_runner, JobHandle, JobReport, JobState, JobStatus, LaunchRequest, RunnerPlugin,
};

use self::sbatch::{Config, Launch};
use self::srun::SrunRunner;

struct Slurm {
    config: Config,
    commands: Commands,
}

impl BatchScheduler for Slurm {
    const ARRAY_INDEX_VARIABLE: &'static str = "SLURM_ARRAY_TASK_ID";

    fn commands(&self) -> &Commands {
        &self.commands
    }

    fn submit_args(
        &self,
        request: &LaunchRequest,
        array: Option<u32>,
    ) -> Result<Vec<String>, String> {
        self.config.sbatch_args(request, array)
    }

    fn submitted_job_id(&self, stdout: &str) -> Option<String> {
        sbatch::parse_submitted(stdout)
    }

    fn array_element(&self, array_job_id: &str, index: u32) -> String {
        format!("{array_job_id}_{index}")
    }

    fn status_args(&self, job_ids: &[&str]) -> Vec<String> {
        // -r: pending array elements one per line, not as `42_[1-8]`.
        vec![
            "-h".to_string(),
            "-r".into(),
            "-t".into(),
            "all".into(),
            "-j".into(),
            job_ids.join(","),
            "-o".into(),
            squeue::FORMAT.into(),
        ]
    }

    fn parse_statuses(
        &self,
        job_ids: &[&str],
        output: &CommandOutput,
    ) -> Result<Vec<JobStatus>, String> {
        let reports = self.parse_reports(job_ids, output)?;
        Ok(reports.iter().map(JobReport::status).collect())
    }

    fn parse_reports(
        &self,
        job_ids: &[&str],
        output: &CommandOutput,
    ) -> Result<Vec<JobReport>, String> {
        squeue::parse_squeue(job_ids, output)
    }

    fn cancelled_or_gone(&self, output: &CommandOutput) -> bool {
        squeue::cancelled_or_gone(output)
    }
}

/// The runner as configured: batch jobs, or an `srun` each.
enum SlurmRunner {
    Batch(BatchRunner<Slurm>),
    Srun(SrunRunner),
}

impl SlurmRunner {
    fn runner(&self) -> &dyn RunnerPlugin {
        match self {
            SlurmRunner::Batch(runner) => runner,
            SlurmRunner::Srun(runner) => runner,
        }
    }
}

impl RunnerPlugin for SlurmRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        self.runner().launch(request)
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        self.runner().terminate(job)
    }

    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        self.runner().poll(jobs)
    }

    fn array_index_variable(&self) -> Option<String> {
        self.runner().array_index_variable()
    }

    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        self.runner().launch_array(request, count)
    }

    fn poll_status(&self, jobs: &[JobHandle]) -> Result<Vec<JobStatus>, String> {
        self.runner().poll_status(jobs)
    }

    fn poll_reports(&self, jobs: &[JobHandle]) -> Result<Vec<JobReport>, String> {
        self.runner().poll_reports(jobs)
    }
}

fn new_runner(config_json: &str) -> Result<SlurmRunner, String> {
    let config = Config::parse(config_json)?;
    let commands = Commands::new(
        &config.sbatch_cmd,
        &config.squeue_cmd,
        &config.scancel_cmd,
        config.command_timeout,
    );
    Ok(match config.launch {
        Launch::Sbatch => SlurmRunner::Batch(BatchRunner(Slurm { config, commands })),
        Launch::Srun => SlurmRunner::Srun(SrunRunner::new(config, commands)),
    })
}

export_runner!("slurm", new_runner);
