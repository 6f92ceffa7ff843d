//! The `lsf` runner: each worker is one LSF batch job.
//!
//! Submits with `bsub` (a batch of workers as one job array,
//! `-J "name[1-N]"`, each element finding its index in `LSB_JOBINDEX`),
//! polls every job and array element in one `bjobs` call (their state, run
//! time left and exit reason), stops them with `bkill`. The worker's secret reaches the job through the environment of
//! `bsub` (LSF jobs inherit the submitter's environment), never through the
//! command line, which every user of the cluster can read with `bjobs -l`.
//!
//! The calls themselves (timeouts, arrays, errors) are
//! `dfm_plugin_api::batch`'s; this crate says how LSF does each.
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

use dfm_plugin_api::batch::{BatchRunner, BatchScheduler, Commands};
use dfm_plugin_api::command::CommandOutput;
use dfm_plugin_api::{export_runner, JobReport, JobStatus, LaunchRequest};

use self::bsub::Config;

struct Lsf {
    config: Config,
    commands: Commands,
}

impl BatchScheduler for Lsf {
    const ARRAY_INDEX_VARIABLE: &'static str = "LSB_JOBINDEX";

    fn commands(&self) -> &Commands {
        &self.commands
    }

    fn submit_args(
        &self,
        request: &LaunchRequest,
        array: Option<u32>,
    ) -> Result<Vec<String>, String> {
        self.config.bsub_args(request, array)
    }

    fn submitted_job_id(&self, stdout: &str) -> Option<String> {
        bsub::parse_submitted(stdout)
    }

    fn array_element(&self, array_job_id: &str, index: u32) -> String {
        format!("{array_job_id}[{index}]")
    }

    fn status_args(&self, job_ids: &[&str]) -> Vec<String> {
        let mut args = vec!["-o".to_string(), bjobs::FORMAT.into(), "-noheader".into()];
        args.extend(job_ids.iter().map(|id| id.to_string()));
        args
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
        bjobs::parse_bjobs(job_ids, output)
    }

    fn cancelled_or_gone(&self, output: &CommandOutput) -> bool {
        bjobs::killed_or_gone(output)
    }
}

fn new_runner(config_json: &str) -> Result<BatchRunner<Lsf>, String> {
    let config = Config::parse(config_json)?;
    let commands = Commands::new(
        &config.bsub_cmd,
        &config.bjobs_cmd,
        &config.bkill_cmd,
        config.command_timeout,
    );
    Ok(BatchRunner(Lsf { config, commands }))
}

export_runner!("lsf", new_runner);
