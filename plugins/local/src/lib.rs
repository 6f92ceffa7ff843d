//! The `local` runner: each worker job is a child process of the host, in a
//! session of its own, with its output in its log file. The processes
//! themselves (sessions, reaping, stopping, adopting a previous daemon's)
//! are `dfm_plugin_api::children`'s; the job id is the worker's pid.

use std::path::Path;
use std::process::Command;

use dfm_plugin_api::children::Children;
use dfm_plugin_api::{export_runner, JobHandle, JobState, LaunchRequest, RunnerPlugin};

#[derive(Default)]
struct LocalRunner {
    children: Children,
}

fn parse_pid(job: &JobHandle) -> Result<u32, String> {
    job.job_id()
        .parse()
        .map_err(|_| format!("'{}' is not a local job id (a pid)", job.job_id()))
}

impl RunnerPlugin for LocalRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let program = request
            .program()
            .ok_or("launch request has an empty command line")?;
        let mut command = Command::new(program);
        command.args(request.args()).envs(request.env_pairs());
        let pid = self
            .children
            .spawn_logged(&mut command, Path::new(request.log_path()))?;
        Ok(JobHandle::with_pid(&pid.to_string(), pid))
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        self.children.terminate(parse_pid(job)?)
    }

    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        Ok(jobs
            .iter()
            .map(|job| match parse_pid(job) {
                Ok(pid) => self.children.state(pid),
                Err(_) => JobState::Unknown,
            })
            .collect())
    }
}

fn new_runner(_config_json: &str) -> Result<LocalRunner, String> {
    Ok(LocalRunner::default())
}

export_runner!("local", new_runner);
