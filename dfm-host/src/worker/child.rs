//! A started task's process, the leader of its own group: waiting for its
//! end, and killing it with everything it started.
//!
//! A finished task is noticed through a pidfd, or, where the kernel has
//! none (before 5.3), through SIGCHLD.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use dfm_wire::Usage;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};

/// The status of child `pid` if it has ended, reaping it, and what it
/// and the children it waited for cost (`wait4`).
fn reap(pid: libc::pid_t) -> io::Result<Option<(ExitStatus, Usage)>> {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes only into `status` and `usage`.
    match unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) } {
        0 => Ok(None),
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(Some((ExitStatus::from_raw(status), usage_of(&usage)))),
    }
}

fn usage_of(usage: &libc::rusage) -> Usage {
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        cpu_user_secs: secs(usage.ru_utime),
        cpu_system_secs: secs(usage.ru_stime),
        // Linux gives KiB.
        max_rss_kib: u64::try_from(usage.ru_maxrss).ok(),
    }
}

/// A started task: its process, the leader of its own group.
pub struct Child {
    pid: libc::pid_t,
    waiter: Waiter,
    status: Option<ExitStatus>,
    /// What it cost, once reaped.
    usage: Option<Usage>,
}

enum Waiter {
    /// Readable once the process has ended. Handed to the runtime only
    /// if the task outlives its first look: most short tasks have ended
    /// by then, and never cost a registration.
    Pidfd(OwnedFd),
    Registered(AsyncFd<OwnedFd>),
    /// A kernel without pidfds: every SIGCHLD is a reason to look.
    Sigchld,
}

impl Child {
    pub fn new(pid: libc::pid_t) -> Child {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::PIDFD_NONBLOCK) };
        let waiter = if fd >= 0 {
            // SAFETY: the fd was just opened and is owned by nobody else.
            Waiter::Pidfd(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
        } else {
            Waiter::Sigchld
        };
        Child {
            pid,
            waiter,
            status: None,
            usage: None,
        }
    }

    /// What the process and the children it waited for cost, once it has
    /// ended.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Reaps the process if it has ended, keeping its status and usage.
    fn reaped(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some((status, usage)) = reap(self.pid)? {
            self.status = Some(status);
            self.usage = Some(usage);
        }
        Ok(self.status)
    }

    /// Waits for the process to end; cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        if let Waiter::Pidfd(_) = self.waiter {
            if let Some(status) = self.reaped()? {
                return Ok(status);
            }
            if let Waiter::Pidfd(fd) = std::mem::replace(&mut self.waiter, Waiter::Sigchld) {
                // SAFETY: the OwnedFd keeps the pidfd open for as long as
                // the AsyncFd lives. If it cannot be registered, SIGCHLD
                // will do.
                if let Ok(fd) =
                    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                {
                    self.waiter = Waiter::Registered(fd);
                }
            }
        }
        let (status, usage) = match &self.waiter {
            Waiter::Registered(fd) => loop {
                let mut ready = fd.readable().await?;
                if let Some(ended) = reap(self.pid)? {
                    break ended;
                }
                ready.clear_ready();
            },
            Waiter::Pidfd(_) | Waiter::Sigchld => {
                // Listening before looking: an end between the two is not missed.
                let mut sigchld = signal(SignalKind::child())?;
                loop {
                    if let Some(ended) = reap(self.pid)? {
                        break ended;
                    }
                    sigchld.recv().await;
                }
            }
        };
        self.status = Some(status);
        self.usage = Some(usage);
        Ok(status)
    }

    /// The process's status if it has ended (reaping it), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            return self.reaped();
        }
        Ok(self.status)
    }

    /// Blocks until the process ends or `limit` has passed, deaf to
    /// everything else (but signals).
    ///
    /// A short task usually ends within a few milliseconds. Until then,
    /// whatever the daemon sends (most often the next task, sent ahead)
    /// waits in the socket, and does not wake the worker only to be put
    /// aside: on a small virtual machine, a wakeup costs about as much CPU
    /// as everything else the worker does for a task.
    pub fn wait_for_end(&self, limit: std::time::Duration) {
        let fd = match &self.waiter {
            Waiter::Pidfd(fd) => fd.as_raw_fd(),
            Waiter::Registered(fd) => fd.as_raw_fd(),
            Waiter::Sigchld => return,
        };
        if self.status.is_none() {
            let mut poll = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = limit.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: one valid pollfd; the pidfd stays open during the call.
            unsafe {
                libc::poll(&mut poll, 1, millis);
            }
        }
    }

    /// Kills the task's whole process group.
    pub fn kill(&self) {
        if self.status.is_none() {
            // SAFETY: killpg has no memory-safety preconditions; the child
            // is unreaped, so its group id cannot have been reused.
            unsafe {
                libc::killpg(self.pid, libc::SIGKILL);
            }
        }
    }
}

/// Whether the task died of a signal a scheduler uses to stop jobs
/// (directly, or as a shell's 128 + signal). A crash (SIGSEGV, SIGABRT...)
/// is the task's own failure and is reported at once.
pub fn killed_by_stop_signal(status: &io::Result<ExitStatus>) -> bool {
    const STOP_SIGNALS: [i32; 4] = [libc::SIGTERM, libc::SIGKILL, libc::SIGINT, libc::SIGHUP];
    match status {
        Ok(status) => status
            .signal()
            .or_else(|| status.code().filter(|c| *c > 128).map(|c| c - 128))
            .is_some_and(|signal| STOP_SIGNALS.contains(&signal)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::process::ExitStatusExt;

    use super::Waiter;
    use crate::worker::shell::tests::{spec, temp_dir};
    use crate::worker::shell::ShellExecutor;

    #[tokio::test]
    async fn a_killed_task_is_reported_as_killed_and_its_group_dies_with_it() {
        let dir = temp_dir("kill");
        let mut launcher = ShellExecutor::new().expect("executor");
        let pids = dir.join("pids");
        let body = format!("sleep 30 & echo $! > {}; wait", pids.display());
        let mut child = launcher
            .start(&spec(&dir, "t", &body, &[]))
            .expect("started");
        while fs::read_to_string(&pids).map_or(true, |s| !s.ends_with('\n')) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Still running at the first look: waited for through the runtime.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), child.wait())
                .await
                .is_err()
        );
        assert!(matches!(child.waiter, Waiter::Registered(_)));
        child.kill();
        let status = child.wait().await.expect("status");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        let grandchild: libc::pid_t = fs::read_to_string(&pids)
            .expect("pid")
            .trim()
            .parse()
            .expect("a pid");
        // The background sleep was in the task's group: killed too (gone,
        // or a zombie until init reaps it). A kill lands asynchronously.
        let dead = || {
            let state = fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
            state.is_empty() || state.contains(") Z")
        };
        for _ in 0..1000 {
            if dead() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(dead(), "the task's background process outlived it");
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn without_a_pidfd_the_end_is_seen_through_sigchld() {
        let dir = temp_dir("sigchld");
        let mut launcher = ShellExecutor::new().expect("executor");
        let mut child = launcher
            .start(&spec(&dir, "t", "exit 4", &[]))
            .expect("started");
        // As on a kernel without pidfd_open.
        child.waiter = Waiter::Sigchld;
        assert_eq!(child.wait().await.expect("status").code(), Some(4));
        let _ = fs::remove_dir_all(&dir);
    }
}
