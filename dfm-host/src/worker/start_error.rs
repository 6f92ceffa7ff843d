//! Why a task could not be started: the message becomes its result.

use std::io;
use std::path::PathBuf;

use dfm_wire::EnvironmentError;

/// Why a task could not be started; the message becomes its result.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create rundir {}: {source}", .dir.display())]
    Rundir { dir: PathBuf, source: io::Error },
    #[error("cannot create task log {}: {source}", .path.display())]
    Log { path: PathBuf, source: io::Error },
    #[error("cannot write task script {}: {source}", .path.display())]
    Script { path: PathBuf, source: io::Error },
    #[error("cannot start '{shell}' for task '{task}': {reason}")]
    Shell {
        shell: String,
        task: String,
        reason: Unstartable,
    },
    #[error("cannot start Python for task '{task}': {reason}")]
    Python { task: String, reason: Unstartable },
}

/// Why a shell could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Unstartable {
    #[error("an argument contains a NUL byte")]
    NulInArgument,
    #[error("an environment variable contains a NUL byte")]
    NulInVariable,
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
    #[error("not found in the task's PATH ({0})")]
    NotFound(String),
    #[error("no python3 in the task's PATH ({0}); set runner.python in the dfm configuration to the Python that has dv-flow-mgr")]
    NoPython(String),
    #[error(transparent)]
    Spawn(#[from] io::Error),
}
