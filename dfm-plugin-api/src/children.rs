//! Worker jobs that are processes of the host: started in a session of
//! their own, with their output in their log file, reaped when polled and
//! stopped with their whole session.
//!
//! The `local` runner's jobs are the workers themselves; the `slurm`
//! runner's `launch: srun` jobs are the `srun` commands that run a worker
//! on a node. Either way the session is what makes `terminate` thorough: a
//! worker runs each task in a process group of its own, and a worker
//! killed with SIGKILL leaves that group behind. Every process the job
//! ever started on this host stays in its session, so terminate kills the
//! session, not just the job's first process.
//!
//! A daemon that restarts finds the jobs of the one before it running, but
//! not as its children: [`Children::state`] and [`Children::terminate`]
//! recognize those by their session and command line (they run `... worker
//! ...`), so a pid someone else has since been given is never touched.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::JobState;

/// How long a job gets to exit after SIGTERM before it is killed.
const TERMINATE_GRACE: Duration = Duration::from_secs(2);

/// The processes a runner started, by pid.
#[derive(Default)]
pub struct Children {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
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

impl Children {
    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves the maps consistent (every
        // update is a single insert or remove), so a poisoned lock is usable.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts `command` in a session of its own, with no input and its
    /// output (both streams) in `log_path`, whose folder it creates; its
    /// pid.
    pub fn spawn_logged(&self, command: &mut Command, log_path: &Path) -> Result<u32, String> {
        if let Some(dir) = log_path.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create log folder {}: {e}", dir.display()))?;
        }
        let log = File::create(log_path)
            .map_err(|e| format!("cannot create worker log {}: {e}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot duplicate worker log handle: {e}"))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn_in_new_session()
            .map_err(|e| {
                let program = command.get_program().to_string_lossy();
                format!("cannot start worker '{program}': {e}")
            })?;
        let pid = child.id();
        self.table().running.insert(pid, child);
        Ok(pid)
    }

    /// The state of `pid`, reaping it if it has exited.
    pub fn state(&self, pid: u32) -> JobState {
        let mut table = self.table();
        if let Some(child) = table.running.get_mut(&pid) {
            match child.try_wait() {
                Ok(None) => return JobState::Running,
                Ok(Some(status)) => {
                    table.running.remove(&pid);
                    table.exited.insert(pid, exit_code(status));
                }
                Err(_) => return JobState::Unknown,
            }
        }
        match table.exited.get(&pid) {
            Some(code) => JobState::Exited(*code),
            None if is_adopted_worker(pid) => JobState::Running,
            // An adopted job that has gone: its exit code went to whoever
            // reaped it.
            None => JobState::Exited(-1),
        }
    }

    /// Stops `pid` and everything in its session: SIGTERM, and SIGKILL for
    /// what is left after a grace period.
    pub fn terminate(&self, pid: u32) -> Result<(), String> {
        // One statement per lock: the guard of a `let ... else` lives
        // through its `else`.
        let child = self.table().running.remove(&pid);
        let Some(mut child) = child else {
            let reaped = self.table().exited.contains_key(&pid);
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
        // this reaches only what the job left behind, never a recycled pid.
        signal_group(pid, libc::SIGKILL);
        kill_session(pid);
        let status = child
            .wait()
            .map_err(|e| format!("cannot reap worker {pid}: {e}"))?;
        self.table().exited.insert(pid, exit_code(status));
        Ok(())
    }
}

fn signal_group(pid: u32, signal: i32) {
    // The child leads its own process group (setsid at spawn).
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

/// Whether `pid` is a job a runner launched for a daemon before this one
/// (which died, or was restarted): it leads its own session, as every job
/// launched here does, and runs a dfm worker. Not a child of this process,
/// so it cannot be waited for.
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

/// Stops a job of a daemon before this one, and all its session.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_running_then_stopped_with_what_it_started() {
        let dir = std::env::temp_dir().join(format!("dfm-children-{}", std::process::id()));
        let log = dir.join("logs").join("worker.log");
        let children = Children::default();
        // A job that leaves a process in another process group behind, as a
        // worker killed with SIGKILL leaves its task's: terminate must
        // reach it through the session.
        let pid = children
            .spawn_logged(
                Command::new("sh").args([
                    "-c",
                    "python3 -c 'import os; os.setpgid(0, 0); print(\"grandchild\", os.getpid(), flush=True); os.execvp(\"sleep\", [\"sleep\", \"300\"])' &
                     exec sleep 300",
                ]),
                &log,
            )
            .expect("spawn");
        assert_eq!(children.state(pid), JobState::Running);
        let grandchild = wait_for_grandchild(&log);
        children.terminate(pid).expect("terminate");
        assert_eq!(children.state(pid), JobState::Exited(128 + libc::SIGTERM));
        let deadline = Instant::now() + Duration::from_secs(10);
        while fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
        {
            assert!(
                Instant::now() < deadline,
                "{grandchild} outlived its session"
            );
            sleep(Duration::from_millis(10));
        }
        let _ = fs::remove_dir_all(&dir);
    }

    fn wait_for_grandchild(log: &Path) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = fs::read_to_string(log).unwrap_or_default();
            if let Some(pid) = text
                .lines()
                .find_map(|line| line.strip_prefix("grandchild "))
                .and_then(|rest| rest.trim().parse().ok())
            {
                return pid;
            }
            assert!(Instant::now() < deadline, "no grandchild line in {text:?}");
            sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn an_exit_code_is_kept_and_an_unknown_pid_is_gone() {
        let dir = std::env::temp_dir().join(format!("dfm-children-exit-{}", std::process::id()));
        let children = Children::default();
        let pid = children
            .spawn_logged(Command::new("sh").args(["-c", "exit 7"]), &dir.join("l"))
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(10);
        while children.state(pid) == JobState::Running {
            assert!(Instant::now() < deadline, "sh -c 'exit 7' never ended");
            sleep(Duration::from_millis(5));
        }
        assert_eq!(children.state(pid), JobState::Exited(7));
        // Not ours and no worker (pid 1 is init): gone, never adopted.
        assert_eq!(children.state(1), JobState::Exited(-1));
        let missing =
            Children::default().spawn_logged(&mut Command::new("/no/such/dfm"), &dir.join("m"));
        assert!(missing
            .expect_err("no such program")
            .contains("/no/such/dfm"));
        let _ = fs::remove_dir_all(&dir);
    }
}
