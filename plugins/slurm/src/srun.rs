//! `launch: srun`: each worker runs under an `srun` of its own, a child
//! of the daemon's host, for as long as the worker runs.
//!
//! Why: `sbatch` only queues a job, and SLURM starts it in its scheduler's
//! next pass, which comes up to a second later even on an idle cluster
//! (`slurmctld`'s loop; see docs/performance.md). `srun` asks for its
//! allocation there and then, and gets it at once when the resources are
//! free: a cold pool's first workers register in tens of milliseconds.
//! The price: an `srun` (two processes, about 10 MB) on this host per
//! worker, and no job arrays.
//!
//! The job id dfm knows is the job's name, made unique here, with the
//! `srun`'s pid: `srun` prints no job id. Whether the job has ended is
//! its `srun`'s (`dfm_plugin_api::children`); while it lives, `squeue -n`
//! says whether it waits, and why, or how long it has left, as for a
//! batch job. Stopping it is stopping the `srun`: on SIGTERM it cancels
//! its job. An `srun` that had to be killed leaves its job running, so
//! its job is then also cancelled by name.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use dfm_plugin_api::batch::{worker_program, Commands};
use dfm_plugin_api::children::Children;
use dfm_plugin_api::command;
use dfm_plugin_api::{JobHandle, JobReport, JobState, JobStatus, LaunchRequest, RunnerPlugin};

use crate::sbatch::Config;
use crate::squeue;

pub struct SrunRunner {
    config: Config,
    commands: Commands,
    children: Children,
}

impl SrunRunner {
    pub fn new(config: Config, commands: Commands) -> SrunRunner {
        SrunRunner {
            config,
            commands,
            children: Children::default(),
        }
    }
}

/// `name` with 32 random bits after it: with the daemon's own random
/// prefix in `name`'s worker id, no other job of this user is called that,
/// so cancelling by name stops only this one.
fn unique_name(name: &str) -> String {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("{name}-{:08x}", hasher.finish() as u32)
}

impl Config {
    /// The arguments of `srun` that runs one worker as the job `name`.
    pub fn srun_args(&self, request: &LaunchRequest, name: &str) -> Result<Vec<String>, String> {
        let mut args = vec![
            "--export=ALL".to_string(),
            "-J".into(),
            name.into(),
            "-N".into(),
            "1".into(),
            "-n".into(),
            "1".into(),
        ];
        args.extend(self.resource_options(request)?);
        args.extend(self.srun_extra.iter().cloned());
        args.push(worker_program(request, &self.worker_dfm_path)?.to_string());
        args.extend(request.args().map(str::to_string));
        Ok(args)
    }
}

