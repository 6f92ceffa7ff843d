//! `qsub`: the configuration, the command line of a worker job (or a job
//! array of them), and the job id it answers with.

use std::collections::BTreeMap;

use dfm_plugin_api::batch::{last_job_id, worker_program};
use dfm_plugin_api::units::{memory_mb, walltime_seconds};
use dfm_plugin_api::{LaunchRequest, ARRAY_INDEX_PLACEHOLDER};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub qsub_cmd: String,
    pub qstat_cmd: String,
    pub qdel_cmd: String,
    pub qacct_cmd: String,
    queue: String,
    project: String,
    /// The parallel environment cores are asked in (`-pe PE N`); none:
    /// cores are not asked for.
    parallel_environment: String,
    qsub_extra: Vec<String>,
    worker_dfm_path: String,
    pub command_timeout: f64,
    /// Cores, memory, walltime and queue of these arrive merged in the
    /// launch request; their licenses with `license_scope: worker` are
    /// Grid Engine's consumables (`-l name=n`).
    defaults: serde_json::Value,
    resource_classes: serde_json::Value,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            qsub_cmd: "qsub".into(),
            qstat_cmd: "qstat".into(),
            qdel_cmd: "qdel".into(),
            qacct_cmd: "qacct".into(),
            queue: String::new(),
            project: String::new(),
            parallel_environment: String::new(),
            qsub_extra: Vec::new(),
            worker_dfm_path: String::new(),
            command_timeout: 60.0,
            defaults: serde_json::Value::Null,
            resource_classes: serde_json::Value::Null,
        }
    }
}

/// `H:MM:SS`, as `h_rt` takes a time.
fn hms(seconds: u64) -> String {
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

impl Config {
    pub fn parse(json: &str) -> Result<Config, String> {
        let config: Config = serde_json::from_str(json).map_err(|e| format!("runner.sge: {e}"))?;
        if !(config.command_timeout > 0.0 && config.command_timeout.is_finite()) {
            return Err("runner.sge.command_timeout must be a positive number of seconds".into());
        }
        Ok(config)
    }

    /// The consumables Grid Engine holds for each worker job of `class`
    /// (`license_scope: worker`): `-l`'s values.
    fn worker_licenses(&self, class: &str) -> Vec<String> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Licensed {
            licenses: Option<BTreeMap<String, u32>>,
            license_scope: Option<String>,
        }
        let read = |v: &serde_json::Value| -> Licensed {
            serde_json::from_value(v.clone()).unwrap_or_default()
        };
        let own = read(&self.resource_classes[class]);
        let defaults = read(&self.defaults);
        let scope = own.license_scope.or(defaults.license_scope);
        own.licenses
            .or(defaults.licenses)
            .filter(|_| scope.as_deref() == Some("worker"))
            .unwrap_or_default()
            .iter()
            .map(|(name, n)| format!("{name}={n}"))
            .collect()
    }

    /// The arguments of `qsub` for one worker job, or (`array`) a job
    /// array of that many. The worker's secret and ids are passed by name
    /// (`-v NAME`: qsub copies its own environment's value), never by
    /// value on the command line, which `qstat -j` shows everyone.
    pub fn qsub_args(
        &self,
        request: &LaunchRequest,
        array: Option<u32>,
    ) -> Result<Vec<String>, String> {
        let resources = request.resources();
        let mut args = vec![
            "-terse".to_string(),
            "-b".into(),
            "y".into(),
            "-N".into(),
            request.job_name().to_string(),
        ];
        if let Some(count) = array {
            args.extend(["-t".into(), format!("1-{count}")]);
        }
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
        if resources.cores() > 0 && !self.parallel_environment.is_empty() {
            args.extend([
                "-pe".into(),
                self.parallel_environment.clone(),
                resources.cores().to_string(),
            ]);
        }
        if !resources.memory().is_empty() {
            args.extend([
                "-l".into(),
                format!("h_vmem={}M", memory_mb(resources.memory())?),
            ]);
        }
        if !resources.walltime().is_empty() {
            args.extend([
                "-l".into(),
                format!("h_rt={}", hms(walltime_seconds(resources.walltime())?)),
            ]);
        }
        for license in self.worker_licenses(resources.resource_class()) {
            args.extend(["-l".into(), license]);
        }
        // An array element's log: its index where the request says.
        let log = request
            .log_path()
            .replace(ARRAY_INDEX_PLACEHOLDER, "$TASK_ID");
        args.extend(["-o".into(), log, "-j".into(), "y".into()]);
        for (name, _) in request.env_pairs() {
            args.extend(["-v".into(), name.to_string()]);
        }
        args.extend(self.qsub_extra.iter().cloned());
        let program = worker_program(request, &self.worker_dfm_path)?;
        // `-b y`: the command is run as it is, no script; qsub takes no
        // `--`, and the worker's path never starts with `-`.
        args.push(program.to_string());
        args.extend(request.args().map(str::to_string));
        Ok(args)
    }
}

