//! A template for a site's own runner plugin. It runs each worker as a
//! local process, so it works anywhere; replace the three methods with calls
//! to your scheduler (see the `lsf` and `slurm` plugins for real ones).
//!
//! The contract, in short:
//! - `launch` starts one worker job running `request.argv` exactly, with
//!   `request.env` added to its environment (it holds the worker's secret:
//!   never put it on a command line), output to `request.log_path`. Return
//!   as soon as the scheduler has accepted the job; do not wait for it to run.
//! - `poll` answers for many jobs in one call, in the order given.
//!   `Exited` makes the host give up on the worker; when unsure, say
//!   `Unknown`.
//! - `terminate` stops a job and everything it started; a job that already
//!   ended is not an error.
//! - Never hang: put a deadline on every external command
//!   (`dfm_plugin_api::command::run_with_timeout`).
//! - Calls come from several threads at once.
//!
//! Optional (API 0.1.1; leave them out and the defaults do what 0.1.0 did):
//! - `array_index_variable` and `launch_array`: start many workers in one
//!   scheduler call, as a job array. Each element finds its index, from
//!   one, in the variable you name; `{index}` in the log path is where it
//!   goes. Here: `count` processes, each with `TEMPLATE_ARRAY_INDEX`.
//! - `poll_status`: as `poll`, with the seconds a job has left before its
//!   run limit and whether it ended at it, if your scheduler tells.
//! - `poll_reports` (API 0.1.2): as `poll_status`, with why each pending
//!   job waits, in the scheduler's words (`JobReport::pending_because`).

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use dfm_plugin_api::command::run_with_timeout;
use dfm_plugin_api::{
    export_runner, JobHandle, JobState, LaunchRequest, RunnerPlugin, ARRAY_INDEX_PLACEHOLDER,
};

struct TemplateRunner {
    /// Workers not yet reaped, by job id (here: the pid).
    children: Mutex<HashMap<String, Child>>,
    /// Exit codes of reaped workers.
    exited: Mutex<HashMap<String, i32>>,
}

impl TemplateRunner {
    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<String, Child>> {
        self.children.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn exited(&self) -> std::sync::MutexGuard<'_, HashMap<String, i32>> {
        self.exited.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|sig| 128 + sig))
        .unwrap_or(-1)
}

/// The variable an element of this runner's job arrays finds its index in.
const ARRAY_INDEX: &str = "TEMPLATE_ARRAY_INDEX";

impl TemplateRunner {
    /// Starts one worker process; `index`: its place in a job array.
    fn start(&self, request: &LaunchRequest, index: Option<u32>) -> Result<JobHandle, String> {
        let program = request
            .program()
            .ok_or("launch request has an empty command line")?;
        let log_path = match index {
            Some(i) => request
                .log_path()
                .replace(ARRAY_INDEX_PLACEHOLDER, &i.to_string()),
            None => request.log_path().to_string(),
        };
        let log_path = std::path::Path::new(&log_path);
        if let Some(dir) = log_path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let log = File::create(log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot duplicate the log handle: {e}"))?;
        let mut command = Command::new(program);
        if let Some(i) = index {
            command.env(ARRAY_INDEX, i.to_string());
        }
        let child = command
            .args(request.args())
            .envs(request.env_pairs())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // A group of its own, so terminate reaches all of the job.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start worker '{program}': {e}"))?;
        let job_id = child.id().to_string();
        self.children().insert(job_id.clone(), child);
        Ok(JobHandle::new(&job_id))
    }
}

impl RunnerPlugin for TemplateRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        self.start(request, None)
    }

    fn array_index_variable(&self) -> Option<String> {
        Some(ARRAY_INDEX.into())
    }

    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        // Where a real plugin runs its scheduler once for all `count`.
        (1..=count).map(|i| self.start(request, Some(i))).collect()
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        let Some(mut child) = self.children().remove(job.job_id()) else {
            return Ok(()); // already ended
        };
        // Where a real plugin runs its scheduler's cancel command.
        let group = format!("-{}", job.job_id());
        let output = run_with_timeout(
            Command::new("kill").args(["-TERM", "--", &group]),
            Duration::from_secs(10),
        )?;
        if !output.success() {
            let _ = child.kill();
        }
        let status = child
            .wait()
            .map_err(|e| format!("cannot reap worker {}: {e}", job.job_id()))?;
        self.exited()
            .insert(job.job_id().to_string(), exit_code(status));
        Ok(())
    }

    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        let mut children = self.children();
        let mut exited = self.exited();
        Ok(jobs
            .iter()
            .map(|job| {
                let id = job.job_id();
                if let Some(child) = children.get_mut(id) {
                    match child.try_wait() {
                        Ok(None) => return JobState::Running,
                        Ok(Some(status)) => {
                            children.remove(id);
                            exited.insert(id.to_string(), exit_code(status));
                        }
                        Err(_) => return JobState::Unknown,
                    }
                }
                exited
                    .get(id)
                    .map_or(JobState::Unknown, |code| JobState::Exited(*code))
            })
            .collect())
    }
}

/// Builds the runner from `runner.<name>` of the configuration (JSON, with
/// `defaults` and `resource_classes` alongside). Refuse bad settings here,
/// with a message that names the key.
fn new_runner(_config_json: &str) -> Result<TemplateRunner, String> {
    Ok(TemplateRunner {
        children: Mutex::new(HashMap::new()),
        exited: Mutex::new(HashMap::new()),
    })
}

// The name `--runner` finds it by is the file name, libdfm_runner_<name>.so.
export_runner!("template", new_runner);
