//! The configuration layers and how they merge: install, site, project,
//! `DFM_RUNNER`, the command line.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::keys::Allowed;
use super::runner::{ConfigError, RunnerConfig};

/// Lists that add up across layers instead of being replaced.
const ACCUMULATED_LISTS: &[&str] = &[
    "resource_select",
    "bsub_extra",
    "sbatch_extra",
    "srun_extra",
];

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
        // The runner named by DFM_RUNNER or --runner (a name, or a path
        // to a plugin anywhere) may have its section too.
        let named = [&self.env_runner, &cli.runner]
            .into_iter()
            .flatten()
            .map(|spec| crate::plugin::runner_name(spec).to_string());
        let plugins = crate::plugin::search_dirs()
            .iter()
            .flat_map(|dir| crate::plugin::plugins_in(dir))
            .chain(named)
            .collect();
        let allowed = Allowed::with_plugins(plugins);
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
            allowed.check(&layer, &path.display().to_string())?;
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
            let origin = format!("--runner-opt {path}={text}");
            let invalid = |message| ConfigError::Invalid {
                origin: origin.clone(),
                message,
            };
            let mut alone = Map::new();
            set_path(&mut alone, path, value.clone()).map_err(invalid)?;
            allowed.check(&alone, &origin)?;
            set_path(&mut merged, path, value).map_err(invalid)?;
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
