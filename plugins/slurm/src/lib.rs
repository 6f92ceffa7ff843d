//! The `slurm` runner: each worker is one SLURM batch job.
//!
//! Submits with `sbatch --parsable --wrap`, polls every job in one `squeue`
//! call, stops jobs with `scancel`. The worker's secret reaches the job
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

use std::collections::BTreeMap;

use dfm_plugin_api::command::{self, CommandOutput};
use dfm_plugin_api::units::{memory_mb, walltime_minutes};
use dfm_plugin_api::{export_runner, JobHandle, JobState, LaunchRequest, RunnerPlugin};
use serde::Deserialize;

/// The exit code reported for a job SLURM has forgotten (finished longer
/// than MinJobAge ago): it ended, how is no longer known.
const FORGOTTEN_EXIT_CODE: i32 = -1;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    sbatch_cmd: String,
    squeue_cmd: String,
    scancel_cmd: String,
    #[serde(alias = "queue")]
    partition: String,
    account: String,
    sbatch_extra: Vec<String>,
    worker_dfm_path: String,
    command_timeout: f64,
    /// Cores, memory, walltime and queue of these arrive merged in the
    /// launch request; nothing else in them is for SLURM.
    defaults: serde_json::Value,
    resource_classes: serde_json::Value,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sbatch_cmd: "sbatch".into(),
            squeue_cmd: "squeue".into(),
            scancel_cmd: "scancel".into(),
            partition: String::new(),
            account: String::new(),
            sbatch_extra: Vec::new(),
            worker_dfm_path: String::new(),
            command_timeout: 60.0,
            defaults: serde_json::Value::Null,
            resource_classes: serde_json::Value::Null,
        }
    }
}

/// `word` for a POSIX shell, quoted only when it must be.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

impl Config {
    fn parse(json: &str) -> Result<Config, String> {
        let config: Config =
            serde_json::from_str(json).map_err(|e| format!("runner.slurm: {e}"))?;
        if !(config.command_timeout > 0.0 && config.command_timeout.is_finite()) {
            return Err("runner.slurm.command_timeout must be a positive number of seconds".into());
        }
        Ok(config)
    }

    /// The arguments of `sbatch` for one worker job.
    fn sbatch_args(&self, request: &LaunchRequest) -> Result<Vec<String>, String> {
        let resources = request.resources();
        let mut args = vec![
            "--parsable".to_string(),
            "--export=ALL".into(),
            "-J".into(),
            request.job_name().to_string(),
        ];
        let partition = if resources.queue().is_empty() {
            self.partition.as_str()
        } else {
            resources.queue()
        };
        if !partition.is_empty() {
            args.extend(["-p".into(), partition.into()]);
        }
        if !self.account.is_empty() {
            args.extend(["-A".into(), self.account.clone()]);
        }
        if resources.cores() > 0 {
            args.extend(["-c".into(), resources.cores().to_string()]);
        }
        if !resources.memory().is_empty() {
            args.extend([
                "--mem".into(),
                format!("{}M", memory_mb(resources.memory())?),
            ]);
        }
        if !resources.walltime().is_empty() {
            args.extend([
                "-t".into(),
                walltime_minutes(resources.walltime())?.to_string(),
            ]);
        }
        let log = request.log_path().to_string();
        args.extend(["-o".into(), log.clone(), "-e".into(), log]);
        args.extend(self.sbatch_extra.iter().cloned());
        let program = request
            .program()
            .ok_or("launch request has an empty command line")?;
        let program = if self.worker_dfm_path.is_empty() {
            program
        } else {
            self.worker_dfm_path.as_str()
        };
        // exec: the worker is the job's main process, so scancel's signal
        // reaches it and its exit status is the job's.
        let words: Vec<String> = std::iter::once(program)
            .chain(request.args())
            .map(shell_quote)
            .collect();
        args.extend(["--wrap".into(), format!("exec {}", words.join(" "))]);
        Ok(args)
    }
}

/// The job id in `sbatch --parsable` output: `42` or `42;cluster`, on the
/// last such line (a site wrapper may print more).
fn parse_submitted(stdout: &str) -> Option<String> {
    stdout.lines().rev().find_map(|line| {
        let id = line.trim().split(';').next()?;
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
    })
}

