//! The `slurm` runner: each worker is one SLURM batch job.
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
//! Configuration (`runner.slurm`):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `sbatch_cmd`, `squeue_cmd`, `scancel_cmd` | `sbatch`, `squeue`, `scancel` | the commands (a site wrapper is fine) |
//! | `partition` (or `queue`) | SLURM's default | `-p`, unless the resource class names a queue |
//! | `account` | none | `-A` |
//! | `sbatch_extra` | `[]` | more sbatch arguments |
//! | `worker_dfm_path` | the daemon's own `dfm` | `dfm` as the compute nodes see it |
//! | `command_timeout` | `60` | seconds before a hanging SLURM command is killed |

mod sbatch;
mod squeue;

use dfm_plugin_api::command;
use dfm_plugin_api::{export_runner, JobHandle, JobState, JobStatus, LaunchRequest, RunnerPlugin};

use self::sbatch::{parse_submitted, Config};
use self::squeue::{cancelled_or_gone, parse_squeue, FORMAT};

struct SlurmRunner {
    config: Config,
}

impl SlurmRunner {
    /// Runs `sbatch` with `args`; the job id it printed.
    fn submit(&self, request: &LaunchRequest, args: &[String]) -> Result<String, String> {
        let output = command::run(
            &self.config.sbatch_cmd,
            args,
            request.env_pairs(),
            self.config.command_timeout,
        )?;
        if !output.success() {
            return Err(output.failure());
        }
        parse_submitted(&output.stdout).ok_or_else(|| {
            format!(
                "{} printed no job id: {}",
                self.config.sbatch_cmd,
                output.failure()
            )
        })
    }
}

impl RunnerPlugin for SlurmRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let args = self.config.sbatch_args(request, None)?;
        Ok(JobHandle::new(&self.submit(request, &args)?))
    }

    fn array_index_variable(&self) -> Option<String> {
        Some("SLURM_ARRAY_TASK_ID".into())
    }

    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        let args = self.config.sbatch_args(request, Some(count))?;
        let array = self.submit(request, &args)?;
        Ok((1..=count)
            .map(|index| JobHandle::new(&format!("{array}_{index}")))
            .collect())
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        let output = command::run(
            &self.config.scancel_cmd,
            &[job.job_id().to_string()],
            [],
            self.config.command_timeout,
        )?;
        if cancelled_or_gone(&output) {
            Ok(())
        } else {
            Err(output.failure())
        }
    }

    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        Ok(self
            .poll_status(jobs)?
            .iter()
            .map(JobStatus::state)
            .collect())
    }

    fn poll_status(&self, jobs: &[JobHandle]) -> Result<Vec<JobStatus>, String> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = jobs.iter().map(|job| job.job_id()).collect();
        // -r: pending array elements one per line, not as `42_[1-8]`.
        let args = [
            "-h".to_string(),
            "-r".into(),
            "-t".into(),
            "all".into(),
            "-j".into(),
            ids.join(","),
            "-o".into(),
            FORMAT.into(),
        ];
        let output = command::run(
            &self.config.squeue_cmd,
            &args,
            [],
            self.config.command_timeout,
        )?;
        parse_squeue(&ids, &output)
    }
}

fn new_runner(config_json: &str) -> Result<SlurmRunner, String> {
    Ok(SlurmRunner {
        config: Config::parse(config_json)?,
    })
}

export_runner!("slurm", new_runner);
