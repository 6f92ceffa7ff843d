//! The original dv-flow-mgr's tasks: Python callables (`pytask`) and shell
//! steps with its `${{ }}` expansion and data_io contract, run by
//! dv-flow-mgr's own code in a warm Python interpreter.
//!
//! A worker starts the interpreter at its first such task (workers that
//! never get one pay nothing), keeps it for the next, and starts a fresh one
//! when it died or was killed (a cancelled task takes everything it started
//! with it: the interpreter leads its own process group). Which Python:
//! `runner.python` if the daemon was configured with one, else the
//! interpreter the client runs on (found from its `sys.path`), else
//! `python3` in the task's own `PATH`.

mod choice;
mod interpreter;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dfm_wire::{Marker, TaskResult, TaskSpec, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::interpreter::{how_it_ended, Interpreter};
use super::environment::{path_of, ProgramFinder, WorkerEnvironment};
use super::start_error::{StartError, Unstartable};
use super::state::Ending;

/// The Python a task runs with when `runner.python` does not say.
const DEFAULT_PYTHON: &str = "python3";

pub struct PythonExecutor {
    /// `runner.python`, if set.
    configured: Option<PathBuf>,
    /// dfm's dfm-out, for shell steps' shims, if installed beside the worker.
    native_dfm_out: Option<PathBuf>,
    base: WorkerEnvironment,
    pythons: ProgramFinder,
    /// The warm interpreter, between tasks.
    idle: Option<Interpreter>,
}

/// A task of the original's running in the interpreter.
pub struct PythonRun {
    request_id: String,
    name: String,
    interpreter: Interpreter,
    /// It answered: the interpreter can take the next task.
    answered: bool,
    /// The task's CPU seconds (user, system), as its answer gave them.
    cpu: Option<(f64, f64)>,
}

/// What the driver answers for a task: a result and the CPU it took, or an
/// error. (A struct rather than an untagged enum: serde reads an untagged
/// enum twice, through a buffer, and this is read once per task.)
#[derive(Deserialize)]
struct Answer {
    result: Option<ExecuteResult>,
    error: Option<String>,
    cpu: Option<(f64, f64)>,
}

/// dv-flow-mgr's `execute_request` result.
#[derive(Deserialize)]
struct ExecuteResult {
    status: i32,
    #[serde(default)]
    changed: bool,
    #[serde(default)]
    output: Vec<Value>,
    #[serde(default)]
    markers: Vec<Marker>,
    #[serde(default)]
    memento: Value,
}

impl PythonExecutor {
    pub fn new(configured: Option<PathBuf>, native_dfm_out: Option<PathBuf>) -> PythonExecutor {
        PythonExecutor {
            configured,
            native_dfm_out,
            base: WorkerEnvironment::now(),
            pythons: ProgramFinder::default(),
            idle: None,
        }
    }

    /// Sends `spec` to the warm interpreter (started first if need be).
    pub fn start(&mut self, spec: &TaskSpec) -> Result<PythonRun, StartError> {
        let cannot = |reason: Unstartable| StartError::Python {
            task: spec.name.clone(),
            reason,
        };
        // The task's whole environment is needed only to find python3 on its
        // PATH or to start an interpreter: not for each task.
        let base = &self.base;
        let env = || base.with(&spec.env).map_err(|e| cannot(e.into()));
        let python = match chosen_python(self.configured.as_deref(), spec) {
            Some(python) => python,
            None => {
                let path = path_of(&env()?);
                let dir = Path::new(&spec.rundir);
                let (found, _) = self
                    .pythons
                    .find(DEFAULT_PYTHON, &path, dir)
                    .ok_or_else(|| cannot(Unstartable::NoPython(path.to_string_lossy().into())))?;
                found
            }
        };
        let request = request_line(spec);
        let native_dfm_out = self.native_dfm_out.as_deref();
        let fresh = |python: &Path, env: &BTreeMap<OsString, OsString>| {
            Interpreter::start(python, env, &base.to_json(), native_dfm_out)
        };
        // A warm interpreter of another Python, or one that died while
        // idle, is replaced; a fresh one gets one try.
        let mut interpreter = match self.idle.take() {
            Some(warm) if warm.python() == python => warm,
            _ => fresh(&python, &env()?).map_err(|e| cannot(e.into()))?,
        };
        if interpreter.send(&request).is_err() {
            interpreter = fresh(&python, &env()?).map_err(|e| cannot(e.into()))?;
            interpreter.send(&request).map_err(|e| cannot(e.into()))?;
        }
        Ok(PythonRun {
            request_id: spec.request_id.clone(),
            name: spec.name.clone(),
            interpreter,
            cpu: None,
            answered: false,
        })
    }

