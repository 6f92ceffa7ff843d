//! A flow, once loaded and checked: its tasks, what each does and needs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::expr::Value;

/// Root file names, in the order they are looked for.
pub const ROOT_FILES: &[&str] = &["flow.dv", "flow.yaml", "flow.yml"];

#[derive(Debug, Clone, PartialEq)]
pub struct FlowError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
    /// The flow is fine, but uses this feature of the original
    /// dv-flow-mgr, which dfm's own engine does not run.
    pub theirs: Option<String>,
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
    /// Licenses the task holds while it runs (dfm's extension).
    pub licenses: BTreeMap<String, u32>,
}

/// Everything outside the file that the flow depends on.
pub struct Context<'a> {
    /// `-D name=value` / `-D task.name=value`.
    pub overrides: &'a [(String, String)],
    /// Rundirs go under `<base>/<pkg>.<task>/`.
    pub rundir_base: &'a Path,
    pub env: &'a BTreeMap<String, String>,
}
