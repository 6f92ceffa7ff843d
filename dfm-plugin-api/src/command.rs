//! Running a scheduler command (`bsub`, `squeue`, ...) with a deadline.
//!
//! A scheduler command can hang (a dead controller, an NFS stall, a site
//! wrapper waiting for input), and a plugin call that never returns stalls a
//! worker slot forever. Every command here runs in a process group of its
//! own with stdin closed, and the whole group is killed at the deadline.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// `program` as the caller named it, for messages.
    pub program: String,
    /// The exit code, or 128 + signal when it was killed by one.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// `bsub failed (exit 255): <stderr> <stdout>`: what a person needs to
    /// see why the scheduler said no.
    pub fn failure(&self) -> String {
        let said: Vec<&str> = [self.stderr.trim(), self.stdout.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let said = if said.is_empty() {
            "(no output)".to_string()
        } else {
            said.join("\n")
        };
        format!("{} failed (exit {}): {said}", self.program, self.code)
    }

    /// Says on stderr (the daemon's log), once per distinct line, that
    /// `line` of this output could not be read, and what follows from it:
    /// a site's wrapper or another version of the scheduler may print
    /// more than the plugin knows. Returns whether it was said now.
    pub fn warn_unreadable(&self, line: &str, consequence: &str) -> bool {
        static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
        const REMEMBERED: usize = 256;
        let key = format!("{}\n{line}", self.program);
        let mut said = SAID.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if said.contains(&key) {
            return false;
        }
        if said.len() >= REMEMBERED {
            said.remove(0);
        }
        said.push(key);
        eprintln!(
            "dfm: {} printed a line dfm cannot read: {line:?}; {consequence} (said once per line)",
            self.program
        );
        true
    }
}

/// An OS error without Rust's ` (os error N)` suffix.
fn os_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// Runs `program ARGS`, with `env` added to its environment, to completion,
/// or kills it after `timeout_secs` (see [`run_with_timeout`]).
pub fn run<'a>(
    program: &str,
    args: &[String],
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
    timeout_secs: f64,
) -> Result<CommandOutput, String> {
    run_with_timeout(
        Command::new(program).args(args).envs(env),
        Duration::from_secs_f64(timeout_secs),
    )
}

/// Runs `command` to completion, or kills its process group after
/// `timeout`. Errors: the program cannot be started
/// (`cannot run 'bsub': No such file or directory`) or did not finish in
/// time. A non-zero exit is not an error here: see
/// [`CommandOutput::failure`].
pub fn run_with_timeout(command: &mut Command, timeout: Duration) -> Result<CommandOutput, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run '{program}': {}", os_message(&e)))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("cannot capture the output of '{program}'"));
    };
    let (stdout, stderr) = (read_all(stdout), read_all(stderr));
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Ok(None) => {
                kill_group(&mut child);
                return Err(format!(
                    "'{program}' did not finish within {} s and was killed; is the scheduler responding?",
                    timeout.as_secs_f64()
                ));
            }
            Err(e) => {
                kill_group(&mut child);
                return Err(format!("cannot wait for '{program}': {}", os_message(&e)));
            }
        }
    };
    // A background process the command left behind may hold the pipes
    // open; what was printed until the deadline is all we wait for.
    let remaining = deadline.saturating_duration_since(Instant::now());
    let stdout = stdout.recv_timeout(remaining).unwrap_or_default();
    let remaining = deadline.saturating_duration_since(Instant::now());
    let stderr = stderr.recv_timeout(remaining).unwrap_or_default();
    Ok(CommandOutput {
        program,
        code: status
            .code()
            .or_else(|| status.signal().map(|sig| 128 + sig))
            .unwrap_or(-1),
        stdout,
        stderr,
    })
}

fn kill_group(child: &mut std::process::Child) {
    // The child is still unreaped, so its pid (the group id, from
    // process_group(0)) cannot have been reused.
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe {
        libc::killpg(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_exit_code_are_captured() {
        let out = run_with_timeout(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .expect("sh runs");
        assert_eq!((out.code, out.stdout.as_str()), (3, "out\n"));
        assert_eq!(out.failure(), "sh failed (exit 3): err\nout");
    }

    #[test]
    fn a_missing_program_says_so() {
        let error = run_with_timeout(&mut Command::new("/no/such/bsub"), Duration::from_secs(10))
            .expect_err("cannot run");
        assert_eq!(
            error,
            "cannot run '/no/such/bsub': No such file or directory"
        );
    }

    #[test]
    fn a_hanging_command_is_killed_with_its_children() {
        let error = run_with_timeout(
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            Duration::from_millis(200),
        )
        .expect_err("times out");
        assert!(error.contains("did not finish within 0.2 s"), "{error}");
    }
}
