//! The shape every batch-scheduler runner shares, for a plugin to fill in.
//!
//! A cluster runner (LSF, SLURM, Grid Engine, a site's own) does the same
//! five things with other commands: submit a job or a job array and read
//! the id it printed, name an array's elements, ask for many jobs' states
//! in one call and read them, and cancel a job, for which "already gone"
//! counts as done. A plugin says how its scheduler does each in a
//! [`BatchScheduler`] and exports [`BatchRunner`]; the calls themselves
//! (with `command_timeout` on every one, the submitter's environment for
//! the secret, errors that name the command and what it said) live here,
//! once.
//!
//! ```no_run
//! use dfm_plugin_api::batch::{BatchRunner, BatchScheduler, Commands};
//! use dfm_plugin_api::command::CommandOutput;
//! use dfm_plugin_api::{export_runner, JobStatus, LaunchRequest};
//!
//! struct MyScheduler { commands: Commands }
//!
//! impl BatchScheduler for MyScheduler {
//!     const ARRAY_INDEX_VARIABLE: &'static str = "MY_ARRAY_INDEX";
//!     fn commands(&self) -> &Commands { &self.commands }
//!     fn submit_args(&self, request: &LaunchRequest, array: Option<u32>) -> Result<Vec<String>, String> { todo!() }
//!     fn submitted_job_id(&self, stdout: &str) -> Option<String> { todo!() }
//!     fn array_element(&self, array_job_id: &str, index: u32) -> String { format!("{array_job_id}.{index}") }
//!     fn status_args(&self, job_ids: &[&str]) -> Vec<String> { todo!() }
//!     fn parse_statuses(&self, job_ids: &[&str], output: &CommandOutput) -> Result<Vec<JobStatus>, String> { todo!() }
//!     fn cancelled_or_gone(&self, output: &CommandOutput) -> bool { output.success() }
//! }
//!
//! fn new_runner(config_json: &str) -> Result<BatchRunner<MyScheduler>, String> {
//!     let commands = Commands::new("mysub", "mystat", "mydel", 60.0);
//!     Ok(BatchRunner(MyScheduler { commands }))
//! }
//!
//! export_runner!("mysite", new_runner);
//! ```

use crate::command::{self, CommandOutput};
use crate::{JobHandle, JobReport, JobState, JobStatus, LaunchRequest, RunnerPlugin};

/// The scheduler's three commands (a site's wrapper is fine) and how long
/// any of them may take before it is killed.
#[derive(Debug, Clone, PartialEq)]
pub struct Commands {
    /// `bsub`, `sbatch`, `qsub`.
    pub submit: String,
    /// `bjobs`, `squeue`, `qstat`.
    pub status: String,
    /// `bkill`, `scancel`, `qdel`.
    pub cancel: String,
    /// Seconds before a hanging command is killed.
    pub timeout_secs: f64,
}

impl Commands {
    pub fn new(submit: &str, status: &str, cancel: &str, timeout_secs: f64) -> Commands {
        Commands {
            submit: submit.into(),
            status: status.into(),
            cancel: cancel.into(),
            timeout_secs,
        }
    }
}

