//! Flow files: the subset of the original's format that `dfm run` runs.
//!
//! ```yaml
//! package:
//!   name: demo
//!   with: {seed: {type: int, value: 1}}
//!   tasks:
//!   - name: build
//!     run: make
//!   - root: test          # `root: NAME` is `name: NAME` + `scope: root`
//!     needs: [build]
//!     run: ./sim --seed ${{ seed }}
//!     tags: [{std.ResourceTag: {resource_class: large}}]
//! ```
//!
//! Loading checks everything before anything runs: unknown keys, unknown
//! tasks in `needs`, cycles, bad expressions. Errors name the file and line.

pub mod expr;
mod graph;
mod loader;
mod resolve;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use expr::Value;

/// Root file names, in the order they are looked for.
pub const ROOT_FILES: &[&str] = &["flow.dv", "flow.yaml", "flow.yml"];

#[derive(Debug, Clone, PartialEq)]
pub struct FlowError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for FlowError {}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub file: PathBuf,
    /// The folder of the flow file.
    pub srcdir: PathBuf,
    pub package: String,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// `pkg.task`.
    pub name: String,
    pub desc: String,
    pub line: usize,
    pub root: bool,
    pub action: Action,
    /// Indexes into [`Flow::tasks`].
    pub needs: Vec<usize>,
    pub params: BTreeMap<String, Value>,
    pub resources: Resources,
    /// False when `iff` says the task is off.
    pub enabled: bool,
    pub rundir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Shell {
        shell: String,
        body: String,
    },
    /// `uses: std.Message`: prints `msg`.
    Message(String),
}

/// A `std.ResourceTag`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    pub resource_class: String,
    pub cores: Option<u32>,
    pub memory: Option<String>,
    pub queue: Option<String>,
    pub walltime: Option<String>,
}

/// Everything outside the file that the flow depends on.
pub struct Context<'a> {
    /// `-D name=value` / `-D task.name=value`.
    pub overrides: &'a [(String, String)],
    /// Rundirs go under `<base>/<pkg>.<task>/`.
    pub rundir_base: &'a Path,
    pub env: &'a BTreeMap<String, String>,
}

/// Finds the root flow file, searching up from `start`.
pub fn find_root_file(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        for name in ROOT_FILES {
            let candidate = d.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        dir = d.parent();
    }
    None
}

pub fn load(file: &Path, context: &Context<'_>) -> Result<Flow, FlowError> {
    let text = std::fs::read_to_string(file).map_err(|e| FlowError {
        file: file.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(file, &text, context)
}

pub fn parse(file: &Path, text: &str, context: &Context<'_>) -> Result<Flow, FlowError> {
    loader::Loader { file, context }.flow(text)
}

#[cfg(test)]
mod tests;