/// The state of a SLURM job state name (`squeue -o %T`).
fn slurm_state(state: &str) -> JobState {
    match state {
        // Waiting, or put back in the queue: the job will run again.
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "SUSPENDED"
        | "PREEMPTED" | "RESIZING" => JobState::Pending,
        "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" => JobState::Running,
        "COMPLETED" => JobState::Exited(0),
        "FAILED" | "CANCELLED" | "TIMEOUT" | "NODE_FAIL" | "OUT_OF_MEMORY" | "BOOT_FAIL"
        | "DEADLINE" | "SPECIAL_EXIT" | "REVOKED" => JobState::Exited(1),
        _ => JobState::Unknown,
    }
}

/// The states of `ids` from one `squeue -h -t all -j IDS -o "%i %T"`.
fn parse_squeue(ids: &[&str], output: &CommandOutput) -> Result<Vec<JobState>, String> {
    // squeue fails this way when every id asked for is unknown.
    let all_unknown = !output.success() && output.stderr.contains("Invalid job id specified");
    if !output.success() && !all_unknown {
        return Err(output.failure());
    }
    let known: BTreeMap<&str, JobState> = output
        .stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some((fields.next()?, slurm_state(fields.next()?)))
        })
        .collect();
    Ok(ids
        .iter()
        .map(|id| {
            known
                .get(id)
                .copied()
                .unwrap_or(JobState::Exited(FORGOTTEN_EXIT_CODE))
        })
        .collect())
}

/// Whether `scancel`'s answer means the job is stopped or stopping.
fn cancelled_or_gone(output: &CommandOutput) -> bool {
    output.success()
        || output.stderr.contains("Invalid job id specified")
        || output.stderr.contains("already completed")
}

struct SlurmRunner {
    config: Config,
}