/// How one batch scheduler submits, polls and cancels worker jobs.
pub trait BatchScheduler: Send + Sync + 'static {
    /// The variable in which an element of a job array finds its index,
    /// from 1 (`LSB_JOBINDEX`, `SLURM_ARRAY_TASK_ID`, `SGE_TASK_ID`).
    const ARRAY_INDEX_VARIABLE: &'static str;

    fn commands(&self) -> &Commands;

    /// The submit command's arguments for one worker job (`array: None`)
    /// or a job array of that many. The worker's secret is in
    /// `request.env_pairs()`, which the submit command runs with: never
    /// put it in these arguments.
    fn submit_args(
        &self,
        request: &LaunchRequest,
        array: Option<u32>,
    ) -> Result<Vec<String>, String>;

    /// The job id in what the submit command printed, wherever it is among
    /// a site wrapper's lines; `None` if it printed none.
    fn submitted_job_id(&self, stdout: &str) -> Option<String>;

    /// The id of element `index` (from 1) of the array `array_job_id`, as
    /// the status and cancel commands take it (`12[3]`, `12_3`).
    fn array_element(&self, array_job_id: &str, index: u32) -> String;

    /// The status command's arguments for `job_ids`, all in one call.
    fn status_args(&self, job_ids: &[&str]) -> Vec<String>;

    /// The statuses of `job_ids`, in that order, from the status command's
    /// output. A job it does not name is gone; a line it cannot read leaves
    /// the jobs it may be about [`JobState::Unknown`] for this poll (see
    /// [`CommandOutput::warn_unreadable`]), never gone.
    fn parse_statuses(
        &self,
        job_ids: &[&str],
        output: &CommandOutput,
    ) -> Result<Vec<JobStatus>, String>;

    /// As [`BatchScheduler::parse_statuses`], with why each pending job
    /// waits where the status command says (API 0.1.2; ask for it in
    /// [`BatchScheduler::status_args`]). The default has no reasons.
    fn parse_reports(
        &self,
        job_ids: &[&str],
        output: &CommandOutput,
    ) -> Result<Vec<JobReport>, String> {
        let statuses = self.parse_statuses(job_ids, output)?;
        Ok(statuses.into_iter().map(JobReport::new).collect())
    }

    /// Whether the cancel command's answer means the job is stopped,
    /// stopping or already gone.
    fn cancelled_or_gone(&self, output: &CommandOutput) -> bool;
}

/// The program a worker job runs: `configured` (a runner's
/// `worker_dfm_path`, dfm as the compute nodes see it) if set, else the
/// request's own.
pub fn worker_program<'a>(
    request: &'a LaunchRequest,
    configured: &'a str,
) -> Result<&'a str, String> {
    let program = request
        .program()
        .ok_or("launch request has an empty command line")?;
    Ok(if configured.is_empty() {
        program
    } else {
        configured
    })
}

/// The job id on the last line of a submit command's output that starts
/// with one: digits, up to `after` (`42;cluster` from `sbatch
/// --parsable`, `42.1-8:1` from `qsub -terse`). A site's wrapper may print
/// more lines around it.
pub fn last_job_id(stdout: &str, after: char) -> Option<String> {
    stdout.lines().rev().find_map(|line| {
        let id = line.trim().split(after).next()?;
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
    })
}

/// A [`RunnerPlugin`] made of a [`BatchScheduler`]: export it with
/// [`export_runner!`](crate::export_runner).
pub struct BatchRunner<S>(pub S);

impl<S: BatchScheduler> BatchRunner<S> {
    /// Runs the submit command with `args`; the job id it printed.
    fn submit(&self, request: &LaunchRequest, args: &[String]) -> Result<String, String> {
        let commands = self.0.commands();
        let output = command::run(
            &commands.submit,
            args,
            request.env_pairs(),
            commands.timeout_secs,
        )?;
        if !output.success() {
            return Err(output.failure());
        }
        self.0.submitted_job_id(&output.stdout).ok_or_else(|| {
            format!(
                "{} printed no job id that dfm can read: {}",
                commands.submit,
                output.failure()
            )
        })
    }
}

impl<S: BatchScheduler> RunnerPlugin for BatchRunner<S> {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let args = self.0.submit_args(request, None)?;
        Ok(JobHandle::new(&self.submit(request, &args)?))
    }

    fn array_index_variable(&self) -> Option<String> {
        Some(S::ARRAY_INDEX_VARIABLE.into())
    }

    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        let args = self.0.submit_args(request, Some(count))?;
        let array = self.submit(request, &args)?;
        Ok((1..=count)
            .map(|index| JobHandle::new(&self.0.array_element(&array, index)))
            .collect())
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        let commands = self.0.commands();
        let output = command::run(
            &commands.cancel,
            &[job.job_id().to_string()],
            [],
            commands.timeout_secs,
        )?;
        if self.0.cancelled_or_gone(&output) {
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
        let ids: Vec<&str> = jobs.iter().map(|job| job.job_id()).collect();
        let commands = self.0.commands();
        let output = command::run(
            &commands.status,
            &self.0.status_args(&ids),
            [],
            commands.timeout_secs,
        )?;
        self.0.parse_reports(&ids, &output)
    }
}
