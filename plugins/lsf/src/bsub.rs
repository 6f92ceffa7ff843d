//! `bsub`: the configuration, the command line of a worker job (or a job
//! array of them), and the job id it answers with.

use std::collections::BTreeMap;

use dfm_plugin_api::batch::worker_program;
use dfm_plugin_api::units::{memory_mb, walltime_minutes};
use dfm_plugin_api::{LaunchRequest, ARRAY_INDEX_PLACEHOLDER};
use serde::Deserialize;

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
    /// With `license_scope: worker`, asked of LSF for each worker job.
    licenses: Option<BTreeMap<String, u32>>,
    license_scope: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub bsub_cmd: String,
    pub bjobs_cmd: String,
    pub bkill_cmd: String,
    queue: String,
    project: String,
    resource_select: Vec<String>,
    bsub_extra: Vec<String>,
    worker_dfm_path: String,
    lsf_unit_for_limits: LimitUnit,
    pub command_timeout: f64,
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
    pub fn parse(json: &str) -> Result<Config, String> {
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

    /// The licenses LSF holds for each worker job of `class`
    /// (`license_scope: worker`): `rusage[name=n:...]`, or `None`.
    fn worker_licenses(&self, class: &str) -> Option<String> {
        let own = self.resource_classes.get(class);
        let scope = own
            .and_then(|c| c.license_scope.as_deref())
            .or(self.defaults.license_scope.as_deref());
        let licenses = own
            .and_then(|c| c.licenses.as_ref())
            .or(self.defaults.licenses.as_ref())
            .filter(|l| scope == Some("worker") && !l.is_empty())?;
        let terms: Vec<String> = licenses.iter().map(|(l, n)| format!("{l}={n}")).collect();
        Some(format!("rusage[{}]", terms.join(":")))
    }

    /// The arguments of `bsub` for one worker job, or (`array`) a job
    /// array of that many: `-J "name[1-N]"`.
    pub fn bsub_args(
        &self,
        request: &LaunchRequest,
        array: Option<u32>,
    ) -> Result<Vec<String>, String> {
        let resources = request.resources();
        let name = match array {
            Some(count) => format!("{}[1-{count}]", request.job_name()),
            None => request.job_name().to_string(),
        };
        let mut args = vec!["-J".to_string(), name];
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
        if let Some(licenses) = self.worker_licenses(resources.resource_class()) {
            args.extend(["-R".into(), licenses]);
        }
        if !resources.walltime().is_empty() {
            let minutes = walltime_minutes(resources.walltime())?;
            args.extend(["-W".into(), format!("{}:{:02}", minutes / 60, minutes % 60)]);
        }
        // An array element's log: its index (`%I`) where the request says.
        let log = request.log_path().replace(ARRAY_INDEX_PLACEHOLDER, "%I");
        args.extend(["-oo".into(), log.clone(), "-eo".into(), log]);
        args.extend(self.bsub_extra.iter().cloned());
        args.push("--".into());
        args.push(worker_program(request, &self.worker_dfm_path)?.to_string());
        args.extend(request.args().map(str::to_string));
        Ok(args)
    }
}

/// The job id in bsub's output: `Job <12345> is submitted to [default]
/// queue <normal>.`, wherever it is among a site wrapper's lines.
pub fn parse_submitted(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let (id, rest) = line.trim().strip_prefix("Job <")?.split_once('>')?;
        let is_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        (is_id && rest.starts_with(" is submitted to")).then(|| id.to_string())
    })
}

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

    #[test]
    fn licenses_lsf_holds_for_each_worker_are_asked_with_rusage() {
        let config = Config::parse(
            r#"{"defaults": {"licenses": {"vcs": 1}},
                "resource_classes": {
                "seat": {"licenses": {"sim_seat": 1, "wave": 2}, "license_scope": "worker"}}}"#,
        )
        .expect("config");
        let args = |class: &str| {
            config
                .bsub_args(&request(class, 0, "", "", ""), None)
                .expect("args")
                .join(" ")
        };
        assert!(
            args("seat").contains(" -R rusage[sim_seat=1:wave=2] "),
            "{}",
            args("seat")
        );
        // dfm counts the defaults' (task scope): LSF is not asked.
        assert!(!args("").contains("rusage[vcs"), "{}", args(""));
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
            .bsub_args(&request("large", 8, "32G", "1:30", "big"), None)
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
        let args = config
            .bsub_args(&request("", 0, "", "", ""), None)
            .expect("args");
        assert_eq!(
            args.join(" "),
            "-J dfm-worker-ab12 -oo /p/.dfm/workers/worker_ab12.log \
             -eo /p/.dfm/workers/worker_ab12.log -- /opt/dfm/bin/dfm worker --connect head:4000"
        );
        let kb = Config::parse(r#"{"lsf_unit_for_limits": "KB", "queue": "q"}"#).expect("config");
        let args = kb
            .bsub_args(&request("", 1, "512M", "45", ""), None)
            .expect("args");
        let line = args.join(" ");
        assert!(
            line.contains("-q q -n 1 -M 524288 -R rusage[mem=524288] -W 0:45"),
            "{line}"
        );
        let error = config
            .bsub_args(&request("", 1, "many", "", ""), None)
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
    fn an_array_is_one_bsub_named_with_its_range_and_each_elements_log() {
        let config = Config::parse("{}").expect("config");
        let request = LaunchRequest::new(
            "dfm-workers-ab12",
            &["/opt/dfm/bin/dfm", "worker", "--connect", "head:4000"],
            &[],
            Resources::default(),
            "/p/.dfm/workers/workers_ab12.{index}.log",
        );
        let args = config.bsub_args(&request, Some(8)).expect("args");
        assert_eq!(
            args.join(" "),
            "-J dfm-workers-ab12[1-8] -oo /p/.dfm/workers/workers_ab12.%I.log \
             -eo /p/.dfm/workers/workers_ab12.%I.log -- /opt/dfm/bin/dfm worker --connect head:4000"
        );
    }
}
