//! Runner configuration: the original's layered YAML (`runner:` key).
//!
//! Layers, each overriding the one before: install
//! (`<exe dir>/../etc/dfm/config.yaml`), site (`~/.config/dfm/site.yaml`),
//! project (`<project>/.dfm/config.yaml`), the `DFM_RUNNER` environment
//! variable, then the command line. Scalars: last writer wins. Lists named
//! in [`ACCUMULATED_LISTS`] are concatenated across layers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use dfm_wire::MAX_PREFETCH;

use crate::pool::PoolConfig;

/// Lists that add up across layers instead of being replaced.
const ACCUMULATED_LISTS: &[&str] = &["resource_select", "bsub_extra", "sbatch_extra"];

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
    /// The whole merged section, for the plugin's own keys.
    raw: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolSettings {
    pub min_workers: usize,
    pub max_workers: usize,
    /// Seconds.
    pub idle_timeout: f64,
    pub launch_batch_size: usize,
    pub launch_timeout: f64,
    pub heartbeat_interval: f64,
    pub heartbeat_timeout: f64,
    pub max_task_attempts: u32,
    pub max_launch_failures: u32,
    /// How often the runner is asked about its jobs, in seconds.
    pub poll_interval: f64,
    /// How many tasks a busy worker is sent ahead while tasks wait.
    pub prefetch: Prefetch,
}

/// `pool.prefetch`: a number of tasks, or `true` (the default number) or
/// `false` (none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prefetch(pub usize);

impl<'de> Deserialize<'de> for Prefetch {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Flag(bool),
            Depth(u64),
        }
        match Given::deserialize(deserializer) {
            Ok(Given::Flag(true)) => Ok(Prefetch(crate::pool::DEFAULT_PREFETCH)),
            Ok(Given::Flag(false)) => Ok(Prefetch(0)),
            Ok(Given::Depth(n)) => Ok(Prefetch(usize::try_from(n).unwrap_or(usize::MAX))),
            Err(_) => Err(serde::de::Error::custom(
                "pool.prefetch is true, false or a number of tasks (0 for none)",
            )),
        }
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            min_workers: 0,
            max_workers: 16,
            idle_timeout: 300.0,
            launch_batch_size: 4,
            launch_timeout: 300.0,
            heartbeat_interval: 10.0,
            heartbeat_timeout: 30.0,
            max_task_attempts: 3,
            max_launch_failures: 3,
            poll_interval: 1.0,
            prefetch: Prefetch(crate::pool::DEFAULT_PREFETCH),
        }
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
    /// Anything else (e.g. `resource_select`) is for the plugin.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl PoolSettings {
    pub fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            max_workers: self.max_workers,
            min_workers: self.min_workers,
            idle_timeout: secs(self.idle_timeout),
            launch_batch_size: self.launch_batch_size,
            launch_timeout: secs(self.launch_timeout),
            heartbeat_timeout: secs(self.heartbeat_timeout),
            max_task_attempts: self.max_task_attempts,
            max_launch_failures: self.max_launch_failures,
            prefetch: self.prefetch.0,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.max_workers == 0 {
            return Err("pool.max_workers (--pool-size) must be at least 1".into());
        }
        if self.min_workers > self.max_workers {
            return Err(format!(
                "pool.min_workers ({}) is larger than pool.max_workers ({})",
                self.min_workers, self.max_workers
            ));
        }
        let times = [
            ("idle_timeout", self.idle_timeout),
            ("launch_timeout", self.launch_timeout),
            ("heartbeat_interval", self.heartbeat_interval),
            ("heartbeat_timeout", self.heartbeat_timeout),
            ("poll_interval", self.poll_interval),
        ];
        for (name, value) in times {
            if !(value > 0.0 && value.is_finite()) {
                return Err(format!(
                    "pool.{name} must be a positive number of seconds, not {value}"
                ));
            }
        }
        if self.prefetch.0 > MAX_PREFETCH {
            return Err(format!(
                "pool.prefetch ({}) may be at most {MAX_PREFETCH}",
                self.prefetch.0
            ));
        }
        if self.heartbeat_timeout <= self.heartbeat_interval {
            return Err(format!(
                "pool.heartbeat_timeout ({}) must be longer than pool.heartbeat_interval ({})",
                self.heartbeat_timeout, self.heartbeat_interval
            ));
        }
        Ok(())
    }
}

pub fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
}

/// Overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    pub runner: Option<String>,
    pub pool_size: Option<usize>,
    /// `--runner-opt KEY=VALUE`: a dotted path under `runner:`
    /// (`pool.max_workers=4`, `lsf.queue=short`); the value is YAML.
    pub options: Vec<(String, String)>,
}

/// Where the configuration layers are read from.
#[derive(Debug, Clone)]
pub struct Layers {
    pub files: Vec<PathBuf>,
    pub env_runner: Option<String>,
}

impl Layers {
    /// The standard layers for a project.
    pub fn for_project(project: &Path) -> Layers {
        let mut files = Vec::new();
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
        {
            files.push(dir.join("../etc/dfm/config.yaml"));
        }
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")));
        if let Some(dir) = config_home {
            files.push(dir.join("dfm/site.yaml"));
        }
        files.push(project.join(".dfm/config.yaml"));
        Layers {
            files,
            env_runner: std::env::var("DFM_RUNNER").ok().filter(|s| !s.is_empty()),
        }
    }

