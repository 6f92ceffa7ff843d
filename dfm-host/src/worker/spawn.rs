//! Starting a process for a task: a vfork and exec of the worker's own.
//!
//! This is what `posix_spawn` does (the child runs in the worker's memory
//! until it execs, so nothing of the worker's memory is copied), without
//! what glibc's `posix_spawn` redoes on every call: mapping and unmapping a
//! stack for the child (the unmap shoots down the TLB of the CPU the child
//! ran on), checking each fd against the fd limit, and querying all 64
//! signal dispositions in the child. See docs/performance.md.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

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
pub struct Spawner {
    stack: ChildStack,
    /// See [`signals_to_reset`].
    reset: Vec<libc::c_int>,
    /// Every task's stdin.
    dev_null: File,
}

impl Spawner {
    /// Takes the worker's signal handlers as they are now: make it after
    /// the worker has set up its signal handling.
    pub fn new() -> io::Result<Spawner> {
        Ok(Spawner {
            stack: ChildStack::new()?,
            reset: signals_to_reset(),
            dev_null: File::open("/dev/null")?,
        })
    }

    pub fn spawn(
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
