//! The merged `runner:` section, and what the daemon and plugins read
//! from it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::licenses::LicenseSpec;

use super::pool::PoolSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid YAML: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// The merged `runner:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerConfig {
    /// The runner plugin to use: a name or a path to a `.so`.
    pub runner: String,
    pub pool: PoolSettings,
    pub defaults: ResourceSpec,
    pub resource_classes: BTreeMap<String, ResourceSpec>,
    /// `runner.worker_bind`: the address the worker port listens on.
    worker_bind: Option<String>,
    /// `runner.worker_host`: the host name workers are told to connect to.
    worker_host: Option<String>,
    /// `runner.python`: the Python the original dv-flow-mgr's tasks run
    /// with on the workers (default: `python3` in each task's `PATH`), and
    /// that `dfm run` hands flows dfm does not run itself to.
    pub python: Option<String>,
    /// `runner.seal_local_socket`: seal the traffic of workers on the
    /// daemon's machine too (the TCP port's always is).
    pub seal_local_socket: bool,
    /// `runner.worker_socket`: workers on the daemon's machine use the
    /// worker socket (default); `false`: the TCP port, as all others.
    pub worker_socket: bool,
    /// `runner.licenses`: the licenses dfm schedules.
    pub licenses: BTreeMap<String, LicenseSpec>,
    /// `runner.licenses.retry_exit_codes`.
    pub license_retry_exit_codes: Vec<i32>,
    /// What each class's tasks hold while they run.
    class_licenses: BTreeMap<String, crate::pool::Needs>,
    /// `runner.metrics_listen`: the address (`127.0.0.1:9464`) where the
    /// daemon serves `GET /metrics`; `None`, the default: no metrics.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The whole merged section, for the plugin's own keys.
    pub(super) raw: Map<String, Value>,
}

