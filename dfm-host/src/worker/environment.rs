//! A task's environment and where its programs are: the worker's own
//! environment overlaid with the one its client sent, and a program looked
//! up as `execvp` would in the `PATH` the task will have. Both executors use
//! these.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};

use dfm_wire::{Environment, EnvironmentError};

/// Where `execvp` looks when there is no `PATH` at all.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Variables the worker sets for each task itself.
pub const PER_TASK: [&str; 3] = ["TASK_RUNDIR", "TASK_SRCDIR", "DFM_TASK_NAME"];

/// The worker's own environment, which tasks inherit under their client's.
pub struct WorkerEnvironment(BTreeMap<OsString, OsString>);

impl WorkerEnvironment {
    /// The worker's environment as it is now: take it after the worker has
    /// removed its private variables.
    pub fn now() -> WorkerEnvironment {
        WorkerEnvironment(std::env::vars_os().collect())
    }

    /// The worker's variables overlaid with `env`'s, without those the
    /// worker sets for each task.
    pub fn with(
        &self,
        env: &Environment,
    ) -> Result<BTreeMap<OsString, OsString>, EnvironmentError> {
        let mut merged = self.0.clone();
        for (name, value) in env.variables()? {
            merged.insert(name.into(), value.into());
        }
        for name in PER_TASK {
            merged.remove(OsStr::new(name));
        }
        Ok(merged)
    }
}

impl WorkerEnvironment {
    /// Its variables as a JSON object (names and values that are not UTF-8
    /// made so, lossily), without those the worker sets for each task.
    pub fn to_json(&self) -> String {
        let variables: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .filter(|(name, _)| {
                !PER_TASK
                    .iter()
                    .any(|own| OsStr::new(own) == name.as_os_str())
            })
            .map(|(name, value)| {
                (
                    name.to_string_lossy().into_owned(),
                    value.to_string_lossy().into_owned().into(),
                )
            })
            .collect();
        serde_json::Value::Object(variables).to_string()
    }
}

/// An environment as the `NAME=value` strings `execve` takes; `None` if
/// one holds a NUL byte.
pub fn exec_strings(
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Option<Vec<std::ffi::CString>> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    env.into_iter()
        .map(|(name, value)| {
            let mut entry = name.into_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            std::ffi::CString::new(entry).ok()
        })
        .collect()
}

/// The `PATH` of an environment, or `execvp`'s default.
pub fn path_of(env: &BTreeMap<OsString, OsString>) -> OsString {
    env.get(OsStr::new("PATH"))
        .cloned()
        .unwrap_or_else(|| DEFAULT_PATH.into())
}

/// Programs found, by (program, `PATH`).
#[derive(Default)]
pub struct ProgramFinder {
    found: HashMap<(String, OsString), PathBuf>,
}

impl ProgramFinder {
    /// Where `program` is, looked up as `execvp` would in `path` and `dir`,
    /// and whether that came from the cache. A relative entry is relative
    /// to `dir`: what it finds is not cached.
    pub fn find(&mut self, program: &str, path: &OsStr, dir: &Path) -> Option<(PathBuf, bool)> {
        if program.contains('/') {
            return Some((PathBuf::from(program), false));
        }
        let key = (program.to_string(), path.to_os_string());
        if let Some(found) = self.found.get(&key) {
            return Some((found.clone(), true));
        }
        let mut relative = false;
        for entry in std::env::split_paths(path) {
            let candidate = entry.join(program);
            if entry.is_absolute() {
                if is_executable(&candidate) {
                    if !relative {
                        if self.found.len() >= 64 {
                            self.found.clear();
                        }
                        self.found.insert(key, candidate.clone());
                    }
                    return Some((candidate, false));
                }
            } else {
                relative = true;
                if is_executable(&dir.join(&candidate)) {
                    return Some((candidate, false));
                }
            }
        }
        None
    }

    /// Forgets what was found (a program found earlier is gone).
    pub fn forget(&mut self) {
        self.found.clear();
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