    /// Takes back the interpreter of a task that has ended, if it can run
    /// the next one.
    pub fn reclaim(&mut self, run: PythonRun) {
        if run.answered {
            self.idle = Some(run.interpreter);
        }
    }
}

/// The Python for `spec` short of a look in its `PATH`: `runner.python`
/// (`configured`), else the one its client runs on (named by the daemon,
/// which asked the client's process), else the one owning the `sys.path`
/// it sent. Each only if it can be run here.
pub fn chosen_python(configured: Option<&Path>, spec: &TaskSpec) -> Option<PathBuf> {
    configured
        .map(Path::to_path_buf)
        .or_else(|| choice::runnable(spec.client_python()?))
        .or_else(|| choice::client_python(&spec.pythonpath().collect::<Vec<_>>()))
}

/// `{"params": <the task.execute params>}`, as the driver reads it.
fn request_line(spec: &TaskSpec) -> Vec<u8> {
    #[derive(Serialize)]
    struct Request<'a> {
        params: &'a TaskSpec,
    }
    dfm_wire::to_line(&Request { params: spec }).into_bytes()
}

impl PythonRun {
    /// Waits for the task's answer, or the interpreter's death.
    pub async fn ended(&mut self) -> Ending {
        match self.interpreter.answer().await {
            Ok(line) => self.answer(&line),
            Err(_) => self.died().await,
        }
    }

    /// Its answer, if it has come.
    pub fn try_ended(&mut self) -> Option<Ending> {
        match self.interpreter.try_answer() {
            Ok(Some(line)) => Some(self.answer(&line)),
            // Still running; a death shows when it is waited for.
            Ok(None) | Err(_) => None,
        }
    }

    pub fn give_time(&self, limit: Duration) {
        self.interpreter.wait_for_answer(limit);
    }

    pub fn kill(&self) {
        self.interpreter.kill();
    }

    /// The CPU the interpreter (and the processes it waited for) spent on
    /// the task, as the driver measured it. No peak memory: the
    /// interpreter's is that of its whole life, not the task's.
    pub fn usage(&self) -> Option<Usage> {
        let (user, system) = self.cpu?;
        Some(Usage {
            cpu_user_secs: user.max(0.0),
            cpu_system_secs: system.max(0.0),
            max_rss_kib: None,
        })
    }

    fn answer(&mut self, line: &[u8]) -> Ending {
        self.answered = true;
        let answer = serde_json::from_slice::<Answer>(line);
        if let Ok(answer) = &answer {
            self.cpu = answer.cpu;
        }
        let result = match answer {
            Ok(Answer {
                result: Some(result),
                ..
            }) => TaskResult {
                request_id: self.request_id.clone(),
                status: result.status,
                changed: result.changed,
                output: result.output,
                markers: result.markers,
                memento: result.memento,
                measurements: None,
            },
            Ok(Answer {
                error: Some(error), ..
            }) => TaskResult::error(&self.request_id, error),
            Ok(Answer { .. }) => {
                self.answered = false;
                TaskResult::error(
                    &self.request_id,
                    "the Python interpreter gave an answer with neither a result nor an error"
                        .to_string(),
                )
            }
            Err(e) => {
                // What the driver said is not an answer: do not trust it
                // with the next task.
                self.answered = false;
                TaskResult::error(
                    &self.request_id,
                    format!("the Python interpreter gave an answer dfm cannot read: {e}"),
                )
            }
        };
        Ending {
            result,
            by_stop_signal: false,
        }
    }

    async fn died(&mut self) -> Ending {
        let death = self.interpreter.death().await;
        let signal = death
            .status
            .and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
        let by_stop_signal = signal.is_some_and(|s| {
            [libc::SIGTERM, libc::SIGKILL, libc::SIGINT, libc::SIGHUP].contains(&s)
        });
        let status = match (death.status.and_then(|s| s.code()), signal) {
            (Some(code), _) if code != 0 => code,
            (_, Some(signal)) => 128 + signal,
            _ => 1,
        };
        let mut message = format!(
            "the Python interpreter {} died while running task '{}' ({})",
            self.interpreter.python().display(),
            self.name,
            how_it_ended(death.status)
        );
        if !death.last_words.is_empty() {
            message.push_str(&format!("; the last it wrote:\n{}", death.last_words));
        }
        let mut result = TaskResult::new(&self.request_id, status);
        result.changed = false;
        result.markers.push(Marker::error(message));
        Ending {
            result,
            by_stop_signal,
        }
    }
}

#[cfg(test)]
mod tests;
