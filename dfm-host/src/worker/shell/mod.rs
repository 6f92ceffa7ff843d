//! The native shell executor: a task's body run by its shell, in its
//! rundir, with its output in `<rundir>/<name>.log`.
//!
//! Almost everything a spawn needs is the same from one task to the next
//! and is prepared once:
//! - the environment: the worker's own, overlaid with the client's. Each
//!   distinct client environment becomes `NAME=value` strings once, not
//!   for every task (std rebuilds the whole block on every spawn);
//! - where the shell is: looked up in the `PATH` the task will have, once
//!   per (shell, `PATH`);
//! - `/dev/null` for stdin, opened once (in the [`Spawner`]).
//!
//! What is left per task is the log file, the arguments and the spawn.

use std::ffi::{CString, OsString};
use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use dfm_wire::{Environment, TaskSpec};

use super::child::Child;
use super::environment::{exec_strings, path_of, ProgramFinder, WorkerEnvironment, PER_TASK};
use super::spawn::Spawner;
use super::start_error::{StartError, Unstartable};

/// Bodies longer than this run from a script file `<rundir>/<name>_cmd.sh`:
/// Linux refuses a single argument over 128 KiB.
const MAX_INLINE_BODY: usize = 64 * 1024;

/// A task name made safe as a file name.
pub fn file_stem(name: &str) -> String {
    name.replace('/', "_")
}

/// What the worker keeps from one shell task's spawn to the next.
pub struct ShellExecutor {
    base: WorkerEnvironment,
    /// The environment the previous task came with, prepared.
    env: Prepared,
    shells: ProgramFinder,
    spawner: Spawner,
}

/// A client environment merged into the worker's, ready to hand to the
/// spawner.
struct Prepared {
    of: Environment,
    /// `NAME=value`, without the variables each task sets itself.
    strings: Vec<CString>,
    path: OsString,
}

impl ShellExecutor {
    /// Takes the worker's environment and signal handlers as they are
    /// now: make it after the worker has removed its private variables
    /// and set up its signal handling.
    pub fn new() -> io::Result<ShellExecutor> {
        let base = WorkerEnvironment::now();
        let env = prepare(&base, &Environment::default())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(ShellExecutor {
            base,
            env,
            shells: ProgramFinder::default(),
            spawner: Spawner::new()?,
        })
    }

    /// Starts `spec`'s shell in its rundir, with stdout and stderr in
    /// `<rundir>/<name>.log`.
    pub fn start(&mut self, spec: &TaskSpec) -> Result<Child, StartError> {
        let cannot = |reason: Unstartable| StartError::Shell {
            shell: spec.shell.clone(),
            task: spec.name.clone(),
            reason,
        };
        let rundir = Path::new(&spec.rundir);
        let stem = file_stem(&spec.name);
        let log_path = rundir.join(format!("{stem}.log"));
        // The rundir usually exists already (a rerun, or tasks sharing it):
        // make sure of it only when the log cannot be created.
        let log = match File::create(&log_path) {
            Ok(log) => Ok(log),
            Err(_) => {
                fs::create_dir_all(rundir).map_err(|source| StartError::Rundir {
                    dir: rundir.to_path_buf(),
                    source,
                })?;
                File::create(&log_path)
            }
        }
        .map_err(|source| StartError::Log {
            path: log_path.clone(),
            source,
        })?;

        let mut argv = vec![c_string(spec.shell.as_bytes()).map_err(cannot)?];
        if spec.body.len() <= MAX_INLINE_BODY {
            argv.push(c"-c".to_owned());
            argv.push(c_string(spec.body.as_bytes()).map_err(cannot)?);
        } else {
            let script = rundir.join(format!("{stem}_cmd.sh"));
            fs::write(&script, &spec.body).map_err(|source| StartError::Script {
                path: script.clone(),
                source,
            })?;
            argv.push(c_string(script.as_os_str().as_bytes()).map_err(cannot)?);
        }
        let own = [
            (PER_TASK[0], &spec.rundir),
            (PER_TASK[1], &spec.srcdir),
            (PER_TASK[2], &spec.name),
        ]
        .map(|(name, value)| c_string(format!("{name}={value}").as_bytes()));
        let own: Vec<CString> = own.into_iter().collect::<Result<_, _>>().map_err(cannot)?;
        let prepared = self.prepare(&spec.env).map_err(cannot)?;
        let mut envp: Vec<*const libc::c_char> = prepared
            .strings
            .iter()
            .chain(&own)
            .map(|s| s.as_ptr())
            .collect();
        envp.push(std::ptr::null());
        let path = prepared.path.clone();
        let rundir_c = c_string(rundir.as_os_str().as_bytes()).map_err(cannot)?;

        let mut retried = false;
        loop {
            let (program, cached) = self
                .shells
                .find(&spec.shell, &path, rundir)
                .ok_or_else(|| cannot(Unstartable::NotFound(path.display().to_string())))?;
            let program = c_string(program.as_os_str().as_bytes()).map_err(cannot)?;
            let spawned = self
                .spawner
                .spawn(&program, &argv, &envp, &rundir_c, log.as_raw_fd());
            match spawned {
                Ok(pid) => return Ok(Child::new(pid)),
                // The shell found earlier is gone: look again, once.
                Err(e) if e.kind() == io::ErrorKind::NotFound && cached && !retried => {
                    self.shells.forget();
                    retried = true;
                }
                Err(e) => return Err(cannot(Unstartable::Spawn(e))),
            }
        }
    }

    /// `env` merged into the worker's environment; kept for the tasks that
    /// follow with the same one.
    fn prepare(&mut self, env: &Environment) -> Result<&Prepared, Unstartable> {
        if self.env.of != *env {
            self.env = prepare(&self.base, env)?;
        }
        Ok(&self.env)
    }
}

/// `env` merged into the worker's environment, as `NAME=value` strings.
fn prepare(base: &WorkerEnvironment, env: &Environment) -> Result<Prepared, Unstartable> {
    let merged = base.with(env)?;
    let path = path_of(&merged);
    let strings = exec_strings(merged).ok_or(Unstartable::NulInVariable)?;
    Ok(Prepared {
        of: env.clone(),
        strings,
        path,
    })
}

fn c_string(bytes: &[u8]) -> Result<CString, Unstartable> {
    CString::new(bytes).map_err(|_| Unstartable::NulInArgument)
}

#[cfg(test)]
pub(crate) mod tests;
