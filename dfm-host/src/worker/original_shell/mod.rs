//! The original dv-flow-mgr's shell steps, run natively: what its
//! `ShellCallable` (1.20) does in its worker, without an interpreter —
//! `${{ }}` expanded (`expand`), the data_io files and variables staged
//! (`stage`), the body run by `/bin/<shell>` (`bash -c` for one line, a
//! `<name>_cmd.sh` script for more) with its output in `<name>.log`, and
//! what it handed back read into the reply (`harvest`). The same files
//! and the same reply as the original's code gives in dfm's interpreter
//! (`tests/upstream_shell.rs` runs a corpus both ways), with
//! `DFM_PARAM_<NAME>` set as in-process.
//!
//! What only the original's code can do goes to it: a task whose body or
//! inputs need Python to be shown is left to the warm interpreter
//! ([`Decline`]) before it starts; outputs of a type not read here are
//! read after it ends by dv-flow-mgr's own `harvest_outputs`, in a Python
//! started for that (`python_harvest`).

mod expand;
mod harvest;
mod python_harvest;
mod stage;

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;

use dfm_wire::{Environment, Marker, TaskResult, TaskSpec, Usage};
use serde_json::Value;

use self::harvest::{harvest, marker, NeedsPython};
use self::python_harvest::PythonHarvest;
use self::stage::{Shim, Step};
use super::child::{killed_by_stop_signal, Child};
use super::environment::{exec_strings, path_of, ProgramFinder, WorkerEnvironment};
use super::python::chosen_python;
use super::spawn::Spawner;
use super::start_error::{StartError, Unstartable};
use super::state::Ending;
use crate::data_out::pyjson::Json;

/// Why a step is left to the interpreter.
#[derive(Debug)]
pub struct Decline(pub String);

pub struct OriginalShellExecutor {
    base: WorkerEnvironment,
    native_dfm_out: PathBuf,
    /// `runner.python`, if set.
    configured: Option<PathBuf>,
    shells: ProgramFinder,
    spawner: Spawner,
    cpu_count: usize,
    /// The last client environment merged into the worker's: the tasks of
    /// a client follow each other.
    merged: Option<(Environment, Arc<TaskEnv>)>,
}

/// A task's context environment: the worker's, overlaid with its client's.
type TaskEnv = BTreeMap<OsString, OsString>;

/// A shell step of the original's, running.
pub struct OriginalShellRun {
    request_id: String,
    name: String,
    rundir: String,
    /// The command as the original names it in "Command failed: ...".
    command: String,
    child: Child,
    /// For outputs only dv-flow-mgr's code reads.
    python: PythonSetting,
}

/// The Python that reads outputs dfm does not, and what it needs.
#[derive(Clone)]
struct PythonSetting {
    python: Option<PathBuf>,
    pythonpath: Vec<String>,
    env: Arc<TaskEnv>,
}

impl OriginalShellExecutor {
    /// `native_dfm_out`: dfm's dfm-out, which the step's `dfm-out` runs.
    pub fn new(native_dfm_out: PathBuf, configured: Option<PathBuf>) -> io::Result<Self> {
        // SAFETY: sysconf only reads a system value (os.cpu_count's).
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        Ok(OriginalShellExecutor {
            base: WorkerEnvironment::now(),
            native_dfm_out,
            configured,
            shells: ProgramFinder::default(),
            spawner: Spawner::new()?,
            cpu_count: usize::try_from(online).unwrap_or(1),
            merged: None,
        })
    }

