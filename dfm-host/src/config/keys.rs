//! The keys a configuration layer may hold, checked layer by layer so that
//! a mistake names its file: a misspelt section (`licences:`) must never
//! start a daemon that silently ignores it.

use serde_json::{Map, Value};

use super::runner::ConfigError;

/// The keys of `runner:` that dfm reads.
const RUNNER_KEYS: &[&str] = &[
    "default",
    "pool",
    "defaults",
    "resource_classes",
    "worker_bind",
    "worker_host",
    "python",
    "seal_local_socket",
    "worker_socket",
    "licenses",
    "metrics_listen",
];

/// The keys of a resource class (and of `defaults`) that dfm reads.
const CLASS_KEYS: &[&str] = &[
    "cores",
    "memory",
    "walltime",
    "queue",
    "licenses",
    "license_scope",
];

/// The runners dfm ships: their sections are known settings wherever they
/// are installed.
const BUILT_IN_RUNNERS: &[&str] = &["local", "lsf", "slurm", "sge"];

/// Class keys the runners dfm ships read (the LSF runner's `select[]`).
const BUILT_IN_CLASS_KEYS: &[&str] = &["resource_select"];

/// What a layer may name besides dfm's own keys: the runner plugins found
/// on the search path (their sections, at the top and in a class).
pub struct Allowed {
    runners: Vec<String>,
}

impl Allowed {
    /// The built-in runners, the plugins on the search path, and the one
    /// a layer names by path.
    pub fn with_plugins(mut runners: Vec<String>) -> Allowed {
        runners.extend(BUILT_IN_RUNNERS.iter().map(|s| s.to_string()));
        runners.sort();
        runners.dedup();
        Allowed { runners }
    }

    /// Checks one layer's `runner:` mapping; `origin` names the layer (its
    /// file, or the command-line option).
    pub fn check(&self, runner: &Map<String, Value>, origin: &str) -> Result<(), ConfigError> {
        let mut runners = self.runners.clone();
        if let Some(Value::String(named)) = runner.get("default") {
            runners.push(crate::plugin::runner_name(named).to_string());
        }
        for key in runner.keys() {
            if !RUNNER_KEYS.contains(&key.as_str()) && !runners.contains(key) {
                return Err(unknown(
                    origin,
                    &format!("runner.{key}"),
                    RUNNER_KEYS,
                    &format!(
                        "and the runner plugins' own sections: {}",
                        runners.join(", ")
                    ),
                ));
            }
        }
        if let Some(Value::Object(defaults)) = runner.get("defaults") {
            self.check_class(defaults, "runner.defaults", origin, &runners)?;
        }
        if let Some(Value::Object(classes)) = runner.get("resource_classes") {
            for (name, class) in classes {
                if let Value::Object(class) = class {
                    let at = format!("runner.resource_classes.{name}");
                    self.check_class(class, &at, origin, &runners)?;
                }
            }
        }
        Ok(())
    }

    fn check_class(
        &self,
        class: &Map<String, Value>,
        at: &str,
        origin: &str,
        runners: &[String],
    ) -> Result<(), ConfigError> {
        for key in class.keys() {
            let known = CLASS_KEYS.contains(&key.as_str())
                || BUILT_IN_CLASS_KEYS.contains(&key.as_str())
                || runners.contains(key);
            if !known {
                let allowed: Vec<&str> = CLASS_KEYS
                    .iter()
                    .chain(BUILT_IN_CLASS_KEYS)
                    .copied()
                    .collect();
                return Err(unknown(
                    origin,
                    &format!("{at}.{key}"),
                    &allowed,
                    "and a section named after a runner plugin, for its own keys",
                ));
            }
        }
        Ok(())
    }
}

fn unknown(origin: &str, key: &str, allowed: &[&str], also: &str) -> ConfigError {
    ConfigError::Invalid {
        origin: origin.to_string(),
        message: format!(
            "{key} is not a setting dfm knows (misspelt?); allowed there: {}, {also}",
            allowed.join(", ")
        ),
    }
}