impl RunnerConfig {
    pub(super) fn from_merged(
        raw: Map<String, Value>,
        origin: &str,
    ) -> Result<RunnerConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let section = |key: &str| raw.get(key).cloned().unwrap_or(Value::Object(Map::new()));
        let runner = match raw.get("default") {
            None => "local".to_string(),
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            Some(other) => {
                return Err(invalid(format!(
                    "runner.default must be a runner name, not {other}"
                )))
            }
        };
        let pool: PoolSettings = serde_json::from_value(section("pool"))
            .map_err(|e| invalid(format!("runner.pool: {e}")))?;
        pool.validate().map_err(invalid)?;
        let defaults: ResourceSpec = serde_json::from_value(section("defaults"))
            .map_err(|e| invalid(format!("runner.defaults: {e}")))?;
        let resource_classes: BTreeMap<String, ResourceSpec> =
            serde_json::from_value(section("resource_classes"))
                .map_err(|e| invalid(format!("runner.resource_classes: {e}")))?;
        let python = match raw.get("python") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) if !path.trim().is_empty() => Some(path.trim().to_string()),
            Some(other) => {
                return Err(invalid(format!(
                    "runner.python must be the path or name of a Python interpreter, not {other}"
                )))
            }
        };
        let address = |key: &str| match raw.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => {
                Ok(Some(text.trim().to_string()))
            }
            Some(other) => Err(invalid(format!(
                "runner.{key} must be a host name or address, not {other}"
            ))),
        };
        let flag = |key: &str, default: bool| match raw.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(value)) => Ok(*value),
            Some(other) => Err(invalid(format!(
                "runner.{key} must be true or false, not {other}"
            ))),
        };
        let parsed = super::licenses::parse(raw.get("licenses")).map_err(invalid)?;
        let (licenses, license_retry_exit_codes) = (parsed.by_name, parsed.retry_exit_codes);
        let scope = |spec: &ResourceSpec| -> Result<bool, ConfigError> {
            match spec.license_scope.as_deref().or(defaults.license_scope.as_deref()) {
                None | Some("task") => Ok(false),
                Some("worker") => Ok(true),
                Some(other) => Err(invalid(format!(
                    "license_scope is task (dfm counts the tokens) or worker (the scheduler does), not {other}"
                ))),
            }
        };
        let no_licenses = BTreeMap::new();
        let mut by_scheduler = Vec::new();
        let mut counted = Vec::new();
        for (name, spec) in &resource_classes {
            if scope(spec)? {
                by_scheduler.push(name.clone());
            } else {
                counted.push((name.as_str(), &spec.licenses));
            }
        }
        let default_licenses = if scope(&defaults)? {
            &no_licenses
        } else {
            &defaults.licenses
        };
        let mut class_licenses =
            super::licenses::class_needs(&licenses, default_licenses, counted.into_iter())
                .map_err(invalid)?;
        // The scheduler's, for its workers: dfm neither counts nor checks them.
        for name in by_scheduler {
            class_licenses.insert(name, Vec::new());
        }
        let seal_local_socket = flag("seal_local_socket", false)?;
        let worker_socket = flag("worker_socket", true)?;
        let metrics_listen = match address("metrics_listen")? {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                invalid(format!(
                    "runner.metrics_listen must be an address and port, like 127.0.0.1:9464, not {text}"
                ))
            })?),
        };
        Ok(RunnerConfig {
            runner,
            pool,
            defaults,
            resource_classes,
            worker_bind: address("worker_bind")?,
            worker_host: address("worker_host")?,
            python,
            seal_local_socket,
            worker_socket,
            licenses,
            license_retry_exit_codes,
            class_licenses,
            metrics_listen,
            raw,
        })
    }

    /// The pool's settings, licenses included.
    pub fn pool_config(&self) -> crate::pool::PoolConfig {
        let mut config = self.pool.pool_config();
        config.licenses.counts = self
            .licenses
            .iter()
            .map(|(name, spec)| (name.clone(), spec.count))
            .collect();
        config.licenses.classes = self.class_licenses.clone();
        config.licenses.retry_exit_codes = self.license_retry_exit_codes.clone();
        config.licenses.queried = self
            .licenses
            .iter()
            .filter(|(_, spec)| spec.query.is_some())
            .map(|(name, _)| name.clone())
            .collect();
        config
    }

    /// The runner's short name (`local` for `/x/libdfm_runner_local.so`).
    pub fn runner_name(&self) -> &str {
        crate::plugin::runner_name(&self.runner)
    }

    /// Workers of the `local` runner run on this machine; any other
    /// runner's run on compute nodes that must reach the worker port.
    fn is_local(&self) -> bool {
        self.runner_name() == "local"
    }

    /// The address the worker port listens on: `runner.worker_bind`, else
    /// loopback for `local` and all interfaces for cluster runners.
    pub fn worker_bind(&self) -> String {
        self.worker_bind.clone().unwrap_or_else(|| {
            if self.is_local() {
                "127.0.0.1"
            } else {
                "0.0.0.0"
            }
            .to_string()
        })
    }

    /// The host workers connect to: `runner.worker_host`, else 127.0.0.1
    /// for `local` and this machine's host name for cluster runners.
    pub fn worker_host(&self) -> String {
        self.worker_host.clone().unwrap_or_else(|| {
            if self.is_local() {
                "127.0.0.1".to_string()
            } else {
                crate::procfs::hostname()
            }
        })
    }

    /// The JSON handed to the plugin: its own section (`runner.<name>`),
    /// with `defaults` and `resource_classes` alongside.
    pub fn plugin_config_json(&self) -> String {
        let mut config = match self.raw.get(self.runner_name()) {
            Some(Value::Object(own)) => own.clone(),
            _ => Map::new(),
        };
        for key in ["defaults", "resource_classes"] {
            if let Some(value) = self.raw.get(key) {
                config.entry(key).or_insert_with(|| value.clone());
            }
        }
        Value::Object(config).to_string()
    }

    /// The licenses the scheduler holds for each worker job of `class`
    /// (`license_scope: worker`, the class's or `defaults`'), as the
    /// runner plugins read them: dfm neither counts nor checks them.
    pub fn licenses_held_by_scheduler(&self, class: &str) -> Vec<&str> {
        let own = self.resource_classes.get(class);
        let scope = own
            .and_then(|spec| spec.license_scope.as_deref())
            .or(self.defaults.license_scope.as_deref());
        if scope != Some("worker") {
            return Vec::new();
        }
        let licenses = own
            .map(|spec| &spec.licenses)
            .filter(|licenses| !licenses.is_empty())
            .unwrap_or(&self.defaults.licenses);
        licenses.keys().map(String::as_str).collect()
    }

    /// Whether any class has licenses the scheduler holds per worker (a
    /// status looks for them in each of 10,000 workers only then).
    pub fn any_license_held_by_scheduler(&self) -> bool {
        let per_worker = |spec: &ResourceSpec| spec.license_scope.as_deref() == Some("worker");
        per_worker(&self.defaults) || self.resource_classes.values().any(per_worker)
    }

    /// The resources of a worker for `class`: `defaults` overlaid with the
    /// class's own.
    pub fn resources_for(&self, class: &str) -> ResourceSpec {
        let mut spec = self.defaults.clone();
        if let Some(own) = self.resource_classes.get(class) {
            spec.cores = own.cores.or(spec.cores);
            spec.memory = own.memory.clone().or(spec.memory);
            spec.walltime = own.walltime.clone().or(spec.walltime);
            spec.queue = own.queue.clone().or(spec.queue);
            spec.extra.extend(own.extra.clone());
        }
        spec
    }
}

/// Resources of a worker job (`defaults`, or one of `resource_classes`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ResourceSpec {
    pub cores: Option<u32>,
    pub memory: Option<String>,
    pub walltime: Option<String>,
    pub queue: Option<String>,
    /// The licenses each task of the class holds while it runs...
    pub licenses: BTreeMap<String, u32>,
    /// ...or, with `worker`, each of its worker jobs, asked of the
    /// scheduler (LSF `rusage[]`, SLURM `-L`): dfm does not count them.
    pub license_scope: Option<String>,
    /// Anything else (e.g. `resource_select`) is for the plugin.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}
