//! The configuration, and `sbatch`: the command line of a worker job (or a
//! job array of them), and the job id it answers with. What a job asks
//! SLURM for (partition, account, cores, memory, walltime, licenses) is
//! said the same way to `srun` (`srun.rs`).

use dfm_plugin_api::batch::{last_job_id, worker_program};
use dfm_plugin_api::units::{memory_mb, walltime_minutes};
use dfm_plugin_api::{LaunchRequest, ARRAY_INDEX_PLACEHOLDER};
use serde::Deserialize;

/// How worker jobs are started.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Launch {
    /// Batch jobs (`sbatch`; several at once as one job array): nothing
    /// of dfm's stays on this host, and SLURM starts them in its next
    /// scheduling pass.
    Sbatch,
    /// An `srun` each, which stays on this host as long as its worker
    /// runs: SLURM allocates it at once when the resources are free.
    Srun,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub launch: Launch,
    pub sbatch_cmd: String,
    pub srun_cmd: String,
    pub squeue_cmd: String,
    pub scancel_cmd: String,
    #[serde(alias = "queue")]
    partition: String,
    account: String,
    sbatch_extra: Vec<String>,
    pub srun_extra: Vec<String>,
    pub worker_dfm_path: String,
    pub command_timeout: f64,
    /// Cores, memory, walltime and queue of these arrive merged in the
    /// launch request; their licenses with `license_scope: worker` are
    /// SLURM's (`-L`).
    defaults: serde_json::Value,
    resource_classes: serde_json::Value,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            launch: Launch::Sbatch,
            sbatch_cmd: "sbatch".into(),
            srun_cmd: "srun".into(),
            squeue_cmd: "squeue".into(),
            scancel_cmd: "scancel".into(),
            partition: String::new(),
            account: String::new(),
            sbatch_extra: Vec::new(),
            srun_extra: Vec::new(),
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
    pub fn parse(json: &str) -> Result<Config, String> {
        let config: Config =
            serde_json::from_str(json).map_err(|e| format!("runner.slurm: {e}"))?;
        if !(config.command_timeout > 0.0 && config.command_timeout.is_finite()) {
            return Err("runner.slurm.command_timeout must be a positive number of seconds".into());
        }
        Ok(config)
    }

    /// The licenses SLURM holds for each worker job of `class`
    /// (`license_scope: worker`): `-L name:n,...`'s value, or `None`.
    fn worker_licenses(&self, class: &str) -> Option<String> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Licensed {
            licenses: Option<std::collections::BTreeMap<String, u32>>,
            license_scope: Option<String>,
        }
        let read = |v: &serde_json::Value| -> Licensed {
            serde_json::from_value(v.clone()).unwrap_or_default()
        };
        let own = read(&self.resource_classes[class]);
        let defaults = read(&self.defaults);
        let scope = own.license_scope.or(defaults.license_scope);
        let licenses = own
            .licenses
            .or(defaults.licenses)
            .filter(|l| scope.as_deref() == Some("worker") && !l.is_empty())?;
        let terms: Vec<String> = licenses.iter().map(|(l, n)| format!("{l}:{n}")).collect();
        Some(terms.join(","))
    }

    /// What a worker job asks SLURM for, as `sbatch` and `srun` both take
    /// it: partition, account, cores, memory, walltime, licenses.
    pub fn resource_options(&self, request: &LaunchRequest) -> Result<Vec<String>, String> {
        let resources = request.resources();
        let mut args = Vec::new();
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
        if let Some(licenses) = self.worker_licenses(resources.resource_class()) {
            args.extend(["-L".into(), licenses]);
        }
        Ok(args)
    }

    /// The arguments of `sbatch` for one worker job, or (`array`) a job
    /// array of that many.
    pub fn sbatch_args(
        &self,
        request: &LaunchRequest,
        array: Option<u32>,
    ) -> Result<Vec<String>, String> {
        let mut args = vec![
            "--parsable".to_string(),
            "--export=ALL".into(),
            "-J".into(),
            request.job_name().to_string(),
        ];
        if let Some(count) = array {
            args.push(format!("--array=1-{count}"));
        }
        args.extend(self.resource_options(request)?);
        // An array element's log: its index where the request says.
        let log = request.log_path().replace(ARRAY_INDEX_PLACEHOLDER, "%a");
        args.extend(["-o".into(), log.clone(), "-e".into(), log]);
        args.extend(self.sbatch_extra.iter().cloned());
        let program = worker_program(request, &self.worker_dfm_path)?;
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
pub fn parse_submitted(stdout: &str) -> Option<String> {
    last_job_id(stdout, ';')
}

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

    #[test]
    fn sbatch_line_with_everything() {
        let config = Config::parse(
            r#"{"queue": "batch", "account": "chip", "sbatch_extra": ["--qos", "high"],
                "worker_dfm_path": "/tools/dfm", "defaults": {"cores": 1},
                "resource_classes": {"large": {"cores": 8}}}"#,
        )
        .expect("config");
        let args = config
            .sbatch_args(&request(8, "1.5G", "1:30", "big"), None)
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
        let args = config
            .sbatch_args(&request(0, "", "", ""), None)
            .expect("args");
        assert_eq!(
            args.join(" "),
            "--parsable --export=ALL -J dfm-worker-ab12 -p debug \
             -o /p/.dfm/workers/worker_ab12.log -e /p/.dfm/workers/worker_ab12.log \
             --wrap exec '/opt/my dfm/dfm' worker --connect head:4000 --resource-class 'it'\\''s'"
        );
        let error = config
            .sbatch_args(&request(1, "", "soon", ""), None)
            .expect_err("bad walltime");
        assert!(error.contains("'soon'"), "{error}");
        let typo = Config::parse(r#"{"partiton": "x"}"#).expect_err("typo");
        assert!(typo.contains("unknown field `partiton`"), "{typo}");
    }

    #[test]
    fn licenses_slurm_holds_for_each_worker_are_asked_with_dash_l() {
        let config = Config::parse(
            r#"{"resource_classes": {
                "seat": {"licenses": {"sim_seat": 1, "wave": 2}, "license_scope": "worker"},
                "counted": {"licenses": {"vcs": 1}}}}"#,
        )
        .expect("config");
        let for_class = |class: &str| {
            let mut request = request(0, "", "", "");
            request = LaunchRequest::new(
                request.job_name(),
                &["dfm", "worker"],
                &[],
                Resources::new(0, "", "", "", class),
                "/log",
            );
            config.sbatch_args(&request, None).expect("args").join(" ")
        };
        assert!(
            for_class("seat").contains(" -L sim_seat:1,wave:2 "),
            "{}",
            for_class("seat")
        );
        // dfm counts these: SLURM is not asked.
        assert!(!for_class("counted").contains(" -L "));
        assert!(!for_class("other").contains(" -L "));
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
    fn an_array_is_one_sbatch_with_each_elements_log() {
        let config = Config::parse("{}").expect("config");
        let request = LaunchRequest::new(
            "dfm-workers-ab12",
            &["/opt/dfm/dfm", "worker", "--connect", "head:4000"],
            &[],
            Resources::default(),
            "/p/.dfm/workers/workers_ab12.{index}.log",
        );
        let args = config.sbatch_args(&request, Some(8)).expect("args");
        let line = args.join(" ");
        assert!(line.contains("-J dfm-workers-ab12 --array=1-8 "), "{line}");
        assert!(
            line.contains(
                "-o /p/.dfm/workers/workers_ab12.%a.log -e /p/.dfm/workers/workers_ab12.%a.log"
            ),
            "{line}"
        );
    }
}
