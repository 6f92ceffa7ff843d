//! Running a task by its kind.
//!
//! This is the seam every way of running a task plugs into: [`Executors`]
//! picks the executor for a task's [`TaskKind`] and returns an
//! [`Execution`], which the I/O loop waits on, kills, and turns into the
//! task's [`Ending`]: dfm's own shell tasks (`shell`), the original's shell
//! steps run natively (`original_shell`), and the original's Python tasks
//! in the warm interpreter (`python`), which also takes any shell step
//! the native path declines.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use dfm_wire::{Dialect, Marker, Severity, TaskResult, TaskSpec, Usage, PYTASK};

use super::child::{killed_by_stop_signal, Child};
use super::original_shell::{OriginalShellExecutor, OriginalShellRun};
use super::python::{PythonExecutor, PythonRun};
use super::shell::ShellExecutor;
use super::start_error::StartError;
use super::state::Ending;

/// How a task is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Its body, by its shell, as a process of its own.
    Shell,
    /// A shell step of the original's: its body as its `ShellCallable`
    /// runs it, with the data_io contract.
    OriginalShell,
    /// By dv-flow-mgr's own code, in the worker's Python interpreter.
    Python,
}

impl TaskKind {
    pub fn of(spec: &TaskSpec) -> TaskKind {
        match spec.dialect() {
            Dialect::Native => TaskKind::Shell,
            Dialect::Original if spec.shell == PYTASK => TaskKind::Python,
            Dialect::Original => TaskKind::OriginalShell,
        }
    }
}

/// What the worker was told about running tasks, at its start.
#[derive(Debug, Clone, Default)]
pub struct ExecutorSettings {
    /// `runner.python`: the Python for the original's tasks.
    pub python: Option<PathBuf>,
    /// dfm's dfm-out, for the original's shell steps.
    pub native_dfm_out: Option<PathBuf>,
    /// Run the original's shell steps in the interpreter, with its own
    /// code, as dfm did before it ran them natively (a diagnostic, and the
    /// reference the differential test compares with).
    pub original_shell_in_python: bool,
}

/// The worker's executors, one per kind of task, each made once.
pub struct Executors {
    shell: ShellExecutor,
    /// `None` without dfm's dfm-out beside the worker, or when told to
    /// leave the original's shell steps to the interpreter.
    original_shell: Option<OriginalShellExecutor>,
    python: PythonExecutor,
}

impl Executors {
    /// Takes the worker's environment and signal handlers as they are now:
    /// make it after the worker has removed its private variables and set
    /// up its signal handling.
    pub fn new(settings: ExecutorSettings) -> io::Result<Executors> {
        let original_shell = match &settings.native_dfm_out {
            Some(native) if !settings.original_shell_in_python => Some(OriginalShellExecutor::new(
                native.clone(),
                settings.python.clone(),
            )?),
            _ => None,
        };
        Ok(Executors {
            shell: ShellExecutor::new()?,
            original_shell,
            python: PythonExecutor::new(settings.python, settings.native_dfm_out),
        })
    }

    /// Takes back what a task that has ended borrowed from its executor.
    pub fn reclaim(&mut self, ended: Execution) {
        match ended {
            Execution::Process(_) | Execution::OriginalShell(_) => {}
            Execution::Python(run) => self.python.reclaim(run),
        }
    }

    /// Starts `spec` with the executor of its kind.
    pub fn start(&mut self, spec: &TaskSpec) -> Result<Execution, StartError> {
        match TaskKind::of(spec) {
            TaskKind::Shell => {
                let child = self.shell.start(spec)?;
                Ok(Execution::Process(ProcessRun {
                    request_id: spec.request_id.clone(),
                    rundir: PathBuf::from(&spec.rundir),
                    child,
                }))
            }
            TaskKind::OriginalShell => {
                if let Some(native) = self.original_shell.as_mut() {
                    match native.start(spec)? {
                        Ok(run) => return Ok(Execution::OriginalShell(run)),
                        Err(decline) => eprintln!(
                            "task {}: run by dv-flow-mgr's own code: {}",
                            spec.name, decline.0
                        ),
                    }
                }
                Ok(Execution::Python(self.python.start(spec)?))
            }
            TaskKind::Python => Ok(Execution::Python(self.python.start(spec)?)),
        }
    }
}

/// A task that has started.
pub enum Execution {
    Process(ProcessRun),
    OriginalShell(OriginalShellRun),
    Python(PythonRun),
}

/// A task run as a process of its own: its result is its exit status.
pub struct ProcessRun {
    request_id: String,
    rundir: PathBuf,
    child: Child,
}

impl Execution {
    /// Waits for the task to end; cancel-safe.
    pub async fn ended(&mut self) -> Ending {
        match self {
            Execution::Process(run) => {
                let status = run.child.wait().await;
                run.ending(status)
            }
            Execution::OriginalShell(run) => run.ended().await,
            Execution::Python(run) => run.ended().await,
        }
    }

    /// How it ended, if it has.
    pub fn try_ended(&mut self) -> Option<Ending> {
        match self {
            Execution::Process(run) => match run.child.try_wait() {
                Ok(Some(status)) => Some(run.ending(Ok(status))),
                // Still running; an error shows when it is waited for.
                Ok(None) | Err(_) => None,
            },
            Execution::OriginalShell(run) => run.try_ended(),
            Execution::Python(run) => run.try_ended(),
        }
    }

    /// Blocks until the task ends or `limit` has passed, deaf to
    /// everything else (see [`Child::wait_for_end`]).
    pub fn give_time(&self, limit: Duration) {
        match self {
            Execution::Process(run) => run.child.wait_for_end(limit),
            Execution::OriginalShell(run) => run.give_time(limit),
            Execution::Python(run) => run.give_time(limit),
        }
    }

    /// What the task's processes cost, once it has ended.
    pub fn usage(&self) -> Option<Usage> {
        match self {
            Execution::Process(run) => run.child.usage(),
            Execution::OriginalShell(run) => run.usage(),
            Execution::Python(run) => run.usage(),
        }
    }

    /// Kills the task and everything it started.
    pub fn kill(&self) {
        match self {
            Execution::Process(run) => run.child.kill(),
            Execution::OriginalShell(run) => run.kill(),
            Execution::Python(run) => run.kill(),
        }
    }
}

impl ProcessRun {
    fn ending(&self, status: io::Result<ExitStatus>) -> Ending {
        let by_stop_signal = killed_by_stop_signal(&status);
        let mut result = TaskResult::new(&self.request_id, exit_code(status));
        // A task that failed on a full disk rarely says so clearly itself.
        if result.status != 0 && filesystem_is_full(&self.rundir) {
            result.markers.push(Marker {
                msg: format!(
                    "No space left on device: the filesystem of {} is full",
                    self.rundir.display()
                ),
                severity: Severity::Error,
                loc: None,
            });
        }
        Ending {
            result,
            by_stop_signal,
        }
    }
}

fn exit_code(status: io::Result<ExitStatus>) -> i32 {
    match status {
        Ok(status) => status
            .code()
            .or_else(|| status.signal().map(|sig| 128 + sig))
            .unwrap_or(1),
        Err(_) => 1,
    }
}

fn filesystem_is_full(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs is plain data; the call only writes into it.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    rc == 0 && stat.f_bavail == 0
}
