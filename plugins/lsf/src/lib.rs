//! The `lsf` runner: each worker is one LSF batch job.
//!
//! Submits with `bsub`, polls every job in one `bjobs` call, stops jobs with
//! `bkill`. The worker's secret reaches the job through the environment of
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

use std::collections::BTreeMap;

use dfm_plugin_api::command::{self, CommandOutput};
use dfm_plugin_api::units::{memory_mb, walltime_minutes};
use dfm_plugin_api::{export_runner, JobHandle, JobState, LaunchRequest, RunnerPlugin};
use serde::Deserialize;

/// The exit code reported for a job LSF has forgotten (finished longer
/// than CLEAN_PERIOD ago): it ended, how is no longer known.
const FORGOTTEN_EXIT_CODE: i32 = -1;

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
enum LimitUnit {
    KB,
    #[default]
    MB,
    GB,
}

impl LimitUnit {
    fn of_megabytes(self, mb: u64) -> u64 {
        match self {
            LimitUnit::KB => mb * 1024,
            LimitUnit::MB => mb,
            LimitUnit::GB => mb.div_ceil(1024),
        }
    }
}

/// What a resource class (or `defaults`) adds for LSF; its cores, memory,
/// walltime and queue arrive merged in the launch request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClassExtras {
    resource_select: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    bsub_cmd: String,
    bjobs_cmd: String,
    bkill_cmd: String,
    queue: String,
    project: String,
    resource_select: Vec<String>,
    bsub_extra: Vec<String>,
    worker_dfm_path: String,
    lsf_unit_for_limits: LimitUnit,
    command_timeout: f64,
    defaults: ClassExtras,
    resource_classes: BTreeMap<String, ClassExtras>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bsub_cmd: "bsub".into(),
            bjobs_cmd: "bjobs".into(),
            bkill_cmd: "bkill".into(),
            queue: String::new(),
            project: String::new(),
            resource_select: Vec::new(),
            bsub_extra: Vec::new(),
            worker_dfm_path: String::new(),
            lsf_unit_for_limits: LimitUnit::MB,
            command_timeout: 60.0,
            defaults: ClassExtras::default(),
            resource_classes: BTreeMap::new(),
        }
    }
}

impl Config {
    fn parse(json: &str) -> Result<Config, String> {
        let config: Config = serde_json::from_str(json).map_err(|e| format!("runner.lsf: {e}"))?;
        if !(config.command_timeout > 0.0 && config.command_timeout.is_finite()) {
            return Err("runner.lsf.command_timeout must be a positive number of seconds".into());
        }
        Ok(config)
    }

    fn select_terms(&self, class: &str) -> Vec<String> {
        let own = self
            .resource_classes
            .get(class)
            .and_then(|c| c.resource_select.as_ref())
            .or(self.defaults.resource_select.as_ref());
        self.resource_select
            .iter()
            .chain(own.into_iter().flatten())
            .cloned()
            .collect()
    }

    /// The arguments of `bsub` for one worker job.
    fn bsub_args(&self, request: &LaunchRequest) -> Result<Vec<String>, String> {
        let resources = request.resources();
        let mut args = vec!["-J".to_string(), request.job_name().to_string()];
        let queue = if resources.queue().is_empty() {
            self.queue.as_str()
        } else {
            resources.queue()
        };
        if !queue.is_empty() {
            args.extend(["-q".into(), queue.into()]);
        }
        if !self.project.is_empty() {
            args.extend(["-P".into(), self.project.clone()]);
        }
        if resources.cores() > 0 {
            args.extend(["-n".into(), resources.cores().to_string()]);
        }
        if !resources.memory().is_empty() {
            let limit = self
                .lsf_unit_for_limits
                .of_megabytes(memory_mb(resources.memory())?);
            args.extend([
                "-M".into(),
                limit.to_string(),
                "-R".into(),
                format!("rusage[mem={limit}]"),
            ]);
        }
        let select = self.select_terms(resources.resource_class());
        if !select.is_empty() {
            args.extend(["-R".into(), format!("select[{}]", select.join(" && "))]);
        }
        if !resources.walltime().is_empty() {
            let minutes = walltime_minutes(resources.walltime())?;
            args.extend(["-W".into(), format!("{}:{:02}", minutes / 60, minutes % 60)]);
        }
        let log = request.log_path().to_string();
        args.extend(["-oo".into(), log.clone(), "-eo".into(), log]);
        args.extend(self.bsub_extra.iter().cloned());
        args.push("--".into());
        let program = request
            .program()
            .ok_or("launch request has an empty command line")?;
        args.push(if self.worker_dfm_path.is_empty() {
            program.to_string()
        } else {
            self.worker_dfm_path.clone()
        });
        args.extend(request.args().map(str::to_string));
        Ok(args)
    }
}

