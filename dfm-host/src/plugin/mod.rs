//! Finding and loading runner plugins.
//!
//! `--runner NAME` looks for `libdfm_runner_NAME.so` in `$DFM_PLUGIN_PATH`
//! (a colon-separated list), then beside the `dfm` executable, then in
//! `<exe dir>/../lib/dfm/plugins`. `--runner /path/to/lib.so` loads that
//! file. Each plugin is loaded with `lib_header_from_path`, so several can
//! live in one process (`load_from_file` would hand back the first one).

mod runner;

use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::std_types::RResult;
use dfm_plugin_api::extended::RunnerV2ModuleRef;
use dfm_plugin_api::host::RunnerModuleRef;
use dfm_plugin_api::API_VERSION;

pub use self::runner::Runner;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{}", not_found_message(.name, .searched))]
    NotFound {
        name: String,
        searched: Vec<(PathBuf, Vec<String>)>,
    },
    #[error(
        "{path}: built against dfm-plugin-api {plugin_version}, but this dfm uses dfm-plugin-api {host_version}; rebuild the plugin against dfm-plugin-api {host_version}"
    )]
    IncompatibleVersion {
        path: PathBuf,
        plugin_version: String,
        host_version: String,
    },
    #[error("{path}: cannot load runner plugin: {message}")]
    Load { path: PathBuf, message: String },
    #[error("runner plugin '{name}' refused its configuration: {message}")]
    Config { name: String, message: String },
}

fn not_found_message(name: &str, searched: &[(PathBuf, Vec<String>)]) -> String {
    let mut text = format!(
        "runner plugin '{name}' not found (looked for {}).\nSearched:",
        file_name(name)
    );
    for (dir, found) in searched {
        let found = if found.is_empty() {
            "no plugins".to_string()
        } else {
            found.join(", ")
        };
        text.push_str(&format!("\n  {}: {found}", dir.display()));
    }
    text.push_str("\nUse --runner with one of the plugins found, a path to a plugin .so, or add its folder to DFM_PLUGIN_PATH.");
    text
}

/// The file a runner name is looked up as.
pub fn file_name(name: &str) -> String {
    format!("libdfm_runner_{name}.so")
}

/// The short name of a runner given by name or path.
pub fn runner_name(spec: &str) -> &str {
    if !spec.contains('/') {
        return spec;
    }
    let file = spec.rsplit('/').next().unwrap_or(spec);
    file.strip_prefix("libdfm_runner_")
        .and_then(|rest| rest.strip_suffix(".so"))
        .unwrap_or(file)
}

/// The folders searched for plugins, in order.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var("DFM_PLUGIN_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.clone());
        dirs.push(exe_dir.join("../lib/dfm/plugins"));
    }
    dirs
}

/// Runner names of the plugins in `dir`.
pub fn plugins_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("libdfm_runner_")
                .and_then(|rest| rest.strip_suffix(".so"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// Finds the plugin file for a runner name or path.
pub fn locate(spec: &str) -> Result<PathBuf, PluginError> {
    if spec.contains('/') {
        let path = PathBuf::from(spec);
        if path.is_file() {
            return Ok(path);
        }
        return Err(PluginError::Load {
            path,
            message: "no such file".into(),
        });
    }
    let dirs = search_dirs();
    for dir in &dirs {
        let candidate = dir.join(file_name(spec));
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(PluginError::NotFound {
        name: spec.to_string(),
        searched: dirs
            .into_iter()
            .map(|dir| {
                let found = plugins_in(&dir);
                (dir, found)
            })
            .collect(),
    })
}

/// A loaded plugin library.
pub struct Plugin {
    pub path: PathBuf,
    pub name: String,
    /// The dfm-plugin-api version the plugin was built against.
    pub api_version: String,
    module: RunnerModuleRef,
    /// API 0.1.1's entry point, in plugins built against it or later.
    v2: Option<RunnerV2ModuleRef>,
}

impl Plugin {
    pub fn load(path: &Path) -> Result<Plugin, PluginError> {
        let load_error = |message: String| PluginError::Load {
            path: path.to_path_buf(),
            message,
        };
        let header = lib_header_from_path(path).map_err(|e| load_error(describe(&e)))?;
        let api_version = header.version_strings().to_string();
        let module = header
            .init_root_module::<RunnerModuleRef>()
            .map_err(|e| match e {
                LibraryError::IncompatibleVersionNumber { actual_version, .. } => {
                    PluginError::IncompatibleVersion {
                        path: path.to_path_buf(),
                        plugin_version: actual_version.to_string(),
                        host_version: API_VERSION.to_string(),
                    }
                }
                other => load_error(describe(&other)),
            })?;
        let name = (module.name())().to_string();
        let v2 = runner::entry_point(path).map_err(|message| {
            load_error(format!(
                "{message} (its API 0.1.1 entry point does not match this dfm's dfm-plugin-api {API_VERSION}; rebuild it)"
            ))
        })?;
        Ok(Plugin {
            path: path.to_path_buf(),
            name,
            api_version,
            module,
            v2,
        })
    }

    /// Locates and loads a plugin by name or path.
    pub fn find(spec: &str) -> Result<Plugin, PluginError> {
        Plugin::load(&locate(spec)?)
    }

    /// Builds a runner from its configuration (JSON text), through the
    /// newest entry point the plugin has.
    pub fn new_runner(&self, config_json: &str) -> Result<Runner, PluginError> {
        let refused = |message: abi_stable::std_types::RString| PluginError::Config {
            name: self.name.clone(),
            message: message.into(),
        };
        match self.v2 {
            Some(v2) => match (v2.new_runner())(config_json.into()) {
                RResult::ROk(runner) => Ok(Runner::V2(runner)),
                RResult::RErr(message) => Err(refused(message)),
            },
            None => match (self.module.new_runner())(config_json.into()) {
                RResult::ROk(runner) => Ok(Runner::V1(runner)),
                RResult::RErr(message) => Err(refused(message)),
            },
        }
    }
}

fn describe(error: &LibraryError) -> String {
    let text = error.to_string();
    // abi_stable's layout reports run to many lines; the first says what.
    match text.lines().next() {
        Some(first) if text.lines().count() > 6 && std::env::var_os("DFM_DEBUG_ABI").is_none() => {
            format!("{first} (the plugin's types do not match this dfm's dfm-plugin-api {API_VERSION}; rebuild it)")
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_names_from_paths() {
        assert_eq!(runner_name("lsf"), "lsf");
        assert_eq!(runner_name("/opt/x/libdfm_runner_site.so"), "site");
        assert_eq!(runner_name("./custom.so"), "custom.so");
    }

    #[test]
    fn not_found_lists_what_was_searched_and_found() {
        let dir = std::env::temp_dir().join(format!("dfm-plugin-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("libdfm_runner_other.so"), b"").expect("file");
        std::env::set_var("DFM_PLUGIN_PATH", &dir);
        let error = match locate("nosuch") {
            Err(error) => error.to_string(),
            Ok(path) => panic!("found {path:?}"),
        };
        assert!(
            error.contains("runner plugin 'nosuch' not found"),
            "{error}"
        );
        assert!(
            error.contains(&format!("{}: other", dir.display())),
            "{error}"
        );
    }
}
