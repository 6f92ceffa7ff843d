//! The `local` runner: each worker job is a child process of the host, in a
//! session of its own, with its output in its log file.
//!
//! The session is what makes `terminate` thorough: a worker runs each task in
//! a process group of its own, and a worker killed with SIGKILL leaves that
//! group behind. Every process the worker ever started stays in its session,
//! so terminate kills the session, not just the worker.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use dfm_plugin_api::{export_runner, JobHandle, JobState, LaunchRequest, RunnerPlugin};

/// How long a worker gets to exit after SIGTERM before it is killed.
const TERMINATE_GRACE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct LocalRunner {
    jobs: Mutex<Jobs>,
}

#[derive(Default)]
struct Jobs {
    /// Children not yet reaped: their pids cannot be reused, so signalling
    /// them is safe.
    running: HashMap<u32, Child>,
    /// Exit codes of reaped children.
    exited: HashMap<u32, i32>,
}

fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|sig| 128 + sig))
        .unwrap_or(-1)
}

fn parse_pid(job: &JobHandle) -> Result<u32, String> {
    job.job_id()
        .parse()
        .map_err(|_| format!("'{}' is not a local job id (a pid)", job.job_id()))
}

impl LocalRunner {
    fn jobs(&self) -> MutexGuard<'_, Jobs> {
        // A panic while holding the lock leaves the maps consistent (every
        // update is a single insert or remove), so a poisoned lock is usable.
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reaps `pid` if it has exited; returns its state.
    fn state_of(jobs: &mut Jobs, pid: u32) -> JobState {
        if let Some(child) = jobs.running.get_mut(&pid) {
            match child.try_wait() {
                Ok(None) => return JobState::Running,
                Ok(Some(status)) => {
                    jobs.running.remove(&pid);
                    jobs.exited.insert(pid, exit_code(status));
                }
                Err(_) => return JobState::Unknown,
            }
        }
        match jobs.exited.get(&pid) {
            Some(code) => JobState::Exited(*code),
            None if is_adopted_worker(pid) => JobState::Running,
            // An adopted worker that has gone: its exit code went to
            // whoever reaped it.
            None => JobState::Exited(-1),
        }
    }
}

fn signal_group(pid: u32, signal: i32) {
    // The child leads its own process group (process_group(0) at spawn).
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe {
        libc::killpg(pid as libc::pid_t, signal);
    }
}

trait SpawnInNewSession {
    fn spawn_in_new_session(&mut self) -> std::io::Result<Child>;
}

impl SpawnInNewSession for Command {
    fn spawn_in_new_session(&mut self) -> std::io::Result<Child> {
        // SAFETY: setsid is async-signal-safe. It makes the child the leader
        // of a new session and process group, both with its pid as id.
        unsafe {
            self.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self.spawn()
    }
}

/// SIGKILLs every process in session `sid`.
fn kill_session(sid: u32) {
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name: state ppid pgrp session ...
        let session = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(3))
            .and_then(|s| s.parse::<u32>().ok());
        if session == Some(sid) && pid != sid {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// Whether `pid` is a worker this runner launched for a daemon before this
/// one (which died, or was restarted): it leads its own session, as every
/// worker launched here does, and runs a dfm worker. Not a child of this
/// process, so it cannot be waited for.
fn is_adopted_worker(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let mut fields = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace())
        .into_iter()
        .flatten();
    let state = fields.next();
    let session = fields.nth(2).and_then(|s| s.parse::<u32>().ok());
    if state == Some("Z") || session != Some(pid) {
        return false;
    }
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline.split(|b| *b == 0).any(|arg| arg == b"worker"))
}

/// Stops a worker of a daemon before this one, and all its session.
fn terminate_adopted(pid: u32) {
    if !is_adopted_worker(pid) {
        return; // gone already, or its pid is someone else's now
    }
    signal_group(pid, libc::SIGTERM);
    let deadline = Instant::now() + TERMINATE_GRACE;
    while is_adopted_worker(pid) && Instant::now() < deadline {
        sleep(Duration::from_millis(5));
    }
    if is_adopted_worker(pid) {
        signal_group(pid, libc::SIGKILL);
    }
    kill_session(pid);
}

/// Whether `pid` (our child) has exited, without reaping it.
fn has_exited(pid: u32) -> bool {
    // SAFETY: siginfo_t is plain data; waitid only writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: `info` is a valid, writable siginfo_t.
    let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    // SAFETY: waitid filled `info`; si_pid is 0 when nothing has exited.
    rc != 0 || unsafe { info.si_pid() } != 0
}

impl RunnerPlugin for LocalRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let program = request
            .program()
            .ok_or("launch request has an empty command line")?;
        let log_path = Path::new(request.log_path());
        if let Some(dir) = log_path.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create log folder {}: {e}", dir.display()))?;
        }
        let log = File::create(log_path)
            .map_err(|e| format!("cannot create worker log {}: {e}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot duplicate worker log handle: {e}"))?;
        let child = Command::new(program)
            .args(request.args())
            .envs(request.env_pairs())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn_in_new_session()
            .map_err(|e| format!("cannot start worker '{program}': {e}"))?;
        let pid = child.id();
        self.jobs().running.insert(pid, child);
        Ok(JobHandle::with_pid(&pid.to_string(), pid))
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        let pid = parse_pid(job)?;
        // One statement per lock: the guard of a `let ... else` lives
        // through its `else`.
        let child = self.jobs().running.remove(&pid);
        let Some(mut child) = child else {
            let reaped = self.jobs().exited.contains_key(&pid);
            if !reaped {
                terminate_adopted(pid);
            }
            return Ok(()); // already reaped: nothing left to stop
        };
        signal_group(pid, libc::SIGTERM);
        let deadline = Instant::now() + TERMINATE_GRACE;
        while !has_exited(pid) && Instant::now() < deadline {
            sleep(Duration::from_millis(5));
        }
        // The unreaped leader keeps its group and session ids reserved, so
        // this reaches only what the worker left behind, never a recycled pid.
        signal_group(pid, libc::SIGKILL);
        kill_session(pid);
        let status = child
            .wait()
            .map_err(|e| format!("cannot reap worker {pid}: {e}"))?;
        self.jobs().exited.insert(pid, exit_code(status));
        Ok(())
    }

    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        let mut table = self.jobs();
        Ok(jobs
            .iter()
            .map(|job| match parse_pid(job) {
                Ok(pid) => Self::state_of(&mut table, pid),
                Err(_) => JobState::Unknown,
            })
            .collect())
    }
}

fn new_runner(_config_json: &str) -> Result<LocalRunner, String> {
    Ok(LocalRunner::default())
}

export_runner!("local", new_runner);