impl RunnerPlugin for SlurmRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let args = self.config.sbatch_args(request)?;
        let output = command::run(
            &self.config.sbatch_cmd,
            &args,
            request.env_pairs(),
            self.config.command_timeout,
        )?;
        if !output.success() {
            return Err(output.failure());
        }
        let job_id = parse_submitted(&output.stdout).ok_or_else(|| {
            format!(
                "{} printed no job id: {}",
                self.config.sbatch_cmd,
                output.failure()
            )
        })?;
        Ok(JobHandle::new(&job_id))
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
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = jobs.iter().map(|job| job.job_id()).collect();
        let args = [
            "-h".to_string(),
            "-t".into(),
            "all".into(),
            "-j".into(),
            ids.join(","),
            "-o".into(),
            "%i %T".into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use dfm_plugin_api::Resources;

    fn request(cores: u32, memory: &str, walltime: &str, queue: &str) -> LaunchRequest {
        LaunchRequest::new(
            "dfm-worker-ab12",
            &[
                "/opt/my dfm/dfm",
                "worker",
                "--connect",
                "head:4000",
                "--resource-class",
                "it's",
            ],
            &[("DFM_WORKER_TOKEN", "s3cret")],
            Resources::new(cores, memory, walltime, queue, ""),
            "/p/.dfm/workers/worker_ab12.log",
        )
    }

    fn output(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            program: "squeue".into(),
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn sbatch_line_with_everything() {
        let config = Config::parse(
            r#"{"queue": "batch", "account": "chip", "sbatch_extra": ["--qos", "high"],
                "worker_dfm_path": "/tools/dfm", "defaults": {"cores": 1},
                "resource_classes": {"large": {"cores": 8}}}"#,
        )
        .expect("config");
        let args = config
            .sbatch_args(&request(8, "1.5G", "1:30", "big"))
            .expect("args");
        assert_eq!(
            args,
            [
                "--parsable",
                "--export=ALL",
                "-J",
                "dfm-worker-ab12",
                "-p",
                "big",
                "-A",
                "chip",
                "-c",
                "8",
                "--mem",
                "1536M",
                "-t",
                "90",
                "-o",
                "/p/.dfm/workers/worker_ab12.log",
                "-e",
                "/p/.dfm/workers/worker_ab12.log",
                "--qos",
                "high",
                "--wrap",
                r"exec /tools/dfm worker --connect head:4000 --resource-class 'it'\''s'",
            ]
        );
        assert!(!args.iter().any(|a| a.contains("s3cret")));
    }

    #[test]
    fn sbatch_line_minimal() {
        let config = Config::parse(r#"{"partition": "debug"}"#).expect("config");
        let args = config.sbatch_args(&request(0, "", "", "")).expect("args");
        assert_eq!(
            args.join(" "),
            "--parsable --export=ALL -J dfm-worker-ab12 -p debug \
             -o /p/.dfm/workers/worker_ab12.log -e /p/.dfm/workers/worker_ab12.log \
             --wrap exec '/opt/my dfm/dfm' worker --connect head:4000 --resource-class 'it'\\''s'"
        );
        let error = config
            .sbatch_args(&request(1, "", "soon", ""))
            .expect_err("bad walltime");
        assert!(error.contains("'soon'"), "{error}");
        let typo = Config::parse(r#"{"partiton": "x"}"#).expect_err("typo");
        assert!(typo.contains("unknown field `partiton`"), "{typo}");
    }

    #[test]
    fn job_ids_from_sbatch_output() {
        assert_eq!(parse_submitted("42\n"), Some("42".into()));
        assert_eq!(parse_submitted("42;cluster\n"), Some("42".into()));
        assert_eq!(
            parse_submitted("site banner: be nice\n1234\n"),
            Some("1234".into())
        );
        assert_eq!(parse_submitted("Submitted batch job 42\n"), None);
        assert_eq!(parse_submitted(""), None);
    }

    #[test]
    fn slurm_states() {
        for state in [
            "PENDING",
            "CONFIGURING",
            "REQUEUED",
            "SUSPENDED",
            "PREEMPTED",
            "RESIZING",
        ] {
            assert_eq!(slurm_state(state), JobState::Pending, "{state}");
        }
        assert_eq!(slurm_state("RUNNING"), JobState::Running);
        assert_eq!(slurm_state("COMPLETING"), JobState::Running);
        assert_eq!(slurm_state("COMPLETED"), JobState::Exited(0));
        for state in [
            "FAILED",
            "CANCELLED",
            "TIMEOUT",
            "NODE_FAIL",
            "OUT_OF_MEMORY",
            "BOOT_FAIL",
            "DEADLINE",
        ] {
            assert!(
                matches!(slurm_state(state), JobState::Exited(c) if c != 0),
                "{state}"
            );
        }
        assert_eq!(slurm_state("SOMETHING_NEW"), JobState::Unknown);
    }

    #[test]
    fn squeue_answers_in_the_order_asked() {
        let out = output(0, "7 RUNNING\n5 PENDING\n6 COMPLETED\n", "");
        assert_eq!(
            parse_squeue(&["5", "6", "7", "8"], &out),
            Ok(vec![
                JobState::Pending,
                JobState::Exited(0),
                JobState::Running,
                JobState::Exited(FORGOTTEN_EXIT_CODE)
            ])
        );
        let unknown = output(1, "", "slurm_load_jobs error: Invalid job id specified\n");
        assert_eq!(
            parse_squeue(&["9"], &unknown),
            Ok(vec![JobState::Exited(FORGOTTEN_EXIT_CODE)])
        );
        let down = output(
            1,
            "",
            "slurm_load_jobs error: Unable to contact slurm controller\n",
        );
        let error = parse_squeue(&["9"], &down).expect_err("no answer");
        assert!(error.contains("Unable to contact"), "{error}");
    }

    #[test]
    fn scancel_answers() {
        assert!(cancelled_or_gone(&output(0, "", "")));
        assert!(cancelled_or_gone(&output(
            1,
            "",
            "scancel: error: Kill job error on job id 5: Invalid job id specified\n"
        )));
        assert!(!cancelled_or_gone(&output(
            210,
            "",
            "scancel: error: Kill job error on job id 5: Access/permission denied\n"
        )));
    }
}