    pub fn load(&self, cli: &CliOverrides) -> Result<RunnerConfig, ConfigError> {
        let mut merged = Map::new();
        for path in &self.files {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: path.clone(),
                        source,
                    })
                }
            };
            let layer = runner_section(&text).map_err(|message| ConfigError::Yaml {
                path: path.clone(),
                message,
            })?;
            merge(&mut merged, layer);
        }
        if let Some(runner) = &self.env_runner {
            merged.insert("default".into(), Value::String(runner.clone()));
        }
        if let Some(runner) = &cli.runner {
            merged.insert("default".into(), Value::String(runner.clone()));
        }
        for (path, text) in &cli.options {
            let value: Value =
                serde_norway::from_str(text).unwrap_or_else(|_| Value::String(text.clone()));
            set_path(&mut merged, path, value).map_err(|message| ConfigError::Invalid {
                origin: format!("--runner-opt {path}={text}"),
                message,
            })?;
        }
        if let Some(size) = cli.pool_size {
            let pool = merged
                .entry("pool")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(pool) = pool {
                pool.insert("max_workers".into(), Value::from(size));
            }
        }
        RunnerConfig::from_merged(merged, &self.origin())
    }

    fn origin(&self) -> String {
        let files: Vec<String> = self.files.iter().map(|p| p.display().to_string()).collect();
        format!("runner configuration (from {})", files.join(", "))
    }
}

/// The `runner:` mapping of one YAML file (empty when it has none).
fn runner_section(text: &str) -> Result<Map<String, Value>, String> {
    let document: Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    match document {
        Value::Null => Ok(Map::new()),
        Value::Object(mut top) => match top.remove("runner") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(mut runner)) => {
                // `type` is the original's synonym for `default`.
                if let Some(kind) = runner.remove("type") {
                    runner.insert("default".into(), kind);
                }
                Ok(runner)
            }
            Some(_) => Err("'runner' must be a mapping".into()),
        },
        _ => Err("the file must be a mapping with a 'runner' key".into()),
    }
}

/// Sets `a.b.c` in `map`, creating mappings on the way.
fn set_path(map: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), String> {
    let (parents, last) = match path.rsplit_once('.') {
        Some((parents, last)) => (parents.split('.').collect::<Vec<_>>(), last),
        None => (Vec::new(), path),
    };
    if last.is_empty() || parents.iter().any(|p| p.is_empty()) {
        return Err("the key must be a dotted path such as pool.max_workers".into());
    }
    let mut node = map;
    for part in parents {
        let entry = node
            .entry(part)
            .or_insert_with(|| Value::Object(Map::new()));
        node = match entry {
            Value::Object(inner) => inner,
            _ => return Err(format!("'{part}' is not a mapping")),
        };
    }
    let key = if path == "type" { "default" } else { last };
    node.insert(key.to_string(), value);
    Ok(())
}