    /// Starts `spec`, or declines it (before anything is written) when the
    /// original's code must run it.
    pub fn start(
        &mut self,
        spec: &TaskSpec,
    ) -> Result<Result<OriginalShellRun, Decline>, StartError> {
        let plain = match Plain::of(spec) {
            Ok(plain) => plain,
            Err(decline) => return Ok(Err(decline)),
        };
        let cannot = |reason: Unstartable| StartError::Shell {
            shell: spec.shell.clone(),
            task: spec.name.clone(),
            reason,
        };
        let step = Step {
            name: &spec.name,
            srcdir: &spec.srcdir,
            rundir: &spec.rundir,
            params: &plain.params,
            inputs: &plain.inputs,
            memento: plain.memento.as_ref(),
        };
        let body = match expand::expand(&spec.body, &plain.params, &spec.rundir) {
            Ok(body) => body,
            Err(why) => return Ok(Err(Decline(format!("'${{{{ {} }}}}' in its body", why.0)))),
        };
        let task_env = match &self.merged {
            Some((of, merged)) if *of == spec.env => merged.clone(),
            _ => {
                let merged = Arc::new(self.base.with(&spec.env).map_err(|e| cannot(e.into()))?);
                self.merged = Some((spec.env.clone(), merged.clone()));
                merged
            }
        };
        let env = match stage::environment(&step, &task_env, self.cpu_count) {
            Ok(env) => env,
            Err(why) => return Ok(Err(Decline(why.0))),
        };
        let rundir = Path::new(&spec.rundir);
        fs::create_dir_all(rundir).map_err(|source| StartError::Rundir {
            dir: rundir.to_path_buf(),
            source,
        })?;
        let pythonpath: Vec<String> = spec.pythonpath().map(str::to_string).collect();
        let python = chosen_python(self.configured.as_deref(), spec);
        let shim_python: OsString = python.clone().map_or_else(|| "python3".into(), Into::into);
        let shim = Shim {
            native: &self.native_dfm_out,
            python: &shim_python,
            pythonpath: &pythonpath,
        };
        stage::write_files(&step, &shim).map_err(|source| StartError::Script {
            path: rundir.to_path_buf(),
            source,
        })?;

        // `/bin/<shell>`, or `bash` from PATH for the shell called "shell".
        let (shell, program_text) = match spec.shell.as_str() {
            "shell" => ("bash", "bash".to_string()),
            other => (other, format!("/bin/{other}")),
        };
        let mut argv = vec![program_text.clone()];
        if body.contains('\n') {
            let script = rundir.join(format!("{}_cmd.sh", spec.name));
            fs::write(&script, format!("#!/bin/{shell}\n{body}"))
                .and_then(|()| fs::set_permissions(&script, fs::Permissions::from_mode(0o755)))
                .map_err(|source| StartError::Script {
                    path: script.clone(),
                    source,
                })?;
            argv.push(script.to_string_lossy().into_owned());
        } else {
            argv.push("-c".into());
            argv.push(body);
        }
        let log_path = rundir.join(format!("{}.log", spec.name));
        let log = File::create(&log_path).map_err(|source| StartError::Log {
            path: log_path.clone(),
            source,
        })?;
        let argv_c = argv
            .iter()
            .map(|a| c_string(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(cannot)?;
        let path = path_of(&env);
        let envp_c = exec_strings(env).ok_or_else(|| cannot(Unstartable::NulInVariable))?;
        let mut envp: Vec<*const libc::c_char> = envp_c.iter().map(|s| s.as_ptr()).collect();
        envp.push(std::ptr::null());
        let (program, _) = self
            .shells
            .find(&program_text, &path, rundir)
            .ok_or_else(|| cannot(Unstartable::NotFound(path.to_string_lossy().into())))?;
        let program = c_string(program.as_os_str().as_bytes()).map_err(cannot)?;
        let dir = c_string(rundir.as_os_str().as_bytes()).map_err(cannot)?;
        let pid = self
            .spawner
            .spawn(&program, &argv_c, &envp, &dir, log.as_raw_fd())
            .map_err(|e| cannot(Unstartable::Spawn(e)))?;
        Ok(Ok(OriginalShellRun {
            request_id: spec.request_id.clone(),
            name: spec.name.clone(),
            rundir: spec.rundir.clone(),
            command: argv.join(" "),
            child: Child::new(pid),
            python: PythonSetting {
                python,
                pythonpath,
                env: task_env,
            },
        }))
    }
}

/// A task's parameters, inputs and memento, if each is what the
/// original's worker reads without surprises.
struct Plain {
    params: Vec<(String, Json)>,
    inputs: Vec<Json>,
    memento: Option<Json>,
}

impl Plain {
    fn of(spec: &TaskSpec) -> Result<Plain, Decline> {
        let field = |name: &str| spec.extra.get(name).filter(|v| !v.is_null());
        let params = match field("params").map(Json::from_value) {
            None => Vec::new(),
            Some(Json::Object(params)) => params,
            Some(_) => return Err(Decline("'params' that is not an object".into())),
        };
        let inputs = match field("inputs") {
            None => Vec::new(),
            Some(Value::Array(items)) if items.iter().all(Value::is_object) => {
                items.iter().map(Json::from_value).collect()
            }
            Some(_) => return Err(Decline("'inputs' that are not objects".into())),
        };
        if spec.name.contains('/') || spec.shell.contains('/') {
            return Err(Decline("a '/' in its name or shell".into()));
        }
        Ok(Plain {
            params,
            inputs,
            memento: field("memento").map(Json::from_value),
        })
    }
}

impl OriginalShellRun {
    /// Waits for the step to end, then reads what it handed back (with
    /// dv-flow-mgr's code, on a blocking thread, where dfm's reading
    /// cannot).
    pub async fn ended(&mut self) -> Ending {
        let status = self.child.wait().await;
        match self.read_natively(&status) {
            Ok(ending) => ending,
            Err(why) => {
                let (python, rundir, name) =
                    (self.python.clone(), self.rundir.clone(), self.name.clone());
                let read = tokio::task::spawn_blocking(move || {
                    python_harvest::harvest(&python, &rundir, &name, &why.0)
                })
                .await
                .unwrap_or_else(|e| Err(format!("reading the outputs failed: {e}")));
                self.ending(&status, read)
            }
        }
    }

    /// How it ended, if it has and dfm reads what it handed back itself;
    /// otherwise [`Self::ended`] finishes the job.
    pub fn try_ended(&mut self) -> Option<Ending> {
        match self.child.try_wait() {
            Ok(Some(status)) => self.read_natively(&Ok(status)).ok(),
            Ok(None) | Err(_) => None,
        }
    }

    pub fn give_time(&self, limit: std::time::Duration) {
        self.child.wait_for_end(limit);
    }

    pub fn kill(&self) {
        self.child.kill();
    }

    /// What its processes cost, once it has ended.
    pub fn usage(&self) -> Option<Usage> {
        self.child.usage()
    }

    fn read_natively(&self, status: &io::Result<ExitStatus>) -> Result<Ending, NeedsPython> {
        let read = harvest(&self.rundir, &self.name)?;
        Ok(self.ending(
            status,
            Ok(PythonHarvest {
                output: read.output,
                markers: read.markers,
                context_markers: Vec::new(),
                memento: read.memento,
            }),
        ))
    }

    /// The result: what was read (its markers, then the context's: the
    /// failed command's, then those of items that could not be made).
    fn ending(
        &self,
        status: &io::Result<ExitStatus>,
        read: Result<PythonHarvest, String>,
    ) -> Ending {
        let by_stop_signal = killed_by_stop_signal(status);
        // asyncio's returncode: the exit code, or minus the signal.
        let status = match status {
            Ok(s) => s.code().or_else(|| s.signal().map(|n| -n)).unwrap_or(1),
            Err(_) => 1,
        };
        let mut result = TaskResult::new(&self.request_id, status);
        match read {
            Ok(read) => {
                let failed = (status != 0)
                    .then(|| marker(&format!("Command failed: {}", self.command), "error"));
                result.output = read.output.iter().map(to_value).collect();
                result.markers = read
                    .markers
                    .iter()
                    .chain(&failed)
                    .chain(&read.context_markers)
                    .filter_map(to_marker)
                    .collect();
                result.memento = read.memento.as_ref().map_or(Value::Null, to_value);
            }
            Err(message) => result.markers.push(Marker::error(message)),
        }
        Ending {
            result,
            by_stop_signal,
        }
    }
}

fn to_value(json: &Json) -> Value {
    serde_json::from_str(&json.dumps()).unwrap_or(Value::Null)
}

fn to_marker(json: &Json) -> Option<Marker> {
    serde_json::from_value(to_value(json)).ok()
}

fn c_string(bytes: &[u8]) -> Result<CString, Unstartable> {
    CString::new(bytes).map_err(|_| Unstartable::NulInArgument)
}
