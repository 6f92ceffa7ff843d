//! Starting a task's shell, and waiting for it.
//!
//! The worker spawns tasks itself rather than through std's `Command`,
//! because almost everything a spawn needs is the same from one
//! task to the next and can be prepared once:
//! - the environment: the worker's own, overlaid with the client's. Each
//!   distinct client environment becomes `NAME=value` strings once, not
//!   for every task (std rebuilds the whole block on every spawn);
//! - where the shell is: looked up in the `PATH` the task will have, once
//!   per (shell, `PATH`);
//! - `/dev/null` for stdin, opened once.
//!
//! What is left per task is the log file, the arguments and the spawn: a
//! vfork, so nothing of the worker's memory is copied, done here rather
//! than by `posix_spawn` (see [`Spawner`]). A finished task is
//! noticed through a pidfd, or, where the kernel has none (before 5.3),
//! through SIGCHLD.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};

use dfm_wire::{Environment, TaskSpec};

/// Bodies longer than this run from a script file `<rundir>/<name>_cmd.sh`:
/// Linux refuses a single argument over 128 KiB.
const MAX_INLINE_BODY: usize = 64 * 1024;

/// Where `execvp` looks when there is no `PATH` at all.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// A task name made safe as a file name.
fn file_stem(name: &str) -> String {
    name.replace('/', "_")
}

/// What the worker keeps from one task's spawn to the next.
pub struct Launcher {
    /// The worker's own environment, which tasks inherit under the
    /// client's variables.
    base: BTreeMap<OsString, OsString>,
    /// The environment the previous task came with, prepared.
    env: Prepared,
    /// Shells found, by (shell, `PATH`).
    found: HashMap<(String, OsString), PathBuf>,
    spawner: Spawner,
}

/// A client environment merged into the worker's, ready to hand to
/// `posix_spawn`.
struct Prepared {
    of: Environment,
    /// `NAME=value`, without the variables each task sets itself.
    strings: Vec<CString>,
    path: OsString,
}

/// Variables the worker sets for each task.
const PER_TASK: [&str; 3] = ["TASK_RUNDIR", "TASK_SRCDIR", "DFM_TASK_NAME"];