/// The job id in bsub's output: `Job <12345> is submitted to [default]
/// queue <normal>.`, wherever it is among a site wrapper's lines.
fn parse_submitted(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let (id, rest) = line.trim().strip_prefix("Job <")?.split_once('>')?;
        let is_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        (is_id && rest.starts_with(" is submitted to")).then(|| id.to_string())
    })
}

/// The state of an LSF job status (`bjobs -o stat`).
fn lsf_state(stat: &str) -> JobState {
    match stat {
        "PEND" | "PSUSP" | "USUSP" | "SSUSP" | "WAIT" => JobState::Pending,
        "RUN" => JobState::Running,
        "DONE" | "POST_DONE" => JobState::Exited(0),
        "EXIT" | "ZOMBI" | "POST_ERR" => JobState::Exited(1),
        // UNKWN: mbatchd lost the host for now; anything newer, likewise
        // not a reason to give up on the worker.
        _ => JobState::Unknown,
    }
}

/// `N` from `Job <N> is not found`.
fn not_found_id(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix("Job <")?
        .strip_suffix("> is not found")
}

/// The states of `ids` from one `bjobs -o "jobid stat" -noheader IDS...`.
fn parse_bjobs(ids: &[&str], output: &CommandOutput) -> Result<Vec<JobState>, String> {
    let mut known: BTreeMap<&str, JobState> = BTreeMap::new();
    for line in output.stdout.lines() {
        let mut fields = line.split_whitespace();
        if let (Some(id), Some(stat)) = (fields.next(), fields.next()) {
            known.insert(id, lsf_state(stat));
        }
    }
    for line in output.stderr.lines() {
        if let Some(id) = not_found_id(line) {
            known.insert(id, JobState::Exited(FORGOTTEN_EXIT_CODE));
        }
    }
    ids.iter()
        .map(|id| match known.get(id) {
            Some(state) => Ok(*state),
            // bjobs answered for the others, so this one is gone.
            None if output.success() => Ok(JobState::Exited(FORGOTTEN_EXIT_CODE)),
            None => Err(output.failure()),
        })
        .collect()
}

/// Whether `bkill`'s answer means the job is stopped or stopping.
fn killed_or_gone(output: &CommandOutput) -> bool {
    let said = format!("{}\n{}", output.stdout, output.stderr);
    output.success()
        || said.contains("is being terminated")
        || said.contains("No matching job found")
        || said.contains("Job has already finished")
}

struct LsfRunner {
    config: Config,
}

impl RunnerPlugin for LsfRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let args = self.config.bsub_args(request)?;
        let output = command::run(
            &self.config.bsub_cmd,
            &args,
            request.env_pairs(),
            self.config.command_timeout,
        )?;
        if !output.success() {
            return Err(output.failure());
        }
        let job_id = parse_submitted(&output.stdout).ok_or_else(|| {
            format!(
                "{} printed no 'Job <N> is submitted' line: {}",
                self.config.bsub_cmd,
                output.failure()
            )
        })?;
        Ok(JobHandle::new(&job_id))
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
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = jobs.iter().map(|job| job.job_id()).collect();
        let mut args = vec!["-o".to_string(), "jobid stat".into(), "-noheader".into()];
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

#[cfg(test)]
mod tests {
    use super::*;
    use dfm_plugin_api::Resources;

    fn request(
        class: &str,
        cores: u32,
        memory: &str,
        walltime: &str,
        queue: &str,
    ) -> LaunchRequest {
        LaunchRequest::new(
            "dfm-worker-ab12",
            &["/opt/dfm/bin/dfm", "worker", "--connect", "head:4000"],
            &[("DFM_WORKER_TOKEN", "s3cret")],
            Resources::new(cores, memory, walltime, queue, class),
            "/p/.dfm/workers/worker_ab12.log",
        )
    }

    fn output(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            program: "bjobs".into(),
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn bsub_line_with_everything() {
        let config = Config::parse(
            r#"{"queue": "normal", "project": "chip", "resource_select": ["type==X86_64"],
                "bsub_extra": ["-G", "grp"], "worker_dfm_path": "/tools/dfm",
                "resource_classes": {"large": {"cores": 8, "resource_select": ["mem>32000"]}}}"#,
        )
        .expect("config");
        let args = config
            .bsub_args(&request("large", 8, "32G", "1:30", "big"))
            .expect("args");
        assert_eq!(
            args.join(" "),
            "-J dfm-worker-ab12 -q big -P chip -n 8 -M 32768 -R rusage[mem=32768] \
             -R select[type==X86_64 && mem>32000] -W 1:30 \
             -oo /p/.dfm/workers/worker_ab12.log -eo /p/.dfm/workers/worker_ab12.log \
             -G grp -- /tools/dfm worker --connect head:4000"
        );
        assert!(!args.iter().any(|a| a.contains("s3cret")));
    }