/// The job id in `qsub -terse` output: `42`, or `42.1-8:1` for an array
/// (its id is `42`), on the last such line (a site wrapper may print more).
pub fn parse_submitted(stdout: &str) -> Option<String> {
    last_job_id(stdout, '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfm_plugin_api::Resources;

    fn request(
        cores: u32,
        memory: &str,
        walltime: &str,
        queue: &str,
        class: &str,
    ) -> LaunchRequest {
        LaunchRequest::new(
            "dfm-worker-ab12",
            &["/opt/dfm/dfm", "worker", "--connect", "head:4000"],
            &[("DFM_WORKER_TOKEN", "s3cret"), ("DFM_WORKER_ID", "ab12")],
            Resources::new(cores, memory, walltime, queue, class),
            "/p/.dfm/workers/worker_ab12.log",
        )
    }

    #[test]
    fn qsub_line_with_everything() {
        let config = Config::parse(
            r#"{"queue": "batch.q", "project": "chip", "parallel_environment": "smp",
                "qsub_extra": ["-p", "-10"], "worker_dfm_path": "/tools/dfm",
                "resource_classes": {"seat": {"licenses": {"sim_seat": 1}, "license_scope": "worker"}}}"#,
        )
        .expect("config");
        let args = config
            .qsub_args(&request(8, "1.5G", "1:30", "big.q", "seat"), None)
            .expect("args");
        assert_eq!(
            args.join(" "),
            "-terse -b y -N dfm-worker-ab12 -q big.q -P chip -pe smp 8 -l h_vmem=1536M \
             -l h_rt=1:30:00 -l sim_seat=1 -o /p/.dfm/workers/worker_ab12.log -j y \
             -v DFM_WORKER_TOKEN -v DFM_WORKER_ID -p -10 /tools/dfm worker --connect head:4000"
        );
        assert!(
            !args.iter().any(|a| a.contains("s3cret")),
            "the secret by name only"
        );
    }

    #[test]
    fn qsub_line_minimal_and_mistakes() {
        let config = Config::parse("{}").expect("config");
        let args = config
            .qsub_args(&request(2, "", "", "", ""), None)
            .expect("args");
        assert_eq!(
            args.join(" "),
            "-terse -b y -N dfm-worker-ab12 -o /p/.dfm/workers/worker_ab12.log -j y \
             -v DFM_WORKER_TOKEN -v DFM_WORKER_ID /opt/dfm/dfm worker --connect head:4000"
        );
        let error = config
            .qsub_args(&request(1, "", "soon", "", ""), None)
            .expect_err("bad walltime");
        assert!(error.contains("'soon'"), "{error}");
        let typo = Config::parse(r#"{"queu": "x"}"#).expect_err("typo");
        assert!(typo.contains("unknown field `queu`"), "{typo}");
    }

    #[test]
    fn an_array_is_one_qsub_with_each_elements_log() {
        let config = Config::parse("{}").expect("config");
        let request = LaunchRequest::new(
            "dfm-workers-ab12",
            &["/opt/dfm/dfm", "worker"],
            &[],
            Resources::default(),
            "/p/.dfm/workers/workers_ab12.{index}.log",
        );
        let line = config.qsub_args(&request, Some(8)).expect("args").join(" ");
        assert!(line.contains("-N dfm-workers-ab12 -t 1-8 "), "{line}");
        assert!(
            line.contains("-o /p/.dfm/workers/workers_ab12.$TASK_ID.log -j y"),
            "{line}"
        );
    }

    #[test]
    fn job_ids_from_qsub_terse() {
        assert_eq!(parse_submitted("42\n"), Some("42".into()));
        assert_eq!(parse_submitted("42.1-8:1\n"), Some("42".into()));
        assert_eq!(parse_submitted("site banner\n77\n"), Some("77".into()));
        assert_eq!(
            parse_submitted("Your job 42 (\"x\") has been submitted\n"),
            None
        );
        assert_eq!(parse_submitted(""), None);
        assert_eq!(hms(61), "0:01:01");
    }
}