impl RunnerPlugin for SrunRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let name = unique_name(request.job_name());
        let args = self.config.srun_args(request, &name)?;
        let mut srun = Command::new(&self.config.srun_cmd);
        // The secret reaches the worker in the environment (`--export=ALL`).
        srun.args(&args).envs(request.env_pairs());
        // A daemon started inside an allocation (an `salloc` shell) has its
        // job's variables: srun would run the worker as a step of that job,
        // with its sizes. Each worker is a job of its own.
        for (key, _) in std::env::vars_os() {
            let slurm_own = key
                .to_str()
                .is_some_and(|k| k.starts_with("SLURM_") && k != "SLURM_CONF");
            if slurm_own {
                srun.env_remove(&key);
            }
        }
        let pid = self
            .children
            .spawn_logged(&mut srun, Path::new(request.log_path()))?;
        Ok(JobHandle::with_pid(&name, pid))
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        if let Some(pid) = job.pid() {
            self.children.terminate(pid)?;
        }
        // Silent and successful when the job has already ended, as it has
        // once its srun ended; it matters when the srun had to be killed.
        let output = command::run(
            &self.commands.cancel,
            &["-n".to_string(), job.job_id().to_string()],
            [],
            self.commands.timeout_secs,
        )?;
        if squeue::cancelled_or_gone(&output) {
            Ok(())
        } else {
            Err(output.failure())
        }
    }

    /// The sruns' own states: alive is Running, whether SLURM has
    /// started the job yet or not.
    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        Ok(jobs
            .iter()
            .map(|job| match job.pid() {
                Some(pid) => self.children.state(pid),
                None => JobState::Unknown,
            })
            .collect())
    }

    fn poll_status(&self, jobs: &[JobHandle]) -> Result<Vec<JobStatus>, String> {
        Ok(self
            .poll_reports(jobs)?
            .iter()
            .map(JobReport::status)
            .collect())
    }

    /// An srun's end is its job's end. While it lives, one `squeue` call
    /// tells whether its job waits, and why, or runs, and how long it has
    /// left. Without an answer (squeue failed, or does not know the job
    /// yet) a live srun is Running: the pool's walltime clock then starts
    /// early, on the safe side.
    fn poll_reports(&self, jobs: &[JobHandle]) -> Result<Vec<JobReport>, String> {
        let states = self.poll(jobs)?;
        let alive: Vec<&str> = jobs
            .iter()
            .zip(&states)
            .filter(|(_, state)| **state == JobState::Running)
            .map(|(job, _)| job.job_id())
            .collect();
        let mut said = self.squeue(&alive).unwrap_or_default().into_iter();
        Ok(states
            .into_iter()
            .map(|state| match state {
                JobState::Running => match said.next() {
                    Some(report) if is_pending_or_running(&report) => report,
                    _ => JobStatus::new(JobState::Running).into(),
                },
                other => JobStatus::new(other).into(),
            })
            .collect())
    }
}

fn is_pending_or_running(report: &JobReport) -> bool {
    matches!(
        report.status().state(),
        JobState::Pending | JobState::Running
    )
}

impl SrunRunner {
    /// What SLURM says of the jobs called `names`, in that order.
    fn squeue(&self, names: &[&str]) -> Result<Vec<JobReport>, String> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let args = [
            "-h".to_string(),
            "-n".into(),
            names.join(","),
            "-o".into(),
            squeue::BY_NAME_FORMAT.into(),
        ];
        let output = command::run(&self.commands.status, &args, [], self.commands.timeout_secs)?;
        squeue::parse_squeue_by_name(names, &output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfm_plugin_api::Resources;

    #[test]
    fn srun_line_asks_what_sbatch_would_and_runs_the_worker_itself() {
        let config = Config::parse(
            r#"{"launch": "srun", "partition": "debug", "account": "chip",
                "sbatch_extra": ["--mail-type=NONE"], "srun_extra": ["--qos", "high"],
                "worker_dfm_path": "/tools/dfm"}"#,
        )
        .expect("config");
        let request = LaunchRequest::new(
            "dfm-worker-ab12",
            &["/opt/dfm/dfm", "worker", "--connect", "head:4000"],
            &[("DFM_WORKER_TOKEN", "s3cret")],
            Resources::new(2, "1G", "0:10", "", ""),
            "/p/.dfm/workers/worker_ab12.log",
        );
        let args = config
            .srun_args(&request, "dfm-worker-ab12-00ff")
            .expect("args");
        assert_eq!(
            args.join(" "),
            "--export=ALL -J dfm-worker-ab12-00ff -N 1 -n 1 -p debug -A chip -c 2 \
             --mem 1024M -t 10 --qos high /tools/dfm worker --connect head:4000"
        );
        assert!(!args.iter().any(|a| a.contains("s3cret")));
    }

    #[test]
    fn names_are_unique() {
        let a = unique_name("dfm-worker-ab12");
        let b = unique_name("dfm-worker-ab12");
        assert_ne!(a, b);
        assert!(a.starts_with("dfm-worker-ab12-"), "{a}");
    }

    #[test]
    fn an_unknown_launch_is_refused_with_the_choices() {
        let error = Config::parse(r#"{"launch": "salloc"}"#).expect_err("salloc");
        assert!(
            error.contains("`sbatch`") && error.contains("`srun`"),
            "{error}"
        );
    }
}