impl Launcher {
    /// Takes the worker's environment and signal handlers as they are
    /// now: call it after the worker has removed its private variables
    /// and set up its signal handling.
    pub fn new() -> io::Result<Launcher> {
        let base = std::env::vars_os().collect();
        let env = Self::merge(&base, &Environment::default())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Launcher {
            base,
            env,
            found: HashMap::new(),
            spawner: Spawner {
                stack: ChildStack::new()?,
                reset: signals_to_reset(),
                dev_null: File::open("/dev/null")?,
            },
        })
    }

    /// Starts `spec`'s shell in its rundir, with stdout and stderr in
    /// `<rundir>/<name>.log`; on failure, the message for the task's result.
    pub fn start(&mut self, spec: &TaskSpec) -> Result<Child, String> {
        let cannot = |e: &dyn std::fmt::Display| {
            format!(
                "cannot start '{}' for task '{}': {e}",
                spec.shell, spec.name
            )
        };
        let rundir = Path::new(&spec.rundir);
        let stem = file_stem(&spec.name);
        let log_path = rundir.join(format!("{stem}.log"));
        // The rundir usually exists already (a rerun, or tasks sharing it):
        // make sure of it only when the log cannot be created.
        let log = match File::create(&log_path) {
            Ok(log) => Ok(log),
            Err(_) => {
                fs::create_dir_all(rundir)
                    .map_err(|e| format!("cannot create rundir {}: {e}", rundir.display()))?;
                File::create(&log_path)
            }
        }
        .map_err(|e| format!("cannot create task log {}: {e}", log_path.display()))?;

        let mut argv = vec![c_string(spec.shell.as_bytes()).map_err(|e| cannot(&e))?];
        if spec.body.len() <= MAX_INLINE_BODY {
            argv.push(c"-c".to_owned());
            argv.push(c_string(spec.body.as_bytes()).map_err(|e| cannot(&e))?);
        } else {
            let script = rundir.join(format!("{stem}_cmd.sh"));
            fs::write(&script, &spec.body)
                .map_err(|e| format!("cannot write task script {}: {e}", script.display()))?;
            argv.push(c_string(script.as_os_str().as_bytes()).map_err(|e| cannot(&e))?);
        }
        let own = [
            (PER_TASK[0], &spec.rundir),
            (PER_TASK[1], &spec.srcdir),
            (PER_TASK[2], &spec.name),
        ]
        .map(|(name, value)| c_string(format!("{name}={value}").as_bytes()));
        let own: Vec<CString> = own
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| cannot(&e))?;
        let prepared = self.prepare(&spec.env).map_err(|e| cannot(&e))?;
        let mut envp: Vec<*const libc::c_char> = prepared
            .strings
            .iter()
            .chain(&own)
            .map(|s| s.as_ptr())
            .collect();
        envp.push(std::ptr::null());
        let path = prepared.path.clone();
        let rundir_c = c_string(rundir.as_os_str().as_bytes()).map_err(|e| cannot(&e))?;

        let mut retried = false;
        loop {
            let (program, cached) = self.find(&spec.shell, &path, rundir).ok_or_else(|| {
                cannot(&format!(
                    "not found in the task's PATH ({})",
                    path.display()
                ))
            })?;
            let program = c_string(program.as_os_str().as_bytes()).map_err(|e| cannot(&e))?;
            let spawned = self
                .spawner
                .spawn(&program, &argv, &envp, &rundir_c, log.as_raw_fd());
            match spawned {
                Ok(pid) => return Ok(Child::new(pid)),
                // The shell found earlier is gone: look again, once.
                Err(e) if e.kind() == io::ErrorKind::NotFound && cached && !retried => {
                    self.found.clear();
                    retried = true;
                }
                Err(e) => return Err(cannot(&e)),
            }
        }
    }

    /// `env` merged into the worker's environment; kept for the tasks that
    /// follow with the same one.
    fn prepare(&mut self, env: &Environment) -> Result<&Prepared, String> {
        if self.env.of != *env {
            self.env = Self::merge(&self.base, env)?;
        }
        Ok(&self.env)
    }

    fn merge(base: &BTreeMap<OsString, OsString>, env: &Environment) -> Result<Prepared, String> {
        {
            let mut merged = base.clone();
            for (name, value) in env.variables().map_err(|e| e.to_string())? {
                merged.insert(name.into(), value.into());
            }
            for name in PER_TASK {
                merged.remove(OsStr::new(name));
            }
            let path = merged
                .get(OsStr::new("PATH"))
                .cloned()
                .unwrap_or_else(|| DEFAULT_PATH.into());
            let strings = merged
                .into_iter()
                .map(|(name, value)| {
                    let mut entry = name.into_vec();
                    entry.push(b'=');
                    entry.extend_from_slice(value.as_bytes());
                    CString::new(entry)
                        .map_err(|_| "an environment variable contains a NUL byte".to_string())
                })
                .collect::<Result<_, _>>()?;
            Ok(Prepared {
                of: env.clone(),
                strings,
                path,
            })
        }
    }

    /// Where `shell` is, looked up as `execvp` would in the task's `PATH`
    /// and rundir, and whether that came from the cache. A relative entry
    /// is relative to the rundir: what it finds is not cached.
    fn find(&mut self, shell: &str, path: &OsStr, rundir: &Path) -> Option<(PathBuf, bool)> {
        if shell.contains('/') {
            return Some((PathBuf::from(shell), false));
        }
        let key = (shell.to_string(), path.to_os_string());
        if let Some(found) = self.found.get(&key) {
            return Some((found.clone(), true));
        }
        let mut relative = false;
        for dir in std::env::split_paths(path) {
            let candidate = dir.join(shell);
            if dir.is_absolute() {
                if is_executable(&candidate) {
                    if !relative {
                        if self.found.len() >= 64 {
                            self.found.clear();
                        }
                        self.found.insert(key, candidate.clone());
                    }
                    return Some((candidate, false));
                }
            } else {
                relative = true;
                if is_executable(&rundir.join(&candidate)) {
                    return Some((candidate, false));
                }
            }
        }
        None
    }
}

