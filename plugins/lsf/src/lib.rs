//! The `lsf` runner: each worker is one LSF batch job.
//!
//! Submits with `bsub` (a batch of workers as one job array,
//! `-J "name[1-N]"`, each element finding its index in `LSB_JOBINDEX`),
//! polls every job and array element in one `bjobs` call (their state, run
//! time left and exit reason), stops them with `bkill`. The worker's secret reaches the job through the environment of
//! `bsub` (LSF jobs inherit the submitter's environment), never through the
//! command line, which every user of the cluster can read with `bjobs -l`.
//!
//! Configuration (`runner.lsf`):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `bsub_cmd`, `bjobs_cmd`, `bkill_cmd` | `bsub`, `bjobs`, `bkill` | the commands (a site wrapper is fine) |
//! | `queue` | LSF's default | `-q`, unless the resource class names one |
//! | `project` | none | `-P` |
//! | `resource_select` | `[]` | `-R "select[a && b]"`, with the class's own added |
//! | `bsub_extra` | `[]` | more bsub arguments, before the command |
//! | `worker_dfm_path` | the daemon's own `dfm` | `dfm` as the compute nodes see it |
//! | `lsf_unit_for_limits` | `MB` | the site's `LSF_UNIT_FOR_LIMITS` (`KB`, `MB`, `GB`), for `-M` and `rusage[mem=]` |
//! | `command_timeout` | `60` | seconds before a hanging LSF command is killed |

mod bjobs;
mod bsub;

use dfm_plugin_api::command;
use dfm_plugin_api::{export_runner, JobHandle, JobState, JobStatus, LaunchRequest, RunnerPlugin};

use self::bjobs::{killed_or_gone, parse_bjobs, FORMAT};
use self::bsub::{parse_submitted, Config};

struct LsfRunner {
    config: Config,
}

impl LsfRunner {
    /// Runs `bsub` with `args`; the job id it printed.
    fn submit(&self, request: &LaunchRequest, args: &[String]) -> Result<String, String> {
        let output = command::run(
            &self.config.bsub_cmd,
            args,
            request.env_pairs(),
            self.config.command_timeout,
        )?;
        if !output.success() {
            return Err(output.failure());
        }
        parse_submitted(&output.stdout).ok_or_else(|| {
            format!(
                "{} printed no 'Job <N> is submitted' line: {}",
                self.config.bsub_cmd,
                output.failure()
            )
        })
    }
}

impl RunnerPlugin for LsfRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let args = self.config.bsub_args(request, None)?;
        Ok(JobHandle::new(&self.submit(request, &args)?))
    }

    fn array_index_variable(&self) -> Option<String> {
        Some("LSB_JOBINDEX".into())
    }

    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        let args = self.config.bsub_args(request, Some(count))?;
        let array = self.submit(request, &args)?;
        Ok((1..=count)
            .map(|index| JobHandle::new(&format!("{array}[{index}]")))
            .collect())
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        let output = command::run(
            &self.config.bkill_cmd,
            &[job.job_id().to_string()],
            [],
            self.config.command_timeout,
        )?;
        if killed_or_gone(&output) {
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
        let mut args = vec!["-o".to_string(), FORMAT.into(), "-noheader".into()];
        args.extend(ids.iter().map(|id| id.to_string()));
        let output = command::run(
            &self.config.bjobs_cmd,
            &args,
            [],
            self.config.command_timeout,
        )?;
        parse_bjobs(&ids, &output)
    }
}

fn new_runner(config_json: &str) -> Result<LsfRunner, String> {
    Ok(LsfRunner {
        config: Config::parse(config_json)?,
    })
}

export_runner!("lsf", new_runner);