fn merge(into: &mut Map<String, Value>, layer: Map<String, Value>) {
    for (key, value) in layer {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(new)) => merge(existing, new),
            (Some(Value::Array(existing)), Value::Array(new))
                if ACCUMULATED_LISTS.contains(&key.as_str()) =>
            {
                existing.extend(new)
            }
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

impl RunnerConfig {
    fn from_merged(raw: Map<String, Value>, origin: &str) -> Result<RunnerConfig, ConfigError> {
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
        let address = |key: &str| match raw.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => {
                Ok(Some(text.trim().to_string()))
            }
            Some(other) => Err(invalid(format!(
                "runner.{key} must be a host name or address, not {other}"
            ))),
        };
        Ok(RunnerConfig {
            runner,
            pool,
            defaults,
            resource_classes,
            worker_bind: address("worker_bind")?,
            worker_host: address("worker_host")?,
            raw,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        path
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dfm-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn layers_merge_scalars_last_and_accumulate_select_lists() {
        let dir = temp_dir("merge");
        let install = write(
            &dir,
            "install.yaml",
            "runner:\n  default: lsf\n  pool: {max_workers: 8, idle_timeout: 60}\n  lsf: {queue: normal, resource_select: [\"type==X86_64\"]}\n",
        );
        let site = write(
            &dir,
            "site.yaml",
            "runner:\n  pool: {max_workers: 32}\n  lsf: {resource_select: [\"mem>8000\"], bsub_extra: [\"-G\", \"grp\"]}\n  resource_classes:\n    large: {cores: 8, memory: 32G}\n",
        );
        let project = write(
            &dir,
            "project.yaml",
            "runner:\n  type: slurm\n  defaults: {memory: 2G, cores: 1}\n",
        );
        let layers = Layers {
            files: vec![install, site, project, dir.join("missing.yaml")],
            env_runner: None,
        };
        let config = layers.load(&CliOverrides::default()).expect("config");
        assert_eq!(config.runner, "slurm");
        assert_eq!(config.pool.max_workers, 32);
        assert_eq!(config.pool.idle_timeout, 60.0);
        let lsf = config.raw.get("lsf").expect("lsf section");
        assert_eq!(lsf["queue"], "normal");
        assert_eq!(
            lsf["resource_select"],
            serde_json::json!(["type==X86_64", "mem>8000"])
        );
        let large = config.resources_for("large");
        assert_eq!(
            (large.cores, large.memory.as_deref()),
            (Some(8), Some("32G"))
        );
        let default = config.resources_for("");
        assert_eq!(
            (default.cores, default.memory.as_deref()),
            (Some(1), Some("2G"))
        );

        let with_env = Layers {
            env_runner: Some("lsf".into()),
            ..layers.clone()
        };
        assert_eq!(
            with_env
                .load(&CliOverrides::default())
                .expect("config")
                .runner,
            "lsf"
        );
        let cli = CliOverrides {
            runner: Some("local".into()),
            pool_size: Some(3),
            options: vec![
                ("lsf.queue".into(), "short".into()),
                ("pool.idle_timeout".into(), "5".into()),
            ],
        };
        let config = with_env.load(&cli).expect("config");
        assert_eq!(
            (config.runner.as_str(), config.pool.max_workers),
            ("local", 3)
        );
        assert_eq!(config.raw["lsf"]["queue"], "short");
        assert_eq!(config.pool.idle_timeout, 5.0);
        let bad = CliOverrides {
            options: vec![("pool.max_workers".into(), "many".into())],
            ..CliOverrides::default()
        };
        assert!(with_env.load(&bad).is_err());
    }

    #[test]
    fn the_plugin_gets_its_own_section() {
        let dir = temp_dir("plugin");
        let file = write(
            &dir,
            "c.yaml",
            "runner:\n  default: lsf\n  lsf: {queue: q}\n  defaults: {cores: 2}\n",
        );
        let layers = Layers {
            files: vec![file],
            env_runner: None,
        };
        let config = layers.load(&CliOverrides::default()).expect("config");
        let json: Value = serde_json::from_str(&config.plugin_config_json()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"queue": "q", "defaults": {"cores": 2}})
        );
    }

    #[test]
    fn worker_address_defaults_by_runner() {
        let dir = temp_dir("address");
        let load = |text: &str| {
            let layers = Layers {
                files: vec![write(&dir, "c.yaml", text)],
                env_runner: None,
            };
            layers.load(&CliOverrides::default()).expect("config")
        };
        let local = load("runner: {default: local}");
        assert_eq!(
            (local.worker_bind(), local.worker_host()),
            ("127.0.0.1".into(), "127.0.0.1".into())
        );
        let slurm = load("runner: {default: slurm}");
        assert_eq!(slurm.worker_bind(), "0.0.0.0");
        assert_eq!(slurm.worker_host(), crate::procfs::hostname());
        let set =
            load("runner: {default: lsf, worker_bind: 10.0.0.5, worker_host: head.example.com}");
        assert_eq!(
            (set.worker_bind(), set.worker_host()),
            ("10.0.0.5".into(), "head.example.com".into())
        );
    }

    #[test]
    fn mistakes_name_the_file_and_the_key() {
        let dir = temp_dir("bad");
        let cases = [
            ("runner: [1]", "'runner' must be a mapping"),
            (
                "runner:\n  pool: {max_wrokers: 3}",
                "unknown field `max_wrokers`",
            ),
            (
                "runner:\n  pool: {min_workers: 5, max_workers: 2}",
                "larger than pool.max_workers",
            ),
            ("runner: {pool: {", "invalid YAML"),
            (
                "runner: {worker_host: [a]}",
                "runner.worker_host must be a host name",
            ),
            (
                "runner:\n  pool: {prefetch: some}",
                "pool.prefetch is true, false or a number of tasks",
            ),
            (
                "runner:\n  pool: {prefetch: -1}",
                "pool.prefetch is true, false or a number of tasks",
            ),
            ("runner:\n  pool: {prefetch: 65}", "may be at most 64"),
        ];
        for (text, expected) in cases {
            let file = write(&dir, "c.yaml", text);
            let layers = Layers {
                files: vec![file],
                env_runner: None,
            };
            let error = layers
                .load(&CliOverrides::default())
                .expect_err(text)
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn prefetch_is_a_number_of_tasks_or_a_flag() {
        let dir = temp_dir("prefetch");
        let cases = [
            ("true", crate::pool::DEFAULT_PREFETCH),
            ("false", 0),
            ("0", 0),
            ("1", 1),
            ("8", 8),
        ];
        for (given, depth) in cases {
            let file = write(
                &dir,
                "c.yaml",
                &format!("runner:\n  pool: {{prefetch: {given}}}"),
            );
            let layers = Layers {
                files: vec![file],
                env_runner: None,
            };
            let config = layers.load(&CliOverrides::default()).expect(given);
            assert_eq!(config.pool.pool_config().prefetch, depth, "{given}");
        }
        assert_eq!(
            PoolSettings::default().pool_config().prefetch,
            crate::pool::DEFAULT_PREFETCH
        );
    }
}