fn c_string(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "an argument contains a NUL byte".to_string())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What the child of [`Spawner::spawn`] needs, prepared by the worker: the child
/// reads it in the worker's memory, which it shares until it execs.
struct Exec {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    dir: *const libc::c_char,
    stdin: RawFd,
    log: RawFd,
    /// Signals to set back to their default: those the worker handles
    /// (its handlers must not run in the child) and SIGPIPE, which Rust
    /// ignores (an ignored signal stays ignored across exec).
    reset: *const libc::c_int,
    resets: usize,
    /// Set by the child when it cannot exec: why.
    errno: libc::c_int,
}

/// The child's side of [`Spawner::spawn`]: runs on its own stack, in the worker's
/// memory, while the worker waits (a vfork). Only async-signal-safe calls
/// until it execs or exits.
extern "C" fn exec_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Exec` the worker passed to clone, alive and
    // not otherwise touched until this child execs or exits; its pointers
    // are valid C strings and null-terminated arrays (see `Spawner::spawn`).
    unsafe {
        let exec = &mut *(arg as *mut Exec);
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for i in 0..exec.resets {
            libc::sigaction(*exec.reset.add(i), &default, std::ptr::null_mut());
        }
        let ok = libc::setpgid(0, 0) == 0
            && redirect(exec.stdin, 0)
            && redirect(exec.log, 1)
            && redirect(exec.log, 2)
            && libc::chdir(exec.dir) == 0;
        if ok {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::execve(exec.program, exec.argv, exec.envp);
        }
        exec.errno = *libc::__errno_location();
        libc::_exit(127)
    }
}

/// Makes `fd` the child's `target` (open across exec).
///
/// # Safety
/// Only in the child of [`Spawner::spawn`], on fds of the worker.
unsafe fn redirect(fd: RawFd, target: RawFd) -> bool {
    if fd == target {
        libc::fcntl(fd, libc::F_SETFD, 0) == 0
    } else {
        libc::dup2(fd, target) == target
    }
}

/// The stack a child of [`Spawner::spawn`] runs on until it execs: mapped once,
/// with a guard page below it.
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    const SIZE: usize = 64 * 1024;
    const GUARD: usize = 4096;

    fn new() -> io::Result<ChildStack> {
        let len = Self::SIZE + Self::GUARD;
        // SAFETY: an anonymous private mapping, not aliased by anything.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the lowest page of the mapping just made.
        if unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The top of the stack (it grows down), 16-byte aligned.
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, as a stack top is.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, used by no child any more (a
        // child uses it only while the worker waits in `Spawner::spawn`).
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

/// Signals the worker has handlers for, and SIGPIPE: what a task's
/// process must have set back to default before it execs.
fn signals_to_reset() -> Vec<libc::c_int> {
    let mut reset = vec![libc::SIGPIPE, libc::SIGCHLD];
    for signal in 1..libc::SIGRTMAX() {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP || reset.contains(&signal) {
            continue;
        }
        // SAFETY: a query: sigaction only writes into `current`.
        let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
        let queried = unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) } == 0;
        if queried && current.sa_sigaction != libc::SIG_DFL && current.sa_sigaction != libc::SIG_IGN
        {
            reset.push(signal);
        }
    }
    reset
}

/// Starts tasks' processes.
///
/// [`Spawner::spawn`] starts `program` in its own process group, in `dir`,
/// with stdin from `/dev/null` and stdout and stderr to `log`, the worker's signal handlers
/// and SIGPIPE back to default and nothing blocked. The pointers in `envp`
/// end with a null one.
///
/// This is what `posix_spawn` does (a vfork: the child runs in the
/// worker's memory until it execs), without what `posix_spawn` redoes on
/// every call: mapping and unmapping a stack, checking each fd against
/// the fd limit, and querying all 64 signal dispositions in the child.
struct Spawner {
    stack: ChildStack,
    /// See [`signals_to_reset`].
    reset: Vec<libc::c_int>,
    /// Every task's stdin.
    dev_null: File,
}

impl Spawner {
    fn spawn(
        &self,
        program: &CString,
        argv: &[CString],
        envp: &[*const libc::c_char],
        dir: &CString,
        log: RawFd,
    ) -> io::Result<libc::pid_t> {
        let (stack, reset, stdin) = (&self.stack, &self.reset, self.dev_null.as_raw_fd());
        let mut argv: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut exec = Exec {
            program: program.as_ptr(),
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
            dir: dir.as_ptr(),
            stdin,
            log,
            reset: reset.as_ptr(),
            resets: reset.len(),
            errno: 0,
        };
        // SAFETY: all signals are blocked around the clone, so none is
        // delivered to the child before it has set the worker's handlers back
        // to default. CLONE_VFORK suspends the worker until the child has
        // exec'd or exited, so `exec`, the strings it points to and the stack
        // stay valid and untouched while the child uses them.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let pid = libc::clone(
                exec_child,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&mut exec as *mut Exec).cast(),
            );
            let clone_error = io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            if pid < 0 {
                return Err(clone_error);
            }
            // Written by the child before it exited, if it could not exec.
            let errno = std::ptr::read_volatile(&exec.errno);
            if errno != 0 {
                let mut status = 0;
                libc::waitpid(pid, &mut status, 0);
                return Err(io::Error::from_raw_os_error(errno));
            }
            Ok(pid)
        }
    }
}

/// The status of child `pid` if it has ended, reaping it.
fn reap(pid: libc::pid_t) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    // SAFETY: waitpid writes only into `status`.
    match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
        0 => Ok(None),
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(Some(ExitStatus::from_raw(status))),
    }
}

/// A started task: its process, the leader of its own group.
pub struct Child {
    pid: libc::pid_t,
    waiter: Waiter,
    status: Option<ExitStatus>,
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
    fn new(pid: libc::pid_t) -> Child {
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
        }
    }

    /// Waits for the process to end; cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        if let Waiter::Pidfd(_) = self.waiter {
            if let Some(status) = reap(self.pid)? {
                self.status = Some(status);
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
        let status = match &self.waiter {
            Waiter::Registered(fd) => loop {
                let mut ready = fd.readable().await?;
                if let Some(status) = reap(self.pid)? {
                    break status;
                }
                ready.clear_ready();
            },
            Waiter::Pidfd(_) | Waiter::Sigchld => {
                // Listening before looking: an end between the two is not missed.
                let mut sigchld = signal(SignalKind::child())?;
                loop {
                    if let Some(status) = reap(self.pid)? {
                        break status;
                    }
                    sigchld.recv().await;
                }
            }
        };
        self.status = Some(status);
        Ok(status)
    }

    /// The process's status if it has ended (reaping it), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = reap(self.pid)?;
        }
        Ok(self.status)
    }

    /// Blocks until the process has ended (for callers without a
    /// runtime, such as the benchmark).
    pub fn wait_blocking(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.status {
                return Ok(status);
            }
            let mut status = 0;
            // SAFETY: waitpid writes only into `status`.
            match unsafe { libc::waitpid(self.pid, &mut status, 0) } {
                -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                -1 => return Err(io::Error::last_os_error()),
                _ => self.status = Some(ExitStatus::from_raw(status)),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use dfm_wire::Env;

    fn spec(dir: &Path, name: &str, body: &str, env: &[(&str, &str)]) -> TaskSpec {
        let env: Env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TaskSpec {
            request_id: name.into(),
            name: name.into(),
            shell: "sh".into(),
            body: body.into(),
            srcdir: "/src".into(),
            rundir: dir.join(name).display().to_string(),
            env: Environment::new(&env),
            ..TaskSpec::default()
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dfm-launch-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[tokio::test]
    async fn a_task_sees_its_environment_rundir_and_log() {
        let dir = temp_dir("env");
        let mut launcher = Launcher::new().expect("launcher");
        let body = "echo \"$A $TASK_RUNDIR $DFM_TASK_NAME $(pwd)\"; echo err >&2; exit 3";
        for (name, value) in [("t1", "one"), ("t2", "one"), ("t3", "two")] {
            let spec = spec(&dir, name, body, &[("A", value), ("PATH", "/usr/bin:/bin")]);
            let mut child = launcher.start(&spec).expect("started");
            let status = child.wait().await.expect("status");
            assert_eq!(status.code(), Some(3));
            assert!(child.status.is_some(), "reaped");
            let log = fs::read_to_string(dir.join(name).join(format!("{name}.log"))).expect("log");
            let rundir = dir.join(name).display().to_string();
            assert_eq!(log, format!("{value} {rundir} {name} {rundir}\nerr\n"));
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_task_gets_sigpipe_back_and_nothing_blocked() {
        let dir = temp_dir("signals");
        let mut launcher = Launcher::new().expect("launcher");
        // SigIgn and SigBlk in hex: no signal ignored (SIGPIPE is bit 13)
        // and none blocked.
        let body = "grep -E '^Sig(Ign|Blk)' /proc/self/status";
        let spec = spec(&dir, "t", body, &[]);
        let mut child = launcher.start(&spec).expect("started");
        assert!(child.wait().await.expect("status").success());
        let log = fs::read_to_string(dir.join("t/t.log")).expect("log");
        for line in log.lines() {
            let mask = u64::from_str_radix(line.split_whitespace().nth(1).expect("mask"), 16)
                .expect("hex");
            assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{log}");
            if line.starts_with("SigBlk") {
                assert_eq!(mask, 0, "{log}");
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_killed_task_is_reported_as_killed_and_its_group_dies_with_it() {
        let dir = temp_dir("kill");
        let mut launcher = Launcher::new().expect("launcher");
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
        let mut launcher = Launcher::new().expect("launcher");
        let mut child = launcher
            .start(&spec(&dir, "t", "exit 4", &[]))
            .expect("started");
        // As on a kernel without pidfd_open.
        child.waiter = Waiter::Sigchld;
        assert_eq!(child.wait().await.expect("status").code(), Some(4));
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_shell_that_is_nowhere_is_an_error_that_says_so() {
        let dir = temp_dir("noshell");
        let mut launcher = Launcher::new().expect("launcher");
        let mut task = spec(&dir, "t", "true", &[("PATH", "/nonexistent")]);
        task.shell = "ksh".into();
        let error = launcher.start(&task).err().expect("no ksh there");
        assert!(error.contains("cannot start 'ksh' for task 't'"), "{error}");
        assert!(error.contains("/nonexistent"), "{error}");
        // Found, but the kernel cannot run it: its reason.
        let bin = dir.join("bin");
        fs::create_dir_all(&bin).expect("bin");
        fs::write(bin.join("ksh"), "echo no interpreter line\n").expect("ksh");
        let mut permissions = fs::metadata(bin.join("ksh")).expect("ksh").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        fs::set_permissions(bin.join("ksh"), permissions).expect("chmod");
        let mut task = spec(&dir, "v", "true", &[("PATH", &bin.display().to_string())]);
        task.shell = "ksh".into();
        let mut error = String::new();
        // Another test's child may still hold the file open for an
        // instant (ETXTBSY): try again then.
        for _ in 0..100 {
            error = launcher
                .start(&task)
                .err()
                .expect("not an executable format");
            if !error.contains("busy") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(error.contains("cannot start 'ksh'"), "{error}");
        assert!(error.contains("format"), "{error}");
        let task = spec(&dir, "u", "true", &[("A", "a\u{0}b")]);
        let error = launcher.start(&task).err().expect("a NUL in a variable");
        assert!(error.contains("NUL"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }
}