    #[test]
    fn bsub_line_minimal_and_units() {
        let config = Config::parse("{}").expect("config");
        let args = config.bsub_args(&request("", 0, "", "", "")).expect("args");
        assert_eq!(
            args.join(" "),
            "-J dfm-worker-ab12 -oo /p/.dfm/workers/worker_ab12.log \
             -eo /p/.dfm/workers/worker_ab12.log -- /opt/dfm/bin/dfm worker --connect head:4000"
        );
        let kb = Config::parse(r#"{"lsf_unit_for_limits": "KB", "queue": "q"}"#).expect("config");
        let args = kb
            .bsub_args(&request("", 1, "512M", "45", ""))
            .expect("args");
        let line = args.join(" ");
        assert!(
            line.contains("-q q -n 1 -M 524288 -R rusage[mem=524288] -W 0:45"),
            "{line}"
        );
        let error = config
            .bsub_args(&request("", 1, "many", "", ""))
            .expect_err("bad memory");
        assert!(error.contains("'many'"), "{error}");
    }

    #[test]
    fn config_mistakes_are_named() {
        let error = Config::parse(r#"{"bsub_cmnd": "x"}"#).expect_err("typo");
        assert!(error.contains("unknown field `bsub_cmnd`"), "{error}");
        assert!(Config::parse(r#"{"lsf_unit_for_limits": "PB"}"#).is_err());
    }

    #[test]
    fn job_ids_from_bsub_output() {
        assert_eq!(
            parse_submitted("Job <12345> is submitted to queue <normal>.\n"),
            Some("12345".into())
        );
        assert_eq!(
            parse_submitted("Job <7> is submitted to default queue <normal>.\n"),
            Some("7".into())
        );
        assert_eq!(
            parse_submitted(
                "lsf_bsub: site wrapper v2, project checks OK\nJob <99> is submitted to queue <short>.\n<<Waiting for dispatch ...>>\n"
            ),
            Some("99".into())
        );
        assert_eq!(
            parse_submitted("Job <abc> is submitted to queue <q>."),
            None
        );
        assert_eq!(
            parse_submitted("Queue does not exist. Job not submitted."),
            None
        );
        assert_eq!(parse_submitted(""), None);
    }

    #[test]
    fn lsf_states() {
        for stat in ["PEND", "PSUSP", "USUSP", "SSUSP", "WAIT"] {
            assert_eq!(lsf_state(stat), JobState::Pending, "{stat}");
        }
        assert_eq!(lsf_state("RUN"), JobState::Running);
        assert_eq!(lsf_state("DONE"), JobState::Exited(0));
        assert_eq!(lsf_state("POST_DONE"), JobState::Exited(0));
        for stat in ["EXIT", "ZOMBI", "POST_ERR"] {
            assert!(
                matches!(lsf_state(stat), JobState::Exited(c) if c != 0),
                "{stat}"
            );
        }
        assert_eq!(lsf_state("UNKWN"), JobState::Unknown);
    }

    #[test]
    fn bjobs_answers_in_the_order_asked() {
        let ids = ["3", "1", "2", "4"];
        let out = output(0, "1 RUN\n2 PEND\n3 UNKWN\n", "Job <4> is not found\n");
        assert_eq!(
            parse_bjobs(&ids, &out),
            Ok(vec![
                JobState::Unknown,
                JobState::Running,
                JobState::Pending,
                JobState::Exited(FORGOTTEN_EXIT_CODE)
            ])
        );
        let none = output(255, "", "Job <1> is not found\nJob <2> is not found\n");
        assert_eq!(
            parse_bjobs(&["1", "2"], &none),
            Ok(vec![JobState::Exited(FORGOTTEN_EXIT_CODE); 2])
        );
        let down = output(255, "", "LSF is down. Please wait ...\n");
        let error = parse_bjobs(&["1"], &down).expect_err("no answer");
        assert!(error.contains("LSF is down"), "{error}");
        let missing = output(0, "1 DONE\n", "");
        assert_eq!(
            parse_bjobs(&["1", "2"], &missing),
            Ok(vec![
                JobState::Exited(0),
                JobState::Exited(FORGOTTEN_EXIT_CODE)
            ])
        );
    }

    #[test]
    fn bkill_answers() {
        assert!(killed_or_gone(&output(
            0,
            "Job <1> is being terminated\n",
            ""
        )));
        assert!(killed_or_gone(&output(
            255,
            "",
            "Job <1>: No matching job found\n"
        )));
        assert!(killed_or_gone(&output(
            255,
            "",
            "Job <1>: Job has already finished\n"
        )));
        assert!(!killed_or_gone(&output(
            255,
            "",
            "User permission denied\n"
        )));
    }
}
